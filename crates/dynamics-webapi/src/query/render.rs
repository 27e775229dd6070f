//! The writer every part of a query renders into, and the name rules it checks.
//!
//! A strict renderer rejects bad names and values with a [`QueryError`];
//! a lenient one (used by `Display`) writes whatever it was given and never fails.

use std::fmt::{self, Write as _};

use super::literal::write_quoted;
use super::{QueryError, QueryErrorKind};

pub(crate) type Result<T = ()> = std::result::Result<T, QueryError>;

/// Text being rendered, and whether mistakes are errors.
#[derive(Debug)]
pub(crate) struct Renderer {
    out: String,
    strict: bool,
}

impl Renderer {
    pub(crate) fn strict() -> Self {
        Self { out: String::new(), strict: true }
    }

    pub(crate) fn lenient() -> Self {
        Self { out: String::new(), strict: false }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    pub(crate) fn push(&mut self, text: &str) {
        self.out.push_str(text);
    }

    pub(crate) fn push_char(&mut self, c: char) {
        self.out.push(c);
    }

    pub(crate) fn display(&mut self, value: impl fmt::Display) {
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
    }

    pub(crate) fn quoted(&mut self, text: &str) {
        // Writing into a String cannot fail.
        let _ = write_quoted(&mut self.out, text);
    }

    /// Reports a mistake: an error when strict, nothing when lenient.
    pub(crate) fn check(
        &self,
        ok: bool,
        kind: QueryErrorKind,
        input: &str,
        message: impl FnOnce() -> String,
    ) -> Result {
        if ok || !self.strict { Ok(()) } else { Err(QueryError::new(kind, input, message())) }
    }

    /// Writes a single identifier (an alias, a lambda variable, a function name).
    pub(crate) fn identifier(&mut self, what: &'static str, name: &str) -> Result {
        self.check(is_identifier(name), QueryErrorKind::InvalidName, name, || format!("invalid {what} `{name}`"))?;
        self.push(name);
        Ok(())
    }

    /// Writes a property path such as `name` or `primarycontactid/fullname`,
    /// prefixed with the lambda variable in scope, if any.
    pub(crate) fn path(&mut self, scope: Option<&str>, path: &str) -> Result {
        self.check_path(path)?;
        if let Some(variable) = scope {
            self.push(variable);
            self.push_char('/');
        }
        self.push(path);
        Ok(())
    }

    pub(crate) fn check_path(&self, path: &str) -> Result {
        self.check(is_path(path), QueryErrorKind::InvalidName, path, || format!("invalid property path `{path}`"))
    }

    pub(crate) fn top(&mut self, top: u32) -> Result {
        self.check(top > 0, QueryErrorKind::InvalidTop, "0", || "$top must be at least 1".to_owned())?;
        self.display(top);
        Ok(())
    }
}

/// An OData simple identifier: a letter or `_`, then letters, digits or `_`, at most 128 characters.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && name.chars().count() <= 128
}

/// Identifiers joined by `.` (a type cast such as `Microsoft.Dynamics.CRM.account`),
/// and those joined by `/` (a path through navigation properties).
pub(crate) fn is_path(path: &str) -> bool {
    path.split('/').all(|segment| segment.split('.').all(is_identifier))
}

#[cfg(test)]
mod tests {
    use super::{Renderer, is_identifier, is_path};
    use crate::query::QueryErrorKind;

    #[test]
    fn identifiers_follow_the_odata_rules() {
        for good in ["name", "_parentaccountid_value", "new_Field2", "Zoë", "a"] {
            assert!(is_identifier(good), "{good:?}");
        }
        let long = "a".repeat(129);
        for bad in ["", "2x", "first name", "a-b", "a.b", "a/b", "a'b", "*", long.as_str()] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn paths_are_segments_of_qualified_names() {
        for good in ["name", "primarycontactid/fullname", "Microsoft.Dynamics.CRM.account/name"] {
            assert!(is_path(good), "{good:?}");
        }
        for bad in ["", "/name", "name/", "a//b", "a..b", "a b", "name eq 1"] {
            assert!(!is_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_lenient_renderer_writes_bad_names_without_failing() {
        let mut lenient = Renderer::lenient();
        lenient.path(Some("c"), "first name").unwrap();
        lenient.top(0).unwrap();
        assert_eq!(lenient.finish(), "c/first name0");

        let mut strict = Renderer::strict();
        let error = strict.path(None, "first name").unwrap_err();
        assert_eq!(error.kind(), QueryErrorKind::InvalidName);
        assert_eq!(error.to_string(), "invalid property path `first name`");
    }
}
