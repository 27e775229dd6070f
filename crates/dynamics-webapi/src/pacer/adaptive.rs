//! The in-process pacer: an in-flight limit, a hold after a first refusal, a shared pause after sustained
//! throttling, and a rate learned from the refusals.
//!
//! How it tells throttling patterns apart, from what the server says rather than from a fixed rule:
//! - A 429 for the request or execution-time limit starts a **hold**: no new request is admitted, the ones in
//!   flight finish. If one of them that was admitted after the refused one is answered, the server (or the web
//!   server that answered) still takes requests: the refusal was **isolated**, the hold ends at once and only the
//!   refused request waits its `Retry-After`. If another refusal comes first, or many recent answers were
//!   refusals, throttling is **sustained**: every request waits until the latest `Retry-After` (sending while
//!   throttled extends Dataverse's penalty), and from then on requests are sent at a rate learned from the
//!   episode: the successes since the last pause over the time until the first `Retry-After` ended, with a
//!   margin. While answers stay clean the rate climbs back, quickly up to the estimate, slowly beyond it.
//!   When nothing sent after the refused request is in flight to tell, one request goes as a **probe**: answered,
//!   the refusal was isolated; refused, throttling is sustained.
//! - A 429 for the concurrency limit (`0x80072326`) lowers the in-flight limit to below what was in flight; it
//!   climbs back by one after each run of clean answers as long as the limit, up to its ceiling.
//! - The ceiling of the in-flight limit is the caller's `max_in_flight`, or else Dataverse's `x-ms-dop-hint`
//!   (default 4 until it comes). The `x-ms-ratelimit-*` budget headers are not used for pacing: they describe one
//!   web server of several, and pacing must be right without them.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aad_auth::{Clock, SystemClock};
use async_trait::async_trait;
use tokio::sync::Notify;

use super::{Admission, LimitSource, Observation, Pacer, PacerState, Signal};
use crate::error::ServiceProtectionLimit;

/// The in-flight limit before the server recommends one.
const DEFAULT_IN_FLIGHT: usize = 4;
/// The highest `x-ms-dop-hint` followed.
const MAX_HINT: usize = 256;
/// The longest pause or hold: no real `Retry-After` is this long, and a garbled one must not stop the client for good.
const MAX_PAUSE: Duration = Duration::from_secs(24 * 60 * 60);
/// The hold of a refusal that gave no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The share of the learned rate that is used, so that pacing stays just under the limit.
const RATE_MARGIN: f64 = 0.97;
/// How fast the rate climbs while answers are clean, per second: up to the estimate, and beyond it.
const CLIMB_BELOW_ESTIMATE: f64 = 0.02;
const CLIMB_ABOVE_ESTIMATE: f64 = 0.002;
/// The most one sustained episode cuts the rate by.
const MAX_CUT: f64 = 0.7;
/// The slowest rate ever held to, in requests per second.
const MIN_RATE: f64 = 0.1;
/// Recent answers over this span tell sustained throttling from isolated refusals.
const PRESSURE_SPAN: Duration = Duration::from_secs(1);
/// Sustained throttling when at least this share of at least `PRESSURE_MIN_ANSWERS` recent answers were refusals.
const PRESSURE_SHARE: f64 = 0.1;
const PRESSURE_MIN_ANSWERS: usize = 10;

/// The default [`Pacer`]: paces the requests of one process. See the [module docs](super) for how.
///
/// ```
/// use dynamics_webapi::pacer::{AdaptivePacer, LimitSource, Pacer};
///
/// let pacer = AdaptivePacer::builder().max_in_flight(8).build();
/// let state = pacer.state();
/// assert_eq!((state.in_flight_limit(), state.limit_source()), (8, LimitSource::Configured));
/// assert_eq!(state.rate(), None, "no rate until the server has refused something");
/// ```
#[derive(Debug, Clone)]
pub struct AdaptivePacer {
    shared: Arc<Shared>,
}

/// Configures an [`AdaptivePacer`].
#[derive(Debug)]
#[must_use]
pub struct AdaptivePacerBuilder {
    max_in_flight: Option<usize>,
    clock: Arc<dyn Clock>,
}

