#![doc = include_str!("../README.md")]

mod error;
mod fleet;
mod fleet_key;
mod redis_pacer;
mod redis_token_store;

pub use error::{Error, Result};
pub use fleet::{Fleet, FleetBuilder, URL_VARIABLE};
pub use fleet_key::{FleetKey, KEY_VARIABLE};
pub use redis_pacer::{RedisPacer, RedisPacerBuilder};
pub use redis_token_store::{RedisTokenStore, TokenNamespace};
