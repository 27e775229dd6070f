//! The adaptive chunk size: grows while requests finish well inside the time budget, shrinks on
//! slow requests and on payload-size or execution-time errors.

use std::time::Duration;

/// How many records the next chunk takes.
///
/// Without a size error it doubles while full chunks finish within a quarter of the time budget. After a size
/// error it halves (but not below the largest size known to work), and growth then only closes half the gap to
/// the smallest size known to fail, stopping within a tenth of it: a binary search for the server's limit.
/// While the size is still moving ([`is_growing`](Self::is_growing)) the writer sends one chunk at a time, so a
/// probe that is too large costs one request, not one per chunk in flight.
#[derive(Debug, Clone)]
pub(crate) struct AdaptiveChunkSize {
    current: usize,
    max: usize,
    budget: Duration,
    largest_good: usize,
    smallest_bad: Option<usize>,
    growing: bool,
}

impl AdaptiveChunkSize {
    pub(crate) fn new(initial: usize, max: usize, budget: Duration) -> Self {
        let max = max.max(1);
        let current = initial.clamp(1, max);
        Self { current, max, budget, largest_good: 0, smallest_bad: None, growing: current < max }
    }

    /// True while the size is still being searched for (it grew on the last answer, or shrank on a size error).
    pub(crate) fn is_growing(&self) -> bool {
        self.growing
    }

    /// The size of the next chunk.
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// A chunk of `records` finished in `elapsed`.
    ///
    /// Only a chunk at least as large as the current size may grow it: a late answer for a chunk cut at an
    /// older, smaller size says nothing about the new one.
    pub(crate) fn succeeded(&mut self, records: usize, elapsed: Duration) {
        self.largest_good = self.largest_good.max(records);
        if elapsed > self.budget {
            self.current = (self.current / 2).max(1);
            self.growing = false;
        } else if elapsed > self.budget.mul_f64(0.75) {
            self.current = (self.current * 3 / 4).max(1);
            self.growing = false;
        } else if elapsed <= self.budget / 4 && records >= self.current {
            let grown = match self.smallest_bad {
                None => self.current.saturating_mul(2),
                Some(bad) => {
                    let gap = bad.saturating_sub(self.current);
                    if gap <= (self.current / 10).max(1) { self.current } else { self.current + gap / 2 }
                }
            };
            let grown = grown.min(self.max).max(1);
            self.growing = grown > self.current;
            self.current = grown;
        } else if records >= self.current {
            // Slow, or near the budget: the size is where it should be.
            self.growing = false;
        }
    }

    /// A chunk of `records` was too large or too slow for the server.
    pub(crate) fn too_large(&mut self, records: usize) {
        self.smallest_bad = Some(self.smallest_bad.map_or(records, |bad| bad.min(records)));
        if self.largest_good >= records {
            // Records differ in size: what worked before says little now.
            self.largest_good = 0;
        }
        let fallback = (records / 2).max(self.largest_good.min(records.saturating_sub(1))).max(1);
        self.current = self.current.min(fallback).max(1);
        self.growing = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_secs(20);

    #[test]
    fn grows_while_full_chunks_finish_well_inside_the_budget() {
        let mut size = AdaptiveChunkSize::new(100, 1000, BUDGET);
        size.succeeded(100, Duration::from_secs(1));
        assert_eq!(size.current(), 200);
        size.succeeded(150, Duration::from_secs(1));
        assert_eq!(size.current(), 200, "a chunk smaller than the current size does not grow it");
        size.succeeded(200, Duration::from_secs(1));
        size.succeeded(400, Duration::from_secs(1));
        assert!(size.is_growing());
        size.succeeded(800, Duration::from_secs(1));
        assert_eq!(size.current(), 1000, "capped at the maximum");
        size.succeeded(1000, Duration::from_secs(1));
        assert!(!size.is_growing(), "settled at the maximum");
        assert!(!AdaptiveChunkSize::new(500, 500, BUDGET).is_growing());
    }

    #[test]
    fn shrinks_near_or_over_the_budget_and_on_size_errors() {
        let mut size = AdaptiveChunkSize::new(800, 1000, BUDGET);
        size.succeeded(800, Duration::from_secs(10));
        assert_eq!(size.current(), 800, "inside the budget but not well inside: unchanged");
        size.succeeded(800, Duration::from_secs(16));
        assert_eq!(size.current(), 600);
        size.succeeded(600, Duration::from_secs(25));
        assert_eq!(size.current(), 300);
        size.too_large(300);
        assert_eq!(size.current(), 150);
        size.succeeded(150, Duration::from_secs(1));
        assert_eq!(size.current(), 225, "after a size error, growth closes half the gap to the size that failed");
        for _ in 0..10 {
            let current = size.current();
            size.succeeded(current, Duration::from_secs(1));
        }
        assert!((270..300).contains(&size.current()), "settles just below the failing size: {}", size.current());
        size.too_large(280);
        assert_eq!(size.current(), 140, "a size that worked before failed: the records grew, start again from half");
        size.too_large(1);
        assert_eq!(size.current(), 1, "never below one record");
        assert_eq!(AdaptiveChunkSize::new(0, 10, BUDGET).current(), 1);
        assert_eq!(AdaptiveChunkSize::new(50, 10, BUDGET).current(), 10);
    }
}
