//! Filter expressions for `$filter`, built as values and rendered with the parentheses they need.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, Not};

use super::function::FunctionCall;
use super::render::{Renderer, Result};
use super::{Literal, QueryErrorKind};

/// A boolean expression over the columns of entity `E`, rendered into `$filter`.
///
/// Build one from a column's operators (see [`prelude`](super::prelude)), a navigation property's
/// `any`/`all`, a Dataverse [`QueryFunction`](super::QueryFunction), or [`Filter::raw`] text;
/// combine with [`and`](Filter::and), [`or`](Filter::or) and `!` (or `&` and `|`).
/// Rendering adds parentheses only where OData's precedence needs them
/// (`not` binds tighter than `eq`, which binds tighter than `and`, then `or`).
///
/// `Display` writes the unencoded text without checking names;
/// a query checks them when it renders ([`Query::validate`](super::Query::validate)).
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::{Field, Untyped, prelude::*};
///
/// const NAME: Field<Untyped, Option<String>> = Field::new("name");
/// const EMPLOYEES: Field<Untyped, Option<i32>> = Field::new("numberofemployees");
///
/// let filter = (NAME.contains("Contoso") | NAME.contains("Fabrikam")) & !EMPLOYEES.lt(10);
/// assert_eq!(
///     filter.to_string(),
///     "(contains(name,'Contoso') or contains(name,'Fabrikam')) and not (numberofemployees lt 10)",
/// );
/// ```
///
/// A filter over one entity does not fit a query of another:
///
/// ```compile_fail,E0277
/// use dynamics_webapi::entity::Entity;
/// use dynamics_webapi::query::{Field, Query, prelude::*};
///
/// struct Account;
/// impl Entity for Account {
///     const ENTITY_SET: &'static str = "accounts";
///     const LOGICAL_NAME: &'static str = "account";
///     const PRIMARY_ID: &'static str = "accountid";
/// }
/// struct Contact;
/// const FULLNAME: Field<Contact, String> = Field::new("fullname");
///
/// let _ = Query::<Account>::new().filter(FULLNAME.eq("x"));
/// ```
#[must_use]
pub struct Filter<E> {
    expr: Expr,
    marker: PhantomData<fn() -> E>,
}

impl<E> Filter<E> {
    pub(crate) fn from_expr(expr: Expr) -> Self {
        Self { expr, marker: PhantomData }
    }

    pub(crate) fn into_expr(self) -> Expr {
        self.expr
    }

    pub(crate) fn compare(path: Cow<'static, str>, op: CompareOp, value: Literal) -> Self {
        Self::from_expr(Expr::Compare { path, op, value })
    }

    pub(crate) fn text(function: TextFunction, path: Cow<'static, str>, value: Literal) -> Self {
        Self::from_expr(Expr::Text { function, path, value })
    }

    /// Filter text written by hand, used as it is: the escape hatch for anything the builder lacks.
    ///
    /// It is wrapped in parentheses whenever it is combined with another filter.
    /// Names and literals inside it are neither checked nor quoted; empty text is an error
    /// ([`QueryErrorKind::EmptyText`]) when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Filter, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    ///
    /// let filter = Filter::raw("revenue gt 5 or revenue eq null").and(NAME.ne("x"));
    /// assert_eq!(filter.to_string(), "(revenue gt 5 or revenue eq null) and name ne 'x'");
    /// ```
    pub fn raw(text: impl Into<String>) -> Self {
        Self::from_expr(Expr::Raw(text.into()))
    }

    /// Both filters hold (`and`).
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const A: Field<Untyped, i32> = Field::new("a");
    /// assert_eq!(A.gt(1).and(A.lt(5)).and(A.ne(3)).to_string(), "a gt 1 and a lt 5 and a ne 3");
    /// ```
    pub fn and(self, other: Self) -> Self {
        Self::from_expr(Expr::join(Junction::And, self.expr, other.expr))
    }

