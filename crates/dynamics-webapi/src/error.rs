//! The crate's error type.
//!
//! Variants follow the life of a request: [`Error::Config`] was never sent, [`Error::Auth`] got no token,
//! [`Error::Transport`] and [`Error::Timeout`] got no answer, [`Error::Service`] is Dataverse's error answer,
//! and [`Error::Decode`] is an answer that could not be read.
//! Ask questions of an error ([`Error::is_not_found`], [`Error::is_throttled`], …) rather than matching on it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::query::QueryError;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong talking to the Dataverse Web API.
///
/// No variant ever holds a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be formed; nothing was sent.
    #[error(transparent)]
    Config(ConfigError),
    /// No access token could be had.
    #[error("could not get an access token for the org")]
    Auth(#[source] aad_auth::Error),
    /// The request got no answer.
    #[error(transparent)]
    Transport(TransportError),
    /// The request did not finish within its timeout.
    #[error(transparent)]
    Timeout(TransportError),
    /// Dataverse answered with an error.
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// Dataverse answered, but the answer could not be read.
    #[error(transparent)]
    Decode(DecodeError),
}

impl Error {
    pub(crate) fn config(what: impl Into<String>) -> Self {
        Error::Config(ConfigError { what: what.into(), source: None })
    }

    pub(crate) fn decode(what: impl Into<String>, source: Option<Source>) -> Self {
        Error::Decode(DecodeError { what: what.into(), source, request_id: None })
    }

    /// The same error, naming the server's request id when it is an unreadable answer.
    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        if let Error::Decode(decode) = &mut self {
            decode.request_id = request_id;
        }
        self
    }

    /// The service error, when Dataverse answered with one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Error::Service(service) => Some(service),
            _ => None,
        }
    }

    /// The HTTP status of Dataverse's answer.
    pub fn status(&self) -> Option<u16> {
        self.service_error().map(ServiceError::status)
    }

    /// Dataverse's error code, such as `0x80040217`.
    pub fn service_code(&self) -> Option<&str> {
        self.service_error().map(ServiceError::code).filter(|code| !code.is_empty())
    }

    /// The server's request id (`x-ms-service-request-id` or `REQ_ID`), to quote to support:
    /// of an error answer, or of an answer that could not be read.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service(service) => service.request_id(),
            Error::Decode(decode) => decode.request_id(),
            _ => None,
        }
    }

    /// How long Dataverse asked to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.service_error().and_then(ServiceError::retry_after)
    }

    /// What to fix, when the cause is a known setup or usage mistake.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Service(service) => service.hint(),
            Error::Auth(auth) => auth.hint(),
            _ => None,
        }
    }

    /// True for a record (or route) that does not exist: HTTP 404, or HTTP 412 for an update that required the
    /// record to exist (`If-Match: *`), which is how OData servers other than Dataverse answer it.
    pub fn is_not_found(&self) -> bool {
        self.service_error()
            .is_some_and(|s| s.status == 404 || (s.status == 412 && s.precondition == Some(Precondition::IfMatchAny)))
    }

    /// True when an `If-Match` ETag no longer matched: someone changed the record since it was read.
    pub fn is_concurrency_conflict(&self) -> bool {
        self.service_error().is_some_and(ServiceError::is_concurrency_conflict)
    }

    /// True when a create-only write (`If-None-Match: *`) found the record already there.
    pub fn is_already_exists(&self) -> bool {
        self.service_error().is_some_and(ServiceError::is_already_exists)
    }

    /// True when Dataverse's service protection limits refused the request (HTTP 429) and retries ran out.
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429)
    }

    /// True for HTTP 401, or when no token could be had.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401) || matches!(self, Error::Auth(_))
    }

    /// True for HTTP 403: the caller is known but not allowed.
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// True when the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }

    /// Which service protection limit was hit, for a throttling error.
    pub fn throttle_limit(&self) -> Option<ServiceProtectionLimit> {
        self.service_error().and_then(ServiceError::throttle_limit)
    }

    /// True when a write may or may not have been carried out: one of its attempts got no answer (a dropped
    /// connection, a timeout) or a gateway error (502, 503, 504), and no later attempt settled it; this error is
    /// then the last attempt's. False for reads, and for writes the server surely did not carry out
    /// (a refusal such as a 429, a validation error, a connection that could not be opened).
    ///
    /// ```no_run
    /// # async fn run(client: dynamics_webapi::Client) {
    /// let record = serde_json::json!({ "name": "Contoso" });
    /// match client.entity_set("accounts").create(&record).send().await {
    ///     Ok(id) => println!("created {id}"),
    ///     Err(e) if e.is_outcome_unknown() => println!("maybe created: look it up before sending it again ({e})"),
    ///     Err(e) => println!("not created: {e}"),
    /// }
    /// # }
    /// ```
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::Transport(transport) | Error::Timeout(transport) => transport.outcome_unknown,
            Error::Service(service) => service.outcome_unknown,
            _ => false,
        }
    }

    /// The same error, saying that the write's outcome is unknown.
    pub(crate) fn with_outcome_unknown(mut self) -> Self {
        match &mut self {
            Error::Transport(transport) | Error::Timeout(transport) => transport.outcome_unknown = true,
            Error::Service(service) => service.outcome_unknown = true,
            _ => {}
        }
        self
    }

    /// True for a connection that could not be opened: the request was not sent.
    pub(crate) fn is_connect_failure(&self) -> bool {
        matches!(self, Error::Transport(transport) | Error::Timeout(transport) if transport.connect_failed)
    }
}

impl From<QueryError> for Error {
    fn from(error: QueryError) -> Self {
        Error::Config(ConfigError { what: "the query is invalid".to_owned(), source: Some(Arc::new(error)) })
    }
}

