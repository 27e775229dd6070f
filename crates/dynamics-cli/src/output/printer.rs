//! Printing records as a table, JSON, NDJSON or CSV. NDJSON and CSV stream; the table and JSON wait for the end.

use std::io::Write;

use dynamics_webapi::Record;

use crate::args::Format;
use crate::error::{Error, Result};
use crate::output::table;

/// Writes records in one format.
#[derive(Debug)]
pub(crate) struct RecordPrinter {
    format: Format,
    formatted: bool,
    columns: Option<Vec<String>>,
    /// True when `columns` were given (`--select`): the server may add names (it always returns the primary
    /// id), and those are left out rather than refused.
    given: bool,
    buffered: Vec<Record>,
    header_written: bool,
    written: u64,
}

impl RecordPrinter {
    /// A printer; `columns` fixes the CSV and table columns (otherwise the first record's).
    pub(crate) fn new(format: Format, columns: &[String], formatted: bool) -> Self {
        // As the query sends them: `--select "name, revenue"` selects `revenue`.
        let columns: Vec<String> =
            columns.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).map(str::to_owned).collect();
        let columns = (!columns.is_empty()).then_some(columns);
        let given = columns.is_some();
        Self { format, formatted, columns, given, buffered: Vec::new(), header_written: false, written: 0 }
    }

    /// A CSV printer continuing a file whose header (`columns`) is already written; `given` as in [`Self::new`]
    /// (the columns came from `--select`, not from the first record).
    pub(crate) fn continuing_csv(columns: Vec<String>, given: bool) -> Self {
        let mut printer = Self::new(Format::Csv, &columns, false);
        printer.header_written = true;
        printer.given = given;
        printer
    }

    /// The CSV columns, once known.
    pub(crate) fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// How many records were printed.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Fixes the CSV columns, when neither `--select` nor a record did yet, to every column of `records` (the
    /// first page): FetchXML results leave null columns out, so the first record alone may lack some.
    pub(crate) fn columns_from(&mut self, records: &[Record]) {
        if self.format == Format::Csv && self.columns.is_none() && !records.is_empty() {
            self.columns = Some(union_columns(records));
        }
    }

    /// Prints one record (or keeps it for the end).
    pub(crate) fn write(&mut self, out: &mut dyn Write, record: &Record) -> Result<()> {
        self.written += 1;
        match self.format {
            Format::Table | Format::Json => {
                self.buffered.push(record.clone());
                Ok(())
            }
            Format::Ndjson => {
                let line = serde_json::to_string(record).map_err(|e| Error::input(format!("a record: {e}")))?;
                writeln!(out, "{line}").map_err(write_error)
            }
            Format::Csv => self.write_csv(out, record),
        }
    }

    fn write_csv(&mut self, out: &mut dyn Write, record: &Record) -> Result<()> {
        let columns = self.columns.get_or_insert_with(|| default_columns(record)).clone();
        if let Some(extra) =
            record.names().find(|name| !self.given && !name.contains('@') && !columns.iter().any(|c| c == name))
        {
            return Err(Error::input(format!(
                "column `{extra}` appeared after the CSV header was written; pass --select with every column \
                 (or use --format ndjson)"
            )));
        }
        if !self.header_written {
            out.write_all(&csv_line(&columns)?).map_err(write_error)?;
            self.header_written = true;
        }
        let row: Vec<String> = columns.iter().map(|column| cell(record, column, self.formatted)).collect();
        out.write_all(&csv_line(&row)?).map_err(write_error)
    }

    /// Prints what was kept: the table or the JSON array.
    pub(crate) fn finish(&mut self, out: &mut dyn Write) -> Result<()> {
        let records = std::mem::take(&mut self.buffered);
        match self.format {
            Format::Json => {
                let text =
                    serde_json::to_string_pretty(&records).map_err(|e| Error::input(format!("the records: {e}")))?;
                writeln!(out, "{text}").map_err(write_error)
            }
            Format::Table => {
                let columns = match &self.columns {
                    Some(columns) => columns.clone(),
                    None => union_columns(&records),
                };
                let rows: Vec<Vec<String>> = records
                    .iter()
                    .map(|record| columns.iter().map(|c| cell(record, c, self.formatted)).collect())
                    .collect();
                out.write_all(table::render(&columns, &rows).as_bytes()).map_err(write_error)
            }
            Format::Ndjson | Format::Csv => out.flush().map_err(write_error),
        }
    }
}

/// One CSV row, quoted as needed, with its line end.
pub(crate) fn csv_line(fields: &[String]) -> Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    writer.write_record(fields).map_err(|e| Error::input(format!("a CSV row: {e}")))?;
    writer.into_inner().map_err(|e| Error::input(format!("a CSV row: {e}")))
}

fn write_error(error: std::io::Error) -> Error {
    Error::io("writing the output", error)
}

