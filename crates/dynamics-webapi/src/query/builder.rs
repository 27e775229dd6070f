//! [`Query`]: the query options of a Dataverse read, rendered without a client.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::annotation::render_annotations;
use super::expand::{ExpandItem, render_expand};
use super::filter::Expr;
use super::order::{OrderItem, render_order};
use super::render::Renderer;
use super::select::render_paths;
use super::{
    Annotation, Apply, Expand, Filter, OrderBy, QueryError, QueryErrorKind, Selection, Untyped, encode_query_value,
};
use crate::entity::Entity;

/// The query options of a read from one entity set: `$select`, `$filter`, `$orderby`, `$top`,
/// `$expand`, `$count` and `$apply`, plus the page size and annotations that travel in the
/// `Prefer` header.
///
/// `Query<E>` is typed by an [`Entity`], so only `E`'s columns, filters and navigation properties fit;
/// `Query<Untyped>` (from [`Query::untyped`]) names its entity set at run time.
/// Setters take and return the query; a bad value (a name with a space, `$top` of 0) is kept
/// and reported by [`validate`](Query::validate), [`query_pairs`](Query::query_pairs) and
/// [`to_query_string`](Query::to_query_string). Calling [`filter`](Query::filter) again adds
/// with `and`; the list setters add to their list.
///
/// `Display` is the human-readable, unencoded query string (it does not check names);
/// [`to_query_string`](Query::to_query_string) is the percent-encoded one for the wire.
/// Dataverse has no `$skip`: page with [`max_page_size`](Query::max_page_size) and the next link.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::entity::Entity;
/// use dynamics_webapi::query::{Annotation, Query, prelude::*};
///
/// struct Account;
/// impl Entity for Account {
///     const ENTITY_SET: &'static str = "accounts";
///     const LOGICAL_NAME: &'static str = "account";
///     const PRIMARY_ID: &'static str = "accountid";
/// }
/// mod account {
///     use dynamics_webapi::query::Field;
///     pub const NAME: Field<super::Account, Option<String>> = Field::new("name");
/// }
///
/// # fn main() -> Result<(), dynamics_webapi::query::QueryError> {
/// let query = Query::<Account>::new()
///     .select(account::NAME)
///     .filter(account::NAME.contains("Contoso"))
///     .top(10);
/// assert_eq!(query.to_string(), "$select=name&$filter=contains(name,'Contoso')&$top=10");
/// assert_eq!(
///     query.to_query_string()?,
///     "$select=name&$filter=contains(name,%27Contoso%27)&$top=10",
/// );
///
/// let paged = query.max_page_size(500).annotations([Annotation::FormattedValue]);
/// assert_eq!(
///     paged.prefer_header().as_deref(),
///     Some("odata.maxpagesize=500, odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\""),
/// );
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Query<E = Untyped> {
    entity_set: Cow<'static, str>,
    select: Vec<Cow<'static, str>>,
    filter: Option<Expr>,
    order: Vec<OrderItem>,
    top: Option<u32>,
    expand: Vec<ExpandItem>,
    count: bool,
    apply: Option<Apply<E>>,
    max_page_size: Option<u32>,
    annotations: Vec<Annotation>,
    marker: PhantomData<fn() -> E>,
}

impl<E: Entity> Query<E> {
    /// An empty query on `E`'s entity set.
    ///
    /// ```
    /// use dynamics_webapi::entity::Entity;
    /// use dynamics_webapi::query::Query;
    ///
    /// struct Contact;
    /// impl Entity for Contact {
    ///     const ENTITY_SET: &'static str = "contacts";
    ///     const LOGICAL_NAME: &'static str = "contact";
    ///     const PRIMARY_ID: &'static str = "contactid";
    /// }
    ///
    /// let query = Query::<Contact>::new();
    /// assert_eq!(query.entity_set(), "contacts");
    /// assert_eq!(query.to_string(), "");
    /// ```
    pub fn new() -> Self {
        Self::with_entity_set(Cow::Borrowed(E::ENTITY_SET))
    }
}

impl<E: Entity> Default for Query<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl Query<Untyped> {
    /// An empty query on the entity set with this name, for entities nobody generated.
    ///
    /// The name is checked when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// let query = Query::untyped("new_projects").select(["new_name", "new_budget"]).top(5);
    /// assert_eq!(query.entity_set(), "new_projects");
    /// assert_eq!(query.to_string(), "$select=new_name,new_budget&$top=5");
    /// ```
    pub fn untyped(entity_set: impl Into<Cow<'static, str>>) -> Self {
        Self::with_entity_set(entity_set.into())
    }
}

