//! What one web server allows: the limits of Dataverse's service protection, scaled as a test needs.

use std::time::Duration;

use crate::faults::ThrottleKind;

/// The service protection budget of one web server.
///
/// Windows are **sliding**, as Dataverse's are: a request counts against the budget for `window` after it
/// arrived, so the budget comes back request by request as old ones age out, not all at once at a boundary.
/// Execution time is charged when a request is admitted: its [`latency`](Self::latency) plus
/// [`latency_per_record`](Self::latency_per_record) for each record it carries.
///
/// ```
/// use std::time::Duration;
/// use dynamics_testkit::service_protection::{Budget, IsolatedRefusals};
///
/// // The benches' scaled-down org: 600 requests per 2 s, 16 at a time, 50 ms penalty, 20 ms per request.
/// let budget = Budget::unlimited()
///     .requests(600, Duration::from_secs(2))
///     .max_concurrent(16)
///     .penalty(Duration::from_millis(50))
///     .latency(Duration::from_millis(20));
/// assert_eq!(budget.window(), Duration::from_secs(2));
/// // Or Dataverse's own numbers, with one unlucky request in every 50.
/// let dataverse = Budget::dataverse().isolated_refusals(IsolatedRefusals::every(50, Duration::from_secs(1)));
/// assert_eq!(dataverse.max_requests(), Some(6000));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Budget {
    pub(crate) window: Duration,
    pub(crate) max_requests: Option<usize>,
    pub(crate) max_execution: Option<Duration>,
    pub(crate) max_concurrent: Option<usize>,
    pub(crate) concurrency_retry_after: Duration,
    pub(crate) penalty: Duration,
    pub(crate) penalty_from_arrival: bool,
    pub(crate) latency: Duration,
    pub(crate) latency_per_record: Duration,
    pub(crate) isolated: Option<IsolatedRefusals>,
    pub(crate) headers: bool,
}

impl Budget {
    /// No limit at all, no latency, budget headers on: the start for a budget built up with the setters.
    pub fn unlimited() -> Self {
        Self {
            window: Duration::from_secs(300),
            max_requests: None,
            max_execution: None,
            max_concurrent: None,
            concurrency_retry_after: Duration::from_secs(1),
            penalty: Duration::ZERO,
            penalty_from_arrival: false,
            latency: Duration::ZERO,
            latency_per_record: Duration::ZERO,
            isolated: None,
            headers: true,
        }
    }

    /// Dataverse's limits per user and web server: 6,000 requests and 20 minutes of execution time per
    /// sliding 5 minutes, and 52 concurrent requests. No penalty and no latency unless set.
    pub fn dataverse() -> Self {
        Self::unlimited()
            .requests(6000, Duration::from_secs(300))
            .execution_time(Duration::from_secs(20 * 60))
            .max_concurrent(52)
    }

    /// At most `max` requests per sliding `window` (refusals answer `0x80072322`).
    pub fn requests(mut self, max: usize, window: Duration) -> Self {
        self.max_requests = Some(max);
        self.window = window;
        self
    }

    /// At most `max` combined execution time per window (refusals answer `0x80072321`).
    /// The window is the one set by [`requests`](Self::requests) (5 minutes unless set).
    pub fn execution_time(mut self, max: Duration) -> Self {
        self.max_execution = Some(max);
        self
    }

    /// At most `max` requests being served at once (refusals answer `0x80072326`, without pausing the server).
    pub fn max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = Some(max);
        self
    }

    /// The `Retry-After` of a refusal for concurrency (default 1 s).
    pub fn concurrency_retry_after(mut self, retry_after: Duration) -> Self {
        self.concurrency_retry_after = retry_after;
        self
    }

    /// Added to the end of the throttle for every request that arrives while the server is throttled.
    ///
    /// Added up, penalties outgrow any client that retries each refused request after its own `Retry-After`
    /// with two or more requests in flight: each one's wait ends before the penalties the others added since.
    pub fn penalty(mut self, penalty: Duration) -> Self {
        self.penalty = penalty;
        self.penalty_from_arrival = false;
        self
    }

    /// The milder penalty: the throttle lasts at least `penalty` after every request that arrives while it holds
    /// (its end becomes the later of its end and the arrival plus `penalty`).
    pub fn penalty_from_arrival(mut self, penalty: Duration) -> Self {
        self.penalty = penalty;
        self.penalty_from_arrival = true;
        self
    }

    /// How long each served request takes (and costs in execution time).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// How much longer a request takes for each record it carries (a bulk action's targets, a batch's operations).
    pub fn latency_per_record(mut self, latency: Duration) -> Self {
        self.latency_per_record = latency;
        self
    }

    /// Refusals of single requests while the budget is otherwise fine.
    pub fn isolated_refusals(mut self, refusals: IsolatedRefusals) -> Self {
        self.isolated = Some(refusals);
        self
    }

    /// Whether served answers carry the remaining budget headers (default on). Turn them off to check that
    /// pacing works without them: Dataverse documents them as hints only.
    pub fn budget_headers(mut self, on: bool) -> Self {
        self.headers = on;
        self
    }

    /// The sliding window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The most requests per window, if limited.
    pub fn max_requests(&self) -> Option<usize> {
        self.max_requests
    }

    /// The most execution time per window, if limited.
    pub fn max_execution(&self) -> Option<Duration> {
        self.max_execution
    }

    /// The penalty per request sent while throttled.
    pub fn penalty_per_request(&self) -> Duration {
        self.penalty
    }

    /// What a request carrying `records` records costs: its latency and its execution time.
    pub fn cost(&self, records: usize) -> Duration {
        self.latency + self.latency_per_record * u32::try_from(records).unwrap_or(u32::MAX)
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::unlimited()
    }
}

/// Which requests are refused on their own ("one unlucky request"), and how.
///
/// Only requests the budget would otherwise serve are counted, and an isolated refusal neither pauses the server
/// nor counts against the budget.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct IsolatedRefusals {
    pub(crate) pick: Pick,
    pub(crate) retry_after: Duration,
    pub(crate) kind: ThrottleKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pick {
    Every(u64),
    Rate { rate: f64, seed: u64 },
}

impl IsolatedRefusals {
    /// Every `n`th request (counted per web server) is refused with `retry_after`.
    pub fn every(n: u64, retry_after: Duration) -> Self {
        Self { pick: Pick::Every(n.max(1)), retry_after, kind: ThrottleKind::RequestCount }
    }

    /// Each request is refused with probability `rate` (0 to 1), drawn from a generator seeded with `seed`
    /// (each web server's generator is seeded with `seed` plus its index), so a run repeats exactly.
    pub fn seeded_rate(rate: f64, seed: u64, retry_after: Duration) -> Self {
        Self { pick: Pick::Rate { rate: rate.clamp(0.0, 1.0), seed }, retry_after, kind: ThrottleKind::RequestCount }
    }

    /// The code and message the refusals carry (default [`ThrottleKind::RequestCount`]).
    pub fn kind(mut self, kind: ThrottleKind) -> Self {
        self.kind = kind;
        self
    }
}
