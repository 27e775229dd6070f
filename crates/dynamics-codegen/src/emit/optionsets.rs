//! The option-set module: one enum per choice, each ending with `Unknown(i32)`.

use super::Options;
use super::text::{Source, doc_text, literal};
use crate::plan::EnumPlan;

pub(crate) fn optionsets_file(enums: &[EnumPlan], options: &Options) -> String {
    let mut out = Source::new();
    out.line(0, &options.header());
    out.inner_doc("Choice (option set) enums: values as Dataverse stores them, labels in the org's base language.");
    out.inner_doc("");
    out.inner_doc("Each enum ends with `Unknown(i32)`, so a value added to the org later still reads.");
    out.inner_doc("They are written into queries and request bodies as their integer value.");
    for plan in enums {
        let features: Vec<&str> =
            if options.features { plan.used_by.iter().map(String::as_str).collect() } else { Vec::new() };
        let name = &plan.name;
        out.blank();
        let scope = if plan.is_global { "global option set" } else { "option set" };
        let columns = plan.columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
        out.doc(0, &format!("The {scope} `{}`, used by {columns}.", plan.set_name));
        out.cfg_features(0, features.iter().copied());
        out.attribute(
            0,
            "derive",
            &[
                "::core::fmt::Debug".to_owned(),
                "::core::clone::Clone".to_owned(),
                "::core::marker::Copy".to_owned(),
                "::core::cmp::PartialEq".to_owned(),
                "::core::cmp::Eq".to_owned(),
                "::core::hash::Hash".to_owned(),
            ],
        );
        out.line(0, &format!("pub enum {name} {{"));
        for (variant, value, label) in &plan.variants {
            match label.as_deref().map(doc_text).filter(|l| !l.is_empty()) {
                Some(label) => out.doc(1, &format!("{label} (`{value}`)")),
                None => out.doc(1, &format!("The option `{value}`, which has no label.")),
            }
            out.line(1, &format!("{variant},"));
        }
        out.doc(1, "A value not known when this code was generated.");
        out.line(1, "Unknown(i32),");
        out.line(0, "}");

        out.blank();
        out.cfg_features(0, features.iter().copied());
        out.line(0, &format!("impl {name} {{"));
        out.doc(1, "The option's label in the base language; `None` for an unknown value or an option without label.");
        out.line(1, "pub const fn label(self) -> ::core::option::Option<&'static str> {");
        out.line(2, "match self {");
        for (variant, _, label) in &plan.variants {
            let value = match label {
                Some(label) => format!("::core::option::Option::Some({})", literal(label)),
                None => "::core::option::Option::None".to_owned(),
            };
            out.arm(3, &format!("Self::{variant}"), &value);
        }
        out.arm(3, "Self::Unknown(_)", "::core::option::Option::None");
        out.line(2, "}");
        out.line(1, "}");
        out.line(0, "}");

        out.blank();
        out.cfg_features(0, features.iter().copied());
        out.line(0, &format!("impl ::core::convert::From<i32> for {name} {{"));
        out.line(1, "fn from(value: i32) -> Self {");
        out.line(2, "match value {");
        for (variant, value, _) in &plan.variants {
            out.arm(3, &value.to_string(), &format!("Self::{variant}"));
        }
        out.arm(3, "other", "Self::Unknown(other)");
        out.line(2, "}");
        out.line(1, "}");
        out.line(0, "}");

        out.blank();
        out.cfg_features(0, features.iter().copied());
        out.line(0, &format!("impl ::core::convert::From<{name}> for i32 {{"));
        out.line(1, &format!("fn from(choice: {name}) -> Self {{"));
        out.line(2, "match choice {");
        for (variant, value, _) in &plan.variants {
            out.arm(3, &format!("{name}::{variant}"), &value.to_string());
        }
        out.arm(3, &format!("{name}::Unknown(value)"), "value");
        out.line(2, "}");
        out.line(1, "}");
        out.line(0, "}");

        out.blank();
        out.cfg_features(0, features.iter().copied());
        out.line(0, &format!("impl ::dynamics_webapi::query::ChoiceValue for {name} {{"));
        out.line(1, "fn value(&self) -> i32 {");
        out.line(2, "i32::from(*self)");
        out.line(1, "}");
        out.line(0, "}");

        out.blank();
        out.cfg_features(0, features.iter().copied());
        out.line(0, &format!("impl ::serde::Serialize for {name} {{"));
        out.line(
            1,
            "fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {",
        );
        out.line(2, "serializer.serialize_i32(i32::from(*self))");
        out.line(1, "}");
        out.line(0, "}");

        out.blank();
        out.cfg_features(0, features.iter().copied());
        out.line(0, &format!("impl<'de> ::serde::Deserialize<'de> for {name} {{"));
        out.line(1, "fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {");
        out.line(2, "<i32 as ::serde::Deserialize>::deserialize(deserializer).map(Self::from)");
        out.line(1, "}");
        out.line(0, "}");
    }
    out.finish()
}
