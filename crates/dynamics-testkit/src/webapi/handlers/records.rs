//! The record handlers: list (with query options and paging), retrieve, create, update/upsert, delete,
//! single columns and single-valued references.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::Ctx;
use super::expand::Expansion;
use super::guard::{Access, check_privilege};
use crate::EntitySetSpec;
use crate::reply::Reply;
use crate::webapi::odata::body;
use crate::webapi::odata::compare;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::expand::Expand;
use crate::webapi::odata::filter::check_column;
use crate::webapi::odata::query_options::{QueryOptions, encode, pairs, skip_token};
use crate::webapi::odata::request::ApiRequest;
use crate::webapi::odata::target::Key;
use crate::webapi::store::{Relationship, Row, Table};

type Result<T> = std::result::Result<T, ODataError>;

/// The largest page Dataverse serves.
const MAX_PAGE_SIZE: usize = 5000;

fn table<'a>(ctx: &'a Ctx<'_>, set: &str) -> Result<&'a Table> {
    ctx.state.store.table(set).ok_or_else(|| ODataError::segment_not_found(set))
}

fn spec(ctx: &Ctx<'_>, set: &str) -> Result<EntitySetSpec> {
    Ok(table(ctx, set)?.spec.clone())
}

/// The column changes a write's body asks for, its lookups resolved against the store.
fn changes(ctx: &Ctx<'_>, spec: &EntitySetSpec, body: Map<String, Value>) -> Result<Map<String, Value>> {
    body::changes(spec, body, |reference| ctx.state.store.resolve_reference(reference))
}

