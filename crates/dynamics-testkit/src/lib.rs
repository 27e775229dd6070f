#![doc = include_str!("../README.md")]

mod aad;
mod connection_faults;
mod emulator;
mod entity_set_spec;
mod error;
mod faults;
mod journal;
pub mod loopback;
mod reply;
mod router;
mod seed;
pub mod service_protection;
mod setup_state;
mod state;
mod webapi;

pub use connection_faults::{ConnectionFault, ConnectionFaults, FaultCounts, FaultProxy, FaultRule, ProxiedRequest};
pub use emulator::{Emulator, EmulatorBuilder};
pub use entity_set_spec::EntitySetSpec;
pub use error::{Error, Result};
pub use faults::{Faults, ThrottleKind};
pub use journal::{Counters, Journal, JournalEntry, Server};
pub use setup_state::SetupState;
