//! The OAuth2 client-credentials grant against Azure AD, on the `oauth2` crate.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use oauth2::{AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, TokenUrl};
use secrecy::ExposeSecret;
use tracing::Instrument;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::credential::ClientCredential;
use crate::error::{DecodeError, ServiceError, TransportError};
use crate::http_client::{HttpError, RecordingClient, ResponseMeta};
use crate::http_settings::HttpSettings;
use crate::http_version::HttpVersion;
use crate::resource::is_guid;
use crate::token_response::{AadErrorBody, AadTokenResponse};
use crate::transport_security::check_plain_http;
use crate::{AccessToken, AuthorityHost, Error, Resource, Result, RetryPolicy, Tenant, TokenEndpoint, TokenProvider};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

type AadClient = oauth2::Client<
    AadErrorBody,
    AadTokenResponse,
    oauth2::StandardTokenIntrospectionResponse<oauth2::EmptyExtraTokenFields, oauth2::basic::BasicTokenType>,
    oauth2::StandardRevocableToken,
    oauth2::StandardErrorResponse<oauth2::RevocationErrorResponseType>,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Acquires tokens with the OAuth2 client-credentials grant, as an Azure AD app registration.
///
/// Every call sends a request: put a [`TokenCache`](crate::TokenCache) in front of it.
/// One provider serves any number of resources (Dataverse, Graph, your own API).
///
/// ```no_run
/// use aad_auth::{ClientCredential, ClientCredentialsProvider, Resource, SecretString, TokenEndpoint};
///
/// # fn run() -> aad_auth::Result<()> {
/// let provider = ClientCredentialsProvider::builder(
///     "contoso.onmicrosoft.com",
///     "11111111-2222-3333-4444-555555555555",
///     ClientCredential::secret(SecretString::from(std::env::var("AZURE_CLIENT_SECRET").unwrap_or_default())),
/// )
/// .endpoint(TokenEndpoint::V1)
/// .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientCredentialsProvider {
    inner: Arc<Inner>,
}

struct Inner {
    tenant: Tenant,
    client_id: String,
    endpoint: TokenEndpoint,
    token_url: Url,
    credential: ClientCredential,
    oauth: AadClient,
    http: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

/// How a client secret is presented to the token endpoint (RFC 6749 §2.3.1).
///
/// Certificates and federated assertions always go in the request body as `client_assertion`;
/// this choice only applies to a [`ClientCredential::Secret`].
///
/// ```
/// use aad_auth::{ClientAuthentication, ClientCredential, ClientCredentialsProvider, SecretString};
///
/// let provider = ClientCredentialsProvider::builder(
///     "contoso.onmicrosoft.com",
///     "11111111-2222-3333-4444-555555555555",
///     ClientCredential::secret(SecretString::from("abc8Q~example")),
/// )
/// .client_authentication(ClientAuthentication::Basic)
/// .build()?;
/// # let _ = provider;
/// # Ok::<(), aad_auth::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuthentication {
    /// `client_secret_post`: `client_id` and `client_secret` are form fields of the body (what Azure AD documents).
    #[default]
    RequestBody,
    /// `client_secret_basic`: an `Authorization: Basic` header carrying the form-encoded id and secret,
    /// `base64(urlencode(client_id) ":" urlencode(client_secret))`, as some gateways and sovereign setups require.
    Basic,
}

