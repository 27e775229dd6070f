//! A pure, clock-driven model of Dataverse's service protection limits, on one or several web servers.
//!
//! Dataverse evaluates its limits per user and **per web server**, and a client that sends no affinity cookie
//! (this one) has its requests spread over the servers behind the org's URL. [`ServiceProtection`] models that:
//! each web server has its own [`Budget`], and each request goes to one server chosen by the [`Spread`].
//!
//! The model never reads a clock and never sleeps: every call takes `now`, so a unit test moves time by hand.
//! The [`LoopbackServer`](crate::loopback::LoopbackServer) serves Dataverse-shaped answers under it.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use dynamics_testkit::service_protection::{Admission, Budget, ServiceProtection};
//!
//! let mut model = ServiceProtection::new(Budget::unlimited().requests(2, Duration::from_secs(1)));
//! let start = Instant::now();
//! for _ in 0..2 {
//!     let Admission::Serve(served) = model.admit(start) else { panic!("within the budget") };
//!     model.finish(served);
//! }
//! let Admission::Refuse(refusal) = model.admit(start) else { panic!("over the budget") };
//! assert_eq!(refusal.code(), "0x80072322");
//! assert_eq!(refusal.retry_after(), Duration::from_secs(1));
//! assert_eq!(model.counters().total().served, 2);
//! ```

mod budget;
mod counters;
mod web_server;

use std::time::{Duration, Instant};

pub use budget::{Budget, IsolatedRefusals};
pub use counters::{ProtectionCounters, ServerCounters, ThrottleWindow};

use crate::faults::ThrottleKind;
use web_server::{Decision, WebServer};

/// How requests are spread over the web servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Spread {
    /// Each request goes to the next server in turn.
    #[default]
    RoundRobin,
    /// Each request goes to a server drawn from a generator with this seed.
    Seeded(u64),
    /// All requests of a connection go to one server (the connection number modulo the server count),
    /// as a load balancer without cookies but with connection reuse would do.
    PerConnection,
}

/// One arriving request, as the model needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct Arrival {
    connection: u64,
    records: usize,
}

impl Arrival {
    /// A request carrying one record, on connection 0.
    pub fn new() -> Self {
        Self { connection: 0, records: 1 }
    }

    /// The connection it arrived on (for [`Spread::PerConnection`]).
    pub fn connection(mut self, connection: u64) -> Self {
        self.connection = connection;
        self
    }

    /// How many records it carries (a bulk action's targets, a batch's operations), which sets its cost.
    pub fn records(mut self, records: usize) -> Self {
        self.records = records;
        self
    }
}

/// The remaining budget a served answer reports, when its web server sends the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetHeaders {
    burst_remaining: Option<usize>,
    time_remaining: Option<Duration>,
}

impl BudgetHeaders {
    /// `x-ms-ratelimit-burst-remaining-xrm-requests`: requests left in the window, if limited.
    pub fn burst_remaining(&self) -> Option<usize> {
        self.burst_remaining
    }

    /// `x-ms-ratelimit-time-remaining-xrm-requests`: execution time left in the window, if limited.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.time_remaining
    }

    /// The headers as sent: names, and values (the time in whole milliseconds).
    pub fn to_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(burst) = self.burst_remaining {
            headers.push(("x-ms-ratelimit-burst-remaining-xrm-requests", burst.to_string()));
        }
        if let Some(time) = self.time_remaining {
            headers.push(("x-ms-ratelimit-time-remaining-xrm-requests", time.as_millis().to_string()));
        }
        headers
    }
}

/// A request the model admitted. Hand it back to [`ServiceProtection::finish`] when its answer is sent.
#[derive(Debug)]
#[must_use = "a served request stays in flight until it is finished"]
pub struct Served {
    server: usize,
    latency: Duration,
    headers: Option<BudgetHeaders>,
}

impl Served {
    /// The web server serving it.
    pub fn server(&self) -> usize {
        self.server
    }

