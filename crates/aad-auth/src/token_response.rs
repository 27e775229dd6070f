//! Azure AD's token and error bodies, read leniently.
//!
//! The v1 endpoint sends `expires_in` and `expires_on` as strings (`"3599"`), the v2 endpoint as numbers,
//! and the managed identity endpoints as either: every number here accepts both.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::AccessToken;

/// A successful token response from either endpoint.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct AadTokenResponse {
    pub(crate) access_token: oauth2::AccessToken,
    pub(crate) token_type: AadTokenType,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(crate) expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(crate) expires_on: Option<u64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(crate) refresh_in: Option<u64>,
    #[serde(default)]
    pub(crate) resource: Option<String>,
}

impl AadTokenResponse {
    /// The token, with its expiry counted from `requested_at` (robust to clock skew),
    /// or from the absolute `expires_on` when no `expires_in` was sent.
    pub(crate) fn into_access_token(self, requested_at: SystemTime) -> Result<AccessToken, &'static str> {
        let expires_on = match (self.expires_in, self.expires_on) {
            (Some(seconds), _) => requested_at.checked_add(Duration::from_secs(seconds)),
            (None, Some(epoch)) => SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(epoch)),
            (None, None) => return Err("the response has neither expires_in nor expires_on"),
        };
        let expires_on = expires_on.ok_or("the token's expiry (expires_in or expires_on) is out of range")?;
        if !self.token_type.0.eq_ignore_ascii_case("bearer") {
            return Err("the token type is not Bearer");
        }
        let token = AccessToken::new(self.access_token.into_secret(), expires_on);
        Ok(match self.refresh_in {
            Some(seconds) => token.with_refresh_on(
                requested_at
                    .checked_add(Duration::from_secs(seconds))
                    .ok_or("the token's refresh_in is out of range")?,
            ),
            None => token,
        })
    }
}

impl oauth2::TokenResponse for AadTokenResponse {
    type TokenType = AadTokenType;

    fn access_token(&self) -> &oauth2::AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &AadTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&oauth2::RefreshToken> {
        None
    }

    fn scopes(&self) -> Option<&Vec<oauth2::Scope>> {
        None
    }
}

/// The `token_type`, kept as sent (Azure AD writes `Bearer`; RFC 6749 says it is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub(crate) struct AadTokenType(pub(crate) String);

impl oauth2::TokenType for AadTokenType {}

/// Azure AD's error body, with its extra fields.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct AadErrorBody {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
    #[serde(default)]
    pub(crate) error_codes: Vec<u32>,
    #[serde(default)]
    pub(crate) timestamp: Option<String>,
    #[serde(default)]
    pub(crate) trace_id: Option<String>,
    #[serde(default)]
    pub(crate) correlation_id: Option<String>,
}

impl fmt::Display for AadErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

impl oauth2::ErrorResponse for AadErrorBody {}

/// Seconds as a JSON number or a string of digits.
fn lenient_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct Seconds;

    impl<'de> Visitor<'de> for Seconds {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number of seconds, as a number or a string")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v).map(Some).map_err(|_| E::custom("a negative number of seconds"))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() && v >= 0.0 && v < u64::MAX as f64 {
                Ok(Some(v as u64))
            } else {
                Err(E::custom("an out-of-range number of seconds"))
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse::<u64>().map(Some).map_err(|_| E::custom("a string that is not a whole number of seconds"))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(Seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v1_strings_and_v2_numbers() {
        let v1: AadTokenResponse = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":"3599","expires_on":"1388452167","resource":"https://x/"}"#,
        )
        .unwrap();
        assert_eq!((v1.expires_in, v1.expires_on), (Some(3599), Some(1388452167)));
        let v2: AadTokenResponse =
            serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer","expires_in":3599,"refresh_in":1799}"#)
                .unwrap();
        assert_eq!((v2.expires_in, v2.refresh_in), (Some(3599), Some(1799)));
    }

    #[test]
    fn refuses_non_numeric_seconds_without_echoing_the_body() {
        let error = serde_json::from_str::<AadTokenResponse>(
            r#"{"access_token":"secret-token","token_type":"Bearer","expires_in":"soon"}"#,
        )
        .unwrap_err();
        assert!(!error.to_string().contains("secret-token"));
    }

    #[test]
    fn expiry_prefers_the_relative_lifetime() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let response: AadTokenResponse =
            serde_json::from_str(r#"{"access_token":"a","token_type":"bearer","expires_in":"60","expires_on":"5"}"#)
                .unwrap();
        let token = response.into_access_token(at).unwrap();
        assert_eq!(token.expires_on(), at + Duration::from_secs(60));
    }
}
