//! [`ChoiceSet`], the value type of multi-select choice tokens, and their [`MultiChoiceColumn`] filters.

use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;

use crate::query::{ChoiceValue, Column, Field, FieldType, Filter};

/// The value type of a multi-select choice column's token: `Field<E, Option<ChoiceSet<C>>>`, where `C` is the
/// column's choice enum.
///
/// Rows read such a column as `Option<Vec<C>>`; the token only says which enum its values come from, so that
/// [`MultiChoiceColumn`] filters take values of that enum and no other. It has no values of its own.
pub struct ChoiceSet<C> {
    never: Infallible,
    choice: PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for ChoiceSet<C> {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.never {}
    }
}

impl<C: ChoiceValue> FieldType for ChoiceSet<C> {
    type Value = ChoiceSet<C>;
}

/// Dataverse's filters for multi-select choice columns, typed by the column's choice enum.
///
/// Bring it into scope (`use <entities module>::MultiChoiceColumn;`) and call it on a multi-select column's token:
/// `ACCOUNT_TAGS.contain_values([Tags::Vip])` renders
/// `Microsoft.Dynamics.CRM.ContainValues(PropertyName='<column>',PropertyValues=['<value>'])`.
/// An empty list of values is a `QueryError` when the query is rendered.
///
/// ```
/// use dynamics_webapi::entities::{ChoiceSet, MultiChoiceColumn};
/// use dynamics_webapi::query::{ChoiceValue, Field, Untyped};
///
/// #[derive(Clone, Copy)]
/// enum Tags { Vip, Partner }
/// impl ChoiceValue for Tags {
///     fn value(&self) -> i32 {
///         match self { Tags::Vip => 1, Tags::Partner => 2 }
///     }
/// }
///
/// const TAGS: Field<Untyped, Option<ChoiceSet<Tags>>> = Field::new("new_tags");
/// assert_eq!(
///     TAGS.contain_values([Tags::Vip, Tags::Partner]).to_string(),
///     "Microsoft.Dynamics.CRM.ContainValues(PropertyName='new_tags',PropertyValues=['1','2'])",
/// );
/// ```
pub trait MultiChoiceColumn: Column {
    /// The column's choice enum.
    type Choice: ChoiceValue;

    /// Rows whose column holds at least one of `values`: `Microsoft.Dynamics.CRM.ContainValues`.
    fn contain_values(&self, values: impl IntoIterator<Item = Self::Choice>) -> Filter<Self::Entity>;

    /// Rows whose column holds none of `values`: `Microsoft.Dynamics.CRM.DoesNotContainValues`.
    fn does_not_contain_values(&self, values: impl IntoIterator<Item = Self::Choice>) -> Filter<Self::Entity>;
}

impl<E, C: ChoiceValue> MultiChoiceColumn for Field<E, Option<ChoiceSet<C>>> {
    type Choice = C;

    fn contain_values(&self, values: impl IntoIterator<Item = C>) -> Filter<E> {
        super::support::choice_values("ContainValues", *self, values)
    }

    fn does_not_contain_values(&self, values: impl IntoIterator<Item = C>) -> Filter<E> {
        super::support::choice_values("DoesNotContainValues", *self, values)
    }
}

#[cfg(test)]
mod tests {
    use super::{ChoiceSet, MultiChoiceColumn};
    use crate::query::{ChoiceValue, Field, Untyped};

    #[derive(Clone, Copy)]
    enum Tags {
        Vip,
        Unknown(i32),
    }

    impl ChoiceValue for Tags {
        fn value(&self) -> i32 {
            match self {
                Self::Vip => 100_000_000,
                Self::Unknown(value) => *value,
            }
        }
    }

    const TAGS: Field<Untyped, Option<ChoiceSet<Tags>>> = Field::new("new_tags");

    #[test]
    fn filters_render_dataverse_functions_with_the_values_as_strings() {
        assert_eq!(
            TAGS.contain_values([Tags::Vip, Tags::Unknown(7)]).to_string(),
            "Microsoft.Dynamics.CRM.ContainValues(PropertyName='new_tags',PropertyValues=['100000000','7'])"
        );
        assert_eq!(
            TAGS.does_not_contain_values([Tags::Vip]).to_string(),
            "Microsoft.Dynamics.CRM.DoesNotContainValues(PropertyName='new_tags',PropertyValues=['100000000'])"
        );
    }
}
