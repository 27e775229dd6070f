//! One change: a row that is new or changed, or the id of a row that is gone.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{Error, Result, describe_json_error};
use crate::key::id_from_entity_url;

/// A change to a tracked table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change<T> {
    /// A row created or changed since the last sync (every row, on the first sync).
    Upserted(T),
    /// A row that left the set.
    Deleted(DeletedRecord),
}

/// A row that left the set since the last sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRecord {
    id: Uuid,
    reason: RemovedReason,
}

impl DeletedRecord {
    /// The row's primary id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Why it left the set.
    pub fn reason(&self) -> &RemovedReason {
        &self.reason
    }
}

/// Why a row left the set (OData's `reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemovedReason {
    /// `deleted`: the row was deleted.
    Deleted,
    /// `changed`: the row changed so that it no longer belongs to the set.
    Changed,
    /// Another reason, as sent.
    Other(String),
}

impl RemovedReason {
    fn parse(text: Option<&str>) -> Self {
        match text {
            None | Some("deleted") => Self::Deleted,
            Some("changed") => Self::Changed,
            Some(other) => Self::Other(other.to_owned()),
        }
    }
}

/// What tells a removed entry from a row. Values are kept loose so a row with a column named `id` still reads.
#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "@odata.context", default)]
    context: Option<serde_json::Value>,
    #[serde(rename = "@removed", default)]
    removed: Option<Removed>,
    #[serde(rename = "@id", default)]
    odata_id: Option<serde_json::Value>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    reason: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Removed {
    #[serde(default)]
    reason: Option<String>,
}

/// Reads one entry of a delta page.
pub(crate) fn parse_entry<T: DeserializeOwned>(entry: &RawValue) -> Result<Change<T>> {
    let peek: Peek = serde_json::from_str(entry.get())
        .map_err(|e| Error::decode(format!("a change entry: {}", describe_json_error(&e)), None))?;
    let deleted_entity = peek.context.as_ref().and_then(|c| c.as_str()).is_some_and(|c| c.ends_with("$deletedEntity"));
    if deleted_entity || peek.removed.is_some() {
        let text = |value: &Option<serde_json::Value>| value.as_ref().and_then(|v| v.as_str()).map(str::to_owned);
        let id = text(&peek.id)
            .and_then(|id| Uuid::parse_str(&id).ok())
            .or_else(|| text(&peek.odata_id).as_deref().and_then(id_from_entity_url));
        let Some(id) = id else {
            return Err(Error::decode("a removed entry names no id (neither `id` nor `@id` with a GUID)", None));
        };
        let reason = match peek.removed {
            Some(removed) => RemovedReason::parse(removed.reason.as_deref()),
            None => RemovedReason::parse(text(&peek.reason).as_deref()),
        };
        return Ok(Change::Deleted(DeletedRecord { id, reason }));
    }
    serde_json::from_str(entry.get())
        .map(Change::Upserted)
        .map_err(|e| Error::decode(format!("a changed row: {}", describe_json_error(&e)), Some(std::sync::Arc::new(e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Change<serde_json::Value> {
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        parse_entry(&raw).unwrap()
    }

    #[test]
    fn reads_both_forms_of_removed_entries_and_rows() {
        let id = Uuid::parse_str("2e451703-c686-e711-80e5-00155db19e6d").unwrap();
        let documented = entry(
            r#"{"@odata.context":"https://x/api/data/v9.0/$metadata#accounts/$deletedEntity","id":"2e451703-c686-e711-80e5-00155db19e6d","reason":"deleted"}"#,
        );
        assert_eq!(documented, Change::Deleted(DeletedRecord { id, reason: RemovedReason::Deleted }));
        let odata401 =
            entry(r#"{"@removed":{"reason":"changed"},"@id":"accounts(2e451703-c686-e711-80e5-00155db19e6d)"}"#);
        assert_eq!(odata401, Change::Deleted(DeletedRecord { id, reason: RemovedReason::Changed }));
        let row = entry(r#"{"name":"Monte Orton","id":7}"#);
        assert_eq!(row, Change::Upserted(serde_json::json!({"name": "Monte Orton", "id": 7})));
        let raw: Box<RawValue> = serde_json::from_str(r#"{"@removed":{"reason":"deleted"}}"#).unwrap();
        assert!(parse_entry::<serde_json::Value>(&raw).unwrap_err().to_string().contains("no id"));
    }
}
