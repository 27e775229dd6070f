//! What the fault proxy does to each request: the faults, the rules that choose them, and the seeded choice.

use std::time::Duration;

use crate::{Error, Result, ThrottleKind};

/// A fault the [`FaultProxy`](crate::FaultProxy) injects into one request, at the connection level.
///
/// | fault | the upstream server | the client sees |
/// |---|---|---|
/// | `ClosedBeforeRead` | never sees the request | a transport error: the connection is reset (TCP RST) once the request was read |
/// | `ClosedAfterCommit` | handles it (a write is committed) | a transport error: the connection is closed (TCP FIN) without one byte of the answer |
/// | `ServiceUnavailable` | never sees the request | `503` with a Dataverse error body, on a connection that stays open |
/// | `Throttled` | never sees the request | `429` with `Retry-After` and the service protection code and message of its [`ThrottleKind`] |
/// | `Hang` | never sees the request | nothing: the connection stays open and silent until the client gives up (its timeout) |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionFault {
    /// The request is read and the connection reset, as by a front end that drops it: nothing is forwarded.
    ClosedBeforeRead,
    /// The request is forwarded and its whole answer read (so whatever it wrote is in the server's store),
    /// then the client's connection is closed without sending any of the answer.
    ClosedAfterCommit,
    /// The proxy answers `503 Service Unavailable` itself.
    ServiceUnavailable,
    /// The proxy answers `429 Too Many Requests` itself, as Dataverse's service protection limits do.
    Throttled {
        /// The `Retry-After` header, in whole seconds (rounded up).
        retry_after: Duration,
        /// Which limit the error body names.
        kind: ThrottleKind,
    },
    /// The proxy reads the request and never answers.
    Hang,
}

impl ConnectionFault {
    /// A short snake-case name, such as `closed_after_commit`, for messages and tables.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ClosedBeforeRead => "closed_before_read",
            Self::ClosedAfterCommit => "closed_after_commit",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Throttled { .. } => "throttled",
            Self::Hang => "hang",
        }
    }

    /// Whether the upstream server receives the request (only [`ClosedAfterCommit`](Self::ClosedAfterCommit) is forwarded).
    pub fn reaches_upstream(&self) -> bool {
        matches!(self, Self::ClosedAfterCommit)
    }
}

/// When a rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Trigger {
    /// A fraction of the matching requests, chosen by the seed.
    Rate(f64),
    /// The `n`th matching request (1-based), once.
    Nth(u64),
    /// Every `n`th matching request.
    Every(u64),
}

/// One rule of [`ConnectionFaults`]: a fault, when it fires, and which requests it applies to
/// (all of them unless narrowed with [`method`](Self::method) and [`path_prefix`](Self::path_prefix)).
///
/// ```
/// use dynamics_testkit::{ConnectionFault, FaultRule};
///
/// // The third POST to accounts is committed, and its answer lost.
/// let rule = FaultRule::nth(ConnectionFault::ClosedAfterCommit, 3).method("POST").path_prefix("/api/data/v9.2/accounts");
/// # let _ = rule;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct FaultRule {
    fault: ConnectionFault,
    trigger: Trigger,
    method: Option<String>,
    path_prefix: Option<String>,
}

impl FaultRule {
    /// Injects `fault` into a fraction `rate` (from 0 to 1) of the matching requests, chosen by the seed.
    pub fn rate(fault: ConnectionFault, rate: f64) -> Self {
        Self::new(fault, Trigger::Rate(rate))
    }

    /// Injects `fault` into the `n`th matching request (counting from 1), once.
    pub fn nth(fault: ConnectionFault, n: u64) -> Self {
        Self::new(fault, Trigger::Nth(n))
    }

    /// Injects `fault` into every `n`th matching request (the `n`th, the `2n`th, …).
    pub fn every(fault: ConnectionFault, n: u64) -> Self {
        Self::new(fault, Trigger::Every(n))
    }

    fn new(fault: ConnectionFault, trigger: Trigger) -> Self {
        Self { fault, trigger, method: None, path_prefix: None }
    }

    /// Only requests with this method (case-insensitive), such as `POST`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Only requests whose path, percent-decoded and without the query, starts with `prefix`,
    /// such as `/api/data/v9.2/accounts` (as [`Journal::matching`](crate::Journal::matching) compares).
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// The fault this rule injects.
    pub fn fault(&self) -> ConnectionFault {
        self.fault
    }

    fn matches(&self, method: &str, decoded_path: &str) -> bool {
        self.method.as_deref().is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
            && self.path_prefix.as_deref().is_none_or(|prefix| decoded_path.starts_with(prefix))
    }
}

