//! `dynamics sync`: an entity set to a file with change tracking. The first run writes every row and saves the
//! delta link in the state file; each later run writes only what changed since (rows upserted, rows removed)
//! and saves the next link.
//!
//! A run writes `<out>.partial`, syncs it, renames it over `<out>`, and only then saves the state (atomically,
//! through a renamed temporary file). So a state file always describes a completed run: an interrupted run
//! leaves the previous state (or, on a first run, none) and the previous output, and rerunning it reads the
//! same changes again (and any newer ones). Changes are idempotent to apply, so a rerun never loses one.

mod output;
mod state;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::pin::pin;

use dynamics_webapi::Record;
use dynamics_webapi::change_tracking::{Change, SyncEvent};
use dynamics_webapi::query::Query;
use futures_util::TryStreamExt as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::args::{Destination, ExportFormat, SyncArgs};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::output::progress::Progress;
use crate::read_options::check_entity_set;
use crate::settings::connection::Connection;
use crate::table_names::TableNames;

use self::output::{ChangeWriter, selected_columns};
use self::state::{RunCounts, SyncState};
use crate::atomic_file::temporary_beside;

/// What a completed run did.
#[derive(Debug, Clone)]
pub(crate) struct SyncSummary {
    /// True for a first run (every row), false for an incremental one (the changes).
    pub(crate) first: bool,
    pub(crate) counts: RunCounts,
    /// When the previous run completed, for an incremental run.
    pub(crate) since: Option<String>,
    pub(crate) out: Destination,
    pub(crate) state: PathBuf,
}

impl SyncSummary {
    pub(crate) fn line(&self, entity_set: &str) -> String {
        let out = &self.out;
        let state = self.state.display();
        if self.first {
            format!(
                "synced {entity_set} (first run): {} records to {out}; the delta link is saved in {state}",
                self.counts.upserted
            )
        } else {
            format!(
                "synced {entity_set}: {} upserted, {} removed since {} to {out}; state saved in {state}",
                self.counts.upserted,
                self.counts.removed,
                self.since.as_deref().unwrap_or("the last run")
            )
        }
    }
}

pub(crate) async fn run(connection: &Connection, args: SyncArgs, io: &mut Io) -> Result<()> {
    let progress = Progress::records(io, &format!("syncing {}", args.entity_set));
    let mut seen = 0_u64;
    let outcome = sync(connection, &args, io.stdout(), |n| {
        seen += n;
        progress.add(n);
    })
    .await;
    progress.finish();
    match outcome {
        Ok(summary) => {
            io.eprintln(summary.line(&args.entity_set));
            Ok(())
        }
        Err(error) => {
            // A refusal (4xx) before anything was read is not an interruption: the error says it all.
            let refused =
                matches!(&error, Error::Api(e) if e.status().is_some_and(|s| (400..500).contains(&s) && s != 429));
            if matches!(error, Error::Api(_)) && !(refused && seen == 0) {
                let saved = if args.state.exists() && !args.restart {
                    "the saved state is unchanged: rerun the same command to read these changes again"
                } else {
                    "no state was saved: rerun the same command to start again"
                };
                io.eprintln(format!("sync interrupted after {seen} changes; {saved}"));
            }
            Err(error)
        }
    }
}

/// Runs one sync, writing to `stdout` when `--out -`; `on_change` is told of each change written.
pub(crate) async fn sync(
    connection: &Connection,
    args: &SyncArgs,
    stdout: &mut dyn Write,
    mut on_change: impl FnMut(u64),
) -> Result<SyncSummary> {
    check_entity_set(&args.entity_set)?;
    if args.out.file() == Some(args.state.as_path()) {
        return Err(Error::usage("--out and --state must be two files"));
    }
    let select: Vec<String> =
        args.select.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect::<Vec<_>>();
    let previous = if args.state.exists() && !args.restart { Some(SyncState::load(&args.state)?) } else { None };
    if let Some(state) = &previous {
        check_same_sync(state, args, &select)?;
    }
    let primary_id = match &previous {
        Some(state) => state.primary_id.clone(),
        None => TableNames::resolve(&args.entity_set, None, args.primary_id.as_deref())?.primary_id,
    };
    let events = match &previous {
        Some(state) => connection.client.changes_since::<Record>(state.delta_link.clone()),
        None => {
            let mut query = Query::untyped(args.entity_set.clone());
            if !select.is_empty() {
                query = query.select(select.clone());
            }
            if let Some(size) = args.page_size {
                query = query.max_page_size(size);
            }
            connection.client.track_changes::<Record, _>(&query)
        }
    };
    let columns = match &previous {
        Some(state) => state.columns.clone(),
        None => selected_columns(&select, &primary_id),
    };
    let mut writer = ChangeWriter::new(args.format, &primary_id, columns);

    let mut sink = Sink::open(&args.out, stdout)?;
    let mut counts = RunCounts::default();
    let mut link = None;
    let mut events = pin!(events.events());
    let read = async {
        while let Some(event) = events.try_next().await? {
            match event {
                SyncEvent::Change(Change::Upserted(record)) => {
                    writer.upserted(sink.writer(), &record)?;
                    counts.upserted += 1;
                    on_change(1);
                }
                SyncEvent::Change(Change::Deleted(removed)) => {
                    writer.removed(sink.writer(), &removed)?;
                    counts.removed += 1;
                    on_change(1);
                }
                SyncEvent::Completed(next) => link = Some(next),
                _ => {}
            }
        }
        writer.finish(sink.writer())?;
        Ok::<_, Error>(())
    };
    if let Err(error) = read.await {
        sink.discard();
        return Err(if previous.is_some() { explain_refused_link(error) } else { error });
    }
    let Some(link) = link else {
        sink.discard();
        return Err(Error::input("the sync ended without a delta link"));
    };
    sink.complete()?;

    let since = previous.as_ref().map(|state| state.completed_at.clone());
    let first = previous.is_none();
    let mut state = previous.unwrap_or_else(|| {
        SyncState::first(&args.entity_set, &select, args.format, args.page_size, &primary_id, link.clone())
    });
    state.delta_link = link;
    if args.format == ExportFormat::Csv {
        state.columns = writer.columns().map(<[String]>::to_vec);
    }
    state.runs += 1;
    state.completed_at = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    state.last_run = counts;
    state.save(&args.state)?;
    Ok(SyncSummary { first, counts, since, out: args.out.clone(), state: args.state.clone() })
}

