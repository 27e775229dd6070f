//! The emulated Dataverse Web API under `/api/data/v9.2/` (any `v9.x` is accepted).
//!
//! A request goes through, in order: the bearer check (401 with the `WWW-Authenticate` challenge),
//! the injected faults (401 once, 429, 503), the application user's setup (403), and then the handler
//! for its URL shape ([`Target`]): the service document, `$metadata`, `$batch`, a collection,
//! a record, a column, a reference, a table definition, or an operation from [`handlers::operations`]
//! (`WhoAmI` and the bulk actions of [`handlers::bulk`]). Collection reads with change tracking go to
//! [`handlers::change_tracking`]; file and image columns (upload sessions, ranged downloads) to [`handlers::file_column`].
//! New URL shapes are added as a `Target` variant or an operation, each in its own module.
//!
//! Imports run downward: [`odata`] (parsing, errors) at the bottom, then [`store`] (the state),
//! then [`handlers`], then this dispatcher (and [`auth`]) on top.

mod auth;
pub(crate) mod handlers;
pub(crate) mod odata;
pub(crate) mod store;

use uuid::Uuid;
use wiremock::Request;

use crate::reply::Reply;
use crate::state::{Config, State};
use handlers::{Ctx, batch, entity_definition, file_column, guard, metadata, operations, records};
use odata::error::ODataError;
use odata::request::ApiRequest;
use odata::target::{self, Target};

/// Answers one request to the org.
pub(crate) fn handle(config: &Config, state: &mut State, request: &Request) -> Reply {
    state.counters.web_api_requests += 1;
    let raw_path = request.url.path();
    let Some(below_root) = below_service_root(raw_path) else {
        return with_common_headers(state, ODataError::segment_not_found(raw_path.trim_start_matches('/')).reply());
    };
    let mut ctx = Ctx { config, state };
    if let Some(refusal) = auth::check(&mut ctx, request) {
        return with_common_headers(ctx.state, refusal);
    }
    let api_request = ApiRequest {
        method: request.method.as_str().to_owned(),
        path: below_root.to_owned(),
        query: request.url.query().map(str::to_owned),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect(),
        body: request.body.clone(),
    };
    let reply = match guard::check_user(&ctx) {
        Some(refusal) => refusal.reply(),
        None => route(&mut ctx, &api_request),
    };
    with_common_headers(ctx.state, reply)
}

/// The part of the path below `/api/data/v9.x/`, or `None` for a path outside the Web API.
fn below_service_root(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/data/v")?;
    let (version, below) = rest.split_once('/').unwrap_or((rest, ""));
    let (major, minor) = version.split_once('.')?;
    (major == "9" && !minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit() || c == '.')).then_some(below)
}

