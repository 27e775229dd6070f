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
        7000215 => {
            "the client secret is wrong: use the secret's Value (shown once, when it was created), \
             not its Secret ID, and check it belongs to this app registration"
        }
        7000222 => {
            "the client secret has expired: create a new secret under Certificates & secrets \
             in the app registration and update the configuration"
        }
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
    fn every_listed_code_has_a_hint() {
        for code in [7000215, 7000222, 700016, 90002, 500011, 700027, 700024, 7000112, 70021, 1002012, 70011] {
            assert!(hint(code).is_some(), "{code}");
        }
    }
}