/// A saved delta link the org refuses (400, 404 or 410 with no hint of its own) has most likely expired:
/// Dataverse keeps changes for `ExpireChangeTrackingInDays` (7 by default).
fn explain_refused_link(error: Error) -> Error {
    match &error {
        Error::Api(api) if api.hint().is_none() && matches!(api.status(), Some(400 | 404 | 410)) => {
            Error::usage_with_hint(
                format!("the saved delta link was refused: {}", error.line()),
                "a delta link expires when the org no longer keeps the changes since it (7 days by default, \
                 ExpireChangeTrackingInDays): pass --restart to sync everything again",
            )
        }
        _ => error,
    }
}

/// Refuses a state saved by a sync of another set, columns or format.
fn check_same_sync(state: &SyncState, args: &SyncArgs, select: &[String]) -> Result<()> {
    let primary_id_differs = args.primary_id.as_deref().is_some_and(|column| column != state.primary_id);
    let page_size_differs = args.page_size.is_some() && args.page_size != state.page_size;
    if state.entity_set != args.entity_set
        || state.select != select
        || state.format != args.format
        || primary_id_differs
        || page_size_differs
    {
        let columns = if state.select.is_empty() { "all columns".to_owned() } else { state.select.join(",") };
        return Err(Error::usage_with_hint(
            format!(
                "{} belongs to another sync ({}, {columns}, {}, page size {}, primary id {})",
                args.state.display(),
                state.entity_set,
                if state.format == ExportFormat::Csv { "csv" } else { "ndjson" },
                state.page_size.map_or_else(|| "default".to_owned(), |size| size.to_string()),
                state.primary_id
            ),
            "rerun that sync with its own options, use another --state file, or pass --restart to start this one over",
        ));
    }
    Ok(())
}

/// Where a run's changes go: `<out>.partial`, renamed over `<out>` once complete, or standard output.
enum Sink<'a> {
    File { partial: PathBuf, out: PathBuf, file: BufWriter<File> },
    Stdout(BufWriter<&'a mut dyn Write>),
}

impl<'a> Sink<'a> {
    fn open(out: &Destination, stdout: &'a mut dyn Write) -> Result<Self> {
        let Some(out) = out.file() else {
            return Ok(Self::Stdout(BufWriter::new(stdout)));
        };
        let partial = temporary_beside(out, ".partial");
        let file =
            File::create(&partial).map_err(|e| Error::io(format!("{} cannot be created", partial.display()), e))?;
        Ok(Self::File { partial, out: out.to_owned(), file: BufWriter::new(file) })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::File { file, .. } => file,
            Self::Stdout(stdout) => stdout,
        }
    }

    /// Removes the partial file of a failed run (what went to stdout is gone already).
    fn discard(self) {
        if let Self::File { partial, file, .. } = self {
            drop(file);
            let _ = std::fs::remove_file(&partial);
        }
    }

    /// Syncs the partial file and renames it over the output, or flushes stdout.
    fn complete(self) -> Result<()> {
        match self {
            Self::Stdout(mut stdout) => stdout.flush().map_err(|e| Error::io("writing to standard output", e)),
            Self::File { partial, out, file } => {
                let name = partial.display().to_string();
                let file = file.into_inner().map_err(|e| Error::io(format!("writing {name}"), e.into_error()))?;
                let synced = file.sync_all().map_err(|e| Error::io(format!("writing {name}"), e));
                if let Err(error) = synced {
                    drop(file);
                    let _ = std::fs::remove_file(&partial);
                    return Err(error);
                }
                std::fs::rename(&partial, &out)
                    .map_err(|e| Error::io(format!("{name} cannot be renamed to {}", out.display()), e))
            }
        }
    }
}
