//! From a document and option sets to a plan of the code: inheritance flattened, names chosen,
//! types mapped, lookups and their bind targets found. Emitting text from a plan is `emit`'s job.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result, Warning};
use crate::model::{CsdlDocument, EntityType, NavigationProperty, Property};
use crate::naming::{Names, ident, pascal, screaming, snake};
use crate::optionset::{OptionSet, OptionSets};

/// The Rust value type of a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueType {
    String,
    Uuid,
    I32,
    I64,
    Decimal,
    F64,
    Bool,
    DateTime,
    Date,
    Binary,
    /// An Edm type the generator does not know: kept as JSON.
    Json,
    /// A choice: the enum's name in the option-set module.
    Choice(String),
    /// A multi-select choice: a list of the enum.
    MultiChoice(String),
}

#[derive(Debug, Clone)]
pub(crate) struct ColumnPlan {
    pub(crate) property: String,
    pub(crate) field: String,
    pub(crate) constant: String,
    pub(crate) value: ValueType,
    pub(crate) read_only: bool,
    pub(crate) description: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct LookupPlan {
    /// `parentaccountid`.
    pub(crate) logical: String,
    /// `_parentaccountid_value`.
    pub(crate) property: String,
    pub(crate) field: String,
    pub(crate) constant: String,
    /// Logical names of the tables it can point to, sorted.
    pub(crate) targets: Vec<String>,
    pub(crate) description: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct NavigationPlan {
    pub(crate) name: String,
    pub(crate) field: String,
    pub(crate) constant: String,
    pub(crate) target: String,
    pub(crate) collection: bool,
    pub(crate) partner: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct BindPlan {
    pub(crate) navigation: String,
    pub(crate) field: String,
    pub(crate) target: String,
    pub(crate) entity_set: String,
    pub(crate) lookup: String,
}

#[derive(Debug, Clone)]
pub(crate) struct EntityPlan {
    pub(crate) logical: String,
    pub(crate) module: String,
    pub(crate) type_name: String,
    pub(crate) entity_set: String,
    pub(crate) primary_id: String,
    pub(crate) description: Option<String>,
    pub(crate) is_abstract: bool,
    pub(crate) base_types: Vec<String>,
    pub(crate) columns: Vec<ColumnPlan>,
    pub(crate) lookups: Vec<LookupPlan>,
    pub(crate) navigations: Vec<NavigationPlan>,
    pub(crate) binds: Vec<BindPlan>,
    pub(crate) etag_field: String,
}

#[derive(Debug, Clone)]
pub(crate) struct EnumPlan {
    pub(crate) name: String,
    pub(crate) set_name: String,
    pub(crate) is_global: bool,
    /// (variant, value, label).
    pub(crate) variants: Vec<(String, i32, Option<String>)>,
    /// The entities whose columns use it (their features enable it).
    pub(crate) used_by: BTreeSet<String>,
    /// `entity.attribute` of the columns that use it.
    pub(crate) columns: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) entities: Vec<EntityPlan>,
    pub(crate) enums: Vec<EnumPlan>,
    pub(crate) warnings: Vec<Warning>,
}

impl Plan {
    pub(crate) fn strip_descriptions(&mut self) {
        for entity in &mut self.entities {
            entity.description = None;
            entity.columns.iter_mut().for_each(|c| c.description = None);
            entity.lookups.iter_mut().for_each(|l| l.description = None);
        }
    }
}

/// Which entities to plan.
pub(crate) fn plan(document: &CsdlDocument, option_sets: &OptionSets, requested: &[String]) -> Result<Plan> {
    let mut selected: Vec<&EntityType> = Vec::new();
    for name in requested {
        let Some(entity) = document.entity_types.get(name) else {
            return Err(Error::unknown_entity(
                name,
                format!("is not an entity type of {}", document.source_name),
                suggest(name, document.entity_names()),
            ));
        };
        if !document.entity_sets.contains_key(name) {
            return Err(Error::unknown_entity(
                name,
                "has no entity set in the EntityContainer, so it cannot be queried",
                None,
            ));
        }
        selected.push(entity);
    }
    selected.sort_by(|a, b| a.name.cmp(&b.name));
    selected.dedup_by(|a, b| a.name == b.name);
    let generated: BTreeSet<&str> = selected.iter().map(|e| e.name.as_str()).collect();

    let mut warnings = Vec::new();
    let mut modules = Names::new();
    // `support` was the name of mod.rs's helper module before it moved to `dynamics_webapi::entities`;
    // it stays reserved so that a table named `support` keeps its module name.
    for reserved in ["support", "optionsets", "mod"] {
        modules.reserve(reserved);
    }
    let mut enums = EnumTable::default();
    let mut entities = Vec::with_capacity(selected.len());
    for entity in selected {
        let module = ident(&modules.unique(&snake(&entity.name), "_"));
        entities.push(plan_entity(document, option_sets, entity, module, &generated, &mut enums, &mut warnings)?);
    }
    for (entity, attribute, _) in option_sets.iter() {
        if generated.contains(entity) && !enums.columns.contains(&format!("{entity}.{attribute}")) {
            let known =
                document.entity_types.get(entity).is_some_and(|e| flatten(document, e).0.contains_key(attribute));
            if !known {
                warnings.push(Warning::new(format!(
                    "option set for `{entity}.{attribute}` ignored: the CSDL has no such column (metadata from another org or version?)"
                )));
            }
        }
    }
    Ok(Plan { entities, enums: enums.finish(), warnings })
}

fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(name.len() / 4) && *d < c.len())
        .min()
        .map(|(_, c)| c.to_owned())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb { previous } else { 1 + previous.min(row[j]).min(row[j + 1]) };
            previous = current;
        }
    }
    row[b.len()]
}

