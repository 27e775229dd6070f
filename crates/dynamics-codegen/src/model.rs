//! What a CSDL document says, as read: entity types (before inheritance is flattened), entity sets,
//! and counts of what the generator does not use.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// A parsed CSDL (`$metadata`) document.
///
/// Build one with [`CsdlDocument::parse`](crate::CsdlDocument::parse).
#[derive(Debug, Clone, Default)]
pub struct CsdlDocument {
    pub(crate) source_name: String,
    /// Entity types by name (without namespace).
    pub(crate) entity_types: BTreeMap<String, EntityType>,
    /// Entity type name (without namespace) to entity set name.
    pub(crate) entity_sets: BTreeMap<String, String>,
    pub(crate) tolerated: Tolerated,
}

/// Counts of the elements read but not turned into code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tolerated {
    /// `<Action>` elements.
    pub actions: usize,
    /// `<Function>` elements.
    pub functions: usize,
    /// `<ComplexType>` elements.
    pub complex_types: usize,
    /// `<EnumType>` elements.
    pub enum_types: usize,
}

impl CsdlDocument {
    /// The names of the entity types, sorted.
    pub fn entity_type_names(&self) -> impl Iterator<Item = &str> {
        self.entity_types.keys().map(String::as_str)
    }

    /// The names of the entity types that can be generated (they have an entity set), sorted.
    pub fn entity_names(&self) -> impl Iterator<Item = &str> {
        self.entity_types.keys().filter(|name| self.entity_sets.contains_key(*name)).map(String::as_str)
    }

    /// The entity set of an entity type, from the `EntityContainer`.
    pub fn entity_set(&self, entity_type: &str) -> Option<&str> {
        self.entity_sets.get(entity_type).map(String::as_str)
    }

    /// The actions, functions, complex types and enum types the document declares (read, not generated).
    pub fn tolerated(&self) -> Tolerated {
        self.tolerated
    }

    /// The document's name as given to the parser, used in messages and generated headers.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}

/// An `<EntityType>` as declared (its own members only).
#[derive(Debug, Clone, Default)]
pub(crate) struct EntityType {
    pub(crate) name: String,
    pub(crate) base_type: Option<String>,
    pub(crate) is_abstract: bool,
    pub(crate) key: Option<String>,
    pub(crate) properties: Vec<Property>,
    pub(crate) navigations: Vec<NavigationProperty>,
    pub(crate) description: Option<String>,
}

/// A `<Property>`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Property {
    pub(crate) name: String,
    /// The `Type` attribute as written (`Edm.String`, `Collection(Edm.Int32)`, `mscrm.SomeEnum`).
    pub(crate) type_name: Cow<'static, str>,
    pub(crate) description: Option<String>,
    /// `Org.OData.Core.V1.Computed`.
    pub(crate) computed: bool,
    /// `Org.OData.Core.V1.Permissions`, when annotated: whether it includes `Write` (or `ReadWrite`).
    pub(crate) permissions: Option<Permissions>,
    pub(crate) line: usize,
}

impl Property {
    /// True when a create or update must not send the column.
    pub(crate) fn is_read_only(&self) -> bool {
        if self.computed {
            return true;
        }
        self.permissions.is_some_and(|p| !p.write)
    }
}

/// What a `Permissions` annotation allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Permissions {
    pub(crate) write: bool,
}

/// The Edm types as static text, so the common ones are not allocated once per property.
pub(crate) fn type_name(text: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 16] = [
        "Edm.String",
        "Edm.Guid",
        "Edm.Int32",
        "Edm.Int64",
        "Edm.Decimal",
        "Edm.Double",
        "Edm.Boolean",
        "Edm.DateTimeOffset",
        "Edm.Date",
        "Edm.Binary",
        "Edm.Int16",
        "Edm.Byte",
        "Edm.SByte",
        "Edm.Single",
        "Edm.Duration",
        "Edm.TimeOfDay",
    ];
    match KNOWN.iter().find(|known| **known == text) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(text.to_owned()),
    }
}

/// A `<NavigationProperty>`.
#[derive(Debug, Clone, Default)]
pub(crate) struct NavigationProperty {
    pub(crate) name: String,
    /// The target entity type name, without namespace.
    pub(crate) target: String,
    pub(crate) collection: bool,
    pub(crate) partner: Option<String>,
    /// `ReferentialConstraint` `Property` (such as `_parentaccountid_value`).
    pub(crate) constraint_property: Option<String>,
}
