//! Column operators, one extension trait per kind of value (import them with the `prelude`).

use super::filter::{CompareOp, Expr, TextFunction};
use super::function::{FunctionCall, FunctionValue};
use super::{Column, FieldType, Filter, Identifier, Literal, Nullable, Operand, OrderBy, Ordered, Temporal, Text};
use time::Date;

/// The value type of column `C`: `String` for a `Field<E, Option<String>>`.
pub type ValueOf<C> = <<C as Column>::Type as FieldType>::Value;

fn compare<C: Column + ?Sized>(column: &C, op: CompareOp, value: Literal) -> Filter<C::Entity> {
    Filter::compare(column.path(), op, value)
}

fn call<C: Column + ?Sized>(column: &C, name: &'static str, value: Option<FunctionValue>) -> Filter<C::Entity> {
    Filter::from_expr(Expr::Function(Box::new(FunctionCall::with(name, column.attribute(), value))))
}

fn strings(values: impl IntoIterator<Item = Literal>) -> Option<FunctionValue> {
    Some(FunctionValue::Many(values.into_iter().map(Literal::into_string_literal).collect()))
}

/// Operators of every column: equality, Dataverse's `In`/`NotIn`, and ordering of results.
pub trait ColumnMethods: Column {
    /// The column equals `value`: `name eq 'x'`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, Option<String>> = Field::new("name");
    /// assert_eq!(NAME.eq("O'Neil").to_string(), "name eq 'O''Neil'");
    /// ```
    fn eq(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        compare(self, CompareOp::Eq, value.into_literal())
    }

    /// The column differs from `value`: `name ne 'x'`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const ACTIVE: Field<Untyped, bool> = Field::new("isactive");
    /// assert_eq!(ACTIVE.ne(true).to_string(), "isactive ne true");
    /// ```
    fn ne(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        compare(self, CompareOp::Ne, value.into_literal())
    }

    /// The column equals one of `values`: Dataverse's `In`, whose values are strings.
    ///
    /// An empty list is an error when the query renders.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const STATUS: Field<Untyped, Option<i32>> = Field::new("statuscode");
    /// assert_eq!(
    ///     STATUS.is_in([1, 2]).to_string(),
    ///     "Microsoft.Dynamics.CRM.In(PropertyName='statuscode',PropertyValues=['1','2'])",
    /// );
    /// ```
    fn is_in(&self, values: impl IntoIterator<Item = impl Operand<ValueOf<Self>>>) -> Filter<Self::Entity> {
        call(self, "In", strings(values.into_iter().map(Operand::into_literal)))
    }

    /// The column equals none of `values`: Dataverse's `NotIn`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const CITY: Field<Untyped, Option<String>> = Field::new("address1_city");
    /// assert_eq!(
    ///     CITY.not_in(["Redmond", "Seattle"]).to_string(),
    ///     "Microsoft.Dynamics.CRM.NotIn(PropertyName='address1_city',PropertyValues=['Redmond','Seattle'])",
    /// );
    /// ```
    fn not_in(&self, values: impl IntoIterator<Item = impl Operand<ValueOf<Self>>>) -> Filter<Self::Entity> {
        call(self, "NotIn", strings(values.into_iter().map(Operand::into_literal)))
    }

    /// Orders by the column, smallest first: `name asc`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// assert_eq!(NAME.asc().to_string(), "name asc");
    /// ```
    fn asc(&self) -> OrderBy<Self::Entity> {
        OrderBy::new(self.path(), false)
    }

    /// Orders by the column, largest first: `name desc`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, String> = Field::new("name");
    /// assert_eq!(NAME.desc().to_string(), "name desc");
    /// ```
    fn desc(&self) -> OrderBy<Self::Entity> {
        OrderBy::new(self.path(), true)
    }
}

impl<C: Column> ColumnMethods for C {}

/// Null tests, for columns declared as `Option<T>` (and lookups).
///
/// ```compile_fail,E0599
/// use dynamics_webapi::query::{Field, Untyped, prelude::*};
///
/// const ID: Field<Untyped, uuid::Uuid> = Field::new("accountid");
/// let _ = ID.is_null();
/// ```
pub trait NullMethods: Column {
    /// The column is null: `name eq null`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const PHONE: Field<Untyped, Option<String>> = Field::new("telephone1");
    /// assert_eq!(PHONE.is_null().to_string(), "telephone1 eq null");
    /// ```
    fn is_null(&self) -> Filter<Self::Entity> {
        compare(self, CompareOp::Eq, Literal::Null)
    }

