#![doc = include_str!("../README.md")]

pub mod batch;
pub mod bulk;
pub mod change_tracking;
mod client;
pub mod entities;
pub mod entity;
mod entity_set;
mod error;
pub mod exact;
mod fetch_xml;
pub mod file_column;
mod key;
mod metadata;
mod operation;
mod options;
mod page;
pub mod query;
mod record;
mod response;
mod retry;
mod send_batch;
mod setup_hint;
mod throttle;
mod transport;
mod write;

pub use client::{Client, ClientBuilder};
pub use entity::Entity;
pub use entity_set::{CreateRequest, DeleteRequest, EntitySet, RetrieveRequest, WriteRequest};
pub use error::{
    ConfigError, DecodeError, Error, OptionalExt, Precondition, Result, ServiceError, ServiceProtectionLimit,
    TransportError,
};
pub use key::RecordKey;
pub use operation::{ActionCall, FunctionCall, WhoAmI};
pub use options::RequestOptions;
pub use page::{Page, PagePosition, PagedRead};
pub use record::Record;
pub use retry::RetryPolicy;
pub use throttle::RateLimits;
pub use write::{Patch, bind};
