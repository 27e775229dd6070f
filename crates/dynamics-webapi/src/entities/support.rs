//! Serde helpers the generated entities name in their `#[serde(...)]` attributes: dates, base64,
//! multi-select choices, exact decimals and lookup binds.
//!
//! Generated code calls them by their full paths (`::dynamics_webapi::entities::support::option_date`);
//! hand-written entities may use them the same way.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::BorrowedFormatItem;

use crate::Patch;
use crate::query::{ChoiceValue, Column, Filter, QueryFunction};

const DATE: &[BorrowedFormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]");

/// True for `Patch::Keep`, which a write leaves out.
pub fn keep<T>(value: &Patch<T>) -> bool {
    value.is_keep()
}

/// Reads an `Edm.Date` (`2024-05-31`).
pub fn option_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<time::Date>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => time::Date::parse(&text, DATE).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Reads an `Edm.Binary` (base64 text).
pub fn option_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => {
            base64::engine::general_purpose::STANDARD.decode(text).map(Some).map_err(serde::de::Error::custom)
        }
    }
}

/// Reads a multi-select choice (`"1,2,3"`).
pub fn option_multi<'de, D: Deserializer<'de>, C: From<i32>>(deserializer: D) -> Result<Option<Vec<C>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(Some(Vec::new())),
        Some(text) => text
            .split(',')
            .map(|item| item.trim().parse::<i32>().map(C::from).map_err(serde::de::Error::custom))
            .collect::<Result<Vec<C>, D::Error>>()
            .map(Some),
    }
}

/// Writes a Money or Decimal column exactly.
pub fn patch_decimal<S: Serializer>(value: &Patch<rust_decimal::Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Patch::Set(value) => crate::exact::decimal::serialize(value, serializer),
        Patch::Keep | Patch::Clear => serializer.serialize_none(),
    }
}

/// Writes an `Edm.DateTimeOffset` as RFC 3339.
pub fn patch_date_time<S: Serializer>(value: &Patch<time::OffsetDateTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Patch::Set(value) => time::serde::rfc3339::serialize(value, serializer),
        Patch::Keep | Patch::Clear => serializer.serialize_none(),
    }
}

/// Writes an `Edm.Date`.
pub fn patch_date<S: Serializer>(value: &Patch<time::Date>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Patch::Set(value) => serializer.serialize_str(&value.format(DATE).map_err(serde::ser::Error::custom)?),
        Patch::Keep | Patch::Clear => serializer.serialize_none(),
    }
}

/// Writes an `Edm.Binary` as base64.
pub fn patch_base64<S: Serializer>(value: &Patch<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Patch::Set(value) => serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(value)),
        Patch::Keep | Patch::Clear => serializer.serialize_none(),
    }
}

/// Writes a multi-select choice as `"1,2,3"`.
pub fn patch_multi<S: Serializer, C: Copy + Into<i32>>(
    value: &Patch<Vec<C>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Patch::Set(values) => {
            let text: Vec<String> = values.iter().map(|value| (*value).into().to_string()).collect();
            serializer.serialize_str(&text.join(","))
        }
        Patch::Keep | Patch::Clear => serializer.serialize_none(),
    }
}

/// A `ContainValues` or `DoesNotContainValues` call on a multi-select column, with the options as strings.
pub fn choice_values<E, C: ChoiceValue>(
    function: &'static str,
    column: impl Column<Entity = E>,
    values: impl IntoIterator<Item = C>,
) -> Filter<E> {
    let values = values.into_iter().map(|value| value.value().to_string());
    QueryFunction::new(function, column).values(values).into()
}