    /// The column is not null: `name ne null`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const PHONE: Field<Untyped, Option<String>> = Field::new("telephone1");
    /// assert_eq!(PHONE.is_not_null().to_string(), "telephone1 ne null");
    /// ```
    fn is_not_null(&self) -> Filter<Self::Entity> {
        compare(self, CompareOp::Ne, Literal::Null)
    }
}

impl<C> NullMethods for C
where
    C: Column,
    C::Type: Nullable,
{
}

/// OData's string functions, for text columns.
///
/// ```compile_fail,E0599
/// use dynamics_webapi::query::{Field, Untyped, prelude::*};
///
/// const EMPLOYEES: Field<Untyped, i32> = Field::new("numberofemployees");
/// let _ = EMPLOYEES.contains("1");
/// ```
pub trait TextMethods: Column {
    /// The column contains `value`: `contains(name,'x')`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, Option<String>> = Field::new("name");
    /// assert_eq!(NAME.contains("Contoso").to_string(), "contains(name,'Contoso')");
    /// ```
    fn contains(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        Filter::text(TextFunction::Contains, self.path(), value.into_literal())
    }

    /// The column starts with `value`: `startswith(name,'x')`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const NAME: Field<Untyped, Option<String>> = Field::new("name");
    /// assert_eq!(NAME.starts_with("Con").to_string(), "startswith(name,'Con')");
    /// ```
    fn starts_with(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        Filter::text(TextFunction::StartsWith, self.path(), value.into_literal())
    }

    /// The column ends with `value`: `endswith(name,'x')`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const EMAIL: Field<Untyped, Option<String>> = Field::new("emailaddress1");
    /// assert_eq!(EMAIL.ends_with("@contoso.com").to_string(), "endswith(emailaddress1,'@contoso.com')");
    /// ```
    fn ends_with(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        Filter::text(TextFunction::EndsWith, self.path(), value.into_literal())
    }
}

impl<C> TextMethods for C
where
    C: Column,
    ValueOf<C>: Text,
{
}

/// Ordering comparisons, for numbers, dates and date-times.
///
/// ```compile_fail,E0599
/// use dynamics_webapi::query::{Field, Untyped, prelude::*};
///
/// const NAME: Field<Untyped, String> = Field::new("name");
/// let _ = NAME.gt("M");
/// ```
pub trait OrderingMethods: Column {
    /// The column is greater than `value`: `revenue gt 5`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    /// use rust_decimal::Decimal;
    ///
    /// const REVENUE: Field<Untyped, Option<Decimal>> = Field::new("revenue");
    /// assert_eq!(REVENUE.gt(Decimal::new(150_000_050, 2)).to_string(), "revenue gt 1500000.50");
    /// ```
    fn gt(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        compare(self, CompareOp::Gt, value.into_literal())
    }

    /// The column is greater than or equal to `value`: `createdon ge 2024-01-02T03:04:05Z`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    /// use time::{OffsetDateTime, macros::datetime};
    ///
    /// const CREATED_ON: Field<Untyped, OffsetDateTime> = Field::new("createdon");
    /// assert_eq!(
    ///     CREATED_ON.ge(datetime!(2024-01-02 03:04:05 UTC)).to_string(),
    ///     "createdon ge 2024-01-02T03:04:05Z",
    /// );
    /// ```
    fn ge(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        compare(self, CompareOp::Ge, value.into_literal())
    }

    /// The column is less than `value`: `birthdate lt 2000-01-01`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    /// use time::macros::date;
    ///
    /// const BIRTHDATE: Field<Untyped, Option<time::Date>> = Field::new("birthdate");
    /// assert_eq!(BIRTHDATE.lt(date!(2000-01-01)).to_string(), "birthdate lt 2000-01-01");
    /// ```
    fn lt(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        compare(self, CompareOp::Lt, value.into_literal())
    }

    /// The column is less than or equal to `value`: `score le 0.5`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const SCORE: Field<Untyped, f64> = Field::new("new_score");
    /// assert_eq!(SCORE.le(0.5).to_string(), "new_score le 0.5");
    /// ```
    fn le(&self, value: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        compare(self, CompareOp::Le, value.into_literal())
    }

