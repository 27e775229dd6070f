//! The client: where the org is, how to authenticate, and how requests are sent.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aad_auth::{Clock, Resource, SystemClock, TokenCache, TokenProvider};
use url::Url;

use crate::error::{Error, Result};
use crate::options::RequestOptions;
use crate::pacer::{AdaptivePacer, Pacer};
use crate::rate_limits::{RateLimitState, RateLimits};
use crate::stats::{ClientStats, Counters};
use aad_auth::{HttpVersion, RetryPolicy};

/// The Dataverse Web API client. Cheap to clone: build one and share it.
///
/// ```no_run
/// use std::sync::Arc;
/// use aad_auth::ClientCredentialsProvider;
/// use dynamics_webapi::Client;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tokens = Arc::new(ClientCredentialsProvider::from_env()?);
/// let client = Client::builder("https://contoso.crm.dynamics.com", tokens).build()?;
/// let me = client.who_am_i().await?;
/// println!("calling as {}", me.user_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) org: Url,
    pub(crate) service_root: Url,
    pub(crate) resource: Resource,
    pub(crate) tokens: Arc<dyn TokenProvider>,
    pub(crate) http: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) pacer: Arc<dyn Pacer>,
    pub(crate) counters: Counters,
    pub(crate) rate_limits: RateLimitState,
    pub(crate) options: RequestOptions,
}

/// Configures a [`Client`]. A bad value is reported by [`build`](Self::build).
#[must_use]
pub struct ClientBuilder {
    org: String,
    tokens: Arc<dyn TokenProvider>,
    api_version: String,
    http: Option<reqwest::Client>,
    timeout: Duration,
    proxy: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    user_agent: String,
    retry: RetryPolicy,
    max_concurrency: Option<usize>,
    pacer: Option<Arc<dyn Pacer>>,
    http_version: HttpVersion,
    cache_tokens: bool,
    clock: Arc<dyn Clock>,
    options: RequestOptions,
}

impl Client {
    /// Starts configuring a client for the org at `org_url` (such as `https://contoso.crm.dynamics.com`),
    /// authenticating with `tokens`. Tokens are requested for the org URL as the resource
    /// (`<org>/.default` on the v2 endpoint) and cached by the client.
    pub fn builder(org_url: impl Into<String>, tokens: Arc<dyn TokenProvider>) -> ClientBuilder {
        ClientBuilder {
            org: org_url.into(),
            tokens,
            api_version: "9.2".to_owned(),
            http: None,
            timeout: Duration::from_secs(120),
            proxy: None,
            root_certificates: Vec::new(),
            user_agent: concat!("dynamics-webapi/", env!("CARGO_PKG_VERSION")).to_owned(),
            retry: RetryPolicy::default(),
            max_concurrency: None,
            pacer: None,
            // HTTP/1.1: on a TLS loopback benchmark HTTP/2 cost more per request, for this client and hand-written
            // reqwest alike, and Dataverse's 52 concurrent requests keep HTTP/1.1's connections few.
            http_version: HttpVersion::Http1,
            cache_tokens: true,
            clock: Arc::new(SystemClock),
            options: RequestOptions::default(),
        }
    }

    /// The org's URL, such as `https://contoso.crm.dynamics.com/`.
    pub fn org_url(&self) -> &Url {
        &self.inner.org
    }

    /// The service root, such as `https://contoso.crm.dynamics.com/api/data/v9.2/`.
    pub fn service_root(&self) -> &Url {
        &self.inner.service_root
    }

    /// The resource tokens are requested for.
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// The service protection budget Dataverse reported on its latest answer, and the current concurrency limit.
    pub fn rate_limits(&self) -> RateLimits {
        self.inner.rate_limits.snapshot(self.inner.pacer.state().in_flight_limit())
    }

    /// What this client (all its clones) has done so far: requests sent, retries by cause, 429s by limit,
    /// and its pacer's state (in-flight limit and its source, rate, time paused and slowed).
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot(self.inner.pacer.state())
    }
}