/// Configures a [`ClientCredentialsProvider`]. A bad value is reported by [`build`](Self::build).
#[must_use]
pub struct ClientCredentialsProviderBuilder {
    tenant: String,
    client_id: String,
    credential: ClientCredential,
    authority: Result<AuthorityHost>,
    endpoint: TokenEndpoint,
    client_authentication: ClientAuthentication,
    http: HttpSettings,
    timeout: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl ClientCredentialsProvider {
    /// Starts configuring a provider for the app `client_id` in `tenant` (a GUID or a domain).
    pub fn builder(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        credential: ClientCredential,
    ) -> ClientCredentialsProviderBuilder {
        ClientCredentialsProviderBuilder {
            tenant: tenant.into(),
            client_id: client_id.into(),
            credential,
            authority: Ok(AuthorityHost::default()),
            endpoint: TokenEndpoint::default(),
            client_authentication: ClientAuthentication::default(),
            http: HttpSettings::default(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::token_requests(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.inner.tenant
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The token endpoint URL requests go to.
    pub fn token_url(&self) -> &Url {
        &self.inner.token_url
    }

    /// The endpoint version in use.
    pub fn endpoint(&self) -> TokenEndpoint {
        self.inner.endpoint
    }
}

impl ClientCredentialsProviderBuilder {
    /// The Azure AD host (default: the public cloud).
    pub fn authority_host(mut self, host: AuthorityHost) -> Self {
        self.authority = Ok(host);
        self
    }

    /// The Azure AD host as a URL, as `AZURE_AUTHORITY_HOST` gives it. A bad URL is reported by `build`.
    pub fn authority_url(mut self, url: &str) -> Self {
        self.authority = AuthorityHost::parse(url);
        self
    }

    /// The token endpoint version (default [`TokenEndpoint::V2`]).
    pub fn endpoint(mut self, endpoint: TokenEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// How a client secret is sent (default [`ClientAuthentication::RequestBody`]).
    /// [`build`](Self::build) refuses [`ClientAuthentication::Basic`] with a credential that is not a secret.
    pub fn client_authentication(mut self, authentication: ClientAuthentication) -> Self {
        self.client_authentication = authentication;
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
    /// instead of the one `HTTPS_PROXY` names. A malformed URL is reported by `build`.
    ///
    /// ```no_run
    /// # use aad_auth::{ClientCredential, ClientCredentialsProvider, SecretString};
    /// # fn run(credential: ClientCredential) -> aad_auth::Result<()> {
    /// let provider = ClientCredentialsProvider::builder("contoso.onmicrosoft.com", "11111111-2222-3333-4444-555555555555", credential)
    ///     .proxy("http://proxy.contoso.com:3128")
    ///     .add_root_certificate(std::fs::read("/etc/ssl/inspecting-proxy-ca.pem").unwrap_or_default())
    ///     .build()?;
    /// # Ok(()) }
    /// ```
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

    /// How failed requests are retried (default [`RetryPolicy::token_requests`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock (tests pass a manual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the provider.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field at fault: an empty or malformed tenant or client id
    /// (a GUID on Azure AD's own hosts; any text without spaces on a [`AuthorityHost::Custom`] server),
    /// a secret that is empty or looks like a Secret ID, an authority URL that is not https (or loopback),
    /// HTTP Basic with a credential that is not a secret, or an HTTP setting that cannot work.
    pub fn build(self) -> Result<ClientCredentialsProvider> {
        let tenant = Tenant::new(self.tenant)?;
        let authority = self.authority?;
        let client_id = check_client_id(&self.client_id, &authority)?;
        self.credential.validate()?;
        let token_url = self.endpoint.url(&authority, &tenant)?;
        check_plain_http(&token_url).map_err(|reason| Error::config("authority_host", reason))?;
        let auth_type = match (self.client_authentication, &self.credential) {
            (ClientAuthentication::RequestBody, _) => AuthType::RequestBody,
            (ClientAuthentication::Basic, ClientCredential::Secret(_)) => AuthType::BasicAuth,
            (ClientAuthentication::Basic, other) => {
                return Err(Error::config(
                    "client_authentication",
                    format!(
                        "HTTP Basic carries a client secret, but the credential is a {}; \
                         certificates and assertions are always sent in the request body",
                        other.kind()
                    ),
                ));
            }
        };
        // oauth2 form-encodes the id and the secret before base64 for HTTP Basic, as RFC 6749 §2.3.1 requires.
        let mut oauth = oauth2::Client::new(ClientId::new(client_id.clone()))
            .set_auth_type(auth_type)
            .set_token_uri(TokenUrl::from_url(token_url.clone()));
        if let ClientCredential::Secret(secret) = &self.credential {
            oauth = oauth.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        let http = self.http.build()?;
        Ok(ClientCredentialsProvider {
            inner: Arc::new(Inner {
                tenant,
                client_id,
                endpoint: self.endpoint,
                token_url,
                credential: self.credential,
                oauth,
                http,
                timeout: self.timeout,
                retry: self.retry,
                clock: self.clock,
            }),
        })
    }
}

/// Azure AD's hosts know apps by a GUID; another OAuth2 server may use any client id without spaces.
fn check_client_id(client_id: &str, authority: &AuthorityHost) -> Result<String> {
    let client_id = client_id.trim();
    if client_id.is_empty() {
        return Err(Error::config(
            "client_id",
            "it is empty; give the Application (client) ID from the app registration's overview",
        ));
    }
    let custom = matches!(authority, AuthorityHost::Custom(_));
    if custom && client_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::config("client_id", "it contains white space or control characters"));
    }
    if !custom && !is_guid(client_id) {
        return Err(Error::config(
            "client_id",
            format!(
                "`{client_id}` is not a GUID; give the Application (client) ID from the app registration's overview"
            ),
        ));
    }
    Ok(client_id.to_owned())
}

impl Inner {
    async fn request_once(&self, resource: &Resource, attempt: u32) -> Result<AccessToken> {
        let requested_at = self.clock.now();
        let assertion = match &self.credential {
            ClientCredential::Secret(_) => None,
            ClientCredential::Certificate(certificate) => {
                Some(certificate.client_assertion(&self.client_id, self.token_url.as_str(), requested_at)?)
            }
            ClientCredential::Assertion(source) => Some(source.assertion().await?),
        };
        let scope = resource.default_scope();
        let mut request = self.oauth.exchange_client_credentials();
        if let Some(assertion) = &assertion {
            request = request
                .add_extra_param("client_assertion_type", JWT_BEARER)
                .add_extra_param("client_assertion", assertion.expose_secret());
        }
        request = match self.endpoint {
            TokenEndpoint::V1 => request.add_extra_param("resource", resource.as_str()),
            TokenEndpoint::V2 => request.add_extra_param("scope", scope.as_str()),
        };
        let client = RecordingClient::new(&self.http, self.timeout, requested_at);
        let outcome = request.request_async(&client).await;
        let meta = client.meta();
        let result = match outcome {
            Ok(response) => response
                .into_access_token(requested_at)
                .map_err(|what| Error::Decode(DecodeError::new(meta.map(|m| m.status), what))),
            Err(error) => Err(self.map_error(error, meta)),
        };
        match &result {
            Ok(token) => tracing::debug!(attempt, expires_on = ?token.expires_on(), "token acquired"),
            Err(error) => tracing::debug!(attempt, status = ?error.status(), error = %error, "token request failed"),
        }
        result
    }

    fn map_error(&self, error: RequestTokenError<HttpError, AadErrorBody>, meta: Option<ResponseMeta>) -> Error {
        let endpoint = self.token_url.as_str();
        match error {
            RequestTokenError::ServerResponse(body) => Error::Service(Box::new(service_error(body, meta))),
            RequestTokenError::Request(HttpError::Insecure(reason)) => Error::config("authority_host", reason),
            RequestTokenError::Request(HttpError::Timeout(source)) => {
                Error::Timeout(TransportError::new(endpoint, Some(Arc::new(source))))
            }
            RequestTokenError::Request(HttpError::Transport(source)) => {
                Error::Transport(TransportError::new(endpoint, Some(Arc::new(source))))
            }
            RequestTokenError::Request(HttpError::Build(source)) => {
                Error::Transport(TransportError::new(endpoint, Some(Arc::from(source))))
            }
            RequestTokenError::Parse(parse, body) => match meta {
                Some(meta) if meta.status != 200 => Error::Service(Box::new(unreadable_error(meta, &body))),
                _ => Error::Decode(DecodeError::new(
                    meta.map(|m| m.status),
                    format!("field `{}` is invalid ({})", parse.path(), describe_json_error(parse.inner())),
                )),
            },
            RequestTokenError::Other(what) => match meta {
                Some(meta) if meta.status != 200 => Error::Service(Box::new(unreadable_error(meta, &[]))),
                _ => Error::Decode(DecodeError::new(meta.map(|m| m.status), what)),
            },
        }
    }
}

/// An Azure AD error body, with the status and `Retry-After` oauth2 does not keep.
pub(crate) fn service_error(body: AadErrorBody, meta: Option<ResponseMeta>) -> ServiceError {
    let meta = meta.unwrap_or_default();
    ServiceError {
        status: meta.status,
        error: body.error,
        description: body.error_description,
        codes: body.error_codes,
        timestamp: body.timestamp,
        trace_id: body.trace_id,
        correlation_id: body.correlation_id,
        retry_after: meta.retry_after,
        transient: false,
    }
}

/// An error answer whose body is not an OAuth2 error (a proxy's HTML page, an empty 503).
pub(crate) fn unreadable_error(meta: ResponseMeta, body: &[u8]) -> ServiceError {
    let text = String::from_utf8_lossy(body);
    let description = text.trim();
    ServiceError {
        status: meta.status,
        error: String::new(),
        description: (!description.is_empty()).then(|| description.chars().take(200).collect()),
        codes: Vec::new(),
        timestamp: None,
        trace_id: None,
        correlation_id: None,
        retry_after: meta.retry_after,
        transient: false,
    }
}

/// A JSON error's kind and position, without the offending value (which may be part of a token).
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

#[async_trait]
impl TokenProvider for ClientCredentialsProvider {
    async fn token(&self, resource: &Resource) -> Result<AccessToken> {
        let inner = &self.inner;
        let span = tracing::info_span!(
            "aad_auth.acquire_token",
            tenant = %inner.tenant,
            client_id = %inner.client_id,
            resource = %resource,
            endpoint = ?inner.endpoint,
            credential = inner.credential.kind(),
            outcome = tracing::field::Empty,
        );
        async move {
            let result = inner
                .retry
                .run(&*inner.clock, |attempt| {
                    inner.request_once(resource, attempt).instrument(tracing::debug_span!("aad_auth.attempt", attempt))
                })
                .await;
            let outcome = match &result {
                Ok(_) => "acquired",
                Err(error) if error.is_config() => "configuration error",
                Err(_) => "failed",
            };
            tracing::Span::current().record("outcome", outcome);
            result
        }
        .instrument(span)
        .await
    }
}

impl fmt::Debug for ClientCredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsProvider")
            .field("tenant", &self.inner.tenant)
            .field("client_id", &self.inner.client_id)
            .field("token_url", &self.inner.token_url.as_str())
            .field("credential", &self.inner.credential)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ClientCredentialsProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsProviderBuilder")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("endpoint", &self.endpoint)
            .field("client_authentication", &self.client_authentication)
            .finish_non_exhaustive()
    }
}