impl AdaptivePacerBuilder {
    /// Fixes the ceiling of the in-flight limit (at least 1); without it the pacer starts at 4 and follows
    /// Dataverse's `x-ms-dop-hint`. Concurrency refusals still lower the limit for a while.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = Some(limit.max(1));
        self
    }

    /// The clock for waits (tests pass a manual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the pacer.
    pub fn build(self) -> AdaptivePacer {
        let now = self.clock.now();
        let (limit, source) = match self.max_in_flight {
            Some(limit) => (limit, LimitSource::Configured),
            None => (DEFAULT_IN_FLIGHT, LimitSource::Default),
        };
        let state = State {
            next_sequence: 0,
            in_flight: BTreeSet::new(),
            limit,
            source,
            ceiling: limit,
            ceiling_source: source,
            fixed: self.max_in_flight.is_some(),
            clean_answers: 0,
            paused_until: None,
            hold: None,
            rate: None,
            estimate: None,
            next_slot: now,
            rate_updated: now,
            episode_start: now,
            episode_successes: 0,
            recent: VecDeque::new(),
            time_paused: Duration::ZERO,
            time_slowed: Duration::ZERO,
            reported_queueing: None,
        };
        AdaptivePacer {
            shared: Arc::new(Shared { clock: self.clock, state: Mutex::new(state), changed: Notify::new() }),
        }
    }
}

impl Default for AdaptivePacer {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl AdaptivePacer {
    /// Starts configuring a pacer.
    pub fn builder() -> AdaptivePacerBuilder {
        AdaptivePacerBuilder { max_in_flight: None, clock: Arc::new(SystemClock) }
    }
}

#[derive(Debug)]
struct Shared {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The in-flight slot an admission holds; giving it back wakes the requests waiting for one.
#[derive(Debug)]
struct Slot(Arc<Shared>, u64);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight.remove(&self.1);
        drop(state);
        self.0.changed.notify_waiters();
    }
}

#[derive(Debug)]
struct Hold {
    refused_sequence: u64,
    until: SystemTime,
    /// The one request let through to learn whether the server still refuses, when nothing sent after the refused
    /// request was in flight to tell.
    probe: Option<u64>,
}

#[derive(Debug)]
struct State {
    next_sequence: u64,
    /// The sequence numbers of the requests admitted and not yet observed (or dropped).
    in_flight: BTreeSet<u64>,
    limit: usize,
    source: LimitSource,
    ceiling: usize,
    ceiling_source: LimitSource,
    fixed: bool,
    clean_answers: usize,
    paused_until: Option<SystemTime>,
    hold: Option<Hold>,
    rate: Option<f64>,
    estimate: Option<f64>,
    next_slot: SystemTime,
    rate_updated: SystemTime,
    episode_start: SystemTime,
    episode_successes: u64,
    recent: VecDeque<(SystemTime, bool)>,
    time_paused: Duration,
    time_slowed: Duration,
    reported_queueing: Option<(usize, LimitSource)>,
}

/// Whether a request may go now.
enum Gate {
    /// Now, as this sequence number.
    Open(u64),
    /// At this time, under the rate, as this sequence number; the slot is taken already.
    At(SystemTime, u64),
    /// Not before something changes, or this time comes.
    Closed(Option<SystemTime>),
}

impl State {
    fn gate(&mut self, now: SystemTime) -> Gate {
        if let Some(until) = self.paused_until {
            if until > now {
                return Gate::Closed(Some(until));
            }
            self.paused_until = None;
        }
        let mut probe = false;
        if let Some(hold) = &self.hold {
            if hold.until > now {
                let later_in_flight = self.in_flight.range(hold.refused_sequence + 1..).next().is_some();
                if later_in_flight || hold.probe.is_some() {
                    return Gate::Closed(Some(hold.until));
                }
                // Nothing sent after the refused request is in flight to tell an isolated refusal from sustained
                // throttling: one request goes as a probe.
                probe = true;
            } else {
                self.hold = None;
            }
        }
        if self.in_flight.len() >= self.limit {
            if self.reported_queueing != Some((self.limit, self.source)) {
                self.reported_queueing = Some((self.limit, self.source));
                tracing::info!(
                    in_flight_limit = self.limit,
                    source = %self.source,
                    "requests are queueing behind the in-flight limit of {} set by {}; \
                     raise it with ClientBuilder::max_concurrency if the server allows more",
                    self.limit,
                    self.source,
                );
            }
            return Gate::Closed(None);
        }
        let sequence = self.admitted();
        self.in_flight.insert(sequence);
        if probe && let Some(hold) = &mut self.hold {
            tracing::debug!("probing whether the server still refuses");
            hold.probe = Some(sequence);
        }
        match self.rate {
            Some(rate) => {
                let slot = self.next_slot.max(now);
                self.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
                if slot > now {
                    self.time_slowed += slot.duration_since(now).unwrap_or_default();
                    Gate::At(slot, sequence)
                } else {
                    Gate::Open(sequence)
                }
            }
            None => Gate::Open(sequence),
        }
    }

