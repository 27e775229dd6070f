//! Azure managed identity: tokens from the instance metadata service or the App Service identity endpoint.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;
use url::Url;

use crate::client_credentials::{describe_json_error, service_error, unreadable_error};
use crate::clock::{Clock, SystemClock};
use crate::env::{IDENTITY_ENDPOINT, IDENTITY_HEADER};
use crate::error::{DecodeError, TransportError};
use crate::http_client::{ResponseMeta, parse_retry_after};
use crate::http_settings::HttpSettings;
use crate::http_version::HttpVersion;
use crate::token_response::{AadErrorBody, AadTokenResponse};
use crate::transport_security::{check_plain_http, is_instance_metadata};
use crate::{AccessToken, Error, Resource, Result, RetryPolicy, TokenProvider};

/// The instance metadata service's token endpoint.
pub(crate) const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

const IMDS_API_VERSION: &str = "2018-02-01";
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// Which user-assigned identity to use; without one the system-assigned identity is used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserAssignedId {
    /// The identity's client id.
    ClientId(String),
    /// The identity's object (principal) id.
    ObjectId(String),
    /// The identity's Azure resource id.
    ResourceId(String),
}

/// Acquires tokens as the Azure resource's managed identity: no secret to store or rotate.
///
/// ```no_run
/// use aad_auth::{ManagedIdentityProvider, Resource, TokenCache, TokenProvider};
///
/// # async fn run() -> aad_auth::Result<()> {
/// let provider = ManagedIdentityProvider::builder().from_env().build()?;
/// let cache = TokenCache::new(provider);
/// let token = cache.token(&Resource::new("https://contoso.crm.dynamics.com")?).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ManagedIdentityProvider {
    inner: Arc<Inner>,
}

#[derive(Clone)]
enum Source {
    Imds(Url),
    AppService { endpoint: Url, header: SecretString },
}

struct Inner {
    source: Source,
    identity: Option<UserAssignedId>,
    http: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

/// Configures a [`ManagedIdentityProvider`]. A bad value is reported by [`build`](Self::build).
#[must_use]
pub struct ManagedIdentityProviderBuilder {
    source: Result<Source>,
    identity: Option<UserAssignedId>,
    http: HttpSettings,
    timeout: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl ManagedIdentityProvider {
    /// Starts configuring a provider for the instance metadata service.
    pub fn builder() -> ManagedIdentityProviderBuilder {
        ManagedIdentityProviderBuilder {
            source: imds(IMDS_ENDPOINT),
            identity: None,
            http: HttpSettings::default(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::token_requests().max_attempts(5),
            clock: Arc::new(SystemClock),
        }
    }
}

fn imds(url: &str) -> Result<Source> {
    let url = Url::parse(url)
        .map_err(|e| Error::config("managed_identity_endpoint", format!("`{url}` is not a URL ({e})")))?;
    // The metadata service is link-local and takes no secret; any other plain-http host must be loopback.
    if !is_instance_metadata(&url) {
        check_plain_http(&url).map_err(|reason| Error::config("managed_identity_endpoint", reason))?;
    }
    Ok(Source::Imds(url))
}

impl ManagedIdentityProviderBuilder {
    /// Uses the instance metadata service at `url` instead of the default (for tests and proxies).
    pub fn imds_endpoint(mut self, url: &str) -> Self {
        self.source = imds(url);
        self
    }

    /// Uses the App Service form: `endpoint` (`IDENTITY_ENDPOINT`) with the secret `header` (`IDENTITY_HEADER`).
    pub fn app_service(mut self, endpoint: &str, header: SecretString) -> Self {
        self.source = Url::parse(endpoint)
            .map_err(|e| Error::config(IDENTITY_ENDPOINT, format!("`{endpoint}` is not a URL ({e})")))
            .and_then(|url| {
                check_plain_http(&url).map_err(|reason| Error::config(IDENTITY_ENDPOINT, reason))?;
                Ok(Source::AppService { endpoint: url, header })
            });
        self
    }

    /// Picks the endpoint from the environment: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` when set,
    /// the instance metadata service otherwise; `AZURE_CLIENT_ID`, when set, selects a user-assigned identity.
    pub fn from_env(self) -> Self {
        self.from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        if let (Some(endpoint), Some(header)) = (lookup(IDENTITY_ENDPOINT), lookup(IDENTITY_HEADER)) {
            self = self.app_service(&endpoint, SecretString::from(header));
        }
        if let Some(client_id) = lookup(crate::env::CLIENT_ID).filter(|v| !v.trim().is_empty()) {
            self.identity = Some(UserAssignedId::ClientId(client_id));
        }
        self
    }

    /// Uses a user-assigned identity.
    pub fn user_assigned(mut self, identity: UserAssignedId) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The reqwest client to send with, instead of one built from the settings below.
    /// [`build`](Self::build) refuses it together with a proxy, root certificate, HTTP version or user agent,
    /// which it would ignore.
    ///
    /// # Security
    /// Configure it not to follow redirects: a redirected token request would carry the credential to another host.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http.client(client);
        self
    }

    /// Sends through this proxy (`http://host:port` or `https://host:port`, optionally with `user:password@`),
    /// instead of the one `HTTP_PROXY` names (the endpoints are local, so this is rarely wanted).
    /// A malformed URL is reported by `build`.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.http.proxy(url.into());
        self
    }

