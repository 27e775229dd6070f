//! Sending one API request: `send_once` puts one attempt on the wire, [`judge`] decides what its answer means,
//! and `Client::execute` is the short loop between them, with the pacer admitting each attempt and observing its
//! answer, and the retry policy counting attempts.

use std::sync::Arc;

use aad_auth::ExposeSecret;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tracing::Instrument;
use url::Url;

use crate::batch::{BatchRequest, Operation, PartOutcome};
use crate::client::Client;
use crate::error::{Error, Precondition, Result, TransportError};
use crate::options::RequestOptions;
use crate::pacer::Signal;
use crate::retry::Repeat;
use crate::stats::RetryCause;

mod error_body;
mod judge;

/// The longest URL Dataverse takes; a longer GET goes inside a `$batch`.
const MAX_URL_LENGTH: usize = 32_768;

pub(crate) use error_body::request_id;
use judge::{Answer, Verdict};

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
    /// A SQL timeout is not retried as it is: the caller sends smaller pieces instead (bulk chunks).
    pub(crate) shrinks_on_timeout: bool,
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
            shrinks_on_timeout: false,
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

    /// A SQL timeout is answered by sending smaller pieces, not by sending this again (bulk chunks).
    pub(crate) fn shrinks_on_timeout(mut self) -> Self {
        self.shrinks_on_timeout = true;
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

impl Client {
    /// Sends `request`: admitted by the pacer, retried as its [`Repeat`] and the retry policy allow, each answer
    /// judged by [`judge`]. Returns a success answer or the error of the last attempt.
    pub(crate) async fn execute(&self, request: ApiRequest) -> Result<ApiResponse> {
        let inner = &*self.inner;
        let mut url = self.url_for(&request.target)?;
        let options = match &request.options {
            Some(options) => inner.options.merged_with(options),
            None => inner.options.clone(),
        };
        options.check()?;
        if let Some(tag) = options.tag_query() {
            let query = match url.query() {
                Some(query) if !query.is_empty() => format!("{query}&{tag}"),
                _ => tag,
            };
            url.set_query(Some(&query));
        }
        if request.method == Method::GET && url.as_str().len() > MAX_URL_LENGTH {
            return Box::pin(self.execute_inside_batch(&request, &url)).await;
        }
        let path = request.path_for_logs();
        // The logical span of the call: Dataverse's terms, no HTTP client attributes (those are per attempt).
        let span = tracing::info_span!(
            "dynamics_webapi.request",
            method = %request.method,
            entity_set = entity_set_of(&path),
            attempts = tracing::field::Empty,
        );
        let writes = !matches!(request.method, Method::GET | Method::HEAD);
        let outcome =
            |error: Error, unknown: bool| if writes && unknown { error.with_outcome_unknown() } else { error };
        async move {
            let clock = &*inner.clock;
            let mut attempts = inner.retry.start(clock);
            let mut reauthenticated = false;
            let mut unknown = false;
            let mut sent: u32 = 0;
            let result = loop {
                let admission = inner.pacer.admit().await;
                let token = match inner.tokens.token(&inner.resource).await {
                    Ok(token) => token,
                    Err(error) => break Err(outcome(Error::Auth(error), unknown)),
                };
                let sent_at = clock.now();
                inner.counters.sent();
                sent += 1;
                let attempt_span = attempt_span(&request.method, &url, attempts.number());
                let answer = self.send_once(&request, &url, &token).instrument(attempt_span.clone()).await;
                record_answer(&attempt_span, &answer);
                let latency = clock.now().duration_since(sent_at).unwrap_or_default();
                let observation = judge::observation(&answer, latency);
                if let Signal::Throttled { limit, .. } = observation.signal {
                    inner.counters.throttled(limit);
                }
                inner.rate_limits.record(&observation.hints);
                inner.pacer.observe(admission, &observation);
                #[cfg(feature = "metrics")]
                inner.counters.export_pacer(&inner.pacer.state());
                match judge::judge(&request, &path, answer, unknown) {
                    Verdict::Done(response) => break Ok(response),
                    Verdict::Fail { error, unknown: this } => break Err(outcome(error, unknown || this)),
                    Verdict::Reauthenticate(error) if reauthenticated => break Err(outcome(error, unknown)),
                    Verdict::Reauthenticate(_) => {
                        tracing::debug!("401: invalidating the cached token and retrying once");
                        inner.tokens.invalidate(&inner.resource, &token);
                        inner.counters.retried(RetryCause::Reauthenticated);
                        reauthenticated = true;
                    }
                    Verdict::Retry { error, wait, cause, unknown: this } => {
                        unknown |= this;
                        let Some(wait) = attempts.failed(clock, wait) else {
                            break Err(outcome(error, unknown));
                        };
                        inner.counters.retried(cause);
                        tracing::debug!(attempt = attempts.number() - 1, ?wait, ?cause, "retrying");
                        clock.sleep(wait).await;
                    }
                }
            };
            // Recorded once: a field recorded at every attempt would be repeated in formatted logs.
            tracing::Span::current().record("attempts", sent);
            result
        }
        .instrument(span)
        .await
    }

    /// Sends a GET whose URL is over Dataverse's limit inside a `$batch`, Dataverse's documented way, and gives
    /// its part's answer as if it had been sent alone.
    async fn execute_inside_batch(&self, request: &ApiRequest, url: &Url) -> Result<ApiResponse> {
        let root = &self.inner.service_root;
        let relative = url.as_str().strip_prefix(root.as_str()).unwrap_or(url.as_str());
        let mut operation = Operation::get(relative);
        for (name, value) in &request.headers {
            if let Ok(value) = value.to_str() {
                operation = operation.header(name.as_str(), value);
            }
        }
        let batch =
            BatchRequest::builder().service_root(root.path()).operation(operation).build().map_err(Error::from)?;
        tracing::debug!(url_length = url.as_str().len(), "the URL is too long for a GET: sending it inside $batch");
        let answer = self.batch(&batch).await?;
        let path = request.path_for_logs();
        match answer.into_outcomes().into_iter().next().map(|outcome| outcome.into_outcome()) {
            Some(PartOutcome::Answered(part)) => {
                let status = part.status().as_u16();
                let (headers, body) = (part.headers().clone(), part.bytes());
                if (200..300).contains(&status) || status == 304 {
                    return Ok(ApiResponse { status, headers, body, repeated_create: false });
                }
                let id = request_id(&headers);
                Err(Error::Service(Box::new(error_body::service_error(request, &path, status, &headers, &body, id))))
            }
            _ => Err(Error::decode(format!("the $batch carrying the long GET {path} had no answer for it"), None)),
        }
    }

    async fn send_once(&self, request: &ApiRequest, url: &Url, token: &aad_auth::AccessToken) -> Result<Answer> {
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
            let connect_failed = error.is_connect();
            let wrapped = TransportError::new(request.method.as_str(), url.path(), Some(Arc::new(error)))
                .connect_failed(connect_failed);
            if timed_out { Error::Timeout(wrapped) } else { Error::Transport(wrapped) }
        };
        let response = builder.headers(headers).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        Ok(Answer { status, headers, body })
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
                // OData allows relative links in payloads; Dataverse's are absolute, other servers' may not be.
                let url = match Url::parse(link) {
                    Err(url::ParseError::RelativeUrlWithoutBase) => root.join(link),
                    parsed => parsed,
                }
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

/// One attempt's span, with OpenTelemetry's HTTP client attributes (the query is left out of `url.full`:
/// a filter can hold personal data).
fn attempt_span(method: &Method, url: &Url, attempt: u32) -> tracing::Span {
    let mut full = url.clone();
    full.set_query(None);
    let span = tracing::info_span!(
        "dynamics_webapi.attempt",
        otel.kind = "client",
        otel.name = %method,
        http.request.method = %method,
        server.address = url.host_str().unwrap_or_default(),
        server.port = url.port_or_known_default(),
        url.full = %full,
        http.request.resend_count = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        request_id = tracing::field::Empty,
    );
    if attempt > 1 {
        span.record("http.request.resend_count", attempt - 1);
    }
    span
}

/// What the answer says, on its attempt's span: the status and request id, or the kind of failure.
fn record_answer(span: &tracing::Span, answer: &Result<Answer>) {
    match answer {
        Ok(answer) => {
            span.record("http.response.status_code", answer.status);
            if answer.status >= 400 {
                span.record("error.type", answer.status);
            }
            if let Some(id) = request_id(&answer.headers) {
                span.record("request_id", id.as_str());
            }
        }
        Err(error) => {
            let kind = if error.is_timeout() {
                "timeout"
            } else if error.is_connect_failure() {
                "connect"
            } else {
                "transport"
            };
            span.record("error.type", kind);
        }
    }
}

/// The entity set a path starts with, for tracing.
fn entity_set_of(path: &str) -> &str {
    let end = path.find(['(', '/', '?']).unwrap_or(path.len());
    &path[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_sets_are_read_off_paths() {
        assert_eq!(entity_set_of("accounts(00000000-0000-0000-0000-000000000001)"), "accounts");
        assert_eq!(entity_set_of("accounts/Microsoft.Dynamics.CRM.CreateMultiple"), "accounts");
        assert_eq!(entity_set_of("WhoAmI"), "WhoAmI");
    }
}