/// Dispatches an authenticated request by the shape of its URL.
pub(crate) fn route(ctx: &mut Ctx<'_>, request: &ApiRequest) -> Reply {
    let store = &ctx.state.store;
    let target = match target::parse(&request.path, |set| store.table(set).is_some(), operations::is_known) {
        Ok(target) => target,
        Err(error) => return error.reply(),
    };
    let method = request.method.as_str();
    let result = match (method, target) {
        ("GET", Target::ServiceDocument) => Ok(metadata::service_document(ctx)),
        ("GET", Target::Metadata) => Ok(metadata::csdl(ctx)),
        ("GET", Target::EntityDefinition { key }) => entity_definition::retrieve(ctx, &key, request),
        ("POST", Target::Batch) => Ok(batch::handle(ctx, request, route)),
        ("GET", Target::Collection { set }) => records::list(ctx, &set, request),
        ("POST", Target::Collection { set }) => records::create(ctx, &set, request),
        ("GET", Target::Record { set, key }) => records::retrieve(ctx, &set, &key, request),
        ("PATCH", Target::Record { set, key }) => records::write(ctx, &set, &key, request),
        ("DELETE", Target::Record { set, key }) => records::delete(ctx, &set, &key, request),
        ("PATCH", Target::Property { set, key, property, raw_value: false }) => {
            file_column::upload(ctx, &set, &key, &property, request)
        }
        ("GET", Target::Property { set, key, property, raw_value: true })
            if file_column::is_download(&ctx.state.store, &set, &property, request) =>
        {
            file_column::download(ctx, &set, &key, &property, request)
        }
        ("DELETE", Target::Property { set, key, property, raw_value: false })
            if ctx.state.store.files.is_file_column(&set, &property) =>
        {
            file_column::delete(ctx, &set, &key, &property)
        }
        ("GET", Target::Property { set, key, property, raw_value: false })
            if ctx.state.store.relationship(&set, &property).is_some() =>
        {
            records::list_related(ctx, &set, &key, &property, request)
        }
        ("GET", Target::Property { set, key, property, raw_value }) => {
            records::get_property(ctx, &set, &key, &property, raw_value)
        }
        ("PUT", Target::Property { set, key, property, raw_value: false }) => {
            records::put_property(ctx, &set, &key, &property, request)
        }
        ("DELETE", Target::Property { set, key, property, raw_value: false }) => {
            records::delete_property(ctx, &set, &key, &property)
        }
        ("PUT", Target::Reference { set, key, navigation, related: None }) => {
            records::put_reference(ctx, &set, &key, &navigation, request)
        }
        ("DELETE", Target::Reference { set, key, navigation, related: None })
            if ctx.state.store.relationship(&set, &navigation).is_none() =>
        {
            records::delete_reference(ctx, &set, &key, &navigation)
        }
        ("POST", Target::Reference { set, key, navigation, related: None }) => {
            records::associate(ctx, &set, &key, &navigation, request)
        }
        ("DELETE", Target::Reference { set, key, navigation, related }) => {
            records::disassociate(ctx, &set, &key, &navigation, related.as_ref(), request)
        }
        (_, Target::Operation { bound_to, name, parameters }) => {
            operations::call(ctx, request, bound_to.as_deref(), &name, &parameters)
        }
        (method, target) => Err(ODataError::method_not_allowed(method, &describe(&target))),
    };
    result.unwrap_or_else(|error| error.reply())
}

fn describe(target: &Target) -> String {
    match target {
        Target::ServiceDocument => "the service document".to_owned(),
        Target::Metadata => "$metadata".to_owned(),
        Target::Batch => "$batch".to_owned(),
        Target::EntityDefinition { .. } => "a table definition".to_owned(),
        Target::Collection { set } => format!("the entity set '{set}'"),
        Target::Record { set, .. } => format!("a record of '{set}'"),
        Target::Property { property, .. } => format!("the property '{property}'"),
        Target::Reference { navigation, .. } => format!("the reference '{navigation}/$ref'"),
        Target::Operation { name, .. } => format!("the operation '{name}'"),
    }
}

/// The headers Dataverse puts on every answer.
fn with_common_headers(state: &State, mut reply: Reply) -> Reply {
    let request_id = Uuid::new_v4().to_string();
    if !reply.has_header("odata-version") {
        reply = reply.header("OData-Version", "4.0");
    }
    let remaining = 6000 - (state.counters.web_api_requests % 6000);
    reply
        .header("x-ms-service-request-id", request_id.clone())
        .header("REQ_ID", request_id)
        .header("x-ms-dop-hint", "4")
        .header("x-ms-ratelimit-burst-remaining-xrm-requests", remaining.to_string())
        .header("x-ms-ratelimit-time-remaining-xrm-requests", "1200000.00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_path_below_the_service_root() {
        assert_eq!(below_service_root("/api/data/v9.2/accounts"), Some("accounts"));
        assert_eq!(below_service_root("/api/data/v9.2/"), Some(""));
        assert_eq!(below_service_root("/api/data/v9.2"), Some(""));
        assert_eq!(below_service_root("/api/data/v9.0/WhoAmI"), Some("WhoAmI"));
        assert_eq!(below_service_root("/api/data/v8.2/accounts"), None);
        assert_eq!(below_service_root("/XRMServices/2011/Organization.svc"), None);
    }
}