impl<E> Query<E> {
    fn with_entity_set(entity_set: Cow<'static, str>) -> Self {
        Self {
            entity_set,
            select: Vec::new(),
            filter: None,
            order: Vec::new(),
            top: None,
            expand: Vec::new(),
            count: false,
            apply: None,
            max_page_size: None,
            annotations: Vec::new(),
            marker: PhantomData,
        }
    }

    /// The entity set the query reads, such as `accounts`.
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// assert_eq!(Query::untyped("accounts").entity_set(), "accounts");
    /// ```
    pub fn entity_set(&self) -> &str {
        &self.entity_set
    }

    /// Adds columns to `$select`: one column, a tuple of columns, an array, or raw names.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Query, Untyped};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// const REVENUE: Field<Untyped, Option<rust_decimal::Decimal>> = Field::new("revenue");
    /// assert_eq!(Query::untyped("accounts").select((NAME, REVENUE)).to_string(), "$select=name,revenue");
    /// ```
    pub fn select(mut self, columns: impl Selection<E>) -> Self {
        columns.add_to(&mut self.select);
        self
    }

    /// Sets `$filter`; called again, the filters are joined with `and`. `None` adds nothing.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Query, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// const STATE: Field<Untyped, i32> = Field::new("statecode");
    /// let query = Query::untyped("accounts")
    ///     .filter(STATE.eq(0))
    ///     .filter(NAME.starts_with("A").or(NAME.starts_with("B")));
    /// assert_eq!(
    ///     query.to_string(),
    ///     "$filter=statecode eq 0 and (startswith(name,'A') or startswith(name,'B'))",
    /// );
    /// ```
    pub fn filter(mut self, filter: impl Into<Option<Filter<E>>>) -> Self {
        if let Some(filter) = filter.into() {
            Expr::and_into(&mut self.filter, filter.into_expr());
        }
        self
    }

    /// Adds an item to `$orderby`; the first added sorts first.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Query, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// const CREATED_ON: Field<Untyped, time::OffsetDateTime> = Field::new("createdon");
    /// let query = Query::untyped("accounts").order_by(CREATED_ON.desc()).order_by(NAME.asc());
    /// assert_eq!(query.to_string(), "$orderby=createdon desc,name asc");
    /// ```
    pub fn order_by(mut self, order: OrderBy<E>) -> Self {
        self.order.push(order.into_item());
        self
    }

    /// Sets `$top`, the most rows to return; 0 is an error when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// assert_eq!(Query::untyped("accounts").top(3).to_string(), "$top=3");
    /// ```
    pub fn top(mut self, top: u32) -> Self {
        self.top = Some(top);
        self
    }

    /// Adds a navigation property to `$expand`, with or without nested options,
    /// or [`Expand::raw`] text written by hand.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, NavOne, Query, Untyped};
    ///
    /// struct User;
    /// const FULLNAME: Field<User, String> = Field::new("fullname");
    /// const OWNER: NavOne<Untyped, User> = NavOne::new("owninguser");
    /// let query = Query::untyped("accounts").expand(OWNER.expand().select(FULLNAME));
    /// assert_eq!(query.to_string(), "$expand=owninguser($select=fullname)");
    /// ```
    pub fn expand(mut self, expand: impl Into<Expand<E>>) -> Self {
        self.expand.push(expand.into().into_item());
        self
    }

    /// Asks for the total number of matching rows (`$count=true`), returned as `@odata.count`.
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// assert_eq!(Query::untyped("accounts").count(true).to_string(), "$count=true");
    /// assert_eq!(Query::untyped("accounts").count(false).to_string(), "");
    /// ```
    pub fn count(mut self, count: bool) -> Self {
        self.count = count;
        self
    }

    /// Sets `$apply` (aggregation); an empty [`Apply`] leaves it out.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Field, Query, Untyped};
    ///
    /// const STATE: Field<Untyped, i32> = Field::new("statecode");
    /// let query = Query::untyped("accounts")
    ///     .apply(Apply::new().group_by(STATE).aggregate(Aggregate::count("rows")));
    /// assert_eq!(query.to_string(), "$apply=groupby((statecode),aggregate($count as rows))");
    /// ```
    pub fn apply(mut self, apply: Apply<E>) -> Self {
        self.apply = Some(apply);
        self
    }

