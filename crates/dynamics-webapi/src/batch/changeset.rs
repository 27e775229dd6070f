//! Change sets: writes that succeed or fail together, and the operations they hold.

use std::collections::HashSet;

use serde::Serialize;
use uuid::Uuid;

use super::content_id::ContentId;
use super::error::{InvalidBatch, InvalidBatchKind};
use super::method::{Method, WriteMethod};
use super::multipart;
use super::operation::RequestParts;

/// A write inside a [`ChangeSet`]: `POST`, `PATCH`, `PUT` or `DELETE`, never `GET`.
///
/// Its URL is relative to the service root, or starts with a reference to an earlier operation of
/// the same change set (`$1/lastname`). Without [`content_id`](Self::content_id), the change set numbers
/// it when it is [pushed](ChangeSet::push).
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{ChangeSetOperation, WriteMethod};
/// use serde_json::json;
///
/// let create = ChangeSetOperation::post("contacts", &json!({"firstname": "Ana"})).content_id("ana");
/// assert_eq!(create.method(), WriteMethod::Post);
/// ```
///
/// A read cannot be put in a change set: there is no `ChangeSetOperation::get`.
///
/// ```compile_fail,E0599
/// use dynamics_webapi::batch::ChangeSetOperation;
///
/// let _ = ChangeSetOperation::get("accounts");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ChangeSetOperation {
    method: WriteMethod,
    parts: RequestParts,
    content_id: Option<String>,
}

impl ChangeSetOperation {
    /// An operation with this write method and URL, and no body.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSetOperation, WriteMethod};
    ///
    /// let clear = ChangeSetOperation::new(WriteMethod::Delete, "accounts(00000000-0000-0000-0000-000000000001)/primarycontactid/$ref");
    /// assert!(clear.body_bytes().is_none());
    /// ```
    pub fn new(method: WriteMethod, url: impl Into<String>) -> Self {
        Self { method, parts: RequestParts::new(url.into()), content_id: None }
    }

    /// A `POST` with a JSON body: a create, or an action.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSetOperation;
    /// use serde_json::json;
    ///
    /// let create = ChangeSetOperation::post("tasks", &json!({"subject": "Call"}));
    /// assert_eq!(create.url(), "tasks");
    /// ```
    pub fn post<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Self {
        Self::new(WriteMethod::Post, url).body(body)
    }

    /// A `PATCH` with a JSON body: an update (with `If-Match: *`) or an upsert (without).
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSetOperation;
    /// use serde_json::json;
    ///
    /// let update = ChangeSetOperation::patch("$1", &json!({"telephone1": "555-0100"})).header("If-Match", "*");
    /// # let _ = update;
    /// ```
    pub fn patch<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Self {
        Self::new(WriteMethod::Patch, url).body(body)
    }

    /// A `PUT` with a JSON body, such as `{"value": ...}` for a single column.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSetOperation;
    /// use serde_json::json;
    ///
    /// let set = ChangeSetOperation::put("$1/lastname", &json!({"value": "Li"}));
    /// # let _ = set;
    /// ```
    pub fn put<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Self {
        Self::new(WriteMethod::Put, url).body(body)
    }

