//! Navigation property tokens: [`NavOne`] (single-valued) and [`NavMany`] (collection-valued).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::filter::{Expr, Lambda, LambdaKind};
use super::{Column, ExpandMany, ExpandOne, Filter, Related};

/// A single-valued navigation property from entity `S` to entity `T`, such as `primarycontactid`.
///
/// It can be expanded ([`expand`](NavOne::expand)) and its target's columns can be filtered
/// on ([`field`](NavOne::field)). It has no `any`/`all`: those need a collection.
///
/// ```compile_fail,E0599
/// use dynamics_webapi::query::{Field, NavOne, Untyped, prelude::*};
///
/// struct Contact;
/// const FULLNAME: Field<Contact, String> = Field::new("fullname");
/// const PRIMARY_CONTACT: NavOne<Untyped, Contact> = NavOne::new("primarycontactid");
/// let _ = PRIMARY_CONTACT.any("c", FULLNAME.eq("x"));
/// ```
pub struct NavOne<S, T> {
    name: &'static str,
    marker: PhantomData<fn() -> (S, T)>,
}

impl<S, T> NavOne<S, T> {
    /// A token for the navigation property with this name.
    ///
    /// ```
    /// use dynamics_webapi::query::{NavOne, Untyped};
    ///
    /// const PRIMARY_CONTACT: NavOne<Untyped, Untyped> = NavOne::new("primarycontactid");
    /// assert_eq!(PRIMARY_CONTACT.name(), "primarycontactid");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Self { name, marker: PhantomData }
    }

    /// The navigation property's name.
    ///
    /// ```
    /// use dynamics_webapi::query::{NavOne, Untyped};
    ///
    /// assert_eq!(NavOne::<Untyped, Untyped>::new("ownerid").name(), "ownerid");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Starts an `$expand` of this property, to which a nested `$select` can be added.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, NavOne, Query, Untyped};
    ///
    /// struct Contact;
    /// const FULLNAME: Field<Contact, String> = Field::new("fullname");
    /// const PRIMARY_CONTACT: NavOne<Untyped, Contact> = NavOne::new("primarycontactid");
    ///
    /// let query = Query::untyped("accounts").expand(PRIMARY_CONTACT.expand().select(FULLNAME));
    /// assert_eq!(query.to_string(), "$expand=primarycontactid($select=fullname)");
    /// ```
    pub fn expand(self) -> ExpandOne<S, T> {
        ExpandOne::new(self.name)
    }

    /// A column of the related row, such as `primarycontactid/fullname`, to filter, select or order on.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, NavOne, Untyped, prelude::*};
    ///
    /// struct Contact;
    /// const FULLNAME: Field<Contact, Option<String>> = Field::new("fullname");
    /// const PRIMARY_CONTACT: NavOne<Untyped, Contact> = NavOne::new("primarycontactid");
    ///
    /// let filter = PRIMARY_CONTACT.field(FULLNAME).starts_with("Y");
    /// assert_eq!(filter.to_string(), "startswith(primarycontactid/fullname,'Y')");
    /// ```
    pub fn field<C: Column<Entity = T>>(self, column: C) -> Related<S, C> {
        Related::new(self.name, column)
    }
}

/// A collection-valued navigation property from entity `S` to entity `T`,
/// such as `contact_customer_accounts`.
///
/// It can be expanded ([`expand`](NavMany::expand)), with nested `$select`, `$filter`, `$orderby`
/// and `$top`, and filtered on with the lambdas [`any`](NavMany::any) and [`all`](NavMany::all).
pub struct NavMany<S, T> {
    name: &'static str,
    marker: PhantomData<fn() -> (S, T)>,
}

