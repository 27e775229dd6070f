//! The shared pause after a 429, and the limit on requests in flight.
//!
//! Dataverse extends a throttling penalty when more requests arrive while it is in force,
//! so a `Retry-After` pauses every request of the client, not only the one that got it.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aad_auth::Clock;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The longest shared pause: no real `Retry-After` is this long, and a longer one (or a garbled header)
/// would stop every request of the client for good.
const MAX_PAUSE: Duration = Duration::from_secs(24 * 60 * 60);

/// The time before which no request of this client is sent.
#[derive(Debug, Default)]
pub(crate) struct ThrottleGate {
    until: Mutex<Option<SystemTime>>,
}

impl ThrottleGate {
    /// Waits until no pause is in force.
    pub(crate) async fn wait(&self, clock: &dyn Clock) {
        loop {
            let until = *self.until.lock().unwrap_or_else(PoisonError::into_inner);
            let now = clock.now();
            match until {
                Some(until) if until > now => clock.sleep(until.duration_since(now).unwrap_or_default()).await,
                _ => return,
            }
        }
    }

    /// Whether a pause is in force now.
    pub(crate) fn is_paused(&self, clock: &dyn Clock) -> bool {
        let until = *self.until.lock().unwrap_or_else(PoisonError::into_inner);
        until.is_some_and(|until| until > clock.now())
    }

    /// Pauses every request for `duration` from now (never shortening a longer pause), at most [`MAX_PAUSE`].
    pub(crate) fn pause(&self, clock: &dyn Clock, duration: Duration) {
        let now = clock.now();
        let until = now.checked_add(duration.min(MAX_PAUSE)).unwrap_or(now);
        let mut current = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none_or(|current| current < until) {
            *current = Some(until);
        }
    }
}

/// The limit on requests in flight, sized from Dataverse's `x-ms-dop-hint` unless fixed by the caller.
#[derive(Debug)]
pub(crate) struct ConcurrencyLimiter {
    semaphore: std::sync::Arc<Semaphore>,
    size: AtomicUsize,
    fixed: bool,
    resize: Mutex<()>,
}

impl ConcurrencyLimiter {
    pub(crate) fn new(size: usize, fixed: bool) -> Self {
        // A limit beyond what a semaphore holds (such as `usize::MAX` for "no limit") is the most it holds.
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            semaphore: std::sync::Arc::new(Semaphore::new(size)),
            size: AtomicUsize::new(size),
            fixed,
            resize: Mutex::new(()),
        }
    }

    pub(crate) async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        std::sync::Arc::clone(&self.semaphore).acquire_owned().await.ok()
    }

    /// The current limit.
    pub(crate) fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Follows the server's recommended degree of parallelism.
    pub(crate) fn follow_hint(&self, hint: usize) {
        if self.fixed || hint == 0 {
            return;
        }
        let hint = hint.min(256);
        let _guard = self.resize.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.size.load(Ordering::Relaxed);
        if hint > current {
            self.semaphore.add_permits(hint - current);
        } else if hint < current {
            // Permits in use come back later; forget what can be forgotten now.
            let forgotten = self.semaphore.forget_permits(current - hint);
            if forgotten < current - hint {
                // The rest stays for now; the next hint adjusts again.
                self.size.store(current - forgotten, Ordering::Relaxed);
                return;
            }
        }
        self.size.store(hint, Ordering::Relaxed);
    }
}

/// The service protection budget Dataverse reported on its latest answer.
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
    pub(crate) fn record(&self, headers: &http::HeaderMap, limiter: &ConcurrencyLimiter) {
        let read =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
        if let Some(value) = read("x-ms-ratelimit-burst-remaining-xrm-requests") {
            self.burst.store(value, Ordering::Relaxed);
        }
        if let Some(value) = read("x-ms-ratelimit-time-remaining-xrm-requests") {
            self.time.store(value, Ordering::Relaxed);
        }
        if let Some(value) = read("x-ms-dop-hint") {
            self.dop.store(value, Ordering::Relaxed);
            limiter.follow_hint(usize::try_from(value).unwrap_or(0));
        }
    }

    pub(crate) fn snapshot(&self, limiter: &ConcurrencyLimiter) -> RateLimits {
        let get = |atomic: &AtomicI64| Some(atomic.load(Ordering::Relaxed)).filter(|v| *v != UNKNOWN);
        RateLimits {
            burst_remaining: get(&self.burst),
            time_remaining: get(&self.time),
            recommended_parallelism: get(&self.dop),
            concurrency_limit: limiter.size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limit_follows_the_hint_up_and_down() {
        let limiter = ConcurrencyLimiter::new(4, false);
        limiter.follow_hint(10);
        assert_eq!(limiter.size(), 10);
        let permits: Vec<_> = futures_util::future::join_all((0..10).map(|_| limiter.acquire())).await;
        assert!(permits.iter().all(Option::is_some));
        drop(permits);
        limiter.follow_hint(2);
        assert_eq!(limiter.size(), 2);
        let fixed = ConcurrencyLimiter::new(3, true);
        fixed.follow_hint(50);
        assert_eq!(fixed.size(), 3);
    }
}
