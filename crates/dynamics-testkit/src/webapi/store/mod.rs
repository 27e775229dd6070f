//! The state of the Web API: the in-memory tables (rows of JSON columns with a row version each,
//! and the tombstones change tracking reports), their relationships, and the files of file columns ([`files`]).
//!
//! The store imports the OData layer's types (keys, errors, comparison) and nothing above it.

pub(crate) mod files;

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::odata::compare;
use super::odata::error::ODataError;
use super::odata::target::{self, Key, Target};
use crate::{EntitySetSpec, Error, Result};
use files::FileColumns;

/// One record: its id, its row version (the ETag) and its columns (the primary id column included).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: Uuid,
    pub(crate) version: u64,
    pub(crate) fields: Map<String, Value>,
}

impl Row {
    /// The weak ETag, `W/"<version>"`.
    pub(crate) fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    /// The record as the Web API returns it: `@odata.etag` first, then every column (no annotations).
    pub(crate) fn to_json(&self) -> Value {
        self.project(None, false)
    }

    /// The record with only the `select`ed columns (and the primary id, which Dataverse always returns),
    /// with the lookup annotations when `annotations` is true.
    pub(crate) fn project(&self, select: Option<&[String]>, annotations: bool) -> Value {
        let mut out = Map::new();
        out.insert("@odata.etag".to_owned(), Value::String(self.etag()));
        let keep_annotation = |key: &str| annotations && key.contains("@Microsoft.Dynamics.CRM.");
        match select {
            None => {
                for (key, value) in &self.fields {
                    if !key.contains('@') || keep_annotation(key) {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
            Some(columns) => {
                for column in columns {
                    out.insert(column.clone(), self.get(column).clone());
                    if annotations {
                        for (key, value) in &self.fields {
                            if key.starts_with(column.as_str())
                                && key[column.len()..].starts_with('@')
                                && keep_annotation(key)
                            {
                                out.insert(key.clone(), value.clone());
                            }
                        }
                    }
                }
            }
        }
        Value::Object(out)
    }

    /// A column's value; `Null` when the record does not have it.
    pub(crate) fn get(&self, column: &str) -> &Value {
        self.fields.get(column).unwrap_or(&Value::Null)
    }
}

/// A deleted record, kept for change tracking: its id and the version its deletion got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tombstone {
    pub(crate) id: Uuid,
    pub(crate) version: u64,
}

/// One entity set.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) spec: EntitySetSpec,
    pub(crate) rows: Vec<Row>,
    /// The records deleted so far, oldest first (what a delta link reports as removed).
    pub(crate) tombstones: Vec<Tombstone>,
}

impl Table {
    fn empty(spec: EntitySetSpec) -> Self {
        Self { spec, rows: Vec::new(), tombstones: Vec::new() }
    }

    /// Adds a new row; a tombstone left by an earlier record with the same id goes.
    pub(crate) fn push(&mut self, row: Row) {
        self.tombstones.retain(|tombstone| tombstone.id != row.id);
        self.rows.push(row);
    }

    /// The position of the record with this id.
    pub(crate) fn position(&self, id: Uuid) -> Option<usize> {
        self.rows.iter().position(|row| row.id == id)
    }

    /// The position of the record whose columns equal `key` (compared the way `$filter eq` compares).
    pub(crate) fn position_by_key(&self, key: &[(String, Value)]) -> Option<usize> {
        self.rows.iter().position(|row| key.iter().all(|(column, value)| compare::equal(row.get(column), value)))
    }

    /// The position of the record a key addresses; an alternate key must be one the table declares.
    pub(crate) fn find(&self, key: &Key) -> std::result::Result<Option<usize>, ODataError> {
        match key {
            Key::Id(id) => Ok(self.position(*id)),
            Key::Alternate(parts) => {
                let columns: Vec<&str> = parts.iter().map(|(column, _)| column.as_str()).collect();
                if let [only] = columns.as_slice()
                    && *only == self.spec.primary_id
                {
                    let id = parts[0].1.as_str().and_then(|text| Uuid::parse_str(text).ok());
                    return Ok(id.and_then(|id| self.position(id)));
                }
                if !self.has_alternate_key(&columns) {
                    let declared: Vec<String> =
                        self.spec.alternate_keys.iter().map(|key| format!("({})", key.join(","))).collect();
                    return Err(ODataError::bad_query(format!(
                        "The key ({}) is not an alternate key of the table '{}'; its alternate keys are: {}.",
                        columns.join(","),
                        self.spec.logical_name,
                        if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
                    )));
                }
                Ok(self.position_by_key(parts))
            }
        }
    }

