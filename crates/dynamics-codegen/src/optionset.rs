//! The option-set reader: choice values and labels from the metadata API's JSON.
//!
//! Accepted shapes, as Dataverse serves them:
//! - a `RetrieveMetadataChanges` answer or an `EntityDefinitions` read with `$expand=Attributes`:
//!   `{"EntityMetadata" | "value": [{"LogicalName": "account", "Attributes": [...]}]}`;
//! - an attribute collection or a single attribute read through
//!   `EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata`,
//!   whose `@odata.context` names the entity.
//!
//! Each attribute with `OptionSet.Options` (or `GlobalOptionSet.Options`) becomes a choice; Boolean
//! option sets (`TrueOption`/`FalseOption`) are skipped, since two-option columns stay `bool`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Choice columns with their options, by entity and attribute logical name.
#[derive(Debug, Clone, Default)]
pub struct OptionSets {
    pub(crate) by_attribute: BTreeMap<(String, String), OptionSet>,
}

/// One choice column's option set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSet {
    /// The option set's name (`account_industrycode`, or a global name shared by several columns).
    pub(crate) name: String,
    pub(crate) is_global: bool,
    /// A multi-select choice (`MultiSelectPicklist`).
    pub(crate) multi_select: bool,
    /// Options sorted by value.
    pub(crate) options: Vec<Choice>,
}

/// One option: its value and the label in the base language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) value: i32,
    pub(crate) label: Option<String>,
}

impl OptionSet {
    /// The option set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for a multi-select choice.
    pub fn is_multi_select(&self) -> bool {
        self.multi_select
    }

    /// The options' values and labels, sorted by value.
    pub fn options(&self) -> impl Iterator<Item = (i32, Option<&str>)> {
        self.options.iter().map(|choice| (choice.value, choice.label.as_deref()))
    }
}

impl OptionSets {
    /// No option sets: choice columns stay integers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads option sets from metadata-API JSON text; `source_name` names it in errors.
    ///
    /// # Errors
    /// [`Error::OptionSets`] when the text is not JSON or not of an accepted shape, naming the JSON path.
    ///
    /// ```
    /// let json = r#"{"EntityMetadata": [{"LogicalName": "account", "Attributes": [{
    ///     "LogicalName": "industrycode", "AttributeType": "Picklist",
    ///     "OptionSet": {"Name": "account_industrycode", "IsGlobal": false, "Options": [
    ///         {"Value": 1, "Label": {"UserLocalizedLabel": {"Label": "Accounting", "LanguageCode": 1033}}}
    ///     ]}}]}]}"#;
    /// let sets = dynamics_codegen::OptionSets::from_json(json, "inline.json")?;
    /// let set = sets.get("account", "industrycode").unwrap();
    /// assert_eq!(set.options().collect::<Vec<_>>(), [(1, Some("Accounting"))]);
    /// # Ok::<(), dynamics_codegen::Error>(())
    /// ```
    pub fn from_json(text: &str, source_name: impl AsRef<Path>) -> Result<Self> {
        let source = source_name.as_ref();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let root: Value = serde_json::from_str(text).map_err(|e| {
            Error::option_sets(source, format!("not JSON: {e} (save the metadata API's answer as sent)"))
        })?;
        let mut sets = Self::new();
        let reader = JsonReader { source };
        reader.document(&root, &mut sets)?;
        Ok(sets)
    }

    /// Reads a JSON file, or every `*.json` file of a folder (sorted by name), and merges them.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read; the errors of [`OptionSets::from_json`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut files = Vec::new();
        if path.is_dir() {
            for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
                let entry = entry.map_err(|e| Error::io(path, e))?;
                let file = entry.path();
                if file.extension().is_some_and(|ext| ext == "json") {
                    files.push(file);
                }
            }
            files.sort();
        } else {
            files.push(path.to_path_buf());
        }
        let mut sets = Self::new();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            sets.merge(Self::from_json(&text, &file)?);
        }
        Ok(sets)
    }

    /// Adds the option sets of `other`; on the same column, `other` wins.
    pub fn merge(&mut self, other: OptionSets) {
        self.by_attribute.extend(other.by_attribute);
    }

    /// The option set of a column.
    pub fn get(&self, entity: &str, attribute: &str) -> Option<&OptionSet> {
        self.by_attribute.get(&(entity.to_owned(), attribute.to_owned()))
    }

    /// How many choice columns are known.
    pub fn len(&self) -> usize {
        self.by_attribute.len()
    }

    /// True when no choice column is known.
    pub fn is_empty(&self) -> bool {
        self.by_attribute.is_empty()
    }

    /// The entities that have choice columns, sorted.
    pub fn entities(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.by_attribute.keys().map(|(entity, _)| entity.as_str()).collect();
        names.dedup();
        names.into_iter()
    }

    /// Every column's option set, by (entity, attribute).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &OptionSet)> {
        self.by_attribute.iter().map(|((entity, attribute), set)| (entity.as_str(), attribute.as_str(), set))
    }
}

