//! `dynamics get`, `create`, `update`, `upsert` and `delete`: one record at a time.

use dynamics_webapi::Record;
use dynamics_webapi::query::{Annotation, Query};

use crate::args::{DeleteArgs, Format, GetArgs, KeyedWriteArgs, WriteArgs};
use crate::body::read_body;
use crate::error::{Error, Result};
use crate::io::Io;
use crate::key::parse_key;
use crate::output::printer::RecordPrinter;
use crate::read_options::check_entity_set;
use crate::settings::connection::Connection;

pub(crate) async fn get(connection: &Connection, args: GetArgs, io: &mut Io) -> Result<()> {
    check_entity_set(&args.entity_set)?;
    let key = parse_key(&args.key)?;
    let mut query = Query::untyped(args.entity_set.clone());
    let select: Vec<String> = args.select.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
    if !select.is_empty() {
        query = query.select(select);
    }
    if args.formatted {
        query = query.annotations([Annotation::FormattedValue]);
    }
    let record: Record = connection.client.entity_set(args.entity_set).retrieve(key).query(&query).send().await?;
    print_one(&record, args.format, &args.select, args.formatted, io)
}

fn print_one(record: &Record, format: Format, select: &[String], formatted: bool, io: &mut Io) -> Result<()> {
    if format == Format::Json {
        let text = serde_json::to_string_pretty(record).map_err(|e| Error::input(format!("the record: {e}")))?;
        io.println(text);
        return Ok(());
    }
    let mut printer = RecordPrinter::new(format, select, formatted);
    printer.write(io.stdout(), record)?;
    printer.finish(io.stdout())
}

pub(crate) async fn create(connection: &Connection, args: WriteArgs, io: &mut Io) -> Result<()> {
    check_entity_set(&args.entity_set)?;
    let body = read_body(args.file.as_deref(), io)?;
    let set = connection.client.entity_set(args.entity_set.clone());
    if args.returning {
        let record: Record = set.create(&body).send_returning().await?;
        return print_one(&record, Format::Json, &[], false, io);
    }
    let id = set.create(&body).send().await?;
    io.println(id);
    io.eprintln(format!("created {}({id})", args.entity_set));
    Ok(())
}

pub(crate) async fn update(connection: &Connection, args: KeyedWriteArgs, upsert: bool, io: &mut Io) -> Result<()> {
    check_entity_set(&args.entity_set)?;
    let key = parse_key(&args.key)?;
    let body = read_body(args.file.as_deref(), io)?;
    let set = connection.client.entity_set(args.entity_set.clone());
    let mut request = if upsert { set.upsert(key.clone(), &body) } else { set.update(key.clone(), &body) };
    if let Some(etag) = &args.if_match {
        request = request.if_match(etag.clone());
    }
    if args.returning {
        let record: Record = request.send_returning().await?;
        return print_one(&record, Format::Json, &[], false, io);
    }
    let id = request.send().await?;
    let verb = if upsert { "upserted" } else { "updated" };
    match id {
        Some(id) => {
            io.println(id);
            io.eprintln(format!("{verb} {}({id})", args.entity_set));
        }
        None => io.eprintln(format!("{verb} {}{}", args.entity_set, key)),
    }
    Ok(())
}

pub(crate) async fn delete(connection: &Connection, args: DeleteArgs, io: &mut Io) -> Result<()> {
    check_entity_set(&args.entity_set)?;
    let key = parse_key(&args.key)?;
    let mut request = connection.client.entity_set(args.entity_set.clone()).delete(key.clone());
    if let Some(etag) = &args.if_match {
        request = request.if_match(etag.clone());
    }
    request.send().await?;
    io.eprintln(format!("deleted {}{}", args.entity_set, key));
    Ok(())
}
