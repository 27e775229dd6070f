//! The bulk operation messages, bound to an entity set: `CreateMultiple`, `UpdateMultiple`, `UpsertMultiple`
//! and `DeleteMultiple` (`POST <set>/Microsoft.Dynamics.CRM.<action>` with `{"Targets":[…]}`).
//!
//! Each target is run as the single request it stands for (`POST <set>`, `PATCH <set>(<key>)` with
//! `If-Match: *`, `PATCH <set>(<key>)`, `DELETE <set>(<key>)`), so keys, lookups, privileges and errors are
//! those of the record handlers. On a standard table the request is one transaction: the first failing
//! target rolls every other back and its error is the answer. On an elastic table each target stands alone
//! and a failure answers the per-record statuses (`Plugin.BulkApiErrorDetails`).
//!
//! Answers, as the Web API reference documents them: `CreateMultiple` `200` with
//! `{"@odata.context":"…#Microsoft.Dynamics.CRM.CreateMultipleResponse","Ids":[…]}`; `UpdateMultiple` and
//! `UpsertMultiple` `204` ("The `UpsertMultipleResponse` complex type is not returned"); `DeleteMultiple`
//! `204` on elastic tables and, on standard tables, the documented "DeleteMultiple has not yet been implemented."

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Ctx;
use super::records;
use crate::EntitySetSpec;
use crate::reply::Reply;
use crate::webapi::odata::body;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::request::ApiRequest;
use crate::webapi::odata::target::{self, Key, Target};

type Result<T> = std::result::Result<T, ODataError>;

/// The annotation that carries each record's status in a failed elastic-table bulk request.
const ERROR_DETAILS: &str = "@Microsoft.PowerApps.CDS.ErrorDetails.Plugin.BulkApiErrorDetails";

/// Which bulk message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Update,
    Upsert,
    Delete,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "CreateMultiple",
            Self::Update => "UpdateMultiple",
            Self::Upsert => "UpsertMultiple",
            Self::Delete => "DeleteMultiple",
        }
    }
}

/// `POST <set>/Microsoft.Dynamics.CRM.CreateMultiple`.
pub(crate) fn create_multiple(
    ctx: &mut Ctx<'_>,
    request: &ApiRequest,
    bound_to: Option<&str>,
    parameters: &str,
) -> Result<Reply> {
    run(ctx, request, bound_to, parameters, Action::Create)
}

/// `POST <set>/Microsoft.Dynamics.CRM.UpdateMultiple`.
pub(crate) fn update_multiple(
    ctx: &mut Ctx<'_>,
    request: &ApiRequest,
    bound_to: Option<&str>,
    parameters: &str,
) -> Result<Reply> {
    run(ctx, request, bound_to, parameters, Action::Update)
}

/// `POST <set>/Microsoft.Dynamics.CRM.UpsertMultiple`.
pub(crate) fn upsert_multiple(
    ctx: &mut Ctx<'_>,
    request: &ApiRequest,
    bound_to: Option<&str>,
    parameters: &str,
) -> Result<Reply> {
    run(ctx, request, bound_to, parameters, Action::Upsert)
}

/// `POST <set>/Microsoft.Dynamics.CRM.DeleteMultiple`.
pub(crate) fn delete_multiple(
    ctx: &mut Ctx<'_>,
    request: &ApiRequest,
    bound_to: Option<&str>,
    parameters: &str,
) -> Result<Reply> {
    run(ctx, request, bound_to, parameters, Action::Delete)
}

/// `400 0x80040216`: the payload is over the limit (Dataverse's message, with the size in MB).
pub(crate) fn message_size_exceeded(bytes: usize) -> ODataError {
    let megabytes = bytes.div_ceil(1024 * 1024);
    ODataError::new(
        400,
        "0x80040216",
        format!("Message size exceeded when sending context to Sandbox. Message size: {megabytes} Mb"),
    )
}