fn now() -> String {
    OffsetDateTime::now_utc().replace_nanosecond(0).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

fn not_found(spec: &EntitySetSpec, key: &Key) -> ODataError {
    match key {
        Key::Id(id) => ODataError::record_not_found(&spec.logical_name, id),
        Key::Alternate(_) => ODataError::key_not_found(&spec.logical_name),
    }
}

/// The columns to return: the `$select`ed ones plus the primary id.
fn selection(select: Option<&Vec<String>>, spec: &EntitySetSpec) -> Option<Vec<String>> {
    select.map(|columns| {
        let mut columns = columns.clone();
        if !columns.contains(&spec.primary_id) {
            columns.push(spec.primary_id.clone());
        }
        columns
    })
}

fn context_url(ctx: &Ctx<'_>, set: &str, select: Option<&Vec<String>>, entity: bool) -> String {
    let columns = select.map(|columns| format!("({})", columns.join(","))).unwrap_or_default();
    let suffix = if entity { "/$entity" } else { "" };
    format!("{}$metadata#{set}{columns}{suffix}", ctx.service_root())
}

fn entity_id_url(ctx: &Ctx<'_>, set: &str, id: Uuid) -> String {
    format!("{}{set}({id})", ctx.service_root())
}

/// `GET <set>`: filter, order, count, top, and one page.
pub(crate) fn list(ctx: &mut Ctx<'_>, set: &str, request: &ApiRequest) -> Result<Reply> {
    if let Some((_, fetch_xml)) =
        pairs(request.query.as_deref().unwrap_or_default()).into_iter().find(|(name, _)| name == "fetchXml")
    {
        return super::fetch_xml::list(ctx, set, &fetch_xml, request);
    }
    let spec = spec(ctx, set)?;
    check_privilege(ctx, &spec.logical_name, Access::Read)?;
    if super::change_tracking::applies(request) {
        return super::change_tracking::list(ctx, &spec, request);
    }
    collection(ctx, set, request, None, set)
}

/// The records of a collection from `set`, only those whose `scope` column equals its value when given;
/// next links go to `link_path` (below the service root).
fn collection(
    ctx: &Ctx<'_>,
    set: &str,
    request: &ApiRequest,
    scope: Option<(String, Value)>,
    link_path: &str,
) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    let options = QueryOptions::parse(request.query.as_deref(), false)?;
    let preferences = request.preferences();
    let table = table(ctx, set)?;
    let in_scope = |row: &Row| scope.as_ref().is_none_or(|(column, value)| compare::equal(row.get(column), value));
    let mut rows: Vec<&Row> = table
        .rows
        .iter()
        .filter(|row| in_scope(row) && options.filter.as_ref().is_none_or(|filter| filter.matches(&row.fields)))
        .collect();
    if !options.order_by.is_empty() {
        rows.sort_by(|a, b| {
            for (column, descending) in &options.order_by {
                let ordering = compare::sort(a.get(column), b.get(column));
                let ordering = if *descending { ordering.reverse() } else { ordering };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    let total = rows.len();
    if let Some(top) = options.top {
        rows.truncate(top);
    }
    // Dataverse never pages by more than 5000, whatever the client prefers.
    let page_size = preferences.max_page_size.map_or(ctx.config.page_size, |size| size.min(MAX_PAGE_SIZE));
    let start = (options.page - 1).saturating_mul(page_size);
    let end = start.saturating_add(page_size).min(rows.len());
    let select = selection(options.select.as_ref(), &spec);
    let annotations = preferences.wants_lookup_names();
    let expansions = expansions(ctx, table, &options)?;
    let value: Vec<Value> = rows
        .get(start.min(rows.len())..end)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let record = expanded(ctx, row, row.project(select.as_deref(), annotations), &expansions);
            with_formatted(ctx, row, record, preferences.wants_formatted())
        })
        .collect();
    let mut body = Map::new();
    body.insert("@odata.context".to_owned(), Value::String(context_url(ctx, set, options.select.as_ref(), false)));
    if options.count {
        body.insert("@odata.count".to_owned(), Value::from(total));
    }
    body.insert("value".to_owned(), Value::Array(value));
    if end < rows.len() {
        let kept: Vec<String> = pairs(request.query.as_deref().unwrap_or_default())
            .into_iter()
            .filter(|(name, _)| name != "$skiptoken")
            .map(|(name, value)| format!("{}={}", encode(&name), encode(&value)))
            .collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        let (first, last) = (rows[start].id, rows[end - 1].id);
        let token = skip_token(options.page + 1, &spec.primary_id, first, last);
        query.push_str(&format!("$skiptoken={}", encode(&token)));
        body.insert("@odata.nextLink".to_owned(), Value::String(format!("{}{link_path}?{query}", ctx.service_root())));
    }
    let mut reply = Reply::json(200, &Value::Object(body));
    let mut applied = Vec::new();
    if let Some(size) = preferences.max_page_size {
        applied.push(format!("odata.maxpagesize={size}"));
    }
    if let Some(annotations) = &preferences.annotations {
        applied.push(format!("odata.include-annotations=\"{annotations}\""));
    }
    if !applied.is_empty() {
        reply = reply.header("Preference-Applied", applied.join(","));
    }
    Ok(reply)
}

/// Each `$expand` with how it expands.
fn expansions<'a>(ctx: &Ctx<'_>, table: &Table, options: &'a QueryOptions) -> Result<Vec<(&'a Expand, Expansion)>> {
    options
        .expand
        .iter()
        .map(|expand| Ok((expand, super::expand::expansion(&ctx.state.store, table, &expand.navigation)?)))
        .collect()
}

/// A projected record with formatted values when they were asked for.
fn with_formatted(ctx: &Ctx<'_>, row: &Row, mut record: Value, wanted: bool) -> Value {
    if wanted && let Value::Object(map) = &mut record {
        super::formatted::annotate(&ctx.state.store, row, map);
    }
    record
}

/// A projected record with its expanded navigation properties added.
fn expanded(ctx: &Ctx<'_>, row: &Row, mut record: Value, expansions: &[(&Expand, Expansion)]) -> Value {
    if let Value::Object(map) = &mut record {
        for (expand, expansion) in expansions {
            super::expand::apply(&ctx.state.store, row, expand, expansion, map);
        }
    }
    record
}

/// `GET <set>(<key>)`.
pub(crate) fn retrieve(ctx: &mut Ctx<'_>, set: &str, key: &Key, request: &ApiRequest) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    check_privilege(ctx, &spec.logical_name, Access::Read)?;
    let options = QueryOptions::parse(request.query.as_deref(), true)?;
    let table = table(ctx, set)?;
    let row = table.find(key)?.map(|at| &table.rows[at]).ok_or_else(|| not_found(&spec, key))?;
    if request.header("if-none-match").is_some_and(|etag| etag == row.etag()) {
        return Ok(Reply::empty(304));
    }
    let expansions = expansions(ctx, table, &options)?;
    let reply = representation(ctx, set, &spec, row, options.select.as_ref(), request, 200);
    if expansions.is_empty() {
        return Ok(reply);
    }
    let record = expanded(ctx, row, reply_json(&reply), &expansions);
    Ok(Reply { body: Some((record.to_string().into_bytes(), JSON.to_owned())), ..reply })
}

const JSON: &str = "application/json; odata.metadata=minimal";

fn reply_json(reply: &Reply) -> Value {
    reply.body.as_ref().and_then(|(body, _)| serde_json::from_slice(body).ok()).unwrap_or(Value::Null)
}

fn representation(
    ctx: &Ctx<'_>,
    set: &str,
    spec: &EntitySetSpec,
    row: &Row,
    select: Option<&Vec<String>>,
    request: &ApiRequest,
    status: u16,
) -> Reply {
    let columns = selection(select, spec);
    let preferences = request.preferences();
    let record = row.project(columns.as_deref(), preferences.wants_lookup_names());
    let mut record = with_formatted(ctx, row, record, preferences.wants_formatted());
    if let Value::Object(map) = &mut record {
        let mut with_context = Map::new();
        with_context.insert("@odata.context".to_owned(), Value::String(context_url(ctx, set, select, true)));
        with_context.append(map);
        record = Value::Object(with_context);
    }
    Reply::json(status, &record).header("ETag", row.etag())
}

/// `POST <set>`: 204 with `OData-EntityId`, or 201 with the record for `Prefer: return=representation`.
pub(crate) fn create(ctx: &mut Ctx<'_>, set: &str, request: &ApiRequest) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    check_privilege(ctx, &spec.logical_name, Access::Create)?;
    let options = QueryOptions::parse(request.query.as_deref(), true)?;
    let body = body::parse_object(&request.body, &spec.logical_name)?;
    let mut changes = changes(ctx, &spec, body)?;
    let id = match changes.remove(&spec.primary_id) {
        None | Some(Value::Null) => Uuid::new_v4(),
        Some(Value::String(text)) => Uuid::parse_str(&text).map_err(|_| {
            ODataError::bad_payload(
                &spec.logical_name,
                format!("the primary id '{}' is `{text}`, not a GUID", spec.primary_id),
            )
        })?,
        Some(other) => {
            return Err(ODataError::bad_payload(
                &spec.logical_name,
                format!("the primary id must be a GUID, not `{other}`"),
            ));
        }
    };
    if table(ctx, set)?.position(id).is_some() {
        return Err(ODataError::duplicate_key(std::slice::from_ref(&spec.primary_id)));
    }
    insert_new(ctx, set, &spec, id, changes)?;
    created_reply(ctx, set, &spec, id, options.select.as_ref(), request, 201)
}

fn created_reply(
    ctx: &Ctx<'_>,
    set: &str,
    spec: &EntitySetSpec,
    id: Uuid,
    select: Option<&Vec<String>>,
    request: &ApiRequest,
    status: u16,
) -> Result<Reply> {
    let entity_id = entity_id_url(ctx, set, id);
    if request.preferences().return_representation {
        let table = table(ctx, set)?;
        let row = table
            .position(id)
            .map(|at| &table.rows[at])
            .ok_or_else(|| ODataError::record_not_found(&spec.logical_name, id))?;
        return Ok(representation(ctx, set, spec, row, select, request, status)
            .header("OData-EntityId", entity_id)
            .header("Preference-Applied", "return=representation"));
    }
    Ok(Reply::empty(204).header("OData-EntityId", entity_id))
}

/// Inserts a new row made of `changes`, with the system columns, after the key checks.
fn insert_new(
    ctx: &mut Ctx<'_>,
    set: &str,
    spec: &EntitySetSpec,
    id: Uuid,
    mut fields: Map<String, Value>,
) -> Result<()> {
    let now = now();
    fields.insert(spec.primary_id.clone(), Value::String(id.to_string()));
    fields.entry("createdon").or_insert_with(|| Value::String(now.clone()));
    fields.insert("modifiedon".to_owned(), Value::String(now));
    let version = ctx.state.store.next_version();
    fields.insert("versionnumber".to_owned(), Value::from(version));
    let row = Row { id, version, fields };
    check_unique_keys(table(ctx, set)?, &row)?;
    if let Some(table) = ctx.state.store.table_mut(set) {
        table.push(row);
    }
    ctx.state.counters.created += 1;
    Ok(())
}

/// Refuses a row whose alternate key values another row already has.
fn check_unique_keys(table: &Table, row: &Row) -> Result<()> {
    for key in &table.spec.alternate_keys {
        let values: Vec<(String, Value)> = key.iter().map(|column| (column.clone(), row.get(column).clone())).collect();
        if values.iter().any(|(_, value)| value.is_null()) {
            continue;
        }
        let taken = table.rows.iter().any(|other| {
            other.id != row.id && values.iter().all(|(column, value)| compare::equal(other.get(column), value))
        });
        if taken {
            return Err(ODataError::duplicate_key(key));
        }
    }
    Ok(())
}

/// `PATCH <set>(<key>)`: update (`If-Match: *` or an ETag), create only (`If-None-Match: *`), or upsert.
pub(crate) fn write(ctx: &mut Ctx<'_>, set: &str, key: &Key, request: &ApiRequest) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    let options = QueryOptions::parse(request.query.as_deref(), true)?;
    let position = table(ctx, set)?.find(key)?;
    let if_match = request.header("if-match");
    let if_none_match = request.header("if-none-match").filter(|value| *value != "null");
    match (position, if_match) {
        (None, Some(_)) => return Err(not_found(&spec, key)),
        (Some(at), Some(etag)) if etag != "*" && etag != table(ctx, set)?.rows[at].etag() => {
            return Err(ODataError::etag_mismatch());
        }
        _ => {}
    }
    if position.is_some() && if_none_match == Some("*") {
        return Err(ODataError::already_exists());
    }
    let body = body::parse_object(&request.body, &spec.logical_name)?;
    let mut changes = changes(ctx, &spec, body)?;
    match position {
        Some(at) => {
            check_privilege(ctx, &spec.logical_name, Access::Write)?;
            let current = table(ctx, set)?.rows[at].clone();
            if let Some(id) = changes.remove(&spec.primary_id)
                && id.as_str().and_then(|text| Uuid::parse_str(text).ok()) != Some(current.id)
            {
                return Err(ODataError::bad_payload(&spec.logical_name, "the primary id of a record cannot change"));
            }
            let mut row = current;
            row.fields.extend(changes);
            row.version = ctx.state.store.next_version();
            row.fields.insert("versionnumber".to_owned(), Value::from(row.version));
            row.fields.insert("modifiedon".to_owned(), Value::String(now()));
            check_unique_keys(table(ctx, set)?, &row)?;
            let id = row.id;
            if let Some(table) = ctx.state.store.table_mut(set) {
                table.rows[at] = row;
            }
            ctx.state.counters.updated += 1;
            let reply = created_reply(ctx, set, &spec, id, options.select.as_ref(), request, 200)?;
            Ok(reply)
        }
        None => {
            check_privilege(ctx, &spec.logical_name, Access::Create)?;
            let id = match key {
                Key::Id(id) => *id,
                Key::Alternate(parts) => {
                    for (column, value) in parts {
                        changes.insert(column.clone(), value.clone());
                    }
                    Uuid::new_v4()
                }
            };
            changes.remove(&spec.primary_id);
            insert_new(ctx, set, &spec, id, changes)?;
            created_reply(ctx, set, &spec, id, options.select.as_ref(), request, 201)
        }
    }
}

/// `DELETE <set>(<key>)`, honouring `If-Match: <etag>`.
pub(crate) fn delete(ctx: &mut Ctx<'_>, set: &str, key: &Key, request: &ApiRequest) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    let at = table(ctx, set)?.find(key)?.ok_or_else(|| not_found(&spec, key))?;
    if let Some(etag) = request.header("if-match")
        && etag != "*"
        && etag != table(ctx, set)?.rows[at].etag()
    {
        return Err(ODataError::etag_mismatch());
    }
    check_privilege(ctx, &spec.logical_name, Access::Delete)?;
    ctx.state.store.delete_row(set, at);
    ctx.state.counters.deleted += 1;
    Ok(Reply::empty(204))
}

/// `GET <set>(<key>)/<column>` (`{"value": …}`) or `…/<column>/$value` (the raw text).
pub(crate) fn get_property(ctx: &mut Ctx<'_>, set: &str, key: &Key, property: &str, raw: bool) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    check_privilege(ctx, &spec.logical_name, Access::Read)?;
    check_column(property).map_err(|_| ODataError::segment_not_found(property))?;
    let table = table(ctx, set)?;
    let row = table.find(key)?.map(|at| &table.rows[at]).ok_or_else(|| not_found(&spec, key))?;
    let value = row.get(property).clone();
    if raw {
        return Ok(match value {
            Value::Null => Reply::empty(204),
            Value::String(text) => Reply::empty(200).with_body(text.into_bytes(), "text/plain"),
            other => Reply::empty(200).with_body(other.to_string().into_bytes(), "text/plain"),
        });
    }
    let context = format!("{}$metadata#{set}({})/{property}", ctx.service_root(), row.id);
    Ok(Reply::json(200, &json!({"@odata.context": context, "value": value})))
}

/// Applies `change` to the row a key addresses, as an update (new version, `modifiedon`).
fn update_row(ctx: &mut Ctx<'_>, set: &str, key: &Key, change: impl FnOnce(&mut Row)) -> Result<()> {
    let spec = spec(ctx, set)?;
    let at = table(ctx, set)?.find(key)?.ok_or_else(|| not_found(&spec, key))?;
    check_privilege(ctx, &spec.logical_name, Access::Write)?;
    let version = ctx.state.store.next_version();
    if let Some(table) = ctx.state.store.table_mut(set) {
        let row = &mut table.rows[at];
        change(row);
        row.version = version;
        row.fields.insert("versionnumber".to_owned(), Value::from(version));
        row.fields.insert("modifiedon".to_owned(), Value::String(now()));
    }
    ctx.state.counters.updated += 1;
    Ok(())
}

/// `PUT <set>(<key>)/<column>` with `{"value": …}`.
pub(crate) fn put_property(
    ctx: &mut Ctx<'_>,
    set: &str,
    key: &Key,
    property: &str,
    request: &ApiRequest,
) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    let mut body = body::parse_object(&request.body, &spec.logical_name)?;
    let value = body
        .remove("value")
        .ok_or_else(|| ODataError::bad_payload(&spec.logical_name, "the body must be {\"value\": …}"))?;
    let mut single = Map::new();
    single.insert(property.to_owned(), value);
    let changes = changes(ctx, &spec, single)?;
    update_row(ctx, set, key, |row| row.fields.extend(changes))?;
    Ok(Reply::empty(204))
}

