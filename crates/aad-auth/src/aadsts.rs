//! Plain-language hints for the AADSTS codes people meet when setting up the client-credentials grant.
//!
//! The table is also published as `TROUBLESHOOTING.md`; keep the two in step.

/// The hint for one AADSTS code, or `None` when the server's own text is the best we have.
///
/// ```
/// let hint = aad_auth::aadsts_hint(7000215).unwrap();
/// assert!(hint.contains("Secret ID"));
/// assert_eq!(aad_auth::aadsts_hint(1), None);
/// ```
pub fn hint(code: u32) -> Option<&'static str> {
    Some(match code {
        7000215 => WRONG_SECRET,
        7000222 => EXPIRED_SECRET,
        700016 => {
            "no application with this client id exists in this tenant: check the client id \
             (Application (client) ID on the app registration's overview) and the tenant id"
        }
        90002 => {
            "the tenant was not found: check the tenant id (a GUID, or a verified domain such as \
             contoso.onmicrosoft.com) and the authority host for your cloud"
        }
        500011 => {
            "the resource principal was not found in the tenant: check the resource or org URL \
             (for Dataverse, https://<org>.crm.dynamics.com, without /api/data)"
        }
        700027 => {
            "the certificate assertion was rejected: upload this certificate (its public part) \
             to the app registration under Certificates & secrets, and check the thumbprint"
        }
        700024 => {
            "the client assertion is outside its valid time: this machine's clock is off; \
             synchronise it (NTP) and retry"
        }
        7000112 => {
            "the application is disabled: an administrator must enable the app's service principal \
             (Enterprise applications, Properties, Enabled for users to sign in)"
        }
        70021 => {
            "no federated credential matches the presented assertion: check the issuer, subject \
             and audience of the federated credential on the app registration"
        }
        1002012 | 70011 => {
            "the scope is not valid: for the client-credentials grant the v2 endpoint needs \
             <resource>/.default and the v1 endpoint needs the bare resource URL"
        }
        _ => return None,
    })
}

const WRONG_SECRET: &str = "the client secret is wrong: use the secret's Value (shown once, when it was created), \
     not its Secret ID, and check it belongs to this app registration";

const EXPIRED_SECRET: &str = "the client secret has expired: create a new secret under Certificates & secrets \
     in the app registration and update the configuration";

/// The hint for an error answer without an AADSTS code, from the OAuth2 `error` (RFC 6749 §5.2),
/// the HTTP status and the description: what a standards-compliant server or a gateway sends.
pub(crate) fn oauth_hint(error: &str, status: u16, description: Option<&str>) -> Option<&'static str> {
    let description = description.unwrap_or_default().to_ascii_lowercase();
    let says = |words: &[&str]| words.iter().any(|word| description.contains(word));
    Some(match error {
        "invalid_client" if says(&["expired", "expiry", "no longer valid"]) => EXPIRED_SECRET,
        "invalid_client"
            if says(&["secret", "password", "credentials"])
                && says(&["invalid", "wrong", "incorrect", "mismatch", "bad"]) =>
        {
            WRONG_SECRET
        }
        "invalid_client" => {
            "the server did not accept the client's authentication: check the client id and its secret or certificate; \
             if the server expects the secret in an Authorization header, choose ClientAuthentication::Basic"
        }
        "unauthorized_client" => {
            "this client may not use the client-credentials grant: allow the grant for this client on the \
             authorization server (in Azure AD, use a confidential app registration of this tenant)"
        }
        "invalid_scope" => {
            "the scope was refused: the client-credentials grant needs <resource>/.default, such as \
             https://contoso.crm.dynamics.com/.default (give the org URL as the Resource; /.default is added for you)"
        }
        "invalid_resource" => {
            "the resource was refused: give the org URL itself, such as https://contoso.crm.dynamics.com \
             (without /api/data), and check the app may be granted tokens for it"
        }
        "invalid_grant" => {
            "the grant was refused: the client assertion (certificate or federated token) is invalid or expired, \
             or this credential is not accepted for the app; check the certificate uploaded to the app and the token file"
        }
        "unsupported_grant_type" => {
            "the server does not offer the client-credentials grant at this URL: check the token endpoint \
             (Azure AD: /oauth2/token for v1, /oauth2/v2.0/token for v2) and that the server enables client_credentials"
        }
        "invalid_request" => {
            "the server refused the request as malformed: check the token URL and the resource, and \
             whether the server expects the secret in an Authorization header (ClientAuthentication::Basic)"
        }
        "" if status == 401 => {
            "the token endpoint refused the client without saying why: check the client id and secret, and \
             whether the server expects the secret in an Authorization header (ClientAuthentication::Basic)"
        }
        "" if status == 400 => {
            "the token endpoint refused the request without saying why: check the token URL \
             (authority host, tenant, endpoint version) and the resource"
        }
        "" if status == 403 => {
            "the token request was forbidden before it reached a token service: a proxy or firewall may be \
             blocking the sign-in host; configure the proxy or allow the host"
        }
        "" if status == 404 => {
            "there is no token endpoint at this URL: check the authority host, the tenant and the endpoint version"
        }
        _ => return None,
    })
}

/// The first `AADSTSnnnn` code found in a text.
pub(crate) fn first_code(text: &str) -> Option<u32> {
    let start = text.find("AADSTS")? + "AADSTS".len();
    let digits: &str = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The first line of a description, without Azure AD's trailing `Trace ID:` lines.
pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_code_in_a_description() {
        assert_eq!(first_code("AADSTS70002: Error. AADSTS70008: more"), Some(70002));
        assert_eq!(first_code("no code here"), None);
        assert_eq!(first_code("AADSTS"), None);
    }

    #[test]
    fn oauth_errors_without_a_code_get_distinct_hints() {
        let expired = oauth_hint("invalid_client", 401, Some("The client secret has expired."));
        let wrong = oauth_hint("invalid_client", 401, Some("Invalid client secret provided"));
        let plain = oauth_hint("invalid_client", 401, None);
        assert_eq!(expired, hint(7000222));
        assert_eq!(wrong, hint(7000215));
        assert!(plain.is_some_and(|h| h.contains("ClientAuthentication::Basic")), "{plain:?}");
        let mut seen = vec![expired, wrong, plain];
        for (error, status) in [
            ("unauthorized_client", 400),
            ("invalid_scope", 400),
            ("invalid_resource", 400),
            ("invalid_grant", 400),
            ("unsupported_grant_type", 400),
            ("invalid_request", 400),
            ("", 400),
            ("", 401),
            ("", 403),
            ("", 404),
        ] {
            let found = oauth_hint(error, status, None);
            assert!(found.is_some(), "{error} {status}");
            assert!(!seen.contains(&found), "{error} {status} repeats a hint");
            seen.push(found);
        }
        assert!(oauth_hint("invalid_scope", 400, None).is_some_and(|h| h.contains("/.default")));
        assert_eq!(oauth_hint("", 500, None), None);
        assert_eq!(oauth_hint("temporarily_unavailable", 503, None), None);
    }

    #[test]
    fn every_listed_code_has_a_hint() {
        for code in [7000215, 7000222, 700016, 90002, 500011, 700027, 700024, 7000112, 70021, 1002012, 70011] {
            assert!(hint(code).is_some(), "{code}");
        }
    }
}