/// Writes a lookup bind: `/<entity set>(<id>)`, or `null` to clear the lookup.
pub fn bind<S: Serializer>(value: &Patch<uuid::Uuid>, entity_set: &str, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Patch::Set(id) => serializer.serialize_str(&crate::bind(entity_set, *id)),
        Patch::Keep | Patch::Clear => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.

    use serde::{Deserialize, Serialize};

    use crate::Patch;

    #[derive(Debug, Default, PartialEq, Deserialize)]
    struct Read {
        #[serde(default, deserialize_with = "super::option_date")]
        date: Option<time::Date>,
        #[serde(default, deserialize_with = "super::option_base64")]
        body: Option<Vec<u8>>,
        #[serde(default, deserialize_with = "super::option_multi")]
        tags: Option<Vec<i32>>,
    }

    #[derive(Default, Serialize)]
    struct Write {
        #[serde(skip_serializing_if = "super::keep", serialize_with = "super::patch_decimal")]
        revenue: Patch<rust_decimal::Decimal>,
        #[serde(skip_serializing_if = "super::keep", serialize_with = "super::patch_date_time")]
        at: Patch<time::OffsetDateTime>,
        #[serde(skip_serializing_if = "super::keep", serialize_with = "super::patch_date")]
        date: Patch<time::Date>,
        #[serde(skip_serializing_if = "super::keep", serialize_with = "super::patch_base64")]
        body: Patch<Vec<u8>>,
        #[serde(skip_serializing_if = "super::keep", serialize_with = "super::patch_multi")]
        tags: Patch<Vec<i32>>,
        #[serde(
            rename = "parentaccountid@odata.bind",
            skip_serializing_if = "super::keep",
            serialize_with = "accounts"
        )]
        parent: Patch<uuid::Uuid>,
    }

    fn accounts<S: serde::Serializer>(value: &Patch<uuid::Uuid>, serializer: S) -> Result<S::Ok, S::Error> {
        super::bind(value, "accounts", serializer)
    }

    #[test]
    fn reads_dates_base64_and_multi_select_text() {
        let read: Read = serde_json::from_str(r#"{"date":"2024-05-31","body":"aGk=","tags":"1, 2,3"}"#).unwrap();
        assert_eq!(read.date, Some(time::macros::date!(2024 - 05 - 31)));
        assert_eq!(read.body.as_deref(), Some(&b"hi"[..]));
        assert_eq!(read.tags, Some(vec![1, 2, 3]));

        let read: Read = serde_json::from_str(r#"{"date":null,"body":null,"tags":" "}"#).unwrap();
        assert_eq!(read, Read { tags: Some(Vec::new()), ..Read::default() });
        assert_eq!(serde_json::from_str::<Read>("{}").unwrap(), Read::default());
    }

    #[test]
    fn malformed_values_are_errors_not_guesses() {
        for text in [r#"{"date":"31/05/2024"}"#, r#"{"body":"not base64!"}"#, r#"{"tags":"1,x"}"#] {
            assert!(serde_json::from_str::<Read>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn writes_only_what_is_set_and_null_for_a_clear() {
        assert_eq!(serde_json::to_string(&Write::default()).unwrap(), "{}");
        let id = uuid::Uuid::parse_str("6f1e5a8b-63c4-4a3f-9d1e-2b7c9a4e0d11").unwrap();
        let write = Write {
            revenue: Patch::Set(rust_decimal::Decimal::new(123_456_789_012_345_678, 4)),
            at: Patch::Set(time::macros::datetime!(2024-05-31 08:30 UTC)),
            date: Patch::Set(time::macros::date!(2024 - 05 - 31)),
            body: Patch::Set(b"hi".to_vec()),
            tags: Patch::Set(vec![1, 3]),
            parent: Patch::Set(id),
        };
        assert_eq!(
            serde_json::to_string(&write).unwrap(),
            r#"{"revenue":12345678901234.5678,"at":"2024-05-31T08:30:00Z","date":"2024-05-31","body":"aGk=","tags":"1,3","parentaccountid@odata.bind":"/accounts(6f1e5a8b-63c4-4a3f-9d1e-2b7c9a4e0d11)"}"#
        );
        let cleared = Write {
            revenue: Patch::Clear,
            at: Patch::Clear,
            date: Patch::Clear,
            body: Patch::Clear,
            tags: Patch::Clear,
            parent: Patch::Clear,
        };
        assert_eq!(
            serde_json::to_string(&cleared).unwrap(),
            r#"{"revenue":null,"at":null,"date":null,"body":null,"tags":null,"parentaccountid@odata.bind":null}"#
        );
    }
}
