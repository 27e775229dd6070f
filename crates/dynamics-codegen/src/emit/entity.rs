//! One entity's module: the read struct, the write struct, the `Entity` impl and the tokens.

use std::collections::{BTreeMap, BTreeSet};

use super::Options;
use super::text::{MAX_WIDTH, Source, doc_text, literal};
use crate::plan::{ColumnPlan, EntityPlan, ValueType};

const OPTION: &str = "::core::option::Option";
const PATCH: &str = "::dynamics_webapi::Patch";
const SUPPORT: &str = "::dynamics_webapi::entities::support";

fn value_type(value: &ValueType) -> String {
    match value {
        ValueType::String => "::std::string::String".to_owned(),
        ValueType::Uuid => "::uuid::Uuid".to_owned(),
        ValueType::I32 => "i32".to_owned(),
        ValueType::I64 => "i64".to_owned(),
        ValueType::Decimal => "::rust_decimal::Decimal".to_owned(),
        ValueType::F64 => "f64".to_owned(),
        ValueType::Bool => "bool".to_owned(),
        ValueType::DateTime => "::time::OffsetDateTime".to_owned(),
        ValueType::Date => "::time::Date".to_owned(),
        ValueType::Binary => "::std::vec::Vec<u8>".to_owned(),
        ValueType::Json => "::serde_json::Value".to_owned(),
        ValueType::Choice(name) => format!("super::optionsets::{name}"),
        ValueType::MultiChoice(name) => format!("::std::vec::Vec<super::optionsets::{name}>"),
    }
}

fn read_with(value: &ValueType) -> Option<&'static str> {
    match value {
        ValueType::Decimal => Some("::dynamics_webapi::exact::option_decimal::deserialize"),
        ValueType::DateTime => Some("::time::serde::rfc3339::option::deserialize"),
        ValueType::Date => Some("::dynamics_webapi::entities::support::option_date"),
        ValueType::Binary => Some("::dynamics_webapi::entities::support::option_base64"),
        ValueType::MultiChoice(_) => Some("::dynamics_webapi::entities::support::option_multi"),
        _ => None,
    }
}

fn write_with(value: &ValueType) -> Option<&'static str> {
    match value {
        ValueType::Decimal => Some("::dynamics_webapi::entities::support::patch_decimal"),
        ValueType::DateTime => Some("::dynamics_webapi::entities::support::patch_date_time"),
        ValueType::Date => Some("::dynamics_webapi::entities::support::patch_date"),
        ValueType::Binary => Some("::dynamics_webapi::entities::support::patch_base64"),
        ValueType::MultiChoice(_) => Some("::dynamics_webapi::entities::support::patch_multi"),
        _ => None,
    }
}

/// The token's value type argument of `Field<E, T>`.
fn token_type(value: &ValueType) -> String {
    match value {
        ValueType::Binary | ValueType::Json => "::dynamics_webapi::query::AnyValue".to_owned(),
        ValueType::MultiChoice(name) => {
            format!("{OPTION}<::dynamics_webapi::entities::ChoiceSet<super::optionsets::{name}>>")
        }
        other => format!("{OPTION}<{}>", value_type(other)),
    }
}

fn kind_text(value: &ValueType) -> &'static str {
    match value {
        ValueType::String => "text",
        ValueType::Uuid => "unique identifier",
        ValueType::I32 | ValueType::I64 => "whole number",
        ValueType::Decimal => "decimal or currency, read exactly",
        ValueType::F64 => "floating-point number",
        ValueType::Bool => "yes/no",
        ValueType::DateTime => "date and time",
        ValueType::Date => "date only",
        ValueType::Binary => "binary, base64 in JSON",
        ValueType::Json => "untyped JSON: its Edm type is not known to the generator",
        ValueType::Choice(_) => "choice",
        ValueType::MultiChoice(_) => "multi-select choice",
    }
}

fn column_doc(column: &ColumnPlan) -> String {
    let what = column.description.as_deref().map(doc_text).filter(|d| !d.is_empty());
    let suffix = format!("(`{}`, {})", column.property, kind_text(&column.value));
    match what {
        Some(what) => format!("{what} {suffix}"),
        None => format!("The `{}` column {suffix}.", column.property),
    }
}