    /// Trusts this extra root certificate (PEM, possibly several, or DER) besides the built-in roots,
    /// as behind a TLS-inspecting proxy. Input that is not a certificate is reported by `build`.
    pub fn add_root_certificate(mut self, certificate: impl Into<Vec<u8>>) -> Self {
        self.http.add_root_certificate(certificate.into());
        self
    }

    /// The HTTP version (default [`HttpVersion::Negotiate`]).
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.http.version(version);
        self
    }

    /// The `User-Agent` header (default `aad-auth/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.http.user_agent(user_agent.into());
        self
    }

    /// All HTTP settings at once (the credential chain hands its own down).
    pub(crate) fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// The timeout of each attempt (default 30 seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How failed requests are retried (default: five attempts).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock (tests pass a manual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// [`Error::Config`] for an endpoint that is not a URL or is plain http to a host that is not local.
    pub fn build(self) -> Result<ManagedIdentityProvider> {
        let http = self.http.build()?;
        Ok(ManagedIdentityProvider {
            inner: Arc::new(Inner {
                source: self.source?,
                identity: self.identity,
                http,
                timeout: self.timeout,
                retry: self.retry,
                clock: self.clock,
            }),
        })
    }
}

impl Inner {
    fn request(&self, resource: &Resource) -> reqwest::RequestBuilder {
        let (endpoint, version) = match &self.source {
            Source::Imds(url) => (url, IMDS_API_VERSION),
            Source::AppService { endpoint, .. } => (endpoint, APP_SERVICE_API_VERSION),
        };
        let mut url = endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("api-version", version).append_pair("resource", resource.as_str());
            match (&self.identity, &self.source) {
                (Some(UserAssignedId::ClientId(id)), _) => query.append_pair("client_id", id),
                (Some(UserAssignedId::ObjectId(id)), _) => query.append_pair("object_id", id),
                (Some(UserAssignedId::ResourceId(id)), Source::Imds(_)) => query.append_pair("msi_res_id", id),
                (Some(UserAssignedId::ResourceId(id)), Source::AppService { .. }) => query.append_pair("mi_res_id", id),
                (None, _) => &mut query,
            };
        }
        let request = self.http.get(url).timeout(self.timeout);
        match &self.source {
            Source::Imds(_) => request.header("Metadata", "true"),
            Source::AppService { header, .. } => request.header("X-IDENTITY-HEADER", header.expose_secret()),
        }
    }

    fn endpoint(&self) -> &Url {
        match &self.source {
            Source::Imds(url) => url,
            Source::AppService { endpoint, .. } => endpoint,
        }
    }

    async fn request_once(&self, resource: &Resource) -> Result<AccessToken> {
        let requested_at = self.clock.now();
        let transport = |source: reqwest::Error| {
            let source = source.without_url();
            let timed_out = source.is_timeout();
            let error = TransportError::new(self.endpoint().as_str(), Some(Arc::new(source)));
            if timed_out { Error::Timeout(error) } else { Error::Transport(error) }
        };
        let response = self.request(resource).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, requested_at));
        let meta = ResponseMeta { status, retry_after };
        let body = response.bytes().await.map_err(transport)?;
        if status == 200 {
            let parsed: AadTokenResponse = serde_json::from_slice(&body)
                .map_err(|e| Error::Decode(DecodeError::new(Some(status), describe_json_error(&e))))?;
            return parsed
                .into_access_token(requested_at)
                .map_err(|what| Error::Decode(DecodeError::new(Some(status), what)));
        }
        let mut error = match serde_json::from_slice::<AadErrorBody>(&body) {
            Ok(parsed) => service_error(parsed, Some(meta)),
            Err(_) => unreadable_error(meta, &body),
        };
        // The metadata service answers 404 and 410 while the identity is being set up.
        error.transient = matches!(self.source, Source::Imds(_)) && matches!(status, 404 | 410);
        Err(Error::Service(Box::new(error)))
    }
}

#[async_trait]
impl TokenProvider for ManagedIdentityProvider {
    async fn token(&self, resource: &Resource) -> Result<AccessToken> {
        let inner = &self.inner;
        let span = tracing::info_span!(
            "aad_auth.managed_identity",
            endpoint = %inner.endpoint(),
            resource = %resource,
            identity = ?inner.identity,
        );
        inner.retry.run(&*inner.clock, |_attempt| inner.request_once(resource)).instrument(span).await
    }
}

impl fmt::Debug for ManagedIdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.inner.source {
            Source::Imds(_) => "imds",
            Source::AppService { .. } => "app_service",
        };
        f.debug_struct("ManagedIdentityProvider")
            .field("source", &source)
            .field("endpoint", &self.inner.endpoint().as_str())
            .field("identity", &self.inner.identity)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ManagedIdentityProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityProviderBuilder").field("identity", &self.identity).finish_non_exhaustive()
    }
}
