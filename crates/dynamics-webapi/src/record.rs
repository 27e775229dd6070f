//! Untyped records, with their annotations, and numbers kept exactly as sent.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{Error, Result, describe_json_error};

const FORMATTED_VALUE: &str = "@OData.Community.Display.V1.FormattedValue";
const LOOKUP_LOGICAL_NAME: &str = "@Microsoft.Dynamics.CRM.lookuplogicalname";
const ASSOCIATED_NAVIGATION_PROPERTY: &str = "@Microsoft.Dynamics.CRM.associatednavigationproperty";

/// A record as Dataverse sent it, for tables nobody generated a struct for.
///
/// Each value is kept as its JSON text, so Money and Decimal values read exactly ([`Record::decimal`])
/// rather than through `f64`, and annotations requested with
/// [`Query::annotations`](crate::query::Query::annotations) are at hand.
///
/// ```
/// use dynamics_webapi::Record;
///
/// let record: Record = serde_json::from_str(r#"{
///     "@odata.etag": "W/\"1234\"",
///     "revenue": 922337203685477.5807,
///     "statuscode": 1,
///     "statuscode@OData.Community.Display.V1.FormattedValue": "Active"
/// }"#)?;
/// assert_eq!(record.decimal("revenue")?.unwrap().to_string(), "922337203685477.5807");
/// assert_eq!(record.formatted_value("statuscode"), Some("Active".to_owned()));
/// assert_eq!(record.etag(), Some("W/\"1234\"".to_owned()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record {
    fields: BTreeMap<String, Box<RawValue>>,
}

impl Record {
    /// A column's value, deserialised as `T`; `None` when absent or null.
    ///
    /// # Errors
    /// [`Error::Decode`] when the value is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        match self.raw(name) {
            None | Some("null") => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| Error::decode(format!("column `{name}`: {}", describe_json_error(&e)), None)),
        }
    }

    /// A Money or Decimal column, read exactly from its JSON text.
    ///
    /// # Errors
    /// [`Error::Decode`] when the value is not a number.
    pub fn decimal(&self, name: &str) -> Result<Option<Decimal>> {
        match self.raw(name) {
            None | Some("null") => Ok(None),
            Some(text) => crate::exact::parse_decimal(text)
                .map(Some)
                .map_err(|what| Error::decode(format!("column `{name}`: {what}"), None)),
        }
    }

    /// A GUID column (or a lookup's `_x_value`).
    ///
    /// # Errors
    /// [`Error::Decode`] when the value is not a GUID.
    pub fn guid(&self, name: &str) -> Result<Option<Uuid>> {
        self.get(name)
    }

    /// A text column.
    ///
    /// # Errors
    /// [`Error::Decode`] when the value is not text.
    pub fn string(&self, name: &str) -> Result<Option<String>> {
        self.get(name)
    }

    /// The value's JSON text, as sent.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(|value| value.get())
    }

    /// The column's formatted value (choice label, currency text, local date), when requested.
    pub fn formatted_value(&self, name: &str) -> Option<String> {
        self.get(&format!("{name}{FORMATTED_VALUE}")).ok().flatten()
    }

    /// The logical name of the table a lookup (`_x_value`) points to, when requested.
    pub fn lookup_logical_name(&self, name: &str) -> Option<String> {
        self.get(&format!("{name}{LOOKUP_LOGICAL_NAME}")).ok().flatten()
    }

    /// The navigation property a lookup (`_x_value`) is set through, when requested.
    pub fn associated_navigation_property(&self, name: &str) -> Option<String> {
        self.get(&format!("{name}{ASSOCIATED_NAVIGATION_PROPERTY}")).ok().flatten()
    }

    /// The record's ETag (`@odata.etag`), for optimistic concurrency.
    pub fn etag(&self) -> Option<String> {
        self.get("@odata.etag").ok().flatten()
    }

    /// The next link of an expanded collection that Dataverse cut short (`<nav>@odata.nextLink`).
    /// Follow it with [`Client::resume`](crate::Client::resume) to read the rest.
    pub fn expanded_next_link(&self, navigation_property: &str) -> Option<String> {
        self.get(&format!("{navigation_property}@odata.nextLink")).ok().flatten()
    }

    /// An expanded collection's records.
    ///
    /// # Errors
    /// [`Error::Decode`] when the value is not a list of records.
    pub fn expanded(&self, navigation_property: &str) -> Result<Vec<Record>> {
        Ok(self.get(navigation_property)?.unwrap_or_default())
    }

    /// Column names, annotations included, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// The record as a `serde_json::Value` (numbers then go through `f64` as usual).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
