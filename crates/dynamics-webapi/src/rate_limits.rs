//! The service protection budget Dataverse reported on its latest answer, kept for diagnosis.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::pacer::BudgetHints;

/// The service protection budget Dataverse reported on its latest answer, from [`Client::rate_limits`](crate::Client::rate_limits).
///
/// Microsoft documents the `x-ms-ratelimit-*` headers for diagnosis; they describe the web server that answered,
/// one of several. The client's pacing does not depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RateLimits {
    /// `x-ms-ratelimit-burst-remaining-xrm-requests`: requests left in the current window.
    pub burst_remaining: Option<i64>,
    /// `x-ms-ratelimit-time-remaining-xrm-requests`: execution time left in the current window (milliseconds).
    pub time_remaining: Option<i64>,
    /// `x-ms-dop-hint`: the recommended degree of parallelism.
    pub recommended_parallelism: Option<i64>,
    /// The client's current limit on requests in flight.
    pub concurrency_limit: usize,
}

/// The latest reported budget, updated from every answer.
#[derive(Debug)]
pub(crate) struct RateLimitState {
    burst: AtomicI64,
    time: AtomicI64,
    dop: AtomicI64,
}

const UNKNOWN: i64 = i64::MIN;

impl Default for RateLimitState {
    fn default() -> Self {
        Self { burst: AtomicI64::new(UNKNOWN), time: AtomicI64::new(UNKNOWN), dop: AtomicI64::new(UNKNOWN) }
    }
}

impl RateLimitState {
    pub(crate) fn record(&self, hints: &BudgetHints) {
        let store = |atomic: &AtomicI64, value: Option<i64>| {
            if let Some(value) = value {
                atomic.store(value, Ordering::Relaxed);
            }
        };
        store(&self.burst, hints.burst_remaining);
        store(&self.time, hints.time_remaining);
        store(&self.dop, hints.recommended_parallelism);
    }

    pub(crate) fn snapshot(&self, concurrency_limit: usize) -> RateLimits {
        let get = |atomic: &AtomicI64| Some(atomic.load(Ordering::Relaxed)).filter(|v| *v != UNKNOWN);
        RateLimits {
            burst_remaining: get(&self.burst),
            time_remaining: get(&self.time),
            recommended_parallelism: get(&self.dop),
            concurrency_limit,
        }
    }
}
