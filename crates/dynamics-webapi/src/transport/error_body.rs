//! Reading Dataverse's error answers: the OData error body, the request id, `Retry-After`.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderMap;
use http::header::{CONTENT_TYPE, RETRY_AFTER};

use super::ApiRequest;
use crate::error::{ErrorDetail, ServiceError};
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
    let ErrorBody { code, message, annotations, target, details: error_details, inner_error } = parse_error_body(body);
    let retry_after = retry_after(headers);
    let hint = setup_hint::hint(status, &code, &message);
    ServiceError {
        status,
        code,
        message,
        details: annotations,
        target,
        error_details,
        inner_error,
        method: request.method.to_string(),
        path: path.to_owned(),
        request_id,
        retry_after,
        precondition: request.precondition,
        hint,
        outcome_unknown: false,
    }
}

/// What an OData error body says: `{"error":{"code":…,"message":…,"target":…,"details":[…],"innererror":…,"@…":…}}`.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) target: Option<String>,
    pub(crate) details: Vec<ErrorDetail>,
    pub(crate) inner_error: Option<String>,
}

/// Reads an OData error body; a body that is not one gives its start as the message.
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    let mut root = match serde_json::from_slice::<serde_json::Value>(without_bom(body)) {
        Ok(serde_json::Value::Object(root)) => root,
        _ => {
            let text = String::from_utf8_lossy(body);
            return ErrorBody { message: text.trim().chars().take(300).collect(), ..ErrorBody::default() };
        }
    };
    let Some(serde_json::Value::Object(error)) = root.remove("error") else {
        return ErrorBody::default();
    };
    let text = |object: &serde_json::Map<String, serde_json::Value>, key: &str| {
        object.get(key).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let annotations = error
        .iter()
        .filter(|(key, _)| key.starts_with('@'))
        .map(|(key, value)| (key.clone(), value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())))
        .collect();
    let details = match error.get("details") {
        Some(serde_json::Value::Array(details)) => details
            .iter()
            .filter_map(|detail| detail.as_object())
            .map(|detail| ErrorDetail {
                code: text(detail, "code").unwrap_or_default(),
                message: text(detail, "message").unwrap_or_default(),
                target: text(detail, "target"),
            })
            .collect(),
        _ => Vec::new(),
    };
    ErrorBody {
        code: text(&error, "code").unwrap_or_default(),
        message: text(&error, "message").unwrap_or_default(),
        annotations,
        target: text(&error, "target").filter(|target| !target.is_empty()),
        details,
        inner_error: error.get("innererror").filter(|inner| !inner.is_null()).map(serde_json::Value::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_error_body_and_its_annotations() {
        let body = br#"{"error":{"code":"0x80040217","message":"account With Id = 1 Does Not Exist","@Microsoft.PowerApps.CDS.HelpLink":"http://go.microsoft.com/fwlink/?LinkID=398563"}}"#;
        let error = parse_error_body(body);
        assert_eq!(error.code, "0x80040217");
        assert_eq!(error.message, "account With Id = 1 Does Not Exist");
        assert_eq!(
            error.annotations["@Microsoft.PowerApps.CDS.HelpLink"],
            "http://go.microsoft.com/fwlink/?LinkID=398563"
        );
        assert_eq!(parse_error_body(b"<html>Bad gateway</html>").message, "<html>Bad gateway</html>");
    }

    #[test]
    fn keeps_the_target_the_details_and_the_inner_error() {
        // The shape of OData 4.0 JSON format, section 21.1, as a third-party OData server sends it.
        let body = br#"{"error":{"code":"501","message":"Unsupported functionality","target":"query","details":[{"code":"301","target":"$search","message":"$search query option not supported"}],"innererror":{"trace":[],"context":{}}}}"#;
        let error = parse_error_body(body);
        assert_eq!(error.target.as_deref(), Some("query"));
        assert_eq!(error.details.len(), 1);
        assert_eq!(
            (error.details[0].code(), error.details[0].message(), error.details[0].target()),
            ("301", "$search query option not supported", Some("$search"))
        );
        assert_eq!(error.inner_error.as_deref(), Some(r#"{"context":{},"trace":[]}"#));
    }
}
