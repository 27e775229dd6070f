//! Content-IDs, and the `$n` references to them that later operations of a change set make.

use std::fmt;

use serde_json::Value;

/// The Content-ID of an operation in a change set.
///
/// A later operation of the same change set can name the record the operation creates as `$<id>`,
/// at the start of its URL (`$1/lastname`) or as an `@odata.bind` value (`"$1"`).
/// Requests in different change sets, or outside any change set, cannot reference it.
///
/// ```
/// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
/// use serde_json::json;
///
/// let mut change_set = ChangeSet::new();
/// let lead = change_set.push(ChangeSetOperation::post("leads", &json!({"lastname": "Ng"})));
/// assert_eq!(lead.as_str(), "1");
/// assert_eq!(lead.reference(), "$1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentId(String);

impl ContentId {
    pub(crate) fn from_number(number: usize) -> Self {
        Self(number.to_string())
    }

    /// A Content-ID kept as given although it is not valid; the batch reports it when built.
    pub(crate) fn unchecked(id: String) -> Self {
        Self(id)
    }

    /// Checks an explicit Content-ID: letters, digits, `-`, `_` and `.`, at least one.
    pub(crate) fn parse(id: &str) -> Option<Self> {
        (!id.is_empty() && id.bytes().all(is_id_byte)).then(|| Self(id.to_owned()))
    }

    /// The Content-ID as it is written in the `Content-ID` header.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
    ///
    /// let mut change_set = ChangeSet::new();
    /// let id = change_set.push(ChangeSetOperation::delete("tasks(00000000-0000-0000-0000-000000000001)").content_id("del"));
    /// assert_eq!(id.as_str(), "del");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reference to this operation's result, `$` and the Content-ID, for a later URL or `@odata.bind` value.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
    /// use serde_json::json;
    ///
    /// let mut change_set = ChangeSet::new();
    /// let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "Ana"})));
    /// change_set.push(ChangeSetOperation::put(format!("{}/lastname", contact.reference()), &json!({"value": "Li"})));
    /// change_set.push(ChangeSetOperation::post(
    ///     "accounts",
    ///     &json!({"name": "Fabrikam", "primarycontactid@odata.bind": contact.reference()}),
    /// ));
    /// assert_eq!(change_set.len(), 3);
    /// ```
    pub fn reference(&self) -> String {
        format!("${}", self.0)
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_id_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.')
}

/// Resources whose names start with `$` but are not Content-ID references.
const SYSTEM_RESOURCES: [&str; 6] = ["metadata", "batch", "entity", "crossjoin", "all", "root"];

/// The Content-ID a URL or `@odata.bind` value refers to, if it starts with `$<id>`.
///
/// `$metadata` and the other system resources are not references.
pub(crate) fn reference_in(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('$')?;
    let end = rest.find(|c: char| !c.is_ascii() || !is_id_byte(c as u8)).unwrap_or(rest.len());
    let id = &rest[..end];
    (!SYSTEM_RESOURCES.contains(&id)).then_some(id)
}

/// Every Content-ID referenced by an `@odata.bind` value anywhere in a JSON body, deep inserts included.
pub(crate) fn references_in_body(body: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(body, &mut found);
    found
}

fn collect(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key.ends_with("@odata.bind") {
                    match value {
                        Value::String(text) => found.extend(reference_in(text).map(str::to_owned)),
                        Value::Array(items) => found
                            .extend(items.iter().filter_map(Value::as_str).filter_map(reference_in).map(str::to_owned)),
                        _ => {}
                    }
                }
                collect(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{ContentId, reference_in, references_in_body};

    #[test]
    fn explicit_ids_are_tokens() {
        assert_eq!(ContentId::parse("1").unwrap().as_str(), "1");
        assert_eq!(ContentId::parse("new-contact_2.a").unwrap().as_str(), "new-contact_2.a");
        for bad in ["", "a b", "a/b", "$1", "é", "a\r\n"] {
            assert!(ContentId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn references_are_found_at_the_start_of_urls() {
        assert_eq!(reference_in("$1"), Some("1"));
        assert_eq!(reference_in("$1/lastname"), Some("1"));
        assert_eq!(reference_in("$12?$select=name"), Some("12"));
        assert_eq!(reference_in("$contact/parentcustomerid_account/$ref"), Some("contact"));
        assert_eq!(reference_in("$"), Some(""));
        assert_eq!(reference_in("accounts"), None);
        assert_eq!(reference_in("accounts($1)"), None);
        assert_eq!(reference_in("$metadata"), None);
        assert_eq!(reference_in("$batch"), None);
    }

    #[test]
    fn references_are_found_in_bind_values_at_any_depth() {
        let body = json!({
            "name": "$1 is a price, not a reference",
            "originatingleadid@odata.bind": "$1",
            "primarycontactid@odata.bind": "/contacts(00000000-0000-0000-0000-000000000001)",
            "contact_customer_accounts": [
                {"firstname": "a", "parentcustomerid_account@odata.bind": "$2"}
            ],
            "opportunity_customer_accounts@odata.bind": ["$3", "/opportunities(00000000-0000-0000-0000-000000000002)"],
            "empty@odata.bind": "",
            "number@odata.bind": 4
        });
        let mut found = references_in_body(&body);
        found.sort();
        assert_eq!(found, ["1", "2", "3"]);
    }

    #[test]
    fn display_is_the_bare_id() {
        let id = ContentId::from_number(7);
        assert_eq!(id.to_string(), "7");
        assert_eq!(id.reference(), "$7");
    }
}
