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
pub mod pacer;
mod page;
pub mod query;
mod rate_limits;
mod raw;
mod record;
mod response;
mod retry;
mod send_batch;
mod setup_hint;
mod stats;
mod transport;
mod write;

pub use aad_auth::{HttpVersion, RetryPolicy};
pub use client::{Client, ClientBuilder};
pub use entity::Entity;
pub use entity_set::{CreateRequest, DeleteRequest, EntitySet, RetrieveRequest, WriteRequest};
pub use error::{
    ConfigError, DecodeError, Error, ErrorDetail, OptionalExt, Precondition, Result, ServiceError,
    ServiceProtectionLimit, TransportError,
};
pub use key::RecordKey;
pub use operation::{ActionCall, FunctionCall, WhoAmI};
pub use options::{BusinessLogic, RequestOptions};
pub use page::{Page, PagePosition, PagedRead};
pub use rate_limits::RateLimits;
pub use raw::{RawRequest, RawResponse};
pub use record::Record;
pub use stats::{ClientStats, Refusals, Retries, RetryCause};
pub use write::{Patch, bind};
