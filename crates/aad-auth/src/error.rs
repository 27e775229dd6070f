//! The crate's error type.
//!
//! Variants follow the life of a token request: a [`Error::Config`] was never sent,
//! a [`Error::Credential`] failed while preparing the credential (reading a certificate or an assertion file),
//! [`Error::Transport`] and [`Error::Timeout`] never got an answer,
//! [`Error::Service`] is Azure AD's (or the managed identity endpoint's) answer,
//! and [`Error::Decode`] is an answer that could not be read.
//! [`Error::Audience`] is a token for another resource, caught before it is sent,
//! and [`Error::Challenge`] an org whose sign-in challenge could not be read.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::aadsts;
use crate::audience;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while building a credential or acquiring a token.
///
/// `Error` is cheap to clone, so one failed acquisition can be handed to every caller waiting on it.
/// No variant ever holds a secret, an access token or a client assertion.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; nothing was sent.
    #[error(transparent)]
    Config(ConfigError),
    /// The credential could not be prepared (certificate file, key, assertion file).
    #[error(transparent)]
    Credential(CredentialError),
    /// The request could not be sent or its answer could not be received.
    #[error(transparent)]
    Transport(TransportError),
    /// The request did not finish within its timeout.
    #[error(transparent)]
    Timeout(TransportError),
    /// The token endpoint answered with an error.
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The token endpoint answered, but the answer could not be read.
    #[error(transparent)]
    Decode(DecodeError),
    /// A token provider outside this crate failed.
    #[error(transparent)]
    Provider(ProviderError),
    /// A token was issued for another resource than the one it was about to be sent to.
    #[error(transparent)]
    Audience(AudienceError),
    /// The org's sign-in challenge (`WWW-Authenticate`) could not be had or read.
    #[error(transparent)]
    Challenge(ChallengeError),
    /// No step of a credential chain could give a token; the error lists what each step found.
    #[cfg(feature = "client-credentials")]
    #[error(transparent)]
    Chain(ChainError),
}

impl Error {
    /// A configuration error for `field`, explaining `reason`.
    pub fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Config(ConfigError { field, reason: reason.into() })
    }

    /// Wraps the failure of a token provider written outside this crate.
    ///
    /// ```
    /// let error = aad_auth::Error::provider(std::io::Error::other("vault unreachable"));
    /// assert_eq!(error.to_string(), "token provider failed: vault unreachable");
    /// ```
    pub fn provider(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Provider(ProviderError { source: Arc::new(source) })
    }

    #[cfg_attr(not(feature = "client-credentials"), allow(dead_code))]
    pub(crate) fn credential(what: impl Into<String>, source: Option<Source>) -> Self {
        Error::Credential(CredentialError { what: what.into(), source })
    }

    /// True when the request could not have been processed: a configuration or credential problem,
    /// or a token for another resource.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Config(_) | Error::Credential(_) | Error::Audience(_))
    }

    /// True when the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }

    /// True when the token endpoint throttled the request (HTTP 429).
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429)
    }

    /// True when repeating the same request later may succeed:
    /// transport failures, timeouts, throttling and server-side failures.
    /// Rejections such as `invalid_client` or `unauthorized_client` are never retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Timeout(_) => true,
            Error::Service(service) => service.is_retryable(),
            _ => false,
        }
    }

    /// The HTTP status of the token endpoint's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service(service) => Some(service.status()),
            Error::Decode(decode) => decode.status,
            _ => None,
        }
    }

    /// How long the token endpoint asked to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Service(service) => service.retry_after(),
            _ => None,
        }
    }

    /// The details of Azure AD's error answer, when this is one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Error::Service(service) => Some(service),
            _ => None,
        }
    }

    /// The first AADSTS code of Azure AD's answer (`7000215` for `AADSTS7000215`), when there is one.
    pub fn aadsts_code(&self) -> Option<u32> {
        self.service_error().and_then(ServiceError::aadsts_code)
    }

    /// A plain-language explanation of what to fix, when the cause is known.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Service(service) => service.hint(),
            Error::Audience(_) => Some(audience::HINT),
            #[cfg(feature = "client-credentials")]
            Error::Chain(_) => Some(
                "no credential is configured on this host: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET \
                 (or AZURE_CLIENT_CERTIFICATE_PATH), or AZURE_FEDERATED_TOKEN_FILE for workload identity, \
                 or run on an Azure host with a managed identity",
            ),
            _ => None,
        }
    }
}

