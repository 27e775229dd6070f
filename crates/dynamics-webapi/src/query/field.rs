//! Column tokens: [`Field`], [`Lookup`], [`RawField`] and [`Related`], all [`Column`]s.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use uuid::Uuid;

use super::{AnyValue, FieldType};

/// Something that names a column of the entity `Entity`, with values of type `Type`.
///
/// Implemented by [`Field`], [`Lookup`], [`RawField`] and [`Related`].
/// The operators come from the extension traits in [`prelude`](super::prelude),
/// each implemented for the columns whose kind of value supports it.
pub trait Column {
    /// The entity (table) the column belongs to.
    type Entity;

    /// The column's declared type, such as `Option<String>`.
    type Type: FieldType;

    /// The property path used in `$select`, `$filter` and `$orderby`,
    /// such as `name`, `_parentaccountid_value` or `primarycontactid/fullname`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Column, Lookup, Untyped};
    ///
    /// const PARENT: Lookup<Untyped> = Lookup::new("parentaccountid");
    /// assert_eq!(PARENT.path(), "_parentaccountid_value");
    /// ```
    fn path(&self) -> Cow<'static, str>;

    /// The name Dataverse's query functions expect in `PropertyName`: the attribute's logical name.
    ///
    /// It is the same as [`path`](Column::path) except for lookups, where it is the logical name
    /// (`parentaccountid`) rather than the read-side property (`_parentaccountid_value`).
    ///
    /// ```
    /// use dynamics_webapi::query::{Column, Lookup, Untyped};
    ///
    /// const PARENT: Lookup<Untyped> = Lookup::new("parentaccountid");
    /// assert_eq!(PARENT.attribute(), "parentaccountid");
    /// ```
    fn attribute(&self) -> Cow<'static, str> {
        self.path()
    }
}

/// The entity type of untyped queries, whose entity set is named at run time.
///
/// ```
/// use dynamics_webapi::query::{Query, Untyped};
///
/// let query: Query<Untyped> = Query::untyped("accounts");
/// assert_eq!(query.entity_set(), "accounts");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Untyped {}

/// A typed column of entity `E` whose values are `T` (`Option<T>` when the column can be null).
///
/// A zero-cost token, built in a `const`, so generated code can declare one constant per column.
/// Which operators it has depends on `T`: see [`prelude`](super::prelude).
///
/// # Examples
///
/// ```
/// use dynamics_webapi::entity::Entity;
/// use dynamics_webapi::query::{Field, prelude::*};
/// use rust_decimal::Decimal;
///
/// struct Account;
/// impl Entity for Account {
///     const ENTITY_SET: &'static str = "accounts";
///     const LOGICAL_NAME: &'static str = "account";
///     const PRIMARY_ID: &'static str = "accountid";
/// }
///
/// const NAME: Field<Account, Option<String>> = Field::new("name");
/// const REVENUE: Field<Account, Option<Decimal>> = Field::new("revenue");
///
/// let filter = NAME.starts_with("Con").and(REVENUE.ge(Decimal::new(1_000_000, 0)));
/// assert_eq!(filter.to_string(), "startswith(name,'Con') and revenue ge 1000000");
/// ```
///
/// A text column cannot be compared with a number:
///
/// ```compile_fail,E0277
/// use dynamics_webapi::query::{Field, Untyped, prelude::*};
///
/// const NAME: Field<Untyped, Option<String>> = Field::new("name");
/// let _ = NAME.eq(5);
/// ```
pub struct Field<E, T> {
    name: &'static str,
    marker: PhantomData<fn() -> (E, T)>,
}

impl<E, T> Field<E, T> {
    /// A token for the column with this logical name.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// assert_eq!(NAME.name(), "name");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Self { name, marker: PhantomData }
    }

    /// The column's logical name.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped};
    ///
    /// assert_eq!(Field::<Untyped, i32>::new("numberofemployees").name(), "numberofemployees");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<E, T> Clone for Field<E, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E, T> Copy for Field<E, T> {}

impl<E, T> fmt::Debug for Field<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Field").field(&self.name).finish()
    }
}

impl<E, T: FieldType> Column for Field<E, T> {
    type Entity = E;
    type Type = T;

    fn path(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.name)
    }
}

/// A lookup column of entity `E`, read as the GUID of the related row.
///
/// Dataverse exposes a lookup `parentaccountid` for reading as `_parentaccountid_value`;
/// this token is built from the logical name and renders the read-side property.
/// It compares only with a [`Uuid`], and can be null.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::{Lookup, Untyped, prelude::*};
/// use uuid::Uuid;
///
/// const PARENT: Lookup<Untyped> = Lookup::new("parentaccountid");
///
/// let id = Uuid::from_u128(1);
/// assert_eq!(
///     PARENT.eq(id).to_string(),
///     "_parentaccountid_value eq 00000000-0000-0000-0000-000000000001",
/// );
/// assert_eq!(PARENT.is_null().to_string(), "_parentaccountid_value eq null");
/// ```
///
/// A GUID lookup cannot be compared with a string:
///
/// ```compile_fail,E0277
/// use dynamics_webapi::query::{Lookup, Untyped, prelude::*};
///
/// const PARENT: Lookup<Untyped> = Lookup::new("parentaccountid");
/// let _ = PARENT.eq("00000000-0000-0000-0000-000000000001");
/// ```
pub struct Lookup<E> {
    name: &'static str,
    marker: PhantomData<fn() -> E>,
}