    fn admitted(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence
    }

    fn follow_hint(&mut self, hint: Option<i64>) {
        let Some(hint) = hint.and_then(|h| usize::try_from(h).ok()).filter(|h| *h > 0) else { return };
        if self.fixed {
            return;
        }
        self.ceiling = hint.min(MAX_HINT);
        self.ceiling_source = LimitSource::ServerHint;
        if self.source == LimitSource::ConcurrencyRefusals {
            self.limit = self.limit.min(self.ceiling);
        } else {
            self.limit = self.ceiling;
            self.source = LimitSource::ServerHint;
        }
    }

    fn remember(&mut self, now: SystemTime, refused: bool) {
        self.recent.push_back((now, refused));
        while self.recent.front().is_some_and(|(at, _)| now.duration_since(*at).unwrap_or_default() > PRESSURE_SPAN)
            || self.recent.len() > 4096
        {
            self.recent.pop_front();
        }
    }

    fn under_pressure(&self) -> bool {
        let refused = self.recent.iter().filter(|(_, refused)| *refused).count();
        self.recent.len() >= PRESSURE_MIN_ANSWERS && refused as f64 >= PRESSURE_SHARE * self.recent.len() as f64
    }

    fn answered(&mut self, now: SystemTime, sequence: u64) {
        self.remember(now, false);
        self.episode_successes += 1;
        if self.hold.as_ref().is_some_and(|hold| sequence > hold.refused_sequence) {
            tracing::debug!("a request sent after the refused one was answered: the refusal was isolated");
            self.hold = None;
        }
        if self.limit < self.ceiling {
            self.clean_answers += 1;
            if self.clean_answers >= self.limit {
                self.clean_answers = 0;
                self.limit += 1;
                if self.limit >= self.ceiling {
                    self.source = self.ceiling_source;
                }
            }
        }
        if let Some(rate) = self.rate {
            let clean = now.duration_since(self.rate_updated).unwrap_or_default().as_secs_f64();
            let climb = match self.estimate {
                Some(estimate) if rate < estimate => CLIMB_BELOW_ESTIMATE,
                _ => CLIMB_ABOVE_ESTIMATE,
            };
            self.rate = Some((rate * (1.0 + climb * clean)).min(1e6));
            self.rate_updated = now;
        }
    }

    fn refused_for_concurrency(&mut self) {
        // `in_flight` still holds the refused request.
        let lowered = self.in_flight.len().saturating_sub(1).max(1).min(self.limit);
        if lowered < self.limit {
            tracing::debug!(from = self.limit, to = lowered, "concurrency refusal: lowering the in-flight limit");
        }
        self.limit = lowered;
        self.source = LimitSource::ConcurrencyRefusals;
        self.clean_answers = 0;
    }

    fn throttled(&mut self, now: SystemTime, sequence: u64, retry_after: Duration) {
        self.remember(now, true);
        let until = now.checked_add(retry_after.min(MAX_PAUSE)).unwrap_or(now);
        if let Some(paused) = self.paused_until.filter(|paused| *paused > now) {
            // A request sent before the pause began: the server's throttle may have grown.
            if until > paused {
                self.time_paused += until.duration_since(paused).unwrap_or_default();
                self.paused_until = Some(until);
            }
            return;
        }
        match self.hold.take() {
            Some(hold) => self.sustained(now, hold.until, until),
            None if self.under_pressure() => self.sustained(now, until, until),
            None => self.hold = Some(Hold { refused_sequence: sequence, until, probe: None }),
        }
    }