/// The connection-level faults of a [`FaultProxy`](crate::FaultProxy), or of an emulator's org
/// ([`EmulatorBuilder::connection_faults`](crate::EmulatorBuilder::connection_faults)).
///
/// Rules are checked in the order given. A counting rule ([`FaultRule::nth`], [`FaultRule::every`]) that fires wins;
/// otherwise one number drawn per request decides among the rate rules, each of which owns its own share of the
/// draws (so rates add up, and must add up to at most 1). The draw for the `i`th request since the plan was set is
/// the `i`th output of SplitMix64 started at the seed: the same seed and the same order of requests give the same faults.
///
/// ```
/// use std::time::Duration;
/// use dynamics_testkit::{ConnectionFault, ConnectionFaults, ThrottleKind};
///
/// let faults = ConnectionFaults::seeded(42)
///     .closed_after_commit(0.005)
///     .closed_before_read(0.005)
///     .service_unavailable(0.01)
///     .throttled(0.02, Duration::from_secs(1), ThrottleKind::RequestCount)
///     .on_request(10, ConnectionFault::Hang);
/// # let _ = faults;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct ConnectionFaults {
    seed: u64,
    rules: Vec<FaultRule>,
}

impl ConnectionFaults {
    /// No faults yet, drawing from `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self { seed, rules: Vec::new() }
    }

    /// No faults at all: every request passes through.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Resets the connection of a fraction `rate` of all requests before forwarding them.
    pub fn closed_before_read(self, rate: f64) -> Self {
        self.rule(FaultRule::rate(ConnectionFault::ClosedBeforeRead, rate))
    }

    /// Forwards a fraction `rate` of all requests, then closes their connection without the answer.
    pub fn closed_after_commit(self, rate: f64) -> Self {
        self.rule(FaultRule::rate(ConnectionFault::ClosedAfterCommit, rate))
    }

    /// Answers a fraction `rate` of all requests with `503`.
    pub fn service_unavailable(self, rate: f64) -> Self {
        self.rule(FaultRule::rate(ConnectionFault::ServiceUnavailable, rate))
    }

    /// Answers a fraction `rate` of all requests with `429`, `Retry-After` and the code of `kind`.
    pub fn throttled(self, rate: f64, retry_after: Duration, kind: ThrottleKind) -> Self {
        self.rule(FaultRule::rate(ConnectionFault::Throttled { retry_after, kind }, rate))
    }

    /// Never answers a fraction `rate` of all requests.
    pub fn hang(self, rate: f64) -> Self {
        self.rule(FaultRule::rate(ConnectionFault::Hang, rate))
    }

    /// Injects `fault` into the `n`th request (counting from 1), once.
    pub fn on_request(self, n: u64, fault: ConnectionFault) -> Self {
        self.rule(FaultRule::nth(fault, n))
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The rules, in the order they are checked.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Checks rates (from 0 to 1, adding up to at most 1) and counts (at least 1).
    pub(crate) fn check(&self) -> Result<()> {
        let refuse = |reason: String| Err(Error::Config { setting: "connection_faults", reason });
        let mut total = 0.0;
        for rule in &self.rules {
            match rule.trigger {
                Trigger::Rate(rate) if !(0.0..=1.0).contains(&rate) => {
                    return refuse(format!("the rate {rate} of {} is not between 0 and 1", rule.fault.name()));
                }
                Trigger::Rate(rate) => total += rate,
                Trigger::Nth(0) | Trigger::Every(0) => {
                    return refuse(format!(
                        "the count of {} must be at least 1 (requests count from 1)",
                        rule.fault.name()
                    ));
                }
                Trigger::Nth(_) | Trigger::Every(_) => {}
            }
        }
        if total > 1.0 + 1e-9 {
            return refuse(format!("the rates add up to {total}, more than 1"));
        }
        Ok(())
    }
}

/// A plan in force: the rules with how many matching requests each has seen, and how many requests were decided.
#[derive(Debug)]
pub(crate) struct Decider {
    faults: ConnectionFaults,
    seen: Vec<u64>,
    decided: u64,
}

impl Decider {
    pub(crate) fn new(faults: ConnectionFaults) -> Self {
        let seen = vec![0; faults.rules.len()];
        Self { faults, seen, decided: 0 }
    }

    pub(crate) fn faults(&self) -> &ConnectionFaults {
        &self.faults
    }

