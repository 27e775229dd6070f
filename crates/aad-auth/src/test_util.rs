//! Helpers for tests: a manual clock and a provider that hands out fixed tokens.
//!
//! Enable the `test-util` feature from `[dev-dependencies]` only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use crate::{AccessToken, Clock, Resource, Result, TokenProvider};

/// A clock that moves only when told to. `sleep` returns at once and moves the clock forward,
/// recording each wait so that tests can assert on back-off and `Retry-After`.
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Debug)]
struct ClockState {
    now: SystemTime,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: SystemTime) -> Self {
        Self { state: Arc::new(Mutex::new(ClockState { now: start, sleeps: Vec::new() })) }
    }

    /// A clock reading the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.lock().now += by;
    }

    /// Every wait requested through [`Clock::sleep`], in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let mut state = self.lock();
        state.now += duration;
        state.sleeps.push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// A provider that returns tokens named `token-1`, `token-2`, … valid for a fixed lifetime,
/// counting its calls.
#[derive(Debug)]
pub struct StaticTokenProvider {
    lifetime: Duration,
    clock: Arc<dyn Clock>,
    calls: AtomicUsize,
}

impl StaticTokenProvider {
    /// Tokens valid for `lifetime` from `clock`'s now.
    pub fn new(lifetime: Duration, clock: Arc<dyn Clock>) -> Self {
        Self { lifetime, clock, calls: AtomicUsize::new(0) }
    }

    /// How many tokens were handed out.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenProvider for StaticTokenProvider {
    async fn token(&self, _resource: &Resource) -> Result<AccessToken> {
        let number = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(AccessToken::new(format!("token-{number}"), self.clock.now() + self.lifetime))
    }
}