/// `DELETE <set>(<key>)/<column>`: sets the column to null.
pub(crate) fn delete_property(ctx: &mut Ctx<'_>, set: &str, key: &Key, property: &str) -> Result<Reply> {
    check_column(property).map_err(|_| ODataError::segment_not_found(property))?;
    let property = property.to_owned();
    update_row(ctx, set, key, |row| {
        row.fields.insert(property, Value::Null);
    })?;
    Ok(Reply::empty(204))
}

/// `PUT <set>(<key>)/<navigation>/$ref` with `{"@odata.id": "<record URL>"}`: sets a lookup.
pub(crate) fn put_reference(
    ctx: &mut Ctx<'_>,
    set: &str,
    key: &Key,
    navigation: &str,
    request: &ApiRequest,
) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    let body = body::parse_object(&request.body, &spec.logical_name)?;
    let reference = body.get("@odata.id").and_then(Value::as_str).ok_or_else(|| {
        ODataError::bad_payload(&spec.logical_name, "the body must be {\"@odata.id\": \"<record URL>\"}")
    })?;
    let (target_logical, id) = ctx.state.store.resolve_reference(reference)?;
    update_row(ctx, set, key, |row| body::set_lookup(&mut row.fields, navigation, &target_logical, Some(id)))?;
    Ok(Reply::empty(204))
}

