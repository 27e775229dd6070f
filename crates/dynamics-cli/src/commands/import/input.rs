//! The records of an import: NDJSON (one object a line) or one JSON array of objects, each with where it was
//! in the input (its line, or its index in the array) and, for updates and upserts, its key.

use std::collections::BTreeMap;
use std::fmt;

use dynamics_webapi::RecordKey;
use dynamics_webapi::query::Literal;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Where a record was in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Its line in an NDJSON input (from 1).
    Line(usize),
    /// Its index in a JSON array (from 0).
    Index(usize),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(line) => write!(f, "line {line}"),
            Origin::Index(index) => write!(f, "index {index}"),
        }
    }
}

/// One record to write.
#[derive(Debug, Clone)]
pub(crate) struct InputRecord {
    pub(crate) origin: Origin,
    /// The columns as values, for the key.
    pub(crate) fields: Map<String, Value>,
    /// The columns exactly as written, sent as the record: a decimal keeps every digit (a `Value` would round
    /// it to an `f64`).
    pub(crate) exact: BTreeMap<String, Box<RawValue>>,
}

impl InputRecord {
    /// A record built in code (no input text to keep): the demo's.
    #[cfg(feature = "demo")]
    pub(crate) fn from_fields(origin: Origin, fields: Map<String, Value>) -> Result<Self> {
        let text = Value::Object(fields).to_string();
        object(&text, origin, "the record")
    }
}

