//! The HTTP client oauth2 sends through: reqwest, with the loopback rule, a timeout,
//! and a record of the answer's status and `Retry-After` (which oauth2 drops on errors).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use url::Url;

use crate::transport_security::check_plain_http;

/// What the last answer carried besides its body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResponseMeta {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{0}")]
    Insecure(String),
    #[error("the request timed out")]
    Timeout(#[source] reqwest::Error),
    #[error("the request failed")]
    Transport(#[source] reqwest::Error),
    #[error("the request could not be built")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// One token request's HTTP client: sends with reqwest and records the answer's status and headers.
pub(crate) struct RecordingClient<'a> {
    http: &'a reqwest::Client,
    timeout: Duration,
    now: SystemTime,
    meta: Mutex<Option<ResponseMeta>>,
}

impl<'a> RecordingClient<'a> {
    pub(crate) fn new(http: &'a reqwest::Client, timeout: Duration, now: SystemTime) -> Self {
        Self { http, timeout, now, meta: Mutex::new(None) }
    }

    /// The status and `Retry-After` of the answer, if one arrived.
    pub(crate) fn meta(&self) -> Option<ResponseMeta> {
        *self.meta.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn send(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, HttpError> {
        let url = Url::parse(&request.uri().to_string()).map_err(|e| HttpError::Build(Box::new(e)))?;
        check_plain_http(&url).map_err(HttpError::Insecure)?;
        let (parts, body) = request.into_parts();
        let response = self
            .http
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let headers = response.headers().clone();
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, self.now));
        *self.meta.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(ResponseMeta { status: status.as_u16(), retry_after });
        let body = response.bytes().await.map_err(classify)?;
        let mut builder = http::Response::builder().status(status);
        if let Some(target) = builder.headers_mut() {
            *target = headers;
        }
        builder.body(body.to_vec()).map_err(|e| HttpError::Build(Box::new(e)))
    }
}

fn classify(error: reqwest::Error) -> HttpError {
    let error = error.without_url();
    if error.is_timeout() { HttpError::Timeout(error) } else { HttpError::Transport(error) }
}

impl<'c> oauth2::AsyncHttpClient<'c> for RecordingClient<'_> {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Reads `Retry-After` as delay-seconds or as an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
