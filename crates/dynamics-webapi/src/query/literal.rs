//! OData literals: values written into a URL, formatted per Edm type.

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime, Time, UtcOffset};
use uuid::Uuid;

use super::ChoiceValue;

/// A value as it appears in an OData URL, such as the right-hand side of `name eq 'Contoso'`.
///
/// Its [`Display`](fmt::Display) is the OData literal, not yet percent-encoded:
///
/// | Edm type | Rust value | Literal |
/// | --- | --- | --- |
/// | `Edm.String` | `"O'Neil"` | `'O''Neil'` (quoted, `'` doubled) |
/// | `Edm.Guid` | [`Uuid`] | `00000000-0000-0000-0000-000000000001` (bare) |
/// | `Edm.Int32`, `Edm.Int64` | `i32`, `i64` | `42` |
/// | `Edm.Decimal` (and Money) | [`Decimal`] | `1234.50` (exact) |
/// | `Edm.Double` | `f64` | `1.5`, `1e300`, `NaN`, `INF`, `-INF` |
/// | `Edm.Boolean` | `bool` | `true` |
/// | `Edm.DateTimeOffset` | [`OffsetDateTime`] | `2024-01-02T03:04:05Z` (in UTC) |
/// | `Edm.Date` | [`Date`] | `2024-01-02` |
/// | choice (option set) | a [`ChoiceValue`] | `100000001` |
/// | null | `None` | `null` |
///
/// # Examples
///
/// ```
/// use dynamics_webapi::query::Literal;
/// use time::macros::{date, datetime};
///
/// assert_eq!(Literal::from("O'Neil").to_string(), "'O''Neil'");
/// assert_eq!(Literal::from(42).to_string(), "42");
/// assert_eq!(Literal::from(f64::NAN).to_string(), "NaN");
/// assert_eq!(Literal::from(datetime!(2024-01-02 05:04:05 +2)).to_string(), "2024-01-02T03:04:05Z");
/// assert_eq!(Literal::from(date!(2024-01-02)).to_string(), "2024-01-02");
/// assert_eq!(Literal::from(None::<i32>).to_string(), "null");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean(bool),
    /// An `Edm.Int32`; choice values are written as this.
    Int32(i32),
    /// An `Edm.Int64` (BigInt columns).
    Int64(i64),
    /// An `Edm.Decimal`, also used for Money columns, written exactly.
    Decimal(Decimal),
    /// An `Edm.Double` (Float columns); NaN and the infinities are written `NaN`, `INF` and `-INF`.
    Double(f64),
    /// An `Edm.String`, written between single quotes with each `'` doubled.
    String(String),
    /// An `Edm.Guid`, written bare.
    Guid(Uuid),
    /// An `Edm.DateTimeOffset`, written in UTC with a `Z`.
    DateTimeOffset(OffsetDateTime),
    /// An `Edm.Date` (date-only columns).
    Date(Date),
}

impl Literal {
    /// The literal of a choice (option set) value: its integer.
    ///
    /// ```
    /// use dynamics_webapi::query::{ChoiceValue, Literal};
    ///
    /// enum Category { Preferred, Standard }
    ///
    /// impl ChoiceValue for Category {
    ///     fn value(&self) -> i32 {
    ///         match self { Category::Preferred => 1, Category::Standard => 2 }
    ///     }
    /// }
    ///
    /// assert_eq!(Literal::choice(&Category::Standard).to_string(), "2");
    /// ```
    pub fn choice(value: &impl ChoiceValue) -> Self {
        Self::Int32(value.value())
    }

    /// The same value as an `Edm.String` literal, for Dataverse query functions
    /// whose values are typed `Collection(Edm.String)` or `Edm.String` (such as `In`, `Between` and `Under`).
    pub(crate) fn into_string_literal(self) -> Self {
        match self {
            Self::String(text) => Self::String(text),
            other => Self::String(other.to_string()),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Boolean(value) => write!(f, "{value}"),
            Self::Int32(value) => write!(f, "{value}"),
            Self::Int64(value) => write!(f, "{value}"),
            Self::Decimal(value) => write!(f, "{value}"),
            Self::Double(value) => write_double(f, *value),
            Self::String(value) => write_quoted(f, value),
            Self::Guid(value) => write!(f, "{}", value.hyphenated()),
            Self::DateTimeOffset(value) => write_date_time(f, *value),
            Self::Date(value) => write_date(f, *value),
        }
    }
}

