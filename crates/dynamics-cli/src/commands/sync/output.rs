//! How a sync writes its changes: a row as it was read, a removal as a line a reader tells apart.
//!
//! - NDJSON: an upserted row is its JSON object as the server sent it (with `@odata.etag`); a removed row is
//!   `{"@removed":{"reason":"deleted"},"<primary id>":"<id>"}` (OData's `@removed` marker, reason `deleted` or
//!   `changed`), so every line carries the primary id under the same name.
//! - CSV: the first column is `@removed`: empty for an upserted row, `deleted` (or `changed`) for a removed one,
//!   whose other cells are empty but the primary id's.

use std::io::Write;

use dynamics_webapi::Record;
use dynamics_webapi::change_tracking::{DeletedRecord, RemovedReason};
use serde_json::json;

use crate::args::ExportFormat;
use crate::error::{Error, Result};
use crate::output::printer::{cell, csv_line};

/// The marker column and key of removed rows.
pub(crate) const REMOVED: &str = "@removed";

/// Writes the changes of one run.
#[derive(Debug)]
pub(crate) struct ChangeWriter {
    format: ExportFormat,
    primary_id: String,
    /// CSV: the data columns (after `@removed`), once known.
    columns: Option<Vec<String>>,
    /// True when no row and no `--select` fixed the columns, and `finish` wrote the primary id alone.
    fallback: bool,
    header_written: bool,
    /// CSV rows of removals that came before the columns were known.
    held: Vec<DeletedRecord>,
}

impl ChangeWriter {
    /// `columns`: the CSV columns a previous run fixed, or those of `--select`.
    pub(crate) fn new(format: ExportFormat, primary_id: &str, columns: Option<Vec<String>>) -> Self {
        Self {
            format,
            primary_id: primary_id.to_owned(),
            columns,
            fallback: false,
            header_written: false,
            held: Vec::new(),
        }
    }

    /// The CSV columns, once a row or `--select` fixed them (not the primary id alone of a run without rows,
    /// which would refuse the columns of later rows).
    pub(crate) fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref().filter(|_| !self.fallback)
    }

    pub(crate) fn upserted(&mut self, out: &mut dyn Write, record: &Record) -> Result<()> {
        match self.format {
            ExportFormat::Ndjson => {
                let line = serde_json::to_string(record).map_err(|e| Error::input(format!("a record: {e}")))?;
                writeln!(out, "{line}").map_err(write_error)
            }
            ExportFormat::Csv => {
                let primary_id = self.primary_id.clone();
                let columns = self.columns.get_or_insert_with(|| columns_of(record, &primary_id)).clone();
                if let Some(extra) =
                    record.names().find(|name| !name.contains('@') && !columns.iter().any(|c| c == name))
                {
                    return Err(Error::usage_with_hint(
                        format!("column `{extra}` is not among the CSV columns of this sync ({})", columns.join(",")),
                        "pass --select with every column (and --restart), or use --format ndjson",
                    ));
                }
                self.header(out)?;
                let row: Vec<String> = std::iter::once(String::new())
                    .chain(columns.iter().map(|column| cell(record, column, false)))
                    .collect();
                out.write_all(&csv_line(&row)?).map_err(write_error)
            }
        }
    }

    pub(crate) fn removed(&mut self, out: &mut dyn Write, removed: &DeletedRecord) -> Result<()> {
        match self.format {
            ExportFormat::Ndjson => {
                let mut line = serde_json::Map::new();
                line.insert(REMOVED.to_owned(), json!({ "reason": reason(removed.reason()) }));
                line.insert(self.primary_id.clone(), json!(removed.id()));
                let text = serde_json::to_string(&line).map_err(|e| Error::input(format!("a removal: {e}")))?;
                writeln!(out, "{text}").map_err(write_error)
            }
            ExportFormat::Csv if self.columns.is_none() => {
                self.held.push(removed.clone());
                Ok(())
            }
            ExportFormat::Csv => {
                self.header(out)?;
                self.removal_row(out, removed)
            }
        }
    }

    /// Writes what is held: the header and removals, when no row fixed the columns.
    pub(crate) fn finish(&mut self, out: &mut dyn Write) -> Result<()> {
        if self.format == ExportFormat::Csv {
            if self.columns.is_none() {
                self.columns = Some(vec![self.primary_id.clone()]);
                self.fallback = true;
            }
            self.header(out)?;
        }
        out.flush().map_err(write_error)
    }

    fn header(&mut self, out: &mut dyn Write) -> Result<()> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        let columns = self.columns.clone().unwrap_or_default();
        let header: Vec<String> = std::iter::once(REMOVED.to_owned()).chain(columns).collect();
        out.write_all(&csv_line(&header)?).map_err(write_error)?;
        for removed in std::mem::take(&mut self.held) {
            self.removal_row(out, &removed)?;
        }
        Ok(())
    }

    fn removal_row(&self, out: &mut dyn Write, removed: &DeletedRecord) -> Result<()> {
        let columns = self.columns.as_deref().unwrap_or_default();
        let row: Vec<String> = std::iter::once(reason(removed.reason()).to_owned())
            .chain(columns.iter().map(|c| if *c == self.primary_id { removed.id().to_string() } else { String::new() }))
            .collect();
        out.write_all(&csv_line(&row)?).map_err(write_error)
    }
}

/// The CSV columns from `--select`: the primary id first (Dataverse always returns it), then the others.
pub(crate) fn selected_columns(select: &[String], primary_id: &str) -> Option<Vec<String>> {
    if select.is_empty() {
        return None;
    }
    let mut columns = vec![primary_id.to_owned()];
    columns.extend(select.iter().filter(|c| *c != primary_id).cloned());
    Some(columns)
}

/// The columns of the first row: the primary id first, then its other columns without annotations.
fn columns_of(record: &Record, primary_id: &str) -> Vec<String> {
    let mut columns = vec![primary_id.to_owned()];
    columns.extend(record.names().filter(|name| !name.contains('@') && *name != primary_id).map(str::to_owned));
    columns
}

fn reason(reason: &RemovedReason) -> &str {
    match reason {
        RemovedReason::Changed => "changed",
        RemovedReason::Other(text) => text,
        _ => "deleted",
    }
}

fn write_error(error: std::io::Error) -> Error {
    Error::io("writing the sync output", error)
}