    /// Pauses every request until `until`, and learns the rate from the episode that ends: the successes since
    /// the last pause over the time until the first refusal's `Retry-After` ended (`first_until`; later refusals
    /// may carry the penalty that this client's own requests added).
    fn sustained(&mut self, now: SystemTime, first_until: SystemTime, until: SystemTime) {
        let until = until.max(first_until);
        self.time_paused += until.duration_since(now).unwrap_or_default();
        self.paused_until = Some(until);
        let span = first_until.duration_since(self.episode_start).unwrap_or_default().as_secs_f64();
        let learned = (self.episode_successes > 0 && span > 0.0).then(|| self.episode_successes as f64 / span);
        self.rate = match (learned, self.rate) {
            // An episode right after a pause can be short and nearly empty (the server's window is still full):
            // one episode never cuts the rate by more than `MAX_CUT`, so a run of them cannot stall the client.
            (Some(learned), Some(rate)) => Some((learned * RATE_MARGIN).max(rate * MAX_CUT).max(MIN_RATE)),
            (Some(learned), None) => Some((learned * RATE_MARGIN).max(MIN_RATE)),
            // Nothing was answered since the last pause: the episode tells nothing about the rate, and the pause
            // already holds everyone back.
            (None, rate) => rate,
        };
        if let Some(rate) = self.rate {
            self.estimate = Some(rate / RATE_MARGIN);
        }
        tracing::debug!(rate = ?self.rate, pause = ?until.duration_since(now).unwrap_or_default(), "sustained throttling");
        self.episode_start = until;
        self.episode_successes = 0;
        self.next_slot = until;
        self.rate_updated = until;
    }

    fn snapshot(&self, now: SystemTime) -> PacerState {
        PacerState::new(self.in_flight.len(), self.limit, self.source)
            .with_rate(self.rate)
            .with_pause(self.paused_until.filter(|until| *until > now))
            .with_totals(self.time_paused, self.time_slowed)
    }
}

/// What an admission attempt came to.
enum Step {
    Admitted(Admission),
    /// The slot is taken; the request goes at this time, unless a pause or hold begins meanwhile.
    Scheduled(Slot, Duration),
    /// Wait for a change, or at most this long.
    Wait(Option<Duration>),
}

impl AdaptivePacer {
    /// One look at the gate. `changed` is enabled while the state is locked, so no change is missed.
    fn step(&self, changed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>) -> Step {
        let shared = &self.shared;
        let mut state = shared.lock();
        let now = shared.clock.now();
        match state.gate(now) {
            Gate::Open(sequence) => {
                Step::Admitted(Admission::new(sequence, now).holding(Slot(Arc::clone(shared), sequence)))
            }
            Gate::At(at, sequence) => {
                Step::Scheduled(Slot(Arc::clone(shared), sequence), at.duration_since(now).unwrap_or_default())
            }
            Gate::Closed(until) => {
                changed.enable();
                Step::Wait(until.map(|until| until.duration_since(now).unwrap_or_default()))
            }
        }
    }

    /// Admits a request whose slot was scheduled, unless a pause or hold began while it waited.
    fn admit_scheduled(&self, slot: Slot) -> Option<Admission> {
        let state = self.shared.lock();
        let now = self.shared.clock.now();
        let sequence = slot.1;
        let stopped = state.paused_until.is_some_and(|until| until > now)
            || state.hold.as_ref().is_some_and(|hold| hold.until > now && hold.probe != Some(sequence));
        drop(state);
        if stopped {
            return None;
        }
        Some(Admission::new(sequence, now).holding(slot))
    }
}

#[async_trait]
impl Pacer for AdaptivePacer {
    async fn admit(&self) -> Admission {
        loop {
            let mut changed = std::pin::pin!(self.shared.changed.notified());
            match self.step(changed.as_mut()) {
                Step::Admitted(admission) => return admission,
                Step::Scheduled(slot, wait) => {
                    // If this future is dropped while it waits, `Slot` gives the slot back.
                    self.shared.clock.sleep(wait).await;
                    if let Some(admission) = self.admit_scheduled(slot) {
                        return admission;
                    }
                }
                Step::Wait(Some(wait)) => {
                    let sleep = self.shared.clock.sleep(wait);
                    futures_util::future::select(changed, sleep).await;
                }
                Step::Wait(None) => changed.await,
            }
        }
    }

