//! The batch request: its builder, its checks, and its `multipart/mixed` body.

use bytes::Bytes;
use http::StatusCode;
use uuid::Uuid;

use super::changeset::ChangeSet;
use super::error::{BatchError, InvalidBatch, InvalidBatchKind, LimitKind};
use super::item::BatchItem;
use super::multipart;
use super::operation::Operation;
use super::response::BatchResponse;
use super::split::{BatchLimits, ItemSize, plan};

/// The path of the Web API service root that operation URLs are relative to, for API version 9.2.
pub const DEFAULT_SERVICE_ROOT: &str = "/api/data/v9.2/";

/// The value of the `Prefer` header that asks Dataverse to go on after a failed operation.
pub const CONTINUE_ON_ERROR: &str = "odata.continue-on-error";

/// Collects the items of a batch and its options; [`build`](Self::build) checks and renders it.
///
/// Mistakes made while adding operations (a bad header, an undeclared `$n` reference) are kept and
/// reported by `build`, so the chain stays fluent.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{BatchRequest, ChangeSet, ChangeSetOperation, Operation};
/// use serde_json::json;
///
/// let mut change_set = ChangeSet::new();
/// let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "Ana"})));
/// change_set.push(ChangeSetOperation::post("accounts", &json!({"name": "Fabrikam", "primarycontactid@odata.bind": contact.reference()})));
///
/// let batch = BatchRequest::builder()
///     .change_set(change_set)
///     .operation(Operation::get("accounts?$select=name&$top=5"))
///     .continue_on_error(true)
///     .build()?;
/// assert_eq!(batch.operation_count(), 3);
/// assert_eq!(batch.prefer_header(), Some("odata.continue-on-error"));
/// # Ok::<(), dynamics_webapi::batch::BatchError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct BatchRequestBuilder {
    items: Vec<BatchItem>,
    continue_on_error: bool,
    limits: BatchLimits,
    service_root: String,
    boundary_id: Option<Uuid>,
}