    /// The column lies between `low` and `high`, both included: Dataverse's `Between`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const EMPLOYEES: Field<Untyped, Option<i32>> = Field::new("numberofemployees");
    /// assert_eq!(
    ///     EMPLOYEES.between(5, 2000).to_string(),
    ///     "Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=['5','2000'])",
    /// );
    /// ```
    fn between(&self, low: impl Operand<ValueOf<Self>>, high: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        let values = [low.into_literal(), high.into_literal()];
        call(self, "Between", strings(values))
    }

    /// The column lies outside `low` to `high`: Dataverse's `NotBetween`.
    ///
    /// ```
    /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
    ///
    /// const EMPLOYEES: Field<Untyped, Option<i32>> = Field::new("numberofemployees");
    /// assert_eq!(
    ///     EMPLOYEES.not_between(5, 2000).to_string(),
    ///     "Microsoft.Dynamics.CRM.NotBetween(PropertyName='numberofemployees',PropertyValues=['5','2000'])",
    /// );
    /// ```
    fn not_between(&self, low: impl Operand<ValueOf<Self>>, high: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
        let values = [low.into_literal(), high.into_literal()];
        call(self, "NotBetween", strings(values))
    }
}

impl<C> OrderingMethods for C
where
    C: Column,
    ValueOf<C>: Ordered,
{
}

/// Declares query functions that take only the column.
macro_rules! column_functions {
    ($column:literal, $type:literal; $($method:ident => $name:literal: $doc:literal;)+) => {$(
        #[doc = concat!($doc, ": `Microsoft.Dynamics.CRM.", $name, "`.")]
        ///
        /// ```
        /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
        ///
        #[doc = concat!("const COLUMN: Field<Untyped, ", $type, "> = Field::new(\"", $column, "\");")]
        /// assert_eq!(
        #[doc = concat!("    COLUMN.", stringify!($method), "().to_string(),")]
        #[doc = concat!("    \"Microsoft.Dynamics.CRM.", $name, "(PropertyName='", $column, "')\",")]
        /// );
        /// ```
        fn $method(&self) -> Filter<Self::Entity> {
            call(self, $name, None)
        }
    )+};
}

/// Declares query functions that take a count, such as `LastXDays`.
macro_rules! count_functions {
    ($($method:ident => $name:literal: $doc:literal;)+) => {$(
        #[doc = concat!($doc, ": `Microsoft.Dynamics.CRM.", $name, "`.")]
        ///
        /// ```
        /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
        ///
        /// const COLUMN: Field<Untyped, Option<time::OffsetDateTime>> = Field::new("createdon");
        /// assert_eq!(
        #[doc = concat!("    COLUMN.", stringify!($method), "(3).to_string(),")]
        #[doc = concat!("    \"Microsoft.Dynamics.CRM.", $name, "(PropertyName='createdon',PropertyValue=3)\",")]
        /// );
        /// ```
        fn $method(&self, count: i32) -> Filter<Self::Entity> {
            call(self, $name, Some(FunctionValue::One(Literal::Int32(count))))
        }
    )+};
}

/// Declares query functions that take a date, such as `OnOrAfter`.
macro_rules! date_functions {
    ($($method:ident => $name:literal: $doc:literal;)+) => {$(
        #[doc = concat!($doc, ": `Microsoft.Dynamics.CRM.", $name, "`.")]
        ///
        /// ```
        /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
        /// use time::macros::date;
        ///
        /// const COLUMN: Field<Untyped, Option<time::OffsetDateTime>> = Field::new("createdon");
        /// assert_eq!(
        #[doc = concat!("    COLUMN.", stringify!($method), "(date!(2024-01-02)).to_string(),")]
        #[doc = concat!("    \"Microsoft.Dynamics.CRM.", $name, "(PropertyName='createdon',PropertyValue='2024-01-02')\",")]
        /// );
        /// ```
        fn $method(&self, date: Date) -> Filter<Self::Entity> {
            call(self, $name, Some(FunctionValue::One(Literal::from(date).into_string_literal())))
        }
    )+};
}

/// Declares query functions that take a row id, such as `Under`.
macro_rules! hierarchy_functions {
    ($($method:ident => $name:literal: $doc:literal;)+) => {$(
        #[doc = concat!($doc, ": `Microsoft.Dynamics.CRM.", $name, "`.")]
        ///
        /// ```
        /// use dynamics_webapi::query::{Field, Untyped, prelude::*};
        /// use uuid::Uuid;
        ///
        /// const ID: Field<Untyped, Uuid> = Field::new("accountid");
        /// assert_eq!(
        #[doc = concat!("    ID.", stringify!($method), "(Uuid::from_u128(1)).to_string(),")]
        #[doc = concat!("    \"Microsoft.Dynamics.CRM.", $name, "(PropertyName='accountid',PropertyValue='00000000-0000-0000-0000-000000000001')\",")]
        /// );
        /// ```
        fn $method(&self, id: impl Operand<ValueOf<Self>>) -> Filter<Self::Entity> {
            call(self, $name, Some(FunctionValue::One(id.into_literal().into_string_literal())))
        }
    )+};
}

