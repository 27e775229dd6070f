//! The service document and a `$metadata` document describing the emulated tables.
//!
//! The CSDL is inferred from the tables: each entity set becomes an `EntityType` keyed on its primary id,
//! with a property for every column any record has, typed from the values seen.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Ctx;
use crate::reply::Reply;

/// `GET /api/data/v9.2/`: the entity sets.
pub(crate) fn service_document(ctx: &Ctx<'_>) -> Reply {
    let sets: Vec<Value> =
        ctx.state.store.set_names().map(|name| json!({"name": name, "kind": "EntitySet", "url": name})).collect();
    Reply::json(200, &json!({"@odata.context": format!("{}$metadata", ctx.service_root()), "value": sets}))
}

/// `GET $metadata`: an OData v4 CSDL document.
pub(crate) fn csdl(ctx: &Ctx<'_>) -> Reply {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n  <edmx:DataServices>\n    <Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n",
    );
    let mut sets = String::new();
    for table in ctx.state.store.tables() {
        let spec = &table.spec;
        let mut columns: BTreeMap<&str, &'static str> = BTreeMap::new();
        columns.insert(&spec.primary_id, "Edm.Guid");
        for row in &table.rows {
            for (name, value) in &row.fields {
                if name.contains('@') {
                    continue;
                }
                let kind = edm_type(name, value);
                let entry = columns.entry(name).or_insert(kind);
                if *entry == "Edm.Null" || (*entry == "Edm.Int32" && kind == "Edm.Decimal") {
                    *entry = kind;
                }
            }
        }
        let _ = writeln!(xml, "      <EntityType Name=\"{}\">", escape(&spec.logical_name));
        let _ = writeln!(xml, "        <Key><PropertyRef Name=\"{}\" /></Key>", escape(&spec.primary_id));
        for (name, kind) in columns {
            let kind = if kind == "Edm.Null" { "Edm.String" } else { kind };
            let _ = writeln!(xml, "        <Property Name=\"{}\" Type=\"{kind}\" />", escape(name));
        }
        xml.push_str("      </EntityType>\n");
        let _ = writeln!(
            sets,
            "        <EntitySet Name=\"{}\" EntityType=\"Microsoft.Dynamics.CRM.{}\" />",
            escape(&spec.name),
            escape(&spec.logical_name)
        );
    }
    xml.push_str(
        "      <ComplexType Name=\"WhoAmIResponse\">\n        <Property Name=\"BusinessUnitId\" Type=\"Edm.Guid\" Nullable=\"false\" />\n        <Property Name=\"UserId\" Type=\"Edm.Guid\" Nullable=\"false\" />\n        <Property Name=\"OrganizationId\" Type=\"Edm.Guid\" Nullable=\"false\" />\n      </ComplexType>\n      <Function Name=\"WhoAmI\">\n        <ReturnType Type=\"Microsoft.Dynamics.CRM.WhoAmIResponse\" Nullable=\"false\" />\n      </Function>\n      <EntityContainer Name=\"System\">\n",
    );
    xml.push_str(&sets);
    xml.push_str("        <FunctionImport Name=\"WhoAmI\" Function=\"Microsoft.Dynamics.CRM.WhoAmI\" />\n      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n");
    Reply::empty(200).with_body(xml.into_bytes(), "application/xml")
}

fn edm_type(name: &str, value: &Value) -> &'static str {
    match value {
        Value::Null => "Edm.Null",
        Value::Bool(_) => "Edm.Boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "Edm.Int32",
        Value::Number(_) => "Edm.Decimal",
        Value::String(text)
            if (name.ends_with("id") || name.ends_with("_value")) && uuid::Uuid::parse_str(text).is_ok() =>
        {
            "Edm.Guid"
        }
        Value::String(text) if text.len() >= 20 && text.as_bytes()[4] == b'-' && text.contains('T') => {
            "Edm.DateTimeOffset"
        }
        _ => "Edm.String",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}
