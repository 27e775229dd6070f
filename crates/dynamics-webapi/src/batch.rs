//! `$batch`: many operations in one request, with atomic change sets.
//!
//! This module is the codec only; it does no I/O. A [`BatchRequest`] renders to the exact
//! `multipart/mixed` body to send as `POST <service root>$batch`, with its
//! [`content_type`](BatchRequest::content_type) and, when asked, `Prefer: odata.continue-on-error`
//! ([`prefer_header`](BatchRequest::prefer_header)). [`BatchRequest::parse_response`] reads the answer
//! back into one [`OperationOutcome`] per operation, in request order.
//!
//! - An [`Operation`] runs on its own: a `GET` or any write.
//! - A [`ChangeSet`] groups writes ([`ChangeSetOperation`], which has no `GET`) that are committed
//!   together or not at all. Each gets a Content-ID, and later operations of the same change set
//!   reference it as `$1` in their URL or in an `@odata.bind` value; references are checked before sending.
//! - Dataverse takes at most 1,000 operations per batch. [`BatchRequestBuilder::build`] refuses a batch
//!   over the caps of [`BatchLimits`] (operations and body bytes), [`BatchRequestBuilder::build_split`]
//!   splits the items into several batches, never splitting a change set.
//! - Every operation gets an outcome: answered, failed with its change set, not executed (Dataverse stops
//!   at the first failure without continue-on-error), or unknown (the answer was lost).
//!   [`RetryAdvice`] says whether the whole batch may be sent again.
//!
//! # Examples
//!
//! ```
//! use dynamics_webapi::batch::{BatchRequest, ChangeSet, ChangeSetOperation, Operation, PartOutcome};
//! use http::StatusCode;
//! use serde_json::json;
//!
//! let mut change_set = ChangeSet::new();
//! let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "Ana", "lastname": "Li"})));
//! change_set.push(ChangeSetOperation::post(
//!     "accounts",
//!     &json!({"name": "Fabrikam", "primarycontactid@odata.bind": contact.reference()}),
//! ));
//!
//! let batch = BatchRequest::builder()
//!     .change_set(change_set)
//!     .operation(Operation::get("accounts?$select=name&$top=1"))
//!     .build()?;
//! // Send `batch.body()` with `Content-Type: batch.content_type()`; read the answer:
//! let answer = "--batchresponse_7\r\n\
//!     Content-Type: multipart/mixed; boundary=changesetresponse_8\r\n\
//!     \r\n\
//!     --changesetresponse_8\r\n\
//!     Content-Type: application/http\r\n\
//!     Content-Transfer-Encoding: binary\r\n\
//!     Content-ID: 1\r\n\
//!     \r\n\
//!     HTTP/1.1 204 No Content\r\n\
//!     OData-EntityId: https://org.crm.dynamics.com/api/data/v9.2/contacts(00000000-0000-0000-0000-000000000011)\r\n\
//!     \r\n\
//!     \r\n\
//!     --changesetresponse_8\r\n\
//!     Content-Type: application/http\r\n\
//!     Content-Transfer-Encoding: binary\r\n\
//!     Content-ID: 2\r\n\
//!     \r\n\
//!     HTTP/1.1 204 No Content\r\n\
//!     OData-EntityId: https://org.crm.dynamics.com/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000012)\r\n\
//!     \r\n\
//!     \r\n\
//!     --changesetresponse_8--\r\n\
//!     --batchresponse_7\r\n\
//!     Content-Type: application/http\r\n\
//!     Content-Transfer-Encoding: binary\r\n\
//!     \r\n\
//!     HTTP/1.1 200 OK\r\n\
//!     Content-Type: application/json; odata.metadata=minimal\r\n\
//!     \r\n\
//!     {\"value\":[{\"name\":\"Fabrikam\"}]}\r\n\
//!     --batchresponse_7--\r\n";
//! let response = batch.parse_response(StatusCode::OK, "multipart/mixed; boundary=batchresponse_7", answer)?;
//!
//! assert!(response.is_success());
//! let [contact, account, query] = response.outcomes() else { panic!("one outcome per operation") };
//! assert_eq!(contact.content_id().map(|id| id.as_str()), Some("1"));
//! assert!(account.response().and_then(|part| part.entity_id()).is_some_and(|url| url.contains("accounts(")));
//! let PartOutcome::Answered(page) = query.outcome() else { panic!("the query was answered") };
//! assert_eq!(page.json::<serde_json::Value>()?["value"][0]["name"], "Fabrikam");
//! # Ok::<(), dynamics_webapi::batch::BatchError>(())
//! ```

mod changeset;
mod content_id;
mod error;
mod item;
mod method;
mod multipart;
mod odata_error;
mod operation;
mod part;
mod request;
mod response;
mod retry;
mod split;

pub use changeset::{ChangeSet, ChangeSetOperation};
pub use content_id::ContentId;
pub use error::{
    BatchError, DecodeError, InvalidBatch, InvalidBatchKind, LimitExceeded, LimitKind, MalformedKind, MalformedResponse,
};
pub use item::BatchItem;
pub use method::{Method, WriteMethod};
pub use odata_error::ODataError;
pub use operation::Operation;
pub use part::BatchPartResponse;
pub use request::{BatchRequest, BatchRequestBuilder, CONTINUE_ON_ERROR, DEFAULT_SERVICE_ROOT};
pub use response::{BatchResponse, OperationOutcome, PartOutcome};
pub use retry::RetryAdvice;
pub use split::BatchLimits;
