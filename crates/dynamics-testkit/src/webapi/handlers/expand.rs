//! `$expand` on the store's records: single-valued navigation properties (lookups) and the
//! collection-valued ones of the known one-to-many relationships.
//!
//! The emulator has no relationship metadata, so a navigation property is matched to a lookup column
//! by the annotations stored when it was bound, or by its name (`<attribute>_<target table>` or `<attribute>`).
//! Other navigation properties answer 501, not emulated.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::webapi::odata::body::{ASSOCIATED_NAVIGATION_PROPERTY, LOOKUP_LOGICAL_NAME, lookup_attribute};
use crate::webapi::odata::compare;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::expand::Expand;
use crate::webapi::store::{Relationship, Row, Store, Table};

/// How a navigation property is expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expansion {
    /// A single-valued navigation property: the record its lookup column points at.
    Single(String),
    /// A collection-valued navigation property: the records whose lookup points at this one.
    Many(Relationship),
}

/// How `navigation` of `table` expands, checked before any record is projected.
pub(crate) fn expansion(store: &Store, table: &Table, navigation: &str) -> Result<Expansion, ODataError> {
    if let Some(relationship) = store.relationship(&table.spec.name, navigation) {
        return Ok(Expansion::Many(relationship.clone()));
    }
    lookup_column(store, table, navigation).map(Expansion::Single)
}

/// The lookup column behind `navigation` in `table`.
fn lookup_column(store: &Store, table: &Table, navigation: &str) -> Result<String, ODataError> {
    for row in &table.rows {
        for (name, value) in &row.fields {
            if let Some(column) = name.strip_suffix(ASSOCIATED_NAVIGATION_PROPERTY)
                && value.as_str() == Some(navigation)
            {
                return Ok(column.to_owned());
            }
        }
    }
    let candidates = store
        .logical_names()
        .map(|logical| lookup_attribute(navigation, Some(logical)))
        .chain(std::iter::once(lookup_attribute(navigation, None)));
    for attribute in candidates {
        let column = format!("_{attribute}_value");
        if table.rows.iter().any(|row| row.fields.contains_key(&column)) {
            return Ok(column);
        }
    }
    Err(ODataError::not_emulated(format!(
        "expanding `{navigation}` (a collection-valued or unknown navigation property of '{}')",
        table.spec.logical_name
    )))
}

/// Adds the expanded record (or `null`), or the related records, under the navigation property's name.
pub(crate) fn apply(store: &Store, row: &Row, expand: &Expand, expansion: &Expansion, out: &mut Map<String, Value>) {
    match expansion {
        Expansion::Single(column) => apply_single(store, row, expand, column, out),
        Expansion::Many(relationship) => {
            let Some(table) = store.table(&relationship.referencing_set) else {
                out.insert(expand.navigation.clone(), Value::Array(Vec::new()));
                return;
            };
            let column = relationship.column();
            let id = Value::String(row.id.to_string());
            let columns = with_primary_id(expand.select.as_ref(), table);
            let related: Vec<Value> = table
                .rows
                .iter()
                .filter(|related| compare::equal(related.get(&column), &id))
                .map(|related| related.project(columns.as_deref(), false))
                .collect();
            out.insert(expand.navigation.clone(), Value::Array(related));
        }
    }
}

fn with_primary_id(select: Option<&Vec<String>>, table: &Table) -> Option<Vec<String>> {
    select.map(|columns| {
        let mut columns = columns.clone();
        if !columns.contains(&table.spec.primary_id) {
            columns.push(table.spec.primary_id.clone());
        }
        columns
    })
}

fn apply_single(store: &Store, row: &Row, expand: &Expand, column: &str, out: &mut Map<String, Value>) {
    let related = row.get(column).as_str().and_then(|text| Uuid::parse_str(text).ok()).and_then(|id| {
        let logical = row.get(&format!("{column}{LOOKUP_LOGICAL_NAME}")).as_str().map(str::to_owned);
        store
            .tables()
            .filter(|table| logical.as_deref().is_none_or(|logical| table.spec.logical_name == logical))
            .find_map(|table| table.position(id).map(|at| (table, &table.rows[at])))
    });
    let value = match related {
        Some((table, related)) => related.project(with_primary_id(expand.select.as_ref(), table).as_deref(), false),
        None => Value::Null,
    };
    out.insert(expand.navigation.clone(), value);
}
