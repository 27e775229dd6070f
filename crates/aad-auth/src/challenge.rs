//! The sign-in challenge of a resource: an unauthenticated request answers 401 with
//! `WWW-Authenticate: Bearer authorization_uri="https://login.microsoftonline.com/<tenant>/oauth2/authorize", resource_id="…"`,
//! which names the authority host and the tenant that own it (RFC 6750 §3, with Azure AD's parameters).

use std::sync::Arc;

use url::Url;

use crate::error::ChallengeError;
use crate::http_settings::HttpSettings;
use crate::transport_security::check_plain_http;
use crate::{AuthorityHost, Error, Resource, Result, Tenant};

/// The path an unauthenticated discovery request goes to, below the org's URL.
const DISCOVERY_PATH: &str = "/api/data/v9.2/";

/// What a resource's `WWW-Authenticate: Bearer` challenge says: where to sign in, in which tenant, for what.
///
/// ```
/// use aad_auth::{AuthorityHost, Challenge};
///
/// let challenge = Challenge::parse(
///     r#"Bearer authorization_uri="https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/authorize", resource_id="https://contoso.crm.appsplatform.us/""#,
/// )?;
/// assert_eq!(challenge.authority_host(), &AuthorityHost::AzureGovernment);
/// assert_eq!(challenge.tenant().as_str(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// assert_eq!(challenge.resource().map(|r| r.as_str()), Some("https://contoso.crm.appsplatform.us/"));
/// # Ok::<(), aad_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    authorization_uri: Url,
    authority: AuthorityHost,
    tenant: Tenant,
    resource: Option<Resource>,
}

impl Challenge {
    /// Reads a `WWW-Authenticate` header value: the `Bearer` challenge's `authorization_uri`
    /// (or `authorization`) and, when present, `resource_id` (or `resource`).
    /// Parameters may be quoted or not, in any order and case; other schemes in the same value are skipped.
    ///
    /// # Errors
    /// [`Error::Challenge`] when there is no `Bearer` challenge or no `authorization_uri`, the URI is not an
    /// https URL (or loopback http) whose path names a tenant, or the resource is not a URI.
    pub fn parse(www_authenticate: &str) -> Result<Self> {
        let invalid = |what: String| Error::Challenge(ChallengeError::new(what));
        let params =
            bearer_params(www_authenticate).ok_or_else(|| invalid("there is no Bearer challenge".to_owned()))?;
        let param = |names: &[&str]| {
            params.iter().find(|(name, _)| names.iter().any(|n| name.eq_ignore_ascii_case(n))).map(|(_, v)| v.as_str())
        };
        let uri = param(&["authorization_uri", "authorization"])
            .ok_or_else(|| invalid("the Bearer challenge has no authorization_uri".to_owned()))?;
        let authorization_uri =
            Url::parse(uri).map_err(|e| invalid(format!("authorization_uri `{uri}` is not a URL ({e})")))?;
        let (authority, tenant) = authority_and_tenant(&authorization_uri).map_err(invalid)?;
        let resource = param(&["resource_id", "resource"])
            .filter(|value| !value.is_empty())
            .map(|value| Resource::new(value).map_err(|_| invalid(format!("resource_id `{value}` is not a URI"))))
            .transpose()?;
        Ok(Self { authorization_uri, authority, tenant, resource })
    }

    /// Asks the org at `org_url` (such as `https://contoso.crm.dynamics.com`) for its challenge:
    /// an unauthenticated `GET <org>/api/data/v9.2/`, whose 401 carries `WWW-Authenticate`.
    ///
    /// ```no_run
    /// use aad_auth::{Challenge, ClientCredential, ClientCredentialsProvider, SecretString};
    ///
    /// # async fn run(secret: SecretString) -> aad_auth::Result<()> {
    /// let challenge = Challenge::discover("https://contoso.crm.dynamics.com").await?;
    /// let provider = ClientCredentialsProvider::builder(
    ///     challenge.tenant().as_str(),
    ///     "11111111-2222-3333-4444-555555555555",
    ///     ClientCredential::secret(secret),
    /// )
    /// .authority_host(challenge.authority_host().clone())
    /// .build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for an org URL that is not https (or loopback http);
    /// [`Error::Challenge`] when the org cannot be reached, answers anything but a 401 with a readable challenge
    /// (a redirect usually means a wrong org URL), or the challenge cannot be read as in [`parse`](Self::parse).
    ///
    /// # Security
    /// The challenge says where credentials will be sent: it is only asked of https orgs (or loopback),
    /// and the sign-in host it names should be one you expect ([`AuthorityHost::Custom`] otherwise).
    pub async fn discover(org_url: &str) -> Result<Self> {
        Self::discover_with(&HttpSettings::default().build()?, org_url).await
    }

