//! Sending one API request: authentication, default headers, the shared throttling pause,
//! the concurrency limit, retries, and turning error answers into [`ServiceError`]s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aad_auth::ExposeSecret;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tracing::Instrument;
use url::Url;

use crate::client::Client;
use crate::error::{Error, Precondition, Result, ServiceError, TransportError, describe_json_error};
use crate::options::RequestOptions;
use crate::response::without_bom;
use crate::retry::Repeat;
use crate::setup_hint;

/// The content type of every JSON request body.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Where a request goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A path below the service root, already percent-encoded, with an optional encoded query string.
    Relative { path: String, query: Option<String> },
    /// A full URL the server gave (`@odata.nextLink`); it must point into the service root.
    Absolute(String),
}

/// A request to send.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<(Bytes, HeaderValue)>,
    pub(crate) repeat: Repeat,
    pub(crate) precondition: Option<Precondition>,
    pub(crate) options: Option<RequestOptions>,
    /// An error status with a `multipart/mixed` body is an answer to read, not an error (`$batch`:
    /// Dataverse answers 400 with one part per operation when it stops at a failure); so is a server error
    /// for a request that is not repeated (its operations' outcomes are unknown).
    pub(crate) multipart_errors_are_answers: bool,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        let repeat = if method == Method::POST { Repeat::OnlyIfRefused } else { Repeat::Safe };
        Self {
            method,
            target: Target::Relative { path: path.into(), query: None },
            headers: HeaderMap::new(),
            body: None,
            repeat,
            precondition: None,
            options: None,
            multipart_errors_are_answers: false,
        }
    }

    pub(crate) fn absolute(method: Method, url: impl Into<String>) -> Self {
        Self { target: Target::Absolute(url.into()), ..Self::new(method, "") }
    }

    pub(crate) fn query(mut self, query: Option<String>) -> Self {
        if let Target::Relative { query: slot, .. } = &mut self.target {
            *slot = query.filter(|q| !q.is_empty());
        }
        self
    }

    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Result<Self> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::config(format!("the value of the {name} header is not valid header text")))?;
        self.headers.insert(name, value);
        Ok(self)
    }

    pub(crate) fn json_body(mut self, body: &impl serde::Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::config(format!("the request body cannot be serialised as JSON: {e}")))?;
        self.body = Some((Bytes::from(bytes), HeaderValue::from_static(JSON_CONTENT_TYPE)));
        Ok(self)
    }

    pub(crate) fn raw_body(mut self, body: Bytes, content_type: HeaderValue) -> Self {
        self.body = Some((body, content_type));
        self
    }

    pub(crate) fn precondition(mut self, precondition: Option<Precondition>) -> Self {
        self.precondition = precondition;
        self
    }

    pub(crate) fn repeat(mut self, repeat: Repeat) -> Self {
        self.repeat = repeat;
        self
    }

    pub(crate) fn options(mut self, options: Option<RequestOptions>) -> Self {
        self.options = options;
        self
    }

    fn path_for_logs(&self) -> String {
        match &self.target {
            Target::Relative { path, .. } => path.clone(),
            Target::Absolute(url) => url.split('?').next().unwrap_or_default().to_owned(),
        }
    }
}

/// An answer with a success status (2xx or 304).
#[derive(Debug, Clone)]
pub(crate) struct ApiResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// A create with its own key was repeated and the repeat found the record: the first attempt created it.
    pub(crate) repeated_create: bool,
}

enum Failure {
    Service(ServiceError),
    Transport(Error),
}

