//! The bearer check and the faults that act before a request is handled (401 once, 429, 503).

use time::OffsetDateTime;
use wiremock::Request;

use super::handlers::Ctx;
use crate::faults::{self, FaultDecision};
use crate::reply::Reply;

/// `None` when the request may proceed, or the refusal to send.
pub(crate) fn check(ctx: &mut Ctx<'_>, request: &Request) -> Option<Reply> {
    let header = request.headers.get("authorization").and_then(|value| value.to_str().ok());
    let token = header.and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let Some(token) = token else {
        ctx.state.counters.unauthorized += 1;
        return Some(challenge(ctx, None));
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let problem = match ctx.state.tokens.get(token) {
        None => Some("The token is not one this org's authority issued, or it was revoked."),
        Some(issued) if issued.expires_on <= now => Some("The token is expired."),
        Some(issued) if !issued.audience.eq_ignore_ascii_case(&ctx.config.org_url) => {
            Some("The token's audience is not this org.")
        }
        Some(_) => None,
    };
    if let Some(problem) = problem {
        ctx.state.counters.unauthorized += 1;
        return Some(challenge(ctx, Some(problem)));
    }
    match ctx.state.faults.decide()? {
        FaultDecision::Unauthorized => {
            ctx.state.tokens.clear();
            ctx.state.counters.unauthorized += 1;
            Some(challenge(ctx, Some("The token was revoked (dynamics-testkit fault: unauthorized_once).")))
        }
        FaultDecision::Throttle { retry_after, kind } => {
            ctx.state.counters.throttled += 1;
            Some(kind.reply(retry_after))
        }
        FaultDecision::Unavailable => {
            ctx.state.counters.unavailable += 1;
            Some(faults::unavailable_reply("fault: unavailable"))
        }
    }
}

/// `401` with Dataverse's challenge, which names the authority (with the tenant) and the resource:
/// `WWW-Authenticate: Bearer authorization_uri=<authority>/<tenant>/oauth2/authorize, resource_id=<org>/`.
/// An invalid token also gets `error="invalid_token"` and a description.
fn challenge(ctx: &Ctx<'_>, problem: Option<&str>) -> Reply {
    let authorize = format!("{}/{}/oauth2/authorize", ctx.config.authority_host, ctx.config.tenant_id);
    let resource = format!("{}/", ctx.config.org_url);
    let value = match problem {
        None => format!("Bearer authorization_uri={authorize}, resource_id={resource}"),
        Some(problem) => format!(
            "Bearer error=\"invalid_token\", error_description=\"{problem}\", authorization_uri={authorize}, resource_id={resource}"
        ),
    };
    Reply::empty(401).header("WWW-Authenticate", value)
}
