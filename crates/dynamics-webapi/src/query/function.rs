//! Dataverse query functions: `Microsoft.Dynamics.CRM.<Name>(PropertyName='...',...)`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::filter::Expr;
use super::render::{Renderer, Result};
use super::{Column, Filter, Literal, QueryErrorKind};

/// The namespace of Dataverse's query functions.
const NAMESPACE: &str = "Microsoft.Dynamics.CRM.";

/// A call to one of Dataverse's 60-odd query functions, in the generic form that covers them all.
///
/// It renders `Microsoft.Dynamics.CRM.<Name>(PropertyName='<column>'[,<parameter>=<value>...])`.
/// `PropertyName` is the column's logical name ([`Column::attribute`]).
/// Values are written as the given [`Literal`]s: where the function declares a parameter as
/// `Edm.String` or `Collection(Edm.String)` (as `In`, `Between` and `Under` do), pass strings.
/// The column methods in [`prelude`](super::prelude) do that for the common functions
/// (`is_in`, `between`, `last_x_days`, `equal_user_id`, `under`, ...).
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::{Field, Filter, QueryFunction, Untyped};
/// use time::OffsetDateTime;
///
/// const CREATED_ON: Field<Untyped, Option<OffsetDateTime>> = Field::new("createdon");
///
/// let filter: Filter<Untyped> = QueryFunction::new("LastXWeeks", CREATED_ON).value(3).into();
/// assert_eq!(
///     filter.to_string(),
///     "Microsoft.Dynamics.CRM.LastXWeeks(PropertyName='createdon',PropertyValue=3)",
/// );
///
/// const STATUS: Field<Untyped, Option<i32>> = Field::new("statuscode");
/// let filter: Filter<Untyped> = QueryFunction::new("NotIn", STATUS).values(["1", "2"]).into();
/// assert_eq!(
///     filter.to_string(),
///     "Microsoft.Dynamics.CRM.NotIn(PropertyName='statuscode',PropertyValues=['1','2'])",
/// );
/// ```
#[must_use]
pub struct QueryFunction<E> {
    call: FunctionCall,
    marker: PhantomData<fn() -> E>,
}

impl<E> QueryFunction<E> {
    /// A call of the function `name` (without namespace, such as `"LastXDays"`) on `column`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Filter, Lookup, QueryFunction, Untyped};
    ///
    /// const OWNER: Lookup<Untyped> = Lookup::new("ownerid");
    /// let filter: Filter<Untyped> = QueryFunction::new("EqualUserOrUserTeams", OWNER).into();
    /// assert_eq!(
    ///     filter.to_string(),
    ///     "Microsoft.Dynamics.CRM.EqualUserOrUserTeams(PropertyName='ownerid')",
    /// );
    /// ```
    pub fn new<C: Column<Entity = E>>(name: impl Into<Cow<'static, str>>, column: C) -> Self {
        Self {
            call: FunctionCall { name: name.into(), property: column.attribute(), parameters: Vec::new() },
            marker: PhantomData,
        }
    }

    /// Adds `PropertyValue=<value>`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Filter, QueryFunction, Untyped};
    ///
    /// const MODIFIED_ON: Field<Untyped, time::OffsetDateTime> = Field::new("modifiedon");
    /// let filter: Filter<Untyped> = QueryFunction::new("OlderThanXHours", MODIFIED_ON).value(12).into();
    /// assert_eq!(
    ///     filter.to_string(),
    ///     "Microsoft.Dynamics.CRM.OlderThanXHours(PropertyName='modifiedon',PropertyValue=12)",
    /// );
    /// ```
    pub fn value(self, value: impl Into<Literal>) -> Self {
        self.parameter("PropertyValue", value)
    }

    /// Adds `PropertyValues=[<value>,...]`; an empty list is an error when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Filter, QueryFunction, Untyped};
    ///
    /// const EMPLOYEES: Field<Untyped, i32> = Field::new("numberofemployees");
    /// let filter: Filter<Untyped> = QueryFunction::new("Between", EMPLOYEES).values(["5", "50"]).into();
    /// assert_eq!(
    ///     filter.to_string(),
    ///     "Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=['5','50'])",
    /// );
    /// ```
    pub fn values(mut self, values: impl IntoIterator<Item = impl Into<Literal>>) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.call.parameters.push((Cow::Borrowed("PropertyValues"), Argument::Many(values)));
        self
    }

    /// Adds any other parameter, such as `PropertyValue1` and `PropertyValue2` of `InFiscalPeriodAndYear`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Filter, QueryFunction, Untyped};
    ///
    /// const CLOSE: Field<Untyped, time::Date> = Field::new("estimatedclosedate");
    /// let filter: Filter<Untyped> = QueryFunction::new("InFiscalPeriodAndYear", CLOSE)
    ///     .parameter("PropertyValue1", 3)
    ///     .parameter("PropertyValue2", 2024)
    ///     .into();
    /// assert_eq!(
    ///     filter.to_string(),
    ///     "Microsoft.Dynamics.CRM.InFiscalPeriodAndYear(PropertyName='estimatedclosedate',PropertyValue1=3,PropertyValue2=2024)",
    /// );
    /// ```
    pub fn parameter(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Literal>) -> Self {
        self.call.parameters.push((name.into(), Argument::One(value.into())));
        self
    }
}

