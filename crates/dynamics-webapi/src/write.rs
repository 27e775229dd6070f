//! Writing: "leave this column alone" versus "set it to null", and lookup binds.

use serde::{Serialize, Serializer};
use uuid::Uuid;

/// A column in a create or update: left alone, cleared to null, or set.
///
/// An update never blanks columns the caller did not mention: mark fields with
/// `#[serde(default, skip_serializing_if = "Patch::is_keep")]` and only `Clear` and `Set` are sent.
///
/// ```
/// use dynamics_webapi::Patch;
///
/// #[derive(serde::Serialize, Default)]
/// struct AccountUpdate {
///     #[serde(skip_serializing_if = "Patch::is_keep")]
///     name: Patch<String>,
///     #[serde(skip_serializing_if = "Patch::is_keep")]
///     telephone1: Patch<String>,
///     #[serde(skip_serializing_if = "Patch::is_keep")]
///     fax: Patch<String>,
/// }
///
/// let update = AccountUpdate { name: Patch::Set("Contoso".into()), telephone1: Patch::Clear, ..Default::default() };
/// assert_eq!(serde_json::to_string(&update)?, r#"{"name":"Contoso","telephone1":null}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Not sent: the column keeps its value.
    #[default]
    Keep,
    /// Sent as `null`: the column is cleared.
    Clear,
    /// Sent with this value.
    Set(T),
}

impl<T> Patch<T> {
    /// True for [`Patch::Keep`]; use it in `skip_serializing_if`.
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// `Some(v)` sets, `None` clears.
    fn from(value: Option<T>) -> Self {
        match value {
            Some(value) => Patch::Set(value),
            None => Patch::Clear,
        }
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(value) => value.serialize(serializer),
            Patch::Keep | Patch::Clear => serializer.serialize_none(),
        }
    }
}

/// The value of a `<navigation property>@odata.bind` annotation: `/<entity set>(<id>)`.
///
/// ```
/// let body = serde_json::json!({
///     "lastname": "Doe",
///     "parentcustomerid_account@odata.bind": dynamics_webapi::bind("accounts", uuid::Uuid::nil()),
/// });
/// assert_eq!(body["parentcustomerid_account@odata.bind"], "/accounts(00000000-0000-0000-0000-000000000000)");
/// ```
pub fn bind(entity_set: &str, id: Uuid) -> String {
    format!("/{entity_set}({id})")
}