/// Reads the records of `bytes` (from `source`, for messages): a JSON array when the first character is `[`,
/// NDJSON otherwise. Nothing is sent when any record is not a JSON object: the error names it.
pub(crate) fn parse(bytes: &[u8], source: &str) -> Result<Vec<InputRecord>> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| Error::input(format!("the records in {source} are not UTF-8")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('[') {
        let values: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(|e| {
            Error::input(format!(
                "the JSON array in {source} cannot be read (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
        return values
            .into_iter()
            .enumerate()
            .map(|(index, value)| object(value.get(), Origin::Index(index), source))
            .collect();
    }
    let mut records = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let origin = Origin::Line(number + 1);
        serde_json::from_str::<&RawValue>(line)
            .map_err(|e| Error::input(format!("{origin} of {source} is not JSON: {e}")))?;
        records.push(object(line, origin, source)?);
    }
    Ok(records)
}

/// The record in `text` (valid JSON): its values, and its columns as written.
fn object(text: &str, origin: Origin, source: &str) -> Result<InputRecord> {
    let not_an_object =
        || Error::input(format!("{origin} of {source} is not a JSON object ({{\"column\": value, ...}})"));
    let exact: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text).map_err(|_| not_an_object())?;
    match serde_json::from_str(text) {
        Ok(Value::Object(fields)) => Ok(InputRecord { origin, fields, exact }),
        _ => Err(not_an_object()),
    }
}

/// The key of a record to update or upsert: the values of `key_columns` (an alternate key), or its primary id.
pub(crate) fn key_of(record: &InputRecord, key_columns: &[String], primary_id: &str) -> Result<RecordKey> {
    let origin = record.origin;
    if key_columns.is_empty() {
        return match record.fields.get(primary_id) {
            Some(Value::String(text)) => Uuid::parse_str(text.trim_matches(['{', '}']))
                .map(RecordKey::Id)
                .map_err(|_| Error::input(format!("{origin}: the primary id {primary_id} `{text}` is not a GUID"))),
            _ => Err(Error::usage_with_hint(
                format!("{origin} has no {primary_id} (the primary id) to address the record by"),
                "give each record its primary id, or name alternate key columns with --key",
            )),
        };
    }
    let mut parts = Vec::with_capacity(key_columns.len());
    for column in key_columns {
        let literal = match record.fields.get(column) {
            None | Some(Value::Null) => {
                return Err(Error::input(format!("{origin} has no value for the key column {column}")));
            }
            Some(Value::String(text)) if column.starts_with('_') && column.ends_with("_value") => {
                // A lookup in a key is written as a bare GUID.
                Uuid::parse_str(text).map(Literal::Guid).map_err(|_| {
                    Error::input(format!("{origin}: the lookup key column {column} `{text}` is not a GUID"))
                })?
            }
            Some(Value::String(text)) => Literal::String(text.clone()),
            Some(Value::Bool(value)) => Literal::Boolean(*value),
            Some(Value::Number(number)) => match (number.as_i64(), number.as_f64()) {
                (Some(whole), _) => Literal::Int64(whole),
                (None, Some(float)) => Literal::Double(float),
                (None, None) => return Err(Error::input(format!("{origin}: the key column {column} is out of range"))),
            },
            Some(_) => {
                return Err(Error::input(format!(
                    "{origin}: the key column {column} holds an object or array, not a value"
                )));
            }
        };
        parts.push((column.clone(), literal));
    }
    Ok(RecordKey::Alternate(parts))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_ndjson_with_line_numbers_and_arrays_with_indexes() {
        let ndjson = parse(b"{\"name\":\"a\"}\n\n{\"name\":\"b\"}\n", "in.ndjson").unwrap();
        assert_eq!(ndjson.iter().map(|r| r.origin).collect::<Vec<_>>(), [Origin::Line(1), Origin::Line(3)]);
        let array = parse(b" [{\"name\":\"a\"}, {\"name\":\"b\"}]", "in.json").unwrap();
        assert_eq!(array[1].origin, Origin::Index(1));
        assert_eq!(array[1].fields["name"], "b");
        let error = parse(b"{\"name\":\"a\"}\n[1]\n", "in.ndjson").unwrap_err();
        assert!(error.to_string().contains("line 2 of in.ndjson is not a JSON object"), "{error}");
        let error = parse(b"{\"name\":\"a\"}\n{oops\n", "in.ndjson").unwrap_err();
        assert!(error.to_string().contains("line 2 of in.ndjson is not JSON"), "{error}");
        let error = parse(b"[{\"a\":1}, 2]", "in.json").unwrap_err();
        assert!(error.to_string().contains("index 1 of in.json"), "{error}");
        assert!(parse(b"", "empty").unwrap().is_empty());
    }

    #[test]
    fn records_keep_their_numbers_exactly_as_written() {
        let ndjson = parse(b"{\"revenue\": 12345678901234.5678, \"n\": {\"x\": 0.10}}\n", "in.ndjson").unwrap();
        assert_eq!(
            serde_json::to_string(&ndjson[0].exact).unwrap(),
            r#"{"n":{"x": 0.10},"revenue":12345678901234.5678}"#
        );
        let array = parse(b"[ {\"revenue\" : 1.000} , { } ]", "in.json").unwrap();
        assert_eq!(serde_json::to_string(&array[0].exact).unwrap(), r#"{"revenue":1.000}"#);
        assert_eq!(serde_json::to_string(&array[1].exact).unwrap(), "{}");
        assert_eq!(array[0].fields["revenue"], 1.0, "the values, for keys");
    }

    #[test]
    fn keys_come_from_the_primary_id_or_the_key_columns() {
        let record =
            |value: Value| InputRecord::from_fields(Origin::Line(4), value.as_object().unwrap().clone()).unwrap();
        let id = "7eb682f1-ca75-e511-80d4-00155d2a68d1";
        let by_id = key_of(&record(json!({"accountid": id, "name": "x"})), &[], "accountid").unwrap();
        assert_eq!(by_id, RecordKey::Id(Uuid::parse_str(id).unwrap()));
        let keyed =
            key_of(&record(json!({"accountnumber": "A-1", "n": 7})), &["accountnumber".into(), "n".into()], "x");
        assert_eq!(keyed.unwrap().to_string(), "(accountnumber='A-1',n=7)");
        let missing = key_of(&record(json!({"name": "x"})), &[], "accountid").unwrap_err();
        assert!(missing.to_string().contains("line 4 has no accountid"), "{missing}");
        let missing = key_of(&record(json!({"name": "x"})), &["accountnumber".into()], "accountid").unwrap_err();
        assert!(missing.to_string().contains("no value for the key column accountnumber"), "{missing}");
        let lookup = key_of(&record(json!({"_parentid_value": id})), &["_parentid_value".into()], "x").unwrap();
        assert_eq!(lookup.to_string(), format!("(_parentid_value={id})"));
    }
}
