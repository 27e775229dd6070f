//! `$apply`: data aggregation with `filter`, `groupby` and `aggregate`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::filter::Expr;
use super::render::{Renderer, Result};
use super::select::render_paths;
use super::{Column, FieldType, Filter, Numeric, Ordered, QueryErrorKind, Selection};

/// An `$apply` value over entity `E`: transformations applied in order, joined by `/`.
///
/// [`aggregate`](Apply::aggregate) after [`group_by`](Apply::group_by) aggregates within the groups
/// (`groupby((a),aggregate(...))`); without a `group_by` before it, it aggregates all rows.
/// Anything else Dataverse accepts can be added as [`raw`](Apply::raw) text.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::{Aggregate, Apply, Field, Query, Untyped, prelude::*};
/// use rust_decimal::Decimal;
///
/// const STATE: Field<Untyped, i32> = Field::new("statecode");
/// const INDUSTRY: Field<Untyped, Option<i32>> = Field::new("industrycode");
/// const REVENUE: Field<Untyped, Option<Decimal>> = Field::new("revenue");
///
/// let apply = Apply::new()
///     .filter(STATE.eq(0))
///     .group_by((STATE, INDUSTRY))
///     .aggregate(Aggregate::sum(REVENUE, "total"))
///     .aggregate(Aggregate::count("rows"));
/// assert_eq!(
///     apply.to_string(),
///     "filter(statecode eq 0)/groupby((statecode,industrycode),aggregate(revenue with sum as total,$count as rows))",
/// );
///
/// let query = Query::untyped("accounts").apply(Apply::new().aggregate(Aggregate::average(REVENUE, "mean")));
/// assert_eq!(query.to_string(), "$apply=aggregate(revenue with average as mean)");
/// ```
#[must_use]
pub struct Apply<E> {
    steps: Vec<Step>,
    marker: PhantomData<fn() -> E>,
}

impl<E> Apply<E> {
    /// An empty `$apply`; a query leaves an empty one out.
    ///
    /// ```
    /// use dynamics_webapi::query::{Apply, Untyped};
    ///
    /// assert_eq!(Apply::<Untyped>::new().to_string(), "");
    /// ```
    pub fn new() -> Self {
        Self { steps: Vec::new(), marker: PhantomData }
    }

    /// Adds a `filter(...)` transformation.
    ///
    /// ```
    /// use dynamics_webapi::query::{Apply, Field, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// assert_eq!(
    ///     Apply::new().filter(NAME.starts_with("A")).to_string(),
    ///     "filter(startswith(name,'A'))",
    /// );
    /// ```
    pub fn filter(mut self, filter: Filter<E>) -> Self {
        self.steps.push(Step::Filter(filter.into_expr()));
        self
    }

    /// Adds a `groupby((...))` transformation; an empty column list is an error when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::{Apply, Field, Untyped};
    ///
    /// const STATE: Field<Untyped, i32> = Field::new("statecode");
    /// assert_eq!(Apply::new().group_by(STATE).to_string(), "groupby((statecode))");
    /// ```
    pub fn group_by(mut self, columns: impl Selection<E>) -> Self {
        let mut paths = Vec::new();
        columns.add_to(&mut paths);
        self.steps.push(Step::GroupBy(paths, Vec::new()));
        self
    }

    /// Adds an aggregation: to the `groupby` just before it, to the `aggregate` just before it,
    /// or as a new `aggregate(...)` transformation.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Field, Untyped};
    ///
    /// const EMPLOYEES: Field<Untyped, Option<i32>> = Field::new("numberofemployees");
    /// let apply = Apply::new()
    ///     .aggregate(Aggregate::max(EMPLOYEES, "most"))
    ///     .aggregate(Aggregate::min(EMPLOYEES, "least"));
    /// assert_eq!(
    ///     apply.to_string(),
    ///     "aggregate(numberofemployees with max as most,numberofemployees with min as least)",
    /// );
    /// ```
    pub fn aggregate(mut self, aggregate: Aggregate<E>) -> Self {
        match self.steps.last_mut() {
            Some(Step::GroupBy(_, aggregates) | Step::Aggregate(aggregates)) => {
                aggregates.push(aggregate.item);
            }
            _ => self.steps.push(Step::Aggregate(vec![aggregate.item])),
        }
        self
    }

    /// Adds a transformation written by hand, used as it is.
    ///
    /// ```
    /// use dynamics_webapi::query::{Apply, Untyped};
    ///
    /// let apply = Apply::<Untyped>::new().raw("groupby((statuscode))");
    /// assert_eq!(apply.to_string(), "groupby((statuscode))");
    /// ```
    pub fn raw(mut self, text: impl Into<String>) -> Self {
        self.steps.push(Step::Raw(text.into()));
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub(crate) fn render(&self, renderer: &mut Renderer) -> Result {
        for (index, step) in self.steps.iter().enumerate() {
            if index > 0 {
                renderer.push_char('/');
            }
            step.render(renderer)?;
        }
        Ok(())
    }
}

impl<E> Default for Apply<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Clone for Apply<E> {
    fn clone(&self) -> Self {
        Self { steps: self.steps.clone(), marker: PhantomData }
    }
}

impl<E> fmt::Debug for Apply<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Apply").field(&self.to_string()).finish()
    }
}

