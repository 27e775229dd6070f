//! The emulated Azure AD authority: the v1 and v2 token endpoints (client-credentials grant only)
//! and the tenant's OpenID configuration document.

mod aad_error;
mod jwt;
mod token_endpoint;

use wiremock::Request;

use crate::reply::Reply;
use crate::state::{Config, State};

/// Answers one request to the authority, by URL shape:
/// `POST /{tenant}/oauth2/token`, `POST /{tenant}/oauth2/v2.0/token`,
/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, `GET /{tenant}/.well-known/openid-configuration`.
pub(crate) fn handle(config: &Config, state: &mut State, request: &Request) -> Reply {
    let segments: Vec<&str> = request.url.path().trim_start_matches('/').split('/').collect();
    let method = request.method.as_str();
    match (method, segments.as_slice()) {
        ("POST", [tenant, "oauth2", "token"]) => {
            token_endpoint::token(config, state, request, tenant, token_endpoint::Version::V1)
        }
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => {
            token_endpoint::token(config, state, request, tenant, token_endpoint::Version::V2)
        }
        ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            token_endpoint::openid_configuration(config, request, tenant, true)
        }
        ("GET", [tenant, ".well-known", "openid-configuration"]) => {
            token_endpoint::openid_configuration(config, request, tenant, false)
        }
        (_, [_, "oauth2", "token"] | [_, "oauth2", "v2.0", "token"]) => {
            aad_error::error(request, aad_error::AadError::method_not_allowed(method))
        }
        _ => Reply::empty(404),
    }
}
