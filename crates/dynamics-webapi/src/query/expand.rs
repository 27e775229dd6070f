//! `$expand` items, with their nested query options.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::filter::Expr;
use super::order::{OrderItem, render_order};
use super::render::{Renderer, Result};
use super::select::render_paths;
use super::{Filter, NavMany, NavOne, OrderBy, QueryErrorKind, Selection};

/// One `$expand` item of entity `S`, ready to add to a [`Query`](super::Query) or a nested expand.
///
/// Made from a navigation property (expanded with all its columns), from an [`ExpandOne`] or
/// [`ExpandMany`] with nested options, or from text written by hand with [`Expand::raw`].
/// Nested options are separated by `;` inside parentheses.
///
/// ```
/// use dynamics_webapi::query::{Expand, Field, NavMany, NavOne, Query, Untyped, prelude::*};
///
/// struct Contact;
/// const FULLNAME: Field<Contact, Option<String>> = Field::new("fullname");
/// const PRIMARY_CONTACT: NavOne<Untyped, Contact> = NavOne::new("primarycontactid");
/// const CONTACTS: NavMany<Untyped, Contact> = NavMany::new("contact_customer_accounts");
///
/// let query = Query::untyped("accounts")
///     .expand(PRIMARY_CONTACT)
///     .expand(CONTACTS.expand().select(FULLNAME).filter(FULLNAME.is_not_null()));
/// assert_eq!(
///     query.to_string(),
///     "$expand=primarycontactid,contact_customer_accounts($select=fullname;$filter=fullname ne null)",
/// );
/// let item: Expand<Untyped> = PRIMARY_CONTACT.into();
/// assert_eq!(item.to_string(), "primarycontactid");
/// ```
#[must_use]
pub struct Expand<S> {
    item: ExpandItem,
    marker: PhantomData<fn() -> S>,
}

impl<S> Expand<S> {
    fn new(item: ExpandItem) -> Self {
        Self { item, marker: PhantomData }
    }

    /// `$expand` text written by hand, used as it is: the escape hatch for anything the builder lacks,
    /// such as an expansion given on a command line.
    ///
    /// It may hold several comma-separated items with nested options. Names inside it are not checked;
    /// like every other value it is percent-encoded once by
    /// [`to_query_string`](super::Query::to_query_string). Empty text is an error
    /// ([`QueryErrorKind::EmptyText`]) when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::{Expand, NavOne, Query, QueryErrorKind, Untyped};
    ///
    /// const OWNER: NavOne<Untyped, Untyped> = NavOne::new("owninguser");
    ///
    /// let query = Query::untyped("accounts")
    ///     .select("name")
    ///     .expand(Expand::raw("primarycontactid($select=fullname;$top=2)"))
    ///     .expand(OWNER);
    /// assert_eq!(query.to_string(), "$select=name&$expand=primarycontactid($select=fullname;$top=2),owninguser");
    /// assert_eq!(
    ///     query.to_query_string()?,
    ///     "$select=name&$expand=primarycontactid($select%3Dfullname;$top%3D2),owninguser",
    /// );
    ///
    /// let empty = Query::untyped("accounts").expand(Expand::raw(" "));
    /// assert_eq!(empty.to_query_string().unwrap_err().kind(), QueryErrorKind::EmptyText);
    /// # Ok::<(), dynamics_webapi::query::QueryError>(())
    /// ```
    pub fn raw(text: impl Into<String>) -> Self {
        Self::new(ExpandItem::Raw(text.into()))
    }

    pub(crate) fn into_item(self) -> ExpandItem {
        self.item
    }
}

/// The `$expand` of a single-valued navigation property from `S` to `T`, with a nested `$select`
/// and `$expand` (Dataverse allows no `$filter`, `$orderby` or `$top` there).
///
/// Made by [`NavOne::expand`].
///
/// ```
/// use dynamics_webapi::query::{Field, NavOne, Query, Untyped};
///
/// struct Contact;
/// struct User;
/// const FULLNAME: Field<Contact, String> = Field::new("fullname");
/// const EMAIL: Field<Contact, Option<String>> = Field::new("emailaddress1");
/// const USER_NAME: Field<User, String> = Field::new("fullname");
/// const PRIMARY_CONTACT: NavOne<Untyped, Contact> = NavOne::new("primarycontactid");
/// const OWNER: NavOne<Contact, User> = NavOne::new("owninguser");
///
/// let query = Query::untyped("accounts").expand(
///     PRIMARY_CONTACT
///         .expand()
///         .select((FULLNAME, EMAIL))
///         .expand(OWNER.expand().select(USER_NAME)),
/// );
/// assert_eq!(
///     query.to_string(),
///     "$expand=primarycontactid($select=fullname,emailaddress1;$expand=owninguser($select=fullname))",
/// );
/// ```
#[must_use]
pub struct ExpandOne<S, T> {
    item: NavigationExpand,
    marker: PhantomData<fn() -> (S, T)>,
}

impl<S, T> ExpandOne<S, T> {
    pub(crate) fn new(navigation: &'static str) -> Self {
        Self { item: NavigationExpand::new(navigation), marker: PhantomData }
    }