    /// How long serving it takes, before the answer is sent.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// The remaining budget to report, unless the server's budget headers are off.
    pub fn headers(&self) -> Option<BudgetHeaders> {
        self.headers
    }
}

/// A `429 Too Many Requests`: which limit, and the `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    kind: ThrottleKind,
    retry_after: Duration,
    server: usize,
}

impl Refusal {
    pub(crate) fn new(kind: ThrottleKind, retry_after: Duration, server: usize) -> Self {
        Self { kind, retry_after, server }
    }

    /// Which limit was exceeded.
    pub fn kind(&self) -> ThrottleKind {
        self.kind
    }

    /// Dataverse's code for it, such as `0x80072322`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// Dataverse's message for it.
    pub fn message(&self) -> &'static str {
        self.kind.message()
    }

    /// How long the client should wait.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// The web server that refused.
    pub fn server(&self) -> usize {
        self.server
    }

    /// The answer's JSON body, `{"error":{"code":…,"message":…}}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": { "code": self.code(), "message": self.message() } }).to_string()
    }

    /// The `Retry-After` header value in seconds: whole seconds when it is whole, else rounded up to the millisecond
    /// (a scaled-down budget needs fractions; a client that waits it out arrives after the pause).
    pub fn retry_after_header(&self) -> String {
        if self.retry_after.subsec_nanos() == 0 {
            return self.retry_after.as_secs().to_string();
        }
        let millis = self.retry_after.as_nanos().div_ceil(1_000_000);
        format!("{}.{:03}", millis / 1000, millis % 1000)
    }
}

/// What the model decided for one request.
#[derive(Debug)]
#[must_use]
pub enum Admission {
    /// Serve it, then call [`ServiceProtection::finish`].
    Serve(Served),
    /// Answer `429` with this.
    Refuse(Refusal),
}

/// The service protection of an org: one or several web servers, each with its own budget.
#[derive(Debug)]
pub struct ServiceProtection {
    servers: Vec<WebServer>,
    spread: Spread,
    next: usize,
    rng: fastrand::Rng,
    max_concurrency: usize,
}

impl ServiceProtection {
    /// One web server with this budget.
    pub fn new(budget: Budget) -> Self {
        Self::with_budgets([budget], Spread::RoundRobin)
    }

    /// `count` web servers (at least one), each with its own copy of `budget`.
    pub fn web_servers(count: usize, budget: Budget, spread: Spread) -> Self {
        Self::with_budgets(std::iter::repeat_n(budget, count.max(1)), spread)
    }

    /// One web server per budget (an empty list gives one unlimited server).
    pub fn with_budgets(budgets: impl IntoIterator<Item = Budget>, spread: Spread) -> Self {
        let mut servers: Vec<WebServer> =
            budgets.into_iter().enumerate().map(|(index, budget)| WebServer::new(index, budget)).collect();
        if servers.is_empty() {
            servers.push(WebServer::new(0, Budget::unlimited()));
        }
        let seed = match spread {
            Spread::Seeded(seed) => seed,
            _ => 0,
        };
        Self { servers, spread, next: 0, rng: fastrand::Rng::with_seed(seed), max_concurrency: 0 }
    }

    /// How many web servers there are.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Admits or refuses a one-record request arriving at `now` on connection 0.
    pub fn admit(&mut self, now: Instant) -> Admission {
        self.admit_request(now, Arrival::new())
    }

    /// Admits or refuses a request arriving at `now`.
    pub fn admit_request(&mut self, now: Instant, arrival: Arrival) -> Admission {
        let count = self.servers.len();
        let index = match self.spread {
            Spread::RoundRobin => {
                let index = self.next % count;
                self.next = self.next.wrapping_add(1);
                index
            }
            Spread::Seeded(_) => self.rng.usize(..count),
            Spread::PerConnection => usize::try_from(arrival.connection % count as u64).unwrap_or(0),
        };
        match self.servers[index].admit(now, arrival.records) {
            Decision::Serve { cost, headers } => {
                let in_flight = self.servers.iter().map(WebServer::in_flight).sum();
                self.max_concurrency = self.max_concurrency.max(in_flight);
                Admission::Serve(Served { server: index, latency: cost, headers })
            }
            Decision::Refuse(refusal) => Admission::Refuse(refusal),
        }
    }

