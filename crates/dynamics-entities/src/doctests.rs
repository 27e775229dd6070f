//! Doctests that show what the generated tokens refuse to compile (only built by `cargo test --doc`).

/// A multi-select column's filters take values of the column's own choice enum:
///
/// ```
/// use dynamics_entities::optionsets::Cr6a1Tag;
/// use dynamics_entities::{MultiChoiceColumn, account};
///
/// let filter = account::CR6A1_TAGS.contain_values([Cr6a1Tag::AtRisk]);
/// assert_eq!(
///     filter.to_string(),
///     "Microsoft.Dynamics.CRM.ContainValues(PropertyName='cr6a1_tags',PropertyValues=['100000001'])",
/// );
/// ```
///
/// and values of another enum do not compile:
///
/// ```compile_fail,E0271
/// use dynamics_entities::optionsets::AccountIndustrycode;
/// use dynamics_entities::{MultiChoiceColumn, account};
///
/// let filter = account::CR6A1_TAGS.contain_values([AccountIndustrycode::Accounting]);
/// ```
pub struct MultiSelectFiltersAreTyped;