impl BatchRequestBuilder {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            continue_on_error: false,
            limits: BatchLimits::new(),
            service_root: DEFAULT_SERVICE_ROOT.to_owned(),
            boundary_id: None,
        }
    }

    /// Adds an operation that runs on its own.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert_eq!(batch.items().len(), 1);
    /// ```
    pub fn operation(self, operation: Operation) -> Self {
        self.item(operation)
    }

    /// Adds several operations that each run on their own.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let ids = ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"];
    /// let batch = BatchRequest::builder()
    ///     .operations(ids.iter().map(|id| Operation::delete(format!("tasks({id})"))))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(batch.operation_count(), 2);
    /// ```
    pub fn operations(self, operations: impl IntoIterator<Item = Operation>) -> Self {
        self.items(operations)
    }

    /// Adds a change set.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, ChangeSet, ChangeSetOperation};
    ///
    /// let change_set: ChangeSet = [ChangeSetOperation::delete("tasks(00000000-0000-0000-0000-000000000001)")].into_iter().collect();
    /// let batch = BatchRequest::builder().change_set(change_set).build().unwrap();
    /// assert_eq!(batch.operation_count(), 1);
    /// ```
    pub fn change_set(self, change_set: ChangeSet) -> Self {
        self.item(change_set)
    }

    /// Adds an item: an operation or a change set.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchItem, BatchRequest, Operation};
    ///
    /// let item = BatchItem::from(Operation::get("accounts"));
    /// let batch = BatchRequest::builder().item(item).build().unwrap();
    /// assert_eq!(batch.items().len(), 1);
    /// ```
    pub fn item(mut self, item: impl Into<BatchItem>) -> Self {
        self.items.push(item.into());
        self
    }

    /// Adds several items, in order.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchItem, BatchRequest, Operation};
    ///
    /// let items = vec![BatchItem::from(Operation::get("accounts")), BatchItem::from(Operation::get("contacts"))];
    /// let batch = BatchRequest::builder().items(items).build().unwrap();
    /// assert_eq!(batch.items().len(), 2);
    /// ```
    pub fn items<I: Into<BatchItem>>(mut self, items: impl IntoIterator<Item = I>) -> Self {
        self.items.extend(items.into_iter().map(Into::into));
        self
    }

    /// Asks Dataverse to go on after a failed operation (`Prefer: odata.continue-on-error` on the batch request).
    ///
    /// Without it, Dataverse stops at the first failure and the operations after it are
    /// [not executed](super::PartOutcome::NotExecuted). A failed change set still rolls back as a whole.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("accounts")).continue_on_error(true).build().unwrap();
    /// assert!(batch.is_continue_on_error());
    /// ```
    pub fn continue_on_error(mut self, continue_on_error: bool) -> Self {
        self.continue_on_error = continue_on_error;
        self
    }

    /// Sets the caps on operations and body bytes (by default Dataverse's 1,000 operations and 16 MiB).
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchLimits, BatchRequest, Operation};
    ///
    /// let batches = BatchRequest::builder()
    ///     .limits(BatchLimits::new().max_operations(2))
    ///     .operations((0..5).map(|i| Operation::get(format!("accounts?$skiptoken={i}"))))
    ///     .build_split()
    ///     .unwrap();
    /// assert_eq!(batches.len(), 3);
    /// ```
    pub fn limits(mut self, limits: BatchLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the path of the service root that operation URLs are relative to (by default `/api/data/v9.2/`).
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().service_root("/api/data/v9.1").operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert!(String::from_utf8_lossy(&batch.body()).contains("GET /api/data/v9.1/WhoAmI HTTP/1.1"));
    /// ```
    pub fn service_root(mut self, path: impl Into<String>) -> Self {
        self.service_root = path.into();
        self
    }

    /// Uses `batch_<id>` as the boundary instead of a random one, for output that does not change between runs.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    /// use uuid::Uuid;
    ///
    /// let batch = BatchRequest::builder().boundary_id(Uuid::nil()).operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert_eq!(batch.content_type(), "multipart/mixed; boundary=batch_00000000-0000-0000-0000-000000000000");
    /// ```
    pub fn boundary_id(mut self, id: Uuid) -> Self {
        self.boundary_id = Some(id);
        self
    }

    /// Checks the batch and renders its body.
    ///
    /// # Errors
    ///
    /// [`BatchError::Invalid`] for the first mistake in the items (in order), or a batch without items;
    /// [`BatchError::Limit`] when the batch is over an operation or byte cap
    /// (use [`build_split`](Self::build_split) to split it instead).
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, InvalidBatchKind, Operation};
    ///
    /// let error = BatchRequest::builder().operation(Operation::get("/api/data/v9.2/accounts")).build().unwrap_err();
    /// assert!(error.is_invalid());
    /// ```
    pub fn build(self) -> Result<BatchRequest, BatchError> {
        let service_root = self.checked_service_root()?;
        if self.items.is_empty() {
            return Err(BatchError::invalid(InvalidBatchKind::Empty, ""));
        }
        self.items.iter().try_for_each(BatchItem::validate)?;
        let sizes = item_sizes(&self.items, &service_root);
        let operations: usize = sizes.iter().map(|size| size.operations).sum();
        let bytes: usize = closing_len() + sizes.iter().map(|size| size.bytes).sum::<usize>();
        plan(&self.items, &sizes, closing_len(), &self.limits)?;
        if operations > self.limits.operations_cap() {
            return Err(BatchError::limit(LimitKind::Operations, operations, self.limits.operations_cap(), None));
        }
        if bytes > self.limits.body_bytes_cap() {
            return Err(BatchError::limit(LimitKind::BodyBytes, bytes, self.limits.body_bytes_cap(), None));
        }
        let boundary_id = self.boundary_id.unwrap_or_else(Uuid::new_v4);
        Ok(BatchRequest::render(self.items, 0, self.continue_on_error, service_root, boundary_id))
    }

    /// Checks the items and splits them, in order, into as many batches as the caps need.
    ///
    /// A change set is never split: one with more operations than the cap is refused. Each batch has the
    /// same options; [`BatchRequest::first_item`] tells where its items start in the list given here.
    /// No items give no batches. Without continue-on-error, a failure in one batch does not stop the
    /// next ones: the caller decides whether to send them.
    ///
    /// # Errors
    ///
    /// [`BatchError::Invalid`] for the first mistake in the items; [`BatchError::Limit`] for a change set
    /// over the operation cap, or an item that alone is over the byte cap.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, ChangeSet, ChangeSetOperation, Operation};
    /// use serde_json::json;
    ///
    /// let creates: ChangeSet = (0..600).map(|i| ChangeSetOperation::post("tasks", &json!({"subject": i}))).collect();
    /// let batches = BatchRequest::builder()
    ///     .operations((0..500).map(|i| Operation::get(format!("tasks?$top={i}"))))
    ///     .change_set(creates)
    ///     .build_split()?;
    /// assert_eq!(batches.iter().map(|b| b.operation_count()).collect::<Vec<_>>(), [500, 600]);
    /// assert_eq!(batches[1].first_item(), 500);
    /// # Ok::<(), dynamics_webapi::batch::BatchError>(())
    /// ```
    pub fn build_split(self) -> Result<Vec<BatchRequest>, BatchError> {
        let service_root = self.checked_service_root()?;
        self.items.iter().try_for_each(BatchItem::validate)?;
        let sizes = item_sizes(&self.items, &service_root);
        let ranges = plan(&self.items, &sizes, closing_len(), &self.limits)?;
        let mut items = self.items.into_iter();
        let batches = ranges
            .into_iter()
            .map(|range| {
                let chunk: Vec<BatchItem> = items.by_ref().take(range.len()).collect();
                let boundary_id = self.boundary_id.unwrap_or_else(Uuid::new_v4);
                BatchRequest::render(chunk, range.start, self.continue_on_error, service_root.clone(), boundary_id)
            })
            .collect();
        Ok(batches)
    }

    /// The service root with a final `/`, if it is an absolute path of visible ASCII characters.
    fn checked_service_root(&self) -> Result<String, InvalidBatch> {
        let root = &self.service_root;
        if !root.starts_with('/') || !root.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidBatch::new(InvalidBatchKind::ServiceRoot, root.clone()));
        }
        Ok(if root.ends_with('/') { root.clone() } else { format!("{root}/") })
    }
}

