//! One record as a bulk target: serialised once, stamped with its `@odata.type`, with its key at hand
//! for the single-request fallback.

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{Error, Result, describe_json_error};
use crate::key::RecordKey;

const ODATA_TYPE: &str = "@odata.type";
const ODATA_ID: &str = "@odata.id";

/// A record's columns with their values as the JSON text they were written as, so that re-keying a target
/// never rounds a Money or Decimal value through `f64` (as a `serde_json::Value` would).
pub(crate) type RawObject = std::collections::BTreeMap<String, Box<RawValue>>;

/// The names a bulk write needs.
#[derive(Debug, Clone)]
pub(crate) struct TableNames {
    pub(crate) entity_set: String,
    pub(crate) logical_name: String,
    pub(crate) primary_id: String,
}

impl TableNames {
    fn odata_type(&self) -> String {
        format!("Microsoft.Dynamics.CRM.{}", self.logical_name)
    }
}

/// A record ready to go into `Targets`.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The record's position in the input.
    pub(crate) index: usize,
    /// The target's JSON, as sent (a slice of the chunk's body).
    pub(crate) json: Bytes,
    /// How the record is addressed (updates, upserts, deletes).
    pub(crate) key: Option<RecordKey>,
}

impl Target {
    /// The primary id, when the key is one.
    pub(crate) fn id(&self) -> Option<Uuid> {
        match &self.key {
            Some(RecordKey::Id(id)) => Some(*id),
            _ => None,
        }
    }

    /// The body of the equivalent single request: the target without its annotations and key.
    pub(crate) fn single_body(&self, names: &TableNames) -> Result<RawObject> {
        let mut object = parse_object(&self.json)?;
        object.remove(ODATA_TYPE);
        object.remove(ODATA_ID);
        if self.key.is_some() {
            object.remove(&names.primary_id);
        }
        Ok(object)
    }
}

/// The start of every create target of a table: `{"@odata.type":"Microsoft.Dynamics.CRM.<logical name>"`.
#[derive(Debug, Clone)]
pub(crate) struct CreateStamp {
    prefix: Vec<u8>,
    odata_type: String,
}

impl CreateStamp {
    pub(crate) fn new(names: &TableNames) -> Result<Self> {
        let odata_type = names.odata_type();
        let mut prefix = b"{\"@odata.type\":".to_vec();
        prefix.extend_from_slice(&serialise(&odata_type)?);
        Ok(Self { prefix, odata_type })
    }
}

/// Appends a record to create to `buffer`: its JSON with `@odata.type` added, serialised in place after the
/// stamp (no intermediate `Value`, no buffer of its own). On error `buffer` may hold a partial target: the caller
/// truncates it.
pub(crate) fn create_into(stamp: &CreateStamp, record: &impl Serialize, buffer: &mut Vec<u8>) -> Result<()> {
    let at = buffer.len();
    buffer.extend_from_slice(&stamp.prefix);
    let start = buffer.len();
    serde_json::to_writer(&mut *buffer, record)
        .map_err(|e| Error::config(format!("the record cannot be serialised as JSON: {e}")))?;
    if buffer.get(start) != Some(&b'{') {
        return Err(not_an_object());
    }
    if contains(&buffer[start..], b"\"@odata.type\"") {
        // Rare: the record names a type itself; the table's type wins.
        let mut object = parse_object(&buffer[start..])?;
        object.insert(ODATA_TYPE.to_owned(), raw_string(&stamp.odata_type)?);
        buffer.truncate(at);
        return write_json(buffer, &object);
    }
    if buffer.len() == start + 2 {
        // `{}`: the stamp alone.
        buffer.truncate(start);
        buffer.push(b'}');
    } else {
        buffer[start] = b',';
    }
    Ok(())
}

/// Appends a record addressed by `key` (update, upsert, or, with no body, delete) to `buffer`. The key goes
/// into the target's key (the primary id column, or `@odata.id` for an alternate key) and its columns are left
/// out of the body.
pub(crate) fn keyed_into(
    names: &TableNames,
    key: &RecordKey,
    record: Option<&dyn ErasedSerialize>,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    let mut object = match record {
        Some(record) => parse_object(&record.to_json()?)?,
        None => RawObject::new(),
    };
    object.remove(ODATA_ID);
    object.insert(ODATA_TYPE.to_owned(), raw_string(&names.odata_type())?);
    match key {
        RecordKey::Id(id) => {
            object.insert(names.primary_id.clone(), raw_string(&id.to_string())?);
        }
        RecordKey::Alternate(parts) => {
            for (column, _) in parts {
                object.remove(column);
            }
            object.insert(ODATA_ID.to_owned(), raw_string(&format!("{}{}", names.entity_set, key.to_path()?))?);
        }
    }
    write_json(buffer, &object)
}

/// `Serialize` behind a `dyn`, so keyed targets are built by one non-generic function.
pub(crate) trait ErasedSerialize {
    fn to_json(&self) -> Result<Vec<u8>>;
}

impl<T: Serialize> ErasedSerialize for T {
    fn to_json(&self) -> Result<Vec<u8>> {
        serialise(self)
    }
}

/// The start and end of a chunk's body: `{"Targets":[…]}`.
pub(crate) const BODY_START: &[u8] = b"{\"Targets\":[";
pub(crate) const BODY_END: &[u8] = b"]}";

