//! A credential chain for unattended hosts, in the order Azure Identity's `DefaultAzureCredential` documents:
//! the environment (a secret, then a certificate), workload identity, then managed identity.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::clock::{Clock, SystemClock};
use crate::env::{
    AUTHORITY_HOST, CLIENT_CERTIFICATE_PASSWORD, CLIENT_CERTIFICATE_PATH, CLIENT_ID, CLIENT_SECRET,
    CLIENT_SEND_CERTIFICATE_CHAIN, FEDERATED_TOKEN_FILE, IDENTITY_ENDPOINT, IDENTITY_HEADER, TENANT_ID,
};
use crate::error::ChainError;
use crate::http_settings::HttpSettings;
use crate::http_version::HttpVersion;
use crate::{
    AccessToken, ClientCertificate, ClientCredential, ClientCredentialsProvider, Error, ManagedIdentityProvider,
    Resource, Result, RetryPolicy, TokenEndpoint, TokenProvider,
};

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A step of the [`DefaultCredential`] chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialSource {
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, or else `AZURE_CLIENT_CERTIFICATE_PATH`.
    Environment,
    /// `AZURE_FEDERATED_TOKEN_FILE` with `AZURE_CLIENT_ID` and `AZURE_TENANT_ID` (Kubernetes workload identity).
    WorkloadIdentity,
    /// The App Service identity endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`) or the instance metadata service.
    ManagedIdentity,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Environment => "environment",
            Self::WorkloadIdentity => "workload identity",
            Self::ManagedIdentity => "managed identity",
        })
    }
}

/// What one step of the chain found. Findings name variables and endpoints, never their secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStep {
    source: CredentialSource,
    finding: String,
}

impl ChainStep {
    pub(crate) fn new(source: CredentialSource, finding: impl Into<String>) -> Self {
        Self { source, finding: finding.into() }
    }

    /// The step.
    pub fn source(&self) -> CredentialSource {
        self.source
    }

    /// What it found, such as `AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH not set`.
    pub fn finding(&self) -> &str {
        &self.finding
    }
}

impl fmt::Display for ChainStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.finding)
    }
}

/// Tokens from the first credential the host offers, tried in `DefaultAzureCredential`'s documented order
/// for unattended hosts:
///
/// 1. **environment**: `AZURE_TENANT_ID` and `AZURE_CLIENT_ID` with `AZURE_CLIENT_SECRET`,
///    or else with `AZURE_CLIENT_CERTIFICATE_PATH` (and `AZURE_CLIENT_CERTIFICATE_PASSWORD`, `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`);
/// 2. **workload identity**: `AZURE_FEDERATED_TOKEN_FILE` with `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`,
///    the file's token sent as a `jwt-bearer` client assertion, re-read on every acquisition;
/// 3. **managed identity**: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` when set, the instance metadata service otherwise
///    (`AZURE_CLIENT_ID`, when set, picks a user-assigned identity).
///
/// `AZURE_AUTHORITY_HOST` applies to the first two. The environment is read once, by [`build`](DefaultCredentialBuilder::build):
/// the first step whose variables are complete is the credential, and its failures are returned as they are.
/// Only managed identity is tried at run time: the metadata service is probed, with a short connect timeout and no retry,
/// until it first answers. When no step can give a token the error is [`Error::Chain`], listing what each step found.
///
/// ```no_run
/// use aad_auth::{DefaultCredential, Resource, TokenCache, TokenProvider};
///
/// # async fn run() -> aad_auth::Result<()> {
/// let tokens = TokenCache::new(DefaultCredential::from_env()?);
/// let token = tokens.token(&Resource::new("https://contoso.crm.dynamics.com")?).await?;
/// # let _ = token;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DefaultCredential {
    inner: Arc<Inner>,
}

struct Inner {
    steps: Vec<ChainStep>,
    chosen: Chosen,
}

enum Chosen {
    /// The environment or workload identity: configured, so used as it is.
    Configured(CredentialSource, ClientCredentialsProvider),
    /// Managed identity through the App Service endpoint, which the environment names.
    AppService(ManagedIdentityProvider),
    /// Managed identity through the instance metadata service, which may not be there.
    Imds { probe: ManagedIdentityProvider, provider: ManagedIdentityProvider, answered: AtomicBool },
}

