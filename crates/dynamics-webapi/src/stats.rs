//! What the client has done so far: requests sent, retries by cause, refusals by limit, and the pacer's state.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ServiceProtectionLimit;
use crate::pacer::PacerState;

/// Why a request was sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryCause {
    /// HTTP 429: a service protection limit refused it.
    Throttled,
    /// HTTP 502, 503 or 504.
    ServerBusy,
    /// A transient server error, such as a SQL deadlock (see `RetryPolicy` in the crate docs).
    TransientServerError,
    /// No answer: the connection failed or was dropped, or the attempt timed out.
    NoAnswer,
    /// HTTP 401: the cached token was dropped and a new one requested.
    Reauthenticated,
}

/// The counters of one client, shared by its clones.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent: AtomicU64,
    retries: [AtomicU64; 5],
    throttled: [AtomicU64; 4],
}

impl RetryCause {
    /// The cause's name in metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            RetryCause::Throttled => "throttled",
            RetryCause::ServerBusy => "server_busy",
            RetryCause::TransientServerError => "transient_server_error",
            RetryCause::NoAnswer => "no_answer",
            RetryCause::Reauthenticated => "reauthenticated",
        }
    }
}

impl Counters {
    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("dynamics_webapi.requests").increment(1);
    }

    pub(crate) fn retried(&self, cause: RetryCause) {
        self.retries[cause as usize].fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("dynamics_webapi.retries", "cause" => cause.name()).increment(1);
    }

    /// Exports the pacer's state as gauges and running totals.
    #[cfg(feature = "metrics")]
    pub(crate) fn export_pacer(&self, pacer: &PacerState) {
        let millis = |duration: std::time::Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        metrics::gauge!("dynamics_webapi.pacer.in_flight_limit").set(pacer.in_flight_limit() as f64);
        metrics::gauge!("dynamics_webapi.pacer.rate").set(pacer.rate().unwrap_or(0.0));
        metrics::counter!("dynamics_webapi.pacer.paused_ms").absolute(millis(pacer.time_paused()));
        metrics::counter!("dynamics_webapi.pacer.slowed_ms").absolute(millis(pacer.time_slowed()));
    }

    pub(crate) fn throttled(&self, limit: Option<ServiceProtectionLimit>) {
        let (index, code) = match limit {
            Some(ServiceProtectionLimit::RequestCount) => (0, "0x80072322"),
            Some(ServiceProtectionLimit::ExecutionTime) => (1, "0x80072321"),
            Some(ServiceProtectionLimit::ConcurrentRequests) => (2, "0x80072326"),
            None => (3, "other"),
        };
        self.throttled[index].fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("dynamics_webapi.throttled", "code" => code).increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = code;
    }

    pub(crate) fn snapshot(&self, pacer: PacerState) -> ClientStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClientStats {
            requests_sent: load(&self.sent),
            retries: Retries {
                throttled: load(&self.retries[RetryCause::Throttled as usize]),
                server_busy: load(&self.retries[RetryCause::ServerBusy as usize]),
                transient_server_error: load(&self.retries[RetryCause::TransientServerError as usize]),
                no_answer: load(&self.retries[RetryCause::NoAnswer as usize]),
                reauthenticated: load(&self.retries[RetryCause::Reauthenticated as usize]),
            },
            throttled: Refusals {
                request_count: load(&self.throttled[0]),
                execution_time: load(&self.throttled[1]),
                concurrent_requests: load(&self.throttled[2]),
                other: load(&self.throttled[3]),
            },
            pacer,
        }
    }
}

/// What a client has done since it was built (all its clones together), from [`Client::stats`](crate::Client::stats).
///
/// ```
/// # use std::sync::Arc;
/// # fn run(client: dynamics_webapi::Client) {
/// let stats = client.stats();
/// println!(
///     "{} sent, {} retried after a 429, in-flight limit {}",
///     stats.requests_sent,
///     stats.retries.throttled,
///     stats.pacer.in_flight_limit(),
/// );
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Attempts sent, retries included.
    pub requests_sent: u64,
    /// Attempts that were followed by another one, by cause.
    pub retries: Retries,
    /// HTTP 429 answers, by the limit they name.
    pub throttled: Refusals,
    /// The pacer's state: the in-flight limit and where it came from, the rate, time paused and slowed.
    pub pacer: PacerState,
}

/// Retries by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Retries {
    /// After HTTP 429.
    pub throttled: u64,
    /// After HTTP 502, 503 or 504.
    pub server_busy: u64,
    /// After a transient server error (a SQL deadlock or timeout).
    pub transient_server_error: u64,
    /// After no answer (connection failure, dropped connection, timeout).
    pub no_answer: u64,
    /// After HTTP 401, with a new token.
    pub reauthenticated: u64,
}

/// HTTP 429 answers by the service protection limit they name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Refusals {
    /// `0x80072322`: number of requests.
    pub request_count: u64,
    /// `0x80072321`: execution time.
    pub execution_time: u64,
    /// `0x80072326`: concurrent requests.
    pub concurrent_requests: u64,
    /// Any other code.
    pub other: u64,
}