/// The entity's properties and navigation properties with those of its base types, derived ones winning.
fn flatten<'a>(
    document: &'a CsdlDocument,
    entity: &'a EntityType,
) -> (BTreeMap<&'a str, &'a Property>, BTreeMap<&'a str, &'a NavigationProperty>, Vec<&'a EntityType>) {
    let mut chain = vec![entity];
    let mut current = entity;
    while let Some(base) = current.base_type.as_deref().and_then(|b| document.entity_types.get(b)) {
        if chain.iter().any(|seen| seen.name == base.name) {
            break;
        }
        chain.push(base);
        current = base;
    }
    let mut properties = BTreeMap::new();
    let mut navigations = BTreeMap::new();
    for level in chain.iter().rev() {
        for property in &level.properties {
            properties.insert(property.name.as_str(), property);
        }
        for navigation in &level.navigations {
            navigations.insert(navigation.name.as_str(), navigation);
        }
    }
    (properties, navigations, chain)
}

fn edm_type(type_name: &str) -> Option<ValueType> {
    Some(match type_name {
        "Edm.String" => ValueType::String,
        "Edm.Guid" => ValueType::Uuid,
        "Edm.Int32" | "Edm.Int16" | "Edm.Byte" | "Edm.SByte" => ValueType::I32,
        "Edm.Int64" => ValueType::I64,
        "Edm.Decimal" => ValueType::Decimal,
        "Edm.Double" | "Edm.Single" => ValueType::F64,
        "Edm.Boolean" => ValueType::Bool,
        "Edm.DateTimeOffset" => ValueType::DateTime,
        "Edm.Date" => ValueType::Date,
        "Edm.Binary" => ValueType::Binary,
        _ => return None,
    })
}

/// The lookup's logical name from its read-side property: `_parentaccountid_value` to `parentaccountid`.
fn lookup_name(property: &str) -> Option<&str> {
    property.strip_prefix('_')?.strip_suffix("_value").filter(|n| !n.is_empty())
}

