//! Faults injected into the emulated Web API at run time: throttling, outages, latency, forced re-auth,
//! and the org setup failures.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::SetupState;
use crate::reply::Reply;
use crate::state::Shared;

/// Which service protection limit a throttled request reports.
///
/// Dataverse answers `429 Too Many Requests` with a `Retry-After` header (seconds) and one of three codes
/// (Microsoft's "Service protection API limits" page; the messages are that page's, verbatim, including its double space):
///
/// | kind | code | message |
/// |---|---|---|
/// | `RequestCount` | `0x80072322` | `Number of requests exceeded the limit of 6000 over time window of 300 seconds.` |
/// | `ExecutionTime` | `0x80072321` | `Combined execution time of incoming requests exceeded limit of 1,200,000  milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.` |
/// | `ConcurrentRequests` | `0x80072326` | `Number of concurrent requests exceeded the limit of 52.` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ThrottleKind {
    /// Too many requests in the window (`0x80072322`).
    #[default]
    RequestCount,
    /// Too much combined execution time in the window (`0x80072321`).
    ExecutionTime,
    /// Too many concurrent requests (`0x80072326`).
    ConcurrentRequests,
}

impl ThrottleKind {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::RequestCount => "0x80072322",
            Self::ExecutionTime => "0x80072321",
            Self::ConcurrentRequests => "0x80072326",
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::RequestCount => "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            Self::ExecutionTime => {
                "Combined execution time of incoming requests exceeded limit of 1,200,000  milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later."
            }
            Self::ConcurrentRequests => "Number of concurrent requests exceeded the limit of 52.",
        }
    }

    /// The `429` Dataverse answers for this limit: `Retry-After` in whole seconds (rounded up) and the error body.
    pub(crate) fn reply(self, retry_after: Duration) -> Reply {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let body = json!({"error": {"code": self.code(), "message": self.message()}});
        Reply::json(429, &body).header("Retry-After", seconds.to_string())
    }
}

/// The `503` of an outage, its message naming the testkit fault (`fault`) that caused it.
pub(crate) fn unavailable_reply(fault: &str) -> Reply {
    let body = json!({"error": {
        "code": "0x80040216",
        "message": format!("The service is temporarily unavailable. Try again later. (dynamics-testkit {fault})"),
    }});
    Reply::json(503, &body)
}

/// When a fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// Every `n`th Web API request (counted from when the fault was set), forever.
    Every(u64),
    /// The next `k` Web API requests.
    Next(u64),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Throttle {
    pub(crate) schedule: Schedule,
    pub(crate) seen: u64,
    pub(crate) retry_after: Duration,
    pub(crate) kind: ThrottleKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Outage {
    pub(crate) schedule: Schedule,
    pub(crate) seen: u64,
}

/// The faults in force; lives in the shared state.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    pub(crate) throttle: Option<Throttle>,
    pub(crate) outage: Option<Outage>,
    pub(crate) latency: Duration,
    pub(crate) unauthorized_once: bool,
    pub(crate) setup: SetupState,
    /// Privileges the application user's security role lacks, such as `prvReadAccount`.
    pub(crate) revoked_privileges: Vec<String>,
}

/// What the fault plan decided for one Web API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultDecision {
    Throttle { retry_after: Duration, kind: ThrottleKind },
    Unavailable,
    Unauthorized,
}

impl Schedule {
    /// For the `seen`th request: whether the fault fires, and whether it is used up afterwards.
    fn fire(self, seen: u64) -> (bool, bool) {
        match self {
            Self::Every(n) => (n > 0 && seen.is_multiple_of(n), false),
            Self::Next(k) => (seen <= k, seen >= k),
        }
    }
}

impl FaultPlan {
    /// Decides the fault (if any) for the next authenticated Web API request.
    pub(crate) fn decide(&mut self) -> Option<FaultDecision> {
        if self.unauthorized_once {
            self.unauthorized_once = false;
            return Some(FaultDecision::Unauthorized);
        }
        if let Some(throttle) = self.throttle.as_mut() {
            throttle.seen += 1;
            let (fires, done) = throttle.schedule.fire(throttle.seen);
            let decision = FaultDecision::Throttle { retry_after: throttle.retry_after, kind: throttle.kind };
            if done {
                self.throttle = None;
            }
            if fires {
                return Some(decision);
            }
        }
        if let Some(outage) = self.outage.as_mut() {
            outage.seen += 1;
            let (fires, done) = outage.schedule.fire(outage.seen);
            if done {
                self.outage = None;
            }
            if fires {
                return Some(FaultDecision::Unavailable);
            }
        }
        None
    }
}

/// A handle to set and clear faults while the emulator runs; cheap to clone.
///
/// Faults apply to authenticated requests to the Web API (not to the token endpoint,
/// and not to the unauthenticated challenge). Counting starts when a fault is set.
///
/// ```no_run
/// # async fn demo() {
/// use std::time::Duration;
/// use dynamics_testkit::{Emulator, SetupState};
///
/// let emulator = Emulator::start().await;
/// emulator.faults().throttle_every(3, Duration::from_secs(1)); // every 3rd request gets a 429
/// emulator.faults().unavailable_next(2);                       // the next two get a 503
/// emulator.faults().unauthorized_once();                       // the next one gets a 401
/// emulator.faults().setup(SetupState::NoSecurityRole);         // reads fail with prvRead… errors
/// emulator.faults().clear();
/// # }
/// ```
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Faults").field("plan", &state.faults).finish()
    }
}