    /// A `DELETE` of a record, a column value or a reference.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSetOperation, WriteMethod};
    ///
    /// let delete = ChangeSetOperation::delete("tasks(00000000-0000-0000-0000-000000000001)");
    /// assert_eq!(delete.method(), WriteMethod::Delete);
    /// ```
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(WriteMethod::Delete, url)
    }

    /// Gives the operation this Content-ID instead of the next number.
    ///
    /// Letters, digits, `-`, `_` and `.`; Dataverse's own examples use numbers.
    /// A bad or repeated Content-ID is reported by [`BatchRequestBuilder::build`](super::BatchRequestBuilder::build).
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
    /// use serde_json::json;
    ///
    /// let mut change_set = ChangeSet::new();
    /// let id = change_set.push(ChangeSetOperation::post("leads", &json!({})).content_id("lead"));
    /// assert_eq!(id.reference(), "$lead");
    /// ```
    pub fn content_id(mut self, id: impl Into<String>) -> Self {
        self.content_id = Some(id.into());
        self
    }

    /// Adds a header to the request, such as `If-Match` or `Prefer: return=representation`.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSetOperation;
    /// use serde_json::json;
    ///
    /// let create = ChangeSetOperation::post("tasks", &json!({})).header("Prefer", "return=representation");
    /// assert_eq!(create.headers().next(), Some(("Prefer", "return=representation")));
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.header(name.into(), value.into());
        self
    }

    /// Sets the JSON body, replacing any earlier one.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSetOperation, WriteMethod};
    /// use serde_json::json;
    ///
    /// let action = ChangeSetOperation::new(WriteMethod::Post, "Microsoft.Dynamics.CRM.AddToQueue")
    ///     .body(&json!({"Target": {"activityid": "00000000-0000-0000-0000-000000000001", "@odata.type": "Microsoft.Dynamics.CRM.task"}}));
    /// assert!(action.body_bytes().is_some());
    /// ```
    pub fn body<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.parts.body(body);
        self
    }

    /// The method.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSetOperation, WriteMethod};
    ///
    /// assert_eq!(ChangeSetOperation::delete("tasks(1)").method(), WriteMethod::Delete);
    /// ```
    pub fn method(&self) -> WriteMethod {
        self.method
    }

    /// The URL as given: relative to the service root, or starting with a `$n` reference.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSetOperation;
    ///
    /// assert_eq!(ChangeSetOperation::delete("$1").url(), "$1");
    /// ```
    pub fn url(&self) -> &str {
        &self.parts.url
    }

    /// The headers added with [`header`](Self::header), in order.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSetOperation;
    ///
    /// assert_eq!(ChangeSetOperation::delete("tasks(1)").headers().count(), 0);
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parts.headers()
    }

    /// The serialized JSON body, if any.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSetOperation;
    /// use serde_json::json;
    ///
    /// let set = ChangeSetOperation::put("$1/lastname", &json!({"value": "Li"}));
    /// assert_eq!(set.body_bytes(), Some(&br#"{"value":"Li"}"#[..]));
    /// ```
    pub fn body_bytes(&self) -> Option<&[u8]> {
        self.parts.body_bytes()
    }
}

/// An atomic group of writes: Dataverse runs them in order, and either all are committed or none.
///
/// Each operation gets a Content-ID when it is [pushed](Self::push): the next free number from 1,
/// or the one given with [`ChangeSetOperation::content_id`]. Content-IDs are unique within the change
/// set, and a later operation can reference an earlier one as `$<id>`. References are checked when the
/// batch is built: one to an operation that is not earlier in the same change set is refused there,
/// instead of failing the whole batch on the server.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
/// use serde_json::json;
///
/// let mut change_set = ChangeSet::new();
/// let lead = change_set.push(ChangeSetOperation::post("leads", &json!({"lastname": "Ng"})));
/// let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "Ana"})));
/// change_set.push(ChangeSetOperation::post(
///     "accounts",
///     &json!({
///         "name": "Fabrikam",
///         "originatingleadid@odata.bind": lead.reference(),
///         "primarycontactid@odata.bind": contact.reference(),
///     }),
/// ));
/// assert_eq!(change_set.content_ids().map(|id| id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
/// ```
#[derive(Debug, Clone)]
pub struct ChangeSet {
    boundary_id: Uuid,
    operations: Vec<(ContentId, ChangeSetOperation)>,
    used: HashSet<String>,
    next_number: usize,
    error: Option<InvalidBatch>,
}

impl ChangeSet {
    /// An empty change set with a random boundary (`changeset_<uuid v4>`).
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSet;
    ///
    /// let change_set = ChangeSet::new();
    /// assert!(change_set.is_empty());
    /// assert!(change_set.boundary().starts_with("changeset_"));
    /// ```
    pub fn new() -> Self {
        Self::with_boundary_id(Uuid::new_v4())
    }

    /// An empty change set whose boundary is `changeset_<id>`, for output that does not change between runs.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSet;
    /// use uuid::Uuid;
    ///
    /// let change_set = ChangeSet::with_boundary_id(Uuid::nil());
    /// assert_eq!(change_set.boundary(), "changeset_00000000-0000-0000-0000-000000000000");
    /// ```
    pub fn with_boundary_id(id: Uuid) -> Self {
        Self { boundary_id: id, operations: Vec::new(), used: HashSet::new(), next_number: 1, error: None }
    }

