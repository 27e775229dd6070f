//! The answer to a batch: one outcome per operation, in request order.

use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::changeset::ChangeSet;
use super::content_id::ContentId;
use super::error::{BatchError, MalformedKind};
use super::item::BatchItem;
use super::multipart::{self, Part};
use super::odata_error::ODataError;
use super::part::BatchPartResponse;
use super::request::BatchRequest;
use super::retry::{self, RetryAdvice};

/// What became of one operation.
///
/// Every operation of a batch gets one, so none is silently missing.
///
/// ```
/// use dynamics_webapi::batch::PartOutcome;
///
/// # fn show(outcome: &PartOutcome) {
/// match outcome {
///     PartOutcome::Answered(part) if part.is_success() => println!("done: {}", part.status()),
///     PartOutcome::Answered(part) | PartOutcome::ChangeSetFailed(part) => println!("failed: {:?}", part.error()),
///     PartOutcome::NotExecuted => println!("not run: send it again"),
///     PartOutcome::Unknown => println!("may have run: check before sending again"),
///     _ => {}
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PartOutcome {
    /// The server answered this operation with its own response, a success or an error.
    Answered(BatchPartResponse),
    /// The operation's change set failed and was rolled back: nothing in it was committed.
    /// The response is the change set's error, which Dataverse sends once for the whole change set.
    ChangeSetFailed(BatchPartResponse),
    /// The operation did not run: an earlier one failed and the batch stopped (no continue-on-error),
    /// or the batch was refused as a whole, or never sent.
    NotExecuted,
    /// The operation may or may not have run: the answer was lost (timeout, connection reset,
    /// gateway error) or had no part for it.
    Unknown,
}

impl PartOutcome {
    /// Whether the operation ran and succeeded (a 2xx answer of its own).
    ///
    /// ```
    /// use dynamics_webapi::batch::PartOutcome;
    ///
    /// assert!(!PartOutcome::Unknown.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Answered(part) if part.is_success())
    }

    /// The response that decided the outcome: the operation's own, or its change set's error.
    ///
    /// ```
    /// use dynamics_webapi::batch::PartOutcome;
    ///
    /// assert!(PartOutcome::NotExecuted.response().is_none());
    /// ```
    pub fn response(&self) -> Option<&BatchPartResponse> {
        match self {
            Self::Answered(part) | Self::ChangeSetFailed(part) => Some(part),
            Self::NotExecuted | Self::Unknown => None,
        }
    }

    /// The OData error of a failed operation, or of its failed change set.
    ///
    /// ```
    /// use dynamics_webapi::batch::PartOutcome;
    ///
    /// assert!(PartOutcome::NotExecuted.error().is_none());
    /// ```
    pub fn error(&self) -> Option<ODataError> {
        self.response().and_then(BatchPartResponse::error)
    }
}

/// The outcome of one operation, and where the operation was in the request.
///
/// ```
/// use dynamics_webapi::batch::{BatchRequest, BatchResponse, Operation};
///
/// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
/// let lost = BatchResponse::unknown(&batch);
/// let outcome = &lost.outcomes()[0];
/// assert_eq!((outcome.item(), outcome.index_in_change_set(), outcome.content_id()), (0, None, None));
/// ```
#[derive(Debug, Clone)]
pub struct OperationOutcome {
    item: usize,
    index_in_change_set: Option<usize>,
    content_id: Option<ContentId>,
    outcome: PartOutcome,
}

impl OperationOutcome {
    /// The position of the operation's item in the list given to the builder
    /// (for a split batch, counted from the first item of the first batch).
    ///
    /// ```
    /// # use dynamics_webapi::batch::OperationOutcome;
    /// # fn show(outcome: &OperationOutcome) {
    /// println!("item {}", outcome.item());
    /// # }
    /// ```
    pub fn item(&self) -> usize {
        self.item
    }

    /// The position of the operation inside its change set, `None` outside change sets.
    ///
    /// ```
    /// # use dynamics_webapi::batch::OperationOutcome;
    /// # fn show(outcome: &OperationOutcome) {
    /// if let Some(index) = outcome.index_in_change_set() {
    ///     println!("operation {index} of change set {}", outcome.item());
    /// }
    /// # }
    /// ```
    pub fn index_in_change_set(&self) -> Option<usize> {
        self.index_in_change_set
    }

    /// The operation's Content-ID inside a change set.
    ///
    /// ```
    /// # use dynamics_webapi::batch::OperationOutcome;
    /// # fn show(outcome: &OperationOutcome) {
    /// println!("{:?}", outcome.content_id().map(|id| id.reference()));
    /// # }
    /// ```
    pub fn content_id(&self) -> Option<&ContentId> {
        self.content_id.as_ref()
    }

    /// What became of the operation.
    ///
    /// ```
    /// # use dynamics_webapi::batch::{OperationOutcome, PartOutcome};
    /// # fn show(outcome: &OperationOutcome) {
    /// let retry = matches!(outcome.outcome(), PartOutcome::NotExecuted);
    /// # let _ = retry;
    /// # }
    /// ```
    pub fn outcome(&self) -> &PartOutcome {
        &self.outcome
    }

    /// The outcome, by value.
    ///
    /// ```
    /// # use dynamics_webapi::batch::OperationOutcome;
    /// # fn show(outcome: OperationOutcome) {
    /// let owned = outcome.into_outcome();
    /// # let _ = owned;
    /// # }
    /// ```
    pub fn into_outcome(self) -> PartOutcome {
        self.outcome
    }

    /// Whether the operation ran and succeeded.
    ///
    /// ```
    /// # use dynamics_webapi::batch::OperationOutcome;
    /// # fn show(outcome: &OperationOutcome) {
    /// assert_eq!(outcome.is_success(), outcome.outcome().is_success());
    /// # }
    /// ```
    pub fn is_success(&self) -> bool {
        self.outcome.is_success()
    }

