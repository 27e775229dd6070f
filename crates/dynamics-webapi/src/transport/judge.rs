//! Judging one attempt's answer: done, retry after a wait, re-authenticate, or fail, and whether the attempt
//! left the write's outcome unknown. Pure: no I/O, no clock, no shared state.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};

use super::error_body::{claims_json, is_duplicate, is_multipart, request_id, service_error};
use super::{ApiRequest, ApiResponse};
use crate::error::{Error, ServiceError, describe_json_error};
use crate::pacer::{BudgetHints, Observation, Signal};
use crate::response::without_bom;
use crate::retry::Repeat;
use crate::stats::RetryCause;

/// An answer off the wire, before it is judged.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

/// What to do after one attempt.
#[derive(Debug)]
pub(super) enum Verdict {
    /// The request is done.
    Done(ApiResponse),
    /// Send it again after `wait` (the policy's back-off when `None`) if the retry policy allows, else fail with
    /// `error`. `unknown`: this attempt may have been carried out.
    Retry { error: Error, wait: Option<Duration>, cause: RetryCause, unknown: bool },
    /// The token was refused: get a new one and send again, once.
    Reauthenticate(Error),
    /// Give up with `error`. `unknown`: this attempt may have been carried out.
    Fail { error: Error, unknown: bool },
}

/// What the answer says about the server's capacity, for the pacer.
pub(super) fn observation(answer: &Result<Answer, Error>, latency: Duration) -> Observation {
    match answer {
        Err(_) => Observation::new(Signal::NoAnswer, latency),
        Ok(answer) => {
            let signal = match answer.status {
                429 => {
                    let body = super::error_body::parse_error_body(&answer.body);
                    Signal::Throttled {
                        limit: crate::error::ServiceProtectionLimit::from_code(&body.code),
                        retry_after: super::error_body::retry_after(&answer.headers),
                    }
                }
                502..=504 => Signal::ServerBusy,
                _ => Signal::Answered,
            };
            Observation::new(signal, latency).with_hints(BudgetHints::from_headers(&answer.headers))
        }
    }
}

/// Judges one attempt. `earlier_unknown`: an earlier attempt of this request may have been carried out.
pub(super) fn judge(request: &ApiRequest, path: &str, answer: Result<Answer, Error>, earlier_unknown: bool) -> Verdict {
    let Answer { status, headers, body } = match answer {
        Ok(answer) => answer,
        // A connection that could not be opened sent nothing: any request may go again.
        Err(error) if error.is_connect_failure() => {
            return Verdict::Retry { error, wait: None, cause: RetryCause::NoAnswer, unknown: false };
        }
        Err(error) if request.repeat == Repeat::OnlyIfRefused => return Verdict::Fail { error, unknown: true },
        Err(error) => return Verdict::Retry { error, wait: None, cause: RetryCause::NoAnswer, unknown: true },
    };
    // For a batch, a multipart error answer holds the per-operation outcomes, and a server error on a batch that
    // is not repeated leaves them unknown: both are for the batch reader.
    let batch_answer = request.multipart_errors_are_answers
        && ((!matches!(status, 401 | 429) && is_multipart(&headers))
            || ((500..600).contains(&status) && request.repeat == Repeat::OnlyIfRefused));
    if (200..300).contains(&status) || status == 304 || batch_answer {
        return Verdict::Done(ApiResponse { status, headers, body, repeated_create: false });
    }
    let id = request_id(&headers);
    // An error body that claims to be JSON but is not is reported as unreadable, not guessed at; answers that are
    // retried or re-authenticated are judged by their status alone.
    let judged_by_status = matches!(status, 401 | 429) || (500..600).contains(&status);
    if !judged_by_status
        && claims_json(&headers)
        && !body.is_empty()
        && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(without_bom(&body))
    {
        let error =
            Error::decode(format!("the {status} answer's error body: {}", describe_json_error(&e)), Some(Arc::new(e)))
                .with_request_id(id);
        return Verdict::Fail { error, unknown: false };
    }
    let service = service_error(request, path, status, &headers, &body, id);
    if status == 401 {
        return Verdict::Reauthenticate(Error::Service(Box::new(service)));
    }
    if earlier_unknown && request.repeat == Repeat::KeyedCreate && is_duplicate(&service) {
        tracing::debug!("a repeated create found its record: the earlier attempt created it");
        return Verdict::Done(ApiResponse { status: 204, headers, body: Bytes::new(), repeated_create: true });
    }
    if earlier_unknown && request.method == Method::DELETE && status == 404 {
        tracing::debug!("a repeated delete found nothing: the earlier attempt deleted it");
        return Verdict::Done(ApiResponse { status: 204, headers, body: Bytes::new(), repeated_create: false });
    }
    let retry_after = service.retry_after;
    let repeatable = request.repeat != Repeat::OnlyIfRefused;
    let transient = transient_server_error(&service);
    let error = Error::Service(Box::new(service));
    match status {
        // Refused before anything ran: every request may go again.
        429 => Verdict::Retry { error, wait: retry_after, cause: RetryCause::Throttled, unknown: false },
        502..=504 if repeatable => {
            Verdict::Retry { error, wait: retry_after, cause: RetryCause::ServerBusy, unknown: true }
        }
        502..=504 => Verdict::Fail { error, unknown: true },
        _ => match transient {
            Some(kind) if repeatable && !(kind == Transient::Timeout && request.shrinks_on_timeout) => {
                Verdict::Retry { error, wait: None, cause: RetryCause::TransientServerError, unknown: false }
            }
            _ => Verdict::Fail { error, unknown: false },
        },
    }
}