impl<E> From<QueryFunction<E>> for Filter<E> {
    fn from(function: QueryFunction<E>) -> Self {
        Filter::from_expr(Expr::Function(Box::new(function.call)))
    }
}

impl<E> Clone for QueryFunction<E> {
    fn clone(&self) -> Self {
        Self { call: self.call.clone(), marker: PhantomData }
    }
}

impl<E> fmt::Debug for QueryFunction<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("QueryFunction").field(&self.call).finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Argument {
    One(Literal),
    Many(Vec<Literal>),
}

/// A rendered-on-demand query function call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FunctionCall {
    name: Cow<'static, str>,
    property: Cow<'static, str>,
    parameters: Vec<(Cow<'static, str>, Argument)>,
}

impl FunctionCall {
    /// A call with `PropertyName` and, when given, one more parameter.
    pub(crate) fn with(name: &'static str, property: Cow<'static, str>, value: Option<FunctionValue>) -> Self {
        let parameters = match value {
            None => Vec::new(),
            Some(FunctionValue::One(value)) => {
                vec![(Cow::Borrowed("PropertyValue"), Argument::One(value))]
            }
            Some(FunctionValue::Many(values)) => {
                vec![(Cow::Borrowed("PropertyValues"), Argument::Many(values))]
            }
        };
        Self { name: Cow::Borrowed(name), property, parameters }
    }

    pub(crate) fn render(&self, renderer: &mut Renderer, scope: Option<&str>) -> Result {
        renderer.push(NAMESPACE);
        renderer.identifier("query function name", &self.name)?;
        renderer.push("(PropertyName=");
        renderer.check_path(&self.property)?;
        match scope {
            Some(variable) => renderer.quoted(&format!("{variable}/{}", self.property)),
            None => renderer.quoted(&self.property),
        }
        for (name, argument) in &self.parameters {
            renderer.push_char(',');
            renderer.identifier("query function parameter", name)?;
            renderer.push_char('=');
            match argument {
                Argument::One(value) => renderer.display(value),
                Argument::Many(values) => {
                    renderer.check(!values.is_empty(), QueryErrorKind::EmptyList, &self.name, || {
                        format!("{} needs at least one value", self.name)
                    })?;
                    renderer.push_char('[');
                    for (index, value) in values.iter().enumerate() {
                        if index > 0 {
                            renderer.push_char(',');
                        }
                        renderer.display(value);
                    }
                    renderer.push_char(']');
                }
            }
        }
        renderer.push_char(')');
        Ok(())
    }
}

/// The value part of a convenience function call.
#[derive(Debug)]
pub(crate) enum FunctionValue {
    One(Literal),
    Many(Vec<Literal>),
}

#[cfg(test)]
mod tests {
    use super::{FunctionCall, FunctionValue, QueryFunction};
    use crate::query::filter::Expr;
    use crate::query::render::Renderer;
    use crate::query::{Field, Filter, Literal, QueryErrorKind, Untyped};

    const NAME: Field<Untyped, String> = Field::new("name");

    fn strict(filter: &Filter<Untyped>) -> Result<String, crate::query::QueryError> {
        let mut renderer = Renderer::strict();
        filter.render(&mut renderer)?;
        Ok(renderer.finish())
    }

    #[test]
    fn renders_values_as_given() {
        let filter: Filter<Untyped> =
            QueryFunction::new("In", NAME).values([Literal::from("O'Neil"), Literal::from("A&B")]).into();
        assert_eq!(
            strict(&filter).unwrap(),
            "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['O''Neil','A&B'])"
        );
    }

    #[test]
    fn an_empty_value_list_is_an_error() {
        let filter: Filter<Untyped> = QueryFunction::new("In", NAME).values(Vec::<Literal>::new()).into();
        let error = strict(&filter).unwrap_err();
        assert_eq!(error.kind(), QueryErrorKind::EmptyList);
        assert_eq!(error.to_string(), "In needs at least one value");
    }

    #[test]
    fn bad_function_and_parameter_names_are_errors() {
        let filter: Filter<Untyped> = QueryFunction::new("Last X Days", NAME).into();
        assert_eq!(strict(&filter).unwrap_err().kind(), QueryErrorKind::InvalidName);
        let filter: Filter<Untyped> = QueryFunction::new("On", NAME).parameter("a=b", 1).into();
        assert_eq!(strict(&filter).unwrap_err().kind(), QueryErrorKind::InvalidName);
    }

    #[test]
    fn a_lambda_variable_prefixes_the_property_name() {
        let call = FunctionCall::with("Today", "createdon".into(), None);
        let mut renderer = Renderer::strict();
        Expr::Function(Box::new(call)).render(&mut renderer, Some("c")).unwrap();
        assert_eq!(renderer.finish(), "Microsoft.Dynamics.CRM.Today(PropertyName='c/createdon')");
        let call = FunctionCall::with("Under", "accountid".into(), Some(FunctionValue::One(Literal::from("x"))));
        let mut renderer = Renderer::strict();
        call.render(&mut renderer, None).unwrap();
        assert_eq!(renderer.finish(), "Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='x')");
    }
}