    /// The alternate key made of exactly these columns, in any order.
    pub(crate) fn has_alternate_key(&self, columns: &[&str]) -> bool {
        self.spec
            .alternate_keys
            .iter()
            .any(|key| key.len() == columns.len() && key.iter().all(|column| columns.contains(&column.as_str())))
    }
}

/// A one-to-many relationship: records of `referencing_set` point at a record of `referenced_set`
/// through the lookup `_<lookup>_value`; `navigation` is the collection-valued navigation property
/// of the referenced table (such as `Account_Tasks` or `contact_customer_accounts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relationship {
    pub(crate) referenced_set: String,
    pub(crate) navigation: String,
    pub(crate) referencing_set: String,
    pub(crate) lookup: String,
}

impl Relationship {
    /// The lookup column on the referencing table.
    pub(crate) fn column(&self) -> String {
        format!("_{}_value", self.lookup)
    }

    /// The relationships the emulator knows out of the box.
    pub(crate) fn defaults() -> Vec<Self> {
        let one = |referenced: &str, navigation: &str, referencing: &str, lookup: &str| Self {
            referenced_set: referenced.to_owned(),
            navigation: navigation.to_owned(),
            referencing_set: referencing.to_owned(),
            lookup: lookup.to_owned(),
        };
        vec![
            one("accounts", "contact_customer_accounts", "contacts", "parentcustomerid"),
            one("accounts", "Account_Tasks", "tasks", "regardingobjectid"),
            one("contacts", "Contact_Tasks", "tasks", "regardingobjectid"),
            one("accounts", "opportunity_customer_accounts", "opportunities", "customerid"),
        ]
    }
}

/// All tables, their relationships, the files of file columns, and the org-wide row version counter.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    tables: BTreeMap<String, Table>,
    relationships: Vec<Relationship>,
    version: u64,
    /// The files of file and image columns, and the open upload sessions.
    pub(crate) files: FileColumns,
}

impl Store {
    pub(crate) fn new(specs: Vec<EntitySetSpec>) -> Self {
        let tables = specs.into_iter().map(|spec| (spec.name.clone(), Table::empty(spec))).collect();
        Self { tables, relationships: Relationship::defaults(), version: 1000, files: FileColumns::default() }
    }

    /// Adds (or replaces, by set and navigation property) a one-to-many relationship.
    pub(crate) fn add_relationship(&mut self, relationship: Relationship) {
        self.relationships.retain(|known| {
            !(known.referenced_set == relationship.referenced_set && known.navigation == relationship.navigation)
        });
        self.relationships.push(relationship);
    }

    /// The one-to-many relationship behind the collection-valued navigation property `navigation` of `set`.
    pub(crate) fn relationship(&self, set: &str, navigation: &str) -> Option<&Relationship> {
        self.relationships.iter().find(|known| known.referenced_set == set && known.navigation == navigation)
    }

