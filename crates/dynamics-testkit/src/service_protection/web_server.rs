//! One web server's sliding window, throttle and in-flight count.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::budget::{Budget, Pick};
use super::counters::{ServerCounters, ThrottleWindow};
use super::{BudgetHeaders, Refusal};
use crate::faults::ThrottleKind;

/// What one web server decided before the request reached the whole model.
#[derive(Debug)]
pub(crate) enum Decision {
    Serve { cost: Duration, headers: Option<BudgetHeaders> },
    Refuse(Refusal),
}

#[derive(Debug)]
pub(crate) struct WebServer {
    index: usize,
    budget: Budget,
    /// Admitted requests still inside the window: arrival and cost, oldest first.
    admitted: VecDeque<(Instant, Duration)>,
    execution: Duration,
    in_flight: usize,
    throttle: Option<Throttle>,
    counted: u64,
    rng: fastrand::Rng,
    pub(crate) counters: ServerCounters,
}

#[derive(Debug, Clone, Copy)]
struct Throttle {
    until: Instant,
    kind: ThrottleKind,
}

impl WebServer {
    pub(crate) fn new(index: usize, budget: Budget) -> Self {
        let seed = match budget.isolated.as_ref().map(|isolated| isolated.pick) {
            Some(Pick::Rate { seed, .. }) => seed.wrapping_add(index as u64),
            _ => index as u64,
        };
        Self {
            index,
            budget,
            admitted: VecDeque::new(),
            execution: Duration::ZERO,
            in_flight: 0,
            throttle: None,
            counted: 0,
            rng: fastrand::Rng::with_seed(seed),
            counters: ServerCounters::default(),
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub(crate) fn admit(&mut self, now: Instant, records: usize) -> Decision {
        self.expire(now);
        if let Some(throttle) = self.throttle.as_mut().filter(|throttle| throttle.until > now) {
            throttle.until = if self.budget.penalty_from_arrival {
                throttle.until.max(now + self.budget.penalty)
            } else {
                throttle.until + self.budget.penalty
            };
            let (until, kind) = (throttle.until, throttle.kind);
            self.counters.refused_while_throttled += 1;
            if let Some(window) = self.counters.throttles.last_mut() {
                window.last_refusal = now;
                window.ends = until;
                window.refusals += 1;
            }
            return Decision::Refuse(Refusal::new(kind, until - now, self.index));
        }
        self.throttle = None;
        if self.budget.max_concurrent.is_some_and(|max| self.in_flight >= max) {
            self.counters.refused_concurrency += 1;
            let retry_after = self.budget.concurrency_retry_after;
            return Decision::Refuse(Refusal::new(ThrottleKind::ConcurrentRequests, retry_after, self.index));
        }
        let cost = self.budget.cost(records);
        if let Some(retry_after) = self.requests_exceeded(now) {
            self.counters.refused_request_count += 1;
            return self.start_throttle(now, ThrottleKind::RequestCount, retry_after);
        }
        if let Some(retry_after) = self.execution_exceeded(now, cost) {
            self.counters.refused_execution_time += 1;
            return self.start_throttle(now, ThrottleKind::ExecutionTime, retry_after);
        }
        if let Some(isolated) = &self.budget.isolated {
            self.counted += 1;
            let refused = match isolated.pick {
                Pick::Every(n) => self.counted.is_multiple_of(n),
                Pick::Rate { rate, .. } => self.rng.f64() < rate,
            };
            if refused {
                self.counters.refused_isolated += 1;
                return Decision::Refuse(Refusal::new(isolated.kind, isolated.retry_after, self.index));
            }
        }
        self.admitted.push_back((now, cost));
        self.execution += cost;
        self.in_flight += 1;
        self.counters.served += 1;
        self.counters.max_concurrency = self.counters.max_concurrency.max(self.in_flight);
        let headers = self.budget.headers.then(|| BudgetHeaders {
            burst_remaining: self.budget.max_requests.map(|max| max.saturating_sub(self.admitted.len())),
            time_remaining: self.budget.max_execution.map(|max| max.saturating_sub(self.execution)),
        });
        Decision::Serve { cost, headers }
    }

    pub(crate) fn finish(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Drops what has left the sliding window.
    fn expire(&mut self, now: Instant) {
        while let Some(&(arrived, cost)) = self.admitted.front() {
            if arrived + self.budget.window > now {
                break;
            }
            self.admitted.pop_front();
            self.execution = self.execution.saturating_sub(cost);
        }
    }

    /// When the window is full: how long until its oldest request leaves it.
    fn requests_exceeded(&self, now: Instant) -> Option<Duration> {
        let max = self.budget.max_requests?;
        if self.admitted.len() < max {
            return None;
        }
        let leaving = self.admitted.get(self.admitted.len() - max).map_or(now, |(arrived, _)| *arrived);
        Some((leaving + self.budget.window).saturating_duration_since(now))
    }

    /// When `cost` more would exceed the execution time: how long until enough has left the window.
    fn execution_exceeded(&self, now: Instant, cost: Duration) -> Option<Duration> {
        let max = self.budget.max_execution?;
        if self.execution + cost <= max {
            return None;
        }
        let mut remaining = self.execution;
        for (arrived, spent) in &self.admitted {
            remaining = remaining.saturating_sub(*spent);
            if remaining + cost <= max {
                return Some((*arrived + self.budget.window).saturating_duration_since(now));
            }
        }
        // Even an empty window cannot take this request: answer with a whole window.
        Some(self.budget.window)
    }

    fn start_throttle(&mut self, now: Instant, kind: ThrottleKind, retry_after: Duration) -> Decision {
        let until = now + retry_after;
        self.throttle = Some(Throttle { until, kind });
        self.counters.throttles.push(ThrottleWindow {
            server: self.index,
            kind,
            first_refusal: now,
            last_refusal: now,
            ends: until,
            refusals: 1,
        });
        Decision::Refuse(Refusal::new(kind, retry_after, self.index))
    }
}