    /// Marks a served request as answered, which frees its concurrency slot.
    pub fn finish(&mut self, served: Served) {
        if let Some(server) = self.servers.get_mut(served.server) {
            server.finish();
        }
    }

    /// A copy of the counters.
    pub fn counters(&self) -> ProtectionCounters {
        ProtectionCounters {
            servers: self.servers.iter().map(|server| server.counters.clone()).collect(),
            max_concurrency: self.max_concurrency,
        }
    }
}

impl Default for ServiceProtection {
    fn default() -> Self {
        Self::new(Budget::unlimited())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn serve(model: &mut ServiceProtection, now: Instant) -> Served {
        match model.admit(now) {
            Admission::Serve(served) => served,
            Admission::Refuse(refusal) => panic!("refused: {refusal:?}"),
        }
    }

    fn refuse(model: &mut ServiceProtection, now: Instant) -> Refusal {
        match model.admit(now) {
            Admission::Serve(served) => panic!("served on {}", served.server()),
            Admission::Refuse(refusal) => refusal,
        }
    }

    #[test]
    fn the_window_slides_request_by_request() {
        let mut model = ServiceProtection::new(Budget::unlimited().requests(3, SECOND * 10));
        let start = Instant::now();
        for at in [0, 2, 4] {
            let served = serve(&mut model, start + SECOND * at);
            model.finish(served);
        }
        // Full until the request of t=0 leaves at t=10.
        let refusal = refuse(&mut model, start + SECOND * 6);
        assert_eq!((refusal.code(), refusal.retry_after()), ("0x80072322", SECOND * 4));
        let served = serve(&mut model, start + SECOND * 10);
        model.finish(served);
        // Full again until the request of t=2 leaves at t=12: one place came back, not three.
        assert_eq!(refuse(&mut model, start + SECOND * 11).retry_after(), SECOND);
        let counters = model.counters().total();
        assert_eq!((counters.served, counters.refused_request_count, counters.refused_while_throttled), (4, 2, 0));
        assert_eq!(counters.throttles.len(), 2);
        assert_eq!(counters.max_refusals_per_throttle(), 1);
    }

    #[test]
    fn requests_sent_while_throttled_extend_the_pause() {
        let budget = Budget::unlimited().requests(1, SECOND * 2).penalty(Duration::from_millis(500));
        let mut model = ServiceProtection::new(budget);
        let start = Instant::now();
        let served = serve(&mut model, start);
        model.finish(served);
        assert_eq!(refuse(&mut model, start + SECOND).retry_after(), SECOND);
        // Throttled until t=2; each early request adds 500 ms.
        let early = refuse(&mut model, start + Duration::from_millis(1500));
        assert_eq!(early.retry_after(), SECOND);
        let again = refuse(&mut model, start + Duration::from_millis(2200));
        assert_eq!(again.retry_after(), Duration::from_millis(800));
        let served = serve(&mut model, start + SECOND * 3);
        model.finish(served);
        let counters = model.counters().total();
        assert_eq!((counters.refused_request_count, counters.refused_while_throttled), (1, 2));
        let window = counters.throttles[0];
        assert_eq!(window.refusals(), 3);
        assert_eq!(window.first_refusal(), start + SECOND);
        assert_eq!(window.last_refusal(), start + Duration::from_millis(2200));
        assert_eq!(window.ends(), start + SECOND * 3);
    }

    #[test]
    fn a_penalty_from_arrival_only_keeps_the_throttle_going() {
        let budget = Budget::unlimited().requests(1, SECOND * 2).penalty_from_arrival(Duration::from_millis(500));
        let mut model = ServiceProtection::new(budget);
        let start = Instant::now();
        let served = serve(&mut model, start);
        model.finish(served);
        assert_eq!(refuse(&mut model, start).retry_after(), SECOND * 2);
        // Early requests within the throttle do not add up: the end stays at t=2 ...
        assert_eq!(refuse(&mut model, start + SECOND).retry_after(), SECOND);
        assert_eq!(refuse(&mut model, start + SECOND).retry_after(), SECOND);
        // ... until one arrives less than 500 ms before it: then the throttle ends 500 ms after that one.
        assert_eq!(refuse(&mut model, start + Duration::from_millis(1800)).retry_after(), Duration::from_millis(500));
        let served = serve(&mut model, start + Duration::from_millis(2300));
        model.finish(served);
    }

    #[test]
    fn execution_time_is_charged_per_request() {
        let budget = Budget::unlimited()
            .requests(100, SECOND * 10)
            .execution_time(SECOND)
            .latency(Duration::from_millis(300))
            .latency_per_record(Duration::from_millis(100));
        let mut model = ServiceProtection::new(budget);
        let start = Instant::now();
        // 300 ms + 2 × 100 ms = 500 ms each: two fit in one second of execution time.
        for at in [0, 1] {
            let Admission::Serve(served) = model.admit_request(start + SECOND * at, Arrival::new().records(2)) else {
                panic!("within the execution time");
            };
            assert_eq!(served.latency(), Duration::from_millis(500));
            model.finish(served);
        }
        let Admission::Refuse(refusal) = model.admit_request(start + SECOND * 2, Arrival::new()) else {
            panic!("over the execution time");
        };
        // 400 ms more needs the first request (t=0) to leave at t=10.
        assert_eq!((refusal.code(), refusal.retry_after()), ("0x80072321", SECOND * 8));
        assert_eq!(model.counters().total().refused_execution_time, 1);
    }

    #[test]
    fn concurrency_is_refused_without_a_pause() {
        let mut model = ServiceProtection::new(
            Budget::unlimited().max_concurrent(2).concurrency_retry_after(Duration::from_millis(50)),
        );
        let now = Instant::now();
        let first = serve(&mut model, now);
        let second = serve(&mut model, now);
        let refusal = refuse(&mut model, now);
        assert_eq!((refusal.code(), refusal.retry_after()), ("0x80072326", Duration::from_millis(50)));
        model.finish(first);
        // A slot is free again at once: concurrency does not throttle the server.
        let third = serve(&mut model, now);
        model.finish(second);
        model.finish(third);
        let counters = model.counters().total();
        assert_eq!((counters.refused_concurrency, counters.max_concurrency), (1, 2));
        assert!(counters.throttles.is_empty());
    }

    #[test]
    fn each_web_server_has_its_own_budget() {
        let budget = Budget::unlimited().requests(2, SECOND);
        let mut model = ServiceProtection::web_servers(3, budget, Spread::RoundRobin);
        let now = Instant::now();
        // Six requests spread round robin fill three budgets of two.
        for expected in [0, 1, 2, 0, 1, 2] {
            let served = serve(&mut model, now);
            assert_eq!(served.server(), expected);
            model.finish(served);
        }
        let refusal = refuse(&mut model, now);
        assert_eq!(refusal.server(), 0);
        // Server 0 is throttled; servers 1 and 2 refuse on their own account, not as "sent while throttled".
        let counters = model.counters();
        assert_eq!(counters.servers().len(), 3);
        assert!(counters.servers().iter().all(|server| server.served == 2));
        assert_eq!(counters.servers()[0].refused_request_count, 1);
        assert_eq!(refuse(&mut model, now).server(), 1);
        assert_eq!(model.counters().servers()[1].refused_while_throttled, 0);
    }

    #[test]
    fn per_connection_spreading_keeps_a_connection_on_one_server() {
        let mut model = ServiceProtection::web_servers(2, Budget::unlimited(), Spread::PerConnection);
        let now = Instant::now();
        for connection in [0_u64, 1, 2, 3, 5] {
            let Admission::Serve(served) = model.admit_request(now, Arrival::new().connection(connection)) else {
                panic!("unlimited");
            };
            assert_eq!(served.server() as u64, connection % 2);
            model.finish(served);
        }
    }

    #[test]
    fn seeded_spreading_repeats_under_the_same_seed() {
        let run = |seed| {
            let mut model = ServiceProtection::web_servers(4, Budget::unlimited(), Spread::Seeded(seed));
            let now = Instant::now();
            (0..32)
                .map(|_| {
                    let served = serve(&mut model, now);
                    let server = served.server();
                    model.finish(served);
                    server
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!((0..4).all(|server| run(7).contains(&server)));
    }

    #[test]
    fn every_nth_request_is_refused_on_its_own() {
        let budget = Budget::unlimited().isolated_refusals(IsolatedRefusals::every(3, SECOND));
        let mut model = ServiceProtection::new(budget);
        let now = Instant::now();
        let outcomes: Vec<bool> = (0..9)
            .map(|_| match model.admit(now) {
                Admission::Serve(served) => {
                    model.finish(served);
                    true
                }
                Admission::Refuse(refusal) => {
                    assert_eq!((refusal.code(), refusal.retry_after()), ("0x80072322", SECOND));
                    false
                }
            })
            .collect();
        assert_eq!(outcomes, [true, true, false, true, true, false, true, true, false]);
        let counters = model.counters().total();
        // No pause: the request right after an isolated refusal is served.
        assert_eq!((counters.refused_isolated, counters.refused_while_throttled), (3, 0));
        assert!(counters.throttles.is_empty());
    }

    #[test]
    fn seeded_isolated_refusals_are_deterministic() {
        let run = |seed| {
            let budget = Budget::unlimited().isolated_refusals(IsolatedRefusals::seeded_rate(0.2, seed, SECOND));
            let mut model = ServiceProtection::web_servers(2, budget, Spread::RoundRobin);
            let now = Instant::now();
            (0..200)
                .map(|_| match model.admit(now) {
                    Admission::Serve(served) => {
                        model.finish(served);
                        true
                    }
                    Admission::Refuse(_) => false,
                })
                .collect::<Vec<_>>()
        };
        let first = run(42);
        assert_eq!(first, run(42));
        assert_ne!(first, run(43));
        let refused = first.iter().filter(|served| !**served).count();
        assert!((20..=60).contains(&refused), "about a fifth refused, not {refused}");
    }

    #[test]
    fn budget_headers_report_what_is_left_and_can_be_turned_off() {
        let budget =
            Budget::unlimited().requests(10, SECOND).execution_time(SECOND).latency(Duration::from_millis(100));
        let mut model = ServiceProtection::new(budget.clone());
        let served = serve(&mut model, Instant::now());
        let headers = served.headers().expect("headers on by default");
        assert_eq!(headers.burst_remaining(), Some(9));
        assert_eq!(headers.time_remaining(), Some(Duration::from_millis(900)));
        assert_eq!(
            headers.to_headers(),
            [
                ("x-ms-ratelimit-burst-remaining-xrm-requests", "9".to_owned()),
                ("x-ms-ratelimit-time-remaining-xrm-requests", "900".to_owned()),
            ]
        );
        model.finish(served);
        let mut quiet = ServiceProtection::new(budget.budget_headers(false));
        let served = serve(&mut quiet, Instant::now());
        assert_eq!(served.headers(), None);
        quiet.finish(served);
    }

    #[test]
    fn refusals_carry_dataverse_codes_messages_and_retry_after() {
        let refusal = Refusal::new(ThrottleKind::ConcurrentRequests, Duration::from_micros(20_500), 0);
        assert_eq!(refusal.retry_after_header(), "0.021");
        assert_eq!(Refusal::new(ThrottleKind::RequestCount, SECOND * 5, 0).retry_after_header(), "5");
        let body: serde_json::Value = serde_json::from_str(&refusal.body()).expect("JSON");
        assert_eq!(body["error"]["code"], "0x80072326");
        assert_eq!(body["error"]["message"], ThrottleKind::ConcurrentRequests.message());
    }
}
