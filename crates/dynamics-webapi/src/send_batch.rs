//! Sending a `$batch`.

use http::{HeaderValue, Method};

use crate::batch::{BatchError, BatchRequest, BatchResponse};
use crate::client::Client;
use crate::entity_set::PREFER;
use crate::error::{Error, Result};
use crate::retry::Repeat;
use crate::transport::ApiRequest;

impl Client {
    /// Sends a batch and maps every part of the answer back to its operation.
    ///
    /// A whole-batch 429 is retried (nothing ran). A batch with operations outside change sets is not
    /// repeated after a timeout or a lost connection (some may have committed): its operations come back
    /// as [`PartOutcome::Unknown`](crate::batch::PartOutcome::Unknown) instead.
    ///
    /// ```no_run
    /// use dynamics_webapi::batch::{BatchRequest, ChangeSet, ChangeSetOperation, Operation};
    /// use serde_json::json;
    ///
    /// # async fn run(client: dynamics_webapi::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut change_set = ChangeSet::new();
    /// let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"lastname": "Doe"})));
    /// change_set.push(ChangeSetOperation::post(
    ///     "accounts",
    ///     &json!({"name": "Contoso", "primarycontactid@odata.bind": contact.reference()}),
    /// ));
    /// let batch = BatchRequest::builder().change_set(change_set).operation(Operation::get("WhoAmI")).build()?;
    /// let response = client.batch(&batch).await?;
    /// for outcome in response.outcomes() {
    ///     println!("{:?}", outcome.outcome());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As any request when the batch was refused as a whole; [`Error::Decode`] when the answer cannot be read.
    pub async fn batch(&self, batch: &BatchRequest) -> Result<BatchResponse> {
        let content_type = HeaderValue::from_str(&batch.content_type())
            .map_err(|_| Error::config("the batch content type is not valid header text"))?;
        let repeat = if batch.is_idempotent() { Repeat::Safe } else { Repeat::OnlyIfRefused };
        let mut request = ApiRequest::new(Method::POST, "$batch").raw_body(batch.body(), content_type).repeat(repeat);
        request.multipart_errors_are_answers = true;
        if let Some(prefer) = batch.prefer_header() {
            request = request.header(PREFER, prefer)?;
        }
        match self.execute(request).await {
            Ok(response) => {
                let status = http::StatusCode::from_u16(response.status).map_err(|_| {
                    Error::decode(format!("the batch answer's status {} is not valid", response.status), None)
                })?;
                let content_type =
                    response.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
                batch.parse_response(status, content_type, response.body.clone()).map_err(Error::from)
            }
            Err(error) if error.is_connect_failure() => Ok(BatchResponse::not_sent(batch)),
            Err(Error::Transport(_) | Error::Timeout(_)) => Ok(BatchResponse::unknown(batch)),
            Err(error) => Err(error),
        }
    }
}

impl From<BatchError> for Error {
    fn from(error: BatchError) -> Self {
        let malformed = error.is_malformed() || error.is_decode();
        let what = error.to_string();
        if malformed { Error::decode(what, Some(std::sync::Arc::new(error))) } else { Error::config(what) }
    }
}