    /// The response that decided the outcome, if any.
    ///
    /// ```
    /// # use dynamics_webapi::batch::OperationOutcome;
    /// # fn show(outcome: &OperationOutcome) {
    /// if let Some(part) = outcome.response() {
    ///     println!("{}", part.status());
    /// }
    /// # }
    /// ```
    pub fn response(&self) -> Option<&BatchPartResponse> {
        self.outcome.response()
    }

    /// The OData error, if the operation or its change set failed.
    ///
    /// ```
    /// # use dynamics_webapi::batch::OperationOutcome;
    /// # fn show(outcome: &OperationOutcome) {
    /// if let Some(error) = outcome.error() {
    ///     eprintln!("item {}: {error}", outcome.item());
    /// }
    /// # }
    /// ```
    pub fn error(&self) -> Option<ODataError> {
        self.outcome.error()
    }
}

/// The answer to a [`BatchRequest`]: one [`OperationOutcome`] per operation, in request order, and
/// whether the batch may be sent again as a whole ([`RetryAdvice`]).
///
/// How parts map to operations:
///
/// - Parts answer items in order. An operation outside change sets gets its part as
///   [`Answered`](PartOutcome::Answered).
/// - A change set that succeeded answers with one part per operation, matched by Content-ID
///   (by position when the server sends none).
/// - A change set that failed answers with one error part; every operation of the change set gets it as
///   [`ChangeSetFailed`](PartOutcome::ChangeSetFailed), since none was committed. A change set answer
///   with both successes and an error is read the same way.
/// - Items without a part are [`NotExecuted`](PartOutcome::NotExecuted) when an earlier operation failed
///   and the batch was not continue-on-error (Dataverse stops at the first failure), and
///   [`Unknown`](PartOutcome::Unknown) otherwise.
/// - An answer that is not multipart refuses the whole batch ([`refusal`](Self::refusal)).
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{BatchRequest, Operation, PartOutcome};
/// use http::StatusCode;
/// use serde_json::json;
///
/// let batch = BatchRequest::builder()
///     .operation(Operation::post("tasks", &json!({"subject": "x".repeat(300)})))
///     .operation(Operation::post("tasks", &json!({"subject": "ok"})))
///     .build()?;
/// // Without continue-on-error, Dataverse stops at the first failure and answers 400.
/// let body = "--batchresponse_1\r\n\
///     Content-Type: application/http\r\n\
///     Content-Transfer-Encoding: binary\r\n\
///     \r\n\
///     HTTP/1.1 400 Bad Request\r\n\
///     Content-Type: application/json; odata.metadata=minimal\r\n\
///     \r\n\
///     {\"error\":{\"code\":\"0x80044331\",\"message\":\"A validation error occurred.\"}}\r\n\
///     --batchresponse_1--\r\n";
/// let response = batch.parse_response(StatusCode::BAD_REQUEST, "multipart/mixed; boundary=batchresponse_1", body)?;
///
/// let [first, second] = response.outcomes() else { panic!("one outcome per operation") };
/// assert_eq!(first.error().unwrap().code(), Some("0x80044331"));
/// assert!(matches!(second.outcome(), PartOutcome::NotExecuted));
/// # Ok::<(), dynamics_webapi::batch::BatchError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchResponse {
    status: Option<StatusCode>,
    refusal: Option<BatchPartResponse>,
    outcomes: Vec<OperationOutcome>,
    advice: RetryAdvice,
}

impl BatchResponse {
    pub(crate) fn parse(
        request: &BatchRequest,
        status: StatusCode,
        content_type: &str,
        body: Bytes,
    ) -> Result<Self, BatchError> {
        let Some(boundary) = multipart::boundary(content_type)? else {
            if status.is_success() {
                return Err(BatchError::malformed(
                    MalformedKind::UnexpectedContentType,
                    multipart::excerpt(content_type.as_bytes()),
                ));
            }
            return Ok(Self::refused(request, status, content_type, body));
        };
        let mut parts = multipart::split(&body, &boundary)?.into_iter();
        let mut outcomes = Vec::with_capacity(request.operation_count());
        let mut failed = false;
        for (index, item) in request.items().iter().enumerate() {
            let position = request.first_item() + index;
            let Some(part) = parts.next() else {
                let missing = || {
                    if failed && !request.is_continue_on_error() {
                        PartOutcome::NotExecuted
                    } else {
                        PartOutcome::Unknown
                    }
                };
                push_item(&mut outcomes, position, item, missing);
                continue;
            };
            match item {
                BatchItem::Operation(_) => {
                    if part.nested_boundary()?.is_some() {
                        return Err(BatchError::malformed(
                            MalformedKind::UnexpectedPart,
                            format!("a change set answer for the single operation at item {position}"),
                        ));
                    }
                    let response = BatchPartResponse::from_part(part)?;
                    failed |= !response.is_success();
                    outcomes.push(OperationOutcome {
                        item: position,
                        index_in_change_set: None,
                        content_id: None,
                        outcome: PartOutcome::Answered(response),
                    });
                }
                BatchItem::ChangeSet(change_set) => {
                    let results = change_set_outcomes(change_set, part, position)?;
                    failed |= results.iter().any(|outcome| matches!(outcome, PartOutcome::ChangeSetFailed(_)));
                    outcomes.extend(change_set.content_ids().zip(results).enumerate().map(|(index, (id, outcome))| {
                        OperationOutcome {
                            item: position,
                            index_in_change_set: Some(index),
                            content_id: Some(id.clone()),
                            outcome,
                        }
                    }));
                }
            }
        }
        if parts.next().is_some() {
            return Err(BatchError::malformed(
                MalformedKind::UnexpectedPart,
                format!("more parts than the {} items of the batch", request.items().len()),
            ));
        }
        Ok(Self { status: Some(status), refusal: None, outcomes, advice: RetryAdvice::PerOperation })
    }