/// Turns "not found" into `Ok(None)`.
///
/// ```no_run
/// use dynamics_webapi::{Client, OptionalExt};
/// # async fn run(client: Client, id: uuid::Uuid) -> dynamics_webapi::Result<()> {
/// let account = client.entity_set("accounts").retrieve::<serde_json::Value>(id).send().await.optional()?;
/// if account.is_none() {
///     println!("no such account");
/// }
/// # Ok(()) }
/// ```
pub trait OptionalExt<T> {
    /// `Ok(Some(value))`, `Ok(None)` for a 404, or the error.
    ///
    /// # Errors
    /// Any error other than not-found.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExt<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// A request that could not be formed.
#[derive(Debug, Clone)]
pub struct ConfigError {
    what: String,
    source: Option<Source>,
}

impl ConfigError {
    /// What was wrong.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// A request that got no answer.
#[derive(Debug, Clone)]
pub struct TransportError {
    method: String,
    path: String,
    source: Option<Source>,
    connect_failed: bool,
    outcome_unknown: bool,
}

impl TransportError {
    pub(crate) fn new(method: &str, path: &str, source: Option<Source>) -> Self {
        Self { method: method.to_owned(), path: path.to_owned(), source, connect_failed: false, outcome_unknown: false }
    }

    /// The same error, for a connection that could not be opened (nothing was sent).
    pub(crate) fn connect_failed(mut self, connect_failed: bool) -> Self {
        self.connect_failed = connect_failed;
        self
    }

    /// The request's method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request's path below the service root (no query string).
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.connect_failed {
            write!(f, "{} {} was not sent: the connection could not be opened", self.method, self.path)
        } else if self.outcome_unknown {
            write!(f, "{} {} got no answer; it may or may not have been carried out", self.method, self.path)
        } else {
            write!(f, "{} {} got no answer", self.method, self.path)
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// The precondition a write carried, which tells the two meanings of HTTP 412 apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Precondition {
    /// `If-Match: <etag>`: optimistic concurrency.
    IfMatchEtag,
    /// `If-Match: *`: the record must exist (update, never create).
    IfMatchAny,
    /// `If-None-Match: *`: the record must not exist (create only).
    IfNoneMatchAny,
}

/// Which Dataverse service protection limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceProtectionLimit {
    /// `0x80072322`: too many requests in the window.
    RequestCount,
    /// `0x80072321`: too much combined execution time in the window.
    ExecutionTime,
    /// `0x80072326`: too many concurrent requests.
    ConcurrentRequests,
}

impl ServiceProtectionLimit {
    pub(crate) fn from_code(code: &str) -> Option<Self> {
        match code.to_ascii_lowercase().as_str() {
            "0x80072322" => Some(Self::RequestCount),
            "0x80072321" => Some(Self::ExecutionTime),
            "0x80072326" => Some(Self::ConcurrentRequests),
            _ => None,
        }
    }
}

/// Dataverse's error answer: the HTTP status, the OData error body, and what identifies the request.
#[derive(Debug, Clone)]
pub struct ServiceError {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) details: BTreeMap<String, String>,
    pub(crate) target: Option<String>,
    pub(crate) error_details: Vec<ErrorDetail>,
    pub(crate) inner_error: Option<String>,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) precondition: Option<Precondition>,
    pub(crate) hint: Option<String>,
    /// An earlier attempt of this write got no answer: it may have been carried out all the same.
    pub(crate) outcome_unknown: bool,
}

impl ServiceError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Dataverse's error code, such as `0x80040217` (may be empty).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Dataverse's error message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's annotations, such as `@Microsoft.PowerApps.CDS.HelpLink` or `…TraceText`, by name.
    pub fn details(&self) -> &BTreeMap<String, String> {
        &self.details
    }

    /// What the error is about (OData's `target`, such as a property or query option), when the server said.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// OData's `details`: the individual errors behind this one, when the server listed them.
    pub fn error_details(&self) -> &[ErrorDetail] {
        &self.error_details
    }

    /// OData's `innererror`, as the JSON text the server sent (a service-specific debugging aid).
    pub fn inner_error(&self) -> Option<&str> {
        self.inner_error.as_deref()
    }

    /// The server's request id, to quote to support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The wait Dataverse asked for in `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What to fix, for known setup and usage mistakes.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The request's method and path.
    pub fn request(&self) -> (&str, &str) {
        (&self.method, &self.path)
    }

    /// The service protection limit hit, for a 429.
    pub fn throttle_limit(&self) -> Option<ServiceProtectionLimit> {
        (self.status == 429).then(|| ServiceProtectionLimit::from_code(&self.code)).flatten()
    }

    fn is_concurrency_conflict(&self) -> bool {
        self.status == 412 && self.precondition == Some(Precondition::IfMatchEtag)
    }

    fn is_already_exists(&self) -> bool {
        (self.status == 412 && self.precondition == Some(Precondition::IfNoneMatchAny))
            || self.code.eq_ignore_ascii_case("0x80040237")
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} answered {}", self.method, self.path, self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message.trim())?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        if self.outcome_unknown {
            f.write_str("; an earlier attempt got no answer, so it may have been carried out all the same")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// One entry of an OData error's `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) target: Option<String>,
}

impl ErrorDetail {
    /// The detail's code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The detail's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What the detail is about, when the server said.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }
}

/// An answer that could not be read.
#[derive(Debug, Clone)]
pub struct DecodeError {
    what: String,
    source: Option<Source>,
    request_id: Option<String>,
}

impl DecodeError {
    /// What could not be read.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The request id of the answer that could not be read, when the server sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not read the answer: {}", self.what)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// A JSON error's kind and position, without the offending text.
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}: {error}", error.line(), error.column())
}