/// `DELETE <set>(<key>)/<navigation>/$ref`: clears a lookup.
pub(crate) fn delete_reference(ctx: &mut Ctx<'_>, set: &str, key: &Key, navigation: &str) -> Result<Reply> {
    let spec = spec(ctx, set)?;
    let table = table(ctx, set)?;
    let row = table.find(key)?.map(|at| &table.rows[at]).ok_or_else(|| not_found(&spec, key))?;
    let marker = body::ASSOCIATED_NAVIGATION_PROPERTY;
    // The column whose annotation names this navigation property, else the one its name implies
    // for any known table (`parentcustomerid_account` is `_parentcustomerid_value`).
    let column = row
        .fields
        .iter()
        .find(|(name, value)| name.ends_with(marker) && value.as_str() == Some(navigation))
        .map(|(name, _)| name[..name.len() - marker.len()].to_owned())
        .unwrap_or_else(|| {
            let attribute = ctx
                .state
                .store
                .logical_names()
                .map(|logical| body::lookup_attribute(navigation, Some(logical)))
                .min_by_key(String::len)
                .unwrap_or_else(|| body::lookup_attribute(navigation, None));
            format!("_{attribute}_value")
        });
    update_row(ctx, set, key, |row| {
        row.fields.insert(column, Value::Null);
    })?;
    Ok(Reply::empty(204))
}