/// A configuration value that cannot work; reported before anything is sent.
#[derive(Debug, Clone)]
pub struct ConfigError {
    field: &'static str,
    reason: String,
}

impl ConfigError {
    /// The configuration field at fault, such as `tenant` or `client_id`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why the value was refused and what to do instead.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.field, self.reason)
    }
}

/// A credential that could not be prepared: a certificate that cannot be read, a key that does not match.
#[derive(Debug, Clone)]
pub struct CredentialError {
    what: String,
    source: Option<Source>,
}

impl CredentialError {
    /// What went wrong, in words.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for CredentialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// A request that got no answer: connection refused, TLS failure, timeout, or a refused insecure URL.
#[derive(Debug, Clone)]
pub struct TransportError {
    endpoint: String,
    source: Option<Source>,
}

impl TransportError {
    #[cfg_attr(not(feature = "client-credentials"), allow(dead_code))]
    pub(crate) fn new(endpoint: impl Into<String>, source: Option<Source>) -> Self {
        Self { endpoint: endpoint.into(), source }
    }

    /// The endpoint the request was for.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token request to {} got no answer", self.endpoint)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// The token endpoint's error answer, with everything Azure AD sent to trace it.
#[derive(Debug, Clone)]
pub struct ServiceError {
    pub(crate) status: u16,
    pub(crate) error: String,
    pub(crate) description: Option<String>,
    pub(crate) codes: Vec<u32>,
    pub(crate) timestamp: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    /// Set where an endpoint documents a status as transient beyond the usual ones (IMDS: 404, 410).
    pub(crate) transient: bool,
}

impl ServiceError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The OAuth2 error code, such as `invalid_client`; empty when the body was not an OAuth2 error.
    pub fn error(&self) -> &str {
        &self.error
    }

    /// Azure AD's `error_description`, or the start of a body that was not JSON.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// All AADSTS codes Azure AD listed in `error_codes`.
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// The first AADSTS code, from `error_codes` or else from the description.
    pub fn aadsts_code(&self) -> Option<u32> {
        self.codes.first().copied().or_else(|| self.description.as_deref().and_then(aadsts::first_code))
    }

    /// Azure AD's `timestamp`, as it was sent (for example `2016-04-11 18:00:12Z`).
    pub fn timestamp(&self) -> Option<&str> {
        self.timestamp.as_deref()
    }

    /// Azure AD's `trace_id`, which Microsoft support asks for.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// Azure AD's `correlation_id`, which Microsoft support asks for.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// The wait the server asked for in `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// A plain-language explanation of what to fix: for the common AADSTS codes, or, when the server sent
    /// no AADSTS code (a standards-compliant OAuth2 server, a gateway), from the OAuth2 error code,
    /// the HTTP status and the description, so that an expired and a wrong secret get different fixes.
    pub fn hint(&self) -> Option<&'static str> {
        if self.aadsts_code().is_none() {
            return aadsts::oauth_hint(&self.error, self.status, self.description.as_deref());
        }
        self.codes
            .iter()
            .copied()
            .chain(self.description.as_deref().and_then(aadsts::first_code))
            .find_map(aadsts::hint)
    }

    /// True when the same request may succeed later: throttling, server failures, `temporarily_unavailable`.
    pub fn is_retryable(&self) -> bool {
        self.transient
            || self.status == 429
            || self.status == 408
            || self.status >= 500
            || self.error == "temporarily_unavailable"
    }
}