impl<S, T> NavMany<S, T> {
    /// A token for the navigation property with this name.
    ///
    /// ```
    /// use dynamics_webapi::query::{NavMany, Untyped};
    ///
    /// const CONTACTS: NavMany<Untyped, Untyped> = NavMany::new("contact_customer_accounts");
    /// assert_eq!(CONTACTS.name(), "contact_customer_accounts");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Self { name, marker: PhantomData }
    }

    /// The navigation property's name.
    ///
    /// ```
    /// use dynamics_webapi::query::{NavMany, Untyped};
    ///
    /// assert_eq!(NavMany::<Untyped, Untyped>::new("Account_Tasks").name(), "Account_Tasks");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Starts an `$expand` of this property, to which nested options can be added.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, NavMany, Query, Untyped, prelude::*};
    ///
    /// struct Task;
    /// const SUBJECT: Field<Task, Option<String>> = Field::new("subject");
    /// const TASKS: NavMany<Untyped, Task> = NavMany::new("Account_Tasks");
    ///
    /// let query = Query::untyped("accounts")
    ///     .expand(TASKS.expand().select(SUBJECT).order_by(SUBJECT.asc()).top(5));
    /// assert_eq!(query.to_string(), "$expand=Account_Tasks($select=subject;$orderby=subject asc;$top=5)");
    /// ```
    pub fn expand(self) -> ExpandMany<S, T> {
        ExpandMany::new(self.name)
    }

    /// At least one related row satisfies `filter`: `name/any(variable:filter)`.
    ///
    /// Inside the lambda, every property path of `filter` is prefixed with `variable`;
    /// lambdas nest. The variable is checked when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, NavMany, Untyped, prelude::*};
    ///
    /// struct Contact;
    /// const FULLNAME: Field<Contact, Option<String>> = Field::new("fullname");
    /// const CONTACTS: NavMany<Untyped, Contact> = NavMany::new("contact_customer_accounts");
    ///
    /// let filter = CONTACTS.any("c", FULLNAME.eq("x"));
    /// assert_eq!(filter.to_string(), "contact_customer_accounts/any(c:c/fullname eq 'x')");
    /// ```
    pub fn any(self, variable: impl Into<Cow<'static, str>>, filter: Filter<T>) -> Filter<S> {
        self.lambda(LambdaKind::Any, Some((variable.into(), filter.into_expr())))
    }

    /// Every related row satisfies `filter`: `name/all(variable:filter)`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, NavMany, Untyped, prelude::*};
    ///
    /// struct Task;
    /// const STATE: Field<Task, i32> = Field::new("statecode");
    /// const TASKS: NavMany<Untyped, Task> = NavMany::new("Account_Tasks");
    ///
    /// let filter = TASKS.all("t", STATE.eq(1));
    /// assert_eq!(filter.to_string(), "Account_Tasks/all(t:t/statecode eq 1)");
    /// ```
    pub fn all(self, variable: impl Into<Cow<'static, str>>, filter: Filter<T>) -> Filter<S> {
        self.lambda(LambdaKind::All, Some((variable.into(), filter.into_expr())))
    }

    /// At least one related row exists: `name/any()`.
    ///
    /// ```
    /// use dynamics_webapi::query::{NavMany, Untyped};
    ///
    /// const TASKS: NavMany<Untyped, Untyped> = NavMany::new("Account_Tasks");
    /// assert_eq!(TASKS.exists().to_string(), "Account_Tasks/any()");
    /// assert_eq!((!TASKS.exists()).to_string(), "not Account_Tasks/any()");
    /// ```
    pub fn exists(self) -> Filter<S> {
        self.lambda(LambdaKind::Any, None)
    }

    fn lambda(self, kind: LambdaKind, body: Option<(Cow<'static, str>, Expr)>) -> Filter<S> {
        Filter::from_expr(Expr::Lambda(Box::new(Lambda { navigation: self.name, kind, body })))
    }
}

macro_rules! token_traits {
    ($($token:ident),+) => {$(
        impl<S, T> Clone for $token<S, T> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<S, T> Copy for $token<S, T> {}

        impl<S, T> fmt::Debug for $token<S, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($token)).field(&self.name).finish()
            }
        }
    )+};
}

token_traits!(NavOne, NavMany);

#[cfg(test)]
mod tests {
    use super::{NavMany, NavOne};
    use crate::query::prelude::*;
    use crate::query::render::Renderer;
    use crate::query::{Field, QueryErrorKind, Untyped};

    struct Account;
    struct Contact;
    struct Task;

    const CONTACTS: NavMany<Account, Contact> = NavMany::new("contact_customer_accounts");
    const TASKS: NavMany<Contact, Task> = NavMany::new("Contact_Tasks");
    const PARENT: NavOne<Contact, Account> = NavOne::new("parentcustomerid_account");
    const FULLNAME: Field<Contact, String> = Field::new("fullname");
    const SUBJECT: Field<Task, String> = Field::new("subject");
    const ACCOUNT_NAME: Field<Account, String> = Field::new("name");

    #[test]
    fn nested_lambdas_prefix_paths_with_the_innermost_variable() {
        let filter = CONTACTS.any(
            "c",
            FULLNAME.eq("x").and(TASKS.all("t", SUBJECT.contains("call"))).and(PARENT.field(ACCOUNT_NAME).ne("y")),
        );
        assert_eq!(
            filter.to_string(),
            "contact_customer_accounts/any(c:c/fullname eq 'x' \
             and c/Contact_Tasks/all(t:contains(t/subject,'call')) \
             and c/parentcustomerid_account/name ne 'y')"
        );
    }

    #[test]
    fn a_bad_lambda_variable_is_an_error() {
        let filter = CONTACTS.any("c d", FULLNAME.eq("x"));
        let error = filter.render(&mut Renderer::strict()).unwrap_err();
        assert_eq!(error.kind(), QueryErrorKind::InvalidName);
        assert_eq!(error.to_string(), "invalid lambda variable `c d`");
    }

    #[test]
    fn lambdas_combine_like_any_other_filter() {
        let filter = CONTACTS.exists().or(CONTACTS.all("c", !FULLNAME.eq("x")));
        assert_eq!(
            filter.to_string(),
            "contact_customer_accounts/any() or contact_customer_accounts/all(c:not (c/fullname eq 'x'))"
        );
    }

    #[test]
    fn debug_shows_the_name() {
        assert_eq!(format!("{PARENT:?}"), "NavOne(\"parentcustomerid_account\")");
        assert_eq!(format!("{CONTACTS:?}"), "NavMany(\"contact_customer_accounts\")");
        let _: NavOne<Untyped, Untyped> = NavOne::new("x");
    }
}
