//! The seam between the transport and whatever decides when requests may go: admit a request, observe its
//! answer, report the state.
//!
//! The transport asks [`Pacer::admit`] before every attempt and tells [`Pacer::observe`] how it was answered.
//! The pacer owns everything that is shared between requests: the in-flight limit, the pause after sustained
//! throttling, the rate requests are sent at. The in-process default is [`AdaptivePacer`]; a fleet of workers
//! sharing one application user plugs in a pacer that shares those decisions between processes.

use std::any::Any;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::ServiceProtectionLimit;

mod adaptive;

pub use adaptive::AdaptivePacer;

/// Decides when requests are sent.
///
/// Every [`admit`](Pacer::admit) is followed by exactly one [`observe`](Pacer::observe) with the admission it
/// returned, unless the caller gave up on the request (its future was dropped): then the admission is dropped
/// without being observed, and whatever slot it holds must be given back by its `Drop`.
///
/// ```
/// use std::sync::Arc;
/// use dynamics_webapi::pacer::{AdaptivePacer, Pacer};
///
/// let pacer: Arc<dyn Pacer> = Arc::new(AdaptivePacer::builder().max_in_flight(16).build());
/// assert_eq!(pacer.state().in_flight_limit(), 16);
/// ```
#[async_trait]
pub trait Pacer: Send + Sync + fmt::Debug {
    /// Waits until one more request may be sent, and admits it.
    async fn admit(&self) -> Admission;

    /// Tells the pacer how an admitted request was answered. Consumes the admission, giving back its slot.
    fn observe(&self, admission: Admission, observation: &Observation);

    /// What the pacer holds to now.
    fn state(&self) -> PacerState;
}

/// One admitted request: when it was admitted, its place in the order of admissions, and the slot it holds.
pub struct Admission {
    sequence: u64,
    admitted_at: SystemTime,
    slot: Option<Box<dyn Any + Send + Sync>>,
}

impl Admission {
    /// An admission, the `sequence`-th of its pacer (admissions are numbered in the order they were given).
    pub fn new(sequence: u64, admitted_at: SystemTime) -> Self {
        Self { sequence, admitted_at, slot: None }
    }

    /// The same admission holding `slot` until it is observed or dropped (an in-flight permit, a lease).
    #[must_use]
    pub fn holding(mut self, slot: impl Any + Send + Sync) -> Self {
        self.slot = Some(Box::new(slot));
        self
    }

    /// Its place in the order of admissions: a request admitted later has a larger number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When it was admitted.
    pub fn admitted_at(&self) -> SystemTime {
        self.admitted_at
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("sequence", &self.sequence)
            .field("admitted_at", &self.admitted_at)
            .field("holds_slot", &self.slot.is_some())
            .finish()
    }
}

/// How an admitted request was answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Observation {
    /// What the answer says about the server's capacity.
    pub signal: Signal,
    /// From sending to the end of the answer (or to the failure).
    pub latency: Duration,
    /// The budget the answer reported. Hints only: Microsoft documents these headers for diagnosis, and they
    /// come from whichever web server answered.
    pub hints: BudgetHints,
}

impl Observation {
    /// An observation with no budget hints.
    pub fn new(signal: Signal, latency: Duration) -> Self {
        Self { signal, latency, hints: BudgetHints::default() }
    }

    /// The same observation with `hints`.
    #[must_use]
    pub fn with_hints(mut self, hints: BudgetHints) -> Self {
        self.hints = hints;
        self
    }
}

/// What an answer says about the server's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// The server took the request and answered (a 4xx about the request itself included).
    Answered,
    /// HTTP 429: a service protection limit refused the request; `limit` is `None` for an unknown code.
    Throttled {
        /// Which limit, from the error code.
        limit: Option<ServiceProtectionLimit>,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// HTTP 502, 503 or 504: the server or a gateway in front of it is overloaded or down.
    ServerBusy,
    /// No answer: the connection failed, was dropped, or the attempt timed out.
    NoAnswer,
}

