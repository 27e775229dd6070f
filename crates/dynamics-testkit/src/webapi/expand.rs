//! `$expand` of single-valued navigation properties (lookups): `contacts?$expand=parentcustomerid_account($select=name)`.
//!
//! The emulator has no relationship metadata, so a navigation property is matched to a lookup column
//! by the annotations stored when it was bound, or by its name (`<attribute>_<target table>` or `<attribute>`).
//! Collection-valued navigation properties answer 501, not emulated.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::body::{ASSOCIATED_NAVIGATION_PROPERTY, LOOKUP_LOGICAL_NAME, lookup_attribute};
use super::filter::check_column;
use super::odata_error::ODataError;
use super::store::{Relationship, Row, Store, Table};

/// One expanded navigation property and the columns to return from the related record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expand {
    pub(crate) navigation: String,
    pub(crate) select: Option<Vec<String>>,
}

/// Parses `$expand`: navigation properties separated by commas, each with an optional `($select=…)`.
pub(crate) fn parse(text: &str) -> Result<Vec<Expand>, ODataError> {
    let mut expands = Vec::new();
    for item in split_top_level(text) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (navigation, options) = match item.find('(') {
            Some(open) if item.ends_with(')') => (&item[..open], Some(&item[open + 1..item.len() - 1])),
            Some(_) => {
                return Err(ODataError::bad_query(format!("Syntax error in $expand: `{item}` has an unclosed `(`.")));
            }
            None => (item, None),
        };
        if navigation.is_empty() || !navigation.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ODataError::bad_query(format!(
                "Syntax error in $expand: `{navigation}` is not a navigation property."
            )));
        }
        let mut select = None;
        for option in options.map(split_options).unwrap_or_default() {
            match option.split_once('=') {
                Some(("$select", columns)) => {
                    let columns: Vec<String> =
                        columns.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
                    for column in &columns {
                        check_column(column).map_err(ODataError::bad_query)?;
                    }
                    select = Some(columns);
                }
                _ => return Err(ODataError::not_emulated(format!("the $expand option `{option}`"))),
            }
        }
        expands.push(Expand { navigation: navigation.to_owned(), select });
    }
    Ok(expands)
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_options(text: &str) -> Vec<&str> {
    text.split(';').map(str::trim).filter(|option| !option.is_empty()).collect()
}

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
                .filter(|related| super::compare::equal(related.get(&column), &id))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_navigation_properties_with_nested_select() {
        let expands = parse("parentcustomerid_account($select=name,accountnumber),ownerid").unwrap();
        assert_eq!(expands.len(), 2);
        assert_eq!(expands[0].select.as_deref(), Some(&["name".to_owned(), "accountnumber".to_owned()][..]));
        assert_eq!(expands[1], Expand { navigation: "ownerid".into(), select: None });
        assert_eq!(parse("x($filter=a eq 1)").unwrap_err().status, 501);
        assert_eq!(parse("x($select=a").unwrap_err().status, 400);
    }
}