/// A server error that the same request may not meet again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transient {
    /// A SQL deadlock: the server chose this request as the victim and rolled it back.
    Deadlock,
    /// A SQL timeout: the work took too long this time (a bulk chunk is made smaller instead).
    Timeout,
}

/// The transient server errors, as Microsoft's .NET `ServiceClient` classifies them (its retry rule for Web API
/// answers): the generic SQL error `0x80044150` (-2147204784), and the generic platform error `0x80131501`
/// (-2146233087) when its message is about SQL. Both are retried here only when the message shows a deadlock or
/// a timeout, the two causes that go away by themselves; the SQL timeout `0x80044151` (-2147204783) is one too.
/// A deadlock victim and a timed-out statement are rolled back, so the attempt was not carried out.
fn transient_server_error(error: &ServiceError) -> Option<Transient> {
    let message = error.message.to_ascii_lowercase();
    let kind = || {
        if message.contains("deadlock") {
            Some(Transient::Deadlock)
        } else if message.contains("timeout") || message.contains("timed out") {
            Some(Transient::Timeout)
        } else {
            None
        }
    };
    match error.code.to_ascii_lowercase().as_str() {
        "0x80044151" => Some(Transient::Timeout),
        "0x80044150" => kind(),
        "0x80131501" if message.contains("sql") => kind(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, message: &str) -> ServiceError {
        ServiceError {
            status: 500,
            code: code.to_owned(),
            message: message.to_owned(),
            details: Default::default(),
            target: None,
            error_details: Vec::new(),
            inner_error: None,
            method: "PATCH".to_owned(),
            path: "accounts(1)".to_owned(),
            request_id: None,
            retry_after: None,
            precondition: None,
            hint: None,
            outcome_unknown: false,
        }
    }

    #[test]
    fn sql_errors_are_transient_only_for_deadlocks_and_timeouts() {
        let cases = [
            (
                "0x80044150",
                "Generic SQL error. Transaction (Process ID 57) was deadlocked on lock resources",
                Some(Transient::Deadlock),
            ),
            (
                "0x80044150",
                "Sql error: Generic SQL error. CRM ErrorCode: -2147204784 Sql ErrorCode: -2146232060 Sql Number: -2 Timeout expired",
                Some(Transient::Timeout),
            ),
            ("0x80044150", "Sql error: Generic SQL error. Violation of PRIMARY KEY constraint", None),
            ("0x80044151", "Sql error: SQL timeout expired.", Some(Transient::Timeout)),
            ("0x80131501", "SQL Server: deadlock detected", Some(Transient::Deadlock)),
            ("0x80131501", "The plug-in timed out", None),
            ("0x80040265", "A plug-in hit a deadlock", None),
        ];
        for (code, message, expected) in cases {
            assert_eq!(transient_server_error(&error(code, message)), expected, "{code}: {message}");
        }
    }
}