    /// Adds columns of `T` to the nested `$select`.
    pub fn select(mut self, columns: impl Selection<T>) -> Self {
        columns.add_to(&mut self.item.select);
        self
    }

    /// Adds a nested `$expand` of one of `T`'s navigation properties.
    pub fn expand(mut self, expand: impl Into<Expand<T>>) -> Self {
        self.item.expand.push(expand.into().item);
        self
    }
}

/// The `$expand` of a collection-valued navigation property from `S` to `T`,
/// with nested `$select`, `$filter`, `$orderby`, `$top` and `$expand`.
///
/// Made by [`NavMany::expand`].
///
/// ```
/// use dynamics_webapi::query::{Field, NavMany, Query, Untyped, prelude::*};
///
/// struct Task;
/// const SUBJECT: Field<Task, Option<String>> = Field::new("subject");
/// const STATE: Field<Task, i32> = Field::new("statecode");
/// const TASKS: NavMany<Untyped, Task> = NavMany::new("Account_Tasks");
///
/// let query = Query::untyped("accounts").select("name").expand(
///     TASKS
///         .expand()
///         .select(SUBJECT)
///         .filter(STATE.eq(0))
///         .filter(SUBJECT.contains("call"))
///         .order_by(SUBJECT.desc())
///         .top(3),
/// );
/// assert_eq!(
///     query.to_string(),
///     "$select=name&$expand=Account_Tasks($select=subject;$filter=statecode eq 0 and contains(subject,'call');$orderby=subject desc;$top=3)",
/// );
/// ```
#[must_use]
pub struct ExpandMany<S, T> {
    item: NavigationExpand,
    marker: PhantomData<fn() -> (S, T)>,
}

impl<S, T> ExpandMany<S, T> {
    pub(crate) fn new(navigation: &'static str) -> Self {
        Self { item: NavigationExpand::new(navigation), marker: PhantomData }
    }

    /// Adds columns of `T` to the nested `$select`.
    pub fn select(mut self, columns: impl Selection<T>) -> Self {
        columns.add_to(&mut self.item.select);
        self
    }

    /// Sets the nested `$filter`; called again, the filters are joined with `and`.
    pub fn filter(mut self, filter: impl Into<Option<Filter<T>>>) -> Self {
        if let Some(filter) = filter.into() {
            Expr::and_into(&mut self.item.filter, filter.into_expr());
        }
        self
    }

    /// Adds an item to the nested `$orderby`.
    pub fn order_by(mut self, order: OrderBy<T>) -> Self {
        self.item.order.push(order.into_item());
        self
    }

    /// Sets the nested `$top`; 0 is an error when the query renders.
    pub fn top(mut self, top: u32) -> Self {
        self.item.top = Some(top);
        self
    }

    /// Adds a nested `$expand` of one of `T`'s navigation properties.
    pub fn expand(mut self, expand: impl Into<Expand<T>>) -> Self {
        self.item.expand.push(expand.into().item);
        self
    }
}

impl<S, T> From<NavOne<S, T>> for Expand<S> {
    fn from(navigation: NavOne<S, T>) -> Self {
        Self::new(ExpandItem::Navigation(NavigationExpand::new(navigation.name())))
    }
}

impl<S, T> From<NavMany<S, T>> for Expand<S> {
    fn from(navigation: NavMany<S, T>) -> Self {
        Self::new(ExpandItem::Navigation(NavigationExpand::new(navigation.name())))
    }
}

impl<S, T> From<ExpandOne<S, T>> for Expand<S> {
    fn from(expand: ExpandOne<S, T>) -> Self {
        Self::new(ExpandItem::Navigation(expand.item))
    }
}

impl<S, T> From<ExpandMany<S, T>> for Expand<S> {
    fn from(expand: ExpandMany<S, T>) -> Self {
        Self::new(ExpandItem::Navigation(expand.item))
    }
}

macro_rules! expand_traits {
    ($($name:ident<$($param:ident),+>),+) => {$(
        impl<$($param),+> Clone for $name<$($param),+> {
            fn clone(&self) -> Self {
                Self {
                    item: self.item.clone(),
                    marker: PhantomData,
                }
            }
        }

        impl<$($param),+> fmt::Debug for $name<$($param),+> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.item.to_string()).finish()
            }
        }

        impl<$($param),+> fmt::Display for $name<$($param),+> {
            /// The unencoded `$expand` item, without checking names.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.item, f)
            }
        }
    )+};
}

expand_traits!(Expand<S>, ExpandOne<S, T>, ExpandMany<S, T>);

/// A type-erased `$expand` item: a navigation property with its nested options, or raw text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExpandItem {
    Navigation(NavigationExpand),
    Raw(String),
}

impl ExpandItem {
    fn render(&self, renderer: &mut Renderer) -> Result {
        match self {
            Self::Navigation(navigation) => navigation.render(renderer),
            Self::Raw(text) => {
                renderer.check(!text.trim().is_empty(), QueryErrorKind::EmptyText, text, || {
                    "empty raw expand".to_owned()
                })?;
                renderer.push(text);
                Ok(())
            }
        }
    }
}

