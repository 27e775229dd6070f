//! Time, behind a trait, so that expiry, refresh and back-off can be tested without waiting.

use std::fmt;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

/// The source of the current time and of waits.
///
/// [`SystemClock`] is the real one. Tests use a manual clock (the `test-util` feature's `ManualClock`),
/// because tokio's paused time misfires with real sockets and HTTP timeouts.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;

    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The system's clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