impl std::error::Error for ServiceError {}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token endpoint answered {}", self.status)?;
        if !self.error.is_empty() {
            write!(f, " {}", self.error)?;
        }
        if let Some(code) = self.aadsts_code() {
            write!(f, " (AADSTS{code})")?;
        }
        match (self.hint(), self.description.as_deref()) {
            (Some(hint), _) => write!(f, ": {hint}"),
            (None, Some(description)) => write!(f, ": {}", aadsts::first_line(description)),
            (None, None) => Ok(()),
        }
    }
}

/// An answer that could not be read as a token or an error.
#[derive(Debug, Clone)]
pub struct DecodeError {
    pub(crate) status: Option<u16>,
    pub(crate) what: String,
}

impl DecodeError {
    #[cfg_attr(not(feature = "client-credentials"), allow(dead_code))]
    pub(crate) fn new(status: Option<u16>, what: impl Into<String>) -> Self {
        Self { status, what: what.into() }
    }

    /// What could not be read. Never contains the body, which may hold a token.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl std::error::Error for DecodeError {}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not read the token response: {}", self.what)
    }
}

/// A token issued for another resource than the one it was about to be sent to.
#[derive(Debug, Clone)]
pub struct AudienceError {
    expected: String,
    found: Vec<String>,
}

impl AudienceError {
    pub(crate) fn new(expected: impl Into<String>, found: Vec<String>) -> Self {
        Self { expected: expected.into(), found }
    }

    /// The resource the token was meant for.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// The audiences the token names.
    pub fn found(&self) -> &[String] {
        &self.found
    }
}

impl std::error::Error for AudienceError {}

impl fmt::Display for AudienceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the token is for {}, not for {}", self.found.join(", "), self.expected)
    }
}

/// The org's sign-in challenge could not be had or read; see [`Challenge`](crate::Challenge).
#[derive(Debug, Clone)]
pub struct ChallengeError {
    url: Option<String>,
    status: Option<u16>,
    what: String,
    source: Option<Source>,
}

impl ChallengeError {
    #[cfg_attr(not(feature = "client-credentials"), allow(dead_code))]
    pub(crate) fn new(what: impl Into<String>) -> Self {
        Self { url: None, status: None, what: what.into(), source: None }
    }

    #[cfg_attr(not(feature = "client-credentials"), allow(dead_code))]
    pub(crate) fn at(mut self, url: impl Into<String>, status: Option<u16>, source: Option<Source>) -> Self {
        self.url = Some(url.into());
        self.status = status;
        self.source = source;
        self
    }

    /// The URL asked for the challenge, when one was asked.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// What was wrong, in words.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.url {
            Some(url) => write!(f, "no sign-in challenge from {url}: {}", self.what),
            None => write!(f, "cannot read the sign-in challenge: {}", self.what),
        }
    }
}

impl std::error::Error for ChallengeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// What each step of a [`DefaultCredential`](crate::DefaultCredential) chain found, when none could give a token.
/// The last step's failure, if it had one, is the `source()`.
#[cfg(feature = "client-credentials")]
#[derive(Debug, Clone)]
pub struct ChainError {
    steps: Vec<crate::ChainStep>,
    last: Box<Error>,
}

#[cfg(feature = "client-credentials")]
impl ChainError {
    pub(crate) fn new(steps: Vec<crate::ChainStep>, last: Error) -> Self {
        Self { steps, last: Box::new(last) }
    }

    /// Each step, in order, with what it found.
    pub fn steps(&self) -> &[crate::ChainStep] {
        &self.steps
    }

    /// The failure of the last step tried.
    pub fn last_error(&self) -> &Error {
        &self.last
    }
}

#[cfg(feature = "client-credentials")]
impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no credential of the chain could give a token")?;
        for (index, step) in self.steps.iter().enumerate() {
            f.write_str(if index == 0 { ": " } else { "; " })?;
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "client-credentials")]
impl std::error::Error for ChainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.last)
    }
}

/// The failure of a [`TokenProvider`](crate::TokenProvider) implemented outside this crate.
#[derive(Debug, Clone)]
pub struct ProviderError {
    source: Source,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token provider failed: {}", self.source)
    }
}

impl std::error::Error for ProviderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