    /// Adds an operation at the end and returns its Content-ID.
    ///
    /// Mistakes (a bad or repeated Content-ID, a reference to an operation that is not earlier in this
    /// change set) are kept and reported by [`BatchRequestBuilder::build`](super::BatchRequestBuilder::build).
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
    /// use serde_json::json;
    ///
    /// let mut change_set = ChangeSet::new();
    /// let first = change_set.push(ChangeSetOperation::post("contacts", &json!({})).content_id("2"));
    /// let second = change_set.push(ChangeSetOperation::post("contacts", &json!({})));
    /// let third = change_set.push(ChangeSetOperation::post("contacts", &json!({})));
    /// assert_eq!([first.as_str(), second.as_str(), third.as_str()], ["2", "1", "3"]);
    /// ```
    pub fn push(&mut self, operation: ChangeSetOperation) -> ContentId {
        for reference in operation
            .parts
            .url_reference()
            .into_iter()
            .chain(operation.parts.body_references.iter().map(String::as_str))
        {
            if !self.used.contains(reference) {
                self.remember(InvalidBatch::new(InvalidBatchKind::UndeclaredReference, format!("${reference}")));
            }
        }
        let id = match &operation.content_id {
            Some(explicit) => {
                let id = ContentId::parse(explicit).unwrap_or_else(|| {
                    self.remember(InvalidBatch::new(InvalidBatchKind::ContentId, explicit.clone()));
                    ContentId::unchecked(explicit.clone())
                });
                if self.used.contains(explicit) {
                    self.remember(InvalidBatch::new(InvalidBatchKind::DuplicateContentId, explicit.clone()));
                }
                id
            }
            None => {
                while self.used.contains(&self.next_number.to_string()) {
                    self.next_number += 1;
                }
                ContentId::from_number(self.next_number)
            }
        };
        self.used.insert(id.as_str().to_owned());
        self.operations.push((id.clone(), operation));
        id
    }

    /// The number of operations.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
    ///
    /// let change_set: ChangeSet = [ChangeSetOperation::delete("tasks(1)"), ChangeSetOperation::delete("tasks(2)")].into_iter().collect();
    /// assert_eq!(change_set.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// Whether the change set has no operation (an empty change set cannot be sent).
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSet;
    ///
    /// assert!(ChangeSet::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// The boundary that delimits the change set's parts: `changeset_<uuid>`.
    ///
    /// ```
    /// use dynamics_webapi::batch::ChangeSet;
    /// use uuid::Uuid;
    ///
    /// let id = Uuid::from_u128(0x246e6bfe_89a4_4c77_b293_7a433f082e8a);
    /// assert_eq!(ChangeSet::with_boundary_id(id).boundary(), "changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a");
    /// ```
    pub fn boundary(&self) -> String {
        format!("changeset_{}", self.boundary_id)
    }

    /// The Content-IDs, in order.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
    ///
    /// let change_set: ChangeSet = [ChangeSetOperation::delete("tasks(1)")].into_iter().collect();
    /// assert_eq!(change_set.content_ids().next().map(|id| id.as_str()), Some("1"));
    /// ```
    pub fn content_ids(&self) -> impl Iterator<Item = &ContentId> {
        self.operations.iter().map(|(id, _)| id)
    }

    /// The operations with their Content-IDs, in order.
    ///
    /// ```
    /// use dynamics_webapi::batch::{ChangeSet, ChangeSetOperation};
    ///
    /// let change_set: ChangeSet = [ChangeSetOperation::delete("tasks(1)")].into_iter().collect();
    /// let (id, operation) = change_set.operations().next().unwrap();
    /// assert_eq!((id.as_str(), operation.url()), ("1", "tasks(1)"));
    /// ```
    pub fn operations(&self) -> impl Iterator<Item = (&ContentId, &ChangeSetOperation)> {
        self.operations.iter().map(|(id, operation)| (id, operation))
    }

    /// Whether every operation can be sent twice with the effect of once (no `POST`).
    pub(crate) fn is_idempotent(&self) -> bool {
        self.operations.iter().all(|(_, operation)| Method::from(operation.method).is_idempotent())
    }

    fn remember(&mut self, error: InvalidBatch) {
        self.error.get_or_insert(error);
    }

    /// Reports the first mistake made while pushing, or in an operation.
    pub(crate) fn validate(&self) -> Result<(), InvalidBatch> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.operations.is_empty() {
            return Err(InvalidBatch::new(InvalidBatchKind::EmptyChangeSet, self.boundary()));
        }
        self.operations.iter().try_for_each(|(_, operation)| operation.parts.validate())
    }

    /// Writes the change set as one part of the batch: its headers, blank line, and its own multipart body
    /// up to the closing delimiter, without a final line break.
    pub(crate) fn write(&self, out: &mut Vec<u8>, service_root: &str) {
        let boundary = self.boundary();
        out.extend_from_slice(b"Content-Type: multipart/mixed; boundary=");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        for (id, operation) in &self.operations {
            multipart::write_delimiter(out, &boundary);
            multipart::write_http_part_headers(out, Some(id.as_str()));
            operation.parts.write(out, operation.method.into(), service_root);
            out.extend_from_slice(b"\r\n");
        }
        multipart::write_close_delimiter(out, &boundary);
    }
}

impl Default for ChangeSet {
    fn default() -> Self {
        Self::new()
    }
}

impl FromIterator<ChangeSetOperation> for ChangeSet {
    fn from_iter<I: IntoIterator<Item = ChangeSetOperation>>(operations: I) -> Self {
        let mut change_set = Self::new();
        change_set.extend(operations);
        change_set
    }
}