impl Client {
    /// Sends `request`, retrying as its [`Repeat`] allows, and returns a success answer or the error.
    pub(crate) async fn execute(&self, request: ApiRequest) -> Result<ApiResponse> {
        let inner = &*self.inner;
        let url = self.url_for(&request.target)?;
        match &request.options {
            Some(options) => inner.options.merged_with(options).check()?,
            None => inner.options.check()?,
        }
        let path = request.path_for_logs();
        let span = tracing::info_span!(
            "dynamics_webapi.request",
            method = %request.method,
            entity_set = entity_set_of(&path),
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        async move {
            let started = inner.clock.now();
            let mut attempt: u32 = 0;
            let mut reauthenticated = false;
            let mut outcome_unknown = false;
            loop {
                attempt += 1;
                tracing::Span::current().record("attempt", attempt);
                inner.throttle.wait(&*inner.clock).await;
                let permit = inner.limiter.acquire().await;
                if inner.throttle.is_paused(&*inner.clock) {
                    // A 429 arrived while this request queued for a slot: wait out the pause first.
                    drop(permit);
                    attempt -= 1;
                    continue;
                }
                let token = inner.tokens.token(&inner.resource).await.map_err(Error::Auth)?;
                let sent = self.send_once(&request, &url, &token).await;
                let (failure, wait, shared_pause) = match sent {
                    Ok((status, headers, body)) => {
                        inner.rate_limits.record(&headers, &inner.limiter);
                        let request_id = request_id(&headers);
                        let span = tracing::Span::current();
                        span.record("status", status);
                        if let Some(id) = &request_id {
                            span.record("request_id", id.as_str());
                        }
                        // For a batch, a multipart error answer holds the per-operation outcomes, and a server error
                        // on a batch that is not repeated leaves them unknown: both are for the batch reader.
                        let batch_answer = request.multipart_errors_are_answers
                            && ((!matches!(status, 401 | 429) && is_multipart(&headers))
                                || ((500..600).contains(&status) && request.repeat == Repeat::OnlyIfRefused));
                        if (200..300).contains(&status) || status == 304 || batch_answer {
                            return Ok(ApiResponse { status, headers, body, repeated_create: false });
                        }
                        // An error body that claims to be JSON but is not is reported as unreadable, not guessed at;
                        // answers that are retried or re-authenticated are judged by their status alone.
                        let judged_by_status = matches!(status, 401 | 429) || (500..600).contains(&status);
                        if !judged_by_status
                            && claims_json(&headers)
                            && !body.is_empty()
                            && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(without_bom(&body))
                        {
                            return Err(Error::decode(
                                format!("the {status} answer's error body: {}", describe_json_error(&e)),
                                Some(Arc::new(e)),
                            )
                            .with_request_id(request_id));
                        }
                        let error = service_error(&request, &path, status, &headers, &body, request_id);
                        if status == 401 && !reauthenticated {
                            tracing::debug!("401: invalidating the cached token and retrying once");
                            inner.tokens.invalidate(&inner.resource, &token);
                            reauthenticated = true;
                            attempt -= 1;
                            continue;
                        }
                        if request.repeat == Repeat::KeyedCreate && outcome_unknown && is_duplicate(&error) {
                            tracing::debug!("a repeated create found its record: the earlier attempt created it");
                            return Ok(ApiResponse { status: 204, headers, body: Bytes::new(), repeated_create: true });
                        }
                        if request.method == Method::DELETE && outcome_unknown && status == 404 {
                            tracing::debug!("a repeated delete found nothing: the earlier attempt deleted it");
                            return Ok(ApiResponse {
                                status: 204,
                                headers,
                                body: Bytes::new(),
                                repeated_create: false,
                            });
                        }
                        if status == 429 {
                            let wait = error.retry_after.unwrap_or_else(|| inner.retry.backoff(attempt));
                            // Every request of this client waits, even if this one gives up:
                            // sending while throttled extends the penalty.
                            inner.throttle.pause(&*inner.clock, wait);
                            (Failure::Service(error), wait, true)
                        } else if matches!(status, 502..=504) && request.repeat != Repeat::OnlyIfRefused {
                            outcome_unknown = true;
                            (Failure::Service(error), inner.retry.backoff(attempt), false)
                        } else {
                            return Err(Error::Service(Box::new(error)));
                        }
                    }
                    Err(error) if request.repeat != Repeat::OnlyIfRefused => {
                        outcome_unknown = true;
                        (Failure::Transport(error), inner.retry.backoff(attempt), false)
                    }
                    Err(error) => return Err(error),
                };
                // The slot is given up only after a 429's pause is in force, so no queued request slips through.
                drop(permit);
                let elapsed = inner.clock.now().duration_since(started).unwrap_or_default();
                let into_error = |failure| match failure {
                    Failure::Service(error) => Error::Service(Box::new(error)),
                    Failure::Transport(error) => error,
                };
                if attempt >= inner.retry.max_attempts || elapsed.saturating_add(wait) > inner.retry.max_elapsed {
                    return Err(into_error(failure));
                }
                tracing::debug!(attempt, ?wait, shared_pause, "retrying");
                if !shared_pause {
                    inner.clock.sleep(wait).await;
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn send_once(
        &self,
        request: &ApiRequest,
        url: &Url,
        token: &aad_auth::AccessToken,
    ) -> Result<(u16, HeaderMap, Bytes)> {
        let inner = &*self.inner;
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("odata-maxversion"), HeaderValue::from_static("4.0"));
        headers.insert(HeaderName::from_static("odata-version"), HeaderValue::from_static("4.0"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let options = match &request.options {
            Some(options) => inner.options.merged_with(options),
            None => inner.options.clone(),
        };
        options.apply(&mut headers);
        for (name, value) in &request.headers {
            headers.insert(name.clone(), value.clone());
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.secret().expose_secret()))
            .map_err(|_| Error::config("the access token is not valid header text"))?;
        authorization.set_sensitive(true);
        headers.insert(AUTHORIZATION, authorization);
        let mut builder = inner.http.request(request.method.clone(), url.clone()).timeout(inner.timeout);
        if let Some((body, content_type)) = &request.body {
            headers.insert(CONTENT_TYPE, content_type.clone());
            builder = builder.body(body.clone());
        }
        let transport = |error: reqwest::Error| {
            let error = error.without_url();
            let timed_out = error.is_timeout();
            let wrapped = TransportError::new(request.method.as_str(), url.path(), Some(Arc::new(error)));
            if timed_out { Error::Timeout(wrapped) } else { Error::Transport(wrapped) }
        };
        let response = builder.headers(headers).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        Ok((status, headers, body))
    }

    /// The URL of a target; next links must stay inside the service root, so a token is never sent elsewhere.
    pub(crate) fn url_for(&self, target: &Target) -> Result<Url> {
        let root = &self.inner.service_root;
        match target {
            Target::Relative { path, query } => {
                let mut url =
                    root.join(path).map_err(|e| Error::config(format!("the path `{path}` is invalid: {e}")))?;
                if !url.as_str().starts_with(root.as_str()) {
                    return Err(Error::config(format!("the path `{path}` leaves the service root")));
                }
                url.set_query(query.as_deref());
                Ok(url)
            }
            Target::Absolute(link) => {
                let url = Url::parse(link)
                    .map_err(|e| Error::decode(format!("the link `{link}` is not a URL: {e}"), None))?;
                if url.origin() != root.origin() || !url.path().starts_with(root.path()) {
                    return Err(Error::decode(
                        format!("the link `{link}` points outside the service root {root}; it is not followed"),
                        None,
                    ));
                }
                Ok(url)
            }
        }
    }
}

/// The entity set a path starts with, for tracing.
fn entity_set_of(path: &str) -> &str {
    let end = path.find(['(', '/', '?']).unwrap_or(path.len());
    &path[..end]
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-ms-service-request-id", "req_id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(',').next().unwrap_or(value).trim().to_owned())
}

fn claims_json(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/mixed"))
}

fn is_duplicate(error: &ServiceError) -> bool {
    error.status == 412 || error.code.eq_ignore_ascii_case("0x80040237")
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
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        // A wait too long for a `Duration` is still a very long wait, not a panic.
        .map(|seconds| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
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

    #[test]
    fn entity_sets_are_read_off_paths() {
        assert_eq!(entity_set_of("accounts(00000000-0000-0000-0000-000000000001)"), "accounts");
        assert_eq!(entity_set_of("accounts/Microsoft.Dynamics.CRM.CreateMultiple"), "accounts");
        assert_eq!(entity_set_of("WhoAmI"), "WhoAmI");
    }
}
