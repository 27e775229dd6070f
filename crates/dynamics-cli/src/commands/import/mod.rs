//! `dynamics import`: records from a file through the bulk API (`CreateMultiple`, `UpdateMultiple`,
//! `UpsertMultiple`), in chunks whose size adapts, with a progress bar, a summary, and each failed record named
//! by its line (NDJSON) or index (JSON array) with the reason.

mod input;

use std::path::Path;

use dynamics_webapi::bulk::{BulkReport, Progress as BulkProgress};

use crate::args::{ImportArgs, ImportMode};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::output::progress::Progress;
use crate::read_options::check_entity_set;
use crate::settings::connection::Connection;
use crate::table_names::TableNames;

pub(crate) use self::input::{InputRecord, Origin, parse};

/// An import's outcome: the bulk report, and where each record came from.
#[derive(Debug)]
pub(crate) struct Imported {
    pub(crate) report: BulkReport,
    pub(crate) origins: Vec<Origin>,
    pub(crate) action: &'static str,
}

impl Imported {
    /// The records not written: where each was in the input, and why.
    pub(crate) fn failure_lines(&self) -> Vec<String> {
        self.report
            .failures()
            .map(|failure| {
                let origin = self.origins.get(failure.index()).copied().unwrap_or(Origin::Index(failure.index()));
                let unknown = if failure.is_outcome_unknown() {
                    " (no answer: it may have been written; it was not sent again)"
                } else {
                    ""
                };
                format!("{origin}: {}{unknown}", crate::error::Error::Api(failure.error().clone()).line())
            })
            .collect()
    }

    /// `written, failed` on one line.
    pub(crate) fn summary(&self, entity_set: &str) -> String {
        let failed = self.report.len() - self.report.written();
        format!(
            "imported into {entity_set}: {} written, {failed} failed, of {} records ({} in {} requests, {:.1} s)",
            self.report.written(),
            self.report.len(),
            self.action,
            self.report.requests(),
            self.report.elapsed().as_secs_f64()
        )
    }
}

pub(crate) async fn run(connection: &Connection, args: ImportArgs, io: &mut Io) -> Result<()> {
    check_entity_set(&args.entity_set)?;
    let (bytes, source) = if args.file == Path::new("-") {
        (io.read_stdin("the records")?, "standard input".to_owned())
    } else {
        let bytes = std::fs::read(&args.file)
            .map_err(|e| Error::io(format!("the records file {} cannot be read", args.file.display()), e))?;
        (bytes, args.file.display().to_string())
    };
    let records = parse(&bytes, &source)?;
    let progress = Progress::counted(io, &format!("importing into {}", args.entity_set), records.len() as u64);
    let bar = progress.clone();
    let outcome = import(connection, &args, records, move |p| bar.set(p.done() as u64)).await;
    progress.finish();
    let imported = outcome?;
    for line in imported.failure_lines() {
        io.eprintln(line);
    }
    io.eprintln(imported.summary(&args.entity_set));
    let failed = imported.report.len() - imported.report.written();
    if failed > 0 {
        return Err(Error::Partial {
            what: format!(
                "{failed} of {} records were not written (each is listed above with its {} and the reason)",
                imported.report.len(),
                if matches!(imported.origins.first(), Some(Origin::Index(_))) { "index" } else { "line" }
            ),
            hint: "fix those records and import them alone; the others were written once and need no resending"
                .to_owned(),
        });
    }
    Ok(())
}

/// Writes `records` with the bulk API as `args` says; `on_progress` is called after each request.
pub(crate) async fn import(
    connection: &Connection,
    args: &ImportArgs,
    records: Vec<InputRecord>,
    on_progress: impl Fn(&BulkProgress) + Send + Sync + 'static,
) -> Result<Imported> {
    check_entity_set(&args.entity_set)?;
    let names = TableNames::resolve(&args.entity_set, args.logical_name.as_deref(), args.primary_id.as_deref())?;
    let key_columns: Vec<String> =
        args.key.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect::<Vec<_>>();
    if args.mode == ImportMode::Create && !key_columns.is_empty() {
        return Err(Error::usage_with_hint(
            "--key addresses existing records: it applies to --mode update and --mode upsert",
            "drop --key to create the records, or pass --mode upsert",
        ));
    }
    let table = connection
        .client
        .bulk_untyped(args.entity_set.clone(), names.logical_name.clone())
        .primary_id(names.primary_id.clone());
    let origins: Vec<Origin> = records.iter().map(|record| record.origin).collect();
    let write = match args.mode {
        ImportMode::Create => table.create(records.into_iter().map(|record| record.exact)),
        ImportMode::Update | ImportMode::Upsert => {
            let mut keyed = Vec::with_capacity(records.len());
            for record in records {
                let key = input::key_of(&record, &key_columns, &names.primary_id)?;
                keyed.push((key, record.exact));
            }
            if args.mode == ImportMode::Update { table.update(keyed) } else { table.upsert(keyed) }
        }
    };
    let action = write.operation().action();
    let mut write = write.on_progress(on_progress);
    if let Some(size) = args.max_chunk_size {
        write = write.max_chunk_size(size).initial_chunk_size(size.min(100));
    }
    let report = write.send().await?;
    Ok(Imported { report, origins, action })
}