    /// Either filter holds (`or`).
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const A: Field<Untyped, i32> = Field::new("a");
    /// assert_eq!(A.eq(1).or(A.eq(2).and(A.ne(3))).to_string(), "a eq 1 or a eq 2 and a ne 3");
    /// assert_eq!(A.eq(1).or(A.eq(2)).and(A.ne(3)).to_string(), "(a eq 1 or a eq 2) and a ne 3");
    /// ```
    pub fn or(self, other: Self) -> Self {
        Self::from_expr(Expr::join(Junction::Or, self.expr, other.expr))
    }

    /// All of the filters hold; `None` when there are none, so a query can take the result as it is.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Filter, Query, Untyped, prelude::*};
    ///
    /// const A: Field<Untyped, i32> = Field::new("a");
    ///
    /// let filter = Filter::all_of([1, 2].map(|n| A.ne(n)));
    /// assert_eq!(filter.map(|f| f.to_string()).as_deref(), Some("a ne 1 and a ne 2"));
    ///
    /// let none = Filter::all_of(Vec::<Filter<Untyped>>::new());
    /// assert_eq!(Query::untyped("accounts").filter(none).to_string(), "");
    /// ```
    pub fn all_of(filters: impl IntoIterator<Item = Self>) -> Option<Self> {
        filters.into_iter().reduce(Self::and)
    }

    /// Any of the filters holds; `None` when there are none.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Filter, Untyped, prelude::*};
    ///
    /// const A: Field<Untyped, i32> = Field::new("a");
    ///
    /// let filter = Filter::any_of([1, 2, 3].map(|n| A.eq(n)));
    /// assert_eq!(filter.map(|f| f.to_string()).as_deref(), Some("a eq 1 or a eq 2 or a eq 3"));
    /// ```
    pub fn any_of(filters: impl IntoIterator<Item = Self>) -> Option<Self> {
        filters.into_iter().reduce(Self::or)
    }

    pub(crate) fn render(&self, renderer: &mut Renderer) -> Result {
        self.expr.render(renderer, None)
    }
}

impl<E> Not for Filter<E> {
    type Output = Self;

    /// The filter does not hold (`not`).
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// assert_eq!((!NAME.contains("x")).to_string(), "not contains(name,'x')");
    /// assert_eq!((!NAME.eq("x")).to_string(), "not (name eq 'x')");
    /// ```
    fn not(self) -> Self {
        Self::from_expr(Expr::Not(Box::new(self.expr)))
    }
}

impl<E> BitAnd for Filter<E> {
    type Output = Self;

    /// The same as [`Filter::and`].
    fn bitand(self, other: Self) -> Self {
        self.and(other)
    }
}

impl<E> BitOr for Filter<E> {
    type Output = Self;

    /// The same as [`Filter::or`].
    fn bitor(self, other: Self) -> Self {
        self.or(other)
    }
}

impl<E> Clone for Filter<E> {
    fn clone(&self) -> Self {
        Self::from_expr(self.expr.clone())
    }
}

impl<E> PartialEq for Filter<E> {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl<E> fmt::Display for Filter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut renderer = Renderer::lenient();
        // A lenient renderer never fails.
        let _ = self.render(&mut renderer);
        f.write_str(&renderer.finish())
    }
}

impl<E> fmt::Debug for Filter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Filter").field(&self.to_string()).finish()
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

/// One of OData's string functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextFunction {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextFunction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Contains => "contains",
            Self::StartsWith => "startswith",
            Self::EndsWith => "endswith",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Junction {
    And,
    Or,
}

/// `any` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LambdaKind {
    Any,
    All,
}

/// `navigation/any(variable:body)`, `navigation/all(variable:body)` or `navigation/any()`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lambda {
    pub(crate) navigation: &'static str,
    pub(crate) kind: LambdaKind,
    pub(crate) body: Option<(Cow<'static, str>, Expr)>,
}

