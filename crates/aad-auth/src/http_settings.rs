//! The HTTP settings the provider builders share: proxy, extra root certificates, HTTP version and user agent,
//! checked when the provider is built and turned into one reqwest client.

use std::fmt;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use url::Url;

use crate::http_version::HttpVersion;
use crate::{Error, Result};

/// What a builder was told about its HTTP client.
#[derive(Clone, Default)]
pub(crate) struct HttpSettings {
    client: Option<reqwest::Client>,
    proxy: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    version: HttpVersion,
    user_agent: Option<String>,
    connect_timeout: Option<Duration>,
}

impl HttpSettings {
    pub(crate) fn client(&mut self, client: reqwest::Client) {
        self.client = Some(client);
    }

    pub(crate) fn proxy(&mut self, url: String) {
        self.proxy = Some(url);
    }

    pub(crate) fn add_root_certificate(&mut self, certificate: Vec<u8>) {
        self.root_certificates.push(certificate);
    }

    pub(crate) fn version(&mut self, version: HttpVersion) {
        self.version = version;
    }

    pub(crate) fn user_agent(&mut self, user_agent: String) {
        self.user_agent = Some(user_agent);
    }

    /// The same settings without the proxy, for endpoints on this machine or its link (managed identity).
    pub(crate) fn without_proxy(&self) -> Self {
        Self { proxy: None, ..self.clone() }
    }

    /// The same settings with a limit on connecting (the managed identity probe: an absent endpoint does not answer).
    pub(crate) fn with_connect_timeout(&self, timeout: Duration) -> Self {
        Self { connect_timeout: Some(timeout), ..self.clone() }
    }

    /// The reqwest client: the one given, or one built from the settings, following no redirects
    /// (a token endpoint that redirects is misconfigured, and a redirect must not carry the form elsewhere).
    ///
    /// # Errors
    /// [`Error::Config`] naming `proxy`, `root_certificate` or `user_agent` when that value cannot work,
    /// and `http_client` when settings were given together with a ready-made client (which would ignore them).
    pub(crate) fn build(&self) -> Result<reqwest::Client> {
        if let Some(client) = &self.client {
            if self.proxy.is_some()
                || !self.root_certificates.is_empty()
                || self.version != HttpVersion::Negotiate
                || self.user_agent.is_some()
                || self.connect_timeout.is_some()
            {
                return Err(Error::config(
                    "http_client",
                    "a proxy, root certificate, HTTP version or user agent was set together with a ready-made \
                     HTTP client, which would ignore it: set them on that client, or let the provider build one",
                ));
            }
            return Ok(client.clone());
        }
        let user_agent = self.user_agent.as_deref().unwrap_or(concat!("aad-auth/", env!("CARGO_PKG_VERSION")));
        if reqwest::header::HeaderValue::from_str(user_agent).is_err() {
            return Err(Error::config("user_agent", "it contains characters a header cannot carry"));
        }
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).user_agent(user_agent);
        if let Some(proxy) = &self.proxy {
            let url = check_proxy_url(proxy)?;
            let proxy = reqwest::Proxy::all(url.as_str()).map_err(|e| {
                Error::config("proxy", format!("the proxy {} is invalid: {}", without_password(&url), e.without_url()))
            })?;
            builder = builder.proxy(proxy);
        }
        for certificate in &self.root_certificates {
            for parsed in parse_root_certificate(certificate)? {
                builder = builder.add_root_certificate(parsed);
            }
        }
        if let Some(timeout) = self.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        builder = match self.version {
            HttpVersion::Negotiate => builder,
            HttpVersion::Http1 => builder.http1_only(),
            HttpVersion::Http2 => builder.http2_prior_knowledge(),
        };
        builder.build().map_err(|e| Error::config("http_client", format!("the HTTP client could not be created: {e}")))
    }
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The proxy URL may carry a password.
        f.debug_struct("HttpSettings")
            .field("client", &self.client.is_some())
            .field("proxy", &self.proxy.as_ref().map(|_| "[REDACTED]"))
            .field("root_certificates", &self.root_certificates.len())
            .field("version", &self.version)
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// The certificates in PEM text (one or more `CERTIFICATE` blocks) or in one DER certificate.
/// reqwest reads text without a PEM block as no certificate at all, and checks a certificate's contents
/// only when the client is built, so both are checked here.
fn parse_root_certificate(bytes: &[u8]) -> Result<Vec<reqwest::Certificate>> {
    const PEM_BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    let invalid = |why: &str| {
        Error::config(
            "root_certificate",
            format!(
                "it is neither PEM (-----BEGIN CERTIFICATE-----) nor a DER certificate ({why}); give the CA's certificate file"
            ),
        )
    };
    let ders: Vec<CertificateDer<'static>> = if bytes.windows(PEM_BEGIN.len()).any(|window| window == PEM_BEGIN) {
        CertificateDer::pem_slice_iter(bytes)
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| invalid("a PEM block cannot be read"))?
    } else if bytes.first() == Some(&0x30) {
        // A DER certificate is an ASN.1 SEQUENCE.
        vec![CertificateDer::from(bytes.to_vec())]
    } else {
        Vec::new()
    };
    if ders.is_empty() {
        return Err(invalid("no certificate found"));
    }
    ders.iter()
        .map(|der| {
            x509_parser::parse_x509_certificate(der).map_err(|_| invalid("not a well-formed X.509 certificate"))?;
            reqwest::Certificate::from_der(der).map_err(|e| invalid(&e.to_string()))
        })
        .collect()
}

/// Checks a proxy URL: `http://` or `https://` with a host. Errors never repeat a password the URL may carry.
fn check_proxy_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        Error::config("proxy", format!("it is not a URL ({e}); give http://<host>:<port> or https://<host>:<port>"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(
            "proxy",
            format!("{} is not an http:// or https:// URL with a host", without_password(&url)),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<reqwest::Client>) -> (&'static str, String) {
        match result {
            Err(Error::Config(config)) => (config.field(), config.reason().to_owned()),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_proxies_are_refused_without_repeating_a_password() {
        for bad in ["::bad::", "ftp://proxy.contoso.com", "proxy.contoso.com:8080", "ftp://user:s3cret@proxy"] {
            let mut settings = HttpSettings::default();
            settings.proxy(bad.to_owned());
            let (name, reason) = field(settings.build());
            assert_eq!(name, "proxy", "{bad}");
            assert!(!reason.contains("s3cret"), "{reason}");
        }
        let mut settings = HttpSettings::default();
        settings.proxy("https://user:pw@proxy.contoso.com:8443".to_owned());
        assert!(settings.build().is_ok());
    }

    #[test]
    fn certificates_that_are_neither_pem_nor_der_are_refused() {
        let bad: [&[u8]; 4] = [
            b"",
            b"not a certificate",
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
            &[0x30, 0x03, 0x02, 0x01, 0x00],
        ];
        for bytes in bad {
            let mut settings = HttpSettings::default();
            settings.add_root_certificate(bytes.to_vec());
            assert_eq!(field(settings.build()).0, "root_certificate", "{bytes:?}");
        }
    }

    #[test]
    fn settings_beside_a_ready_made_client_are_refused() {
        let mut settings = HttpSettings::default();
        settings.client(reqwest::Client::new());
        assert!(settings.build().is_ok());
        settings.version(HttpVersion::Http1);
        assert_eq!(field(settings.build()).0, "http_client");
    }

    #[test]
    fn user_agents_a_header_cannot_carry_are_refused() {
        let mut settings = HttpSettings::default();
        settings.user_agent("line\nbreak".to_owned());
        assert_eq!(field(settings.build()).0, "user_agent");
    }
}
