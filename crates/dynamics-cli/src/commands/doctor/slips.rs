//! The configuration checks: values present and well-formed, with the common slips named.

use aad_auth::{AuthorityHost, Tenant, TokenEndpoint};
use url::Url;

use super::step::Step;
use crate::settings::config::{Setting, Settings};
use aad_auth::ExposeSecret as _;

/// The org URL check, and the URL the other checks should use (corrected when the slip is obvious).
pub(crate) fn org_url(settings: &Settings) -> (Step, Option<String>) {
    const TITLE: &str = "org URL";
    let Some(Setting { value, origin }) = &settings.url else {
        return (
            Step::fail(TITLE, "not set", "set DATAVERSE_URL (or pass --url) to https://<org>.crm.dynamics.com"),
            None,
        );
    };
    let Ok(url) = Url::parse(value) else {
        return (
            Step::fail(
                TITLE,
                format!("`{value}` ({origin}) is not a URL"),
                "give the Environment URL from the Power Platform admin center, such as https://contoso.crm.dynamics.com",
            ),
            None,
        );
    };
    let org = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let lower = path.to_ascii_lowercase();
    if lower.ends_with("/.default") {
        return (
            Step::fail(
                TITLE,
                format!("`{value}` ({origin}) ends in /.default"),
                match settings.endpoint {
                    TokenEndpoint::V1 => format!(
                        "the v1 token endpoint (--endpoint v1) takes the bare org URL as its resource, \
                         with no /.default: use {org}"
                    ),
                    _ => format!(
                        "/.default belongs to the v2 scope, which is formed from the org URL ({org}/.default): \
                         give the org URL alone, {org}"
                    ),
                },
            ),
            Some(org),
        );
    }
    if lower.starts_with("/api/data") || lower.starts_with("/xrmservices") {
        return (
            Step::fail(
                TITLE,
                format!("`{value}` ({origin}) has the path {path}"),
                format!("give the org alone, {org}; the tools add /api/data/v9.2 themselves"),
            ),
            Some(org),
        );
    }
    if !path.is_empty() {
        return (Step::fail(TITLE, format!("`{value}` ({origin}) has a path"), format!("use {org}")), Some(org));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return (
            Step::fail(
                TITLE,
                format!("`{value}` ({origin}) is not https"),
                format!("use https://{}", url.host_str().unwrap_or("<org>")),
            ),
            None,
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return (Step::fail(TITLE, format!("`{value}` ({origin}) has a query"), format!("use {org}")), Some(org));
    }
    if value.ends_with('/') {
        return (
            Step::warn(
                TITLE,
                format!("{org} ({origin}) ends in a slash"),
                format!("write it without: {org} (as a token resource, a trailing slash makes another audience)"),
            ),
            Some(org),
        );
    }
    (Step::pass(TITLE, format!("{org} ({origin})")), Some(org))
}

pub(crate) fn tenant(settings: &Settings) -> Step {
    const TITLE: &str = "tenant id";
    match &settings.tenant {
        None => Step::fail(
            TITLE,
            "not set",
            "set AZURE_TENANT_ID (or --tenant) to the Directory (tenant) ID from the app registration's overview",
        ),
        Some(Setting { value, origin }) => match Tenant::new(value.clone()) {
            Ok(_) => Step::pass(TITLE, format!("{value} ({origin})")),
            Err(error) => Step::fail(
                TITLE,
                format!("{} ({origin})", reason(&error)),
                "give the Directory (tenant) ID (a GUID) or a verified domain such as contoso.onmicrosoft.com",
            ),
        },
    }
}

pub(crate) fn client_id(settings: &Settings) -> Step {
    const TITLE: &str = "client id";
    match &settings.client_id {
        None => Step::fail(
            TITLE,
            "not set",
            "set AZURE_CLIENT_ID (or --client-id) to the Application (client) ID from the app registration's overview",
        ),
        Some(Setting { value, origin }) if is_guid(value) => Step::pass(TITLE, format!("{value} ({origin})")),
        Some(Setting { value, origin }) => Step::fail(
            TITLE,
            format!("`{value}` ({origin}) is not a GUID"),
            "give the Application (client) ID (a GUID), not the app's name or its object id URI",
        ),
    }
}

pub(crate) fn credential(settings: &Settings) -> Step {
    const TITLE: &str = "credential";
    if let Some(secret) = &settings.secret {
        let value = secret.value.expose_secret();
        if is_guid(value.trim()) {
            return Step::fail(
                TITLE,
                format!("the client secret ({}) is shaped like a GUID: that is the secret's Secret ID", secret.origin),
                "copy the secret's Value (shown once, when it was created, under Certificates & secrets); \
                 if it is lost, create a new secret",
            );
        }
        return Step::pass(TITLE, format!("a client secret ({})", secret.origin));
    }
    if let Some(path) = &settings.certificate_path {
        let file = std::path::Path::new(&path.value);
        if !file.is_file() {
            let why = if file.exists() { "is not a file" } else { "does not exist" };
            return Step::fail(
                TITLE,
                format!("the certificate {} ({}) {why}", path.value, path.origin),
                "set AZURE_CLIENT_CERTIFICATE_PATH to the PEM (private key and certificate) or PKCS#12 (.pfx) file \
                 whose certificate is uploaded to the app registration (Certificates & secrets)",
            );
        }
        if let Err(error) = std::fs::File::open(file) {
            return Step::fail(
                TITLE,
                format!("the certificate {} ({}) cannot be read: {error}", path.value, path.origin),
                "give the user running dynamics read access to the certificate file",
            );
        }
        return Step::pass(TITLE, format!("a certificate {} ({})", path.value, path.origin));
    }
    if let Some(path) = &settings.federated_token_file {
        return Step::pass(TITLE, format!("a federated token file {} ({})", path.value, path.origin));
    }
    Step::fail(
        TITLE,
        "no client secret, certificate or federated token is configured",
        "set AZURE_CLIENT_SECRET, or use --client-secret-file FILE or --client-secret-stdin \
         (or AZURE_CLIENT_CERTIFICATE_PATH)",
    )
}

/// The configured authority host, or the failed check.
pub(crate) fn authority(settings: &Settings) -> Result<AuthorityHost, Step> {
    match &settings.authority_host {
        None => Ok(AuthorityHost::AzurePublic),
        Some(Setting { value, origin }) => AuthorityHost::parse(value).map_err(|error| {
            Step::fail(
                "authority host",
                format!("{} ({origin})", reason(&error)),
                "set AZURE_AUTHORITY_HOST to your cloud's sign-in host, such as https://login.microsoftonline.us, or unset it",
            )
        }),
    }
}

fn reason(error: &aad_auth::Error) -> String {
    match error {
        aad_auth::Error::Config(config) => config.reason().to_owned(),
        other => other.to_string(),
    }
}

/// True for the 8-4-4-4-12 hexadecimal form of a GUID (the hyphenated form is exactly 36 characters).
pub(crate) fn is_guid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}
