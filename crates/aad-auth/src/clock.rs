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

    /// The current time, possibly a few milliseconds stale, where that is cheaper to read.
    /// The cache's fast path uses it; by default it is [`Clock::now`].
    fn now_coarse(&self) -> SystemTime {
        self.now()
    }

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

    /// On Linux, `CLOCK_REALTIME_COARSE` (one kernel tick of resolution, a third of the cost).
    #[cfg(target_os = "linux")]
    fn now_coarse(&self) -> SystemTime {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        match (u64::try_from(now.tv_sec), u32::try_from(now.tv_nsec)) {
            (Ok(seconds), Ok(nanos)) => SystemTime::UNIX_EPOCH + std::time::Duration::new(seconds, nanos),
            _ => SystemTime::now(),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
