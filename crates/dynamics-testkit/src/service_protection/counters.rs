//! What the model saw, per web server and in total, for tests to assert on.

use std::time::Instant;

use crate::faults::ThrottleKind;

/// One throttle of a web server: from the refusal that started it to the end of its pause (with penalties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleWindow {
    pub(crate) server: usize,
    pub(crate) kind: ThrottleKind,
    pub(crate) first_refusal: Instant,
    pub(crate) last_refusal: Instant,
    pub(crate) ends: Instant,
    pub(crate) refusals: u64,
}

impl ThrottleWindow {
    /// The web server that was throttled.
    pub fn server(&self) -> usize {
        self.server
    }

    /// Which limit was exceeded.
    pub fn kind(&self) -> ThrottleKind {
        self.kind
    }

    /// When the refusal that started the throttle was answered.
    pub fn first_refusal(&self) -> Instant {
        self.first_refusal
    }

    /// When the last refusal of this throttle was answered.
    pub fn last_refusal(&self) -> Instant {
        self.last_refusal
    }

    /// When the throttle ends (or ended), penalties included.
    pub fn ends(&self) -> Instant {
        self.ends
    }

    /// How many requests were refused in this throttle: 1 when the client waited out the first `Retry-After`.
    pub fn refusals(&self) -> u64 {
        self.refusals
    }
}

/// The counters of one web server, or of all of them ([`ProtectionCounters::total`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerCounters {
    /// Requests served.
    pub served: u64,
    /// Refused for the number of requests (`0x80072322`), sent while throttled excluded.
    pub refused_request_count: u64,
    /// Refused for the execution time (`0x80072321`), sent while throttled excluded.
    pub refused_execution_time: u64,
    /// Refused for concurrency (`0x80072326`).
    pub refused_concurrency: u64,
    /// Refused because they arrived while the server was throttled (each added the penalty).
    pub refused_while_throttled: u64,
    /// Refused on their own ([`IsolatedRefusals`](super::IsolatedRefusals)).
    pub refused_isolated: u64,
    /// The most requests served at once.
    pub max_concurrency: usize,
    /// Every throttle, in the order they started.
    pub throttles: Vec<ThrottleWindow>,
}

impl ServerCounters {
    /// Every refusal, whatever its reason.
    pub fn refused(&self) -> u64 {
        self.refused_request_count
            + self.refused_execution_time
            + self.refused_concurrency
            + self.refused_while_throttled
            + self.refused_isolated
    }

    /// The most refusals in one throttle (0 when there was none).
    pub fn max_refusals_per_throttle(&self) -> u64 {
        self.throttles.iter().map(ThrottleWindow::refusals).max().unwrap_or(0)
    }

    fn add(&mut self, other: &Self) {
        self.served += other.served;
        self.refused_request_count += other.refused_request_count;
        self.refused_execution_time += other.refused_execution_time;
        self.refused_concurrency += other.refused_concurrency;
        self.refused_while_throttled += other.refused_while_throttled;
        self.refused_isolated += other.refused_isolated;
        self.max_concurrency = self.max_concurrency.max(other.max_concurrency);
        self.throttles.extend_from_slice(&other.throttles);
    }
}

/// The counters of every web server of a [`ServiceProtection`](super::ServiceProtection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectionCounters {
    pub(crate) servers: Vec<ServerCounters>,
    pub(crate) max_concurrency: usize,
}

impl ProtectionCounters {
    /// Per web server, by index.
    pub fn servers(&self) -> &[ServerCounters] {
        &self.servers
    }

    /// All web servers together. `max_concurrency` is the most requests served at once over all of them,
    /// and `throttles` are sorted by when they started.
    pub fn total(&self) -> ServerCounters {
        let mut total = ServerCounters::default();
        for server in &self.servers {
            total.add(server);
        }
        total.max_concurrency = self.max_concurrency;
        total.throttles.sort_by_key(ThrottleWindow::first_refusal);
        total
    }
}
