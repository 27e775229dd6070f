//! The claims of an access token, decoded for display (the signature is not checked: the org does that).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The claims `dynamics token` and `doctor` look at.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct Claims {
    #[serde(default)]
    pub(crate) aud: Option<Audience>,
    /// The app id (v1 tokens).
    #[serde(default)]
    pub(crate) appid: Option<String>,
    /// The app id (v2 tokens).
    #[serde(default)]
    pub(crate) azp: Option<String>,
    #[serde(default)]
    pub(crate) tid: Option<String>,
    #[serde(default)]
    pub(crate) roles: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) iat: Option<i64>,
    #[serde(default)]
    pub(crate) exp: Option<i64>,
    #[serde(default)]
    pub(crate) iss: Option<String>,
    #[serde(default)]
    pub(crate) ver: Option<String>,
}

/// `aud` is a string or, rarely, a list.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn values(&self) -> Vec<&str> {
        match self {
            Audience::One(one) => vec![one.as_str()],
            Audience::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }
}

impl Claims {
    /// Decodes the payload of a JWT. The error never contains the token.
    pub(crate) fn decode(token: &str) -> Result<Self, String> {
        let mut parts = token.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JWT (three dot-separated parts)".to_owned());
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| "the token's payload is not base64url".to_owned())?;
        serde_json::from_slice(&bytes).map_err(|_| "the token's payload is not a JSON object of claims".to_owned())
    }

    /// The app id, from `appid` (v1) or `azp` (v2).
    pub(crate) fn app_id(&self) -> Option<&str> {
        self.appid.as_deref().or(self.azp.as_deref())
    }

    /// The audiences, as text.
    pub(crate) fn audience_text(&self) -> String {
        self.aud.as_ref().map(|aud| aud.values().join(", ")).unwrap_or_else(|| "(none)".to_owned())
    }

    /// True when one of the audiences is `org` (ignoring case and a trailing slash).
    pub(crate) fn is_for(&self, org: &str) -> bool {
        let wanted = normalize(org);
        self.aud.as_ref().is_some_and(|aud| aud.values().iter().any(|value| normalize(value) == wanted))
    }
}

fn normalize(url: &str) -> String {
    url.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// A Unix time as RFC 3339 in UTC, with how long from `now`.
pub(crate) fn describe_time(seconds: i64, now: OffsetDateTime) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp(seconds) else {
        return format!("{seconds} (not a valid time)");
    };
    let text = at.format(&Rfc3339).unwrap_or_else(|_| seconds.to_string());
    let delta = seconds - now.unix_timestamp();
    let relative = match delta {
        d if d.abs() < 60 => "now".to_owned(),
        d if d > 0 => format!("in {}", human(d)),
        d => format!("{} ago", human(-d)),
    };
    format!("{text} ({relative})")
}

fn human(seconds: i64) -> String {
    if seconds >= 3600 {
        format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60)
    } else {
        format!("{} min", seconds / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("eyJhbGciOiJub25lIn0.{}.sig", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn decodes_v1_and_v2_claims() {
        let claims = Claims::decode(&jwt(
            r#"{"aud":"https://org.crm.dynamics.com","appid":"a","tid":"t","roles":["r"],"iat":1,"exp":3601}"#,
        ))
        .unwrap();
        assert_eq!(claims.app_id(), Some("a"));
        assert!(claims.is_for("https://ORG.crm.dynamics.com/"));
        assert!(!claims.is_for("https://other.crm.dynamics.com"));
        let v2 = Claims::decode(&jwt(r#"{"aud":["x","https://org.crm.dynamics.com/"],"azp":"b"}"#)).unwrap();
        assert_eq!(v2.app_id(), Some("b"));
        assert!(v2.is_for("https://org.crm.dynamics.com"));
        assert_eq!(v2.roles, None);
    }

    #[test]
    fn refuses_what_is_not_a_jwt_without_echoing_it() {
        let error = Claims::decode("opaque-secret-token").unwrap_err();
        assert!(!error.contains("opaque-secret-token"));
        assert!(Claims::decode("a.!!!.c").is_err());
    }

    #[test]
    fn times_are_shown_in_utc_with_the_distance() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        assert_eq!(describe_time(1_000_000 + 3660, now), "1970-01-12T14:47:40Z (in 1 h 1 min)");
        assert!(describe_time(1_000_000 - 600, now).ends_with("(10 min ago)"));
    }
}
