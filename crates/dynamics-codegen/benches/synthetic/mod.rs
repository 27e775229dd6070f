//! The synthetic Dataverse-scale CSDL both benchmarks read.

use std::fmt::Write as _;

pub(crate) const ENTITIES: usize = 1_000;
pub(crate) const PROPERTIES: usize = 150;
const LOOKUPS: usize = 10;
const COLLECTIONS: usize = 20;

pub(crate) fn or_fail<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A CSDL in Dataverse's shape: every entity derives from `crmbaseentity`, has a key, 150 typed properties
/// with descriptions and permission annotations, lookups with referential constraints and collections back.
pub(crate) fn synthetic_csdl() -> String {
    let types =
        ["Edm.String", "Edm.Int32", "Edm.Decimal", "Edm.DateTimeOffset", "Edm.Boolean", "Edm.Guid", "Edm.Double"];
    let mut xml = String::with_capacity(64 << 20);
    xml.push_str("\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n<edmx:DataServices>\n<Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n<EntityType Name=\"crmbaseentity\" Abstract=\"true\"/>\n");
    for e in 0..ENTITIES {
        let _ = writeln!(
            xml,
            "<EntityType Name=\"new_entity{e}\" BaseType=\"mscrm.crmbaseentity\">\n<Key>\n<PropertyRef Name=\"new_entity{e}id\"/>\n</Key>"
        );
        let _ = writeln!(
            xml,
            "<Property Name=\"new_entity{e}id\" Type=\"Edm.Guid\">\n<Annotation Term=\"Org.OData.Core.V1.Description\" String=\"Unique identifier for entity instances\"/>\n</Property>"
        );
        for p in 0..PROPERTIES {
            let ty = types[p % types.len()];
            let _ = writeln!(
                xml,
                "<Property Name=\"new_column{p}\" Type=\"{ty}\">\n<Annotation Term=\"Org.OData.Core.V1.Description\" String=\"Column {p} of entity {e}, with a description as long as Dataverse&apos;s usually are.\"/>"
            );
            if p % 5 == 0 {
                xml.push_str("<Annotation Term=\"Org.OData.Core.V1.Computed\" Bool=\"true\"/>\n<Annotation Term=\"Org.OData.Core.V1.Permissions\">\n<EnumMember>Org.OData.Core.V1.PermissionType/Read</EnumMember>\n</Annotation>\n");
            }
            xml.push_str("</Property>\n");
        }
        for l in 0..LOOKUPS {
            let target = (e + l + 1) % ENTITIES;
            let _ = writeln!(
                xml,
                "<Property Name=\"_new_lookup{l}_value\" Type=\"Edm.Guid\"/>\n<NavigationProperty Name=\"new_lookup{l}\" Type=\"mscrm.new_entity{target}\" Nullable=\"false\" Partner=\"new_entity{e}_lookup{l}\">\n<ReferentialConstraint Property=\"_new_lookup{l}_value\" ReferencedProperty=\"new_entity{target}id\"/>\n</NavigationProperty>"
            );
        }
        for c in 0..COLLECTIONS {
            let source = (e + ENTITIES - c - 1) % ENTITIES;
            let _ = writeln!(
                xml,
                "<NavigationProperty Name=\"new_entity{source}_lookup{}\" Type=\"Collection(mscrm.new_entity{source})\" Partner=\"new_lookup{}\"/>",
                c % LOOKUPS,
                c % LOOKUPS
            );
        }
        xml.push_str(
            "<Annotation Term=\"Org.OData.Core.V1.Description\" String=\"A synthetic table.\"/>\n</EntityType>\n",
        );
    }
    xml.push_str("<EntityContainer Name=\"System\">\n");
    for e in 0..ENTITIES {
        let _ =
            writeln!(xml, "<EntitySet Name=\"new_entity{e}s\" EntityType=\"Microsoft.Dynamics.CRM.new_entity{e}\"/>");
    }
    xml.push_str("</EntityContainer>\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n");
    xml
}
