//! Turning a write's JSON body into column changes: `@odata.bind` lookups become `_x_value` columns
//! (with their lookup annotations), annotations are dropped, read-only and unknown shapes are refused.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::filter::check_column;
use super::odata_error::ODataError;
use super::store::Store;
use super::target::{self, Key, Target};
use crate::EntitySetSpec;

pub(crate) const LOOKUP_LOGICAL_NAME: &str = "@Microsoft.Dynamics.CRM.lookuplogicalname";
pub(crate) const ASSOCIATED_NAVIGATION_PROPERTY: &str = "@Microsoft.Dynamics.CRM.associatednavigationproperty";

/// Parses a body that must be a JSON object.
pub(crate) fn parse_object(body: &[u8], logical_name: &str) -> Result<Map<String, Value>, ODataError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => {
            Err(ODataError::bad_payload(logical_name, format!("the body must be a JSON object, not `{other}`")))
        }
        Err(error) => Err(ODataError::bad_payload(logical_name, format!("the body is not valid JSON ({error})"))),
    }
}

/// The column changes a body asks for, lookups resolved against `store`.
pub(crate) fn changes(
    store: &Store,
    spec: &EntitySetSpec,
    body: Map<String, Value>,
) -> Result<Map<String, Value>, ODataError> {
    let mut changes = Map::new();
    for (name, value) in body {
        if let Some(navigation) = name.strip_suffix("@odata.bind") {
            match value {
                Value::String(reference) => {
                    let (target_logical, id) = resolve_reference(store, &reference)?;
                    set_lookup(&mut changes, navigation, &target_logical, Some(id));
                }
                Value::Null => {
                    let attribute = lookup_attribute(navigation, None);
                    changes.insert(format!("_{attribute}_value"), Value::Null);
                }
                other => {
                    return Err(ODataError::bad_payload(
                        &spec.logical_name,
                        format!("`{name}` must be a record URL such as \"/accounts(<id>)\", not `{other}`"),
                    ));
                }
            }
            continue;
        }
        if name.contains('@') {
            continue; // instance annotations (`@odata.type`, `x@OData.Community…`) are not stored
        }
        if name.len() > "__value".len() && name.starts_with('_') && name.ends_with("_value") {
            let attribute = &name[1..name.len() - "_value".len()];
            return Err(ODataError::bad_query(format!(
                "The property '{name}' is read-only: set the lookup with '<navigation property>@odata.bind' (for example '{attribute}_account@odata.bind': '/accounts(<id>)')."
            )));
        }
        check_column(&name).map_err(|_| {
            ODataError::bad_query(format!(
                "The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{}'. Make sure to only use property names that are defined by the type.",
                spec.logical_name
            ))
        })?;
        if value.is_object() || value.is_array() {
            return Err(ODataError::not_emulated(format!("deep insert or a complex value (the property '{name}')")));
        }
        changes.insert(name, value);
    }
    Ok(changes)
}

/// Sets a lookup column and its annotations in `fields`.
pub(crate) fn set_lookup(fields: &mut Map<String, Value>, navigation: &str, target_logical: &str, id: Option<Uuid>) {
    let attribute = lookup_attribute(navigation, Some(target_logical));
    let column = format!("_{attribute}_value");
    fields.insert(column.clone(), id.map_or(Value::Null, |id| Value::String(id.to_string())));
    fields.insert(format!("{column}{LOOKUP_LOGICAL_NAME}"), Value::String(target_logical.to_owned()));
    fields.insert(format!("{column}{ASSOCIATED_NAVIGATION_PROPERTY}"), Value::String(navigation.to_owned()));
}

/// The lookup column behind a navigation property: `parentcustomerid_account` (to `account`) is
/// `parentcustomerid`; `primarycontactid` is itself; custom schema names are lower-cased.
pub(crate) fn lookup_attribute(navigation: &str, target_logical: Option<&str>) -> String {
    let lower = navigation.to_ascii_lowercase();
    if let Some(target) = target_logical {
        let suffix = format!("_{target}");
        if let Some(at) = lower.find(&suffix)
            && at > 0
        {
            return lower[..at].to_owned();
        }
    }
    lower
}

/// Resolves a record URL (`/accounts(<id>)`, `accounts(accountnumber='A1')`, or absolute) to its table's
/// logical name and the record's id. The record must exist.
pub(crate) fn resolve_reference(store: &Store, reference: &str) -> Result<(String, Uuid), ODataError> {
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
    let Ok(Target::Record { set, key }) = target::parse(path, store) else {
        return Err(not_a_record());
    };
    let table = store.table(&set).ok_or_else(not_a_record)?;
    let position = find(table, &key)?;
    match position {
        Some(at) => Ok((table.spec.logical_name.clone(), table.rows[at].id)),
        None => Err(match key {
            Key::Id(id) => ODataError::record_not_found(&table.spec.logical_name, id),
            Key::Alternate(_) => ODataError::key_not_found(&table.spec.logical_name),
        }),
    }
}

/// The position of the record a key addresses; an alternate key must be one the table declares.
pub(crate) fn find(table: &super::store::Table, key: &Key) -> Result<Option<usize>, ODataError> {
    match key {
        Key::Id(id) => Ok(table.position(*id)),
        Key::Alternate(parts) => {
            let columns: Vec<&str> = parts.iter().map(|(column, _)| column.as_str()).collect();
            if let [only] = columns.as_slice()
                && *only == table.spec.primary_id
            {
                let id = parts[0].1.as_str().and_then(|text| Uuid::parse_str(text).ok());
                return Ok(id.and_then(|id| table.position(id)));
            }
            if !table.has_alternate_key(&columns) {
                let declared: Vec<String> =
                    table.spec.alternate_keys.iter().map(|key| format!("({})", key.join(","))).collect();
                return Err(ODataError::bad_query(format!(
                    "The key ({}) is not an alternate key of the table '{}'; its alternate keys are: {}.",
                    columns.join(","),
                    table.spec.logical_name,
                    if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
                )));
            }
            Ok(table.position_by_key(parts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigation_properties_map_to_lookup_columns() {
        assert_eq!(lookup_attribute("parentcustomerid_account", Some("account")), "parentcustomerid");
        assert_eq!(lookup_attribute("regardingobjectid_account_task", Some("account")), "regardingobjectid");
        assert_eq!(lookup_attribute("primarycontactid", Some("contact")), "primarycontactid");
        assert_eq!(lookup_attribute("new_ParentWidget", Some("new_widget")), "new_parentwidget");
    }
}