    /// Sets the page size, sent as `Prefer: odata.maxpagesize=N` (not a query option);
    /// 0 is an error when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// let query = Query::untyped("accounts").max_page_size(100);
    /// assert_eq!(query.to_string(), "");
    /// assert_eq!(query.prefer_header().as_deref(), Some("odata.maxpagesize=100"));
    /// ```
    pub fn max_page_size(mut self, size: u32) -> Self {
        self.max_page_size = Some(size);
        self
    }

    /// Asks for annotations, sent as `Prefer: odata.include-annotations="..."` (not a query option).
    ///
    /// ```
    /// use dynamics_webapi::query::{Annotation, Query};
    ///
    /// let query = Query::untyped("accounts")
    ///     .annotations([Annotation::FormattedValue, Annotation::LookupLogicalName]);
    /// assert_eq!(
    ///     query.prefer_header().as_deref(),
    ///     Some("odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\""),
    /// );
    /// ```
    pub fn annotations(mut self, annotations: impl IntoIterator<Item = Annotation>) -> Self {
        self.annotations.extend(annotations);
        self
    }

    /// The page size set with [`max_page_size`](Query::max_page_size).
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// assert_eq!(Query::untyped("accounts").max_page_size(50).page_size(), Some(50));
    /// ```
    pub fn page_size(&self) -> Option<u32> {
        self.max_page_size
    }

    /// Checks every name and value without producing the text.
    ///
    /// # Errors
    ///
    /// The first [`QueryError`] found: a name that is not an OData identifier or path,
    /// `$top` or page size of 0, an empty value list, empty raw text or a bad annotation pattern.
    ///
    /// ```
    /// use dynamics_webapi::query::{Query, QueryErrorKind};
    ///
    /// assert!(Query::untyped("accounts").select("name").validate().is_ok());
    /// let error = Query::untyped("accounts").max_page_size(0).validate().unwrap_err();
    /// assert_eq!(error.kind(), QueryErrorKind::InvalidPageSize);
    /// ```
    pub fn validate(&self) -> Result<(), QueryError> {
        self.query_pairs().map(drop)
    }

    /// The query options as unencoded `(name, value)` pairs, in the order they render,
    /// for an HTTP layer that encodes them itself.
    ///
    /// # Errors
    ///
    /// As [`validate`](Query::validate).
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// let pairs = Query::untyped("accounts").select("name").top(1).query_pairs()?;
    /// assert_eq!(pairs, [("$select", "name".to_owned()), ("$top", "1".to_owned())]);
    /// # Ok::<(), dynamics_webapi::query::QueryError>(())
    /// ```
    pub fn query_pairs(&self) -> Result<Vec<(&'static str, String)>, QueryError> {
        let strict = Renderer::strict();
        strict.check(
            super::render::is_identifier(&self.entity_set),
            QueryErrorKind::InvalidName,
            &self.entity_set,
            || format!("invalid entity set name `{}`", self.entity_set),
        )?;
        strict.check(self.max_page_size != Some(0), QueryErrorKind::InvalidPageSize, "0", || {
            "page size must be at least 1".to_owned()
        })?;
        self.preference_values(true)?;
        self.pairs(true)
    }

    /// The percent-encoded query string for the wire, without the leading `?`.
    ///
    /// Each value goes through [`encode_query_value`], once. The result can be given to
    /// `url::Url::set_query` as it is; an empty query gives an empty string.
    ///
    /// # Errors
    ///
    /// As [`validate`](Query::validate).
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Query, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// let query = Query::untyped("accounts").filter(NAME.eq("A&B's #1"));
    /// assert_eq!(query.to_string(), "$filter=name eq 'A&B''s #1'");
    /// assert_eq!(query.to_query_string()?, "$filter=name%20eq%20%27A%26B%27%27s%20%231%27");
    /// # Ok::<(), dynamics_webapi::query::QueryError>(())
    /// ```
    pub fn to_query_string(&self) -> Result<String, QueryError> {
        let pairs = self.query_pairs()?;
        Ok(join(pairs.iter().map(|(name, value)| (*name, encode_query_value(value)))))
    }