impl ClientBuilder {
    /// The Web API version (default `9.2`).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Sends with this reqwest client instead of building one (timeout, proxy and certificates set here are then ignored).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The timeout of each attempt (default 120 seconds; Dataverse stops requests at 2 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends through this proxy (`http://…` or `https://…`).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Trusts this extra root certificate (PEM or DER), as for a TLS-inspecting proxy.
    pub fn add_root_certificate(mut self, certificate: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(certificate.into());
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How requests are retried (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Fixes the limit on requests in flight. By default it starts at 4 and follows Dataverse's `x-ms-dop-hint`
    /// (up to 256), so a caller that runs more requests at once than that queues them: the client says so once
    /// in a `tracing` event at INFO level, with the limit and where it came from. Dataverse allows 52 concurrent
    /// requests per user and web server. A concurrency refusal (`0x80072326`) still lowers the limit for a while.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # fn run(tokens: Arc<dyn aad_auth::TokenProvider>) -> dynamics_webapi::Result<()> {
    /// let client = dynamics_webapi::Client::builder("https://contoso.crm.dynamics.com", tokens)
    ///     .max_concurrency(16)
    ///     .build()?;
    /// assert_eq!(client.stats().pacer.in_flight_limit(), 16);
    /// # Ok(()) }
    /// ```
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = Some(limit);
        self
    }

    /// Paces requests with `pacer` instead of the in-process [`AdaptivePacer`] (such as one shared by a fleet of
    /// workers). `max_concurrency` cannot be given with it: the pacer owns the limit.
    pub fn pacer(mut self, pacer: Arc<dyn Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// Uses the token provider as it is, without the client's own [`TokenCache`] around it: for a provider that
    /// caches already (a `TokenCache` of the caller's, one over a store shared by several processes).
    /// A provider that does not cache would then be asked for a token on every request.
    pub fn provider_caches_tokens(mut self) -> Self {
        self.cache_tokens = false;
        self
    }

    /// The HTTP version (default [`HttpVersion::Http1`]; [`HttpVersion::Negotiate`] offers HTTP/2 in the TLS
    /// handshake). Ignored with [`http_client`](Self::http_client).
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.http_version = version;
        self
    }

    /// Options sent with every request (each request can override them).
    pub fn default_options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    /// The clock for back-off and throttling waits (tests pass a manual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when the org URL is not an https URL of the org itself
    /// (a trailing `/api/data/...` is refused with the fix), or the HTTP client cannot be built.
    pub fn build(self) -> Result<Client> {
        let org = parse_org_url(&self.org)?;
        if self.api_version.is_empty() || !self.api_version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(Error::config(format!("the API version `{}` is not a version such as 9.2", self.api_version)));
        }
        let service_root = org
            .join(&format!("api/data/v{}/", self.api_version))
            .map_err(|e| Error::config(format!("cannot form the service root: {e}")))?;
        let resource = Resource::new(org.as_str().trim_end_matches('/')).map_err(Error::Auth)?;
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut builder =
                    reqwest::Client::builder().user_agent(self.user_agent).redirect(reqwest::redirect::Policy::none());
                builder = match self.http_version {
                    HttpVersion::Http1 => builder.http1_only(),
                    HttpVersion::Http2 => builder.http2_prior_knowledge(),
                    // Offers h2 and http/1.1 in the TLS handshake.
                    _ => builder,
                };
                if let Some(proxy) = &self.proxy {
                    let url = check_proxy_url(proxy)?;
                    let proxy = reqwest::Proxy::all(url.as_str()).map_err(|e| {
                        Error::config(format!("the proxy {} is invalid: {}", without_password(&url), e.without_url()))
                    })?;
                    builder = builder.proxy(proxy);
                }
                for certificate in &self.root_certificates {
                    for parsed in parse_root_certificate(certificate)? {
                        builder = builder.add_root_certificate(parsed);
                    }
                }
                builder.build().map_err(|e| Error::config(format!("the HTTP client could not be built: {e}")))?
            }
        };
        let pacer = match (self.pacer, self.max_concurrency) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "max_concurrency was given with a pacer of the caller's; give the in-flight limit to the pacer",
                ));
            }
            (Some(pacer), None) => pacer,
            (None, limit) => {
                let builder = AdaptivePacer::builder().clock(Arc::clone(&self.clock));
                let builder = match limit {
                    Some(limit) => builder.max_in_flight(limit),
                    None => builder,
                };
                Arc::new(builder.build())
            }
        };
        let tokens: Arc<dyn TokenProvider> = if self.cache_tokens {
            Arc::new(TokenCache::with_policy(self.tokens, aad_auth::RefreshPolicy::default(), Arc::clone(&self.clock)))
        } else {
            self.tokens
        };
        Ok(Client {
            inner: Arc::new(ClientInner {
                org,
                service_root,
                resource,
                tokens,
                http,
                timeout: self.timeout,
                retry: self.retry,
                clock: self.clock,
                pacer,
                counters: Counters::default(),
                rate_limits: RateLimitState::default(),
                options: self.options,
            }),
        })
    }
}

