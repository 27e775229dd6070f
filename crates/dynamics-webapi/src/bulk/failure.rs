//! What a failed chunk means for its records: split it, fall back to single requests, or give up on it.

use serde::Deserialize;
use uuid::Uuid;

use crate::error::Error;

/// The error annotation with the status of each record of an elastic table's bulk request
/// (the SDK's `Plugin.BulkApiErrorDetails`, sent when the request prefers `Microsoft.PowerApps.CDS.ErrorDetails.*`
/// annotations): `[{"RequestIndex":0,"Id":"…","StatusCode":200}, …]`.
pub(crate) const BULK_ERROR_DETAILS: &str = "@Microsoft.PowerApps.CDS.ErrorDetails.Plugin.BulkApiErrorDetails";

/// The preference that asks for those annotations on every bulk request.
pub(crate) const PREFER_ERROR_DETAILS: &str = "odata.include-annotations=\"Microsoft.PowerApps.CDS.ErrorDetails.*\"";

#[derive(Deserialize)]
struct BulkApiErrorDetail {
    #[serde(rename = "RequestIndex")]
    request_index: usize,
    #[serde(rename = "Id", default)]
    id: Option<String>,
    #[serde(rename = "StatusCode")]
    status: u16,
}

/// One record's status in a partly successful chunk: its position in the chunk, whether it was written, its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartialStatus {
    pub(crate) position: usize,
    pub(crate) written: bool,
    pub(crate) id: Option<Uuid>,
}

/// The per-record statuses of a failed chunk that partly succeeded (elastic tables), when the error names them.
/// Such a chunk is never split or sent again: some of its records are written.
pub(crate) fn partial_statuses(error: &Error) -> Option<Vec<PartialStatus>> {
    let text = error.service_error()?.details().get(BULK_ERROR_DETAILS)?;
    let details: Vec<BulkApiErrorDetail> = serde_json::from_str(text).ok()?;
    Some(
        details
            .into_iter()
            .map(|detail| PartialStatus {
                position: detail.request_index,
                written: (200..300).contains(&detail.status),
                id: detail.id.as_deref().and_then(|id| Uuid::parse_str(id).ok()),
            })
            .collect(),
    )
}

/// How a chunk that failed as a whole is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkFailure {
    /// Too large or too slow for the server (HTTP 413, "Message size exceeded …", SQL timeout):
    /// nothing was written; shrink the chunk size and send the records again in smaller chunks.
    TooLarge,
    /// An error answer caused by (at least) one record: the transaction rolled back, nothing was written;
    /// split to find the record.
    Rejected,
    /// The table does not support this `…Multiple` message: send each record as a single request.
    Unsupported,
    /// Nothing in the chunk can work (authentication, permissions, an unknown entity set, throttling that
    /// outlasted the retry policy): fail every record, without splitting.
    Fatal,
    /// No answer: the chunk may have been written; it is never sent again.
    Unknown,
}

/// `0x80040216` with "Message size exceeded when sending context to Sandbox".
const UNEXPECTED: &str = "0x80040216";
/// `0x80044151` (-2147204783): "Sql error: SQL timeout expired" (the batch took too long).
const SQL_TIMEOUT: &str = "0x80044151";
/// "Resource not found for the segment …" (no such entity set or action): Microsoft's troubleshooting page shows
/// `0x8006088a`, and answers quoted from real orgs also carry `0x80060888`.
const NO_SUCH_RESOURCE: [&str; 2] = ["0x8006088a", "0x80060888"];

pub(crate) fn classify(error: &Error) -> ChunkFailure {
    // An earlier attempt got no answer: whatever the last one got (a 429, a 503), the chunk may be written.
    if error.is_outcome_unknown() {
        return ChunkFailure::Unknown;
    }
    let Some(service) = error.service_error() else {
        return match error {
            Error::Transport(_) | Error::Timeout(_) | Error::Decode(_) => ChunkFailure::Unknown,
            _ => ChunkFailure::Fatal,
        };
    };
    let code = service.code().to_ascii_lowercase();
    let message = service.message().to_ascii_lowercase();
    match service.status() {
        413 => ChunkFailure::TooLarge,
        _ if code == UNEXPECTED && message.contains("message size exceeded") => ChunkFailure::TooLarge,
        _ if code == SQL_TIMEOUT => ChunkFailure::TooLarge,
        _ if message.contains("has not yet been implemented")
            || (message.contains("multiple") && message.contains("does not support entities")) =>
        {
            ChunkFailure::Unsupported
        }
        401 | 403 | 405 | 429 => ChunkFailure::Fatal,
        404 if NO_SUCH_RESOURCE.contains(&code.as_str()) || code.is_empty() => ChunkFailure::Fatal,
        // A gateway timeout: the request may have run to the end.
        502..=504 => ChunkFailure::Unknown,
        _ => ChunkFailure::Rejected,
    }
}

