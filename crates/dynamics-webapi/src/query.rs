//! The typed OData query builder.
//!
//! A [`Query`] is a value: it renders to the exact query string without a client,
//! both human-readable ([`Display`](std::fmt::Display)) and percent-encoded for the wire
//! ([`Query::to_query_string`]). The page size and annotations are not query options;
//! [`Query::prefer_header`] renders them for the `Prefer` header.
//!
//! Generated code declares one constant per column ([`Field`], [`Lookup`]) and per navigation
//! property ([`NavOne`], [`NavMany`]). The operators come from the traits in [`prelude`], each
//! implemented for the kinds of value that support it: text gets `contains`, numbers and dates get
//! `gt`, nullable columns get `is_null`. Comparing a column with a value of another type does not
//! compile. [`RawField`], [`Filter::raw`] and raw names in `select` are the untyped escape hatch.
//!
//! # Examples
//!
//! ```
//! use dynamics_webapi::entity::Entity;
//! use dynamics_webapi::query::{Annotation, Query, prelude::*};
//!
//! struct Account;
//! impl Entity for Account {
//!     const ENTITY_SET: &'static str = "accounts";
//!     const LOGICAL_NAME: &'static str = "account";
//!     const PRIMARY_ID: &'static str = "accountid";
//! }
//! struct Contact;
//!
//! mod account {
//!     use dynamics_webapi::query::{Field, Lookup, NavMany};
//!     use super::{Account, Contact};
//!     pub const NAME: Field<Account, Option<String>> = Field::new("name");
//!     pub const REVENUE: Field<Account, Option<rust_decimal::Decimal>> = Field::new("revenue");
//!     pub const PARENT: Lookup<Account> = Lookup::new("parentaccountid");
//!     pub const CONTACTS: NavMany<Account, Contact> = NavMany::new("contact_customer_accounts");
//! }
//! mod contact {
//!     use dynamics_webapi::query::Field;
//!     pub const FULLNAME: Field<super::Contact, Option<String>> = Field::new("fullname");
//! }
//!
//! # fn main() {
//! let query = Query::<Account>::new()
//!     .select((account::NAME, account::REVENUE, account::PARENT))
//!     .filter(account::NAME.starts_with("Contoso").and(account::REVENUE.is_not_null()))
//!     .filter(account::CONTACTS.any("c", contact::FULLNAME.eq("Yvonne McKay")))
//!     .order_by(account::REVENUE.desc())
//!     .expand(account::CONTACTS.expand().select(contact::FULLNAME).top(5))
//!     .max_page_size(100)
//!     .annotations([Annotation::FormattedValue]);
//!
//! assert_eq!(
//!     query.to_string(),
//!     "$select=name,revenue,_parentaccountid_value\
//!      &$filter=startswith(name,'Contoso') and revenue ne null \
//!      and contact_customer_accounts/any(c:c/fullname eq 'Yvonne McKay')\
//!      &$orderby=revenue desc\
//!      &$expand=contact_customer_accounts($select=fullname;$top=5)",
//! );
//! assert_eq!(
//!     query.prefer_header().as_deref(),
//!     Some("odata.maxpagesize=100, odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\""),
//! );
//! # }
//! ```
//!
//! Type mismatches are compile errors: a text column against a number,
//!
//! ```compile_fail,E0277
//! use dynamics_webapi::query::{Field, Untyped, prelude::*};
//!
//! const NAME: Field<Untyped, Option<String>> = Field::new("name");
//! let _ = NAME.eq(42);
//! ```
//!
//! a GUID lookup against a string,
//!
//! ```compile_fail,E0277
//! use dynamics_webapi::query::{Lookup, Untyped, prelude::*};
//!
//! const PARENT: Lookup<Untyped> = Lookup::new("parentaccountid");
//! let _ = PARENT.eq("not a guid");
//! ```
//!
//! and a choice column against a plain integer (use the enum).
//!
//! ```compile_fail,E0277
//! use dynamics_webapi::query::{ChoiceValue, Field, Untyped, prelude::*};
//!
//! enum State { Active }
//! impl ChoiceValue for State { fn value(&self) -> i32 { 0 } }
//!
//! const STATE: Field<Untyped, State> = Field::new("statecode");
//! let _ = STATE.eq(0);
//! ```

mod annotation;
mod apply;
mod builder;
mod encode;
mod error;
mod expand;
mod field;
mod filter;
mod function;
mod literal;
mod methods;
mod navigation;
mod order;
mod render;
mod select;
mod value;

pub use annotation::Annotation;
pub(crate) use annotation::include_annotations;
pub use apply::{Aggregate, Apply};
pub use builder::Query;
pub use encode::{encode_path_segment, encode_query_value};
pub use error::{QueryError, QueryErrorKind};
pub use expand::{Expand, ExpandMany, ExpandOne};
pub use field::{Column, Field, Lookup, RawField, Related, Untyped};
pub use filter::Filter;
pub use function::QueryFunction;
pub use literal::Literal;
pub use methods::{ColumnMethods, DateMethods, IdMethods, NullMethods, OrderingMethods, TextMethods, ValueOf};
pub use navigation::{NavMany, NavOne};
pub use order::OrderBy;
pub use select::Selection;
pub use value::{AnyValue, ChoiceValue, FieldType, Identifier, Nullable, Numeric, Operand, Ordered, Temporal, Text};

/// The column operator traits, to import with `use dynamics_webapi::query::prelude::*`.
///
/// ```
/// use dynamics_webapi::query::{Field, Untyped, prelude::*};
///
/// const NAME: Field<Untyped, Option<String>> = Field::new("name");
/// assert_eq!(NAME.ends_with("Ltd").to_string(), "endswith(name,'Ltd')");
/// ```
pub mod prelude {
    pub use super::{ColumnMethods, DateMethods, IdMethods, NullMethods, OrderingMethods, TextMethods};
}