/// A navigation property to expand, with its nested options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NavigationExpand {
    navigation: &'static str,
    select: Vec<Cow<'static, str>>,
    filter: Option<Expr>,
    order: Vec<OrderItem>,
    top: Option<u32>,
    expand: Vec<ExpandItem>,
}

impl NavigationExpand {
    fn new(navigation: &'static str) -> Self {
        Self { navigation, select: Vec::new(), filter: None, order: Vec::new(), top: None, expand: Vec::new() }
    }

    fn render(&self, renderer: &mut Renderer) -> Result {
        renderer.path(None, self.navigation)?;
        let mut separator = '(';
        let mut option = |renderer: &mut Renderer, name: &str| {
            renderer.push_char(separator);
            renderer.push(name);
            separator = ';';
        };
        if !self.select.is_empty() {
            option(renderer, "$select=");
            render_paths(&self.select, renderer)?;
        }
        if let Some(filter) = &self.filter {
            option(renderer, "$filter=");
            filter.render(renderer, None)?;
        }
        if !self.order.is_empty() {
            option(renderer, "$orderby=");
            render_order(&self.order, renderer)?;
        }
        if let Some(top) = self.top {
            option(renderer, "$top=");
            renderer.top(top)?;
        }
        if !self.expand.is_empty() {
            option(renderer, "$expand=");
            render_expand(&self.expand, renderer)?;
        }
        if separator == ';' {
            renderer.push_char(')');
        }
        Ok(())
    }
}

impl fmt::Display for ExpandItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lenient(f, |renderer| self.render(renderer))
    }
}

impl fmt::Display for NavigationExpand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lenient(f, |renderer| self.render(renderer))
    }
}

/// Writes what a lenient renderer makes, which never fails.
fn write_lenient(f: &mut fmt::Formatter<'_>, render: impl FnOnce(&mut Renderer) -> Result) -> fmt::Result {
    let mut renderer = Renderer::lenient();
    let _ = render(&mut renderer);
    f.write_str(&renderer.finish())
}

/// Renders `a,b(...)`.
pub(crate) fn render_expand(items: &[ExpandItem], renderer: &mut Renderer) -> Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            renderer.push_char(',');
        }
        item.render(renderer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Expand, render_expand};
    use crate::query::prelude::*;
    use crate::query::render::Renderer;
    use crate::query::{Field, NavMany, NavOne, QueryErrorKind, Untyped};

    struct Task;
    const TASKS: NavMany<Untyped, Task> = NavMany::new("Account_Tasks");
    const SUBJECT: Field<Task, String> = Field::new("subject");

    fn strict(expand: impl Into<Expand<Untyped>>) -> Result<String, crate::query::QueryError> {
        let mut renderer = Renderer::strict();
        render_expand(&[expand.into().into_item()], &mut renderer)?;
        Ok(renderer.finish())
    }

    #[test]
    fn renders_options_in_a_fixed_order() {
        let expand = TASKS.expand().top(2).order_by(SUBJECT.asc()).filter(SUBJECT.ne("x")).select(SUBJECT);
        assert_eq!(
            strict(expand).unwrap(),
            "Account_Tasks($select=subject;$filter=subject ne 'x';$orderby=subject asc;$top=2)"
        );
    }

    #[test]
    fn a_nested_top_of_zero_is_an_error() {
        let error = strict(TASKS.expand().top(0)).unwrap_err();
        assert_eq!(error.kind(), QueryErrorKind::InvalidTop);
    }

    #[test]
    fn a_nested_bad_name_is_an_error() {
        let bad: NavOne<Untyped, Untyped> = NavOne::new("primary contact");
        assert_eq!(strict(bad).unwrap_err().kind(), QueryErrorKind::InvalidName);
        assert_eq!(strict(TASKS.expand().select("a b")).unwrap_err().kind(), QueryErrorKind::InvalidName);
    }

    #[test]
    fn raw_text_is_used_as_it_is_and_may_be_nested() {
        let raw = "primarycontactid($select=fullname),ownerid";
        assert_eq!(strict(Expand::raw(raw)).unwrap(), raw);
        let nested = TASKS.expand().select(SUBJECT).expand(Expand::raw("regardingobjectid($select=name)"));
        assert_eq!(strict(nested).unwrap(), "Account_Tasks($select=subject;$expand=regardingobjectid($select=name))");
        assert_eq!(Expand::<Untyped>::raw("a b").to_string(), "a b");
    }

    #[test]
    fn empty_raw_text_is_an_error_when_strict() {
        for empty in ["", "  "] {
            let error = strict(Expand::raw(empty)).unwrap_err();
            assert_eq!(error.kind(), QueryErrorKind::EmptyText, "{empty:?}");
            assert_eq!(error.to_string(), "empty raw expand");
        }
        let mut lenient = Renderer::lenient();
        render_expand(&[Expand::<Untyped>::raw("").into_item()], &mut lenient).unwrap();
        assert_eq!(lenient.finish(), "");
    }

    #[test]
    fn none_filter_adds_nothing() {
        assert_eq!(strict(TASKS.expand().filter(None)).unwrap(), "Account_Tasks");
    }
}
