//! Turning a write's JSON body into column changes: `@odata.bind` lookups become `_x_value` columns
//! (with their lookup annotations), annotations are dropped, read-only and unknown shapes are refused.
//! The record URL of a lookup is resolved by the caller, who knows the records.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::ODataError;
use super::filter::check_column;
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

/// The column changes a body asks for; `resolve` turns a lookup's record URL into the record's table
/// (its logical name) and id.
pub(crate) fn changes(
    spec: &EntitySetSpec,
    body: Map<String, Value>,
    resolve: impl Fn(&str) -> Result<(String, Uuid), ODataError>,
) -> Result<Map<String, Value>, ODataError> {
    let mut changes = Map::new();
    for (name, value) in body {
        if let Some(navigation) = name.strip_suffix("@odata.bind") {
            match value {
                Value::String(reference) => {
                    let (target_logical, id) = resolve(&reference)?;
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
