//! The CSDL reader: one pass of quick-xml events into a [`CsdlDocument`].
//!
//! It reads what code generation needs (entity types, keys, properties with their read-only
//! annotations, navigation properties with partners and referential constraints, entity sets)
//! and counts, without keeping, actions, functions, complex types and enum types.
//! It accepts what real servers send: a UTF-8 byte-order mark, OData v3's `ConcurrencyMode`,
//! derived types that redeclare `<Key>`.

use std::borrow::Cow;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Result};
use crate::model::{CsdlDocument, EntityType, NavigationProperty, Permissions, Property};

/// Where the reader is; only the places whose children matter are distinguished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    EntityType,
    Key,
    Property,
    Navigation,
    Annotation(AnnotationTerm),
    EnumMember,
    Container,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnnotationTerm {
    /// On a property: `Org.OData.Core.V1.Permissions`, whose `EnumMember` text matters.
    Permissions,
    Other,
}

impl CsdlDocument {
    /// Parses a CSDL document; `source_name` (a path or a label such as `$metadata`) names it in errors.
    ///
    /// # Errors
    /// [`Error::Csdl`] for malformed XML or an element without a required attribute, naming the line
    /// and element; [`Error::MissingEntityContainer`] when the document has no `EntityContainer`.
    ///
    /// ```
    /// let xml = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
    ///   <edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm">
    ///     <EntityType Name="account"><Key><PropertyRef Name="accountid"/></Key>
    ///       <Property Name="accountid" Type="Edm.Guid"/><Property Name="name" Type="Edm.String"/>
    ///     </EntityType>
    ///     <EntityContainer Name="System"><EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/></EntityContainer>
    ///   </Schema></edmx:DataServices></edmx:Edmx>"#;
    /// let document = dynamics_codegen::CsdlDocument::parse(xml.as_bytes(), "inline")?;
    /// assert_eq!(document.entity_set("account"), Some("accounts"));
    /// # Ok::<(), dynamics_codegen::Error>(())
    /// ```
    pub fn parse(bytes: &[u8], source_name: impl AsRef<Path>) -> Result<CsdlDocument> {
        Parser::new(bytes, source_name.as_ref()).run()
    }

    /// Reads and parses a CSDL file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, and the errors of [`CsdlDocument::parse`].
    pub fn read(path: impl AsRef<Path>) -> Result<CsdlDocument> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&bytes, path)
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    source_name: &'a Path,
    document: CsdlDocument,
    stack: Vec<(Place, &'static str)>,
    entity: Option<EntityType>,
    property: Option<Property>,
    navigation: Option<NavigationProperty>,
    has_container: bool,
    /// Byte position of the element being read, for errors raised after it.
    element_start: usize,
    /// (position, newlines before it) of the last line number computed.
    line_cache: std::cell::Cell<(usize, usize)>,
}