/// The body of a chunk cut from another (after a split): `{"Targets":[…]}`.
pub(crate) fn chunk_body(targets: &[Target]) -> Vec<u8> {
    let size = targets.iter().map(|t| t.json.len() + 1).sum::<usize>() + 16;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(BODY_START);
    for (n, target) in targets.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&target.json);
    }
    body.extend_from_slice(BODY_END);
    body
}

fn write_json(buffer: &mut Vec<u8>, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer(buffer, value)
        .map_err(|e| Error::config(format!("the record cannot be serialised as JSON: {e}")))
}

fn serialise(value: &(impl Serialize + ?Sized)) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::config(format!("the record cannot be serialised as JSON: {e}")))
}

fn parse_object(json: &[u8]) -> Result<RawObject> {
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<&RawValue>(json) {
            Ok(_) => Err(not_an_object()),
            Err(e) => Err(Error::config(format!("the record is not valid JSON: {}", describe_json_error(&e)))),
        };
    }
    serde_json::from_slice(json)
        .map_err(|e| Error::config(format!("the record is not valid JSON: {}", describe_json_error(&e))))
}

fn raw_string(text: &str) -> Result<Box<RawValue>> {
    serde_json::value::to_raw_value(text).map_err(|e| Error::config(format!("cannot write {text:?} as JSON: {e}")))
}

fn not_an_object() -> Error {
    Error::config("a bulk record must serialise to a JSON object (a struct or a map)")
}

/// Whether `needle` (which starts with `"@`) occurs in `haystack`; checks only where an `@` follows a quote.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.iter().enumerate().skip(1).any(|(at, byte)| *byte == b'@' && haystack[at - 1..].starts_with(needle))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn names() -> TableNames {
        TableNames { entity_set: "accounts".into(), logical_name: "account".into(), primary_id: "accountid".into() }
    }

    fn created(record: &Value) -> Result<Value> {
        let stamp = CreateStamp::new(&names())?;
        let mut buffer = b"[".to_vec();
        create_into(&stamp, record, &mut buffer)?;
        Ok(serde_json::from_slice(&buffer[1..]).unwrap())
    }

    fn keyed(key: RecordKey, record: Option<&Value>) -> Target {
        let mut buffer = Vec::new();
        keyed_into(&names(), &key, record.map(|r| r as &dyn ErasedSerialize), &mut buffer).unwrap();
        Target { index: 0, json: Bytes::from(buffer), key: Some(key) }
    }

    fn parsed(target: &Target) -> Value {
        serde_json::from_slice(&target.json).unwrap()
    }

    #[test]
    fn creates_are_stamped_with_their_type() {
        let stamped = json!({"name": "A", "@odata.type": "Microsoft.Dynamics.CRM.account"});
        assert_eq!(created(&json!({"name": "A"})).unwrap(), stamped);
        assert_eq!(created(&json!({})).unwrap(), json!({"@odata.type": "Microsoft.Dynamics.CRM.account"}));
        let typed = created(&json!({"@odata.type": "x", "name": "B"})).unwrap();
        assert_eq!(typed, json!({"name": "B", "@odata.type": "Microsoft.Dynamics.CRM.account"}));
        assert!(created(&json!([1])).is_err());
        assert!(created(&json!("text")).is_err());
        assert!(contains(br#"{"a":1,"@odata.type":"x"}"#, b"\"@odata.type\""));
        assert!(!contains(br#"{"a":"\"@odata.type\" is text"}"#, b"\"@odata.type\""));
    }

    #[test]
    fn alternate_keys_go_into_odata_id_and_out_of_the_body() {
        let key = RecordKey::alternate([("accountnumber", "A-1")]);
        let target = keyed(key, Some(&json!({"accountnumber": "A-1", "name": "N"})));
        assert_eq!(
            parsed(&target),
            json!({
                "@odata.type": "Microsoft.Dynamics.CRM.account",
                "@odata.id": "accounts(accountnumber='A-1')",
                "name": "N"
            })
        );
        assert_eq!(serde_json::to_value(target.single_body(&names()).unwrap()).unwrap(), json!({"name": "N"}));
    }

    #[test]
    fn ids_go_into_the_primary_id_column() {
        let id = Uuid::nil();
        let target = keyed(RecordKey::Id(id), None);
        assert_eq!(
            parsed(&target),
            json!({"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": id.to_string()})
        );
        assert_eq!(target.id(), Some(id));
        let body = chunk_body(&[target.clone(), target]);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["Targets"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn keyed_targets_keep_money_exactly_as_written() {
        #[derive(Serialize)]
        struct Priced {
            #[serde(with = "crate::exact::decimal")]
            revenue: rust_decimal::Decimal,
        }
        let record = Priced { revenue: "123456789012345.6789".parse().unwrap() };
        let mut buffer = Vec::new();
        let key = RecordKey::alternate([("accountnumber", "A-1")]);
        keyed_into(&names(), &key, Some(&record as &dyn ErasedSerialize), &mut buffer).unwrap();
        let text = String::from_utf8(buffer.clone()).unwrap();
        assert!(text.contains(r#""revenue":123456789012345.6789"#), "{text}");
        let target = Target { index: 0, json: Bytes::from(buffer), key: Some(key) };
        let single = serde_json::to_string(&target.single_body(&names()).unwrap()).unwrap();
        assert_eq!(single, r#"{"revenue":123456789012345.6789}"#);
    }
}