    /// The value of the `Prefer` header this query needs, if any: the page size and the annotations,
    /// separated by `, `. The HTTP layer may add its own preferences to the same header.
    ///
    /// Names are not checked here; [`validate`](Query::validate) checks them.
    ///
    /// ```
    /// use dynamics_webapi::query::{Annotation, Query};
    ///
    /// assert_eq!(Query::untyped("accounts").prefer_header(), None);
    /// let query = Query::untyped("accounts").max_page_size(10).annotations([Annotation::All]);
    /// assert_eq!(
    ///     query.prefer_header().as_deref(),
    ///     Some("odata.maxpagesize=10, odata.include-annotations=\"*\""),
    /// );
    /// ```
    pub fn prefer_header(&self) -> Option<String> {
        let preferences = self.preferences();
        (!preferences.is_empty()).then(|| preferences.join(", "))
    }

    /// The individual preferences behind [`prefer_header`](Query::prefer_header).
    ///
    /// ```
    /// use dynamics_webapi::query::{Annotation, Query};
    ///
    /// let query = Query::untyped("accounts").max_page_size(10).annotations([Annotation::All]);
    /// assert_eq!(query.preferences(), ["odata.maxpagesize=10", "odata.include-annotations=\"*\""]);
    /// ```
    pub fn preferences(&self) -> Vec<String> {
        // A lenient rendering never fails.
        self.preference_values(false).unwrap_or_default()
    }

    fn preference_values(&self, strict: bool) -> Result<Vec<String>, QueryError> {
        let mut preferences = Vec::new();
        if let Some(size) = self.max_page_size {
            preferences.push(format!("odata.maxpagesize={size}"));
        }
        if !self.annotations.is_empty() {
            let mut renderer = renderer(strict);
            renderer.push("odata.include-annotations=");
            render_annotations(&self.annotations, &mut renderer)?;
            preferences.push(renderer.finish());
        }
        Ok(preferences)
    }

    fn pairs(&self, strict: bool) -> Result<Vec<(&'static str, String)>, QueryError> {
        let mut pairs = Vec::new();
        let mut option = |name: &'static str, render: &dyn Fn(&mut Renderer) -> Result<(), QueryError>| {
            let mut renderer = renderer(strict);
            render(&mut renderer)?;
            pairs.push((name, renderer.finish()));
            Ok::<(), QueryError>(())
        };
        if !self.select.is_empty() {
            option("$select", &|r| render_paths(&self.select, r))?;
        }
        if let Some(filter) = &self.filter {
            option("$filter", &|r| filter.render(r, None))?;
        }
        if !self.order.is_empty() {
            option("$orderby", &|r| render_order(&self.order, r))?;
        }
        if let Some(top) = self.top {
            option("$top", &|r| r.top(top))?;
        }
        if !self.expand.is_empty() {
            option("$expand", &|r| render_expand(&self.expand, r))?;
        }
        if self.count {
            option("$count", &|r| {
                r.push("true");
                Ok(())
            })?;
        }
        if let Some(apply) = self.apply.as_ref().filter(|apply| !apply.is_empty()) {
            option("$apply", &|r| apply.render(r))?;
        }
        Ok(pairs)
    }
}

fn renderer(strict: bool) -> Renderer {
    if strict { Renderer::strict() } else { Renderer::lenient() }
}

fn join<'a>(pairs: impl Iterator<Item = (&'a str, String)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&value);
    }
    out
}

impl<E> Clone for Query<E> {
    fn clone(&self) -> Self {
        Self {
            entity_set: self.entity_set.clone(),
            select: self.select.clone(),
            filter: self.filter.clone(),
            order: self.order.clone(),
            top: self.top,
            expand: self.expand.clone(),
            count: self.count,
            apply: self.apply.clone(),
            max_page_size: self.max_page_size,
            annotations: self.annotations.clone(),
            marker: PhantomData,
        }
    }
}

impl<E> fmt::Display for Query<E> {
    /// The unencoded query string, without checking names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A lenient rendering never fails.
        let pairs = self.pairs(false).unwrap_or_default();
        f.write_str(&join(pairs.into_iter()))
    }
}