/// True when a timeout or a slow answer says the chunk should have been smaller.
pub(crate) fn suggests_smaller_chunks(error: &Error) -> bool {
    error.is_timeout() || error.status() == Some(504)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ServiceError, TransportError};

    fn service(status: u16, code: &str, message: &str) -> Error {
        Error::Service(Box::new(ServiceError {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            details: Default::default(),
            target: None,
            error_details: Vec::new(),
            inner_error: None,
            method: "POST".to_owned(),
            path: "accounts/Microsoft.Dynamics.CRM.CreateMultiple".to_owned(),
            request_id: None,
            retry_after: None,
            precondition: None,
            hint: None,
            outcome_unknown: false,
        }))
    }

    #[test]
    fn a_refusal_after_a_lost_answer_leaves_the_chunk_unknown() {
        let refused = service(429, "0x80072322", "Number of requests exceeded the limit");
        assert_eq!(classify(&refused), ChunkFailure::Fatal);
        assert_eq!(classify(&refused.with_outcome_unknown()), ChunkFailure::Unknown);
    }

    #[test]
    fn size_and_time_errors_shrink_record_errors_split_and_silence_is_never_repeated() {
        let cases = [
            (service(413, "", "Request Entity Too Large"), ChunkFailure::TooLarge),
            (
                service(400, "0x80040216", "Message size exceeded when sending context to Sandbox."),
                ChunkFailure::TooLarge,
            ),
            (service(500, "0x80044151", "Sql error: SQL timeout expired."), ChunkFailure::TooLarge),
            (service(400, "0x80040216", "An unexpected error occurred."), ChunkFailure::Rejected),
            (service(400, "0x80040265", "A plug-in refused the record."), ChunkFailure::Rejected),
            (service(404, "0x80040217", "Contact With Ids = 1 Do Not Exist"), ChunkFailure::Rejected),
            (service(400, "0x80040216", "DeleteMultiple has not yet been implemented."), ChunkFailure::Unsupported),
            (service(404, "0x80060888", "Resource not found for the segment 'acounts'."), ChunkFailure::Fatal),
            (service(404, "0x8006088a", "Resource not found for the segment 'Account'."), ChunkFailure::Fatal),
            (service(403, "0x80040220", "missing privilege"), ChunkFailure::Fatal),
            (service(429, "0x80072322", "Number of requests exceeded the limit"), ChunkFailure::Fatal),
            (service(504, "", "gateway timeout"), ChunkFailure::Unknown),
            (Error::Timeout(TransportError::new("POST", "accounts", None)), ChunkFailure::Unknown),
            (Error::Transport(TransportError::new("POST", "accounts", None)), ChunkFailure::Unknown),
            (Error::config("bad"), ChunkFailure::Fatal),
        ];
        for (error, expected) in cases {
            assert_eq!(classify(&error), expected, "{error}");
        }
        assert!(suggests_smaller_chunks(&service(504, "", "")));
        let Error::Service(mut partial) = service(400, "0x80040265", "one failed") else { unreachable!() };
        let id = "6114ca58-0928-ee11-9965-6045bd5cd155";
        partial.details.insert(
            BULK_ERROR_DETAILS.to_owned(),
            format!(r#"[{{"RequestIndex":0,"Id":"{id}","StatusCode":200}},{{"RequestIndex":1,"StatusCode":400}}]"#),
        );
        let statuses = partial_statuses(&Error::Service(partial)).unwrap();
        assert_eq!(
            statuses,
            [
                PartialStatus { position: 0, written: true, id: Some(Uuid::parse_str(id).unwrap()) },
                PartialStatus { position: 1, written: false, id: None },
            ]
        );
        assert_eq!(partial_statuses(&service(400, "", "")), None);
        assert!(!suggests_smaller_chunks(&service(400, "", "")));
    }
}
