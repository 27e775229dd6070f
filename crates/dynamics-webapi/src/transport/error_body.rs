//! Reading Dataverse's error answers: the OData error body, the request id, `Retry-After`.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderMap;
use http::header::{CONTENT_TYPE, RETRY_AFTER};

use super::ApiRequest;
use crate::error::ServiceError;
use crate::response::without_bom;
use crate::setup_hint;

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-ms-service-request-id", "req_id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(',').next().unwrap_or(value).trim().to_owned())
}

pub(super) fn claims_json(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/mixed"))
}

pub(super) fn is_duplicate(error: &ServiceError) -> bool {
    error.status == 412 || error.code.eq_ignore_ascii_case("0x80040237")
}

/// The wait a `Retry-After` header asks for, in seconds (Dataverse sends seconds, sometimes with a fraction).
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        // A wait too long for a `Duration` is still a very long wait, not a panic.
        .map(|seconds| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// Reads Dataverse's OData error body into a [`ServiceError`].
pub(crate) fn service_error(
    request: &ApiRequest,
    path: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    request_id: Option<String>,
) -> ServiceError {
    let (code, message, details) = parse_error_body(body);
    let retry_after = retry_after(headers);
    let hint = setup_hint::hint(status, &code, &message);
    ServiceError {
        status,
        code,
        message,
        details,
        method: request.method.to_string(),
        path: path.to_owned(),
        request_id,
        retry_after,
        precondition: request.precondition,
        hint,
        outcome_unknown: false,
    }
}

/// `(code, message, annotations)` from `{"error":{"code":…,"message":…,"@…":…}}`, or the start of a body that is not one.
pub(crate) fn parse_error_body(body: &[u8]) -> (String, String, BTreeMap<String, String>) {
    let mut details = BTreeMap::new();
    match serde_json::from_slice::<serde_json::Value>(without_bom(body)) {
        Ok(serde_json::Value::Object(mut root)) => {
            let Some(serde_json::Value::Object(error)) = root.remove("error") else {
                return (String::new(), String::new(), details);
            };
            let text = |key: &str| error.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            for (key, value) in &error {
                if key.starts_with('@') {
                    let value = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
                    details.insert(key.clone(), value);
                }
            }
            (text("code"), text("message"), details)
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            (String::new(), text.trim().chars().take(300).collect(), details)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_error_body_and_its_annotations() {
        let body = br#"{"error":{"code":"0x80040217","message":"account With Id = 1 Does Not Exist","@Microsoft.PowerApps.CDS.HelpLink":"http://go.microsoft.com/fwlink/?LinkID=398563"}}"#;
        let (code, message, details) = parse_error_body(body);
        assert_eq!(code, "0x80040217");
        assert_eq!(message, "account With Id = 1 Does Not Exist");
        assert_eq!(details["@Microsoft.PowerApps.CDS.HelpLink"], "http://go.microsoft.com/fwlink/?LinkID=398563");
        assert_eq!(parse_error_body(b"<html>Bad gateway</html>").1, "<html>Bad gateway</html>");
    }
}