    /// The fault for the next request, if any.
    pub(crate) fn decide(&mut self, method: &str, decoded_path: &str) -> Option<ConnectionFault> {
        let draw = unit_interval(splitmix64(self.faults.seed, self.decided));
        self.decided += 1;
        let mut counted = None;
        let mut drawn = None;
        let mut floor = 0.0;
        for (rule, seen) in self.faults.rules.iter().zip(&mut self.seen) {
            let matches = rule.matches(method, decoded_path);
            if matches {
                *seen += 1;
            }
            match rule.trigger {
                Trigger::Rate(rate) => {
                    if matches && drawn.is_none() && floor <= draw && draw < floor + rate {
                        drawn = Some(rule.fault);
                    }
                    floor += rate;
                }
                Trigger::Nth(n) if matches && counted.is_none() && *seen == n => counted = Some(rule.fault),
                Trigger::Every(n) if matches && counted.is_none() && seen.is_multiple_of(n) => {
                    counted = Some(rule.fault)
                }
                Trigger::Nth(_) | Trigger::Every(_) => {}
            }
        }
        counted.or(drawn)
    }
}

/// The `index`th output of SplitMix64 started at `seed` (Steele, Lea and Flood's constants), computed directly.
fn splitmix64(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `[0, 1)` from the top 53 bits.
fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(faults: &ConnectionFaults, requests: &[(&str, &str)]) -> Vec<Option<ConnectionFault>> {
        let mut decider = Decider::new(faults.clone());
        requests.iter().map(|(method, path)| decider.decide(method, path)).collect()
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs of the reference SplitMix64 seeded with 1234567.
        assert_eq!(splitmix64(1_234_567, 0), 6_457_827_717_110_365_317);
        assert_eq!(splitmix64(1_234_567, 1), 3_203_168_211_198_807_973);
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_and_rates_come_out_about_right() {
        let faults = ConnectionFaults::seeded(7).closed_before_read(0.1).service_unavailable(0.2);
        let requests = vec![("GET", "/x"); 10_000];
        let first = run(&faults, &requests);
        assert_eq!(first, run(&faults, &requests));
        assert_ne!(
            first,
            run(&ConnectionFaults::seeded(8).closed_before_read(0.1).service_unavailable(0.2), &requests)
        );
        let count = |fault| first.iter().filter(|decided| **decided == Some(fault)).count();
        let closed = count(ConnectionFault::ClosedBeforeRead);
        let unavailable = count(ConnectionFault::ServiceUnavailable);
        assert!((900..1100).contains(&closed), "{closed}");
        assert!((1800..2200).contains(&unavailable), "{unavailable}");
    }

    #[test]
    fn counting_rules_count_only_matching_requests_and_win_over_rates() {
        let faults = ConnectionFaults::seeded(1)
            .service_unavailable(1.0)
            .rule(FaultRule::nth(ConnectionFault::Hang, 2).method("post").path_prefix("/api/data/v9.2/accounts"))
            .rule(FaultRule::every(ConnectionFault::ClosedBeforeRead, 2).method("DELETE"));
        let decided = run(
            &faults,
            &[
                ("POST", "/api/data/v9.2/accounts"),
                ("GET", "/api/data/v9.2/accounts"),
                ("POST", "/api/data/v9.2/contacts"),
                ("POST", "/api/data/v9.2/accounts(1)"),
                ("DELETE", "/a"),
                ("DELETE", "/b"),
                ("POST", "/api/data/v9.2/accounts"),
            ],
        );
        use ConnectionFault::{ClosedBeforeRead, Hang, ServiceUnavailable};
        assert_eq!(
            decided,
            [
                Some(ServiceUnavailable),
                Some(ServiceUnavailable),
                Some(ServiceUnavailable),
                Some(Hang),
                Some(ServiceUnavailable),
                Some(ClosedBeforeRead),
                Some(ServiceUnavailable)
            ]
        );
    }

    #[test]
    fn a_rate_rule_that_does_not_match_keeps_its_share_of_the_draws() {
        let faults = ConnectionFaults::seeded(3)
            .rule(FaultRule::rate(ConnectionFault::Hang, 0.5).method("POST"))
            .service_unavailable(0.5);
        let decided = run(&faults, &vec![("GET", "/"); 1000]);
        assert!(!decided.contains(&Some(ConnectionFault::Hang)));
        let unavailable = decided.iter().filter(|decided| decided.is_some()).count();
        assert!((400..600).contains(&unavailable), "a GET gets a 503 half the time, not always: {unavailable}");
    }

    #[test]
    fn bad_rates_and_counts_are_refused() {
        assert!(ConnectionFaults::seeded(0).hang(0.6).closed_before_read(0.5).check().is_err());
        assert!(ConnectionFaults::seeded(0).hang(-0.1).check().is_err());
        assert!(ConnectionFaults::seeded(0).hang(f64::NAN).check().is_err());
        assert!(ConnectionFaults::seeded(0).on_request(0, ConnectionFault::Hang).check().is_err());
        assert!(ConnectionFaults::seeded(0).hang(0.5).closed_before_read(0.5).check().is_ok());
    }
}