/// The columns of a record: its names without annotations.
fn default_columns(record: &Record) -> Vec<String> {
    record.names().filter(|name| !name.contains('@')).map(str::to_owned).collect()
}

fn union_columns(records: &[Record]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for record in records {
        for name in record.names().filter(|name| !name.contains('@')) {
            if !columns.iter().any(|c| c == name) {
                columns.push(name.to_owned());
            }
        }
    }
    columns
}

/// A value as text: strings unquoted, numbers exactly as sent, null empty, objects as JSON.
pub(crate) fn cell(record: &Record, column: &str, formatted: bool) -> String {
    if formatted && let Some(text) = record.formatted_value(column) {
        return text;
    }
    match record.raw(column) {
        None | Some("null") => String::new(),
        Some(raw) if raw.starts_with('"') => serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned()),
        Some(raw) => raw.to_owned(),
    }
}

/// Parses one record.
#[cfg(test)]
fn record_from_json(text: &str) -> Result<Record> {
    serde_json::from_str(text).map_err(|e| Error::input(format!("not a JSON object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<Record> {
        [
            r#"{"@odata.etag":"W/\"1\"","name":"Contoso, \"Ltd\"","revenue":922337203685477.5807,"statecode":0,"statecode@OData.Community.Display.V1.FormattedValue":"Active","parent":null}"#,
            r#"{"@odata.etag":"W/\"2\"","name":"Fabrikam","revenue":1.5,"statecode":1,"statecode@OData.Community.Display.V1.FormattedValue":"Inactive","parent":null}"#,
        ]
        .iter()
        .map(|text| record_from_json(text).unwrap())
        .collect()
    }

    fn print(format: Format, formatted: bool) -> String {
        let mut printer = RecordPrinter::new(format, &[], formatted);
        let mut out = Vec::new();
        for record in records() {
            printer.write(&mut out, &record).unwrap();
        }
        printer.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_text_and_keeps_numbers_exact() {
        let text = print(Format::Csv, false);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, ["name", "parent", "revenue", "statecode"]);
        let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        assert_eq!(rows[0], ["Contoso, \"Ltd\"", "", "922337203685477.5807", "0"]);
        assert_eq!(rows[1], ["Fabrikam", "", "1.5", "1"]);
    }

    #[test]
    fn formatted_values_replace_raw_ones_when_asked() {
        let table = print(Format::Table, true);
        assert!(table.contains("Active") && table.contains("Inactive"), "{table}");
        assert!(!print(Format::Table, false).contains("Inactive"));
    }

    #[test]
    fn ndjson_keeps_each_record_exactly() {
        let text = print(Format::Ndjson, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("922337203685477.5807"), "{}", lines[0]);
        let back: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back["name"], "Fabrikam");
    }

    #[test]
    fn a_csv_column_appearing_late_is_an_error_not_a_loss() {
        let mut printer = RecordPrinter::new(Format::Csv, &[], false);
        let mut out = Vec::new();
        printer.write(&mut out, &record_from_json(r#"{"a":1}"#).unwrap()).unwrap();
        let error = printer.write(&mut out, &record_from_json(r#"{"a":2,"b":3}"#).unwrap()).unwrap_err();
        assert!(error.to_string().contains("column `b`"), "{error}");
    }

    #[test]
    fn csv_columns_can_come_from_every_record_of_the_first_page() {
        let page =
            [record_from_json(r#"{"name":"a"}"#).unwrap(), record_from_json(r#"{"name":"b","phone":"1"}"#).unwrap()];
        let mut printer = RecordPrinter::new(Format::Csv, &[], false);
        printer.columns_from(&page);
        let mut out = Vec::new();
        for record in &page {
            printer.write(&mut out, record).unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "name,phone\na,\nb,1\n");
    }

    #[test]
    fn selected_csv_columns_leave_out_what_the_server_adds() {
        // Dataverse returns the primary id even when `$select` leaves it out.
        let mut printer = RecordPrinter::new(Format::Csv, &["name".to_owned()], false);
        let mut out = Vec::new();
        printer.write(&mut out, &record_from_json(r#"{"name":"a","accountid":"x"}"#).unwrap()).unwrap();
        let mut resumed = RecordPrinter::continuing_csv(vec!["name".to_owned()], true);
        resumed.write(&mut out, &record_from_json(r#"{"name":"b","accountid":"y"}"#).unwrap()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "name\na\nb\n");
        let mut spaced = RecordPrinter::new(Format::Csv, &["name".to_owned(), " n".to_owned()], false);
        let mut out = Vec::new();
        spaced.write(&mut out, &record_from_json(r#"{"name":"a","n":1}"#).unwrap()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "name,n\na,1\n", "columns are trimmed as the query trims them");
        let mut inferred = RecordPrinter::continuing_csv(vec!["name".to_owned()], false);
        assert!(inferred.write(&mut Vec::new(), &record_from_json(r#"{"name":"c","x":1}"#).unwrap()).is_err());
    }
}
