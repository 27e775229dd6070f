//! `dynamics export`: write an entity set to a file as it pages, and resume after an interruption.

mod state;

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use dynamics_webapi::Record;

use crate::args::{ExportArgs, ExportFormat, Format};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::output::printer::RecordPrinter;
use crate::output::progress::Progress;
use crate::read_options::{first_page, printed_columns};
use crate::settings::connection::Connection;

use self::state::ExportState;

pub(crate) async fn run(connection: &Connection, args: ExportArgs, io: &mut Io) -> Result<()> {
    let first = first_page(&connection.client, &args.entity_set, &args.options)?;
    let Some(path) = args.out.file() else {
        // Standard output cannot be cut back and resumed: every page, streamed, as `query --all` would.
        let format = match args.format {
            ExportFormat::Ndjson => Format::Ndjson,
            ExportFormat::Csv => Format::Csv,
        };
        let printer = RecordPrinter::new(format, &printed_columns(&args.options), false);
        let read = connection.client.resume::<Record>(first);
        return super::print_read(read, true, printer, &args.entity_set, io).await;
    };
    let state_path = ExportState::path_for(path);
    let out = path.display().to_string();
    let resuming = state_path.exists() && !args.restart;
    let (mut state, mut file) = if resuming {
        let state = ExportState::load(&state_path)?;
        if state.first_page != first || state.format != args.format || state.entity_set != args.entity_set {
            return Err(Error::usage_with_hint(
                format!("{} belongs to another export (other entity set, options or format)", state_path.display()),
                "rerun that export to finish it, or pass --restart to start this one over",
            ));
        }
        let file = reopen(path, state.bytes)?;
        io.eprintln(format!("resuming the export to {out} after {} records", state.records));
        (state, file)
    } else {
        let file = File::create(path).map_err(|e| Error::io(format!("{out} cannot be created"), e))?;
        let state = ExportState::new(&args.entity_set, args.format, first);
        state.save(&state_path)?;
        (state, file)
    };
    let mut printer = match (&state.columns, args.format) {
        (Some(columns), ExportFormat::Csv) => {
            RecordPrinter::continuing_csv(columns.clone(), !args.options.select.is_empty())
        }
        (None, ExportFormat::Csv) => RecordPrinter::new(Format::Csv, &printed_columns(&args.options), false),
        (_, ExportFormat::Ndjson) => RecordPrinter::new(Format::Ndjson, &[], false),
    };
    let progress = Progress::records(io, &format!("exporting {}", args.entity_set));
    progress.set(state.records);
    loop {
        let page = match connection.client.resume::<Record>(state.next.clone()).first_page().await {
            Ok(page) => page,
            Err(error) => {
                progress.finish();
                io.eprintln(format!(
                    "export interrupted after {} records; rerun the same command to resume from there",
                    state.records
                ));
                return Err(error.into());
            }
        };
        let mut buffer = Vec::new();
        for record in page.records() {
            printer.write(&mut buffer, record)?;
        }
        file.write_all(&buffer).and_then(|()| file.sync_data()).map_err(|e| Error::io(format!("writing {out}"), e))?;
        state.records += page.records().len() as u64;
        state.bytes += buffer.len() as u64;
        if state.columns.is_none() {
            state.columns = printer.columns().map(<[String]>::to_vec).filter(|_| args.format == ExportFormat::Csv);
        }
        progress.add(page.records().len() as u64);
        match page.next_position() {
            Some(next) => {
                state.next = next.clone();
                state.save(&state_path)?;
            }
            None => break,
        }
    }
    progress.finish();
    std::fs::remove_file(&state_path)
        .map_err(|e| Error::io(format!("the finished export's state {} cannot be removed", state_path.display()), e))?;
    io.eprintln(format!("exported {} records to {out}", state.records));
    Ok(())
}

/// Opens the output again, cut back to the bytes the saved state accounts for.
fn reopen(out: &Path, bytes: u64) -> Result<File> {
    let name = out.display();
    let mut file = OpenOptions::new().write(true).open(out).map_err(|e| {
        Error::io(format!("{name} has a saved export position but cannot be opened; pass --restart to start over"), e)
    })?;
    let length = file.metadata().map_err(|e| Error::io(format!("reading {name}"), e))?.len();
    if length < bytes {
        return Err(Error::usage_with_hint(
            format!("{name} is shorter than its saved export position says ({length} of {bytes} bytes)"),
            "the file was changed since; pass --restart to start the export over",
        ));
    }
    file.set_len(bytes)
        .and_then(|()| file.seek(SeekFrom::End(0)).map(drop))
        .map_err(|e| Error::io(format!("cutting {name} back to its saved position"), e))?;
    Ok(file)
}