/// A checked batch with its rendered `multipart/mixed` body, ready to be sent as
/// `POST <service root>$batch` with [`content_type`](Self::content_type) and, when
/// [`prefer_header`](Self::prefer_header) says so, `Prefer: odata.continue-on-error`.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{BatchRequest, ChangeSet, ChangeSetOperation, Operation};
/// use serde_json::json;
/// use uuid::Uuid;
///
/// let mut change_set = ChangeSet::with_boundary_id(Uuid::from_u128(2));
/// let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "Ana"})));
/// change_set.push(ChangeSetOperation::put(format!("{}/lastname", contact.reference()), &json!({"value": "Li"})));
///
/// let batch = BatchRequest::builder()
///     .boundary_id(Uuid::from_u128(1))
///     .change_set(change_set)
///     .operation(Operation::get("contacts?$select=fullname&$top=1").header("Prefer", "odata.include-annotations=\"*\""))
///     .build()?;
///
/// assert_eq!(batch.content_type(), "multipart/mixed; boundary=batch_00000000-0000-0000-0000-000000000001");
/// assert_eq!(
///     String::from_utf8(batch.body().to_vec()).unwrap(),
///     "--batch_00000000-0000-0000-0000-000000000001\r\n\
///      Content-Type: multipart/mixed; boundary=changeset_00000000-0000-0000-0000-000000000002\r\n\
///      \r\n\
///      --changeset_00000000-0000-0000-0000-000000000002\r\n\
///      Content-Type: application/http\r\n\
///      Content-Transfer-Encoding: binary\r\n\
///      Content-ID: 1\r\n\
///      \r\n\
///      POST /api/data/v9.2/contacts HTTP/1.1\r\n\
///      Content-Type: application/json\r\n\
///      \r\n\
///      {\"firstname\":\"Ana\"}\r\n\
///      --changeset_00000000-0000-0000-0000-000000000002\r\n\
///      Content-Type: application/http\r\n\
///      Content-Transfer-Encoding: binary\r\n\
///      Content-ID: 2\r\n\
///      \r\n\
///      PUT $1/lastname HTTP/1.1\r\n\
///      Content-Type: application/json\r\n\
///      \r\n\
///      {\"value\":\"Li\"}\r\n\
///      --changeset_00000000-0000-0000-0000-000000000002--\r\n\
///      --batch_00000000-0000-0000-0000-000000000001\r\n\
///      Content-Type: application/http\r\n\
///      Content-Transfer-Encoding: binary\r\n\
///      \r\n\
///      GET /api/data/v9.2/contacts?$select=fullname&$top=1 HTTP/1.1\r\n\
///      Prefer: odata.include-annotations=\"*\"\r\n\
///      \r\n\
///      \r\n\
///      --batch_00000000-0000-0000-0000-000000000001--\r\n",
/// );
/// # Ok::<(), dynamics_webapi::batch::BatchError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchRequest {
    items: Vec<BatchItem>,
    first_item: usize,
    continue_on_error: bool,
    boundary: String,
    body: Bytes,
}