/// The certificates in PEM text (one or more `CERTIFICATE` blocks) or in one DER certificate.
/// reqwest takes text without any PEM block as an empty list, so that is refused here.
fn parse_root_certificate(bytes: &[u8]) -> Result<Vec<reqwest::Certificate>> {
    let invalid = |why: String| {
        Error::config(format!(
            "a root certificate is neither PEM (-----BEGIN CERTIFICATE-----) nor DER ({why}); give the CA's certificate file"
        ))
    };
    let is_pem = bytes.windows(b"-----BEGIN CERTIFICATE-----".len()).any(|w| w == b"-----BEGIN CERTIFICATE-----");
    let parsed = if is_pem {
        reqwest::Certificate::from_pem_bundle(bytes).map_err(|e| invalid(e.to_string()))?
    } else if bytes.first() == Some(&0x30) {
        // A DER certificate is an ASN.1 SEQUENCE.
        vec![reqwest::Certificate::from_der(bytes).map_err(|e| invalid(e.to_string()))?]
    } else {
        Vec::new()
    };
    if parsed.is_empty() {
        return Err(invalid("no certificate found".to_owned()));
    }
    Ok(parsed)
}

/// Checks a proxy URL: `http://` or `https://` with a host. Errors never repeat a password the URL may carry.
fn check_proxy_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        Error::config(format!("the proxy is not a URL ({e}); give http://<host>:<port> or https://<host>:<port>"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!(
            "the proxy {} is not an http:// or https:// URL with a host",
            without_password(&url)
        )));
    }
    Ok(url)
}

/// The URL as text, with any password replaced.
fn without_password(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// Checks an org URL: https (or http to loopback, for tests), a host, and nothing after it.
fn parse_org_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        Error::config(format!("the org URL `{text}` is not a URL ({e}); give https://<org>.crm.dynamics.com"))
    })?;
    let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(Error::config(format!(
                "the org URL `{text}` is plain http: a bearer token is never sent over http except to a loopback host; use https://"
            )));
        }
        other => return Err(Error::config(format!("the org URL `{text}` has the scheme `{other}`; use https://"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!("the org URL `{text}` has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!("the org URL `{text}` must not have a query or fragment")));
    }
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() {
        let hint = if path.to_ascii_lowercase().starts_with("/api/data") {
            " (drop /api/data/...: the client adds it with the API version)"
        } else {
            ""
        };
        let mut org = url.clone();
        org.set_path("/");
        return Err(Error::config(format!("the org URL `{text}` has a path; give just the org, {org}{hint}")));
    }
    let mut org = url;
    org.set_path("/");
    Ok(org)
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("service_root", &self.inner.service_root.as_str())
            .field("tokens", &self.inner.tokens)
            .field("retry", &self.inner.retry)
            .field("pacer", &self.inner.pacer)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("org", &self.org)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_urls_are_checked_with_the_fix_named() {
        assert_eq!(
            parse_org_url("https://contoso.crm.dynamics.com").unwrap().as_str(),
            "https://contoso.crm.dynamics.com/"
        );
        assert_eq!(
            parse_org_url("https://contoso.crm.dynamics.com/").unwrap().as_str(),
            "https://contoso.crm.dynamics.com/"
        );
        assert!(parse_org_url("http://127.0.0.1:8080").is_ok());
        let error = parse_org_url("https://contoso.crm.dynamics.com/api/data/v9.2/").unwrap_err().to_string();
        assert!(error.contains("drop /api/data"), "{error}");
        assert!(parse_org_url("http://contoso.crm.dynamics.com").unwrap_err().to_string().contains("plain http"));
        assert!(parse_org_url("contoso").is_err());
        assert!(parse_org_url("https://contoso.crm.dynamics.com/?x=1").is_err());
    }

    #[test]
    fn proxy_urls_are_checked_without_repeating_a_password() {
        assert!(check_proxy_url("http://proxy.contoso.com:8080").is_ok());
        assert!(check_proxy_url("https://user:pw@proxy.contoso.com").is_ok());
        for bad in ["::bad::", "ftp://proxy.contoso.com", "proxy.contoso.com:8080", "ftp://user:s3cret@proxy"] {
            let error = check_proxy_url(bad).unwrap_err().to_string();
            assert!(!error.contains("s3cret"), "{error}");
            assert!(error.contains("http://"), "{bad}: {error}");
        }
    }
}
