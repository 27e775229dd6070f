//! Azure AD's error bodies, in the shape the real token endpoints send:
//! `error`, `error_description` (`AADSTS<code>: <message>` followed by the trace id, correlation id and time),
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
//!
//! The messages are those of the real service (as in `fixtures/aad/errors/`, which `aad-auth`'s tests use).

use serde_json::json;
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;
use wiremock::Request;

use crate::reply::Reply;

/// One Azure AD error: its OAuth2 `error`, AADSTS code, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AadError {
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl AadError {
    /// `AADSTS90002`: the tenant in the URL does not exist.
    pub(crate) fn tenant_not_found(tenant: &str) -> Self {
        Self {
            error: "invalid_request",
            code: 90002,
            status: 400,
            message: format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        }
    }

    /// `AADSTS700016`: no application with this client id in the tenant.
    pub(crate) fn unknown_application(client_id: &str, tenant: &str) -> Self {
        Self {
            error: "unauthorized_client",
            code: 700016,
            status: 400,
            message: format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        }
    }

    /// `AADSTS7000215`: the secret is wrong (often the secret's id pasted instead of its value).
    pub(crate) fn invalid_secret(client_id: &str) -> Self {
        Self {
            error: "invalid_client",
            code: 7000215,
            status: 401,
            message: format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        }
    }

    /// `AADSTS7000218`: neither a secret nor an assertion was sent.
    pub(crate) fn missing_credential() -> Self {
        Self {
            error: "invalid_client",
            code: 7000218,
            status: 401,
            message: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
                .to_owned(),
        }
    }

    /// `AADSTS700027`: a certificate assertion was sent; the emulator only knows the secret.
    pub(crate) fn assertion_rejected() -> Self {
        Self {
            error: "invalid_client",
            code: 700027,
            status: 401,
            message: "Client assertion failed signature validation. (dynamics-testkit accepts only the client secret.)"
                .to_owned(),
        }
    }

    /// `AADSTS900144`: a required form field is missing.
    pub(crate) fn missing_parameter(name: &str) -> Self {
        Self {
            error: "invalid_request",
            code: 900144,
            status: 400,
            message: format!("The request body must contain the following parameter: '{name}'."),
        }
    }

    /// `AADSTS70003`: a grant other than client credentials.
    pub(crate) fn unsupported_grant(grant: &str) -> Self {
        Self {
            error: "unsupported_grant_type",
            code: 70003,
            status: 400,
            message: format!("The app requested an unsupported grant type '{grant}'."),
        }
    }

    /// `AADSTS500011`: the resource (or the scope's resource) is not known in the tenant.
    pub(crate) fn resource_not_found(resource: &str, tenant: &str) -> Self {
        Self {
            error: "invalid_resource",
            code: 500011,
            status: 400,
            message: format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        }
    }

    /// `AADSTS1002012`: a v2 scope without the `/.default` suffix.
    pub(crate) fn scope_without_default(scope: &str) -> Self {
        Self {
            error: "invalid_scope",
            code: 1002012,
            status: 400,
            message: format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        }
    }

    /// `AADSTS70011`: a malformed scope (such as several scopes, or an empty one).
    pub(crate) fn invalid_scope(scope: &str) -> Self {
        Self {
            error: "invalid_scope",
            code: 70011,
            status: 400,
            message: format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        }
    }

    /// A GET (or other method) on a token endpoint.
    pub(crate) fn method_not_allowed(method: &str) -> Self {
        Self {
            error: "invalid_request",
            code: 900561,
            status: 400,
            message: format!("The endpoint only accepts POST requests. Received a {method} request."),
        }
    }
}

/// The reply for an error: Azure AD's JSON body and headers. The correlation id echoes the
/// `client-request-id` request header when there is one, as Azure AD does.
pub(crate) fn error(request: &Request, error: AadError) -> Reply {
    let trace_id = Uuid::new_v4().to_string();
    let correlation_id = correlation_id(request);
    let timestamp = OffsetDateTime::now_utc()
        .format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z"))
        .unwrap_or_default();
    let AadError { error, code, status, message } = error;
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    with_aad_headers(
        Reply::empty(status).with_body(body.to_string().into_bytes(), "application/json; charset=utf-8"),
        &trace_id,
        &correlation_id,
    )
}

/// The correlation id of a request: its `client-request-id` if it is a GUID, else a new one.
pub(crate) fn correlation_id(request: &Request) -> String {
    request
        .headers
        .get("client-request-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Uuid::parse_str(value).ok())
        .unwrap_or_else(Uuid::new_v4)
        .to_string()
}

/// The headers Azure AD puts on every token endpoint response.
pub(crate) fn with_aad_headers(reply: Reply, trace_id: &str, correlation_id: &str) -> Reply {
    reply
        .header("cache-control", "no-store, no-cache")
        .header("pragma", "no-cache")
        .header("x-ms-request-id", trace_id)
        .header("client-request-id", correlation_id)
}
