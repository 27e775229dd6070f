//! A table's logical name and primary id column, told from its entity set name (or given with
//! `--logical-name` and `--primary-id`).
//!
//! Dataverse names the entity set of a standard table with the plural of its logical name (`account` ->
//! `accounts`, `opportunity` -> `opportunities`), and its primary id column `<logical name>id`, except for
//! activities, whose primary id is `activityid`. The rule is the inverse of that plural; a custom table whose
//! set name is not a regular plural needs `--logical-name`. Asking `EntityDefinitions` instead would cost a
//! request and a metadata read privilege on every run, for what the rule gets right for the common tables.

use crate::error::{Error, Result};

/// The entity sets of the common activity tables, whose primary id is `activityid`.
const ACTIVITY_SETS: [&str; 9] = [
    "activitypointers",
    "appointments",
    "emails",
    "faxes",
    "letters",
    "phonecalls",
    "recurringappointmentmasters",
    "socialactivities",
    "tasks",
];

/// The names a bulk write and a sync need besides the entity set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableNames {
    pub(crate) logical_name: String,
    pub(crate) primary_id: String,
}

impl TableNames {
    /// The names of `entity_set`, with the flags' values where given.
    pub(crate) fn resolve(entity_set: &str, logical_name: Option<&str>, primary_id: Option<&str>) -> Result<Self> {
        let logical_name = match logical_name.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => {
                check_name(name, "--logical-name")?;
                name.to_owned()
            }
            None => singular(entity_set).ok_or_else(|| {
                Error::usage_with_hint(
                    format!("the logical name of `{entity_set}` cannot be told from the entity set name"),
                    "pass --logical-name with the table's logical name (singular, such as account)",
                )
            })?,
        };
        let primary_id = match primary_id.map(str::trim).filter(|name| !name.is_empty()) {
            Some(column) => {
                check_name(column, "--primary-id")?;
                column.to_owned()
            }
            None if ACTIVITY_SETS.contains(&entity_set) => "activityid".to_owned(),
            None => format!("{logical_name}id"),
        };
        Ok(Self { logical_name, primary_id })
    }
}

fn check_name(name: &str, flag: &str) -> Result<()> {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(Error::usage(format!("{flag} `{name}` is not a name (letters, digits and _)")))
    }
}

/// The singular of a regular plural entity set name: `opportunities` -> `opportunity`, `addresses` ->
/// `address`, `accounts` -> `account`; `None` when it does not end in `s`.
pub(crate) fn singular(entity_set: &str) -> Option<String> {
    if let Some(stem) = entity_set.strip_suffix("ies").filter(|stem| !stem.is_empty()) {
        return Some(format!("{stem}y"));
    }
    for ending in ["sses", "xes", "ches", "shes", "zes"] {
        if entity_set.len() > ending.len() && entity_set.ends_with(ending) {
            return Some(entity_set[..entity_set.len() - 2].to_owned());
        }
    }
    entity_set.strip_suffix('s').filter(|stem| !stem.is_empty() && !stem.ends_with('s')).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_logical_name_and_primary_id_from_the_set() {
        let names = |set: &str| TableNames::resolve(set, None, None).unwrap();
        assert_eq!(names("accounts"), TableNames { logical_name: "account".into(), primary_id: "accountid".into() });
        assert_eq!(names("opportunities").logical_name, "opportunity");
        assert_eq!(names("customeraddresses").logical_name, "customeraddress");
        assert_eq!(names("new_widgets").primary_id, "new_widgetid");
        assert_eq!(names("faxes").logical_name, "fax");
        assert_eq!(names("tasks"), TableNames { logical_name: "task".into(), primary_id: "activityid".into() });
        assert_eq!(singular("contacts").as_deref(), Some("contact"));
        assert_eq!(singular("data"), None);
        assert_eq!(singular("s"), None);
    }

    #[test]
    fn the_flags_win_and_are_checked() {
        let names = TableNames::resolve("contoso_people", Some("contoso_person"), None).unwrap();
        assert_eq!(names.primary_id, "contoso_personid");
        let names = TableNames::resolve("accounts", None, Some("accountid")).unwrap();
        assert_eq!(names.logical_name, "account");
        let error = TableNames::resolve("data", None, None).unwrap_err();
        assert!(error.hint().unwrap_or_default().contains("--logical-name"), "{error}");
        assert!(TableNames::resolve("accounts", Some("account'"), None).is_err());
    }
}
