//! `GET EntityDefinitions(LogicalName='account')`: a table's definition, with the properties the emulator
//! knows (`MetadataId`, `LogicalName`, `EntitySetName`, `PrimaryIdAttribute`, `ChangeTrackingEnabled`,
//! `TableType`), honouring `$select` (`MetadataId` always comes, as Dataverse sends it).

use serde_json::{Map, Value};
use uuid::Uuid;

use super::Ctx;
use crate::reply::Reply;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::query_options::pairs;
use crate::webapi::odata::request::ApiRequest;
use crate::webapi::odata::target::Key;
use crate::webapi::store::Table;

const PROPERTIES: [&str; 6] =
    ["MetadataId", "LogicalName", "EntitySetName", "PrimaryIdAttribute", "ChangeTrackingEnabled", "TableType"];

/// A stable `MetadataId` for a table, from its logical name.
fn metadata_id(logical_name: &str) -> Uuid {
    let hash = logical_name
        .bytes()
        .fold(0x6c62_272e_07bb_0142_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    Uuid::from_u64_pair(hash, hash.rotate_left(29) & 0x0fff_ffff_ffff_ffff | 0x8000_0000_0000_0000)
}

/// `404 0x80040217`: no table by that name or id (the message Dataverse's metadata service sends).
fn no_such_table(name: &str, id: Uuid) -> ODataError {
    ODataError::new(404, "0x80040217", format!("Could not find an entity with name {name} and id {id}."))
}

pub(crate) fn retrieve(ctx: &mut Ctx<'_>, key: &Key, request: &ApiRequest) -> Result<Reply, ODataError> {
    let table: &Table = match key {
        Key::Alternate(parts) => match parts.as_slice() {
            [(column, Value::String(name))] if column == "LogicalName" => ctx
                .state
                .store
                .tables()
                .find(|table| table.spec.logical_name == *name)
                .ok_or_else(|| no_such_table(name, Uuid::nil()))?,
            _ => {
                return Err(ODataError::bad_query(
                    "A table definition is addressed by EntityDefinitions(LogicalName='<logical name>') or by its MetadataId.",
                ));
            }
        },
        Key::Id(id) => ctx
            .state
            .store
            .tables()
            .find(|table| metadata_id(&table.spec.logical_name) == *id)
            .ok_or_else(|| no_such_table("", *id))?,
    };
    let spec = &table.spec;
    let mut selected: Option<Vec<String>> = None;
    for (name, value) in pairs(request.query.as_deref().unwrap_or_default()) {
        match name.as_str() {
            "$select" => {
                let columns: Vec<String> =
                    value.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
                if let Some(unknown) = columns.iter().find(|c| !PROPERTIES.contains(&c.as_str())) {
                    return Err(ODataError::bad_query(format!(
                        "Could not find a property named '{unknown}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."
                    )));
                }
                selected = Some(columns);
            }
            other if other.starts_with('$') => {
                return Err(ODataError::not_emulated(format!("the query option {other} on a table definition")));
            }
            _ => {}
        }
    }
    let all = [
        ("LogicalName", Value::String(spec.logical_name.clone())),
        ("EntitySetName", Value::String(spec.name.clone())),
        ("PrimaryIdAttribute", Value::String(spec.primary_id.clone())),
        ("ChangeTrackingEnabled", Value::Bool(spec.change_tracking)),
        ("TableType", Value::String(if spec.elastic { "Elastic" } else { "Standard" }.to_owned())),
    ];
    let context_columns = selected.as_ref().map(|columns| format!("({})", columns.join(","))).unwrap_or_default();
    let mut body = Map::new();
    body.insert(
        "@odata.context".to_owned(),
        Value::String(format!("{}$metadata#EntityDefinitions{context_columns}/$entity", ctx.service_root())),
    );
    for (name, value) in all {
        if selected.as_ref().is_none_or(|columns| columns.iter().any(|c| c == name)) {
            body.insert(name.to_owned(), value);
        }
    }
    body.insert("MetadataId".to_owned(), Value::String(metadata_id(&spec.logical_name).to_string()));
    Ok(Reply::json(200, &Value::Object(body)))
}