/// Dataverse's date query functions, for date and date-time columns.
///
/// The rest (fiscal periods with arguments, `LastXFiscalYears`, ...) are available through
/// [`QueryFunction`](super::QueryFunction).
pub trait DateMethods: Column {
    column_functions! {
        "createdon", "time::OffsetDateTime";
        today => "Today": "The date is today";
        yesterday => "Yesterday": "The date is yesterday";
        tomorrow => "Tomorrow": "The date is tomorrow";
        last_7_days => "Last7Days": "The date is within the last seven days, today included";
        next_7_days => "Next7Days": "The date is within the next seven days";
        this_week => "ThisWeek": "The date is in this week";
        last_week => "LastWeek": "The date is in the previous week";
        next_week => "NextWeek": "The date is in the next week";
        this_month => "ThisMonth": "The date is in this month";
        last_month => "LastMonth": "The date is in the previous month";
        next_month => "NextMonth": "The date is in the next month";
        this_year => "ThisYear": "The date is in this year";
        last_year => "LastYear": "The date is in the previous year";
        next_year => "NextYear": "The date is in the next year";
        this_fiscal_year => "ThisFiscalYear": "The date is in this fiscal year";
        this_fiscal_period => "ThisFiscalPeriod": "The date is in this fiscal period";
        last_fiscal_year => "LastFiscalYear": "The date is in the previous fiscal year";
        next_fiscal_year => "NextFiscalYear": "The date is in the next fiscal year";
    }

    count_functions! {
        last_x_hours => "LastXHours": "The date-time is within the last `count` hours";
        next_x_hours => "NextXHours": "The date-time is within the next `count` hours";
        last_x_days => "LastXDays": "The date is within the last `count` days";
        next_x_days => "NextXDays": "The date is within the next `count` days";
        last_x_weeks => "LastXWeeks": "The date is within the last `count` weeks";
        next_x_weeks => "NextXWeeks": "The date is within the next `count` weeks";
        last_x_months => "LastXMonths": "The date is within the last `count` months";
        next_x_months => "NextXMonths": "The date is within the next `count` months";
        last_x_years => "LastXYears": "The date is within the last `count` years";
        next_x_years => "NextXYears": "The date is within the next `count` years";
        older_than_x_minutes => "OlderThanXMinutes": "The date-time is more than `count` minutes ago";
        older_than_x_hours => "OlderThanXHours": "The date-time is more than `count` hours ago";
        older_than_x_days => "OlderThanXDays": "The date is more than `count` days ago";
        older_than_x_weeks => "OlderThanXWeeks": "The date is more than `count` weeks ago";
        older_than_x_months => "OlderThanXMonths": "The date is more than `count` months ago";
        older_than_x_years => "OlderThanXYears": "The date is more than `count` years ago";
        in_fiscal_year => "InFiscalYear": "The date is in fiscal year `count`";
        in_fiscal_period => "InFiscalPeriod": "The date is in fiscal period `count` of any year";
    }

    date_functions! {
        on => "On": "The date is `date`";
        on_or_after => "OnOrAfter": "The date is `date` or later";
        on_or_before => "OnOrBefore": "The date is `date` or earlier";
    }
}

impl<C> DateMethods for C
where
    C: Column,
    ValueOf<C>: Temporal,
{
}

/// Dataverse's user, business unit and hierarchy query functions, for id and lookup columns.
pub trait IdMethods: Column {
    column_functions! {
        "ownerid", "uuid::Uuid";
        equal_user_id => "EqualUserId": "The id is the calling user's";
        not_equal_user_id => "NotEqualUserId": "The id is not the calling user's";
        equal_business_id => "EqualBusinessId": "The id is the calling user's business unit";
        not_equal_business_id => "NotEqualBusinessId": "The id is not the calling user's business unit";
        equal_user_teams => "EqualUserTeams": "The id is one of the calling user's teams";
        equal_user_or_user_teams => "EqualUserOrUserTeams": "The id is the calling user or one of their teams";
        equal_user_or_user_hierarchy => "EqualUserOrUserHierarchy": "The id is the calling user or someone in their reporting hierarchy";
        equal_user_or_user_hierarchy_and_teams => "EqualUserOrUserHierarchyAndTeams": "The id is the calling user, their hierarchy, or their teams";
    }

