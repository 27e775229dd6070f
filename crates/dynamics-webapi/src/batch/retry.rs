//! The failure rules of a whole batch, as data: what ran, and whether the batch may be sent again.

use http::StatusCode;

/// Whether a batch may be sent again as a whole, given how the attempt ended.
///
/// | the attempt ended with | operations | advice |
/// |---|---|---|
/// | a multipart answer (any status) | each has its own outcome | [`PerOperation`](Self::PerOperation) |
/// | 429, 401 or 408 without a multipart body | none ran ([`NotExecuted`](super::PartOutcome::NotExecuted)) | [`RetryWhole`](Self::RetryWhole) |
/// | another 4xx without a multipart body (400, 403, 413) | none ran | [`DoNotRetry`](Self::DoNotRetry) |
/// | 5xx without a multipart body, or no answer at all (timeout, connection lost) | may have run ([`Unknown`](super::PartOutcome::Unknown)) | [`RetryWhole`](Self::RetryWhole) if no operation is a `POST`, else [`Unsafe`](Self::Unsafe) |
/// | not sent at all (the connection was never made) | none ran | [`RetryWhole`](Self::RetryWhole) |
///
/// Operations that may have run are never reported as failed: a change set may have committed, and an
/// operation outside any change set may have committed on its own. Only a batch without `POST` (so
/// without creates or actions) is safe to send twice.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{BatchRequest, BatchResponse, Operation, RetryAdvice};
/// use serde_json::json;
///
/// let batch = BatchRequest::builder().operation(Operation::post("tasks", &json!({"subject": "a"}))).build().unwrap();
/// let lost = BatchResponse::unknown(&batch);
/// assert_eq!(lost.retry_advice(), RetryAdvice::Unsafe);
/// assert!(!lost.may_retry_whole());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryAdvice {
    /// Nothing ran, or everything is safe to repeat: send the same batch again
    /// (after the `Retry-After` delay for a 429, after a new token for a 401).
    RetryWhole,
    /// The server answered per operation: look at each outcome; failed and not-executed ones may be sent again
    /// in a new batch as the caller sees fit.
    PerOperation,
    /// Nothing ran, but the same batch would be refused again: fix the request.
    DoNotRetry,
    /// Some operations may have committed and nothing tells which: do not send the batch again blindly.
    Unsafe,
}

impl RetryAdvice {
    /// Whether the batch may be sent again unchanged.
    ///
    /// ```
    /// use dynamics_webapi::batch::RetryAdvice;
    ///
    /// assert!(RetryAdvice::RetryWhole.may_retry_whole());
    /// assert!(!RetryAdvice::Unsafe.may_retry_whole());
    /// ```
    pub fn may_retry_whole(self) -> bool {
        matches!(self, Self::RetryWhole)
    }
}

/// What a whole-batch answer without a multipart body means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The server refused the batch before running any of it.
    pub(crate) nothing_ran: bool,
    pub(crate) advice: RetryAdvice,
}

/// The rule for a whole-batch answer with this status and no multipart body.
pub(crate) fn refusal(status: StatusCode, idempotent: bool) -> Refusal {
    let nothing_ran = status.is_client_error();
    let advice = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT => {
            RetryAdvice::RetryWhole
        }
        _ if nothing_ran => RetryAdvice::DoNotRetry,
        _ => unknown(idempotent),
    };
    Refusal { nothing_ran, advice }
}

/// The rule when operations may have run and nothing tells which.
pub(crate) fn unknown(idempotent: bool) -> RetryAdvice {
    if idempotent { RetryAdvice::RetryWhole } else { RetryAdvice::Unsafe }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::{RetryAdvice, refusal, unknown};

    #[test]
    fn throttled_unauthorized_and_timed_out_batches_did_not_run_and_may_be_retried() {
        for status in [StatusCode::TOO_MANY_REQUESTS, StatusCode::UNAUTHORIZED, StatusCode::REQUEST_TIMEOUT] {
            for idempotent in [true, false] {
                let rule = refusal(status, idempotent);
                assert!(rule.nothing_ran);
                assert_eq!(rule.advice, RetryAdvice::RetryWhole);
            }
        }
    }

    #[test]
    fn other_client_errors_did_not_run_and_would_fail_again() {
        for status in [StatusCode::BAD_REQUEST, StatusCode::FORBIDDEN, StatusCode::PAYLOAD_TOO_LARGE] {
            let rule = refusal(status, false);
            assert!(rule.nothing_ran);
            assert_eq!(rule.advice, RetryAdvice::DoNotRetry);
        }
    }

    #[test]
    fn server_errors_may_have_run() {
        for status in [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY, StatusCode::GATEWAY_TIMEOUT] {
            assert!(!refusal(status, false).nothing_ran);
            assert_eq!(refusal(status, false).advice, RetryAdvice::Unsafe);
            assert_eq!(refusal(status, true).advice, RetryAdvice::RetryWhole);
        }
    }

    #[test]
    fn unknown_outcome_is_safe_only_without_post() {
        assert_eq!(unknown(true), RetryAdvice::RetryWhole);
        assert_eq!(unknown(false), RetryAdvice::Unsafe);
        assert!(!RetryAdvice::PerOperation.may_retry_whole());
        assert!(!RetryAdvice::DoNotRetry.may_retry_whole());
    }
}