impl Faults {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn with(&self, change: impl FnOnce(&mut FaultPlan)) {
        let mut state = self.shared.lock();
        change(&mut state.faults);
    }

    /// Throttles every `n`th Web API request with `429`, `Retry-After: <retry_after in whole seconds, at least 1>`
    /// and the service protection code `0x80072322`. `n = 0` turns throttling off.
    pub fn throttle_every(&self, n: u64, retry_after: Duration) {
        self.throttle(Schedule::Every(n), retry_after, ThrottleKind::RequestCount);
    }

    /// Throttles the next `k` Web API requests with `429` (code `0x80072322`).
    pub fn throttle_next(&self, k: u64, retry_after: Duration) {
        self.throttle(Schedule::Next(k), retry_after, ThrottleKind::RequestCount);
    }

    /// Throttles every `n`th Web API request, reporting the given service protection limit.
    pub fn throttle_every_with(&self, n: u64, retry_after: Duration, kind: ThrottleKind) {
        self.throttle(Schedule::Every(n), retry_after, kind);
    }

    fn throttle(&self, schedule: Schedule, retry_after: Duration, kind: ThrottleKind) {
        let off = matches!(schedule, Schedule::Every(0) | Schedule::Next(0));
        self.with(|plan| plan.throttle = (!off).then_some(Throttle { schedule, seen: 0, retry_after, kind }));
    }

    /// Answers every `n`th Web API request with `503 Service Unavailable`. `n = 0` turns it off.
    pub fn unavailable_every(&self, n: u64) {
        self.outage(Schedule::Every(n));
    }

    /// Answers the next `k` Web API requests with `503 Service Unavailable`.
    pub fn unavailable_next(&self, k: u64) {
        self.outage(Schedule::Next(k));
    }

    fn outage(&self, schedule: Schedule) {
        let off = matches!(schedule, Schedule::Every(0) | Schedule::Next(0));
        self.with(|plan| plan.outage = (!off).then_some(Outage { schedule, seen: 0 }));
    }

    /// Delays every response (token endpoint included) by `latency`; `Duration::ZERO` removes the delay.
    pub fn latency(&self, latency: Duration) {
        self.with(|plan| plan.latency = latency);
    }

    /// Answers the next Web API request with `401` as if its token had been revoked, and forgets
    /// every token issued so far, so the client must get a new one.
    pub fn unauthorized_once(&self) {
        self.with(|plan| plan.unauthorized_once = true);
    }

    /// Changes how the org's application user is set up; see [`SetupState`].
    pub fn setup(&self, state: SetupState) {
        self.with(|plan| plan.setup = state);
    }

    /// Takes one privilege away from the application user's security role, such as `prvReadAccount` or
    /// `prvCreateContact` (`prv` + `Read`/`Create`/`Write`/`Delete` + the table's schema name): the requests that
    /// need it get `403` `0x80040220` naming it, everything else still works. Names compare without regard to case.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let emulator = dynamics_testkit::Emulator::start().await;
    /// emulator.faults().revoke_privilege("prvReadAccount"); // GET accounts → 403 "… is missing prvReadAccount privilege …"
    /// emulator.faults().restore_privileges();
    /// # }
    /// ```
    pub fn revoke_privilege(&self, privilege: impl Into<String>) {
        let privilege = privilege.into();
        self.with(|plan| {
            if !plan.revoked_privileges.iter().any(|known| known.eq_ignore_ascii_case(&privilege)) {
                plan.revoked_privileges.push(privilege);
            }
        });
    }

    /// Gives back every privilege taken with [`revoke_privilege`](Self::revoke_privilege).
    pub fn restore_privileges(&self) {
        self.with(|plan| plan.revoked_privileges.clear());
    }

    /// Removes every fault (throttling, outages, latency, pending 401, revoked privileges) and restores
    /// [`SetupState::Ready`].
    pub fn clear(&self) {
        self.with(|plan| *plan = FaultPlan::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_fires_on_multiples_and_next_k_wears_off() {
        let mut plan =
            FaultPlan { outage: Some(Outage { schedule: Schedule::Every(3), seen: 0 }), ..FaultPlan::default() };
        let fired: Vec<bool> = (0..6).map(|_| plan.decide().is_some()).collect();
        assert_eq!(fired, [false, false, true, false, false, true]);

        let mut plan =
            FaultPlan { outage: Some(Outage { schedule: Schedule::Next(2), seen: 0 }), ..FaultPlan::default() };
        let fired: Vec<bool> = (0..4).map(|_| plan.decide().is_some()).collect();
        assert_eq!(fired, [true, true, false, false]);
        assert!(plan.outage.is_none());
    }
}