impl<E> fmt::Debug for Query<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("entity_set", &self.entity_set)
            .field("query", &self.to_string())
            .field("prefer", &self.prefer_header())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Query;
    use crate::entity::Entity;
    use crate::query::prelude::*;
    use crate::query::{Aggregate, Annotation, Apply, Expand, Filter, QueryErrorKind};
    use uuid::Uuid;

    struct Account;
    struct Contact;

    impl Entity for Account {
        const ENTITY_SET: &'static str = "accounts";
        const LOGICAL_NAME: &'static str = "account";
        const PRIMARY_ID: &'static str = "accountid";
    }

    mod account {
        use super::{Account, Contact};
        use crate::query::{Field, Lookup, NavMany, NavOne};

        pub(super) const NAME: Field<Account, Option<String>> = Field::new("name");
        pub(super) const REVENUE: Field<Account, Option<rust_decimal::Decimal>> = Field::new("revenue");
        pub(super) const PARENT: Lookup<Account> = Lookup::new("parentaccountid");
        pub(super) const PRIMARY_CONTACT: NavOne<Account, Contact> = NavOne::new("primarycontactid");
        pub(super) const CONTACTS: NavMany<Account, Contact> = NavMany::new("contact_customer_accounts");
    }

    mod contact {
        use super::Contact;
        use crate::query::Field;

        pub(super) const FULLNAME: Field<Contact, Option<String>> = Field::new("fullname");
    }

    #[test]
    fn renders_every_option_in_a_fixed_order() {
        let query = Query::<Account>::new()
            .apply(Apply::new().aggregate(Aggregate::count("n")))
            .count(true)
            .expand(account::PRIMARY_CONTACT.expand().select(contact::FULLNAME))
            .top(10)
            .order_by(account::NAME.asc())
            .filter(account::CONTACTS.any("c", contact::FULLNAME.eq("x")))
            .select((account::NAME, account::PARENT));
        assert_eq!(
            query.to_string(),
            "$select=name,_parentaccountid_value\
             &$filter=contact_customer_accounts/any(c:c/fullname eq 'x')\
             &$orderby=name asc\
             &$top=10\
             &$expand=primarycontactid($select=fullname)\
             &$count=true\
             &$apply=aggregate($count as n)"
        );
        assert_eq!(
            query.to_query_string().unwrap(),
            "$select=name,_parentaccountid_value\
             &$filter=contact_customer_accounts/any(c:c/fullname%20eq%20%27x%27)\
             &$orderby=name%20asc\
             &$top=10\
             &$expand=primarycontactid($select%3Dfullname)\
             &$count=true\
             &$apply=aggregate($count%20as%20n)"
        );
    }

    #[test]
    fn reports_the_first_bad_value() {
        let cases = [
            (Query::untyped("bad set"), QueryErrorKind::InvalidName),
            (Query::untyped("accounts").select("a,b"), QueryErrorKind::InvalidName),
            (Query::untyped("accounts").top(0), QueryErrorKind::InvalidTop),
            (Query::untyped("accounts").max_page_size(0), QueryErrorKind::InvalidPageSize),
            (Query::untyped("accounts").filter(Filter::raw("")), QueryErrorKind::EmptyText),
            (Query::untyped("accounts").expand(Expand::raw(" ")), QueryErrorKind::EmptyText),
            (
                Query::untyped("accounts").annotations([Annotation::Other("a b".into())]),
                QueryErrorKind::InvalidAnnotation,
            ),
        ];
        for (query, kind) in cases {
            let error = query.to_query_string().unwrap_err();
            assert_eq!(error.kind(), kind, "{query:?}");
            assert_eq!(query.validate().unwrap_err(), error);
        }
    }

    #[test]
    fn display_never_fails_even_with_bad_values() {
        let query = Query::untyped("accounts").select("a b").top(0);
        assert_eq!(query.to_string(), "$select=a b&$top=0");
    }

    #[test]
    fn an_empty_query_renders_nothing() {
        let query = Query::<Account>::default().filter(None).apply(Apply::new());
        assert_eq!(query.to_query_string().unwrap(), "");
        assert_eq!(query.prefer_header(), None);
        assert!(query.preferences().is_empty());
    }

    #[test]
    fn lookups_filter_on_their_value_property() {
        let id = Uuid::nil();
        let query = Query::<Account>::new().filter(account::PARENT.eq(id).and(account::REVENUE.is_not_null()));
        assert_eq!(
            query.to_string(),
            "$filter=_parentaccountid_value eq 00000000-0000-0000-0000-000000000000 and revenue ne null"
        );
    }

    #[test]
    fn debug_shows_the_rendered_parts() {
        let query = Query::untyped("accounts").top(1).max_page_size(5);
        assert_eq!(
            format!("{query:?}"),
            "Query { entity_set: \"accounts\", query: \"$top=1\", prefer: Some(\"odata.maxpagesize=5\") }"
        );
    }
}