impl BatchRequest {
    /// Starts a batch.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert!(!batch.is_continue_on_error());
    /// ```
    pub fn builder() -> BatchRequestBuilder {
        BatchRequestBuilder::new()
    }

    fn render(
        items: Vec<BatchItem>,
        first_item: usize,
        continue_on_error: bool,
        service_root: String,
        boundary_id: Uuid,
    ) -> Self {
        let boundary = format!("batch_{boundary_id}");
        let mut body = Vec::new();
        for item in &items {
            item.write(&mut body, &boundary, &service_root);
        }
        multipart::write_close_delimiter(&mut body, &boundary);
        body.extend_from_slice(b"\r\n");
        Self { items, first_item, continue_on_error, boundary, body: Bytes::from(body) }
    }

    /// The value of the batch request's `Content-Type` header: `multipart/mixed; boundary=batch_<uuid>`.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert!(batch.content_type().starts_with("multipart/mixed; boundary=batch_"));
    /// ```
    pub fn content_type(&self) -> String {
        format!("multipart/mixed; boundary={}", self.boundary)
    }

    /// The boundary that delimits the batch's parts: `batch_<uuid>`.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert_eq!(batch.boundary().len(), "batch_".len() + 36);
    /// ```
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The rendered body, with CRLF line ends. Cloning it is cheap, so a retry sends the same bytes.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert!(batch.body().ends_with(format!("--{}--\r\n", batch.boundary()).as_bytes()));
    /// ```
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }

    /// Whether the batch asks Dataverse to go on after a failed operation.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert!(!batch.is_continue_on_error());
    /// ```
    pub fn is_continue_on_error(&self) -> bool {
        self.continue_on_error
    }

    /// The value for the batch request's `Prefer` header, if it needs one: `odata.continue-on-error`.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation, CONTINUE_ON_ERROR};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).continue_on_error(true).build().unwrap();
    /// assert_eq!(batch.prefer_header(), Some(CONTINUE_ON_ERROR));
    /// ```
    pub fn prefer_header(&self) -> Option<&'static str> {
        self.continue_on_error.then_some(CONTINUE_ON_ERROR)
    }

    /// The items, in order.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchItem, BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert!(matches!(batch.items()[0], BatchItem::Operation(_)));
    /// ```
    pub fn items(&self) -> &[BatchItem] {
        &self.items
    }

    /// Where this batch's first item was in the list given to the builder: 0, except for the later
    /// batches of [`build_split`](BatchRequestBuilder::build_split).
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert_eq!(batch.first_item(), 0);
    /// ```
    pub fn first_item(&self) -> usize {
        self.first_item
    }

    /// The number of operations, change set members included.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// assert_eq!(batch.operation_count(), 1);
    /// ```
    pub fn operation_count(&self) -> usize {
        self.items.iter().map(BatchItem::operation_count).sum()
    }

    /// Whether sending the batch twice has the effect of sending it once: no operation is a `POST`.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    /// use serde_json::json;
    ///
    /// let reads = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
    /// let creates = BatchRequest::builder().operation(Operation::post("tasks", &json!({}))).build().unwrap();
    /// assert!(reads.is_idempotent());
    /// assert!(!creates.is_idempotent());
    /// ```
    pub fn is_idempotent(&self) -> bool {
        self.items.iter().all(BatchItem::is_idempotent)
    }

    /// Reads the answer to this batch: its status, its `Content-Type` header and its body.
    ///
    /// Every operation gets an outcome, in request order. A multipart answer is matched to the items by
    /// position, and inside a change set by Content-ID. Any other answer refuses the batch as a whole.
    /// See [`BatchResponse`] for the rules.
    ///
    /// # Errors
    ///
    /// [`BatchError::Malformed`] when the body cannot be read as the answer to this batch: a multipart
    /// content type without boundary, a truncated body, a bad status line or header, more parts than
    /// items, or a successful status without a multipart body.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    /// use http::StatusCode;
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build()?;
    /// let body = "--batchresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--batchresponse_1--\r\n";
    /// let response = batch.parse_response(StatusCode::OK, "multipart/mixed; boundary=batchresponse_1", body)?;
    /// assert!(response.is_success());
    /// # Ok::<(), dynamics_webapi::batch::BatchError>(())
    /// ```
    pub fn parse_response(
        &self,
        status: StatusCode,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<BatchResponse, BatchError> {
        BatchResponse::parse(self, status, content_type, body.into())
    }
}