impl<E> fmt::Display for Apply<E> {
    /// The unencoded `$apply` value, without checking names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut renderer = Renderer::lenient();
        // A lenient renderer never fails.
        let _ = self.render(&mut renderer);
        f.write_str(&renderer.finish())
    }
}

/// One aggregation over entity `E`, such as `revenue with sum as total` or `$count as rows`.
///
/// `sum` and `average` need a numeric column, `min` and `max` an ordered one (numbers and dates).
///
/// ```
/// use dynamics_webapi::query::{Aggregate, Apply, Field, Untyped};
///
/// const OWNER: Field<Untyped, uuid::Uuid> = Field::new("ownerid");
/// let apply = Apply::new().aggregate(Aggregate::count_distinct(OWNER, "owners"));
/// assert_eq!(apply.to_string(), "aggregate(ownerid with countdistinct as owners)");
/// ```
///
/// Text cannot be summed:
///
/// ```compile_fail,E0277
/// use dynamics_webapi::query::{Aggregate, Field, Untyped};
///
/// const NAME: Field<Untyped, String> = Field::new("name");
/// let _ = Aggregate::sum(NAME, "total");
/// ```
#[must_use]
pub struct Aggregate<E> {
    item: AggregateItem,
    marker: PhantomData<fn() -> E>,
}

impl<E> Aggregate<E> {
    fn new(path: Option<Cow<'static, str>>, method: &'static str, alias: impl Into<Cow<'static, str>>) -> Self {
        Self { item: AggregateItem { path, method, alias: alias.into() }, marker: PhantomData }
    }

    /// The number of rows: `$count as alias`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Untyped};
    ///
    /// let apply = Apply::<Untyped>::new().aggregate(Aggregate::count("rows"));
    /// assert_eq!(apply.to_string(), "aggregate($count as rows)");
    /// ```
    pub fn count(alias: impl Into<Cow<'static, str>>) -> Self {
        Self::new(None, "", alias)
    }

