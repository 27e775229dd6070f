//! Exact numbers from JSON: Money and Decimal columns arrive as JSON numbers whose digits exceed `f64`.
//!
//! Use with serde on fields of your own structs (generated entities do):
//!
//! ```
//! use rust_decimal::Decimal;
//!
//! #[derive(serde::Deserialize)]
//! struct Account {
//!     #[serde(default, with = "dynamics_webapi::exact::option_decimal")]
//!     revenue: Option<Decimal>,
//! }
//!
//! let account: Account = serde_json::from_str(r#"{"revenue": 123456789012345678.9012}"#)?;
//! assert_eq!(account.revenue.unwrap().to_string(), "123456789012345678.9012");
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! These read the number's text through `serde_json`'s raw values, so they work when deserialising
//! with `serde_json` directly (not inside `#[serde(flatten)]` or untagged enums, which buffer values).

use rust_decimal::Decimal;

/// Parses a JSON number's text exactly.
pub(crate) fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    let unquoted = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    Decimal::from_str_exact(unquoted)
        .or_else(|_| Decimal::from_scientific(unquoted))
        .map_err(|e| format!("`{unquoted}` is not a decimal number ({e})"))
}

/// `#[serde(with = "dynamics_webapi::exact::decimal")]` for a `Decimal` field.
pub mod decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::value::RawValue;

    /// Reads the number's text exactly.
    ///
    /// # Errors
    /// When the value is not a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        super::parse_decimal(raw.get()).map_err(serde::de::Error::custom)
    }

    /// Writes the number exactly, as a JSON number.
    ///
    /// # Errors
    /// When the serializer fails.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        match RawValue::from_string(value.to_string()) {
            Ok(raw) => serde::Serialize::serialize(&raw, serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

/// `#[serde(default, with = "dynamics_webapi::exact::option_decimal")]` for an `Option<Decimal>` field.
pub mod option_decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::value::RawValue;

    /// Reads the number's text exactly; `null` is `None`.
    ///
    /// # Errors
    /// When the value is neither a number nor null.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        match raw.get().trim() {
            "null" => Ok(None),
            text => super::parse_decimal(text).map(Some).map_err(serde::de::Error::custom),
        }
    }

    /// Writes the number exactly, or `null`.
    ///
    /// # Errors
    /// When the serializer fails.
    pub fn serialize<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::decimal::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_beyond_f64_reads_exactly() {
        for text in ["922337203685477.5807", "-922337203685477.5808", "0.0001", "5000000", "1.5E+3", "\"12.50\""] {
            let value = parse_decimal(text).unwrap();
            let expected = text.trim_matches('"');
            if !expected.contains('E') {
                assert_eq!(value.to_string(), expected);
            } else {
                assert_eq!(value, Decimal::from(1500));
            }
        }
        assert!(parse_decimal("\"abc\"").is_err());
    }

    #[test]
    fn round_trips_through_serde() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Row {
            #[serde(with = "decimal")]
            amount: Decimal,
            #[serde(default, with = "option_decimal")]
            other: Option<Decimal>,
        }
        let row: Row = serde_json::from_str(r#"{"amount": 12345678901234567.8901, "other": null}"#).unwrap();
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"amount":12345678901234567.8901,"other":null}"#);
    }
}