/// Writes `text` as an OData string literal: between single quotes, with each `'` doubled.
///
/// This is the only place that quotes strings; percent-encoding happens later,
/// once, in [`encode_query_value`](super::encode_query_value).
pub(crate) fn write_quoted(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('\'')?;
    for (index, part) in text.split('\'').enumerate() {
        if index > 0 {
            out.write_str("''")?;
        }
        out.write_str(part)?;
    }
    out.write_char('\'')
}

fn write_double(f: &mut fmt::Formatter<'_>, value: f64) -> fmt::Result {
    if value.is_nan() {
        f.write_str("NaN")
    } else if value.is_infinite() {
        f.write_str(if value > 0.0 { "INF" } else { "-INF" })
    } else {
        // Debug is the shortest text that reads back to the same f64, and switches to
        // exponent notation (`1e300`, `1e-7`) for extreme magnitudes, which OData accepts.
        write!(f, "{value:?}")
    }
}

fn write_date(f: &mut impl fmt::Write, date: Date) -> fmt::Result {
    let year = date.year();
    if year < 0 {
        f.write_char('-')?;
    }
    write!(f, "{:04}-{:02}-{:02}", year.unsigned_abs(), u8::from(date.month()), date.day())
}

fn write_time(f: &mut impl fmt::Write, time: Time) -> fmt::Result {
    write!(f, "{:02}:{:02}:{:02}", time.hour(), time.minute(), time.second())?;
    let nanos = time.nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        write!(f, ".{}", digits.trim_end_matches('0'))?;
    }
    Ok(())
}

fn write_date_time(f: &mut impl fmt::Write, value: OffsetDateTime) -> fmt::Result {
    match value.checked_to_utc() {
        Some(utc) => {
            write_date(f, utc.date())?;
            f.write_char('T')?;
            write_time(f, utc.time())?;
            f.write_char('Z')
        }
        // Only at the very edge of the supported range: keep the original offset.
        None => {
            write_date(f, value.date())?;
            f.write_char('T')?;
            write_time(f, value.time())?;
            write_offset(f, value.offset())
        }
    }
}

fn write_offset(f: &mut impl fmt::Write, offset: UtcOffset) -> fmt::Result {
    let sign = if offset.is_negative() { '-' } else { '+' };
    write!(f, "{sign}{:02}:{:02}", offset.whole_hours().unsigned_abs(), offset.minutes_past_hour().unsigned_abs())
}

macro_rules! literal_from {
    ($($from:ty => $variant:ident),+ $(,)?) => {$(
        impl From<$from> for Literal {
            fn from(value: $from) -> Self {
                Self::$variant(value.into())
            }
        }
    )+};
}

literal_from!(
    bool => Boolean,
    i8 => Int32,
    u8 => Int32,
    i16 => Int32,
    u16 => Int32,
    i32 => Int32,
    u32 => Int64,
    i64 => Int64,
    Decimal => Decimal,
    f32 => Double,
    f64 => Double,
    String => String,
    &str => String,
    &String => String,
    Box<str> => String,
    char => String,
    Uuid => Guid,
    OffsetDateTime => DateTimeOffset,
    Date => Date,
);

impl From<Cow<'_, str>> for Literal {
    fn from(value: Cow<'_, str>) -> Self {
        Self::String(value.into_owned())
    }
}

impl From<&Uuid> for Literal {
    fn from(value: &Uuid) -> Self {
        Self::Guid(*value)
    }
}

impl From<&Decimal> for Literal {
    fn from(value: &Decimal) -> Self {
        Self::Decimal(*value)
    }
}

