//! [`Annotated`]: a typed row with the annotations Dataverse sent beside its columns.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::Record;
use crate::query::Column;

/// A retrieved row with the annotations Dataverse sent beside its columns: formatted values
/// (choice labels, currency text, local dates) and, for lookups, the target table and the name of the row.
///
/// Ask for them with `Query::annotations` (`Prefer: odata.include-annotations=...`), then read the row
/// as `Annotated<Account>` instead of `Account`.
#[derive(Debug, Clone)]
pub struct Annotated<T> {
    entity: T,
    record: Record,
}

impl<T> Annotated<T> {
    /// The typed row.
    pub fn entity(&self) -> &T {
        &self.entity
    }

    /// The typed row, without the annotations.
    pub fn into_entity(self) -> T {
        self.entity
    }

    /// The row as sent, annotations included.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// A column's formatted value (`<column>@OData.Community.Display.V1.FormattedValue`), when sent.
    ///
    /// For a lookup it is the primary name of the related row.
    pub fn formatted_value(&self, column: impl Column) -> Option<String> {
        self.record.formatted_value(&column.path())
    }

    /// The logical name of the table a lookup points to (`@Microsoft.Dynamics.CRM.lookuplogicalname`), when sent.
    pub fn lookup_logical_name(&self, column: impl Column) -> Option<String> {
        self.record.lookup_logical_name(&column.path())
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Annotated<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let record = Record::deserialize(deserializer)?;
        let text = serde_json::to_string(&record).map_err(serde::de::Error::custom)?;
        let entity = serde_json::from_str(&text).map_err(serde::de::Error::custom)?;
        Ok(Self { entity, record })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.

    use serde::Deserialize;

    use super::Annotated;
    use crate::query::{Field, Lookup, Untyped};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        name: Option<String>,
        #[serde(rename = "_parentaccountid_value")]
        parent: Option<uuid::Uuid>,
    }

    const NAME: Field<Untyped, Option<String>> = Field::new("name");
    const PARENT: Lookup<Untyped> = Lookup::new("parentaccountid");

    #[test]
    fn reads_the_typed_row_and_keeps_its_annotations() {
        let text = r#"{
            "name": "Contoso",
            "name@OData.Community.Display.V1.FormattedValue": "Contoso Ltd",
            "_parentaccountid_value": "6f1e5a8b-63c4-4a3f-9d1e-2b7c9a4e0d11",
            "_parentaccountid_value@OData.Community.Display.V1.FormattedValue": "Fabrikam",
            "_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account"
        }"#;
        let row: Annotated<Row> = serde_json::from_str(text).unwrap();
        assert_eq!(row.entity().name.as_deref(), Some("Contoso"));
        assert_eq!(row.formatted_value(NAME).as_deref(), Some("Contoso Ltd"));
        assert_eq!(row.formatted_value(PARENT).as_deref(), Some("Fabrikam"));
        assert_eq!(row.lookup_logical_name(PARENT).as_deref(), Some("account"));
        assert_eq!(row.lookup_logical_name(NAME), None);
        assert_eq!(row.record().raw("name"), Some("\"Contoso\""));
        assert_eq!(
            row.into_entity().parent,
            Some(uuid::Uuid::parse_str("6f1e5a8b-63c4-4a3f-9d1e-2b7c9a4e0d11").unwrap())
        );
    }

    #[test]
    fn a_row_that_does_not_fit_the_type_is_an_error() {
        let error = serde_json::from_str::<Annotated<Row>>(r#"{"name": 5}"#).unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }
}
