//! The error a query reports when it cannot be rendered.

use std::fmt;

/// Why a query could not be rendered.
///
/// Builders never fail while being chained: a bad value is kept and reported here,
/// by [`Query::validate`](super::Query::validate), [`Query::to_query_string`](super::Query::to_query_string)
/// and [`Query::query_pairs`](super::Query::query_pairs).
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::{Query, QueryErrorKind};
///
/// let error = Query::untyped("accounts").select("first name").validate().unwrap_err();
/// assert_eq!(error.kind(), QueryErrorKind::InvalidName);
/// assert_eq!(error.input(), "first name");
/// assert_eq!(error.to_string(), "invalid property path `first name`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    kind: QueryErrorKind,
    input: String,
    message: String,
}

impl QueryError {
    pub(crate) fn new(kind: QueryErrorKind, input: &str, message: String) -> Self {
        Self { kind, input: input.to_owned(), message }
    }

    /// What kind of mistake the query holds.
    ///
    /// ```
    /// use dynamics_webapi::query::{Query, QueryErrorKind};
    ///
    /// let error = Query::untyped("accounts").top(0).validate().unwrap_err();
    /// assert_eq!(error.kind(), QueryErrorKind::InvalidTop);
    /// ```
    pub fn kind(&self) -> QueryErrorKind {
        self.kind
    }

    /// The offending input, as the caller gave it (a name, a number, an annotation).
    ///
    /// ```
    /// use dynamics_webapi::query::Query;
    ///
    /// let error = Query::untyped("my accounts").validate().unwrap_err();
    /// assert_eq!(error.input(), "my accounts");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// The kinds of [`QueryError`].
///
/// ```
/// use dynamics_webapi::query::QueryErrorKind;
///
/// assert_eq!(QueryErrorKind::InvalidTop.to_string(), "invalid $top");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryErrorKind {
    /// A property, navigation property, entity set, alias, lambda variable or function name
    /// that is not an OData identifier (letters, digits and `_`, not starting with a digit).
    InvalidName,
    /// `$top` was 0; Dataverse needs at least 1.
    InvalidTop,
    /// The page size (`Prefer: odata.maxpagesize`) was 0.
    InvalidPageSize,
    /// A list that needs at least one element was empty, such as the values of `In` or the columns of `groupby`.
    EmptyList,
    /// A raw filter, raw `$apply` step, raw order or raw `$expand` was empty.
    EmptyText,
    /// An annotation pattern for `odata.include-annotations` that is not a qualified name or pattern.
    InvalidAnnotation,
}

impl fmt::Display for QueryErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidName => "invalid name",
            Self::InvalidTop => "invalid $top",
            Self::InvalidPageSize => "invalid page size",
            Self::EmptyList => "empty list",
            Self::EmptyText => "empty raw text",
            Self::InvalidAnnotation => "invalid annotation",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{QueryError, QueryErrorKind};

    #[test]
    fn display_is_the_message_and_accessors_keep_the_input() {
        let error = QueryError::new(QueryErrorKind::InvalidName, "a b", "invalid alias `a b`".to_owned());
        assert_eq!(error.to_string(), "invalid alias `a b`");
        assert_eq!(error.input(), "a b");
        assert_eq!(error.kind(), QueryErrorKind::InvalidName);
    }
}