    /// As [`discover`](Self::discover), sending with `http` (for a proxy or extra root certificates).
    /// Configure it not to follow redirects, so that a moved org is reported rather than followed.
    ///
    /// # Errors
    /// As [`discover`](Self::discover).
    pub async fn discover_with(http: &reqwest::Client, org_url: &str) -> Result<Self> {
        let url = discovery_url(org_url)?;
        let at = |what: String, status: Option<u16>, source: Option<reqwest::Error>| {
            let source = source.map(|e| Arc::new(e.without_url()) as Arc<dyn std::error::Error + Send + Sync>);
            Error::Challenge(ChallengeError::new(what).at(url.as_str(), status, source))
        };
        let response = http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| at("the request got no answer".to_owned(), None, Some(e)))?;
        let status = response.status().as_u16();
        if status != 401 {
            let what = match response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()) {
                Some(location) if (300..400).contains(&status) => {
                    format!("it answered {status}, redirecting to {location}: check the org URL")
                }
                _ => format!("it answered {status}, not 401 with a WWW-Authenticate challenge"),
            };
            return Err(at(what, Some(status), None));
        }
        let mut last = None;
        for value in response.headers().get_all(reqwest::header::WWW_AUTHENTICATE) {
            let Ok(text) = value.to_str() else { continue };
            match Self::parse(text) {
                Ok(challenge) => return Ok(challenge),
                Err(Error::Challenge(error)) => last = Some(error.what().to_owned()),
                Err(other) => return Err(other),
            }
        }
        Err(at(last.unwrap_or_else(|| "the 401 has no WWW-Authenticate header".to_owned()), Some(401), None))
    }

    /// The sign-in host, such as [`AuthorityHost::AzurePublic`].
    pub fn authority_host(&self) -> &AuthorityHost {
        &self.authority
    }

    /// The tenant that owns the resource.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The resource the challenge names (`resource_id`), when it names one.
    pub fn resource(&self) -> Option<&Resource> {
        self.resource.as_ref()
    }

    /// The `authorization_uri` as sent.
    pub fn authorization_uri(&self) -> &Url {
        &self.authorization_uri
    }
}

/// `<origin of org_url>/api/data/v9.2/`, for an https org (or http to loopback).
fn discovery_url(org_url: &str) -> Result<Url> {
    let org = Url::parse(org_url.trim()).map_err(|e| {
        Error::config("org_url", format!("`{org_url}` is not a URL ({e}); give https://<org>.crm.dynamics.com"))
    })?;
    if org.host_str().is_none_or(str::is_empty) || !matches!(org.scheme(), "http" | "https") {
        return Err(Error::config("org_url", format!("`{org_url}` is not an https URL with a host")));
    }
    check_plain_http(&org).map_err(|reason| Error::config("org_url", reason))?;
    org.join(DISCOVERY_PATH).map_err(|e| Error::config("org_url", format!("cannot form the discovery URL ({e})")))
}

/// The authority host (with any path before the tenant) and the tenant of an `authorization_uri`:
/// the tenant is the segment before `oauth2`, or the first segment when there is no `oauth2`.
fn authority_and_tenant(uri: &Url) -> std::result::Result<(AuthorityHost, Tenant), String> {
    let segments: Vec<&str> = uri.path_segments().map(|s| s.filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let at = match segments.iter().position(|s| s.eq_ignore_ascii_case("oauth2")) {
        Some(index) if index > 0 => Some(index - 1),
        Some(_) => None,
        None if segments.is_empty() => None,
        None => Some(0),
    };
    let Some(at) = at else {
        return Err(format!("authorization_uri `{uri}` names no tenant"));
    };
    let tenant =
        Tenant::new(segments[at]).map_err(|e| format!("authorization_uri `{uri}` names no usable tenant ({e})"))?;
    let mut base = format!("{}/", uri.origin().ascii_serialization());
    for segment in &segments[..at] {
        base.push_str(segment);
        base.push('/');
    }
    let authority =
        AuthorityHost::parse(&base).map_err(|e| format!("authorization_uri `{uri}` cannot be used ({e})"))?;
    Ok((authority, tenant))
}

/// The parameters of the first `Bearer` challenge in a `WWW-Authenticate` value (RFC 9110 §11.6.1):
/// `scheme [param = (token | quoted-string) *( "," param )]`, with further challenges after commas.
fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return None;
        }
        let (scheme, after) = split_token(rest);
        if scheme.is_empty() {
            return None;
        }
        let (params, after) = read_params(after);
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(params);
        }
        rest = after;
    }
}

