//! Faults at the connection level: a small HTTP/1.1 proxy on a loopback port, in front of the emulator's org
//! or any other loopback server, that drops connections, answers `503` and `429` itself, or never answers,
//! as its seeded plan says.
//!
//! The layers, downward: [`FaultProxy`] (`fault_proxy.rs`: the listener, one task per connection) uses the plan
//! (`plan.rs`: [`ConnectionFaults`], [`FaultRule`], [`ConnectionFault`]) and the HTTP/1.1 framing (`message.rs`),
//! and records [`ProxiedRequest`]s and [`FaultCounts`] (`proxied_request.rs`).

mod fault_proxy;
mod message;
mod plan;
mod proxied_request;

pub use fault_proxy::FaultProxy;
pub use plan::{ConnectionFault, ConnectionFaults, FaultRule};
pub use proxied_request::{FaultCounts, ProxiedRequest};
