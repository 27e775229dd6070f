//! The state of a sync: the delta link to go on from, saved only when a run has read everything.

use std::path::Path;

use dynamics_webapi::change_tracking::DeltaLink;
use serde::{Deserialize, Serialize};

use crate::args::ExportFormat;
use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};

const VERSION: u32 = 1;

/// What a completed sync run leaves for the next one.
///
/// It is written only after a run has read its last page and its output file is in place, so a state file always
/// describes a complete run: an interrupted run leaves the previous state (or none) and is simply run again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SyncState {
    pub(crate) version: u32,
    pub(crate) entity_set: String,
    /// The columns synced (empty: all).
    pub(crate) select: Vec<String>,
    pub(crate) format: ExportFormat,
    /// `--page-size` of the first run (the delta link carries it on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) page_size: Option<u32>,
    /// The primary id column, named in deletion lines.
    pub(crate) primary_id: String,
    /// The CSV columns, once known, so that every run's file has the same header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) columns: Option<Vec<String>>,
    /// Where the next run starts.
    pub(crate) delta_link: DeltaLink,
    /// How many runs completed, the first included.
    pub(crate) runs: u64,
    /// When the last run completed (RFC 3339, UTC).
    pub(crate) completed_at: String,
    /// What the last run wrote.
    pub(crate) last_run: RunCounts,
}

/// The records a run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunCounts {
    /// Rows new or changed (every row, on the first run).
    pub(crate) upserted: u64,
    /// Rows removed.
    pub(crate) removed: u64,
}

impl SyncState {
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let restart = "pass --restart to sync everything again";
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("the sync state {} cannot be read", path.display()), e))?;
        let state: Self = serde_json::from_str(&text).map_err(|e| {
            Error::usage_with_hint(format!("the sync state {} cannot be read: {e}", path.display()), restart)
        })?;
        if state.version != VERSION {
            return Err(Error::usage_with_hint(
                format!("the sync state {} is of another version ({})", path.display(), state.version),
                restart,
            ));
        }
        Ok(state)
    }

    /// A state for a run that just completed.
    pub(crate) fn first(
        entity_set: &str,
        select: &[String],
        format: ExportFormat,
        page_size: Option<u32>,
        primary_id: &str,
        delta_link: DeltaLink,
    ) -> Self {
        Self {
            version: VERSION,
            entity_set: entity_set.to_owned(),
            select: select.to_vec(),
            format,
            page_size,
            primary_id: primary_id.to_owned(),
            columns: None,
            delta_link,
            runs: 0,
            completed_at: String::new(),
            last_run: RunCounts::default(),
        }
    }

    /// Saves atomically and durably: a temporary file beside it, synced, then renamed over the old one.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::input(format!("the sync state: {e}")))?;
        write_atomically(path, text.as_bytes())
            .map_err(|e| Error::io(format!("the sync state {} cannot be written", path.display()), e))
    }
}
