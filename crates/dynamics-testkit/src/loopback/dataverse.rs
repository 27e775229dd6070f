//! The Dataverse-shaped answers of the loopback server: creates, `CreateMultiple`, `$batch`, paged reads,
//! reads by id and `WhoAmI`, without a store (creates are tallied, reads are generated).
//!
//! A request is first read into a [`Shape`] (so the service protection model knows how many records it carries),
//! then answered.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::reply::Reply;
use crate::webapi::handlers::bulk::message_size_exceeded;
use crate::webapi::odata::batch::{self, Item, PartRequest};
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::request::ApiRequest;

const SERVICE_ROOT: &str = "/api/data/v9.2/";
const CREATE_MULTIPLE: &str = "Microsoft.Dynamics.CRM.CreateMultiple";
const DEFAULT_PAGE_SIZE: usize = 5000;
const USER_ID: Uuid = Uuid::from_u128(0x5e4d_0000_0000_4000_8000_0000_0000_0001);
const BUSINESS_UNIT_ID: Uuid = Uuid::from_u128(0x5e4d_0000_0000_4000_8000_0000_0000_0002);
const ORGANIZATION_ID: Uuid = Uuid::from_u128(0x5e4d_0000_0000_4000_8000_0000_0000_0003);

/// What the org holds: nothing but counters, the generated rows' count and the tally of created keys.
#[derive(Debug)]
pub(crate) struct Org {
    /// `https://127.0.0.1:<port>` (or `http://`), set once bound.
    pub(crate) base: String,
    pub(crate) max_targets: usize,
    pub(crate) key_column: Option<String>,
    pub(crate) rows: AtomicUsize,
    pub(crate) next_id: AtomicU64,
    pub(crate) writes: Mutex<HashMap<String, u32>>,
}

/// A request, read far enough to know its cost.
#[derive(Debug)]
pub(crate) enum Shape {
    WhoAmI,
    Create { set: String, key: Option<String> },
    CreateMultiple { keys: Vec<String>, targets: usize },
    Batch { items: Vec<Item>, operations: usize },
    Read { set: String, query: Option<String>, page_size: usize },
    Retrieve { set: String, id: Uuid },
}

impl Shape {
    /// How many records the request carries: the model charges latency per record.
    pub(crate) fn records(&self) -> usize {
        match self {
            Self::CreateMultiple { targets, .. } => *targets,
            Self::Batch { operations, .. } => *operations,
            _ => 1,
        }
    }
}

impl Org {
    /// Reads the request into a shape, or answers it at once (an error, an unknown URL).
    pub(crate) fn shape(&self, request: &ApiRequest) -> Result<Shape, Reply> {
        let path = request.path.as_str();
        match (request.method.as_str(), path) {
            ("GET", "WhoAmI" | "WhoAmI()") => Ok(Shape::WhoAmI),
            ("POST", "$batch") => {
                let items = batch::parse_batch(request).map_err(|message| {
                    ODataError::bad_query(format!("The batch request is malformed: {message}")).reply()
                })?;
                let operations = items
                    .iter()
                    .map(|item| match item {
                        Item::Operation(_) => 1,
                        Item::ChangeSet(parts) => parts.len(),
                    })
                    .sum();
                Ok(Shape::Batch { items, operations })
            }
            ("POST", _) => match path.split_once('/') {
                None if is_set_name(path) => {
                    Ok(Shape::Create { set: path.to_owned(), key: self.key_of(&request.body).map_err(error)? })
                }
                Some((set, CREATE_MULTIPLE)) if is_set_name(set) => self.create_multiple(set, &request.body),
                _ => Err(ODataError::segment_not_found(path).reply()),
            },
            ("GET", _) if is_set_name(path) => Ok(Shape::Read {
                set: path.to_owned(),
                query: request.query.clone(),
                page_size: request.preferences().max_page_size.unwrap_or(DEFAULT_PAGE_SIZE),
            }),
            ("GET", _) => match retrieve_target(path) {
                Some((set, id)) => Ok(Shape::Retrieve { set: set.to_owned(), id }),
                None => Err(ODataError::segment_not_found(path).reply()),
            },
            (method, _) => Err(ODataError::method_not_allowed(method, path).reply()),
        }
    }

