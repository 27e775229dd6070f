//! How requests are retried, and which ones may be.

use std::time::Duration;

/// How requests are retried.
///
/// A 429 is retried after its `Retry-After` (every request may be: Dataverse refused it, nothing ran).
/// Server errors (502, 503, 504), timeouts and connection failures are retried only for requests that are safe
/// to repeat: reads, updates with `If-Match`, upserts, deletes, and creates that carry their own primary key.
/// A repeat that finds its work already done (a keyed or create-only create's "already exists", a delete's 404)
/// counts as the success of the attempt before it.
/// A 401 invalidates the cached token and retries once.
///
/// ```
/// use std::time::Duration;
/// use dynamics_webapi::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(8).max_elapsed(Duration::from_secs(600));
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_elapsed: Duration,
    pub(crate) jitter: bool,
}

impl Default for RetryPolicy {
    /// Six attempts, back-off from 1 s to 30 s with jitter, at most 5 minutes in all
    /// (Dataverse's `Retry-After` can reach several minutes).
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry (a 401 still gets its one re-authentication).
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The most attempts in all (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first back-off.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest back-off between two attempts (a longer `Retry-After` is still honoured within `max_elapsed`).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The longest time from the first attempt to the start of the last, waits included.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Whether back-offs are randomised (default yes).
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    pub(crate) fn backoff(&self, failed_attempts: u32) -> Duration {
        let exponent = failed_attempts.saturating_sub(1).min(16);
        let ceiling = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        if self.jitter { ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0) } else { ceiling }
    }
}

/// Whether a request may be sent again after a failure that leaves its outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads, `If-Match` updates, upserts, deletes: repeating gives the same result.
    Safe,
    /// A create that carries its own primary key (or a create-only `PATCH`): a repeat that finds the record
    /// means the first one worked.
    KeyedCreate,
    /// Plain creates and actions: repeated only when the server refused them (429).
    OnlyIfRefused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default().jitter(false).max_backoff(Duration::from_secs(5));
        let waits: Vec<u64> = (1..=5).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }
}
