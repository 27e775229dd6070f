//! `dynamics query`: read an entity set, one page or all of them.

use std::pin::pin;

use dynamics_webapi::{PagedRead, Record};
use futures_util::TryStreamExt as _;

use crate::args::QueryArgs;
use crate::error::Result;
use crate::io::Io;
use crate::output::printer::RecordPrinter;
use crate::output::progress::Progress;
use crate::read_options::{first_page, printed_columns};
use crate::settings::connection::Connection;

pub(crate) async fn run(connection: &Connection, args: QueryArgs, io: &mut Io) -> Result<()> {
    let position = first_page(&connection.client, &args.entity_set, &args.options)?;
    let read = connection.client.resume::<Record>(position);
    let printer = RecordPrinter::new(args.format, &printed_columns(&args.options), args.options.formatted);
    print_read(read, args.all, printer, &args.entity_set, io).await
}

/// Prints a read's first page, or every page with `all` (with a progress bar on a terminal).
pub(crate) async fn print_read(
    read: PagedRead<Record>,
    all: bool,
    mut printer: RecordPrinter,
    label: &str,
    io: &mut Io,
) -> Result<()> {
    let progress = Progress::records(io, &format!("reading {label}"));
    let mut pages = pin!(read.pages());
    let mut more = false;
    while let Some(page) = pages.try_next().await.inspect_err(|_| progress.finish())? {
        printer.columns_from(page.records());
        for record in page.records() {
            printer.write(io.stdout(), record)?;
        }
        progress.add(page.records().len() as u64);
        more = page.next_position().is_some();
        if !all {
            break;
        }
    }
    progress.finish();
    printer.finish(io.stdout())?;
    if more {
        io.eprintln(format!("{} records (the first page; pass --all for every page)", printer.written()));
    }
    Ok(())
}