impl<T: Into<Literal>> From<Option<T>> for Literal {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// Reads an OData string literal back: the inverse of [`write_quoted`], for tests.
#[cfg(test)]
pub(crate) fn unquote(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // A quote inside the literal must be doubled.
            if chars.next() != Some('\'') {
                return None;
            }
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{Literal, unquote, write_quoted};
    use rust_decimal::Decimal;
    use time::macros::{date, datetime};
    use uuid::Uuid;

    #[test]
    fn quotes_strings_by_doubling_single_quotes() {
        let cases = [
            ("", "''"),
            ("Contoso", "'Contoso'"),
            ("O'Neil", "'O''Neil'"),
            ("'", "''''"),
            ("''", "''''''"),
            ("a'b'c", "'a''b''c'"),
            ("'edge'", "'''edge'''"),
            ("\"double\"", "'\"double\"'"),
            ("a&b#c+d%e/f?g h", "'a&b#c+d%e/f?g h'"),
            ("Zoë – 東京", "'Zoë – 東京'"),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            write_quoted(&mut out, input).unwrap();
            assert_eq!(out, expected, "quoting {input:?}");
            assert_eq!(unquote(&out).as_deref(), Some(input), "unquoting {out:?}");
        }
    }

    #[test]
    fn unquote_rejects_text_that_is_not_a_string_literal() {
        for bad in ["", "'", "abc", "'a'b'", "'abc"] {
            assert_eq!(unquote(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_each_edm_type() {
        let guid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let cases: Vec<(Literal, &str)> = vec![
            (Literal::Null, "null"),
            (true.into(), "true"),
            (false.into(), "false"),
            (i32::MIN.into(), "-2147483648"),
            (i64::MAX.into(), "9223372036854775807"),
            (u32::MAX.into(), "4294967295"),
            (Decimal::new(123_450, 2).into(), "1234.50"),
            (Decimal::new(-5, 28).into(), "-0.0000000000000000000000000005"),
            (Decimal::MAX.into(), "79228162514264337593543950335"),
            (1.5_f64.into(), "1.5"),
            (2.0_f64.into(), "2.0"),
            (1e300_f64.into(), "1e300"),
            ((-1e-7_f64).into(), "-1e-7"),
            (f64::NAN.into(), "NaN"),
            (f64::INFINITY.into(), "INF"),
            (f64::NEG_INFINITY.into(), "-INF"),
            ("it's".into(), "'it''s'"),
            (guid.into(), "01234567-89ab-cdef-0123-456789abcdef"),
            (datetime!(2024-01-02 03:04:05 UTC).into(), "2024-01-02T03:04:05Z"),
            (datetime!(2024-01-02 00:30:00 +01:00).into(), "2024-01-01T23:30:00Z"),
            (datetime!(2024-01-02 03:04:05.120 UTC).into(), "2024-01-02T03:04:05.12Z"),
            (datetime!(2024-01-02 03:04:05.000_000_001 UTC).into(), "2024-01-02T03:04:05.000000001Z"),
            (date!(2024 - 01 - 02).into(), "2024-01-02"),
            (date!(0033 - 12 - 31).into(), "0033-12-31"),
            (date!(-0001 - 01 - 01).into(), "-0001-01-01"),
            (Some(7).into(), "7"),
            (None::<&str>.into(), "null"),
        ];
        for (literal, expected) in cases {
            assert_eq!(literal.to_string(), expected, "{literal:?}");
        }
    }

    #[test]
    fn keeps_the_offset_when_utc_is_out_of_range() {
        let edge = datetime!(-9999-01-01 00:00:00 +01:00);
        assert_eq!(Literal::from(edge).to_string(), "-9999-01-01T00:00:00+01:00");
    }

    #[test]
    fn string_literals_of_other_types_quote_their_text() {
        assert_eq!(Literal::from(5).into_string_literal().to_string(), "'5'");
        assert_eq!(Literal::from("x'y").into_string_literal().to_string(), "'x''y'");
        assert_eq!(Literal::from(date!(2024 - 01 - 02)).into_string_literal().to_string(), "'2024-01-02'");
    }
}