struct JsonReader<'a> {
    source: &'a Path,
}

impl JsonReader<'_> {
    fn error(&self, path: &str, message: impl std::fmt::Display) -> Error {
        Error::option_sets(
            self.source,
            format!("at {path}: {message} (expected the metadata API's attribute metadata with OptionSet.Options)"),
        )
    }

    fn document(&self, root: &Value, sets: &mut OptionSets) -> Result<()> {
        let Some(object) = root.as_object() else {
            return Err(self.error("$", "not a JSON object"));
        };
        if let Some(entities) = object.get("EntityMetadata") {
            return self.entities(entities, "$.EntityMetadata", sets);
        }
        let context_entity = object.get("@odata.context").and_then(Value::as_str).and_then(entity_from_context);
        match (object.get("value"), context_entity) {
            (Some(items), Some(entity)) => {
                let items = items.as_array().ok_or_else(|| self.error("$.value", "not an array"))?;
                for (i, item) in items.iter().enumerate() {
                    self.attribute(&entity, item, &format!("$.value[{i}]"), sets)?;
                }
                Ok(())
            }
            (Some(items), None) => self.entities(items, "$.value", sets),
            (None, Some(entity)) => self.attribute(&entity, root, "$", sets),
            (None, None) => Err(self.error(
                "$",
                "neither `EntityMetadata`, `value`, nor an `@odata.context` naming EntityDefinitions(...)",
            )),
        }
    }

    fn entities(&self, entities: &Value, path: &str, sets: &mut OptionSets) -> Result<()> {
        let entities = entities.as_array().ok_or_else(|| self.error(path, "not an array"))?;
        for (i, entity) in entities.iter().enumerate() {
            let path = format!("{path}[{i}]");
            let name = entity
                .get("LogicalName")
                .and_then(Value::as_str)
                .ok_or_else(|| self.error(&path, "no `LogicalName` text"))?;
            let attributes = match entity.get("Attributes") {
                Some(Value::Array(attributes)) => attributes,
                Some(Value::Null) | None => continue,
                Some(_) => return Err(self.error(&format!("{path}.Attributes"), "not an array")),
            };
            for (j, attribute) in attributes.iter().enumerate() {
                self.attribute(name, attribute, &format!("{path}.Attributes[{j}]"), sets)?;
            }
        }
        Ok(())
    }

    fn attribute(&self, entity: &str, attribute: &Value, path: &str, sets: &mut OptionSets) -> Result<()> {
        let Some(object) = attribute.as_object() else {
            return Err(self.error(path, "not a JSON object"));
        };
        let name = object
            .get("LogicalName")
            .and_then(Value::as_str)
            .ok_or_else(|| self.error(path, "no `LogicalName` text"))?;
        let set = match (object.get("OptionSet"), object.get("GlobalOptionSet")) {
            (Some(set @ Value::Object(_)), _) => (set, "OptionSet"),
            (_, Some(set @ Value::Object(_))) => (set, "GlobalOptionSet"),
            _ => return Ok(()),
        };
        let set_path = format!("{path}.{}", set.1);
        let set = set.0;
        let options = match set.get("Options") {
            Some(Value::Array(options)) => options,
            // Boolean option sets have TrueOption and FalseOption instead.
            Some(Value::Null) | None => return Ok(()),
            Some(_) => return Err(self.error(&format!("{set_path}.Options"), "not an array")),
        };
        if set.get("OptionSetType").and_then(Value::as_str) == Some("Boolean") {
            return Ok(());
        }
        let kind = object.get("AttributeType").and_then(Value::as_str).unwrap_or_default();
        let odata_type = object.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
        let context = object.get("@odata.context").and_then(Value::as_str).unwrap_or_default();
        let multi_select = kind == "MultiSelectPicklist"
            || odata_type.contains("MultiSelectPicklistAttributeMetadata")
            || context.contains("MultiSelectPicklistAttributeMetadata");
        let mut choices = Vec::with_capacity(options.len());
        for (k, option) in options.iter().enumerate() {
            let option_path = format!("{set_path}.Options[{k}]");
            let value = option
                .get("Value")
                .and_then(Value::as_i64)
                .ok_or_else(|| self.error(&option_path, "`Value` is not an integer"))?;
            let value =
                i32::try_from(value).map_err(|_| self.error(&option_path, "`Value` does not fit in 32 bits"))?;
            choices.push(Choice { value, label: label(option.get("Label")) });
        }
        choices.sort_by_key(|choice| choice.value);
        if let Some(pair) = choices.windows(2).find(|pair| pair[0].value == pair[1].value) {
            return Err(self.error(&set_path, format!("the value {} appears twice", pair[0].value)));
        }
        let set_name = set
            .get("Name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("{entity}_{name}"), str::to_owned);
        let is_global = set.get("IsGlobal").and_then(Value::as_bool).unwrap_or(false);
        sets.by_attribute.insert(
            (entity.to_owned(), name.to_owned()),
            OptionSet { name: set_name, is_global, multi_select, options: choices },
        );
        Ok(())
    }
}