    hierarchy_functions! {
        under => "Under": "The row is below row `id` in the hierarchy";
        under_or_equal => "UnderOrEqual": "The row is row `id` or below it in the hierarchy";
        not_under => "NotUnder": "The row is not below row `id` in the hierarchy";
        above => "Above": "The row is above row `id` in the hierarchy";
        above_or_equal => "AboveOrEqual": "The row is row `id` or above it in the hierarchy";
    }
}

impl<C> IdMethods for C
where
    C: Column,
    ValueOf<C>: Identifier,
{
}

#[cfg(test)]
mod tests {
    use crate::query::prelude::*;
    use crate::query::{ChoiceValue, Field, Lookup, Query, RawField, Untyped};
    use time::macros::{date, datetime};
    use uuid::Uuid;

    #[derive(Clone, Copy)]
    enum Category {
        Preferred,
        Standard,
    }

    impl ChoiceValue for Category {
        fn value(&self) -> i32 {
            match self {
                Self::Preferred => 1,
                Self::Standard => 2,
            }
        }
    }

    const CATEGORY: Field<Untyped, Option<Category>> = Field::new("accountcategorycode");
    const OWNER: Lookup<Untyped> = Lookup::new("ownerid");

    #[test]
    fn choices_compare_as_integers() {
        assert_eq!(CATEGORY.eq(Category::Standard).to_string(), "accountcategorycode eq 2");
        assert_eq!(
            CATEGORY.is_in([Category::Preferred, Category::Standard]).to_string(),
            "Microsoft.Dynamics.CRM.In(PropertyName='accountcategorycode',PropertyValues=['1','2'])"
        );
        assert_eq!(CATEGORY.is_null().to_string(), "accountcategorycode eq null");
    }

    #[test]
    fn lookup_functions_name_the_attribute_and_comparisons_the_value_property() {
        let id = Uuid::from_u128(0xabc);
        assert_eq!(OWNER.equal_user_id().to_string(), "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')");
        assert_eq!(OWNER.ne(id).to_string(), "_ownerid_value ne 00000000-0000-0000-0000-000000000abc");
        assert_eq!(
            OWNER.is_in([id]).to_string(),
            "Microsoft.Dynamics.CRM.In(PropertyName='ownerid',PropertyValues=['00000000-0000-0000-0000-000000000abc'])"
        );
    }

    #[test]
    fn dates_get_between_with_string_values() {
        const CREATED_ON: Field<Untyped, time::OffsetDateTime> = Field::new("createdon");
        assert_eq!(
            CREATED_ON.between(datetime!(2024-01-01 0:00 UTC), datetime!(2024-02-01 0:00 UTC)).to_string(),
            "Microsoft.Dynamics.CRM.Between(PropertyName='createdon',PropertyValues=['2024-01-01T00:00:00Z','2024-02-01T00:00:00Z'])"
        );
        const DUE: Field<Untyped, time::Date> = Field::new("duedate");
        assert_eq!(
            DUE.on_or_before(date!(2024 - 03 - 04)).to_string(),
            "Microsoft.Dynamics.CRM.OnOrBefore(PropertyName='duedate',PropertyValue='2024-03-04')"
        );
    }

    #[test]
    fn raw_fields_have_every_operator() {
        let field = || RawField::<Untyped>::new("x");
        let filter = field()
            .contains("a")
            .and(field().gt(1))
            .and(field().is_null())
            .and(field().last_x_days(2))
            .and(field().under("id"));
        assert_eq!(
            filter.to_string(),
            "contains(x,'a') and x gt 1 and x eq null \
             and Microsoft.Dynamics.CRM.LastXDays(PropertyName='x',PropertyValue=2) \
             and Microsoft.Dynamics.CRM.Under(PropertyName='x',PropertyValue='id')"
        );
    }

    #[test]
    fn an_empty_in_list_fails_to_render() {
        const NAME: Field<Untyped, String> = Field::new("name");
        let query = Query::untyped("accounts").filter(NAME.is_in(Vec::<&str>::new()));
        assert!(query.validate().is_err());
    }
}