impl Lambda {
    fn render(&self, renderer: &mut Renderer, scope: Option<&str>) -> Result {
        renderer.path(scope, self.navigation)?;
        renderer.push(match self.kind {
            LambdaKind::Any => "/any(",
            LambdaKind::All => "/all(",
        });
        if let Some((variable, body)) = &self.body {
            renderer.identifier("lambda variable", variable)?;
            renderer.push_char(':');
            body.render(renderer, Some(variable))?;
        }
        renderer.push_char(')');
        Ok(())
    }
}

/// The expression tree behind [`Filter`], shared by `$filter`, nested `$filter` and `$apply`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Compare { path: Cow<'static, str>, op: CompareOp, value: Literal },
    Text { function: TextFunction, path: Cow<'static, str>, value: Literal },
    Lambda(Box<Lambda>),
    Function(Box<FunctionCall>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Raw(String),
}

/// How tightly each kind of expression binds; an operand that binds less tightly
/// than its operator needs parentheses. Raw text is unknown, so it always gets them.
mod precedence {
    pub(super) const RAW: u8 = 0;
    pub(super) const OR: u8 = 1;
    pub(super) const AND: u8 = 2;
    pub(super) const COMPARE: u8 = 3;
    pub(super) const NOT: u8 = 4;
    pub(super) const PRIMARY: u8 = 5;
}

impl Expr {
    fn join(junction: Junction, left: Self, right: Self) -> Self {
        let mut items = Vec::new();
        for side in [left, right] {
            match (junction, side) {
                (Junction::And, Self::And(inner)) | (Junction::Or, Self::Or(inner)) => {
                    items.extend(inner);
                }
                (_, other) => items.push(other),
            }
        }
        match junction {
            Junction::And => Self::And(items),
            Junction::Or => Self::Or(items),
        }
    }

    /// Adds `expr` to an optional filter with `and`.
    pub(crate) fn and_into(slot: &mut Option<Self>, expr: Self) {
        *slot = Some(match slot.take() {
            Some(existing) => Self::join(Junction::And, existing, expr),
            None => expr,
        });
    }

    fn precedence(&self) -> u8 {
        match self {
            Self::Raw(_) => precedence::RAW,
            Self::Or(_) => precedence::OR,
            Self::And(_) => precedence::AND,
            Self::Compare { .. } => precedence::COMPARE,
            Self::Not(_) => precedence::NOT,
            Self::Text { .. } | Self::Lambda(_) | Self::Function(_) => precedence::PRIMARY,
        }
    }

    /// Renders the expression; `scope` is the lambda variable that prefixes property paths.
    pub(crate) fn render(&self, renderer: &mut Renderer, scope: Option<&str>) -> Result {
        match self {
            Self::Compare { path, op, value } => {
                renderer.path(scope, path)?;
                renderer.push_char(' ');
                renderer.push(op.as_str());
                renderer.push_char(' ');
                renderer.display(value);
            }
            Self::Text { function, path, value } => {
                renderer.push(function.as_str());
                renderer.push_char('(');
                renderer.path(scope, path)?;
                renderer.push_char(',');
                renderer.display(value);
                renderer.push_char(')');
            }
            Self::Lambda(lambda) => lambda.render(renderer, scope)?,
            Self::Function(call) => call.render(renderer, scope)?,
            Self::And(items) => Self::render_list(items, " and ", precedence::AND, renderer, scope)?,
            Self::Or(items) => Self::render_list(items, " or ", precedence::OR, renderer, scope)?,
            Self::Not(inner) => {
                renderer.push("not ");
                inner.render_operand(precedence::NOT, renderer, scope)?;
            }
            Self::Raw(text) => {
                renderer.check(!text.trim().is_empty(), QueryErrorKind::EmptyText, text, || {
                    "empty raw filter".to_owned()
                })?;
                renderer.push(text);
            }
        }
        Ok(())
    }

    fn render_list(
        items: &[Self],
        separator: &str,
        operator: u8,
        renderer: &mut Renderer,
        scope: Option<&str>,
    ) -> Result {
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                renderer.push(separator);
            }
            item.render_operand(operator, renderer, scope)?;
        }
        Ok(())
    }

    fn render_operand(&self, operator: u8, renderer: &mut Renderer, scope: Option<&str>) -> Result {
        if self.precedence() < operator {
            renderer.push_char('(');
            self.render(renderer, scope)?;
            renderer.push_char(')');
            Ok(())
        } else {
            self.render(renderer, scope)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CompareOp, Filter, TextFunction};
    use crate::query::render::Renderer;
    use crate::query::{Literal, QueryErrorKind, Untyped};

    fn cmp(path: &'static str, value: i32) -> Filter<Untyped> {
        Filter::compare(path.into(), CompareOp::Eq, Literal::from(value))
    }

    fn text(path: &'static str, value: &str) -> Filter<Untyped> {
        Filter::text(TextFunction::Contains, path.into(), Literal::from(value))
    }

    #[test]
    fn parenthesizes_only_where_precedence_needs_it() {
        let (a, b, c) = (cmp("a", 1), cmp("b", 2), cmp("c", 3));
        let cases = [
            (a.clone().and(b.clone()).and(c.clone()), "a eq 1 and b eq 2 and c eq 3"),
            (a.clone().or(b.clone()).or(c.clone()), "a eq 1 or b eq 2 or c eq 3"),
            (a.clone().and(b.clone()).or(c.clone()), "a eq 1 and b eq 2 or c eq 3"),
            (a.clone().or(b.clone()).and(c.clone()), "(a eq 1 or b eq 2) and c eq 3"),
            (c.clone().and(a.clone().or(b.clone())), "c eq 3 and (a eq 1 or b eq 2)"),
            (a.clone().or(b.clone().and(c.clone())), "a eq 1 or b eq 2 and c eq 3"),
            (!a.clone(), "not (a eq 1)"),
            (!text("n", "x"), "not contains(n,'x')"),
            (!!text("n", "x"), "not not contains(n,'x')"),
            (!(a.clone().and(b.clone())), "not (a eq 1 and b eq 2)"),
            (!(a.clone().or(b.clone())), "not (a eq 1 or b eq 2)"),
            (!a.clone() & !b.clone(), "not (a eq 1) and not (b eq 2)"),
            ((a.clone() | b.clone()) & (c.clone() | a.clone()), "(a eq 1 or b eq 2) and (c eq 3 or a eq 1)"),
            (Filter::raw("x eq 1 or y eq 2").and(a.clone()), "(x eq 1 or y eq 2) and a eq 1"),
            (Filter::raw("x eq 1").or(a.clone()), "(x eq 1) or a eq 1"),
            (!Filter::raw("x eq 1"), "not (x eq 1)"),
            (Filter::raw("x eq 1 or y eq 2"), "x eq 1 or y eq 2"),
        ];
        for (filter, expected) in cases {
            assert_eq!(filter.to_string(), expected);
        }
    }

    #[test]
    fn and_or_flatten_nested_groups() {
        let (a, b, c, d) = (cmp("a", 1), cmp("b", 2), cmp("c", 3), cmp("d", 4));
        let left = a.and(b);
        let right = c.and(d);
        assert_eq!(left.and(right).to_string(), "a eq 1 and b eq 2 and c eq 3 and d eq 4");
    }

    #[test]
    fn empty_raw_text_is_an_error_when_strict() {
        let mut renderer = Renderer::strict();
        let error = Filter::<Untyped>::raw("  ").render(&mut renderer).unwrap_err();
        assert_eq!(error.kind(), QueryErrorKind::EmptyText);
    }

    #[test]
    fn debug_shows_the_rendered_text() {
        assert_eq!(format!("{:?}", cmp("a", 1)), "Filter(\"a eq 1\")");
    }
}