    /// The batch was answered as a whole, without parts.
    fn refused(request: &BatchRequest, status: StatusCode, content_type: &str, body: Bytes) -> Self {
        let rule = retry::refusal(status, request.is_idempotent());
        let outcome = if rule.nothing_ran { PartOutcome::NotExecuted } else { PartOutcome::Unknown };
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(content_type) {
            headers.insert(CONTENT_TYPE, value);
        }
        Self {
            status: Some(status),
            refusal: Some(BatchPartResponse::whole(status, headers, body)),
            outcomes: all_outcomes(request, || outcome.clone()),
            advice: rule.advice,
        }
    }

    /// The outcome of a batch that was sent but whose answer never came: a timeout, a lost connection,
    /// a body cut short. Every operation is [`Unknown`](PartOutcome::Unknown), since any of them may have
    /// committed; only a batch without `POST` may be sent again.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, BatchResponse, Operation, PartOutcome, RetryAdvice};
    /// use serde_json::json;
    ///
    /// let batch = BatchRequest::builder()
    ///     .operation(Operation::post("tasks", &json!({"subject": "a"})))
    ///     .operation(Operation::get("WhoAmI"))
    ///     .build()?;
    /// let lost = BatchResponse::unknown(&batch);
    /// assert!(lost.outcomes().iter().all(|o| matches!(o.outcome(), PartOutcome::Unknown)));
    /// assert_eq!(lost.retry_advice(), RetryAdvice::Unsafe);
    /// assert_eq!(lost.status(), None);
    /// # Ok::<(), dynamics_webapi::batch::BatchError>(())
    /// ```
    pub fn unknown(request: &BatchRequest) -> Self {
        Self {
            status: None,
            refusal: None,
            outcomes: all_outcomes(request, || PartOutcome::Unknown),
            advice: retry::unknown(request.is_idempotent()),
        }
    }

    /// The outcome of a batch that was never sent (the connection could not be made): every operation is
    /// [`NotExecuted`](PartOutcome::NotExecuted) and the batch may be sent again.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, BatchResponse, Operation};
    /// use serde_json::json;
    ///
    /// let batch = BatchRequest::builder().operation(Operation::post("tasks", &json!({}))).build()?;
    /// assert!(BatchResponse::not_sent(&batch).may_retry_whole());
    /// # Ok::<(), dynamics_webapi::batch::BatchError>(())
    /// ```
    pub fn not_sent(request: &BatchRequest) -> Self {
        Self {
            status: None,
            refusal: None,
            outcomes: all_outcomes(request, || PartOutcome::NotExecuted),
            advice: RetryAdvice::RetryWhole,
        }
    }

    /// The status of the batch response, `None` when no answer came.
    ///
    /// Dataverse answers 200 when it ran every item, or when continue-on-error was asked; 400 with a
    /// multipart body when it stopped at a failure.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchResponse;
    /// # fn show(response: &BatchResponse) {
    /// println!("{:?}", response.status());
    /// # }
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The answer that refused the batch as a whole (not multipart), such as a 429 or the plain-text 400 of an
    /// undeclared Content-ID reference.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation, RetryAdvice};
    /// use http::StatusCode;
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build()?;
    /// let body = r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit."}}"#;
    /// let response = batch.parse_response(StatusCode::TOO_MANY_REQUESTS, "application/json", body)?;
    /// assert_eq!(response.refusal().and_then(|r| r.error()).unwrap().code(), Some("0x80072322"));
    /// assert_eq!(response.retry_advice(), RetryAdvice::RetryWhole);
    /// # Ok::<(), dynamics_webapi::batch::BatchError>(())
    /// ```
    pub fn refusal(&self) -> Option<&BatchPartResponse> {
        self.refusal.as_ref()
    }

    /// One outcome per operation, in request order (change set members in their order).
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchResponse;
    /// # fn show(response: &BatchResponse) {
    /// for outcome in response.outcomes() {
    ///     println!("{} {}", outcome.item(), outcome.is_success());
    /// }
    /// # }
    /// ```
    pub fn outcomes(&self) -> &[OperationOutcome] {
        &self.outcomes
    }

    /// The outcomes, by value.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchResponse;
    /// # fn show(response: BatchResponse) {
    /// let outcomes = response.into_outcomes();
    /// # let _ = outcomes;
    /// # }
    /// ```
    pub fn into_outcomes(self) -> Vec<OperationOutcome> {
        self.outcomes
    }

    /// The outcomes that are not a success: failed, in a failed change set, not executed or unknown.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchResponse;
    /// # fn show(response: &BatchResponse) {
    /// for outcome in response.failures() {
    ///     eprintln!("item {}: {:?}", outcome.item(), outcome.error());
    /// }
    /// # }
    /// ```
    pub fn failures(&self) -> impl Iterator<Item = &OperationOutcome> {
        self.outcomes.iter().filter(|outcome| !outcome.is_success())
    }

    /// Whether every operation ran and succeeded.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchResponse;
    /// # fn show(response: &BatchResponse) {
    /// assert_eq!(response.is_success(), response.failures().next().is_none());
    /// # }
    /// ```
    pub fn is_success(&self) -> bool {
        self.outcomes.iter().all(OperationOutcome::is_success)
    }

    /// Whether the batch may be sent again as a whole, and why (see [`RetryAdvice`]).
    ///
    /// ```
    /// # use dynamics_webapi::batch::{BatchResponse, RetryAdvice};
    /// # fn show(response: &BatchResponse) {
    /// if response.retry_advice() == RetryAdvice::Unsafe {
    ///     eprintln!("some writes may have committed: check before sending again");
    /// }
    /// # }
    /// ```
    pub fn retry_advice(&self) -> RetryAdvice {
        self.advice
    }

