//! Which resource a token is for, read from its `aud` claim without verifying the signature,
//! so that a token for another resource is reported before it is sent.
//!
//! The claim is only compared, never trusted: the resource verifies the signature.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::error::AudienceError;
use crate::{AccessToken, Error, Resource, Result};

/// Base64url with or without padding, as JWT issuers differ.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    aud: Option<Audiences>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audiences {
    One(String),
    Many(Vec<String>),
}

impl AccessToken {
    /// The audiences (`aud`) the token names, read from its payload **without verifying the signature**;
    /// `None` when the token is not a JWT or names no audience. The token itself is never logged or returned.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use aad_auth::AccessToken;
    ///
    /// // {"alg":"none"} . {"aud":"https://contoso.crm.dynamics.com/"} . (no signature)
    /// let token = AccessToken::new(
    ///     "eyJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwczovL2NvbnRvc28uY3JtLmR5bmFtaWNzLmNvbS8ifQ.",
    ///     SystemTime::now(),
    /// );
    /// assert_eq!(token.audiences(), Some(vec!["https://contoso.crm.dynamics.com/".to_owned()]));
    /// assert_eq!(AccessToken::new("opaque", SystemTime::now()).audiences(), None);
    /// ```
    pub fn audiences(&self) -> Option<Vec<String>> {
        let mut parts = self.secret().expose_secret().split('.');
        let (_header, payload) = (parts.next()?, parts.next()?);
        parts.next()?;
        let bytes = BASE64URL.decode(payload).ok()?;
        let claims: Claims = serde_json::from_slice(&bytes).ok()?;
        match claims.aud? {
            Audiences::One(audience) => Some(vec![audience]),
            Audiences::Many(audiences) if !audiences.is_empty() => Some(audiences),
            Audiences::Many(_) => None,
        }
    }

    /// Checks that the token is for `expected`, before it is sent there.
    ///
    /// The comparison ignores case and a trailing `/`, and takes an application id GUID and its
    /// `api://<guid>` (or v1 `spn:<guid>`) form as the same audience.
    /// A token whose audience cannot be read (not a JWT) passes: only the resource can tell.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use aad_auth::{AccessToken, Error, Resource};
    ///
    /// let token = AccessToken::new(
    ///     "eyJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwczovL2NvbnRvc28uY3JtLmR5bmFtaWNzLmNvbS8ifQ.",
    ///     SystemTime::now(),
    /// );
    /// token.check_audience(&Resource::new("https://contoso.crm.dynamics.com")?)?;
    /// let error = token.check_audience(&Resource::new("https://fabrikam.crm.dynamics.com")?).unwrap_err();
    /// assert!(matches!(&error, Error::Audience(a) if a.expected() == "https://fabrikam.crm.dynamics.com"));
    /// # Ok::<(), aad_auth::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Audience`] naming both the expected resource and the token's audiences.
    pub fn check_audience(&self, expected: &Resource) -> Result<()> {
        let Some(found) = self.audiences() else {
            return Ok(());
        };
        let wanted = normalise(expected.as_str());
        if found.iter().any(|audience| normalise(audience) == wanted) {
            return Ok(());
        }
        Err(Error::Audience(AudienceError::new(expected.as_str(), found)))
    }
}

/// An audience in a comparable form: lower case, no trailing `/`, an app id URI reduced to its GUID.
fn normalise(audience: &str) -> String {
    let lower = audience.trim().trim_end_matches('/').to_ascii_lowercase();
    for prefix in ["api://", "spn:"] {
        if let Some(id) = lower.strip_prefix(prefix)
            && crate::resource::is_guid(id)
        {
            return id.to_owned();
        }
    }
    lower
}

/// The hint for a token with the wrong audience.
pub(crate) const HINT: &str = "the token was issued for another resource: request it for the org URL \
     (the Resource given to the token provider must be the URL the requests go to)";

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use base64::engine::general_purpose;

    use super::*;

    fn token(payload: &str) -> AccessToken {
        let encode = |text: &str| general_purpose::URL_SAFE_NO_PAD.encode(text);
        AccessToken::new(format!("{}.{}.sig", encode(r#"{"alg":"RS256"}"#), encode(payload)), SystemTime::now())
    }

    fn resource(uri: &str) -> Resource {
        Resource::new(uri).unwrap()
    }

    #[test]
    fn trailing_slashes_case_and_app_id_uris_are_the_same_audience() {
        let org = token(r#"{"aud":"https://Contoso.crm.dynamics.com/"}"#);
        org.check_audience(&resource("https://contoso.crm.dynamics.com")).unwrap();
        org.check_audience(&resource("https://contoso.crm.dynamics.com/")).unwrap();
        let app = token(r#"{"aud":"00000007-0000-0000-c000-000000000000"}"#);
        app.check_audience(&resource("api://00000007-0000-0000-c000-000000000000")).unwrap();
        let many = token(r#"{"aud":["https://graph.microsoft.com","https://contoso.crm.dynamics.com"]}"#);
        many.check_audience(&resource("https://contoso.crm.dynamics.com")).unwrap();
    }

    #[test]
    fn another_resource_is_named_with_both_audiences_and_never_the_token() {
        let other = token(r#"{"aud":"https://graph.microsoft.com"}"#);
        let error = other.check_audience(&resource("https://contoso.crm.dynamics.com")).unwrap_err();
        let text = error.to_string();
        assert_eq!(text, "the token is for https://graph.microsoft.com, not for https://contoso.crm.dynamics.com");
        assert!(!text.contains(other.secret().expose_secret()));
        assert!(!format!("{error:?}").contains(".sig"));
        assert!(error.hint().is_some());
    }

    #[test]
    fn unreadable_tokens_pass_the_check() {
        for opaque in ["opaque", "a.b", "a.!!!.c", "e30.e30.c"] {
            let token = AccessToken::new(opaque, SystemTime::now());
            assert_eq!(token.audiences(), None, "{opaque}");
            token.check_audience(&resource("https://contoso.crm.dynamics.com")).unwrap();
        }
    }
}
