//! Kinds of column values, and which Rust values each kind can be compared with.
//!
//! A column's type parameter (`T` in [`Field<E, T>`](super::Field)) is its Rust value type,
//! wrapped in `Option` when the column can be null. The marker traits here say which
//! operators a kind of value gets: [`Text`] gets `contains`, [`Ordered`] gets `gt`, and so on.
//! [`Operand`] says which Rust values may stand on the right of a comparison, which is what keeps
//! `name eq 5` and `_parentaccountid_value eq 'abc'` from compiling.

use std::borrow::Cow;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::Literal;

/// A column's declared type: its Rust value type, or `Option` of it for a nullable column.
///
/// Implemented for `String`, `i32`, `i64`, [`Decimal`], `f64`, `bool`, [`Uuid`],
/// [`OffsetDateTime`], [`Date`], every [`ChoiceValue`] enum, [`AnyValue`], and `Option` of each.
///
/// ```
/// use dynamics_webapi::query::FieldType;
///
/// fn value_of<T: FieldType>() -> &'static str { std::any::type_name::<T::Value>() }
/// assert_eq!(value_of::<Option<i32>>(), "i32");
/// ```
pub trait FieldType {
    /// The type of a non-null value of the column.
    type Value;
}

/// A column type that can be null, so it gets `is_null` and `is_not_null`.
///
/// Implemented for `Option<T>` and for [`AnyValue`].
pub trait Nullable: FieldType {}

/// Text values: they get `contains`, `starts_with` and `ends_with`.
pub trait Text {}

/// Values with an order: they get `gt`, `ge`, `lt`, `le` and `between`.
pub trait Ordered {}

/// Numbers: they can be summed and averaged in `$apply`.
pub trait Numeric: Ordered {}

/// Dates and date-times: they get Dataverse's date query functions, such as `LastXDays`.
pub trait Temporal: Ordered {}

/// Identifiers (primary keys and lookups): they get Dataverse's user and hierarchy functions,
/// such as `EqualUserId` and `Under`.
pub trait Identifier {}

/// A choice (option set) enum: written into queries as its integer value.
///
/// Generated choice enums implement it; their `Unknown(i32)` variant returns the integer it holds.
///
/// ```
/// use dynamics_webapi::query::ChoiceValue;
///
/// enum StateCode { Active, Inactive, Unknown(i32) }
///
/// impl ChoiceValue for StateCode {
///     fn value(&self) -> i32 {
///         match self {
///             StateCode::Active => 0,
///             StateCode::Inactive => 1,
///             StateCode::Unknown(value) => *value,
///         }
///     }
/// }
///
/// assert_eq!(StateCode::Inactive.value(), 1);
/// ```
pub trait ChoiceValue {
    /// The option's integer value.
    fn value(&self) -> i32;
}

/// The value type of an untyped column ([`RawField`](super::RawField)): any [`Literal`] goes,
/// and every operator is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnyValue {}

/// A Rust value that may be compared with a column whose values are `V`.
///
/// This is what rejects mismatched comparisons at compile time: there is no
/// `Operand<String>` for `i32` and no `Operand<Uuid>` for `&str`.
///
/// ```
/// use dynamics_webapi::query::{Literal, Operand};
///
/// fn literal<V>(value: impl Operand<V>) -> Literal { value.into_literal() }
/// assert_eq!(literal::<String>("x").to_string(), "'x'");
/// assert_eq!(literal::<i64>(5).to_string(), "5");
/// ```
#[diagnostic::on_unimplemented(
    message = "a `{Self}` cannot be compared with a column of `{V}` values",
    label = "expected a value of the column's type"
)]
pub trait Operand<V> {
    /// The value as a literal.
    fn into_literal(self) -> Literal;
}

impl FieldType for AnyValue {
    type Value = AnyValue;
}

impl Nullable for AnyValue {}
impl Text for AnyValue {}
impl Ordered for AnyValue {}
impl Numeric for AnyValue {}
impl Temporal for AnyValue {}
impl Identifier for AnyValue {}

impl<T: FieldType> FieldType for Option<T> {
    type Value = T::Value;
}

impl<T: FieldType> Nullable for Option<T> {}

impl<C: ChoiceValue> FieldType for C {
    type Value = C;
}

impl<C: ChoiceValue> Operand<C> for C {
    fn into_literal(self) -> Literal {
        Literal::choice(&self)
    }
}

impl<C: ChoiceValue> Operand<C> for &C {
    fn into_literal(self) -> Literal {
        Literal::choice(self)
    }
}

impl<T: Into<Literal>> Operand<AnyValue> for T {
    fn into_literal(self) -> Literal {
        self.into()
    }
}

macro_rules! field_types {
    ($($value:ty: $($marker:ident)*;)+) => {$(
        impl FieldType for $value {
            type Value = $value;
        }
        $(impl $marker for $value {})*
    )+};
}

field_types! {
    String: Text;
    i32: Ordered Numeric;
    i64: Ordered Numeric;
    Decimal: Ordered Numeric;
    f64: Ordered Numeric;
    bool:;
    Uuid: Identifier;
    OffsetDateTime: Ordered Temporal;
    Date: Ordered Temporal;
}

macro_rules! operands {
    ($($value:ty => $($from:ty),+;)+) => {$($(
        impl Operand<$value> for $from {
            fn into_literal(self) -> Literal {
                Literal::from(self)
            }
        }
    )+)+};
}

operands! {
    String => &str, String, &String, Box<str>, Cow<'_, str>, char;
    i32 => i32, i16, u16, i8, u8;
    i64 => i64, i32, u32, i16, u16, i8, u8;
    Decimal => Decimal, &Decimal, i64, i32, u32, i16, u16, i8, u8;
    f64 => f64, f32, i32, u32, i16, u16, i8, u8;
    bool => bool;
    Uuid => Uuid, &Uuid;
    OffsetDateTime => OffsetDateTime;
    Date => Date;
}

#[cfg(test)]
mod tests {
    use super::{AnyValue, ChoiceValue, Operand};
    use rust_decimal::Decimal;

    #[derive(Clone, Copy)]
    enum Priority {
        High,
        Unknown(i32),
    }

    impl ChoiceValue for Priority {
        fn value(&self) -> i32 {
            match self {
                Self::High => 1,
                Self::Unknown(value) => *value,
            }
        }
    }

    fn literal<V>(value: impl Operand<V>) -> String {
        value.into_literal().to_string()
    }

    #[test]
    fn operands_become_literals_of_their_column_type() {
        assert_eq!(literal::<String>("a'b"), "'a''b'");
        assert_eq!(literal::<String>('c'), "'c'");
        assert_eq!(literal::<i64>(7_u32), "7");
        assert_eq!(literal::<Decimal>(Decimal::new(1005, 1)), "100.5");
        assert_eq!(literal::<Decimal>(100), "100");
        assert_eq!(literal::<f64>(0.25_f32), "0.25");
        assert_eq!(literal::<Priority>(Priority::High), "1");
        assert_eq!(literal::<Priority>(&Priority::Unknown(100_000_007)), "100000007");
        assert_eq!(literal::<AnyValue>(true), "true");
        assert_eq!(literal::<AnyValue>(None::<i32>), "null");
    }
}