pub(crate) fn entity_file(plan: &EntityPlan, options: &Options, types: &BTreeMap<String, String>) -> String {
    let mut out = Source::new();
    out.line(0, &options.header());
    let name = &plan.type_name;
    out.inner_doc(&format!(
        "The `{}` table (entity set `{}`, key `{}`): [`{name}`] to read, [`{name}Write`] to create and update,",
        plan.logical, plan.entity_set, plan.primary_id
    ));
    out.inner_doc("and a constant per column and navigation property for typed queries.");
    if let Some(description) = plan.description.as_deref().map(doc_text).filter(|d| !d.is_empty()) {
        out.inner_doc("");
        out.inner_doc(&description);
    }
    if plan.is_abstract {
        out.inner_doc("");
        out.inner_doc("The CSDL declares this type abstract: its rows are read through the entity set of its base.");
    }
    if !plan.base_types.is_empty() {
        out.inner_doc("");
        out.inner_doc(&format!(
            "Columns inherited from {} are included.",
            plan.base_types.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    out.blank();
    let feature = |target: &str| -> Option<String> { options.features.then(|| target.to_owned()) };

    // The read struct.
    out.doc(
        0,
        &format!(
            "A row of `{}` as read: every column is an `Option`, since a `$select` returns only some.",
            plan.logical
        ),
    );
    out.doc(0, "");
    out.doc(
        0,
        "Lookups hold the related row's id (read as `_<name>_value`); navigation properties are filled when expanded.",
    );
    out.doc(0, "Wrap it in [`Annotated`](super::Annotated) to read formatted values and lookup annotations too.");
    out.attribute(
        0,
        "derive",
        &[
            "::core::fmt::Debug".to_owned(),
            "::core::clone::Clone".to_owned(),
            "::core::default::Default".to_owned(),
            "::core::cmp::PartialEq".to_owned(),
            "::serde::Deserialize".to_owned(),
        ],
    );
    out.line(0, &format!("pub struct {name} {{"));
    out.doc(1, "The row's version (`@odata.etag`), for optimistic concurrency.");
    out.attribute(1, "serde", &["rename = \"@odata.etag\"".to_owned(), "default".to_owned()]);
    out.field(1, &plan.etag_field, &format!("{OPTION}<::std::string::String>"));
    for column in &plan.columns {
        out.doc(1, &column_doc(column));
        let mut items = vec![format!("rename = {}", literal(&column.property)), "default".to_owned()];
        if let Some(with) = read_with(&column.value) {
            items.push(format!("deserialize_with = {}", literal(with)));
        }
        out.attribute(1, "serde", &items);
        out.field(1, &column.field, &format!("{OPTION}<{}>", value_type(&column.value)));
    }
    for lookup in &plan.lookups {
        let what = lookup.description.as_deref().map(doc_text).filter(|d| !d.is_empty());
        let targets = targets_text(&lookup.targets);
        let suffix = format!("(lookup `{}`, read as `{}`{targets})", lookup.logical, lookup.property);
        out.doc(
            1,
            &what.map_or_else(
                || format!("The id of the row the `{}` lookup points to {suffix}.", lookup.logical),
                |w| format!("{w} {suffix}"),
            ),
        );
        out.attribute(1, "serde", &[format!("rename = {}", literal(&lookup.property)), "default".to_owned()]);
        out.field(1, &lookup.field, &format!("{OPTION}<::uuid::Uuid>"));
    }
    for navigation in &plan.navigations {
        let target = generated_type(&navigation.target, types);
        let partner = navigation.partner.as_deref().map(|p| format!(" (partner `{p}`)")).unwrap_or_default();
        out.doc(
            1,
            &format!(
                "The `{}` navigation property to `{}`{partner}, when expanded.",
                navigation.name, navigation.target
            ),
        );
        if let Some(feature) = feature(&navigation.target) {
            out.cfg_features(1, [feature.as_str()]);
        }
        out.attribute(1, "serde", &[format!("rename = {}", literal(&navigation.name)), "default".to_owned()]);
        let ty = if navigation.collection {
            format!("{OPTION}<::std::vec::Vec<{target}>>")
        } else {
            format!("{OPTION}<::std::boxed::Box<{target}>>")
        };
        out.field(1, &navigation.field, &ty);
    }
    out.line(0, "}");
    out.blank();

    // The Entity impl.
    out.line(0, &format!("impl ::dynamics_webapi::Entity for {name} {{"));
    out.line(1, &format!("const ENTITY_SET: &'static str = {};", literal(&plan.entity_set)));
    out.line(1, &format!("const LOGICAL_NAME: &'static str = {};", literal(&plan.logical)));
    out.line(1, &format!("const PRIMARY_ID: &'static str = {};", literal(&plan.primary_id)));
    out.line(0, "}");
    out.blank();

    // The write struct.
    out.doc(
        0,
        &format!(
            "The columns of `{}` a create or update sends: each is left alone (`Patch::Keep`, the default),",
            plan.logical
        ),
    );
    out.doc(0, "cleared (`Patch::Clear`) or set (`Patch::Set`). Read-only columns are absent.");
    out.doc(0, "");
    out.doc(0, "Lookups are set through their navigation property, as `<name>@odata.bind` to `/<entity set>(<id>)`:");
    out.doc(0, "one field per target table, so a polymorphic lookup (customer, owner, regarding) names its target.");
    out.doc(0, "Set at most one field of each lookup.");
    out.attribute(
        0,
        "derive",
        &[
            "::core::fmt::Debug".to_owned(),
            "::core::clone::Clone".to_owned(),
            "::core::default::Default".to_owned(),
            "::core::cmp::PartialEq".to_owned(),
            "::serde::Serialize".to_owned(),
        ],
    );
    let writable = plan.columns.iter().any(|c| !c.read_only) || !plan.binds.is_empty();
    if !writable {
        out.line(0, &format!("pub struct {name}Write {{}}"));
    } else {
        out.line(0, &format!("pub struct {name}Write {{"));
    }
    for column in plan.columns.iter().filter(|c| !c.read_only) {
        out.doc(1, &column_doc(column));
        let mut items = vec![
            format!("rename = {}", literal(&column.property)),
            "skip_serializing_if = \"::dynamics_webapi::entities::support::keep\"".to_owned(),
        ];
        if let Some(with) = write_with(&column.value) {
            items.push(format!("serialize_with = {}", literal(with)));
        }
        out.attribute(1, "serde", &items);
        out.field(1, &column.field, &format!("{PATCH}<{}>", value_type(&column.value)));
    }
    let mut bind_sets = BTreeSet::new();
    for bind in &plan.binds {
        let function = bind_function(&bind.entity_set);
        bind_sets.insert(bind.entity_set.as_str());
        out.doc(
            1,
            &format!(
                "Sets the `{}` lookup to a row of `{}`: `{}@odata.bind` = `/{}(<id>)`.",
                bind.lookup.trim_start_matches('_').trim_end_matches("_value"),
                bind.target,
                bind.navigation,
                bind.entity_set
            ),
        );
        out.attribute(
            1,
            "serde",
            &[
                format!("rename = {}", literal(&format!("{}@odata.bind", bind.navigation))),
                "skip_serializing_if = \"::dynamics_webapi::entities::support::keep\"".to_owned(),
                format!("serialize_with = {}", literal(&function)),
            ],
        );
        out.field(1, &bind.field, &format!("{PATCH}<::uuid::Uuid>"));
    }
    if writable {
        out.line(0, "}");
    }
    for set in bind_sets {
        out.blank();
        out.line(0, &format!("fn {}<S: ::serde::Serializer>(", bind_function(set)));
        out.line(1, &format!("value: &{PATCH}<::uuid::Uuid>,"));
        out.line(1, "serializer: S,");
        out.line(0, ") -> ::core::result::Result<S::Ok, S::Error> {");
        let call = format!("{SUPPORT}::bind(value, {}, serializer)", literal(set));
        if 4 + call.len() <= MAX_WIDTH {
            out.line(1, &call);
        } else {
            // rustfmt puts the arguments of a call that does not fit on a line one per line.
            out.line(1, &format!("{SUPPORT}::bind("));
            out.line(2, "value,");
            out.line(2, &format!("{},", literal(set)));
            out.line(2, "serializer,");
            out.line(1, ")");
        }
        out.line(0, "}");
    }

    // Tokens.
    for column in &plan.columns {
        out.blank();
        out.doc(0, &format!("The `{}` column, for `$select`, `$filter` and `$orderby`.", column.property));
        let args = [name.as_str(), &token_type(&column.value)];
        out.constant(
            &column.constant,
            "::dynamics_webapi::query::Field",
            &args,
            &format!("::dynamics_webapi::query::Field::new({})", literal(&column.property)),
        );
    }
    for lookup in &plan.lookups {
        out.blank();
        out.doc(
            0,
            &format!(
                "The `{}` lookup (rendered `{}`), for `$select`, `$filter` and `$orderby`.",
                lookup.logical, lookup.property
            ),
        );
        out.constant(
            &lookup.constant,
            "::dynamics_webapi::query::Lookup",
            &[name.as_str()],
            &format!("::dynamics_webapi::query::Lookup::new({})", literal(&lookup.logical)),
        );
    }
    for navigation in &plan.navigations {
        out.blank();
        let kind = if navigation.collection { "NavMany" } else { "NavOne" };
        out.doc(
            0,
            &format!(
                "The `{}` navigation property to `{}`, for `$expand` and filters.",
                navigation.name, navigation.target
            ),
        );
        if let Some(feature) = feature(&navigation.target) {
            out.cfg_features(0, [feature.as_str()]);
        }
        let target = generated_type(&navigation.target, types);
        out.constant(
            &navigation.constant,
            &format!("::dynamics_webapi::query::{kind}"),
            &[name.as_str(), &target],
            &format!("::dynamics_webapi::query::{kind}::new({})", literal(&navigation.name)),
        );
    }
    out.finish()
}

fn targets_text(targets: &[String]) -> String {
    match targets {
        [] => String::new(),
        [one] => format!(", to `{one}`"),
        many => format!(", to {}", many.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" or ")),
    }
}

fn bind_function(entity_set: &str) -> String {
    format!("bind_{}", crate::naming::snake(entity_set))
}

fn generated_type(target: &str, types: &BTreeMap<String, String>) -> String {
    types.get(target).cloned().unwrap_or_else(|| "::dynamics_webapi::query::Untyped".to_owned())
}