#[allow(clippy::too_many_arguments)]
fn plan_entity(
    document: &CsdlDocument,
    option_sets: &OptionSets,
    entity: &EntityType,
    module: String,
    generated: &BTreeSet<&str>,
    enums: &mut EnumTable,
    warnings: &mut Vec<Warning>,
) -> Result<EntityPlan> {
    let (properties, navigations, chain) = flatten(document, entity);
    let primary_id = chain.iter().find_map(|level| level.key.clone()).unwrap_or_else(|| format!("{}id", entity.name));
    let base_types = chain.iter().skip(1).map(|e| e.name.clone()).collect();
    let type_name = ident(&pascal(&entity.name).unwrap_or_else(|| "Entity".to_owned()));

    let mut fields = Names::new();
    let mut constants = Names::new();
    let etag_field = fields.unique("etag", "_");

    let mut columns = Vec::new();
    let mut lookups = Vec::new();
    for (name, property) in &properties {
        if let Some(logical) = lookup_name(name).filter(|_| property.type_name == "Edm.Guid") {
            let mut targets: Vec<String> = navigations
                .values()
                .filter(|n| !n.collection && n.constraint_property.as_deref() == Some(*name))
                .flat_map(|n| concrete_targets(document, &n.target))
                .map(|(target, _)| target)
                .collect();
            targets.sort();
            targets.dedup();
            lookups.push(LookupPlan {
                logical: logical.to_owned(),
                property: (*name).to_owned(),
                field: ident(&fields.unique(&snake(logical), "_")),
                constant: constants.unique(&screaming(logical), "_"),
                targets,
                description: property.description.clone(),
            });
            continue;
        }
        let value = column_type(document, option_sets, entity, &chain, property, enums, warnings)?;
        columns.push(ColumnPlan {
            property: (*name).to_owned(),
            field: ident(&fields.unique(&snake(name), "_")),
            constant: constants.unique(&screaming(name), "_"),
            value,
            read_only: property.is_read_only(),
            description: property.description.clone(),
        });
    }

    let mut navigation_plans = Vec::new();
    let mut binds = Vec::new();
    let writable_lookups: BTreeSet<&str> =
        properties.iter().filter(|(n, p)| lookup_name(n).is_some() && !p.is_read_only()).map(|(n, _)| *n).collect();
    for (name, navigation) in &navigations {
        if generated.contains(navigation.target.as_str()) {
            let field = snake(name);
            let field = if fields.is_taken(&field) { format!("{field}_nav") } else { field };
            let constant = screaming(name);
            let constant = if constants.is_taken(&constant) { format!("{constant}_NAV") } else { constant };
            navigation_plans.push(NavigationPlan {
                name: (*name).to_owned(),
                field: ident(&fields.unique(&field, "_")),
                constant: constants.unique(&constant, "_"),
                target: navigation.target.clone(),
                collection: navigation.collection,
                partner: navigation.partner.clone(),
            });
        }
    }
    // The write struct's names: writable columns first, then one bind per (navigation property, target).
    let mut write_names = Names::new();
    for column in columns.iter().filter(|c| !c.read_only) {
        write_names.reserve(column.field.trim_start_matches("r#"));
    }
    for (name, navigation) in bind_navigations(entity, &navigations) {
        let Some(lookup) = navigation.constraint_property.as_deref() else { continue };
        if !writable_lookups.contains(lookup) {
            continue;
        }
        let targets = concrete_targets(document, &navigation.target);
        let several = targets.len() > 1;
        for (target, entity_set) in targets {
            let wanted = if several { format!("{}_{}", snake(&name), snake(&target)) } else { snake(&name) };
            let wanted = if write_names.is_taken(&wanted) { format!("{wanted}_bind") } else { wanted };
            binds.push(BindPlan {
                navigation: name.clone(),
                field: ident(&write_names.unique(&wanted, "_")),
                target,
                entity_set,
                lookup: lookup.to_owned(),
            });
        }
    }

    Ok(EntityPlan {
        logical: entity.name.clone(),
        module,
        type_name,
        entity_set: document.entity_sets.get(&entity.name).cloned().unwrap_or_default(),
        primary_id,
        description: entity.description.clone(),
        is_abstract: entity.is_abstract,
        base_types,
        columns,
        lookups,
        navigations: navigation_plans,
        binds,
        etag_field,
    })
}