    /// Whether the same batch may be sent again unchanged.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchResponse;
    /// # fn show(response: &BatchResponse) {
    /// assert_eq!(response.may_retry_whole(), response.retry_advice().may_retry_whole());
    /// # }
    /// ```
    pub fn may_retry_whole(&self) -> bool {
        self.advice.may_retry_whole()
    }
}

/// One outcome for every operation of every item.
fn all_outcomes(request: &BatchRequest, outcome: impl Fn() -> PartOutcome) -> Vec<OperationOutcome> {
    let mut outcomes = Vec::with_capacity(request.operation_count());
    for (index, item) in request.items().iter().enumerate() {
        push_item(&mut outcomes, request.first_item() + index, item, &outcome);
    }
    outcomes
}

fn push_item(
    outcomes: &mut Vec<OperationOutcome>,
    position: usize,
    item: &BatchItem,
    outcome: impl Fn() -> PartOutcome,
) {
    match item {
        BatchItem::Operation(_) => {
            outcomes.push(OperationOutcome {
                item: position,
                index_in_change_set: None,
                content_id: None,
                outcome: outcome(),
            });
        }
        BatchItem::ChangeSet(change_set) => {
            outcomes.extend(change_set.content_ids().enumerate().map(|(index, id)| OperationOutcome {
                item: position,
                index_in_change_set: Some(index),
                content_id: Some(id.clone()),
                outcome: outcome(),
            }));
        }
    }
}

