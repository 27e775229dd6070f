//! Azure AD authority hosts, tenants and token endpoints.

use std::fmt;

use url::Url;

use crate::resource::is_guid;
use crate::transport_security::check_plain_http;
use crate::{Error, Result};

/// The Azure AD (Entra ID) sign-in host of a cloud.
///
/// ```
/// use aad_auth::AuthorityHost;
///
/// assert_eq!(AuthorityHost::AzureGovernment.url().as_str(), "https://login.microsoftonline.us/");
/// let custom = AuthorityHost::custom("http://127.0.0.1:8080")?;
/// assert_eq!(custom.url().as_str(), "http://127.0.0.1:8080/");
/// # Ok::<(), aad_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthorityHost {
    /// `https://login.microsoftonline.com`, the public cloud.
    #[default]
    AzurePublic,
    /// `https://login.microsoftonline.us`, Azure US Government.
    AzureGovernment,
    /// `https://login.chinacloudapi.cn`, Azure operated by 21Vianet.
    AzureChina,
    /// Any other host: a sovereign or private cloud, or a local test server.
    Custom(Url),
}

impl AuthorityHost {
    /// A custom authority host.
    ///
    /// # Errors
    /// [`Error::Config`] when the value is not a URL, carries a query or fragment,
    /// or is plain `http://` to a host other than loopback (a secret would travel in clear text).
    pub fn custom(url: &str) -> Result<Self> {
        let parsed =
            Url::parse(url).map_err(|e| Error::config("authority_host", format!("`{url}` is not a URL ({e})")))?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::config("authority_host", format!("`{url}` must not have a query or fragment")));
        }
        if parsed.cannot_be_a_base() || parsed.host_str().is_none() {
            return Err(Error::config("authority_host", format!("`{url}` has no host")));
        }
        check_plain_http(&parsed).map_err(|reason| Error::config("authority_host", reason))?;
        Ok(Self::Custom(with_trailing_slash(parsed)))
    }

    /// Parses the value of `AZURE_AUTHORITY_HOST`: a well-known host maps to its variant.
    ///
    /// # Errors
    /// As [`AuthorityHost::custom`].
    pub fn parse(url: &str) -> Result<Self> {
        let trimmed = url.trim_end_matches('/');
        Ok(match trimmed {
            "https://login.microsoftonline.com" => Self::AzurePublic,
            "https://login.microsoftonline.us" => Self::AzureGovernment,
            "https://login.chinacloudapi.cn" => Self::AzureChina,
            _ => Self::custom(url)?,
        })
    }

    /// The host's base URL, ending in `/`.
    pub fn url(&self) -> Url {
        let known = match self {
            Self::AzurePublic => "https://login.microsoftonline.com/",
            Self::AzureGovernment => "https://login.microsoftonline.us/",
            Self::AzureChina => "https://login.chinacloudapi.cn/",
            Self::Custom(url) => return url.clone(),
        };
        Url::parse(known).unwrap_or_else(|_| unreachable!("well-known authority hosts are valid URLs"))
    }
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// A directory (tenant) id: a GUID or a verified domain name such as `contoso.onmicrosoft.com`.
///
/// ```
/// use aad_auth::Tenant;
///
/// assert!(Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
/// assert!(Tenant::new("contoso.onmicrosoft.com").is_ok());
/// assert!(Tenant::new("common").is_err()); // the client-credentials grant needs a real tenant
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

impl Tenant {
    /// Checks and wraps a tenant id.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty value, a multi-tenant alias (`common`, `organizations`, `consumers`),
    /// or anything that is neither a GUID nor a domain name.
    pub fn new(tenant: impl Into<String>) -> Result<Self> {
        let tenant = tenant.into();
        let trimmed = tenant.trim();
        if trimmed.is_empty() {
            return Err(Error::config(
                "tenant",
                "it is empty; give the Directory (tenant) ID from the app registration's overview",
            ));
        }
        if matches!(trimmed.to_ascii_lowercase().as_str(), "common" | "organizations" | "consumers") {
            return Err(Error::config(
                "tenant",
                format!(
                    "`{trimmed}` is a multi-tenant alias; the client-credentials grant needs the tenant's own id (a GUID) or domain"
                ),
            ));
        }
        if !is_guid(trimmed) && !is_domain(trimmed) {
            return Err(Error::config(
                "tenant",
                format!("`{trimmed}` is neither a GUID nor a domain name such as contoso.onmicrosoft.com"),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The tenant id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Which Azure AD token endpoint to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenEndpoint {
    /// `{authority}/{tenant}/oauth2/token`, with the form field `resource` (what most Dynamics guides use).
    V1,
    /// `{authority}/{tenant}/oauth2/v2.0/token`, with the form field `scope=<resource>/.default`.
    #[default]
    V2,
}

impl TokenEndpoint {
    /// The token URL for `tenant` at `host`.
    ///
    /// ```
    /// use aad_auth::{AuthorityHost, Tenant, TokenEndpoint};
    ///
    /// let tenant = Tenant::new("contoso.onmicrosoft.com")?;
    /// let v1 = TokenEndpoint::V1.url(&AuthorityHost::AzurePublic, &tenant)?;
    /// assert_eq!(v1.as_str(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/token");
    /// # Ok::<(), aad_auth::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] if the URL cannot be formed.
    pub fn url(self, host: &AuthorityHost, tenant: &Tenant) -> Result<Url> {
        let path = match self {
            Self::V1 => format!("{}/oauth2/token", tenant.as_str()),
            Self::V2 => format!("{}/oauth2/v2.0/token", tenant.as_str()),
        };
        host.url().join(&path).map_err(|e| Error::config("tenant", format!("cannot form the token URL ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_hosts_parse_to_their_variants() {
        assert_eq!(AuthorityHost::parse("https://login.microsoftonline.us/").unwrap(), AuthorityHost::AzureGovernment);
        assert_eq!(AuthorityHost::parse("https://login.chinacloudapi.cn").unwrap(), AuthorityHost::AzureChina);
        assert_eq!(AuthorityHost::parse("https://login.microsoftonline.com").unwrap(), AuthorityHost::AzurePublic);
    }

    #[test]
    fn custom_host_keeps_its_path_prefix() {
        let host = AuthorityHost::custom("https://login.example.test/prefix").unwrap();
        let tenant = Tenant::new("contoso.com").unwrap();
        assert_eq!(
            TokenEndpoint::V2.url(&host, &tenant).unwrap().as_str(),
            "https://login.example.test/prefix/contoso.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn plain_http_is_refused_unless_loopback() {
        assert!(AuthorityHost::custom("http://login.example.test").is_err());
        assert!(AuthorityHost::custom("http://localhost:1234").is_ok());
        assert!(AuthorityHost::custom("http://[::1]:1234").is_ok());
    }

    #[test]
    fn malformed_tenants_are_refused() {
        for bad in ["", "contoso", "72f988bf-86f1-41af-91ab", "a b.com", "-x.com", "organizations", "x/y.com"] {
            let error = Tenant::new(bad).unwrap_err();
            assert!(matches!(&error, Error::Config(c) if c.field() == "tenant"), "{bad}");
        }
    }
}
