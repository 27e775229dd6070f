//! How column values compare: numbers numerically, strings case-insensitively (Dataverse's default collation),
//! GUIDs without regard to case or braces.

use std::cmp::Ordering;

use serde_json::Value;

/// `eq` as Dataverse evaluates it; `null eq null` is true.
pub(crate) fn equal(left: &Value, right: &Value) -> bool {
    order(left, right) == Some(Ordering::Equal)
}

/// The order of two values, `None` when they cannot be compared (different kinds, or a null and a value).
pub(crate) fn order(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::String(a), Value::String(b)) => match (instant(a), instant(b)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(fold(a).cmp(&fold(b))),
        },
        // A number stored as text (such as a decimal serialised as a string) still compares with a number.
        (Value::String(a), Value::Number(b)) => a.parse::<f64>().ok()?.partial_cmp(&b.as_f64()?),
        (Value::Number(a), Value::String(b)) => a.as_f64()?.partial_cmp(&b.parse::<f64>().ok()?),
        _ => None,
    }
}

/// The sort order of `$orderby`: nulls first (as SQL Server sorts them ascending), then by [`order`].
pub(crate) fn sort(left: &Value, right: &Value) -> Ordering {
    match (left.is_null(), right.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => order(left, right).unwrap_or(Ordering::Equal),
    }
}

/// A date-time value (`2026-01-05T09:00:00Z`, with or without fractional seconds or an offset).
fn instant(text: &str) -> Option<time::OffsetDateTime> {
    if text.len() < 20 || !text.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Case folding for comparisons; GUID braces are dropped so `{A}` equals `a`.
pub(crate) fn fold(text: &str) -> String {
    text.trim_start_matches('{').trim_end_matches('}').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_compare_without_case_and_numbers_by_value() {
        assert!(equal(&json!("Contoso"), &json!("CONTOSO")));
        assert!(equal(&json!(10), &json!(10.0)));
        assert_eq!(order(&json!(2), &json!(10)), Some(Ordering::Less));
        assert_eq!(order(&json!(null), &json!(1)), None);
        assert!(equal(&json!(null), &json!(null)));
        assert_eq!(sort(&json!(null), &json!("a")), Ordering::Less);
        assert!(equal(&json!("2026-01-05T09:00:00Z"), &json!("2026-01-05T09:00:00.000Z")));
        assert_eq!(order(&json!("2026-01-05T10:00:00+02:00"), &json!("2026-01-05T09:00:00Z")), Some(Ordering::Less));
    }
}