/// The outcomes of a change set's operations, in order, from the part that answers it.
fn change_set_outcomes(change_set: &ChangeSet, part: Part, position: usize) -> Result<Vec<PartOutcome>, BatchError> {
    let Some(boundary) = part.nested_boundary()? else {
        // One response for the whole change set: its error, or (for a change set of one) its answer.
        let response = BatchPartResponse::from_part(part)?;
        return match (response.is_success(), change_set.len()) {
            (false, size) => Ok(vec![PartOutcome::ChangeSetFailed(response); size]),
            (true, 1) => Ok(vec![PartOutcome::Answered(response)]),
            (true, size) => Err(BatchError::malformed(
                MalformedKind::UnexpectedPart,
                format!("one successful part for the change set of {size} operations at item {position}"),
            )),
        };
    };
    let mut slots: Vec<Option<BatchPartResponse>> = vec![None; change_set.len()];
    for (index, nested) in multipart::split(&part.body, &boundary)?.into_iter().enumerate() {
        let response = BatchPartResponse::from_part(nested)?;
        let slot = match response.content_id() {
            Some(id) => change_set.content_ids().position(|own| own.as_str() == id).ok_or_else(|| {
                BatchError::malformed(
                    MalformedKind::UnknownContentId,
                    format!("{id} in the change set at item {position}"),
                )
            })?,
            None => index,
        };
        match slots.get_mut(slot) {
            Some(free @ None) => *free = Some(response),
            _ => {
                return Err(BatchError::malformed(
                    MalformedKind::UnexpectedPart,
                    format!("a second answer for operation {slot} of the change set at item {position}"),
                ));
            }
        }
    }
    if let Some(error) = slots.iter().flatten().find(|response| !response.is_success()) {
        return Ok(vec![PartOutcome::ChangeSetFailed(error.clone()); change_set.len()]);
    }
    Ok(slots.into_iter().map(|slot| slot.map_or(PartOutcome::Unknown, PartOutcome::Answered)).collect())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use bytes::Bytes;
    use http::StatusCode;
    use serde_json::json;

    use super::{BatchResponse, PartOutcome};
    use crate::batch::{
        BatchError, BatchLimits, BatchRequest, ChangeSet, ChangeSetOperation, InvalidBatchKind, MalformedKind,
        Operation, RetryAdvice,
    };

    /// Microsoft's published batch samples, read in place. Fails loudly when the folder is missing.
    fn published_dir() -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata/msdocs/batch");
        assert!(
            dir.is_dir(),
            "the shared real-data folder is missing at {}: these tests read Microsoft's batch samples in place",
            dir.display()
        );
        dir
    }

    /// A published response: its status, a content type, and its body.
    ///
    /// The samples leave out the response's `Content-Type` header, so the boundary is taken from the first
    /// delimiter line of the body, as the header would give it.
    fn published(name: &str) -> (StatusCode, String, Bytes) {
        let path = published_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read the published response {}: {e}", path.display()));
        let (head, body) = text.split_once("\n\n").unwrap();
        let status_line = head.lines().next().unwrap();
        let status = StatusCode::from_bytes(status_line.split(' ').nth(1).unwrap().as_bytes()).unwrap();
        let boundary = body.lines().find_map(|line| line.strip_prefix("--")).unwrap().trim_end_matches('-');
        (status, format!("multipart/mixed; boundary={boundary}"), Bytes::from(body.to_owned()))
    }

    fn parse_published(name: &str, request: &BatchRequest) -> Result<BatchResponse, BatchError> {
        let (status, content_type, body) = published(name);
        request.parse_response(status, &content_type, body)
    }

    fn malformed_kind(result: Result<BatchResponse, BatchError>) -> MalformedKind {
        match result {
            Err(BatchError::Malformed(malformed)) => malformed.kind(),
            other => panic!("expected a malformed response, got {other:?}"),
        }
    }

    fn task(subject: &str) -> serde_json::Value {
        json!({
            "subject": subject,
            "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
        })
    }

    const QUERY: &str = "accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject";

    /// The requests behind the published responses, as this module builds them.
    fn request_for(name: &str) -> BatchRequest {
        let builder = BatchRequest::builder();
        let builder = match name {
            "01-batch-no-changeset.response.http" => builder
                .operations((1..=3).map(|n| Operation::post("tasks", &task(&format!("Task {n} in batch")))))
                .operation(Operation::get(QUERY)),
            "02-batch-changeset.response.http" => builder
                .change_set(
                    (1..=3).map(|n| ChangeSetOperation::post("tasks", &task(&format!("Task {n} in batch")))).collect(),
                )
                .operation(Operation::get(QUERY)),
            "03-batch-contentid-ref-body.response.http" => {
                let mut change_set = ChangeSet::new();
                let lead = change_set.push(ChangeSetOperation::post(
                    "leads",
                    &json!({"firstname": "first name", "lastname": "last name"}),
                ));
                let contact =
                    change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "first name"})));
                change_set.push(ChangeSetOperation::post(
                    "accounts",
                    &json!({"name": "IcM Account", "originatingleadid@odata.bind": lead.reference(), "primarycontactid@odata.bind": contact.reference()}),
                ));
                builder.change_set(change_set)
            }
            "04-batch-contentid-ref-url-put.response.http" => {
                let mut change_set = ChangeSet::new();
                let contact = change_set
                    .push(ChangeSetOperation::post("contacts", &json!({"firstname": "Joe", "lastname": "Smith"})));
                change_set.push(ChangeSetOperation::put(
                    format!("{}/lastname", contact.reference()),
                    &json!({"value": "Doe"}),
                ));
                builder.change_set(change_set)
            }
            "05-batch-error-no-continue.response.http" => builder
                .operation(Operation::post("tasks", &task(&"x".repeat(201))))
                .operations((2..=3).map(|n| Operation::post("tasks", &task(&format!("Task {n} in batch"))))),
            "07-batch-continue-on-error.response.http" => builder
                .operation(Operation::post("tasks", &task(&"x".repeat(201))))
                .operations((2..=3).map(|n| Operation::post("tasks", &task(&format!("Task {n} in batch")))))
                .continue_on_error(true),
            other => panic!("no request for the published response {other}: add one to request_for"),
        };
        builder.build().unwrap()
    }

    const MULTIPART_RESPONSES: [&str; 6] = [
        "01-batch-no-changeset.response.http",
        "02-batch-changeset.response.http",
        "03-batch-contentid-ref-body.response.http",
        "04-batch-contentid-ref-url-put.response.http",
        "05-batch-error-no-continue.response.http",
        "07-batch-continue-on-error.response.http",
    ];

    #[test]
    fn every_published_response_is_covered() {
        let mut names: Vec<String> = std::fs::read_dir(published_dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".response."))
            .collect();
        names.sort();
        let mut covered: Vec<&str> = MULTIPART_RESPONSES.to_vec();
        covered.push("06-contentid-undeclared.response.txt");
        covered.sort_unstable();
        assert_eq!(names, covered, "a published response is not read by these tests");
    }

    #[test]
    fn every_published_multipart_response_is_read_with_one_outcome_per_operation() {
        for name in MULTIPART_RESPONSES {
            let request = request_for(name);
            let response = parse_published(name, &request).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(response.outcomes().len(), request.operation_count(), "{name}");
            assert_eq!(response.retry_advice(), RetryAdvice::PerOperation, "{name}");
            for outcome in response.outcomes() {
                if let Some(part) = outcome.response().filter(|part| !part.body().is_empty()) {
                    part.json::<serde_json::Value>().unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }
        }
    }

    #[test]
    fn published_responses_read_the_same_with_crlf_line_ends() {
        for name in MULTIPART_RESPONSES {
            let request = request_for(name);
            let (status, content_type, body) = published(name);
            let crlf = String::from_utf8(body.to_vec()).unwrap().replace('\n', "\r\n");
            let lf = request.parse_response(status, &content_type, body).unwrap();
            let crlf = request.parse_response(status, &content_type, crlf).unwrap();
            let summary = |response: &BatchResponse| {
                response
                    .outcomes()
                    .iter()
                    .map(|o| {
                        let part =
                            o.response().map(|p| (p.status(), p.headers().clone(), p.json::<serde_json::Value>().ok()));
                        (part, o.is_success())
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(summary(&lf), summary(&crlf), "{name}");
        }
    }

    #[test]
    fn batch_without_change_set_maps_parts_by_position() {
        let response =
            parse_published("01-batch-no-changeset.response.http", &request_for("01-batch-no-changeset.response.http"))
                .unwrap();
        assert!(response.is_success());
        assert_eq!(response.status(), Some(StatusCode::OK));
        let ids: Vec<_> = response.outcomes()[..3].iter().map(|o| o.response().unwrap().entity_id().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "[Organization Uri]/api/data/v9.2/tasks(d31ba648-c592-ed11-aad1-000d3a993550)",
                "[Organization Uri]/api/data/v9.2/tasks(d41ba648-c592-ed11-aad1-000d3a993550)",
                "[Organization Uri]/api/data/v9.2/tasks(d51ba648-c592-ed11-aad1-000d3a993550)",
            ]
        );
        let query = &response.outcomes()[3];
        assert_eq!((query.item(), query.index_in_change_set()), (3, None));
        let page: serde_json::Value = query.response().unwrap().json().unwrap();
        assert_eq!(page["value"].as_array().unwrap().len(), 3);
        assert_eq!(page["value"][2]["subject"], "Task 3 in batch");
    }

    #[test]
    fn change_set_parts_are_matched_by_content_id() {
        let response =
            parse_published("02-batch-changeset.response.http", &request_for("02-batch-changeset.response.http"))
                .unwrap();
        assert!(response.is_success());
        let outcomes = response.outcomes();
        for (index, outcome) in outcomes[..3].iter().enumerate() {
            assert_eq!((outcome.item(), outcome.index_in_change_set()), (0, Some(index)));
            let id = outcome.content_id().unwrap().as_str();
            let part = outcome.response().unwrap();
            assert_eq!(part.content_id(), Some(id));
            assert_eq!(part.status(), StatusCode::NO_CONTENT);
        }
        assert!(
            outcomes[0]
                .response()
                .unwrap()
                .entity_id()
                .unwrap()
                .ends_with("tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)")
        );
        assert!(
            outcomes[2]
                .response()
                .unwrap()
                .entity_id()
                .unwrap()
                .ends_with("tasks(e93ffc82-e292-ed11-aad1-000d3a9933c9)")
        );
        assert_eq!(outcomes[3].item(), 1);
        assert_eq!(
            outcomes[3].response().unwrap().json::<serde_json::Value>().unwrap()["value"][0]["subject"],
            "Task 1 in batch"
        );
    }

    #[test]
    fn references_in_bodies_and_urls_come_back_per_operation() {
        let body = parse_published(
            "03-batch-contentid-ref-body.response.http",
            &request_for("03-batch-contentid-ref-body.response.http"),
        )
        .unwrap();
        let created: Vec<_> = body.outcomes().iter().map(|o| o.response().unwrap().entity_id().unwrap()).collect();
        assert_eq!(
            created,
            [
                "[Organization URI]/api/data/v9.2/leads(425195a4-7a75-e911-a97a-000d3a34a1bd)",
                "[Organization URI]/api/data/v9.2/contacts(495195a4-7a75-e911-a97a-000d3a34a1bd)",
                "[Organization URI]/api/data/v9.2/accounts(4f5195a4-7a75-e911-a97a-000d3a34a1bd)",
            ]
        );
        let url = parse_published(
            "04-batch-contentid-ref-url-put.response.http",
            &request_for("04-batch-contentid-ref-url-put.response.http"),
        )
        .unwrap();
        assert!(url.is_success());
        let [create, put] = url.outcomes() else { panic!("two operations") };
        assert_eq!(
            create.response().unwrap().entity_id(),
            Some("[Organization URI]/api/data/v9.2/contacts(f8ea5d2c-8c75-e911-a97a-000d3a34a1bd)")
        );
        assert_eq!(put.response().unwrap().entity_id(), None);
    }

    #[test]
    fn without_continue_on_error_operations_after_the_failure_are_not_executed() {
        let request = request_for("05-batch-error-no-continue.response.http");
        let response = parse_published("05-batch-error-no-continue.response.http", &request).unwrap();
        assert_eq!(response.status(), Some(StatusCode::BAD_REQUEST));
        let [failed, second, third] = response.outcomes() else { panic!("three operations") };
        let part = failed.response().unwrap();
        assert_eq!(part.status(), StatusCode::BAD_REQUEST);
        assert_eq!(part.header("REQ_ID"), Some("5ecd1cb3-1730-4ffc-909c-d44c22270026"));
        let error = failed.error().unwrap();
        assert_eq!(error.code(), Some("0x80044331"));
        assert!(error.message().contains("exceeded the maximum allowed length of '200'"));
        assert!(matches!(second.outcome(), PartOutcome::NotExecuted));
        assert!(matches!(third.outcome(), PartOutcome::NotExecuted));
        assert_eq!(response.failures().count(), 3);
    }

    #[test]
    fn with_continue_on_error_later_operations_run() {
        let request = request_for("07-batch-continue-on-error.response.http");
        assert_eq!(request.prefer_header(), Some("odata.continue-on-error"));
        let response = parse_published("07-batch-continue-on-error.response.http", &request).unwrap();
        assert_eq!(response.status(), Some(StatusCode::OK));
        let results: Vec<_> = response.outcomes().iter().map(|o| o.is_success()).collect();
        assert_eq!(results, [false, true, true]);
        assert_eq!(response.outcomes()[0].error().unwrap().code(), Some("0x80044331"));
        assert!(
            response.outcomes()[2]
                .response()
                .unwrap()
                .entity_id()
                .unwrap()
                .contains("b181a991-3c94-ed11-aad1-000d3a9933c9")
        );
    }

    #[test]
    fn undeclared_reference_is_refused_before_sending_and_its_answer_is_read() {
        // The published answer: Dataverse refuses the whole batch, in plain text, when a `$1` reference has no
        // Content-ID before it in the same change set. The builder refuses such a batch before it is sent.
        let path = published_dir().join("06-contentid-undeclared.response.txt");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (status_line, message) = text.split_once('\n').unwrap();
        assert_eq!(status_line, "HTTP 400 Bad Request");

        let outside = BatchRequest::builder()
            .operation(Operation::post("accounts", &json!({"primarycontactid@odata.bind": "$1"})))
            .build()
            .unwrap_err();
        assert!(matches!(&outside, BatchError::Invalid(i) if i.kind() == InvalidBatchKind::ReferenceOutsideChangeSet));
        let mut change_set = ChangeSet::new();
        change_set.push(ChangeSetOperation::put("$1/lastname", &json!({"value": "Doe"})));
        let undeclared = BatchRequest::builder().change_set(change_set).build().unwrap_err();
        assert!(
            matches!(&undeclared, BatchError::Invalid(i) if i.kind() == InvalidBatchKind::UndeclaredReference && i.input() == "$1")
        );

        let request = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
        let response =
            request.parse_response(StatusCode::BAD_REQUEST, "text/plain; charset=utf-8", message.to_owned()).unwrap();
        let refusal = response.refusal().unwrap().error().unwrap();
        assert_eq!(refusal.code(), None);
        assert_eq!(refusal.message(), "Content-ID Reference: '$1' does not exist in the batch context.");
        assert!(matches!(response.outcomes()[0].outcome(), PartOutcome::NotExecuted));
        assert_eq!(response.retry_advice(), RetryAdvice::DoNotRetry);
    }

    #[test]
    fn every_truncation_of_a_published_response_is_an_error_not_a_panic() {
        for name in MULTIPART_RESPONSES {
            let request = request_for(name);
            let (status, content_type, body) = published(name);
            let close = body.windows(2).rposition(|w| w == b"--").unwrap() + 2;
            for cut in 0..close {
                let result = request.parse_response(status, &content_type, body.slice(..cut));
                assert!(result.is_err(), "{name} cut at {cut} was accepted");
            }
            assert!(request.parse_response(status, &content_type, body.slice(..close)).is_ok(), "{name}");
        }
    }

    #[test]
    fn mutated_published_responses_never_panic() {
        for name in MULTIPART_RESPONSES {
            let request = request_for(name);
            let (status, content_type, body) = published(name);
            for position in 0..body.len() {
                for replacement in [b'\n', b'-', b'x', b':', 0xff] {
                    let mut mutated = body.to_vec();
                    mutated[position] = replacement;
                    let _ = request.parse_response(status, &content_type, mutated);
                }
            }
        }
    }

    #[test]
    fn bad_status_line_is_a_typed_error() {
        let name = "02-batch-changeset.response.http";
        let (status, content_type, body) = published(name);
        let broken =
            String::from_utf8(body.to_vec()).unwrap().replacen("HTTP/1.1 204 No Content", "HTTP/1.1 No Content", 1);
        let result = request_for(name).parse_response(status, &content_type, broken);
        assert_eq!(malformed_kind(result), MalformedKind::BadStatusLine);
    }

    #[test]
    fn missing_boundary_is_a_typed_error() {
        let name = "01-batch-no-changeset.response.http";
        let (status, _, body) = published(name);
        let result = request_for(name).parse_response(status, "multipart/mixed", body.clone());
        assert_eq!(malformed_kind(result), MalformedKind::MissingBoundary);
        let result = request_for(name).parse_response(status, "multipart/mixed; boundary=other", body);
        assert_eq!(malformed_kind(result), MalformedKind::BoundaryNotFound);
    }

    #[test]
    fn invalid_json_in_a_part_fails_only_in_the_json_accessor() {
        let name = "01-batch-no-changeset.response.http";
        let (status, content_type, body) = published(name);
        let broken = String::from_utf8(body.to_vec()).unwrap().replacen("\"value\": [", "\"value\": [,", 1);
        let response = request_for(name).parse_response(status, &content_type, broken).unwrap();
        let query = response.outcomes()[3].response().unwrap();
        assert!(query.is_success());
        assert!(matches!(query.json::<serde_json::Value>(), Err(BatchError::Decode(_))));
    }

    #[test]
    fn successful_answer_must_be_multipart() {
        let request = request_for("01-batch-no-changeset.response.http");
        let result = request.parse_response(StatusCode::OK, "application/json", "{}");
        assert_eq!(malformed_kind(result), MalformedKind::UnexpectedContentType);
    }

    fn change_set_then_query(continue_on_error: bool) -> BatchRequest {
        let creates: ChangeSet = (1..=3).map(|n| ChangeSetOperation::post("tasks", &task(&format!("T{n}")))).collect();
        BatchRequest::builder()
            .change_set(creates)
            .operation(Operation::get(QUERY))
            .continue_on_error(continue_on_error)
            .build()
            .unwrap()
    }

    const CHANGE_SET_ERROR: &str = "--batchresponse_1\r\n\
        Content-Type: application/http\r\n\
        Content-Transfer-Encoding: binary\r\n\
        \r\n\
        HTTP/1.1 400 Bad Request\r\n\
        Content-Type: application/json; odata.metadata=minimal\r\n\
        \r\n\
        {\"error\":{\"code\":\"0x80040217\",\"message\":\"account With Id = 1 Does Not Exist\"}}\r\n";

    #[test]
    fn failed_change_set_fails_every_operation_and_stops_the_batch() {
        let body = format!("{CHANGE_SET_ERROR}--batchresponse_1--\r\n");
        let response = change_set_then_query(false)
            .parse_response(StatusCode::BAD_REQUEST, "multipart/mixed; boundary=batchresponse_1", body)
            .unwrap();
        let outcomes = response.outcomes();
        assert_eq!(outcomes.len(), 4);
        for outcome in &outcomes[..3] {
            assert!(matches!(outcome.outcome(), PartOutcome::ChangeSetFailed(_)));
            assert_eq!(outcome.error().unwrap().code(), Some("0x80040217"));
        }
        assert_eq!(
            outcomes.iter().filter_map(|o| o.content_id()).map(|id| id.as_str()).collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
        assert!(matches!(outcomes[3].outcome(), PartOutcome::NotExecuted));
    }

    #[test]
    fn failed_change_set_with_continue_on_error_lets_the_rest_run() {
        let body = format!(
            "{CHANGE_SET_ERROR}--batchresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{{\"value\":[]}}\r\n--batchresponse_1--\r\n"
        );
        let response = change_set_then_query(true)
            .parse_response(StatusCode::OK, "multipart/mixed; boundary=batchresponse_1", body)
            .unwrap();
        let results: Vec<_> = response.outcomes().iter().map(|o| o.is_success()).collect();
        assert_eq!(results, [false, false, false, true]);
    }

    fn nested(parts: &[(&str, &str)]) -> String {
        let mut body =
            String::from("--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n");
        for (id, status) in parts {
            body.push_str(&format!(
                "--changesetresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {id}\r\n\r\nHTTP/1.1 {status}\r\n\r\n\r\n"
            ));
        }
        body.push_str("--changesetresponse_1--\r\n--batchresponse_1--\r\n");
        body
    }

    fn parse_nested(parts: &[(&str, &str)]) -> Result<BatchResponse, BatchError> {
        let creates: ChangeSet = (1..=3).map(|n| ChangeSetOperation::post("tasks", &task(&format!("T{n}")))).collect();
        let request = BatchRequest::builder().change_set(creates).build().unwrap();
        request.parse_response(StatusCode::OK, "multipart/mixed; boundary=batchresponse_1", nested(parts))
    }

    #[test]
    fn change_set_parts_out_of_order_are_matched_by_content_id() {
        let response = parse_nested(&[("3", "201 Created"), ("1", "204 No Content"), ("2", "200 OK")]).unwrap();
        let statuses: Vec<_> = response.outcomes().iter().map(|o| o.response().unwrap().status().as_u16()).collect();
        assert_eq!(statuses, [204, 200, 201]);
    }

    #[test]
    fn an_error_inside_a_change_set_answer_fails_the_whole_change_set() {
        let response = parse_nested(&[("1", "204 No Content"), ("2", "412 Precondition Failed")]).unwrap();
        for outcome in response.outcomes() {
            let PartOutcome::ChangeSetFailed(part) = outcome.outcome() else { panic!("expected a failed change set") };
            assert_eq!((part.status(), part.content_id()), (StatusCode::PRECONDITION_FAILED, Some("2")));
        }
    }

    #[test]
    fn change_set_operation_without_answer_is_unknown() {
        let response = parse_nested(&[("1", "204 No Content"), ("2", "204 No Content")]).unwrap();
        assert!(matches!(response.outcomes()[2].outcome(), PartOutcome::Unknown));
        assert!(!response.is_success());
    }

    #[test]
    fn unknown_or_repeated_content_ids_are_typed_errors() {
        assert_eq!(malformed_kind(parse_nested(&[("9", "204 No Content")])), MalformedKind::UnknownContentId);
        assert_eq!(
            malformed_kind(parse_nested(&[("1", "204 No Content"), ("1", "204 No Content")])),
            MalformedKind::UnexpectedPart
        );
    }

    #[test]
    fn parts_without_content_id_are_matched_by_position() {
        let body = nested(&[("1", "204 No Content"), ("2", "201 Created"), ("3", "200 OK")])
            .replace("Content-ID: 1\r\n", "")
            .replace("Content-ID: 3\r\n", "");
        let creates: ChangeSet = (1..=3).map(|n| ChangeSetOperation::post("tasks", &task(&format!("T{n}")))).collect();
        let request = BatchRequest::builder().change_set(creates).build().unwrap();
        let response =
            request.parse_response(StatusCode::OK, "multipart/mixed; boundary=batchresponse_1", body).unwrap();
        let statuses: Vec<_> = response.outcomes().iter().map(|o| o.response().unwrap().status().as_u16()).collect();
        assert_eq!(statuses, [204, 201, 200]);
    }

    #[test]
    fn parts_that_do_not_fit_the_request_are_typed_errors() {
        let request = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
        let two = "--b\r\n\r\nHTTP/1.1 200 OK\r\n\r\n--b\r\n\r\nHTTP/1.1 200 OK\r\n\r\n--b--";
        assert_eq!(
            malformed_kind(request.parse_response(StatusCode::OK, "multipart/mixed; boundary=b", two)),
            MalformedKind::UnexpectedPart
        );
        assert_eq!(
            malformed_kind(request.parse_response(
                StatusCode::OK,
                "multipart/mixed; boundary=batchresponse_1",
                nested(&[])
            )),
            MalformedKind::UnexpectedPart
        );
        let change_set = change_set_then_query(false);
        let single_success = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n--b--";
        assert_eq!(
            malformed_kind(change_set.parse_response(StatusCode::OK, "multipart/mixed; boundary=b", single_success)),
            MalformedKind::UnexpectedPart
        );
    }

    #[test]
    fn missing_parts_without_a_failure_are_unknown() {
        let request =
            BatchRequest::builder().operations([Operation::get("WhoAmI"), Operation::get("accounts")]).build().unwrap();
        let one = "--b\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--b--";
        let response = request.parse_response(StatusCode::OK, "multipart/mixed; boundary=b", one).unwrap();
        assert!(response.outcomes()[0].is_success());
        assert!(matches!(response.outcomes()[1].outcome(), PartOutcome::Unknown));
    }

    #[test]
    fn throttled_batch_did_not_run_and_may_be_retried_whole() {
        let request = change_set_then_query(false);
        let body = r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}"#;
        let response =
            request.parse_response(StatusCode::TOO_MANY_REQUESTS, "application/json; charset=utf-8", body).unwrap();
        assert!(response.may_retry_whole());
        assert_eq!(response.outcomes().len(), 4);
        assert!(response.outcomes().iter().all(|o| matches!(o.outcome(), PartOutcome::NotExecuted)));
        assert_eq!(response.refusal().unwrap().error().unwrap().code(), Some("0x80072322"));
    }

    #[test]
    fn gateway_error_or_lost_answer_leaves_writes_unknown_and_unsafe() {
        let writes = change_set_then_query(false);
        let gateway = writes.parse_response(StatusCode::GATEWAY_TIMEOUT, "text/html", "<html>504</html>").unwrap();
        let lost = BatchResponse::unknown(&writes);
        for response in [&gateway, &lost] {
            assert_eq!(response.retry_advice(), RetryAdvice::Unsafe);
            assert_eq!(response.outcomes().len(), 4);
            assert!(response.outcomes().iter().all(|o| matches!(o.outcome(), PartOutcome::Unknown)));
        }
        let reads = BatchRequest::builder()
            .operations([Operation::get("WhoAmI"), Operation::delete("tasks(1)")])
            .build()
            .unwrap();
        assert_eq!(BatchResponse::unknown(&reads).retry_advice(), RetryAdvice::RetryWhole);
        assert!(BatchResponse::not_sent(&writes).may_retry_whole());
    }

    #[test]
    fn outcomes_of_a_split_batch_name_items_of_the_whole_list() {
        let batches = BatchRequest::builder()
            .limits(BatchLimits::new().max_operations(2))
            .operations((0..3).map(|i| Operation::get(format!("tasks({i})"))))
            .build_split()
            .unwrap();
        let second = &batches[1];
        let body = "--b\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--b--";
        let response = second.parse_response(StatusCode::OK, "multipart/mixed; boundary=b", body).unwrap();
        assert_eq!(response.outcomes()[0].item(), 2);
        assert_eq!(BatchResponse::unknown(second).outcomes()[0].item(), 2);
    }
}
