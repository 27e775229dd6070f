//! The saved position of an export, kept beside its output file so that a rerun resumes.

use std::path::{Path, PathBuf};

use dynamics_webapi::PagePosition;
use serde::{Deserialize, Serialize};

use crate::args::ExportFormat;
use crate::error::{Error, Result};

const VERSION: u32 = 1;

/// What an export has written and where it goes on.
///
/// The output file is written and synced before the state is saved, so the file is never shorter than `bytes`;
/// a resumed export cuts the file back to `bytes` (dropping a page written after the last save) and goes on
/// from `next`: no record is written twice and none is skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExportState {
    pub(crate) version: u32,
    pub(crate) entity_set: String,
    pub(crate) format: ExportFormat,
    /// The read's first page: it identifies the query (set, options, org).
    pub(crate) first_page: PagePosition,
    /// The CSV columns, once the header is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) columns: Option<Vec<String>>,
    /// Where the next page starts.
    pub(crate) next: PagePosition,
    /// Records written so far.
    pub(crate) records: u64,
    /// Bytes of the output file that hold them.
    pub(crate) bytes: u64,
}

impl ExportState {
    pub(crate) fn new(entity_set: &str, format: ExportFormat, first_page: PagePosition) -> Self {
        Self {
            version: VERSION,
            entity_set: entity_set.to_owned(),
            format,
            next: first_page.clone(),
            first_page,
            columns: None,
            records: 0,
            bytes: 0,
        }
    }

    /// The state file of an output file: `<out>.export-state.json`.
    pub(crate) fn path_for(out: &Path) -> PathBuf {
        let mut name = out.as_os_str().to_owned();
        name.push(".export-state.json");
        PathBuf::from(name)
    }

    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("the export state {} cannot be read", path.display()), e))?;
        let state: Self = serde_json::from_str(&text).map_err(|e| {
            Error::usage_with_hint(
                format!("the export state {} cannot be read: {e}", path.display()),
                "pass --restart to start the export over",
            )
        })?;
        if state.version != VERSION {
            return Err(Error::usage_with_hint(
                format!("the export state {} is of another version", path.display()),
                "pass --restart to start the export over",
            ));
        }
        Ok(state)
    }

    /// Saves atomically: a temporary file renamed over the old one.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::input(format!("the export state: {e}")))?;
        crate::atomic_file::write_atomically(path, text.as_bytes())
            .map_err(|e| Error::io(format!("the export state {} cannot be written", path.display()), e))
    }
}
