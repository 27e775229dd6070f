//! The description of an emulated table: its entity set, logical name, primary id, alternate keys,
//! and the table options the emulator honours (change tracking, elastic).

/// An entity set the emulator serves.
///
/// ```
/// use dynamics_testkit::EntitySetSpec;
///
/// let spec = EntitySetSpec::new("new_widgets", "new_widget", "new_widgetid")
///     .alternate_key(["new_code"])
///     .alternate_key(["new_region", "new_serial"])
///     .change_tracking(true);
/// assert_eq!(spec.alternate_keys.len(), 2);
/// assert!(spec.change_tracking && !spec.elastic);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySetSpec {
    /// The entity set name used in URLs, such as `accounts`.
    pub name: String,
    /// The table's logical name, such as `account` (used in error messages and privilege names).
    pub logical_name: String,
    /// The primary id column, such as `accountid`.
    pub primary_id: String,
    /// Alternate keys: each is the list of columns that together identify a record,
    /// such as `[["accountnumber"]]`.
    pub alternate_keys: Vec<Vec<String>>,
    /// Whether the table has change tracking on (**Track changes**, `ChangeTrackingEnabled`): reads with
    /// `Prefer: odata.track-changes` get a delta link, and delta links return what changed. Off by default;
    /// on for the default `accounts` and `contacts`. A table without it answers `0x80072491`.
    pub change_tracking: bool,
    /// Whether the table is an elastic table: `DeleteMultiple` is served (standard tables answer
    /// "DeleteMultiple has not yet been implemented."), and a bulk request is not one transaction — the
    /// records that can be written are, and the error lists each record's status. Off by default.
    pub elastic: bool,
}

impl EntitySetSpec {
    /// A spec with no alternate keys.
    pub fn new(name: impl Into<String>, logical_name: impl Into<String>, primary_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            logical_name: logical_name.into(),
            primary_id: primary_id.into(),
            alternate_keys: Vec::new(),
            change_tracking: false,
            elastic: false,
        }
    }

    /// Turns change tracking on or off for the table.
    #[must_use]
    pub fn change_tracking(mut self, enabled: bool) -> Self {
        self.change_tracking = enabled;
        self
    }

    /// Makes the table an elastic table (or a standard one): see the `elastic` field.
    #[must_use]
    pub fn elastic(mut self, elastic: bool) -> Self {
        self.elastic = elastic;
        self
    }

    /// Adds an alternate key made of `columns` (one column for a single key, several for a composite one).
    #[must_use]
    pub fn alternate_key<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.alternate_keys.push(columns.into_iter().map(Into::into).collect());
        self
    }

    /// The specs of the tables the emulator knows out of the box:
    /// `accounts` (key `accountnumber`), `contacts` (keys `emailaddress1` and `firstname`+`lastname`),
    /// `systemusers`, `businessunits`, `organizations`, `tasks` and `opportunities`;
    /// `accounts` and `contacts` have change tracking on.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::new("accounts", "account", "accountid").alternate_key(["accountnumber"]).change_tracking(true),
            Self::new("contacts", "contact", "contactid")
                .alternate_key(["emailaddress1"])
                .alternate_key(["firstname", "lastname"])
                .change_tracking(true),
            Self::new("systemusers", "systemuser", "systemuserid").alternate_key(["applicationid"]),
            Self::new("businessunits", "businessunit", "businessunitid"),
            Self::new("organizations", "organization", "organizationid"),
            Self::new("tasks", "task", "activityid"),
            Self::new("opportunities", "opportunity", "opportunityid"),
        ]
    }

    /// A spec guessed from an entity set name alone, for sets that were never registered:
    /// `new_widgets` becomes logical name `new_widget` and primary id `new_widgetid`.
    pub(crate) fn guess(name: &str) -> Self {
        let logical = if let Some(stem) = name.strip_suffix("ies") {
            format!("{stem}y")
        } else if let Some(stem) = name.strip_suffix('s') {
            stem.to_owned()
        } else {
            name.to_owned()
        };
        let primary = format!("{logical}id");
        Self::new(name, logical, primary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_logical_name_and_primary_id_from_the_set_name() {
        let spec = EntitySetSpec::guess("new_widgets");
        assert_eq!((spec.logical_name.as_str(), spec.primary_id.as_str()), ("new_widget", "new_widgetid"));
        assert_eq!(EntitySetSpec::guess("new_categories").logical_name, "new_category");
    }
}