/// The relationship behind a collection-valued navigation property, or 501.
fn relationship(ctx: &Ctx<'_>, set: &str, navigation: &str) -> Result<Relationship> {
    ctx.state.store.relationship(set, navigation).cloned().ok_or_else(|| {
        ODataError::not_emulated(format!(
            "the navigation property '{navigation}' of '{set}' (no such one-to-many relationship is registered)"
        ))
    })
}

/// The id of the record a key addresses, or its 404.
fn record_id(ctx: &Ctx<'_>, set: &str, key: &Key) -> Result<Uuid> {
    let spec = spec(ctx, set)?;
    let table = table(ctx, set)?;
    table.find(key)?.map(|at| table.rows[at].id).ok_or_else(|| not_found(&spec, key))
}

/// `GET <set>(<key>)/<collection navigation>`: the related records, with the usual query options and paging.
pub(crate) fn list_related(
    ctx: &mut Ctx<'_>,
    set: &str,
    key: &Key,
    navigation: &str,
    request: &ApiRequest,
) -> Result<Reply> {
    let relationship = relationship(ctx, set, navigation)?;
    let id = record_id(ctx, set, key)?;
    let related = spec(ctx, &relationship.referencing_set)?;
    check_privilege(ctx, &related.logical_name, Access::Read)?;
    let scope = (relationship.column(), Value::String(id.to_string()));
    collection(ctx, &relationship.referencing_set, request, Some(scope), &request.path)
}