fn run(
    ctx: &mut Ctx<'_>,
    request: &ApiRequest,
    bound_to: Option<&str>,
    parameters: &str,
    action: Action,
) -> Result<Reply> {
    let set = bound_to.ok_or_else(|| ODataError::segment_not_found(action.name()))?;
    if !parameters.is_empty() {
        return Err(ODataError::bad_query(format!(
            "{} takes its records in the body ({{\"Targets\":[…]}}), not in the URL.",
            action.name()
        )));
    }
    let spec =
        ctx.state.store.table(set).map(|table| table.spec.clone()).ok_or_else(|| ODataError::segment_not_found(set))?;
    if ctx.config.max_bulk_bytes.is_some_and(|max| request.body.len() > max) {
        return Err(message_size_exceeded(request.body.len()));
    }
    let mut body = body::parse_object(&request.body, &spec.logical_name)?;
    let Some(Value::Array(targets)) = body.remove("Targets") else {
        return Err(ODataError::bad_payload(
            &spec.logical_name,
            format!("the body of {} must be {{\"Targets\": [<record>, …]}}", action.name()),
        ));
    };
    if targets.is_empty() {
        return Err(ODataError::bad_payload(&spec.logical_name, "\"Targets\" must hold at least one record"));
    }
    if ctx.config.max_bulk_targets.is_some_and(|max| targets.len() > max) {
        return Err(message_size_exceeded(request.body.len()));
    }
    if action == Action::Delete && !spec.elastic {
        return Err(ODataError::new(400, "0x80040216", "DeleteMultiple has not yet been implemented."));
    }
    if spec.elastic {
        return Ok(run_elastic(ctx, request, set, &spec, action, targets));
    }
    let saved_store = ctx.state.store.clone();
    let saved_counters = ctx.state.counters;
    let mut ids = Vec::with_capacity(targets.len());
    for target in targets {
        match apply(ctx, set, &spec, action, target) {
            Ok(id) => ids.push(id),
            Err(error) => {
                ctx.state.store = saved_store;
                ctx.state.counters = saved_counters;
                return Err(error);
            }
        }
    }
    Ok(answer(ctx, action, &ids))
}

/// The success answer.
fn answer(ctx: &Ctx<'_>, action: Action, ids: &[Uuid]) -> Reply {
    match action {
        Action::Create => Reply::json(
            200,
            &json!({
                "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", ctx.service_root()),
                "Ids": ids,
            }),
        ),
        Action::Update | Action::Upsert | Action::Delete => Reply::empty(204),
    }
}

/// An elastic table: every target on its own; a failure answers each record's status.
fn run_elastic(
    ctx: &mut Ctx<'_>,
    request: &ApiRequest,
    set: &str,
    spec: &EntitySetSpec,
    action: Action,
    targets: Vec<Value>,
) -> Reply {
    let mut ids = Vec::with_capacity(targets.len());
    let mut statuses = Vec::with_capacity(targets.len());
    let mut first_error = None;
    for (index, target) in targets.into_iter().enumerate() {
        let known_id = known_id(ctx, set, spec, &target);
        match apply(ctx, set, spec, action, target) {
            Ok(id) => {
                ids.push(id);
                statuses.push(json!({"RequestIndex": index, "Id": id, "StatusCode": 200}));
            }
            Err(error) => {
                let mut status = json!({"RequestIndex": index, "StatusCode": error.status});
                if let Some(id) = known_id {
                    status["Id"] = Value::String(id.to_string());
                }
                statuses.push(status);
                first_error.get_or_insert(error);
            }
        }
    }
    let Some(error) = first_error else {
        return answer(ctx, action, &ids);
    };
    let mut body = error.body();
    if wants_error_details(request) {
        body["error"][ERROR_DETAILS] = Value::String(Value::Array(statuses).to_string());
    }
    Reply::json(error.status, &body)
}

/// Whether the request prefers the `Microsoft.PowerApps.CDS.ErrorDetails` annotations.
fn wants_error_details(request: &ApiRequest) -> bool {
    request.preferences().annotations.as_deref().is_some_and(|list| {
        list.split(',')
            .map(str::trim)
            .any(|term| term == "*" || term == "Microsoft.PowerApps.CDS.ErrorDetails.*" || term == &ERROR_DETAILS[1..])
    })
}

/// The id of the record a target addresses, when it can be told before running it.
fn known_id(ctx: &Ctx<'_>, set: &str, spec: &EntitySetSpec, target: &Value) -> Option<Uuid> {
    let object = target.as_object()?;
    if let Some(id) = object.get(&spec.primary_id).and_then(Value::as_str).and_then(|id| Uuid::parse_str(id).ok()) {
        return Some(id);
    }
    let key =
        object.get("@odata.id").and_then(Value::as_str).and_then(|reference| record_key(ctx, set, reference).ok())?;
    let table = ctx.state.store.table(set)?;
    table.find(&key).ok().flatten().map(|at| table.rows[at].id)
}