fn memchr_count(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<'a> Parser<'a> {
    fn new(bytes: &'a [u8], source_name: &'a Path) -> Self {
        // The byte-order mark real servers send is not part of the XML; lines are counted without it.
        let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        Self {
            bytes,
            source_name,
            document: CsdlDocument { source_name: source_name.display().to_string(), ..CsdlDocument::default() },
            stack: Vec::with_capacity(16),
            entity: None,
            property: None,
            navigation: None,
            has_container: false,
            element_start: 0,
            line_cache: std::cell::Cell::new((0, 0)),
        }
    }

    /// The 1-based line of a byte position. Positions only move forward while reading, so the count
    /// continues from the last one asked for (an earlier position is counted from the start).
    fn line_at(&self, position: usize) -> usize {
        let end = position.min(self.bytes.len());
        let (mut counted_to, mut lines) = self.line_cache.get();
        if end < counted_to {
            (counted_to, lines) = (0, 0);
        }
        lines += memchr_count(&self.bytes[counted_to..end]);
        self.line_cache.set((end, lines));
        1 + lines
    }

    fn error(&self, position: usize, element: &str, message: impl Into<String>) -> Error {
        Error::csdl(self.source_name, self.line_at(position), element, message)
    }

    fn current_element(&self) -> &'static str {
        self.stack.last().map_or("document", |(_, name)| name)
    }

    fn run(mut self) -> Result<CsdlDocument> {
        let mut reader = Reader::from_reader(self.bytes);
        reader.config_mut().check_end_names = true;
        loop {
            let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = usize::try_from(reader.error_position()).unwrap_or(before);
                    return Err(self.error(at, self.current_element(), format!("malformed XML: {e}")));
                }
            };
            self.element_start = before;
            match event {
                Event::Start(start) => {
                    let place = self.open(&start)?;
                    let name = static_name(start.local_name().as_ref());
                    self.stack.push((place, name));
                }
                Event::Empty(start) => {
                    let place = self.open(&start)?;
                    self.close(place)?;
                }
                Event::End(_) => {
                    if let Some((place, _)) = self.stack.pop() {
                        self.close(place)?;
                    }
                }
                Event::Text(text) => {
                    if matches!(self.stack.last(), Some((Place::EnumMember, _))) {
                        let text = text.decode().map_err(|e| self.error(before, "EnumMember", e.to_string()))?;
                        self.permission_members(&text);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if let Some((_, name)) = self.stack.last() {
            return Err(self.error(self.bytes.len(), name, "the document ends before this element is closed"));
        }
        if !self.has_container {
            return Err(Error::missing_entity_container(self.source_name));
        }
        Ok(self.document)
    }

    fn parent(&self) -> Option<Place> {
        self.stack.last().map(|(place, _)| *place)
    }

    /// Handles a start (or empty) tag and says where the reader now is.
    fn open(&mut self, start: &BytesStart<'_>) -> Result<Place> {
        let local = start.local_name();
        let parent = self.parent();
        let place = match local.as_ref() {
            b"EntityType" => {
                let [name, base_type, is_abstract] = self.attributes(start, ["Name", "BaseType", "Abstract"])?;
                let name = self.present(name, "EntityType", "Name")?;
                let base_type = base_type.map(|t| unqualified(&t).to_owned());
                let is_abstract = is_abstract.is_some_and(|v| v == "true");
                self.entity =
                    Some(EntityType { name: name.into_owned(), base_type, is_abstract, ..EntityType::default() });
                Place::EntityType
            }
            b"Key" if parent == Some(Place::EntityType) => Place::Key,
            b"PropertyRef" if parent == Some(Place::Key) => {
                let name = self.required(start, "PropertyRef", "Name")?.into_owned();
                if let Some(entity) = &mut self.entity {
                    entity.key = Some(name);
                }
                Place::Other
            }
            b"Property" if parent == Some(Place::EntityType) => {
                let [name, type_name] = self.attributes(start, ["Name", "Type"])?;
                let name = self.present(name, "Property", "Name")?.into_owned();
                let type_name = crate::model::type_name(&self.present(type_name, "Property", "Type")?);
                let line = self.line_at(self.element_start);
                self.property = Some(Property { name, type_name, line, ..Property::default() });
                Place::Property
            }
            b"NavigationProperty" if parent == Some(Place::EntityType) => {
                let [name, type_name, partner] = self.attributes(start, ["Name", "Type", "Partner"])?;
                let name = self.present(name, "NavigationProperty", "Name")?.into_owned();
                let type_name = self.present(type_name, "NavigationProperty", "Type")?;
                let (collection, target) = match type_name.strip_prefix("Collection(").and_then(|t| t.strip_suffix(')'))
                {
                    Some(inner) => (true, unqualified(inner).to_owned()),
                    None => (false, unqualified(&type_name).to_owned()),
                };
                let partner = partner.map(Cow::into_owned);
                self.navigation =
                    Some(NavigationProperty { name, target, collection, partner, constraint_property: None });
                Place::Navigation
            }
            b"ReferentialConstraint" if parent == Some(Place::Navigation) => {
                let property = self.required(start, "ReferentialConstraint", "Property")?.into_owned();
                if let Some(navigation) = &mut self.navigation {
                    navigation.constraint_property.get_or_insert(property);
                }
                Place::Other
            }
            b"Annotation" if matches!(parent, Some(Place::Property | Place::EntityType)) => {
                self.annotation(start, parent)?
            }
            b"EnumMember" if parent == Some(Place::Annotation(AnnotationTerm::Permissions)) => Place::EnumMember,
            b"EntityContainer" => {
                self.has_container = true;
                Place::Container
            }
            b"EntitySet" if parent == Some(Place::Container) => {
                let [name, entity_type] = self.attributes(start, ["Name", "EntityType"])?;
                let name = self.present(name, "EntitySet", "Name")?.into_owned();
                let entity_type = self.present(entity_type, "EntitySet", "EntityType")?;
                self.document.entity_sets.insert(unqualified(&entity_type).to_owned(), name);
                Place::Other
            }
            b"Action" => {
                self.document.tolerated.actions += 1;
                Place::Other
            }
            b"Function" => {
                self.document.tolerated.functions += 1;
                Place::Other
            }
            b"ComplexType" => {
                self.document.tolerated.complex_types += 1;
                Place::Other
            }
            b"EnumType" => {
                self.document.tolerated.enum_types += 1;
                Place::Other
            }
            _ => Place::Other,
        };
        Ok(place)
    }

    fn annotation(&mut self, start: &BytesStart<'_>, parent: Option<Place>) -> Result<Place> {
        let [term, string, boolean, enum_member] = self.attributes(start, ["Term", "String", "Bool", "EnumMember"])?;
        let term = self.present(term, "Annotation", "Term")?;
        let term = term.strip_prefix("Org.OData.Core.V1.").or_else(|| term.strip_prefix("Core.")).unwrap_or("");
        match (term, parent) {
            ("Description", _) => {
                let text = string.map(trimmed).filter(|t| !t.is_empty());
                match parent {
                    Some(Place::Property) => {
                        if let Some(property) = &mut self.property {
                            property.description = text;
                        }
                    }
                    _ => {
                        if let Some(entity) = &mut self.entity {
                            entity.description = text;
                        }
                    }
                }
                Ok(Place::Annotation(AnnotationTerm::Other))
            }
            ("Computed", Some(Place::Property)) => {
                let value = boolean.is_none_or(|v| v == "true");
                if let Some(property) = &mut self.property {
                    property.computed = value;
                }
                Ok(Place::Annotation(AnnotationTerm::Other))
            }
            ("Permissions", Some(Place::Property)) => {
                if let Some(property) = &mut self.property {
                    property.permissions.get_or_insert_with(Permissions::default);
                }
                if let Some(members) = enum_member {
                    let members = members.into_owned();
                    self.permission_members(&members);
                }
                Ok(Place::Annotation(AnnotationTerm::Permissions))
            }
            _ => Ok(Place::Annotation(AnnotationTerm::Other)),
        }
    }

    fn permission_members(&mut self, text: &str) {
        if let Some(property) = &mut self.property {
            let permissions = property.permissions.get_or_insert_with(Permissions::default);
            for member in text.split_whitespace() {
                let member = member.rsplit('/').next().unwrap_or(member);
                permissions.write |= member == "Write" || member == "ReadWrite";
            }
        }
    }

    /// Handles the end of an element.
    fn close(&mut self, place: Place) -> Result<()> {
        match place {
            Place::Property => {
                if let (Some(property), Some(entity)) = (self.property.take(), &mut self.entity) {
                    entity.properties.push(property);
                }
            }
            Place::Navigation => {
                if let (Some(navigation), Some(entity)) = (self.navigation.take(), &mut self.entity) {
                    entity.navigations.push(navigation);
                }
            }
            Place::EntityType => {
                if let Some(entity) = self.entity.take() {
                    if self.document.entity_types.contains_key(&entity.name) {
                        return Err(self.error(
                            self.element_start,
                            "EntityType",
                            format!("entity type `{}` is declared twice", entity.name),
                        ));
                    }
                    self.document.entity_types.insert(entity.name.clone(), entity);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The values of the attributes `names`, in one pass over the element's attributes.
    fn attributes<'e, const N: usize>(
        &self,
        start: &'e BytesStart<'_>,
        names: [&str; N],
    ) -> Result<[Option<Cow<'e, str>>; N]> {
        let mut values: [Option<Cow<'e, str>>; N] = std::array::from_fn(|_| None);
        let mut attributes = start.attributes();
        attributes.with_checks(false);
        for attribute in attributes {
            let attribute = attribute.map_err(|e| {
                self.error(self.element_start, element_name(start), format!("malformed attribute: {e}"))
            })?;
            let key = attribute.key.local_name();
            if let Some(i) = names.iter().position(|name| name.as_bytes() == key.as_ref()) {
                let value = attribute.unescape_value().map_err(|e| {
                    self.error(self.element_start, element_name(start), format!("attribute `{}`: {e}", names[i]))
                })?;
                values[i] = Some(value);
            }
        }
        Ok(values)
    }

    fn optional<'e>(&self, start: &'e BytesStart<'_>, name: &str) -> Result<Option<Cow<'e, str>>> {
        let [value] = self.attributes(start, [name])?;
        Ok(value)
    }

    fn required<'e>(&self, start: &'e BytesStart<'_>, element: &str, name: &str) -> Result<Cow<'e, str>> {
        self.present(self.optional(start, name)?, element, name)
    }

    fn present<'e>(&self, value: Option<Cow<'e, str>>, element: &str, name: &str) -> Result<Cow<'e, str>> {
        value
            .filter(|value| !value.is_empty())
            .ok_or_else(|| self.error(self.element_start, element, format!("the `{name}` attribute is missing")))
    }
}

fn element_name(start: &BytesStart<'_>) -> &'static str {
    static_name(start.local_name().as_ref())
}

/// The element names used in messages; others are reported generically.
fn static_name(local: &[u8]) -> &'static str {
    match local {
        b"Edmx" => "edmx:Edmx",
        b"DataServices" => "edmx:DataServices",
        b"Schema" => "Schema",
        b"EntityType" => "EntityType",
        b"Key" => "Key",
        b"PropertyRef" => "PropertyRef",
        b"Property" => "Property",
        b"NavigationProperty" => "NavigationProperty",
        b"ReferentialConstraint" => "ReferentialConstraint",
        b"Annotation" => "Annotation",
        b"EnumMember" => "EnumMember",
        b"EntityContainer" => "EntityContainer",
        b"EntitySet" => "EntitySet",
        b"Action" => "Action",
        b"Function" => "Function",
        b"ComplexType" => "ComplexType",
        b"EnumType" => "EnumType",
        _ => "element",
    }
}

/// The text without surrounding whitespace, allocated once.
fn trimmed(text: Cow<'_, str>) -> String {
    match text {
        Cow::Owned(mut owned) => {
            let end = owned.trim_end().len();
            owned.truncate(end);
            let start = owned.len() - owned.trim_start().len();
            owned.drain(..start);
            owned
        }
        Cow::Borrowed(borrowed) => borrowed.trim().to_owned(),
    }
}

/// `mscrm.account` or `Microsoft.Dynamics.CRM.account` to `account`.
fn unqualified(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(body: &str) -> String {
        format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n<edmx:DataServices>\n<Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n{body}\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n"
        )
    }

    const CONTAINER: &str = r#"<EntityContainer Name="System"><EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/></EntityContainer>"#;

    #[test]
    fn reads_entity_types_keys_annotations_and_sets_after_a_bom() {
        let xml = wrap(&format!(
            r#"<EntityType Name="crmbaseentity" Abstract="true"/>
<EntityType Name="account" BaseType="mscrm.crmbaseentity">
<Key><PropertyRef Name="accountid"/></Key>
<Property Name="accountid" Type="Edm.Guid"/>
<Property Name="versionnumber" Type="Edm.Int64" ConcurrencyMode="Fixed">
  <Annotation Term="Org.OData.Core.V1.Permissions"><EnumMember>Org.OData.Core.V1.PermissionType/Read</EnumMember></Annotation>
</Property>
<Property Name="openrevenue" Type="Edm.Decimal"><Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/><Annotation Term="Org.OData.Core.V1.Description" String="Sum &amp; more."/></Property>
<Property Name="_parentaccountid_value" Type="Edm.Guid"/>
<NavigationProperty Name="parentaccountid" Type="mscrm.account" Nullable="false" Partner="account_parent_account">
  <ReferentialConstraint Property="_parentaccountid_value" ReferencedProperty="accountid"/>
</NavigationProperty>
<NavigationProperty Name="account_parent_account" Type="Collection(mscrm.account)" Partner="parentaccountid"/>
</EntityType>
<ComplexType Name="x"/><EnumType Name="y"/><Action Name="a"/><Function Name="f"/>
{CONTAINER}"#
        ));
        let document = CsdlDocument::parse(xml.as_bytes(), "test.xml").unwrap();
        let account = &document.entity_types["account"];
        assert_eq!(account.base_type.as_deref(), Some("crmbaseentity"));
        assert_eq!(account.key.as_deref(), Some("accountid"));
        assert_eq!(account.properties.len(), 4);
        assert!(account.properties[1].is_read_only());
        assert!(account.properties[2].is_read_only());
        assert_eq!(account.properties[2].description.as_deref(), Some("Sum & more."));
        assert!(!account.properties[3].is_read_only());
        let parent = &account.navigations[0];
        assert!(!parent.collection);
        assert_eq!(parent.target, "account");
        assert_eq!(parent.constraint_property.as_deref(), Some("_parentaccountid_value"));
        assert!(account.navigations[1].collection);
        assert!(document.entity_types["crmbaseentity"].is_abstract);
        assert_eq!(document.entity_set("account"), Some("accounts"));
        assert_eq!(document.tolerated().complex_types, 1);
        assert_eq!(document.tolerated().actions, 1);
        assert_eq!(document.entity_names().collect::<Vec<_>>(), ["account"]);
    }

    #[test]
    fn malformed_xml_names_line_and_element() {
        let xml = wrap(&format!(
            "<EntityType Name=\"account\">\n<Property Name=\"a\" Type=\"Edm.String\">\n</EntityType>{CONTAINER}"
        ));
        let error = CsdlDocument::parse(xml.as_bytes(), "broken.xml").unwrap_err();
        let text = error.to_string();
        assert!(matches!(&error, Error::Csdl(e) if e.line() == 7 && e.element() == "Property"), "{text}");
        assert!(text.starts_with("broken.xml:7: in <Property>: malformed XML"), "{text}");
    }

    #[test]
    fn a_missing_required_attribute_is_named() {
        let xml =
            wrap(&format!("<EntityType Name=\"account\">\n<Property Type=\"Edm.String\"/>\n</EntityType>{CONTAINER}"));
        let text = CsdlDocument::parse(xml.as_bytes(), "m.xml").unwrap_err().to_string();
        assert_eq!(text, "m.xml:6: in <Property>: the `Name` attribute is missing");
    }

    #[test]
    fn a_truncated_document_is_an_error() {
        let xml = wrap("<EntityType Name=\"account\">");
        let cut = &xml[..xml.find("</Schema>").unwrap()];
        let text = CsdlDocument::parse(cut.as_bytes(), "cut.xml").unwrap_err().to_string();
        assert!(text.contains("cut.xml:") && text.contains("EntityType"), "{text}");
    }

    #[test]
    fn a_document_without_entity_container_is_refused() {
        let xml = wrap("<EntityType Name=\"account\"/>");
        let error = CsdlDocument::parse(xml.as_bytes(), "partial.xml").unwrap_err();
        assert!(matches!(error, Error::MissingEntityContainer(_)));
        assert!(error.to_string().contains("partial.xml: the document has no <EntityContainer>"));
    }
}