/// `POST <set>(<key>)/<collection navigation>/$ref` with `{"@odata.id": "<related record URL>"}`:
/// points the related record's lookup at this record.
pub(crate) fn associate(
    ctx: &mut Ctx<'_>,
    set: &str,
    key: &Key,
    navigation: &str,
    request: &ApiRequest,
) -> Result<Reply> {
    let relationship = relationship(ctx, set, navigation)?;
    let id = record_id(ctx, set, key)?;
    let referenced = spec(ctx, set)?;
    let referencing = spec(ctx, &relationship.referencing_set)?;
    let body = body::parse_object(&request.body, &referencing.logical_name)?;
    let reference = body.get("@odata.id").and_then(Value::as_str).ok_or_else(|| {
        ODataError::bad_payload(&referencing.logical_name, "the body must be {\"@odata.id\": \"<record URL>\"}")
    })?;
    let (logical, related) = ctx.state.store.resolve_reference(reference)?;
    if logical != referencing.logical_name {
        return Err(ODataError::bad_query(format!(
            "'{navigation}' relates {} records, not {logical} records.",
            referencing.logical_name
        )));
    }
    let column = relationship.column();
    update_row(ctx, &relationship.referencing_set, &Key::Id(related), |row| {
        row.fields.insert(column.clone(), Value::String(id.to_string()));
        row.fields
            .insert(format!("{column}{}", body::LOOKUP_LOGICAL_NAME), Value::String(referenced.logical_name.clone()));
    })?;
    Ok(Reply::empty(204))
}

/// `DELETE <set>(<key>)/<collection navigation>(<related key>)/$ref` (or `…/$ref?$id=<related record URL>`):
/// clears the related record's lookup.
pub(crate) fn disassociate(
    ctx: &mut Ctx<'_>,
    set: &str,
    key: &Key,
    navigation: &str,
    related: Option<&Key>,
    request: &ApiRequest,
) -> Result<Reply> {
    let relationship = relationship(ctx, set, navigation)?;
    let id = record_id(ctx, set, key)?;
    let related_id = match related {
        Some(related) => record_id(ctx, &relationship.referencing_set, related)?,
        None => {
            let reference = pairs(request.query.as_deref().unwrap_or_default())
                .into_iter()
                .find(|(name, _)| name == "$id")
                .map(|(_, value)| value)
                .ok_or_else(|| {
                    ODataError::bad_query(format!(
                        "Name the record to disassociate: {navigation}(<id>)/$ref or $ref?$id=<record URL>."
                    ))
                })?;
            ctx.state.store.resolve_reference(&reference)?.1
        }
    };
    let column = relationship.column();
    let table = table(ctx, &relationship.referencing_set)?;
    let linked = table
        .position(related_id)
        .is_some_and(|at| table.rows[at].get(&column).as_str() == Some(id.to_string().as_str()));
    if !linked {
        return Err(ODataError::new(
            404,
            "0x80040217",
            format!("The record {related_id} is not related to {id} through '{navigation}'."),
        ));
    }
    update_row(ctx, &relationship.referencing_set, &Key::Id(related_id), |row| {
        row.fields.insert(column, Value::Null);
    })?;
    Ok(Reply::empty(204))
}