/// The single-valued navigation properties a write binds lookups through.
///
/// A derived activity inherits `regardingobjectid_account` from `activitypointer` but is written through its
/// own `regardingobjectid_account_task`: when the entity declares `<inherited>_<entity>`, that one is used,
/// with the inherited referential constraint when it declares none.
fn bind_navigations(
    entity: &EntityType,
    navigations: &BTreeMap<&str, &NavigationProperty>,
) -> Vec<(String, NavigationProperty)> {
    let own: BTreeSet<&str> = entity.navigations.iter().map(|n| n.name.as_str()).collect();
    let mut result = Vec::new();
    for (name, navigation) in navigations {
        if navigation.collection || navigation.constraint_property.is_none() {
            continue;
        }
        let specific = format!("{name}_{}", entity.name);
        if !own.contains(name) && own.contains(specific.as_str()) {
            let mut derived = (*navigations.get(specific.as_str()).copied().unwrap_or(navigation)).clone();
            derived.constraint_property =
                derived.constraint_property.or_else(|| navigation.constraint_property.clone());
            result.push((specific, derived));
        } else {
            result.push(((*name).to_owned(), (*navigation).clone()));
        }
    }
    result.sort_by(|a, b| a.0.cmp(&b.0));
    result.dedup_by(|a, b| a.0 == b.0);
    result
}

/// The tables a navigation property's type stands for, with their entity sets: the type itself when it has
/// an entity set, else its derived types that do (`principal` stands for `systemuser` and `team`).
fn concrete_targets(document: &CsdlDocument, target: &str) -> Vec<(String, String)> {
    if let Some(set) = document.entity_sets.get(target) {
        return vec![(target.to_owned(), set.clone())];
    }
    let mut found = Vec::new();
    for (name, entity) in &document.entity_types {
        let mut current = entity;
        let mut depth = 0;
        while let Some(base) = current.base_type.as_deref() {
            if base == target {
                if let Some(set) = document.entity_sets.get(name) {
                    found.push((name.clone(), set.clone()));
                }
                break;
            }
            match document.entity_types.get(base) {
                Some(next) if depth < 32 => current = next,
                _ => break,
            }
            depth += 1;
        }
    }
    found
}

fn column_type(
    document: &CsdlDocument,
    option_sets: &OptionSets,
    entity: &EntityType,
    chain: &[&EntityType],
    property: &Property,
    enums: &mut EnumTable,
    warnings: &mut Vec<Warning>,
) -> Result<ValueType> {
    let set = chain.iter().find_map(|level| option_sets.get(&level.name, &property.name));
    if let Some(set) = set {
        let fits = matches!(property.type_name.as_ref(), "Edm.Int32" | "Edm.Int16")
            || (set.multi_select && property.type_name == "Edm.String");
        if !fits {
            return Err(Error::option_sets(
                document.source_name.clone(),
                format!(
                    "the option set `{}` is given for `{}.{}`, but the CSDL declares that column `{}` (line {}): \
                     option-set metadata and CSDL must come from the same org",
                    set.name, entity.name, property.name, property.type_name, property.line
                ),
            ));
        }
        let name = enums.enum_for(set, &entity.name, &property.name);
        return Ok(if set.multi_select { ValueType::MultiChoice(name) } else { ValueType::Choice(name) });
    }
    Ok(edm_type(&property.type_name).unwrap_or_else(|| {
        warnings.push(Warning::new(format!(
            "{}:{}: `{}.{}` has type `{}`, which the generator does not know: it is generated as serde_json::Value",
            document.source_name, property.line, entity.name, property.name, property.type_name
        )));
        ValueType::Json
    }))
}

/// An option set's name and options: columns with equal keys share one enum.
type SetKey = (String, Vec<(i32, Option<String>)>);

#[derive(Default)]
struct EnumTable {
    names: Names,
    /// (option set name, options) to the enum's index.
    by_set: BTreeMap<SetKey, usize>,
    enums: Vec<EnumPlan>,
    columns: BTreeSet<String>,
}