/// Configures a [`DefaultCredential`]. A bad value is reported by [`build`](Self::build).
#[must_use]
pub struct DefaultCredentialBuilder {
    lookup: Lookup,
    endpoint: TokenEndpoint,
    http: HttpSettings,
    timeout: Duration,
    probe_timeout: Duration,
    imds_endpoint: Option<String>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl DefaultCredential {
    /// Starts configuring a chain that reads the process environment.
    pub fn builder() -> DefaultCredentialBuilder {
        DefaultCredentialBuilder {
            lookup: Box::new(|name| std::env::var(name).ok()),
            endpoint: TokenEndpoint::default(),
            http: HttpSettings::default(),
            timeout: DEFAULT_TIMEOUT,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            imds_endpoint: None,
            retry: RetryPolicy::token_requests(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A chain with the default settings, reading the process environment.
    ///
    /// # Errors
    /// As [`DefaultCredentialBuilder::build`].
    pub fn from_env() -> Result<Self> {
        Self::builder().build()
    }

    /// What each step found when the chain was built, up to the one chosen.
    pub fn steps(&self) -> &[ChainStep] {
        &self.inner.steps
    }

    /// The step that gives the tokens (managed identity may still turn out to be absent).
    pub fn source(&self) -> CredentialSource {
        match &self.inner.chosen {
            Chosen::Configured(source, _) => *source,
            Chosen::AppService(_) | Chosen::Imds { .. } => CredentialSource::ManagedIdentity,
        }
    }
}

impl DefaultCredentialBuilder {
    /// Reads variables through `lookup` instead of the process environment (tests, other configuration sources).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use aad_auth::{CredentialSource, DefaultCredential};
    ///
    /// let vars = HashMap::from([
    ///     ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
    ///     ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
    ///     ("AZURE_CLIENT_SECRET", "abc8Q~example"),
    /// ]);
    /// let credential = DefaultCredential::builder().lookup(move |name| vars.get(name).map(|v| v.to_string())).build()?;
    /// assert_eq!(credential.source(), CredentialSource::Environment);
    /// # Ok::<(), aad_auth::Error>(())
    /// ```
    pub fn lookup(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.lookup = Box::new(lookup);
        self
    }

    /// The token endpoint version of the environment and workload identity steps (default [`TokenEndpoint::V2`]).
    pub fn endpoint(mut self, endpoint: TokenEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Sends token requests through this proxy; see [`ClientCredentialsProviderBuilder::proxy`](crate::ClientCredentialsProviderBuilder::proxy).
    /// Managed identity endpoints are on the host or its link, so they are reached without it.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.http.proxy(url.into());
        self
    }

    /// Trusts this extra root certificate (PEM or DER); see [`ClientCredentialsProviderBuilder::add_root_certificate`](crate::ClientCredentialsProviderBuilder::add_root_certificate).
    pub fn add_root_certificate(mut self, certificate: impl Into<Vec<u8>>) -> Self {
        self.http.add_root_certificate(certificate.into());
        self
    }

    /// The HTTP version (default [`HttpVersion::Negotiate`]).
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.http.version(version);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.http.user_agent(user_agent.into());
        self
    }

    /// The timeout of each attempt (default 30 seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long connecting to the instance metadata service may take before it is taken as absent (default 1 second).
    pub fn managed_identity_probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Uses the instance metadata service at `url` instead of the default (for tests and proxies).
    pub fn imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.imds_endpoint = Some(url.into());
        self
    }

    /// How failed requests of the chosen credential are retried (default [`RetryPolicy::token_requests`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock (tests pass a manual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reads the environment and picks the first step whose variables are complete.
    ///
    /// # Errors
    /// The [`ClientCredentialsProviderBuilder::build`](crate::ClientCredentialsProviderBuilder::build)
    /// or [`ManagedIdentityProviderBuilder::build`](crate::ManagedIdentityProviderBuilder::build) error
    /// of the chosen step, such as a certificate that cannot be read or a malformed `AZURE_AUTHORITY_HOST`:
    /// a step that is configured but broken is reported, not skipped.
    pub fn build(self) -> Result<DefaultCredential> {
        let get = |name: &str| (self.lookup)(name).filter(|value| !value.trim().is_empty());
        let mut steps = Vec::new();

        match environment_credential(&get) {
            Ok((tenant, client_id, found)) => {
                let (credential, what) = match found {
                    EnvironmentCredential::Secret(secret) => {
                        (ClientCredential::secret(SecretString::from(secret)), format!("{CLIENT_SECRET} set"))
                    }
                    EnvironmentCredential::CertificatePath(path) => {
                        let password = get(CLIENT_CERTIFICATE_PASSWORD).map(SecretString::from);
                        let send_chain = get(CLIENT_SEND_CERTIFICATE_CHAIN)
                            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
                        let certificate = ClientCertificate::from_file(PathBuf::from(&path), password.as_ref())?
                            .with_chain(send_chain);
                        (ClientCredential::certificate(certificate), format!("{CLIENT_CERTIFICATE_PATH} set ({path})"))
                    }
                };
                steps.push(ChainStep::new(
                    CredentialSource::Environment,
                    format!("{what}, for client {client_id} in tenant {tenant}"),
                ));
                let provider = self.client_credentials(&get, tenant, client_id, credential)?;
                return Ok(self.finish(steps, Chosen::Configured(CredentialSource::Environment, provider)));
            }
            Err(finding) => steps.push(ChainStep::new(CredentialSource::Environment, finding)),
        }

        match workload_identity(&get) {
            Ok((tenant, client_id, path)) => {
                steps.push(ChainStep::new(
                    CredentialSource::WorkloadIdentity,
                    format!("{FEDERATED_TOKEN_FILE}, {CLIENT_ID} and {TENANT_ID} set"),
                ));
                let credential = ClientCredential::federated_token_file(path);
                let provider = self.client_credentials(&get, tenant, client_id, credential)?;
                return Ok(self.finish(steps, Chosen::Configured(CredentialSource::WorkloadIdentity, provider)));
            }
            Err(finding) => steps.push(ChainStep::new(CredentialSource::WorkloadIdentity, finding)),
        }

        let local = self.http.without_proxy();
        let managed = |settings: HttpSettings| {
            let mut builder = ManagedIdentityProvider::builder();
            if let Some(url) = &self.imds_endpoint {
                builder = builder.imds_endpoint(url);
            }
            builder.from_lookup(get).http_settings(settings).timeout(self.timeout).clock(Arc::clone(&self.clock))
        };
        let app_service = get(IDENTITY_ENDPOINT).is_some() && get(IDENTITY_HEADER).is_some();
        let chosen = if app_service {
            steps.push(ChainStep::new(
                CredentialSource::ManagedIdentity,
                format!("{IDENTITY_ENDPOINT} and {IDENTITY_HEADER} set: the App Service identity endpoint"),
            ));
            Chosen::AppService(managed(local).retry_policy(self.retry.clone()).build()?)
        } else {
            steps.push(ChainStep::new(
                CredentialSource::ManagedIdentity,
                format!("{IDENTITY_ENDPOINT} not set: the instance metadata service, probed on first use"),
            ));
            Chosen::Imds {
                probe: managed(local.with_connect_timeout(self.probe_timeout))
                    .retry_policy(RetryPolicy::none())
                    .build()?,
                provider: managed(local).retry_policy(self.retry.clone()).build()?,
                answered: AtomicBool::new(false),
            }
        };
        Ok(self.finish(steps, chosen))
    }

    fn client_credentials(
        &self,
        get: &dyn Fn(&str) -> Option<String>,
        tenant: String,
        client_id: String,
        credential: ClientCredential,
    ) -> Result<ClientCredentialsProvider> {
        let mut builder = ClientCredentialsProvider::builder(tenant, client_id, credential)
            .endpoint(self.endpoint)
            .http_settings(self.http.clone())
            .timeout(self.timeout)
            .retry_policy(self.retry.clone())
            .clock(Arc::clone(&self.clock));
        if let Some(host) = get(AUTHORITY_HOST) {
            builder = builder.authority_url(&host);
        }
        builder.build()
    }

    fn finish(self, steps: Vec<ChainStep>, chosen: Chosen) -> DefaultCredential {
        tracing::debug!(steps = %join(&steps), "credential chain built");
        DefaultCredential { inner: Arc::new(Inner { steps, chosen }) }
    }
}

/// What the environment step found: the variable that names the credential, and its value.
enum EnvironmentCredential {
    Secret(String),
    CertificatePath(String),
}

/// The environment step: tenant, client id and credential, or why it does not apply.
fn environment_credential(
    get: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<(String, String, EnvironmentCredential), String> {
    let (name, credential) = match (get(CLIENT_SECRET), get(CLIENT_CERTIFICATE_PATH)) {
        (Some(secret), _) => (CLIENT_SECRET, EnvironmentCredential::Secret(secret)),
        (None, Some(path)) => (CLIENT_CERTIFICATE_PATH, EnvironmentCredential::CertificatePath(path)),
        (None, None) => return Err(format!("{CLIENT_SECRET} and {CLIENT_CERTIFICATE_PATH} not set")),
    };
    let (tenant, client_id) = ids(get, name)?;
    Ok((tenant, client_id, credential))
}

/// The workload identity step: tenant, client id and token file, or why it does not apply.
fn workload_identity(get: &dyn Fn(&str) -> Option<String>) -> std::result::Result<(String, String, String), String> {
    let path = get(FEDERATED_TOKEN_FILE).ok_or_else(|| format!("{FEDERATED_TOKEN_FILE} not set"))?;
    let (tenant, client_id) = ids(get, FEDERATED_TOKEN_FILE)?;
    Ok((tenant, client_id, path))
}

/// `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`, or which is missing beside the variable `found`.
fn ids(get: &dyn Fn(&str) -> Option<String>, found: &str) -> std::result::Result<(String, String), String> {
    match (get(TENANT_ID), get(CLIENT_ID)) {
        (Some(tenant), Some(client_id)) => Ok((tenant, client_id)),
        (None, Some(_)) => Err(format!("{found} set, but {TENANT_ID} not set")),
        (Some(_), None) => Err(format!("{found} set, but {CLIENT_ID} not set")),
        (None, None) => Err(format!("{found} set, but {TENANT_ID} and {CLIENT_ID} not set")),
    }
}

fn join(steps: &[ChainStep]) -> String {
    steps.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[async_trait]
impl TokenProvider for DefaultCredential {
    async fn token(&self, resource: &Resource) -> Result<AccessToken> {
        let (probe, provider, answered) = match &self.inner.chosen {
            Chosen::Configured(_, provider) => return provider.token(resource).await,
            Chosen::AppService(provider) => return provider.token(resource).await,
            Chosen::Imds { probe, provider, answered } => (probe, provider, answered),
        };
        if answered.load(Ordering::Acquire) {
            return provider.token(resource).await;
        }
        let unavailable = |finding: String, error: Error| {
            let mut steps = self.inner.steps.clone();
            if let Some(last) = steps.last_mut() {
                *last = ChainStep::new(CredentialSource::ManagedIdentity, finding);
            }
            Error::Chain(ChainError::new(steps, error))
        };
        match probe.token(resource).await {
            Ok(token) => {
                answered.store(true, Ordering::Release);
                Ok(token)
            }
            Err(error @ (Error::Transport(_) | Error::Timeout(_))) => {
                Err(unavailable(format!("no answer from the instance metadata service ({error})"), error))
            }
            // The service is there but busy: from now on it is the credential, with retries.
            Err(error) if error.is_retryable() => {
                answered.store(true, Ordering::Release);
                provider.token(resource).await
            }
            Err(error) => Err(unavailable(format!("the instance metadata service refused: {error}"), error)),
        }
    }
}

impl fmt::Debug for DefaultCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let provider: &dyn fmt::Debug = match &self.inner.chosen {
            Chosen::Configured(_, provider) => provider,
            Chosen::AppService(provider) | Chosen::Imds { provider, .. } => provider,
        };
        f.debug_struct("DefaultCredential")
            .field("source", &self.source())
            .field("steps", &self.inner.steps)
            .field("provider", provider)
            .finish()
    }
}

impl fmt::Debug for DefaultCredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultCredentialBuilder")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("imds_endpoint", &self.imds_endpoint)
            .finish_non_exhaustive()
    }
}