/// Runs one target as its single request; returns the record's id.
fn apply(ctx: &mut Ctx<'_>, set: &str, spec: &EntitySetSpec, action: Action, target: Value) -> Result<Uuid> {
    let Value::Object(mut object) = target else {
        return Err(ODataError::bad_payload(
            &spec.logical_name,
            format!("every item of \"Targets\" must be a record (a JSON object), not `{target}`"),
        ));
    };
    check_type(spec, &object)?;
    object.remove("@odata.type");
    let reference = object.remove("@odata.id");
    let single = |method: &str, path: String, headers: Vec<(String, String)>, body: Map<String, Value>| ApiRequest {
        method: method.to_owned(),
        path,
        query: None,
        headers,
        body: Value::Object(body).to_string().into_bytes(),
    };
    if action == Action::Create {
        let reply = records::create(ctx, set, &single("POST", set.to_owned(), Vec::new(), object))?;
        return entity_id(&reply).ok_or_else(|| ODataError::record_not_found(&spec.logical_name, "(new)"));
    }
    let key = match (&reference, object.get(&spec.primary_id)) {
        (Some(Value::String(reference)), _) => record_key(ctx, set, reference)?,
        (Some(other), _) => {
            return Err(ODataError::bad_payload(
                &spec.logical_name,
                format!("`@odata.id` must be a record URL such as \"{set}(<key>)\", not `{other}`"),
            ));
        }
        (None, Some(Value::String(id))) => Key::Id(Uuid::parse_str(id).map_err(|_| {
            ODataError::bad_payload(
                &spec.logical_name,
                format!("the primary id '{}' is `{id}`, not a GUID", spec.primary_id),
            )
        })?),
        (None, _) => {
            return Err(ODataError::bad_payload(
                &spec.logical_name,
                format!(
                    "each target of {} must name its record: the primary id '{}' or an alternate key in `@odata.id`",
                    action.name(),
                    spec.primary_id
                ),
            ));
        }
    };
    // The record handlers read the key, method, headers and body; the path is the set's.
    let path = set.to_owned();
    match action {
        Action::Update => {
            let headers = vec![("if-match".to_owned(), "*".to_owned())];
            let reply = records::write(ctx, set, &key, &single("PATCH", path, headers, object))?;
            entity_id(&reply).ok_or_else(|| ODataError::key_not_found(&spec.logical_name))
        }
        Action::Upsert => {
            let reply = records::write(ctx, set, &key, &single("PATCH", path, Vec::new(), object))?;
            entity_id(&reply).ok_or_else(|| ODataError::key_not_found(&spec.logical_name))
        }
        // (`Create` was answered above.)
        Action::Delete | Action::Create => {
            let id = {
                let table = ctx.state.store.table(set).ok_or_else(|| ODataError::segment_not_found(set))?;
                table.find(&key)?.map(|at| table.rows[at].id)
            };
            records::delete(ctx, set, &key, &single("DELETE", path, Vec::new(), Map::new()))?;
            id.ok_or_else(|| ODataError::key_not_found(&spec.logical_name))
        }
    }
}

/// Every target must be typed as a record of the table (`"@odata.type": "Microsoft.Dynamics.CRM.account"`).
fn check_type(spec: &EntitySetSpec, object: &Map<String, Value>) -> Result<()> {
    let expected = format!("Microsoft.Dynamics.CRM.{}", spec.logical_name);
    match object.get("@odata.type").and_then(Value::as_str) {
        Some(given) if given.trim_start_matches('#') == expected => Ok(()),
        Some(given) => Err(ODataError::bad_payload(
            &spec.logical_name,
            format!("a target's @odata.type is '{given}', but the records of this table are '{expected}'"),
        )),
        None => Err(ODataError::bad_payload(
            &spec.logical_name,
            format!("every target must have the @odata.type annotation (\"@odata.type\": \"{expected}\")"),
        )),
    }
}

/// The key in `@odata.id`: a relative (`accounts(accountnumber='A-1')`) or absolute record URL of this set.
fn record_key(ctx: &Ctx<'_>, set: &str, reference: &str) -> Result<Key> {
    let path = match reference.find("/api/data/v") {
        Some(at) => reference[at + "/api/data/v".len()..].split_once('/').map_or("", |(_, below)| below),
        None => reference.trim_start_matches('/'),
    };
    match target::parse(path, |name| ctx.state.store.table(name).is_some(), |_| false) {
        Ok(Target::Record { set: named, key }) if named == set => Ok(key),
        _ => Err(ODataError::bad_payload(
            set,
            format!(
                "`@odata.id` is `{reference}`, which is not the URL of a record of '{set}' such as \"{set}(<key>)\""
            ),
        )),
    }
}

/// The id in a reply's `OData-EntityId` (`…/accounts(<id>)`).
fn entity_id(reply: &Reply) -> Option<Uuid> {
    let url = reply.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("OData-EntityId"))?.1.as_str();
    let inside = url.rsplit_once('(')?.1.strip_suffix(')')?;
    Uuid::parse_str(inside).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_of_an_entity_id_header_and_sizes_in_megabytes() {
        let id = Uuid::new_v4();
        let reply = Reply::empty(204).header("OData-EntityId", format!("http://x/api/data/v9.2/accounts({id})"));
        assert_eq!(entity_id(&reply), Some(id));
        assert_eq!(entity_id(&Reply::empty(204)), None);
        assert!(message_size_exceeded(117 * 1024 * 1024).message.ends_with("Message size: 117 Mb"));
        assert_eq!(message_size_exceeded(10).code, "0x80040216");
    }
}
