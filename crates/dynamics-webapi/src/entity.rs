//! The [`Entity`] trait: what the client needs to know about a Dataverse table.
//!
//! Structs generated from an org's CSDL implement it, and so can hand-written ones.
//! Everything the crate does with an `Entity` also works untyped, naming the entity set at run time.

/// A Dataverse table (an OData entity type) as the Web API names it.
///
/// The three names differ and are easy to mix up:
/// the entity set name goes into the URL path (`accounts`),
/// the logical name identifies the table (`account`),
/// and the primary id attribute is the key column (`accountid`).
///
/// The trait has only associated constants, so it costs nothing at run time
/// and a type can be used as a marker (`Query<Account>`) without ever being built.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::entity::Entity;
///
/// struct Account;
///
/// impl Entity for Account {
///     const ENTITY_SET: &'static str = "accounts";
///     const LOGICAL_NAME: &'static str = "account";
///     const PRIMARY_ID: &'static str = "accountid";
/// }
///
/// assert_eq!(Account::ENTITY_SET, "accounts");
/// assert_eq!(Account::LOGICAL_NAME, "account");
/// assert_eq!(Account::PRIMARY_ID, "accountid");
/// ```
pub trait Entity {
    /// The entity set name used in URLs, such as `accounts` in `/api/data/v9.2/accounts`.
    ///
    /// Dataverse calls it `EntitySetName`; it is usually, but not always, the plural of the logical name.
    const ENTITY_SET: &'static str;

    /// The table's logical name, such as `account` (Dataverse's `LogicalName`).
    const LOGICAL_NAME: &'static str;

    /// The primary id attribute, such as `accountid` (Dataverse's `PrimaryIdAttribute`).
    const PRIMARY_ID: &'static str;
}

#[cfg(test)]
mod tests {
    use super::Entity;

    struct Contact;

    impl Entity for Contact {
        const ENTITY_SET: &'static str = "contacts";
        const LOGICAL_NAME: &'static str = "contact";
        const PRIMARY_ID: &'static str = "contactid";
    }

    fn names<E: Entity>() -> [&'static str; 3] {
        [E::ENTITY_SET, E::LOGICAL_NAME, E::PRIMARY_ID]
    }

    #[test]
    fn names_are_available_through_a_generic_parameter() {
        assert_eq!(names::<Contact>(), ["contacts", "contact", "contactid"]);
    }
}