    fn observe(&self, admission: Admission, observation: &Observation) {
        let mut state = self.shared.lock();
        let now = self.shared.clock.now();
        state.follow_hint(observation.hints.recommended_parallelism);
        match observation.signal {
            Signal::Answered => state.answered(now, admission.sequence()),
            Signal::Throttled { limit: Some(ServiceProtectionLimit::ConcurrentRequests), .. } => {
                state.refused_for_concurrency();
            }
            Signal::Throttled { retry_after, .. } => {
                state.throttled(now, admission.sequence(), retry_after.unwrap_or(DEFAULT_RETRY_AFTER));
            }
            Signal::ServerBusy | Signal::NoAnswer => {}
        }
        drop(state);
        self.shared.changed.notify_waiters();
        drop(admission);
    }

    fn state(&self) -> PacerState {
        self.shared.lock().snapshot(self.shared.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::future::BoxFuture;
    use tokio::time::{Instant, timeout};

    use super::*;
    use crate::pacer::BudgetHints;

    /// Tokio's clock as a [`Clock`]: with `start_paused`, virtual time that moves only when every task waits.
    #[derive(Debug)]
    struct TokioClock {
        base: SystemTime,
        started: Instant,
    }

    impl Clock for TokioClock {
        fn now(&self) -> SystemTime {
            self.base + self.started.elapsed()
        }

        fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
            Box::pin(tokio::time::sleep(duration))
        }
    }

    fn pacer(max_in_flight: Option<usize>) -> AdaptivePacer {
        let clock = Arc::new(TokioClock { base: SystemTime::UNIX_EPOCH, started: Instant::now() });
        let builder = AdaptivePacer::builder().clock(clock);
        match max_in_flight {
            Some(limit) => builder.max_in_flight(limit).build(),
            None => builder.build(),
        }
    }

    fn throttled(seconds: u64) -> Observation {
        let signal = Signal::Throttled {
            limit: Some(ServiceProtectionLimit::RequestCount),
            retry_after: Some(Duration::from_secs(seconds)),
        };
        Observation::new(signal, Duration::from_millis(20))
    }

    fn answered() -> Observation {
        Observation::new(Signal::Answered, Duration::from_millis(20))
    }

    async fn admits_within(pacer: &AdaptivePacer, wait: Duration) -> Option<Admission> {
        timeout(wait, pacer.admit()).await.ok()
    }

    #[tokio::test(start_paused = true)]
    async fn an_isolated_refusal_holds_others_only_until_a_later_request_is_answered() {
        let pacer = pacer(Some(8));
        let first = pacer.admit().await;
        let second = pacer.admit().await;
        pacer.observe(first, &throttled(5));
        assert!(admits_within(&pacer, Duration::from_millis(100)).await.is_none(), "held after the refusal");
        pacer.observe(second, &answered());
        let started = Instant::now();
        let next = admits_within(&pacer, Duration::from_millis(1)).await.expect("the hold ended");
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(next.sequence() > 2);
        let state = pacer.state();
        assert_eq!((state.paused_until(), state.rate(), state.time_paused()), (None, None, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_refusal_pauses_everyone_until_the_latest_retry_after_and_sets_a_rate() {
        let pacer = pacer(Some(64));
        let mut earlier = Vec::new();
        for _ in 0..30 {
            let admission = pacer.admit().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            earlier.push(admission);
        }
        for admission in earlier {
            pacer.observe(admission, &answered());
        }
        let first = pacer.admit().await;
        let second = pacer.admit().await;
        pacer.observe(first, &throttled(2));
        pacer.observe(second, &throttled(3));
        let started = Instant::now();
        let _next = pacer.admit().await;
        assert_eq!(started.elapsed(), Duration::from_secs(3), "paused until the later Retry-After");
        let state = pacer.state();
        assert_eq!(state.time_paused(), Duration::from_secs(3));
        // 30 answered in the 3 s before the refusal plus the 2 s of the first Retry-After: 6 a second, less the margin.
        let rate = state.rate().expect("a rate learned from the episode");
        assert!((rate - 6.0 * RATE_MARGIN).abs() < 0.01, "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_episode_right_after_a_pause_cuts_the_rate_by_at_most_a_third() {
        let pacer = pacer(Some(64));
        pacer.shared.lock().rate = Some(100.0);
        let answered_one = pacer.admit().await;
        pacer.observe(answered_one, &answered());
        let first = pacer.admit().await;
        let second = pacer.admit().await;
        pacer.observe(first, &throttled(1));
        pacer.observe(second, &throttled(1));
        // One success over about a second would say 1 a second; the cut is bounded instead.
        let rate = pacer.state().rate().expect("a rate");
        assert!((rate - 100.0 * MAX_CUT).abs() < 1e-9, "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn under_a_rate_admissions_are_spaced() {
        let pacer = pacer(Some(8));
        {
            let mut state = pacer.shared.lock();
            state.rate = Some(10.0);
        }
        let started = Instant::now();
        for _ in 0..5 {
            let admission = pacer.admit().await;
            pacer.observe(admission, &answered());
        }
        assert_eq!(started.elapsed(), Duration::from_millis(400), "five requests at 10 a second");
        assert!(pacer.state().time_slowed() > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_in_flight_one_probe_tells_isolated_from_sustained() {
        // The probe is answered: the refusal was isolated, and the hold ends.
        let isolated = pacer(None);
        let only = isolated.admit().await;
        isolated.observe(only, &throttled(4));
        let probe = admits_within(&isolated, Duration::from_millis(1)).await.expect("one probe goes at once");
        assert!(admits_within(&isolated, Duration::from_millis(100)).await.is_none(), "nothing beside the probe");
        isolated.observe(probe, &answered());
        assert!(admits_within(&isolated, Duration::from_millis(1)).await.is_some());

        // The probe is refused too: throttling is sustained, and everyone waits for the later Retry-After.
        let sustained = pacer(None);
        let only = sustained.admit().await;
        sustained.observe(only, &throttled(4));
        let probe = sustained.admit().await;
        sustained.observe(probe, &throttled(6));
        let started = Instant::now();
        let _next = sustained.admit().await;
        assert_eq!(started.elapsed(), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn a_concurrency_refusal_lowers_the_limit_without_pausing_and_clean_answers_raise_it() {
        let pacer = pacer(Some(8));
        let mut admitted = Vec::new();
        for _ in 0..6 {
            admitted.push(pacer.admit().await);
        }
        let refused = admitted.pop().expect("six admitted");
        let signal = Signal::Throttled {
            limit: Some(ServiceProtectionLimit::ConcurrentRequests),
            retry_after: Some(Duration::from_secs(1)),
        };
        pacer.observe(refused, &Observation::new(signal, Duration::from_millis(5)));
        let state = pacer.state();
        assert_eq!((state.in_flight_limit(), state.limit_source()), (5, LimitSource::ConcurrencyRefusals));
        assert_eq!(state.paused_until(), None);
        for admission in admitted {
            pacer.observe(admission, &answered());
        }
        for _ in 0..40 {
            let admission = pacer.admit().await;
            pacer.observe(admission, &answered());
        }
        let state = pacer.state();
        assert_eq!((state.in_flight_limit(), state.limit_source()), (8, LimitSource::Configured));
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_follows_the_servers_hint_unless_the_caller_fixed_it() {
        let hinted = BudgetHints { recommended_parallelism: Some(20), ..BudgetHints::default() };
        let following = pacer(None);
        assert_eq!(following.state().in_flight_limit(), DEFAULT_IN_FLIGHT);
        let admission = following.admit().await;
        following.observe(admission, &answered().with_hints(hinted));
        assert_eq!(
            (following.state().in_flight_limit(), following.state().limit_source()),
            (20, LimitSource::ServerHint)
        );
        let fixed = pacer(Some(3));
        let admission = fixed.admit().await;
        fixed.observe(admission, &answered().with_hints(hinted));
        assert_eq!(fixed.state().in_flight_limit(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_queues_requests_and_a_dropped_admission_gives_its_slot_back() {
        let pacer = pacer(Some(1));
        let only = pacer.admit().await;
        assert!(admits_within(&pacer, Duration::from_secs(60)).await.is_none(), "one in flight at most");
        drop(only);
        assert!(admits_within(&pacer, Duration::from_millis(1)).await.is_some());
        assert_eq!(pacer.state().in_flight(), 0);
    }
}