    pub(crate) fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub(crate) fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.get_mut(name)
    }

    /// The table, registered from a guess at its spec if it is not known yet.
    pub(crate) fn table_or_guess(&mut self, name: &str) -> &mut Table {
        self.tables.entry(name.to_owned()).or_insert_with(|| Table::empty(EntitySetSpec::guess(name)))
    }

    /// Resolves a record URL (`/accounts(<id>)`, `accounts(accountnumber='A1')`, or absolute) to its table's
    /// logical name and the record's id. The record must exist.
    pub(crate) fn resolve_reference(&self, reference: &str) -> std::result::Result<(String, Uuid), ODataError> {
        let path = match reference.find("/api/data/v") {
            Some(at) => {
                let rest = &reference[at + "/api/data/v".len()..];
                rest.split_once('/').map_or("", |(_, below)| below)
            }
            None => reference.trim_start_matches('/'),
        };
        let not_a_record = || {
            ODataError::bad_query(format!(
                "The reference `{reference}` is not the URL of a record, such as /accounts(<id>)."
            ))
        };
        let Ok(Target::Record { set, key }) = target::parse(path, |set| self.table(set).is_some(), |_| false) else {
            return Err(not_a_record());
        };
        let table = self.table(&set).ok_or_else(not_a_record)?;
        match table.find(&key)? {
            Some(at) => Ok((table.spec.logical_name.clone(), table.rows[at].id)),
            None => Err(match key {
                Key::Id(id) => ODataError::record_not_found(&table.spec.logical_name, id),
                Key::Alternate(_) => ODataError::key_not_found(&table.spec.logical_name),
            }),
        }
    }

    /// The logical names of every table.
    pub(crate) fn logical_names(&self) -> impl Iterator<Item = &str> {
        self.tables.values().map(|table| table.spec.logical_name.as_str())
    }

    /// The names of every entity set.
    pub(crate) fn set_names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// Every table.
    pub(crate) fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// The next row version (org-wide and increasing, like Dataverse's `versionnumber`).
    pub(crate) fn next_version(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// The current (latest) row version: every change so far has a version at most this.
    pub(crate) fn current_version(&self) -> u64 {
        self.version
    }

    /// Deletes the row at `at` of `set`, leaving a tombstone with a new version; returns the row.
    pub(crate) fn delete_row(&mut self, set: &str, at: usize) -> Option<Row> {
        let version = self.next_version();
        let table = self.tables.get_mut(set)?;
        if at >= table.rows.len() {
            return None;
        }
        let row = table.rows.remove(at);
        table.tombstones.push(Tombstone { id: row.id, version });
        self.files.forget_record(set, row.id);
        Some(row)
    }

    /// Inserts a seed record as given (lookups already as `_x_value`), replacing one with the same id.
    pub(crate) fn insert_seed(&mut self, entity_set: &str, record: Value) -> Result<Uuid> {
        let Value::Object(mut fields) = record else {
            return Err(Error::Seed {
                entity_set: entity_set.to_owned(),
                reason: format!("a record must be a JSON object, got `{record}`"),
            });
        };
        let version = self.next_version();
        let table = self.table_or_guess(entity_set);
        let primary = table.spec.primary_id.clone();
        let id = match fields.get(&primary) {
            None | Some(Value::Null) => Uuid::new_v4(),
            Some(Value::String(text)) => Uuid::parse_str(text).map_err(|_| Error::Seed {
                entity_set: entity_set.to_owned(),
                reason: format!("the primary id `{primary}` is `{text}`, which is not a GUID"),
            })?,
            Some(other) => {
                return Err(Error::Seed {
                    entity_set: entity_set.to_owned(),
                    reason: format!("the primary id `{primary}` must be a GUID string, got `{other}`"),
                });
            }
        };
        fields.insert(primary, Value::String(id.to_string()));
        fields.entry("versionnumber").or_insert(Value::from(version));
        let row = Row { id, version, fields };
        match table.position(id) {
            Some(at) => table.rows[at] = row,
            None => table.push(row),
        }
        Ok(id)
    }

    /// Merges `changes` into a record, outside any request: a new version and `modifiedon`.
    /// Returns false when there is no such record.
    pub(crate) fn update_direct(&mut self, entity_set: &str, id: Uuid, changes: Value) -> Result<bool> {
        let refuse = |reason: String| Error::Change { entity_set: entity_set.to_owned(), reason };
        let Value::Object(changes) = changes else {
            return Err(refuse(format!("the changes must be a JSON object, got `{changes}`")));
        };
        let Some(at) = self.tables.get(entity_set).and_then(|table| table.position(id)) else {
            return Ok(false);
        };
        let version = self.next_version();
        let Some(table) = self.tables.get_mut(entity_set) else {
            return Ok(false);
        };
        let primary = table.spec.primary_id.clone();
        if changes.get(&primary).is_some_and(|value| value.as_str() != Some(id.to_string().as_str())) {
            return Err(refuse(format!("the primary id `{primary}` of a record cannot change")));
        }
        let row = &mut table.rows[at];
        row.fields.extend(changes);
        row.version = version;
        row.fields.insert("versionnumber".to_owned(), Value::from(version));
        let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).ok();
        if let Some(now) = now.and_then(|now| now.format(&time::format_description::well_known::Rfc3339).ok()) {
            row.fields.insert("modifiedon".to_owned(), Value::String(now));
        }
        Ok(true)
    }

    /// Every record of a set, as the Web API returns them.
    pub(crate) fn snapshot(&self, entity_set: &str) -> Vec<Value> {
        self.tables.get(entity_set).map(|table| table.rows.iter().map(Row::to_json).collect()).unwrap_or_default()
    }

    /// One record of a set, as the Web API returns it.
    pub(crate) fn snapshot_one(&self, entity_set: &str, id: Uuid) -> Option<Value> {
        let table = self.tables.get(entity_set)?;
        table.rows.iter().find(|row| row.id == id).map(Row::to_json)
    }
}