    /// The sum of a numeric column: `column with sum as alias`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Field, Untyped};
    ///
    /// const EMPLOYEES: Field<Untyped, Option<i32>> = Field::new("numberofemployees");
    /// let apply = Apply::new().aggregate(Aggregate::sum(EMPLOYEES, "staff"));
    /// assert_eq!(apply.to_string(), "aggregate(numberofemployees with sum as staff)");
    /// ```
    pub fn sum<C>(column: C, alias: impl Into<Cow<'static, str>>) -> Self
    where
        C: Column<Entity = E>,
        <C::Type as FieldType>::Value: Numeric,
    {
        Self::new(Some(column.path()), "sum", alias)
    }

    /// The average of a numeric column: `column with average as alias`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Field, Untyped};
    ///
    /// const EMPLOYEES: Field<Untyped, Option<i32>> = Field::new("numberofemployees");
    /// let apply = Apply::new().aggregate(Aggregate::average(EMPLOYEES, "mean"));
    /// assert_eq!(apply.to_string(), "aggregate(numberofemployees with average as mean)");
    /// ```
    pub fn average<C>(column: C, alias: impl Into<Cow<'static, str>>) -> Self
    where
        C: Column<Entity = E>,
        <C::Type as FieldType>::Value: Numeric,
    {
        Self::new(Some(column.path()), "average", alias)
    }

    /// The smallest value of an ordered column: `column with min as alias`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Field, Untyped};
    ///
    /// const CREATED_ON: Field<Untyped, time::OffsetDateTime> = Field::new("createdon");
    /// let apply = Apply::new().aggregate(Aggregate::min(CREATED_ON, "first"));
    /// assert_eq!(apply.to_string(), "aggregate(createdon with min as first)");
    /// ```
    pub fn min<C>(column: C, alias: impl Into<Cow<'static, str>>) -> Self
    where
        C: Column<Entity = E>,
        <C::Type as FieldType>::Value: Ordered,
    {
        Self::new(Some(column.path()), "min", alias)
    }

    /// The largest value of an ordered column: `column with max as alias`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Field, Untyped};
    ///
    /// const CREATED_ON: Field<Untyped, time::OffsetDateTime> = Field::new("createdon");
    /// let apply = Apply::new().aggregate(Aggregate::max(CREATED_ON, "last"));
    /// assert_eq!(apply.to_string(), "aggregate(createdon with max as last)");
    /// ```
    pub fn max<C>(column: C, alias: impl Into<Cow<'static, str>>) -> Self
    where
        C: Column<Entity = E>,
        <C::Type as FieldType>::Value: Ordered,
    {
        Self::new(Some(column.path()), "max", alias)
    }

    /// The number of distinct values of any column: `column with countdistinct as alias`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Aggregate, Apply, Field, Untyped};
    ///
    /// const CITY: Field<Untyped, Option<String>> = Field::new("address1_city");
    /// let apply = Apply::new().aggregate(Aggregate::count_distinct(CITY, "cities"));
    /// assert_eq!(apply.to_string(), "aggregate(address1_city with countdistinct as cities)");
    /// ```
    pub fn count_distinct<C>(column: C, alias: impl Into<Cow<'static, str>>) -> Self
    where
        C: Column<Entity = E>,
    {
        Self::new(Some(column.path()), "countdistinct", alias)
    }
}

impl<E> Clone for Aggregate<E> {
    fn clone(&self) -> Self {
        Self { item: self.item.clone(), marker: PhantomData }
    }
}

impl<E> fmt::Debug for Aggregate<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Aggregate").field(&self.item).finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct AggregateItem {
    /// `None` for `$count`.
    path: Option<Cow<'static, str>>,
    method: &'static str,
    alias: Cow<'static, str>,
}

impl AggregateItem {
    fn render(&self, renderer: &mut Renderer) -> Result {
        match &self.path {
            Some(path) => {
                renderer.path(None, path)?;
                renderer.push(" with ");
                renderer.push(self.method);
            }
            None => renderer.push("$count"),
        }
        renderer.push(" as ");
        renderer.identifier("alias", &self.alias)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Filter(Expr),
    GroupBy(Vec<Cow<'static, str>>, Vec<AggregateItem>),
    Aggregate(Vec<AggregateItem>),
    Raw(String),
}

impl Step {
    fn render(&self, renderer: &mut Renderer) -> Result {
        match self {
            Self::Filter(expr) => {
                renderer.push("filter(");
                expr.render(renderer, None)?;
                renderer.push_char(')');
            }
            Self::GroupBy(paths, aggregates) => {
                renderer.check(!paths.is_empty(), QueryErrorKind::EmptyList, "groupby", || {
                    "groupby needs at least one column".to_owned()
                })?;
                renderer.push("groupby((");
                render_paths(paths, renderer)?;
                renderer.push_char(')');
                if !aggregates.is_empty() {
                    renderer.push_char(',');
                    render_aggregates(aggregates, renderer)?;
                }
                renderer.push_char(')');
            }
            Self::Aggregate(aggregates) => render_aggregates(aggregates, renderer)?,
            Self::Raw(text) => {
                renderer.check(!text.trim().is_empty(), QueryErrorKind::EmptyText, text, || {
                    "empty raw $apply step".to_owned()
                })?;
                renderer.push(text);
            }
        }
        Ok(())
    }
}

fn render_aggregates(aggregates: &[AggregateItem], renderer: &mut Renderer) -> Result {
    renderer.push("aggregate(");
    for (index, aggregate) in aggregates.iter().enumerate() {
        if index > 0 {
            renderer.push_char(',');
        }
        aggregate.render(renderer)?;
    }
    renderer.push_char(')');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Aggregate, Apply};
    use crate::query::render::Renderer;
    use crate::query::{Field, QueryError, QueryErrorKind, Untyped};

    const STATE: Field<Untyped, i32> = Field::new("statecode");

    fn strict(apply: &Apply<Untyped>) -> Result<String, QueryError> {
        let mut renderer = Renderer::strict();
        apply.render(&mut renderer)?;
        Ok(renderer.finish())
    }

    #[test]
    fn group_by_alone_lists_distinct_values() {
        assert_eq!(strict(&Apply::new().group_by(STATE)).unwrap(), "groupby((statecode))");
    }

    #[test]
    fn steps_after_a_raw_step_start_a_new_transformation() {
        let apply = Apply::new().raw("filter(x eq 1)").aggregate(Aggregate::count("n"));
        assert_eq!(strict(&apply).unwrap(), "filter(x eq 1)/aggregate($count as n)");
    }

    #[test]
    fn rejects_bad_aliases_empty_groups_and_empty_raw_steps() {
        let bad_alias = Apply::new().aggregate(Aggregate::count("row count"));
        assert_eq!(strict(&bad_alias).unwrap_err().kind(), QueryErrorKind::InvalidName);

        let empty_group = Apply::new().group_by(Vec::<&str>::new());
        let error = strict(&empty_group).unwrap_err();
        assert_eq!(error.kind(), QueryErrorKind::EmptyList);
        assert_eq!(error.to_string(), "groupby needs at least one column");

        let empty_raw = Apply::<Untyped>::new().raw("");
        assert_eq!(strict(&empty_raw).unwrap_err().kind(), QueryErrorKind::EmptyText);
    }
}