/// The budget a Dataverse answer reported in its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BudgetHints {
    /// `x-ms-ratelimit-burst-remaining-xrm-requests`: requests left in the current window.
    pub burst_remaining: Option<i64>,
    /// `x-ms-ratelimit-time-remaining-xrm-requests`: execution time left in the current window (milliseconds).
    pub time_remaining: Option<i64>,
    /// `x-ms-dop-hint`: the recommended degree of parallelism.
    pub recommended_parallelism: Option<i64>,
}

impl BudgetHints {
    /// Reads the hints from an answer's headers; a missing or unreadable header is `None`.
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let read =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
        Self {
            burst_remaining: read("x-ms-ratelimit-burst-remaining-xrm-requests"),
            time_remaining: read("x-ms-ratelimit-time-remaining-xrm-requests"),
            recommended_parallelism: read("x-ms-dop-hint"),
        }
    }
}

/// Where the in-flight limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitSource {
    /// The default, before the server recommended anything.
    Default,
    /// Set by the caller (`ClientBuilder::max_concurrency`).
    Configured,
    /// Dataverse's `x-ms-dop-hint`.
    ServerHint,
    /// Lowered after the server refused requests for concurrency (`0x80072326`).
    ConcurrencyRefusals,
    /// Shared by a fleet of workers.
    Shared,
}

impl fmt::Display for LimitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitSource::Default => "the default",
            LimitSource::Configured => "max_concurrency",
            LimitSource::ServerHint => "the server's x-ms-dop-hint",
            LimitSource::ConcurrencyRefusals => "concurrency refusals (0x80072326)",
            LimitSource::Shared => "the fleet",
        })
    }
}

/// What a pacer holds to at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PacerState {
    in_flight: usize,
    in_flight_limit: usize,
    limit_source: LimitSource,
    rate: Option<f64>,
    paused_until: Option<SystemTime>,
    time_paused: Duration,
    time_slowed: Duration,
}

impl PacerState {
    /// A state with `in_flight` requests admitted and not yet observed, under `in_flight_limit`.
    pub fn new(in_flight: usize, in_flight_limit: usize, limit_source: LimitSource) -> Self {
        Self {
            in_flight,
            in_flight_limit,
            limit_source,
            rate: None,
            paused_until: None,
            time_paused: Duration::ZERO,
            time_slowed: Duration::ZERO,
        }
    }

    /// The same state, holding to `rate` requests a second (`None`: not paced by rate).
    #[must_use]
    pub fn with_rate(mut self, rate: Option<f64>) -> Self {
        self.rate = rate;
        self
    }

    /// The same state, with no request admitted before `until`.
    #[must_use]
    pub fn with_pause(mut self, until: Option<SystemTime>) -> Self {
        self.paused_until = until;
        self
    }

    /// The same state, with these totals: time all admissions were paused, and time requests waited for the rate.
    #[must_use]
    pub fn with_totals(mut self, time_paused: Duration, time_slowed: Duration) -> Self {
        self.time_paused = time_paused;
        self.time_slowed = time_slowed;
        self
    }

    /// Requests admitted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The most requests in flight at once.
    pub fn in_flight_limit(&self) -> usize {
        self.in_flight_limit
    }

    /// Where the in-flight limit comes from.
    pub fn limit_source(&self) -> LimitSource {
        self.limit_source
    }

    /// The rate requests are held to, in requests per second, when they are.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Until when no request is admitted, during a pause after sustained throttling.
    pub fn paused_until(&self) -> Option<SystemTime> {
        self.paused_until
    }

    /// The total time no request was admitted because of a pause.
    pub fn time_paused(&self) -> Duration {
        self.time_paused
    }

    /// The total time requests waited for the rate (summed over requests).
    pub fn time_slowed(&self) -> Duration {
        self.time_slowed
    }
}