/// Reads `name=value` pairs until the text ends or a new challenge starts (a token not followed by `=`).
fn read_params(mut rest: &str) -> (Vec<(String, String)>, &str) {
    let mut params = Vec::new();
    loop {
        let start = rest;
        let trimmed = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        let (name, after) = split_token(trimmed);
        let after = after.trim_start();
        let Some(value_text) = after.strip_prefix('=').filter(|_| !name.is_empty()) else {
            return (params, start);
        };
        let value_text = value_text.trim_start();
        let (value, after) = match value_text.strip_prefix('"') {
            Some(quoted) => read_quoted(quoted),
            None => {
                let end = value_text.find(|c: char| c == ',' || c.is_ascii_whitespace()).unwrap_or(value_text.len());
                (value_text[..end].to_owned(), &value_text[end..])
            }
        };
        params.push((name.to_owned(), value));
        rest = after;
    }
}

/// A token (RFC 9110 `tchar`s) at the start of `text`, and what follows it.
fn split_token(text: &str) -> (&str, &str) {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))).unwrap_or(text.len());
    text.split_at(end)
}

/// A quoted string's value after its opening quote, with `\` escapes undone, and what follows its closing quote.
fn read_quoted(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return (value, &text[index + 1..]),
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            other => value.push(other),
        }
    }
    (value, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn reads_a_dataverse_challenge_quoted_or_not() {
        for header in [
            format!(
                "Bearer authorization_uri=https://login.microsoftonline.com/{TENANT}/oauth2/authorize, resource_id=https://contoso.crm.dynamics.com/"
            ),
            format!(
                r#"bearer realm="", Authorization_Uri="https://login.microsoftonline.com/{TENANT}/oauth2/authorize",resource_id="https://contoso.crm.dynamics.com/""#
            ),
        ] {
            let challenge = Challenge::parse(&header).unwrap();
            assert_eq!(challenge.authority_host(), &AuthorityHost::AzurePublic, "{header}");
            assert_eq!(challenge.tenant().as_str(), TENANT);
            assert_eq!(challenge.resource().unwrap().as_str(), "https://contoso.crm.dynamics.com/");
        }
    }

    #[test]
    fn skips_other_schemes_and_keeps_a_path_prefix() {
        let header = format!(
            r#"Basic realm="x, y", Bearer error="invalid_token", authorization_uri="http://127.0.0.1:4000/prefix/{TENANT}/oauth2/authorize""#
        );
        let challenge = Challenge::parse(&header).unwrap();
        assert_eq!(challenge.authority_host().url().as_str(), "http://127.0.0.1:4000/prefix/");
        assert_eq!(challenge.tenant().as_str(), TENANT);
        assert_eq!(challenge.resource(), None);
        let escaped = r#"Bearer authorization_uri="https://login.microsoftonline.com/contoso.com/oauth2/authorize", resource_id="https://a\.b.example/""#;
        assert_eq!(Challenge::parse(escaped).unwrap().resource().unwrap().as_str(), "https://a.b.example/");
    }

    #[test]
    fn refuses_what_names_no_usable_authority() {
        for header in [
            "Basic realm=x",
            "Bearer error=invalid_token",
            "Bearer authorization_uri=not-a-url",
            "Bearer authorization_uri=https://login.microsoftonline.com/oauth2/authorize",
            "Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize",
            "Bearer authorization_uri=http://login.example.test/contoso.com/oauth2/authorize",
            "",
        ] {
            let error = Challenge::parse(header).unwrap_err();
            assert!(matches!(error, Error::Challenge(_)), "{header}: {error:?}");
        }
    }

    #[test]
    fn discovery_goes_to_the_service_root_of_the_org() {
        assert_eq!(
            discovery_url("https://contoso.crm.dynamics.com/main.aspx").unwrap().as_str(),
            "https://contoso.crm.dynamics.com/api/data/v9.2/"
        );
        assert!(matches!(discovery_url("http://contoso.crm.dynamics.com"), Err(Error::Config(_))));
        assert!(matches!(discovery_url("contoso"), Err(Error::Config(_))));
    }
}
