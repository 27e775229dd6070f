//! `OData.Community.Display.V1.FormattedValue` annotations, as an en-US org in UTC would format them:
//! lookups show the related record's name, choices of `statecode`/`statuscode` their labels, booleans
//! `Yes`/`No`, numbers with thousands separators, date-times as `1/5/2026 9:00 AM`.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::webapi::odata::body::LOOKUP_LOGICAL_NAME;
use crate::webapi::store::{Row, Store};

const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";
/// Columns that hold a record's name, in the order they are looked for.
const NAME_COLUMNS: [&str; 5] = ["name", "fullname", "subject", "title", "domainname"];

/// Adds the formatted value of every column of `record` that has one; `row` is the stored record.
pub(crate) fn annotate(store: &Store, row: &Row, record: &mut Map<String, Value>) {
    let mut annotations = Vec::new();
    for (column, value) in record.iter() {
        if column.contains('@') || value.is_null() {
            continue;
        }
        let formatted = if column.starts_with('_') && column.ends_with("_value") {
            lookup_name(store, row, column, value)
        } else {
            format_value(column, value)
        };
        if let Some(formatted) = formatted {
            annotations.push((format!("{column}{FORMATTED}"), Value::String(formatted)));
        }
    }
    record.extend(annotations);
}

fn lookup_name(store: &Store, row: &Row, column: &str, value: &Value) -> Option<String> {
    let id = Uuid::parse_str(value.as_str()?).ok()?;
    let logical = row.get(&format!("{column}{LOOKUP_LOGICAL_NAME}")).as_str();
    let related = store
        .tables()
        .filter(|table| logical.is_none_or(|logical| table.spec.logical_name == logical))
        .find_map(|table| table.position(id).map(|at| &table.rows[at]))?;
    NAME_COLUMNS.iter().find_map(|name| related.get(name).as_str().map(str::to_owned))
}

fn format_value(column: &str, value: &Value) -> Option<String> {
    match value {
        Value::Bool(flag) => Some(if *flag { "Yes" } else { "No" }.to_owned()),
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                let label = match (column, integer) {
                    ("statecode", 0) | ("statuscode", 1) => Some("Active"),
                    ("statecode", 1) | ("statuscode", 2) => Some("Inactive"),
                    _ => None,
                };
                if column == "versionnumber" {
                    return None;
                }
                Some(label.map_or_else(|| group(&integer.unsigned_abs().to_string(), integer < 0), str::to_owned))
            } else {
                let float = number.as_f64()?;
                let fixed = format!("{:.2}", float.abs());
                let (whole, fraction) = fixed.split_once('.').unwrap_or((&fixed, "00"));
                Some(format!("{}.{fraction}", group(whole, float < 0.0)))
            }
        }
        Value::String(text) if text.len() >= 20 => {
            let instant = OffsetDateTime::parse(text, &Rfc3339).ok()?.to_offset(time::UtcOffset::UTC);
            let (hour, minute) = (instant.hour(), instant.minute());
            let (twelve, half) = match hour {
                0 => (12, "AM"),
                1..=11 => (hour, "AM"),
                12 => (12, "PM"),
                _ => (hour - 12, "PM"),
            };
            Some(format!(
                "{}/{}/{} {twelve}:{minute:02} {half}",
                u8::from(instant.month()),
                instant.day(),
                instant.year()
            ))
        }
        _ => None,
    }
}

/// `1234567` as `1,234,567`.
fn group(digits: &str, negative: bool) -> String {
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    if negative { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_like_an_en_us_org() {
        assert_eq!(format_value("revenue", &json!(5000000.0)).as_deref(), Some("5,000,000.00"));
        assert_eq!(format_value("numberofemployees", &json!(1200)).as_deref(), Some("1,200"));
        assert_eq!(format_value("statecode", &json!(1)).as_deref(), Some("Inactive"));
        assert_eq!(format_value("donotphone", &json!(false)).as_deref(), Some("No"));
        assert_eq!(format_value("createdon", &json!("2026-01-05T09:00:00Z")).as_deref(), Some("1/5/2026 9:00 AM"));
        assert_eq!(format_value("modifiedon", &json!("2026-02-01T14:30:00Z")).as_deref(), Some("2/1/2026 2:30 PM"));
        assert_eq!(format_value("name", &json!("Contoso")), None);
        assert_eq!(format_value("versionnumber", &json!(1001)), None);
        assert_eq!(group("999", true), "-999");
    }
}