impl Extend<ChangeSetOperation> for ChangeSet {
    fn extend<I: IntoIterator<Item = ChangeSetOperation>>(&mut self, operations: I) {
        for operation in operations {
            self.push(operation);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::{ChangeSet, ChangeSetOperation};
    use crate::batch::InvalidBatchKind;

    #[test]
    fn writes_parts_with_content_ids_and_closing_delimiter() {
        let mut change_set = ChangeSet::with_boundary_id(Uuid::nil());
        let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "Ana"})));
        change_set.push(ChangeSetOperation::put(format!("{}/lastname", contact.reference()), &json!({"value": "Li"})));
        let mut out = Vec::new();
        change_set.write(&mut out, "/api/data/v9.2/");
        let expected = "Content-Type: multipart/mixed; boundary=changeset_00000000-0000-0000-0000-000000000000\r\n\
            \r\n\
            --changeset_00000000-0000-0000-0000-000000000000\r\n\
            Content-Type: application/http\r\n\
            Content-Transfer-Encoding: binary\r\n\
            Content-ID: 1\r\n\
            \r\n\
            POST /api/data/v9.2/contacts HTTP/1.1\r\n\
            Content-Type: application/json\r\n\
            \r\n\
            {\"firstname\":\"Ana\"}\r\n\
            --changeset_00000000-0000-0000-0000-000000000000\r\n\
            Content-Type: application/http\r\n\
            Content-Transfer-Encoding: binary\r\n\
            Content-ID: 2\r\n\
            \r\n\
            PUT $1/lastname HTTP/1.1\r\n\
            Content-Type: application/json\r\n\
            \r\n\
            {\"value\":\"Li\"}\r\n\
            --changeset_00000000-0000-0000-0000-000000000000--";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert!(change_set.validate().is_ok());
    }

    #[test]
    fn reference_to_a_later_operation_is_undeclared() {
        let mut change_set = ChangeSet::new();
        change_set.push(ChangeSetOperation::patch("$2", &json!({})));
        change_set.push(ChangeSetOperation::post("contacts", &json!({})));
        let error = change_set.validate().unwrap_err();
        assert_eq!((error.kind(), error.input()), (InvalidBatchKind::UndeclaredReference, "$2"));
    }

    #[test]
    fn reference_in_bind_value_must_be_declared() {
        let mut change_set = ChangeSet::new();
        change_set.push(ChangeSetOperation::post("contacts", &json!({})).content_id("c"));
        change_set.push(ChangeSetOperation::post("accounts", &json!({"primarycontactid@odata.bind": "$c"})));
        assert!(change_set.validate().is_ok());
        change_set.push(ChangeSetOperation::post("accounts", &json!({"primarycontactid@odata.bind": "$d"})));
        assert_eq!(change_set.validate().unwrap_err().input(), "$d");
    }

    #[test]
    fn explicit_ids_are_checked() {
        let mut duplicate = ChangeSet::new();
        duplicate.push(ChangeSetOperation::delete("tasks(1)"));
        duplicate.push(ChangeSetOperation::delete("tasks(2)").content_id("1"));
        assert_eq!(duplicate.validate().unwrap_err().kind(), InvalidBatchKind::DuplicateContentId);

        let mut bad = ChangeSet::new();
        bad.push(ChangeSetOperation::delete("tasks(1)").content_id("a b"));
        let error = bad.validate().unwrap_err();
        assert_eq!((error.kind(), error.input()), (InvalidBatchKind::ContentId, "a b"));
    }

    #[test]
    fn automatic_numbers_skip_explicit_ones() {
        let mut change_set = ChangeSet::new();
        change_set.push(ChangeSetOperation::delete("tasks(1)").content_id("1"));
        change_set.push(ChangeSetOperation::delete("tasks(1)").content_id("3"));
        let ids: Vec<_> = (0..3).map(|_| change_set.push(ChangeSetOperation::delete("tasks(1)"))).collect();
        assert_eq!(ids.iter().map(|id| id.as_str()).collect::<Vec<_>>(), ["2", "4", "5"]);
        assert!(change_set.validate().is_ok());
    }

    #[test]
    fn empty_change_set_is_refused() {
        assert_eq!(ChangeSet::new().validate().unwrap_err().kind(), InvalidBatchKind::EmptyChangeSet);
    }

    #[test]
    fn idempotent_without_post() {
        let deletes: ChangeSet = [ChangeSetOperation::delete("tasks(1)")].into_iter().collect();
        let creates: ChangeSet = [ChangeSetOperation::post("tasks", &json!({}))].into_iter().collect();
        assert!(deletes.is_idempotent());
        assert!(!creates.is_idempotent());
    }
}
