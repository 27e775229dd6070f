//! The org's own sign-in challenge: an unauthenticated request to the Web API answers 401 with
//! `WWW-Authenticate: Bearer authorization_uri="https://login.microsoftonline.com/<tenant>/oauth2/authorize", ...`,
//! which names the tenant that owns the environment and its sign-in host.

use url::Url;

/// What the challenge says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The tenant id, the first path segment of `authorization_uri`.
    pub(crate) tenant: String,
    /// The sign-in host, such as `https://login.microsoftonline.com`.
    pub(crate) authority: String,
}

/// Reads a `WWW-Authenticate` header value.
pub(crate) fn parse(header: &str) -> Option<Challenge> {
    let params = header.trim().strip_prefix("Bearer").or_else(|| header.trim().strip_prefix("bearer"))?;
    let uri = params.split(',').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("authorization_uri").then(|| value.trim().trim_matches('"').to_owned())
    })?;
    let url = Url::parse(&uri).ok()?;
    let tenant = url.path_segments()?.find(|segment| !segment.is_empty())?.to_owned();
    let authority = url.origin().ascii_serialization();
    Some(Challenge { tenant, authority })
}

/// What a refusal's challenge says: `error` and `error_description`
/// (`Bearer error="invalid_token", error_description="The audience is invalid"`), when it says anything.
pub(crate) fn refusal(header: &str) -> Option<String> {
    let param = |wanted: &str| {
        header.split(',').find_map(|param| {
            let (name, value) = param.split_once('=')?;
            let name = name.trim().trim_start_matches("Bearer").trim_start_matches("bearer").trim();
            name.eq_ignore_ascii_case(wanted).then(|| value.trim().trim_matches('"').to_owned())
        })
    };
    match (param("error"), param("error_description")) {
        (Some(error), Some(description)) => Some(format!("{error}: {description}")),
        (None, Some(text)) | (Some(text), None) => Some(text),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tenant_and_authority_of_a_dataverse_challenge() {
        let header = r#"Bearer authorization_uri=https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/authorize, resource_id=https://contoso.crm.dynamics.com/"#;
        let challenge = parse(header).unwrap();
        assert_eq!(challenge.tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert_eq!(challenge.authority, "https://login.microsoftonline.com");
        let quoted = r#"Bearer realm="", authorization_uri="http://127.0.0.1:4000/t1/oauth2/authorize""#;
        assert_eq!(parse(quoted).unwrap().authority, "http://127.0.0.1:4000");
        assert_eq!(parse("Basic realm=x"), None);
        assert_eq!(parse("Bearer error=invalid_token"), None);
    }

    #[test]
    fn a_refusal_says_its_error_and_description() {
        let header = r#"Bearer error="invalid_token", error_description="The audience 'https://other.crm.dynamics.com' is invalid""#;
        assert_eq!(refusal(header).unwrap(), "invalid_token: The audience 'https://other.crm.dynamics.com' is invalid");
        assert_eq!(refusal("Bearer authorization_uri=https://x/t/oauth2/authorize"), None);
    }
}
