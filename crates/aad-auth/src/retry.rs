//! Retries of token requests: which failures, how often, how long.

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::Result;
use crate::clock::Clock;

/// How token requests are retried after throttling (429), server errors (5xx),
/// timeouts and connection failures. Rejections such as `invalid_client` are never retried.
///
/// Waits grow exponentially from `initial_backoff` up to `max_backoff`, with full jitter;
/// a `Retry-After` from the server is honoured instead. No wait goes past `max_elapsed`.
///
/// ```
/// use std::time::Duration;
/// use aad_auth::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(5).max_elapsed(Duration::from_secs(30));
/// assert_eq!(RetryPolicy::none().attempts(), 1);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
    jitter: bool,
}

impl Default for RetryPolicy {
    /// Four attempts, 500 ms growing to 8 s, at most 60 s in all, with jitter.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The most attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first wait before a retry.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest wait between two attempts (a longer `Retry-After` is still honoured, within `max_elapsed`).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The longest time from the first attempt to the start of the last.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Whether waits are randomised (default yes, so that many clients do not retry in step).
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The configured number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before attempt `attempt + 1`, after `attempt` failed attempts.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        if self.jitter {
            // Full jitter, but never less than half, so retries still spread out.
            ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0)
        } else {
            ceiling
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy is spent.
    /// `on_retry` is told of each failure that will be retried.
    pub(crate) async fn run<T, F, Fut>(&self, clock: &dyn Clock, mut attempt: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = clock.now();
        let mut number = 1;
        loop {
            let error = match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_retryable() || number >= self.max_attempts {
                return Err(error);
            }
            let wait = error.retry_after().unwrap_or_else(|| self.backoff(number));
            let elapsed = elapsed_since(clock.now(), started);
            if elapsed.saturating_add(wait) > self.max_elapsed {
                tracing::debug!(attempt = number, ?wait, "not retrying: the wait would pass the retry budget");
                return Err(error);
            }
            tracing::debug!(attempt = number, ?wait, error = %error, "retrying token request");
            clock.sleep(wait).await;
            number += 1;
        }
    }
}

fn elapsed_since(now: SystemTime, started: SystemTime) -> Duration {
    now.duration_since(started).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default()
            .jitter(false)
            .initial_backoff(Duration::from_secs(1))
            .max_backoff(Duration::from_secs(5));
        let waits: Vec<u64> = (1..=5).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        let policy = RetryPolicy::default().initial_backoff(Duration::from_secs(2));
        for _ in 0..100 {
            let wait = policy.backoff(1);
            assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2), "{wait:?}");
        }
    }
}
