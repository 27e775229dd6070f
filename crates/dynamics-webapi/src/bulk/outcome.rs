//! What a bulk write reports: an outcome for every input record, and progress on the way.

use std::time::Duration;

use uuid::Uuid;

use crate::error::Error;

/// What happened to one input record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RecordOutcome {
    /// Written. `id` is the record's id when known (creates answer it; keyed writes by id know it;
    /// upserts by alternate key do not get one back).
    Written {
        /// The record's id, when known.
        id: Option<Uuid>,
    },
    /// Not written, or not known to be written.
    Failed(RecordFailure),
}

impl RecordOutcome {
    /// True for [`RecordOutcome::Written`].
    pub fn is_written(&self) -> bool {
        matches!(self, Self::Written { .. })
    }
}

/// A record that was not written: its index in the input, and why.
#[derive(Debug, Clone)]
pub struct RecordFailure {
    pub(crate) index: usize,
    pub(crate) error: Error,
    pub(crate) outcome_unknown: bool,
}

impl RecordFailure {
    /// The record's position in the input (from 0).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Why it failed: Dataverse's error for the record, or what stopped its request.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// True when its request got no answer, so the record may have been written after all
    /// (it was not sent again, so it was not written twice). Upserts can simply be sent again.
    pub fn is_outcome_unknown(&self) -> bool {
        self.outcome_unknown
    }
}

/// The result of a bulk write: one [`RecordOutcome`] per input record, in input order.
#[derive(Debug, Clone)]
pub struct BulkReport {
    pub(crate) outcomes: Vec<RecordOutcome>,
    pub(crate) requests: usize,
    pub(crate) elapsed: Duration,
}

impl BulkReport {
    /// Every record's outcome, by input index.
    pub fn outcomes(&self) -> &[RecordOutcome] {
        &self.outcomes
    }

    /// The outcome of the record at `index`.
    pub fn outcome(&self, index: usize) -> Option<&RecordOutcome> {
        self.outcomes.get(index)
    }

    /// How many records went in.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// True when no record went in.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// How many records were written.
    pub fn written(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_written()).count()
    }

    /// The records that were not written, in input order.
    pub fn failures(&self) -> impl Iterator<Item = &RecordFailure> {
        self.outcomes.iter().filter_map(|outcome| match outcome {
            RecordOutcome::Failed(failure) => Some(failure),
            RecordOutcome::Written { .. } => None,
        })
    }

    /// True when every record was written.
    pub fn is_complete(&self) -> bool {
        self.outcomes.iter().all(RecordOutcome::is_written)
    }

    /// The ids of the written records, in input order (`None` for failures and for records without a known id).
    pub fn ids(&self) -> impl Iterator<Item = Option<Uuid>> + '_ {
        self.outcomes.iter().map(|outcome| match outcome {
            RecordOutcome::Written { id } => *id,
            RecordOutcome::Failed(_) => None,
        })
    }

    /// How many requests were sent (chunks, their splits and single-record fallbacks; not counting retries).
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// How long the write took, by the client's clock.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// Progress of a bulk write, passed to [`on_progress`](crate::bulk::BulkWrite::on_progress) after each request.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    pub(crate) written: usize,
    pub(crate) failed: usize,
    pub(crate) elapsed: Duration,
    pub(crate) chunk_size: usize,
}

impl Progress {
    /// Records finished (written or failed).
    pub fn done(&self) -> usize {
        self.written + self.failed
    }

    /// Records written.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Records that failed.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Time since the write started, by the client's clock.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Records finished per second so far (0 before any time has passed).
    pub fn records_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 { self.done() as f64 / seconds } else { 0.0 }
    }

    /// The size the next chunk will have.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }
}
