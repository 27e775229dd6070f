//! The token endpoints: checks a client-credentials request the way Azure AD does and issues a token.

use std::collections::HashMap;

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;
use wiremock::Request;

use super::aad_error::{self, AadError, correlation_id, with_aad_headers};
use super::jwt;
use crate::reply::Reply;
use crate::state::{Config, IssuedToken, State};

const DEFAULT_SCOPE_SUFFIX: &str = "/.default";

/// The v1 endpoint (form field `resource`) or the v2 endpoint (form field `scope=<resource>/.default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// `POST /{tenant}/oauth2[/v2.0]/token`.
pub(crate) fn token(config: &Config, state: &mut State, request: &Request, tenant: &str, version: Version) -> Reply {
    state.counters.token_requests += 1;
    match issue(config, state, request, tenant, version) {
        Ok(reply) => {
            state.counters.tokens_issued += 1;
            reply
        }
        Err(error) => aad_error::error(request, error),
    }
}

fn issue(
    config: &Config,
    state: &mut State,
    request: &Request,
    tenant: &str,
    version: Version,
) -> Result<Reply, AadError> {
    if !tenant.eq_ignore_ascii_case(&config.tenant_id) {
        return Err(AadError::tenant_not_found(tenant));
    }
    let mut form: HashMap<String, String> = url::form_urlencoded::parse(&request.body).into_owned().collect();
    // client_secret_basic: the id and secret in an `Authorization: Basic` header instead of the form.
    if let Some((id, secret)) = basic_credentials(request) {
        form.entry("client_id".to_owned()).or_insert(id);
        form.entry("client_secret".to_owned()).or_insert(secret);
    }
    let field = |name: &str| form.get(name).map(String::as_str).filter(|value| !value.is_empty());

    let grant = field("grant_type").ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    if grant != "client_credentials" {
        return Err(AadError::unsupported_grant(grant));
    }
    let client_id = field("client_id").ok_or_else(|| AadError::missing_parameter("client_id"))?;
    if !client_id.eq_ignore_ascii_case(&config.client_id) {
        return Err(AadError::unknown_application(client_id, tenant));
    }
    match (field("client_secret"), field("client_assertion")) {
        (Some(secret), _) if secret == config.client_secret => {}
        (Some(_), _) => return Err(AadError::invalid_secret(&config.client_id)),
        (None, Some(_)) => return Err(AadError::assertion_rejected()),
        (None, None) => return Err(AadError::missing_credential()),
    }
    let audience = match version {
        Version::V1 => field("resource").ok_or_else(|| AadError::missing_parameter("resource"))?.to_owned(),
        Version::V2 => {
            let scope = field("scope").ok_or_else(|| AadError::missing_parameter("scope"))?;
            if scope.split_whitespace().count() != 1 {
                return Err(AadError::invalid_scope(scope));
            }
            match scope.strip_suffix(DEFAULT_SCOPE_SUFFIX) {
                Some(resource) if !resource.is_empty() => resource.to_owned(),
                Some(_) => return Err(AadError::invalid_scope(scope)),
                None => return Err(AadError::scope_without_default(scope)),
            }
        }
    };
    let normalized = audience.trim_end_matches('/');
    if !normalized.eq_ignore_ascii_case(&config.org_url) && !config.extra_resources.contains(normalized) {
        return Err(AadError::resource_not_found(&audience, tenant));
    }

    let now = OffsetDateTime::now_utc().unix_timestamp();
    let lifetime = i64::try_from(config.token_lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let expires_on = now.saturating_add(lifetime);
    let claims = claims(config, &audience, now, expires_on);
    let access_token = jwt::encode(&claims, &config.signing_key);
    state.tokens.insert(access_token.clone(), IssuedToken { audience: normalized.to_owned(), expires_on });

    let body = match version {
        Version::V1 => json!({
            "token_type": "Bearer",
            "expires_in": lifetime.to_string(),
            "ext_expires_in": lifetime.to_string(),
            "expires_on": expires_on.to_string(),
            "not_before": now.to_string(),
            "resource": audience,
            "access_token": access_token,
        }),
        Version::V2 => json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }),
    };
    let trace_id = Uuid::new_v4().to_string();
    let reply = Reply::empty(200).with_body(body.to_string().into_bytes(), "application/json; charset=utf-8");
    Ok(with_aad_headers(reply, &trace_id, &correlation_id(request)))
}

/// The client id and secret of an `Authorization: Basic` header (each form-URL-encoded, as RFC 6749 says).
fn basic_credentials(request: &Request) -> Option<(String, String)> {
    use base64::Engine;
    let value = request.headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes()).next().map(|(_, value)| value.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

/// The claims of an app-only v1 access token, as Azure AD issues them for Dataverse
/// (Dataverse accepts v1 tokens, so the v2 endpoint issues the same shape).
fn claims(config: &Config, audience: &str, now: i64, expires_on: i64) -> Value {
    let issuer = format!("https://sts.windows.net/{}/", config.tenant_id);
    let mut claims = json!({
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": expires_on,
        "aio": "E2ZgYDj0dynamicstestkit",
        "appid": config.client_id,
        "appidacr": "1",
        "idp": issuer,
        "idtyp": "app",
        "oid": config.object_id.to_string(),
        "rh": "0.AAAA-dynamics-testkit.",
        "sub": config.object_id.to_string(),
        "tid": config.tenant_id,
        "uti": Uuid::new_v4().simple().to_string(),
        "ver": "1.0",
    });
    if !config.roles.is_empty()
        && let Some(map) = claims.as_object_mut()
    {
        map.insert("roles".to_owned(), json!(config.roles));
    }
    claims
}

/// `GET /{tenant}[/v2.0]/.well-known/openid-configuration`: the endpoints of the tenant.
pub(crate) fn openid_configuration(config: &Config, request: &Request, tenant: &str, v2: bool) -> Reply {
    if !tenant.eq_ignore_ascii_case(&config.tenant_id) {
        return aad_error::error(request, AadError::tenant_not_found(tenant));
    }
    let host = &config.authority_host;
    let tid = &config.tenant_id;
    let body = if v2 {
        json!({
            "token_endpoint": format!("{host}/{tid}/oauth2/v2.0/token"),
            "authorization_endpoint": format!("{host}/{tid}/oauth2/v2.0/authorize"),
            "issuer": format!("{host}/{tid}/v2.0"),
            "jwks_uri": format!("{host}/{tid}/discovery/v2.0/keys"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        })
    } else {
        json!({
            "token_endpoint": format!("{host}/{tid}/oauth2/token"),
            "authorization_endpoint": format!("{host}/{tid}/oauth2/authorize"),
            "issuer": format!("https://sts.windows.net/{tid}/"),
            "jwks_uri": format!("{host}/common/discovery/keys"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        })
    };
    Reply::empty(200).with_body(body.to_string().into_bytes(), "application/json; charset=utf-8")
}
