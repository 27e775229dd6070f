//! `POST $batch`: the operations and change sets of a batch, answered part by part.
//!
//! As Dataverse does: a change set is atomic (any failure rolls all of it back and answers with that one
//! error for the whole change set); `Content-ID` values let later operations of a change set refer to
//! what earlier ones created (`$1` in a URL or in an `@odata.bind`); without `Prefer: odata.continue-on-error`
//! the batch stops at the first failure (and answers `400`), with it every item runs.
//! Each operation is answered by the dispatcher that the caller hands in, as a request from the wire would be.

use serde_json::Value;
use uuid::Uuid;

use super::Ctx;
use crate::reply::Reply;
use crate::webapi::odata::batch::{Item, PartRequest, parse_batch, write_part};
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::request::ApiRequest;

/// What answers one operation of the batch: the dispatcher of every request.
pub(crate) type Route = fn(&mut Ctx<'_>, &ApiRequest) -> Reply;

/// `POST $batch`.
pub(crate) fn handle(ctx: &mut Ctx<'_>, request: &ApiRequest, route: Route) -> Reply {
    let items = match parse_batch(request) {
        Ok(items) => items,
        Err(message) => return ODataError::bad_query(format!("The batch request is malformed: {message}")).reply(),
    };
    let continue_on_error = request.preferences().continue_on_error;
    let boundary = format!("batchresponse_{}", Uuid::new_v4());
    let mut out = Vec::new();
    let mut stopped = false;
    for item in items {
        let failed = match item {
            Item::Operation(part) => {
                let reply = execute(ctx, route, &part, &[]);
                let failed = reply.status >= 400;
                write_part(&mut out, &boundary, part.content_id.as_deref(), &reply);
                failed
            }
            Item::ChangeSet(parts) => change_set(ctx, route, &mut out, &boundary, &parts),
        };
        if failed && !continue_on_error {
            stopped = true;
            break;
        }
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let status = if stopped { 400 } else { 200 };
    let reply = Reply::empty(status).with_body(out, &format!("multipart/mixed; boundary={boundary}"));
    if continue_on_error { reply.header("Preference-Applied", "odata.continue-on-error") } else { reply }
}

/// Runs a change set atomically; true when it failed (and was rolled back).
fn change_set(ctx: &mut Ctx<'_>, route: Route, out: &mut Vec<u8>, boundary: &str, parts: &[PartRequest]) -> bool {
    let saved_store = ctx.state.store.clone();
    let saved_counters = ctx.state.counters;
    let mut references: Vec<(String, String)> = Vec::new();
    let mut replies = Vec::new();
    for part in parts {
        let reply = execute(ctx, route, part, &references);
        if reply.status >= 400 {
            ctx.state.store = saved_store;
            let batch_operations = ctx.state.counters.batch_operations;
            ctx.state.counters = saved_counters;
            ctx.state.counters.batch_operations = batch_operations;
            write_part(out, boundary, part.content_id.as_deref(), &reply);
            return true;
        }
        if let (Some(id), Some(entity)) = (&part.content_id, header(&reply, "OData-EntityId")) {
            let below_root =
                entity.find("/api/data/v").and_then(|at| entity[at + 11..].split_once('/')).map(|(_, rest)| rest);
            if let Some(path) = below_root {
                references.push((id.clone(), path.to_owned()));
            }
        }
        replies.push((part.content_id.clone(), reply));
    }
    let change_boundary = format!("changesetresponse_{}", Uuid::new_v4());
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: multipart/mixed; boundary={change_boundary}\r\n\r\n").as_bytes(),
    );
    for (content_id, reply) in &replies {
        write_part(out, &change_boundary, content_id.as_deref(), reply);
    }
    out.extend_from_slice(format!("--{change_boundary}--\r\n").as_bytes());
    false
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// Runs one operation, resolving `$n` references of its change set.
fn execute(ctx: &mut Ctx<'_>, route: Route, part: &PartRequest, references: &[(String, String)]) -> Reply {
    ctx.state.counters.batch_operations += 1;
    let url = resolve_url(&part.url, references);
    let Some(below_root) = below_service_root(&url) else {
        return ODataError::bad_query(format!(
            "The URL `{}` of a batch operation is not in this org's Web API.",
            part.url
        ))
        .reply();
    };
    let (path, query) = match below_root.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (below_root, None),
    };
    let body = if references.is_empty() { part.body.clone() } else { resolve_body(&part.body, references) };
    let request = ApiRequest { method: part.method.clone(), path, query, headers: part.headers.clone(), body };
    route(ctx, &request)
}

/// `$1/name` becomes `accounts(<id>)/name` when Content-ID 1 created that account.
fn resolve_url(url: &str, references: &[(String, String)]) -> String {
    if let Some(rest) = url.strip_prefix('$') {
        let (id, tail) = rest.split_once('/').map_or((rest, ""), |(id, tail)| (id, tail));
        if let Some((_, path)) = references.iter().find(|(known, _)| known == id) {
            return if tail.is_empty() { path.clone() } else { format!("{path}/{tail}") };
        }
    }
    url.to_owned()
}

/// `"x@odata.bind": "$1"` becomes `"/accounts(<id>)"`.
fn resolve_body(body: &[u8], references: &[(String, String)]) -> Vec<u8> {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    for (name, value) in map.iter_mut() {
        if (name.ends_with("@odata.bind") || name == "@odata.id")
            && let Value::String(text) = value
            && text.starts_with('$')
        {
            *text = format!("/{}", resolve_url(text, references));
        }
    }
    Value::Object(map).to_string().into_bytes()
}

/// The part of an operation URL below the service root: absolute, rooted or relative.
fn below_service_root(url: &str) -> Option<String> {
    if let Some(at) = url.find("/api/data/v") {
        let rest = &url[at + "/api/data/v".len()..];
        return Some(rest.split_once('/').map_or(String::new(), |(_, below)| below.to_owned()));
    }
    if url.contains("://") || url.starts_with('/') {
        return None;
    }
    Some(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_content_id_references() {
        let references = vec![("1".to_owned(), "accounts(a0000001-0000-4000-8000-000000000001)".to_owned())];
        assert_eq!(resolve_url("$1/name", &references), "accounts(a0000001-0000-4000-8000-000000000001)/name");
        assert_eq!(resolve_url("$2", &references), "$2");
        let body = resolve_body(br#"{"parentcustomerid_account@odata.bind":"$1"}"#, &references);
        assert!(String::from_utf8(body).unwrap().contains("\"/accounts(a0000001"));
        assert_eq!(
            below_service_root("http://127.0.0.1:1/api/data/v9.2/accounts?$top=1").as_deref(),
            Some("accounts?$top=1")
        );
        assert_eq!(below_service_root("/other/path"), None);
    }
}