impl EnumTable {
    fn enum_for(&mut self, set: &OptionSet, entity: &str, attribute: &str) -> String {
        let options: Vec<(i32, Option<String>)> = set.options.iter().map(|c| (c.value, c.label.clone())).collect();
        let key = (set.name.clone(), options);
        self.columns.insert(format!("{entity}.{attribute}"));
        if let Some(&index) = self.by_set.get(&key) {
            let plan = &mut self.enums[index];
            plan.used_by.insert(entity.to_owned());
            plan.columns.insert(format!("{entity}.{attribute}"));
            return plan.name.clone();
        }
        let wanted = pascal(&set.name).unwrap_or_else(|| format!("{}{}", pascal(entity).unwrap_or_default(), "Choice"));
        let name = ident(&self.names.unique(&wanted, ""));
        let mut variant_names = Names::new();
        variant_names.reserve("Unknown");
        let variants = set
            .options
            .iter()
            .map(|choice| {
                let fallback = if choice.value < 0 {
                    format!("ValueMinus{}", choice.value.unsigned_abs())
                } else {
                    format!("Value{}", choice.value)
                };
                let wanted = choice.label.as_deref().and_then(pascal).unwrap_or(fallback);
                let variant = if variant_names.is_taken(&wanted) {
                    variant_names.unique(&format!("{wanted}{}", choice.value.unsigned_abs()), "V")
                } else {
                    variant_names.unique(&wanted, "")
                };
                (ident(&variant), choice.value, choice.label.clone())
            })
            .collect();
        self.by_set.insert(key, self.enums.len());
        self.enums.push(EnumPlan {
            name: name.clone(),
            set_name: set.name.clone(),
            is_global: set.is_global,
            variants,
            used_by: BTreeSet::from([entity.to_owned()]),
            columns: BTreeSet::from([format!("{entity}.{attribute}")]),
        });
        name
    }

    fn finish(mut self) -> Vec<EnumPlan> {
        self.enums.sort_by(|a, b| a.name.cmp(&b.name));
        self.enums
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::EnumTable;
    use crate::optionset::{Choice, OptionSet};

    fn is_identifier(name: &str) -> bool {
        let bare = name.strip_prefix("r#").unwrap_or(name);
        let mut chars = bare.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    proptest! {
        /// Whatever the labels (clashing, empty, digits first, keywords, punctuation, non-ASCII), the variants
        /// are valid identifiers, distinct in any case, never `Unknown`, and the same on every run.
        #[test]
        fn variant_names_are_valid_distinct_and_stable(
            labels in proptest::collection::vec(
                prop_oneof![
                    Just(None),
                    Just(Some(String::new())),
                    Just(Some("Unknown".to_owned())),
                    Just(Some("Self".to_owned())),
                    Just(Some("type".to_owned())),
                    "[ -~]{0,12}".prop_map(Some),
                    "[0-9][a-z ]{0,5}".prop_map(Some),
                    "[a-zA-Zé ]{1,6}".prop_map(Some),
                    "[a-zÀ-ſ ]{1,6}".prop_map(Some),
                    "[aeÆæßŁłΩж日 ]{1,6}".prop_map(Some),
                ],
                0..24,
            )
        ) {
            let options: Vec<Choice> = labels
                .into_iter()
                .enumerate()
                .map(|(i, label)| Choice { value: i32::try_from(i).unwrap() * 7 - 20, label })
                .collect();
            let set = OptionSet { name: "new_thing_new_state".to_owned(), is_global: false, multi_select: false, options };
            let variants = |set: &OptionSet| {
                let mut table = EnumTable::default();
                table.enum_for(set, "new_thing", "new_state");
                table.finish().remove(0).variants.into_iter().map(|(name, _, _)| name).collect::<Vec<_>>()
            };
            let first = variants(&set);
            prop_assert_eq!(&first, &variants(&set));
            let mut seen = std::collections::BTreeSet::new();
            for name in &first {
                prop_assert!(is_identifier(name), "{} is not an identifier", name);
                prop_assert!(name != "Unknown", "a variant may not be the fallback's name");
                prop_assert!(seen.insert(name.trim_start_matches("r#").to_ascii_lowercase()), "{} clashes", name);
            }
        }
    }
}