fn item_sizes(items: &[BatchItem], service_root: &str) -> Vec<ItemSize> {
    // Every batch boundary has the same length, so any one measures the items exactly.
    let boundary = format!("batch_{}", Uuid::nil());
    let mut buffer = Vec::new();
    items
        .iter()
        .map(|item| {
            buffer.clear();
            item.write(&mut buffer, &boundary, service_root);
            ItemSize { operations: item.operation_count(), bytes: buffer.len() }
        })
        .collect()
}

/// The bytes after the last item: `--batch_<uuid>--` and a line break.
fn closing_len() -> usize {
    "--batch_".len() + 36 + "--\r\n".len()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::{BatchRequest, closing_len};
    use crate::batch::{
        BatchError, BatchLimits, ChangeSet, ChangeSetOperation, InvalidBatchKind, LimitKind, Operation,
    };

    fn invalid_kind(error: BatchError) -> InvalidBatchKind {
        match error {
            BatchError::Invalid(invalid) => invalid.kind(),
            other => panic!("expected an invalid batch, got {other:?}"),
        }
    }

    /// The three tasks and the query of Microsoft's `01-batch-no-changeset` request.
    fn three_tasks_and_a_query() -> Vec<Operation> {
        let mut operations: Vec<Operation> = (1..=3)
            .map(|n| {
                Operation::post(
                    "tasks",
                    &json!({
                        "subject": format!("Task {n} in batch"),
                        "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
                    }),
                )
                .header("Content-Type", "application/json; type=entry")
            })
            .collect();
        operations.push(Operation::get("accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject"));
        operations
    }

    /// Reads a published request in place and returns its body with CRLF line ends and pretty JSON compacted,
    /// so that it compares with what we render.
    fn published_body(name: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata/msdocs/batch");
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read the published request {} (read in place): {e}", path.display()));
        let (_, body) = text.split_once("\n\n").unwrap();
        let mut out = String::new();
        let mut json = String::new();
        for line in body.lines() {
            if !json.is_empty() || line == "{" {
                json.push_str(line);
                if line == "}" {
                    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
                    out.push_str(&value.to_string());
                    out.push_str("\r\n");
                    json.clear();
                }
                continue;
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out
    }

    #[test]
    fn renders_the_published_request_without_change_set() {
        let batch = BatchRequest::builder()
            .boundary_id(Uuid::parse_str("80dd1615-2a10-428a-bb6f-0e559792721f").unwrap())
            .operations(three_tasks_and_a_query())
            .build()
            .unwrap();
        let ours = String::from_utf8(batch.body().to_vec()).unwrap();
        let published = published_body("01-batch-no-changeset.request.http");
        assert_eq!(ours.trim_end(), published.trim_end());
    }

    #[test]
    fn renders_the_published_request_with_change_set() {
        let mut operations = three_tasks_and_a_query();
        let query = operations.pop().unwrap();
        let mut change_set =
            ChangeSet::with_boundary_id(Uuid::parse_str("246e6bfe-89a4-4c77-b293-7a433f082e8a").unwrap());
        for n in 1..=3 {
            change_set.push(
                ChangeSetOperation::post(
                    "tasks",
                    &json!({
                        "subject": format!("Task {n} in batch"),
                        "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
                    }),
                )
                .header("Content-Type", "application/json; type=entry"),
            );
        }
        let batch = BatchRequest::builder()
            .boundary_id(Uuid::parse_str("22975cad-7f57-410d-be15-6363209367ea").unwrap())
            .change_set(change_set)
            .operation(query)
            .build()
            .unwrap();
        let ours = String::from_utf8(batch.body().to_vec()).unwrap();
        // The published change set quotes its boundary and has a blank epilogue line after its closing delimiter;
        // ours does neither, which means the same.
        let published = published_body("02-batch-changeset.request.http")
            .replace(
                "boundary=\"changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a\"",
                "boundary=changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a",
            )
            .replace("--\r\n\r\n--batch", "--\r\n--batch");
        assert_eq!(ours.trim_end(), published.trim_end());
    }

    #[test]
    fn structure_matches_the_reference_in_body_request() {
        let mut change_set = ChangeSet::new();
        let lead = change_set.push(ChangeSetOperation::post("leads", &json!({})));
        let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({})));
        change_set.push(ChangeSetOperation::post(
            "accounts",
            &json!({"originatingleadid@odata.bind": lead.reference(), "primarycontactid@odata.bind": contact.reference()}),
        ));
        let batch = BatchRequest::builder().change_set(change_set).build().unwrap();
        let body = String::from_utf8(batch.body().to_vec()).unwrap();
        for expected in
            ["Content-ID: 1\r\n", "Content-ID: 2\r\n", "Content-ID: 3\r\n", "\"originatingleadid@odata.bind\":\"$1\""]
        {
            assert!(body.contains(expected), "{expected} missing from {body}");
        }
        assert!(!body.contains('\n') || body.split('\n').all(|line| line.is_empty() || line.ends_with('\r')));
    }

    #[test]
    fn body_length_is_what_the_size_plan_counts() {
        let batch = BatchRequest::builder().operations(three_tasks_and_a_query()).build().unwrap();
        let error = BatchRequest::builder()
            .limits(BatchLimits::new().max_body_bytes(batch.body().len() - 1))
            .operations(three_tasks_and_a_query())
            .build()
            .unwrap_err();
        let BatchError::Limit(limit) = error else { panic!("expected a limit error") };
        assert_eq!((limit.kind(), limit.actual()), (LimitKind::BodyBytes, batch.body().len()));
        let fits = BatchRequest::builder()
            .limits(BatchLimits::new().max_body_bytes(batch.body().len()))
            .operations(three_tasks_and_a_query())
            .build();
        assert!(fits.is_ok());
    }

    #[test]
    fn split_batches_fit_their_caps_and_keep_order() {
        let operations: Vec<Operation> = (0..25).map(|i| Operation::delete(format!("tasks({i:02})"))).collect();
        let single = BatchRequest::builder().operation(operations[0].clone()).build().unwrap();
        let cap = closing_len() + 3 * (single.body().len() - closing_len());
        let batches = BatchRequest::builder()
            .limits(BatchLimits::new().max_body_bytes(cap))
            .operations(operations)
            .build_split()
            .unwrap();
        assert_eq!(batches.len(), 9);
        let mut next = 0;
        for batch in &batches {
            assert!(batch.body().len() <= cap);
            assert_eq!(batch.first_item(), next);
            next += batch.items().len();
        }
        assert_eq!(next, 25);
        assert_ne!(batches[0].boundary(), batches[1].boundary());
    }

    #[test]
    fn thousand_and_one_operations_are_refused_by_build_and_split_by_build_split() {
        let operations = || (0..1001).map(|i| Operation::get(format!("accounts?$skip={i}")));
        let error = BatchRequest::builder().operations(operations()).build().unwrap_err();
        let BatchError::Limit(limit) = error else { panic!("expected a limit error") };
        assert_eq!(
            (limit.kind(), limit.actual(), limit.max(), limit.item()),
            (LimitKind::Operations, 1001, 1000, None)
        );
        let batches = BatchRequest::builder().operations(operations()).build_split().unwrap();
        assert_eq!(batches.iter().map(BatchRequest::operation_count).collect::<Vec<_>>(), [1000, 1]);
    }

    #[test]
    fn change_set_over_the_cap_is_refused_before_sending() {
        let creates: ChangeSet = (0..1001).map(|_| ChangeSetOperation::post("tasks", &json!({}))).collect();
        let error = BatchRequest::builder().change_set(creates.clone()).build().unwrap_err();
        let BatchError::Limit(limit) = &error else { panic!("expected a limit error") };
        assert_eq!((limit.kind(), limit.item()), (LimitKind::ChangeSetOperations, Some(0)));
        let error =
            BatchRequest::builder().operation(Operation::get("WhoAmI")).change_set(creates).build_split().unwrap_err();
        assert_eq!(
            error.to_string(),
            "change set at item 1 has 1001 operations, over the cap of 1000 per batch; a change set is never split"
        );
    }

    #[test]
    fn empty_batches() {
        assert_eq!(invalid_kind(BatchRequest::builder().build().unwrap_err()), InvalidBatchKind::Empty);
        assert!(BatchRequest::builder().build_split().unwrap().is_empty());
        let empty_change_set = BatchRequest::builder().change_set(ChangeSet::new()).build().unwrap_err();
        assert_eq!(invalid_kind(empty_change_set), InvalidBatchKind::EmptyChangeSet);
    }

    #[test]
    fn first_mistake_is_reported_by_build_and_build_split() {
        let bad = || BatchRequest::builder().operation(Operation::get("WhoAmI")).operation(Operation::get("a b"));
        assert_eq!(invalid_kind(bad().build().unwrap_err()), InvalidBatchKind::Url);
        assert_eq!(invalid_kind(bad().build_split().unwrap_err()), InvalidBatchKind::Url);
    }

    #[test]
    fn service_root_gets_a_final_slash_and_must_be_a_path() {
        let batch =
            BatchRequest::builder().service_root("/api/data/v9.0").operation(Operation::get("WhoAmI")).build().unwrap();
        assert!(String::from_utf8_lossy(&batch.body()).contains("GET /api/data/v9.0/WhoAmI HTTP/1.1\r\n"));
        for bad in ["api/data/v9.2/", "https://org.crm.dynamics.com/api/data/v9.2/", "/api/data v9.2/"] {
            let error =
                BatchRequest::builder().service_root(bad).operation(Operation::get("WhoAmI")).build().unwrap_err();
            assert_eq!(invalid_kind(error), InvalidBatchKind::ServiceRoot);
        }
    }

    #[test]
    fn continue_on_error_is_a_flag_for_the_http_layer() {
        let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
        assert_eq!(batch.prefer_header(), None);
        assert!(!String::from_utf8_lossy(&batch.body()).contains("continue-on-error"));
    }
}