    /// Answers a request the service protection model admitted.
    pub(crate) fn answer(&self, shape: Shape) -> Reply {
        match shape {
            Shape::WhoAmI => Reply::json(
                200,
                &serde_json::json!({
                    "@odata.context": format!("{}{SERVICE_ROOT}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", self.base),
                    "BusinessUnitId": BUSINESS_UNIT_ID,
                    "UserId": USER_ID,
                    "OrganizationId": ORGANIZATION_ID,
                }),
            ),
            Shape::Create { set, key } => {
                self.tally(key);
                self.created(&set)
            }
            Shape::CreateMultiple { keys, targets } => {
                for key in keys {
                    self.tally(Some(key));
                }
                let ids: Vec<Uuid> = (0..targets).map(|_| self.new_id()).collect();
                Reply::json(
                    200,
                    &serde_json::json!({
                        "@odata.context": format!("{}{SERVICE_ROOT}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", self.base),
                        "Ids": ids,
                    }),
                )
            }
            Shape::Batch { items, .. } => self.batch(items),
            Shape::Read { set, query, page_size } => self.page(&set, query.as_deref(), page_size),
            Shape::Retrieve { set, id } => {
                let mut body = Vec::with_capacity(256);
                let n = usize::try_from(id.as_u128() % 10_000_000).unwrap_or(0);
                body.extend_from_slice(
                    format!(r#"{{"@odata.context":"{}{SERVICE_ROOT}$metadata#{set}/$entity","#, self.base).as_bytes(),
                );
                write_row_fields(&mut body, &set, n, id);
                body.push(b'}');
                Reply::empty(200).with_body(body, JSON)
            }
        }
    }

    fn create_multiple(&self, set: &str, body: &[u8]) -> Result<Shape, Reply> {
        #[derive(serde::Deserialize)]
        struct Targets<'a> {
            #[serde(rename = "Targets", borrow)]
            targets: Vec<&'a RawValue>,
        }
        let parsed: Targets<'_> = serde_json::from_slice(body).map_err(|e| {
            error(ODataError::bad_payload(set, format!("the body must be {{\"Targets\": [<record>, …]}} ({e})")))
        })?;
        if parsed.targets.len() > self.max_targets {
            return Err(message_size_exceeded(body.len()).reply());
        }
        let mut keys = Vec::new();
        if self.key_column.is_some() {
            for target in &parsed.targets {
                keys.extend(self.key_of(target.get().as_bytes()).map_err(error)?);
            }
        }
        Ok(Shape::CreateMultiple { keys, targets: parsed.targets.len() })
    }

    /// The text of the key column's value in a record, when keys are tallied.
    fn key_of(&self, record: &[u8]) -> Result<Option<String>, ODataError> {
        let Some(column) = &self.key_column else { return Ok(None) };
        let object: serde_json::Map<String, Value> = serde_json::from_slice(record)
            .map_err(|e| ODataError::bad_payload("record", format!("a record must be a JSON object ({e})")))?;
        Ok(object.get(column).map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }))
    }

    fn tally(&self, key: Option<String>) {
        if let Some(key) = key
            && let Ok(mut writes) = self.writes.lock()
        {
            *writes.entry(key).or_default() += 1;
        }
    }

    fn new_id(&self) -> Uuid {
        Uuid::from_u128(
            0x0001_0000_0000_4000_8000_0000_0000_0000 + u128::from(self.next_id.fetch_add(1, Ordering::Relaxed)),
        )
    }

    fn created(&self, set: &str) -> Reply {
        let id = self.new_id();
        Reply::empty(204).header("OData-EntityId", format!("{}{SERVICE_ROOT}{set}({id})", self.base))
    }

    /// Each operation of the batch answered on its own: creates with `204` and `OData-EntityId`,
    /// reads with one generated row, anything else with `204`.
    fn batch(&self, items: Vec<Item>) -> Reply {
        let boundary = format!("batchresponse_{}", Uuid::new_v4());
        let mut out = Vec::new();
        for item in items {
            match item {
                Item::Operation(part) => {
                    let reply = self.batch_operation(&part);
                    batch::write_part(&mut out, &boundary, part.content_id.as_deref(), &reply);
                }
                Item::ChangeSet(parts) => {
                    let change_boundary = format!("changesetresponse_{}", Uuid::new_v4());
                    out.extend_from_slice(
                        format!("--{boundary}\r\nContent-Type: multipart/mixed; boundary={change_boundary}\r\n\r\n")
                            .as_bytes(),
                    );
                    for part in parts {
                        let reply = self.batch_operation(&part);
                        batch::write_part(&mut out, &change_boundary, part.content_id.as_deref(), &reply);
                    }
                    out.extend_from_slice(format!("--{change_boundary}--\r\n").as_bytes());
                }
            }
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Reply::empty(200).with_body(out, &format!("multipart/mixed; boundary={boundary}"))
    }

    fn batch_operation(&self, part: &PartRequest) -> Reply {
        let url = part.url.split_once(SERVICE_ROOT).map_or(part.url.as_str(), |(_, path)| path);
        let path = url.split('?').next().unwrap_or_default();
        match part.method.as_str() {
            "POST" if is_set_name(path) => match self.key_of(&part.body) {
                Ok(key) => {
                    self.tally(key);
                    self.created(path)
                }
                Err(e) => e.reply(),
            },
            "GET" => match retrieve_target(path) {
                Some((set, id)) => self.answer(Shape::Retrieve { set: set.to_owned(), id }),
                None => ODataError::segment_not_found(path).reply(),
            },
            _ => Reply::empty(204),
        }
    }

    /// One page of `rows` generated rows, from the `$skiptoken` (a row number) on.
    fn page(&self, set: &str, query: Option<&str>, page_size: usize) -> Reply {
        let total = self.rows.load(Ordering::Relaxed);
        let mut kept = String::new();
        let mut start: usize = 0;
        for parameter in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            match parameter.strip_prefix("$skiptoken=") {
                Some(token) => start = token.parse().unwrap_or(0),
                None => {
                    kept.push_str(parameter);
                    kept.push('&');
                }
            }
        }
        let end = start.saturating_add(page_size).min(total);
        let mut body = Vec::with_capacity(128 + (end.saturating_sub(start)) * 160);
        body.extend_from_slice(
            format!(r#"{{"@odata.context":"{}{SERVICE_ROOT}$metadata#{set}","value":["#, self.base).as_bytes(),
        );
        for n in start..end {
            if n > start {
                body.push(b',');
            }
            body.push(b'{');
            write_row_fields(&mut body, set, n, Uuid::from_u128(n as u128));
            body.push(b'}');
        }
        body.push(b']');
        if end < total {
            body.extend_from_slice(
                format!(r#","@odata.nextLink":"{}{SERVICE_ROOT}{set}?{kept}$skiptoken={end}""#, self.base).as_bytes(),
            );
        }
        body.push(b'}');
        Reply::empty(200).with_body(body, JSON)
    }
}

const JSON: &str = "application/json; odata.metadata=minimal";

fn error(error: ODataError) -> Reply {
    error.reply()
}

/// Row `n` of a set: an ETag, the primary id (`<set without its final s>id`), a name and a revenue.
/// Numbers are zero-padded, so every row has the same size whatever the row count.
fn write_row_fields(body: &mut Vec<u8>, set: &str, n: usize, id: Uuid) {
    let id_column = set.strip_suffix('s').unwrap_or(set);
    let mut text = String::with_capacity(160);
    let _ = write!(
        text,
        r#""@odata.etag":"W/\"{n:07}\"","{id_column}id":"{id}","name":"Row {n:07}","revenue":1{n:07}.5807"#
    );
    body.extend_from_slice(text.as_bytes());
}

fn is_set_name(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `<set>(<guid>)`.
fn retrieve_target(path: &str) -> Option<(&str, Uuid)> {
    let (set, rest) = path.split_once('(')?;
    let id = rest.strip_suffix(')')?;
    Some((set, Uuid::parse_str(id).ok()?)).filter(|(set, _)| is_set_name(set))
}
