//! The one retry policy of the workspace: how many attempts, how long to wait between them, and for how long
//! in all. Token requests here and Web API requests in `dynamics-webapi` both count their attempts with it.

use std::time::{Duration, SystemTime};

use crate::clock::Clock;

/// How failed requests are retried: at most `max_attempts` attempts, waits growing exponentially from
/// `initial_backoff` up to `max_backoff` (with jitter), and no wait that would pass `max_elapsed` from the first
/// attempt. A wait the server asked for (`Retry-After`) is honoured instead of the back-off, within `max_elapsed`.
///
/// Which failures may be retried is not the policy's business: each caller judges its own answers (token
/// requests retry throttling, server errors, timeouts and connection failures, never a rejection such as
/// `invalid_client`; the Web API client has its own rules for what is safe to repeat).
///
/// [`RetryPolicy::default`] suits Web API calls, whose `Retry-After` can reach minutes;
/// [`RetryPolicy::token_requests`] is the default of the token providers.
///
/// ```
/// use std::time::Duration;
/// use aad_auth::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(8).max_elapsed(Duration::from_secs(600));
/// assert_eq!(policy.attempts(), 8);
/// assert_eq!(RetryPolicy::none().attempts(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
    jitter: bool,
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
    /// The token providers' default: four attempts, 500 ms growing to 8 s, at most 60 s in all, with jitter.
    pub fn token_requests() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(60),
            jitter: true,
        }
    }

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

    /// The longest back-off between two attempts (a longer `Retry-After` is still honoured, within `max_elapsed`).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The longest time from the first attempt to the start of the last, waits included.
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

    /// The back-off after `failed_attempts` failed attempts: doubling from `initial_backoff`, capped at
    /// `max_backoff`; with jitter, somewhere between half of that and all of it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use aad_auth::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default().jitter(false).max_backoff(Duration::from_secs(5));
    /// let waits: Vec<u64> = (1..=4).map(|n| policy.backoff(n).as_secs()).collect();
    /// assert_eq!(waits, [1, 2, 4, 5]);
    /// ```
    pub fn backoff(&self, failed_attempts: u32) -> Duration {
        let exponent = failed_attempts.saturating_sub(1).min(16);
        let ceiling = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        if self.jitter {
            // Never less than half, so retries still spread out but do not come back at once.
            ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0)
        } else {
            ceiling
        }
    }

    /// Starts counting the attempts of one request, from now on `clock`.
    pub fn start(&self, clock: &dyn Clock) -> Attempts {
        Attempts { policy: self.clone(), started: clock.now(), failed: 0 }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy is spent.
    #[cfg(feature = "client-credentials")]
    pub(crate) async fn run<T, F, Fut>(&self, clock: &dyn Clock, mut attempt: F) -> crate::Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = crate::Result<T>>,
    {
        let mut attempts = self.start(clock);
        loop {
            let number = attempts.number();
            let error = match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            let Some(wait) = attempts.failed(clock, error.retry_after()) else {
                tracing::debug!(attempt = number, "not retrying: the retry budget is spent");
                return Err(error);
            };
            tracing::debug!(attempt = number, ?wait, error = %error, "retrying token request");
            clock.sleep(wait).await;
        }
    }
}

/// The attempts of one request under a [`RetryPolicy`]: which attempt this is, and whether another one may
/// follow a failure, after what wait.
///
/// ```
/// use std::time::Duration;
/// use aad_auth::{RetryPolicy, SystemClock};
///
/// let policy = RetryPolicy::default().max_attempts(2).jitter(false);
/// let mut attempts = policy.start(&SystemClock);
/// assert_eq!(attempts.number(), 1);
/// assert_eq!(attempts.failed(&SystemClock, None), Some(Duration::from_secs(1)));
/// assert_eq!(attempts.number(), 2);
/// assert_eq!(attempts.failed(&SystemClock, None), None, "two attempts were allowed");
/// ```
#[derive(Debug, Clone)]
pub struct Attempts {
    policy: RetryPolicy,
    started: SystemTime,
    failed: u32,
}

impl Attempts {
    /// The number of the attempt about to be made or being made (1 for the first).
    pub fn number(&self) -> u32 {
        self.failed + 1
    }

    /// The time since the first attempt started.
    pub fn elapsed(&self, clock: &dyn Clock) -> Duration {
        clock.now().duration_since(self.started).unwrap_or_default()
    }

    /// Records that the current attempt failed in a way that may be retried. Gives the wait before the next
    /// attempt (`suggested`, such as a `Retry-After`, or else the back-off), or `None` when no attempt is left or
    /// the wait would end past `max_elapsed`.
    pub fn failed(&mut self, clock: &dyn Clock, suggested: Option<Duration>) -> Option<Duration> {
        self.failed += 1;
        if self.failed >= self.policy.max_attempts {
            return None;
        }
        let wait = suggested.unwrap_or_else(|| self.policy.backoff(self.failed));
        (self.elapsed(clock).saturating_add(wait) <= self.policy.max_elapsed).then_some(wait)
    }

    /// Takes back the count of the current failure: an attempt that did not count against the policy
    /// (a re-authentication after a 401, or a request the pacer held back before sending).
    pub fn forgive(&mut self) {
        self.failed = self.failed.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SystemClock;

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

    #[test]
    fn a_suggested_wait_replaces_the_backoff_but_not_the_elapsed_budget() {
        let policy = RetryPolicy::default().max_elapsed(Duration::from_secs(10));
        let mut attempts = policy.start(&SystemClock);
        assert_eq!(attempts.failed(&SystemClock, Some(Duration::from_secs(7))), Some(Duration::from_secs(7)));
        assert_eq!(attempts.failed(&SystemClock, Some(Duration::from_secs(11))), None);
    }

    #[test]
    fn a_forgiven_failure_does_not_use_up_an_attempt() {
        let policy = RetryPolicy::none().max_attempts(2);
        let mut attempts = policy.start(&SystemClock);
        assert!(attempts.failed(&SystemClock, Some(Duration::ZERO)).is_some());
        attempts.forgive();
        assert_eq!(attempts.number(), 1);
    }
}