impl<E> Lookup<E> {
    /// A token for the lookup with this logical name (`parentaccountid`, not `_parentaccountid_value`).
    ///
    /// ```
    /// use dynamics_webapi::query::{Lookup, Untyped};
    ///
    /// const OWNER: Lookup<Untyped> = Lookup::new("ownerid");
    /// assert_eq!(OWNER.name(), "ownerid");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Self { name, marker: PhantomData }
    }

    /// The lookup's logical name.
    ///
    /// ```
    /// use dynamics_webapi::query::{Lookup, Untyped};
    ///
    /// assert_eq!(Lookup::<Untyped>::new("parentaccountid").name(), "parentaccountid");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<E> Clone for Lookup<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Lookup<E> {}

impl<E> fmt::Debug for Lookup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lookup").field(&self.name).finish()
    }
}

impl<E> Column for Lookup<E> {
    type Entity = E;
    type Type = Option<Uuid>;

    fn path(&self) -> Cow<'static, str> {
        Cow::Owned(format!("_{}_value", self.name))
    }

    fn attribute(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.name)
    }
}

/// An untyped column named at run time: the escape hatch for columns nobody generated.
///
/// It accepts any [`Literal`](super::Literal) and has every operator, so nothing is checked
/// at compile time; its name is still checked when the query renders.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::{Query, RawField, prelude::*};
///
/// let query = Query::untyped("new_projects")
///     .select("new_name")
///     .filter(RawField::new("new_budget").gt(1000).or(RawField::new("new_name").contains("urgent")));
/// assert_eq!(
///     query.to_string(),
///     "$select=new_name&$filter=new_budget gt 1000 or contains(new_name,'urgent')",
/// );
/// ```
pub struct RawField<E = Untyped> {
    name: Cow<'static, str>,
    marker: PhantomData<fn() -> E>,
}

impl<E> RawField<E> {
    /// A column with this property path.
    ///
    /// ```
    /// use dynamics_webapi::query::{Column, RawField, Untyped};
    ///
    /// assert_eq!(RawField::<Untyped>::new(String::from("name")).path(), "name");
    /// ```
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self { name: name.into(), marker: PhantomData }
    }
}

impl<E> Clone for RawField<E> {
    fn clone(&self) -> Self {
        Self::new(self.name.clone())
    }
}

impl<E> fmt::Debug for RawField<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawField").field(&self.name).finish()
    }
}

impl<E> Column for RawField<E> {
    type Entity = E;
    type Type = AnyValue;

    fn path(&self) -> Cow<'static, str> {
        self.name.clone()
    }
}

/// A column reached through a single-valued navigation property, such as `primarycontactid/fullname`.
///
/// Built with [`NavOne::field`](super::NavOne::field); it belongs to the entity `S` the path starts from.
///
/// ```
/// use dynamics_webapi::query::{Field, NavOne, Untyped, prelude::*};
///
/// struct Contact;
/// const FULLNAME: Field<Contact, Option<String>> = Field::new("fullname");
/// const PRIMARY_CONTACT: NavOne<Untyped, Contact> = NavOne::new("primarycontactid");
///
/// let filter = PRIMARY_CONTACT.field(FULLNAME).eq("Yvonne");
/// assert_eq!(filter.to_string(), "primarycontactid/fullname eq 'Yvonne'");
/// ```
pub struct Related<S, C> {
    navigation: &'static str,
    column: C,
    marker: PhantomData<fn() -> S>,
}

impl<S, C> Related<S, C> {
    pub(crate) fn new(navigation: &'static str, column: C) -> Self {
        Self { navigation, column, marker: PhantomData }
    }
}

impl<S, C: Clone> Clone for Related<S, C> {
    fn clone(&self) -> Self {
        Self::new(self.navigation, self.column.clone())
    }
}

impl<S, C: Copy> Copy for Related<S, C> {}

impl<S, C: fmt::Debug> fmt::Debug for Related<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Related").field("navigation", &self.navigation).field("column", &self.column).finish()
    }
}

impl<S, C: Column> Column for Related<S, C> {
    type Entity = S;
    type Type = C::Type;

    fn path(&self) -> Cow<'static, str> {
        Cow::Owned(format!("{}/{}", self.navigation, self.column.path()))
    }
}

#[cfg(test)]
mod tests {
    use super::{Column, Field, Lookup, RawField, Related, Untyped};

    struct Contact;

    #[test]
    fn paths_and_attributes() {
        const NAME: Field<Untyped, String> = Field::new("name");
        const OWNER: Lookup<Untyped> = Lookup::new("ownerid");
        let fullname: Field<Contact, String> = Field::new("fullname");
        let related: Related<Untyped, _> = Related::new("primarycontactid", fullname);

        assert_eq!(NAME.path(), "name");
        assert_eq!(NAME.attribute(), "name");
        assert_eq!(OWNER.path(), "_ownerid_value");
        assert_eq!(OWNER.attribute(), "ownerid");
        assert_eq!(related.path(), "primarycontactid/fullname");
        assert_eq!(RawField::<Untyped>::new("x").path(), "x");
    }

    #[test]
    fn debug_shows_the_name() {
        const NAME: Field<Untyped, String> = Field::new("name");
        assert_eq!(format!("{NAME:?}"), "Field(\"name\")");
        assert_eq!(format!("{:?}", Lookup::<Untyped>::new("ownerid")), "Lookup(\"ownerid\")");
        assert_eq!(format!("{:?}", RawField::<Untyped>::new("x")), "RawField(\"x\")");
    }
}