/// The label in the base language: `UserLocalizedLabel`, else the 1033 (English) label, else the first.
fn label(label: Option<&Value>) -> Option<String> {
    let label = label?;
    let text = |v: &Value| v.get("Label").and_then(Value::as_str).map(str::to_owned);
    if let Some(user) = label.get("UserLocalizedLabel").filter(|v| v.is_object()) {
        return text(user);
    }
    let localized = label.get("LocalizedLabels")?.as_array()?;
    localized
        .iter()
        .find(|l| l.get("LanguageCode").and_then(Value::as_i64) == Some(1033))
        .or_else(|| localized.first())
        .and_then(text)
}

/// `...#EntityDefinitions('account')/Attributes/...` or `EntityDefinitions(LogicalName='account')` to `account`.
fn entity_from_context(context: &str) -> Option<String> {
    let start = context.find("EntityDefinitions(")? + "EntityDefinitions(".len();
    let rest = &context[start..];
    let inner = &rest[..rest.find(')')?];
    let inner = inner.strip_prefix("LogicalName=").unwrap_or(inner);
    let name = inner.trim_matches('\'');
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_single_attribute_answer_by_its_context() {
        let json = r#"{"@odata.context": "https://x/api/data/v9.2/$metadata#EntityDefinitions('account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata(LogicalName,OptionSet(Options))/$entity",
            "LogicalName": "accountcategorycode",
            "OptionSet": {"Name": "account_accountcategorycode", "Options": [
                {"Value": 2, "Label": {"LocalizedLabels": [{"Label": "Standard", "LanguageCode": 1033}], "UserLocalizedLabel": null}},
                {"Value": 1, "Label": {"LocalizedLabels": [{"Label": "Préféré", "LanguageCode": 1036}, {"Label": "Preferred Customer", "LanguageCode": 1033}]}}
            ]}}"#;
        let sets = OptionSets::from_json(json, "one.json").unwrap();
        let set = sets.get("account", "accountcategorycode").unwrap();
        assert_eq!(set.options().collect::<Vec<_>>(), [(1, Some("Preferred Customer")), (2, Some("Standard"))]);
        assert!(!set.is_multi_select());
    }

    #[test]
    fn mismatched_shapes_name_the_json_path() {
        let cases = [
            ("[1, 2]", "at $: not a JSON object"),
            (r#"{"foo": 1}"#, "at $: neither"),
            (r#"{"EntityMetadata": [{"Attributes": []}]}"#, "at $.EntityMetadata[0]: no `LogicalName` text"),
            (
                r#"{"EntityMetadata": [{"LogicalName": "account", "Attributes": [{"LogicalName": "x", "OptionSet": {"Options": [{"Value": "one"}]}}]}]}"#,
                "at $.EntityMetadata[0].Attributes[0].OptionSet.Options[0]: `Value` is not an integer",
            ),
            (
                r#"{"EntityMetadata": [{"LogicalName": "account", "Attributes": [{"LogicalName": "x", "OptionSet": {"Options": [{"Value": 1}, {"Value": 1}]}}]}]}"#,
                "the value 1 appears twice",
            ),
            ("{not json", "not JSON"),
        ];
        for (json, expected) in cases {
            let error = OptionSets::from_json(json, "bad.json").unwrap_err();
            assert!(matches!(error, Error::OptionSets(_)));
            let text = error.to_string();
            assert!(text.starts_with("bad.json: ") && text.contains(expected), "{json}: {text}");
        }
    }

    #[test]
    fn boolean_option_sets_are_skipped_and_multi_select_is_recognised() {
        let json = r##"{"value": [{"LogicalName": "account", "Attributes": [
            {"LogicalName": "donotfax", "AttributeType": "Boolean", "OptionSet": {"OptionSetType": "Boolean", "Options": [], "TrueOption": {}}},
            {"LogicalName": "cr6a1_tags", "@odata.type": "#Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata",
             "GlobalOptionSet": {"Name": "cr6a1_tag", "IsGlobal": true, "Options": [{"Value": 5, "Label": null}]}}
        ]}]}"##;
        let sets = OptionSets::from_json(json, "x.json").unwrap();
        assert_eq!(sets.len(), 1);
        let tags = sets.get("account", "cr6a1_tags").unwrap();
        assert!(tags.is_multi_select());
        assert_eq!(tags.name(), "cr6a1_tag");
        assert_eq!(tags.options().collect::<Vec<_>>(), [(5, None)]);
    }
}
