//! Annotations requested with `Prefer: odata.include-annotations="..."`.

use std::borrow::Cow;

use super::QueryErrorKind;
use super::render::{Renderer, Result};

/// An annotation Dataverse adds to each row when asked with `Prefer: odata.include-annotations`.
///
/// It is a request header, not a query option: [`Query::prefer_header`](super::Query::prefer_header)
/// renders it. Asking for [`All`](Annotation::All) makes the others redundant.
///
/// ```
/// use dynamics_webapi::query::Annotation;
///
/// assert_eq!(Annotation::FormattedValue.as_str(), "OData.Community.Display.V1.FormattedValue");
/// assert_eq!(Annotation::LookupLogicalName.as_str(), "Microsoft.Dynamics.CRM.lookuplogicalname");
/// assert_eq!(Annotation::Other("Microsoft.Dynamics.CRM.*".into()).as_str(), "Microsoft.Dynamics.CRM.*");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Annotation {
    /// `OData.Community.Display.V1.FormattedValue`: choice labels, formatted money and dates, lookup names.
    FormattedValue,
    /// `Microsoft.Dynamics.CRM.lookuplogicalname`: the table a lookup value points to.
    LookupLogicalName,
    /// `Microsoft.Dynamics.CRM.associatednavigationproperty`: the navigation property behind a lookup value.
    AssociatedNavigationProperty,
    /// `*`: every annotation.
    All,
    /// Any other term or pattern, such as `Microsoft.Dynamics.CRM.*` or `-OData.Community.*`;
    /// checked when the query renders.
    Other(Cow<'static, str>),
}

impl Annotation {
    /// The term or pattern as it goes into the header.
    ///
    /// ```
    /// use dynamics_webapi::query::Annotation;
    ///
    /// assert_eq!(Annotation::All.as_str(), "*");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            Self::FormattedValue => "OData.Community.Display.V1.FormattedValue",
            Self::LookupLogicalName => "Microsoft.Dynamics.CRM.lookuplogicalname",
            Self::AssociatedNavigationProperty => "Microsoft.Dynamics.CRM.associatednavigationproperty",
            Self::All => "*",
            Self::Other(pattern) => pattern,
        }
    }
}

/// A pattern is an optional `-`, then dot-separated identifiers, the last of which may be `*`.
fn is_pattern(pattern: &str) -> bool {
    let pattern = pattern.strip_prefix('-').unwrap_or(pattern);
    let segments: Vec<&str> = pattern.split('.').collect();
    let (last, init) = match segments.split_last() {
        Some(split) => split,
        None => return false,
    };
    init.iter().all(|segment| super::render::is_identifier(segment))
        && (*last == "*" || super::render::is_identifier(last))
}

/// Renders the value of `odata.include-annotations`, including its quotes; `*` wins over the rest.
pub(crate) fn render_annotations(annotations: &[Annotation], renderer: &mut Renderer) -> Result {
    renderer.push_char('"');
    if annotations.contains(&Annotation::All) {
        renderer.push_char('*');
    } else {
        let mut written: Vec<&str> = Vec::new();
        for annotation in annotations {
            let pattern = annotation.as_str();
            renderer.check(is_pattern(pattern), QueryErrorKind::InvalidAnnotation, pattern, || {
                format!("invalid annotation `{pattern}`")
            })?;
            if written.contains(&pattern) {
                continue;
            }
            if !written.is_empty() {
                renderer.push_char(',');
            }
            renderer.push(pattern);
            written.push(pattern);
        }
    }
    renderer.push_char('"');
    Ok(())
}

/// The whole `odata.include-annotations="..."` preference for `annotations`, checked.
pub(crate) fn include_annotations(annotations: &[Annotation]) -> std::result::Result<String, crate::Error> {
    let mut renderer = Renderer::strict();
    renderer.push("odata.include-annotations=");
    render_annotations(annotations, &mut renderer)?;
    Ok(renderer.finish())
}

#[cfg(test)]
mod tests {
    use super::{Annotation, is_pattern, render_annotations};
    use crate::query::QueryErrorKind;
    use crate::query::render::Renderer;

    fn strict(annotations: &[Annotation]) -> Result<String, crate::query::QueryError> {
        let mut renderer = Renderer::strict();
        render_annotations(annotations, &mut renderer)?;
        Ok(renderer.finish())
    }

    #[test]
    fn joins_distinct_annotations_and_lets_all_win() {
        let both = [Annotation::FormattedValue, Annotation::LookupLogicalName, Annotation::FormattedValue];
        assert_eq!(
            strict(&both).unwrap(),
            "\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\""
        );
        assert_eq!(strict(&[Annotation::LookupLogicalName, Annotation::All]).unwrap(), "\"*\"");
    }

    #[test]
    fn checks_custom_patterns() {
        for good in ["Microsoft.Dynamics.CRM.*", "-OData.Community.*", "*", "a.b.c"] {
            assert!(is_pattern(good), "{good:?}");
        }
        for bad in ["", "a b", "a,b", "\"x\"", "a.*.b", "a..b", "-"] {
            assert!(!is_pattern(bad), "{bad:?}");
        }
        let error = strict(&[Annotation::Other("x\",odata.maxpagesize=1".into())]).unwrap_err();
        assert_eq!(error.kind(), QueryErrorKind::InvalidAnnotation);
    }
}
