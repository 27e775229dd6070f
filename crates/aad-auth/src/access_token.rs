//! The access token a provider returns.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};

/// A bearer token with its expiry. Cloning is cheap: the token is shared, not copied.
///
/// The token itself is a [`SecretString`]: its `Debug` shows `[REDACTED]`,
/// and reading it takes an explicit [`AccessToken::secret`] and `expose_secret()`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use aad_auth::{AccessToken, ExposeSecret};
///
/// let expires_on = SystemTime::now() + Duration::from_secs(3600);
/// let token = AccessToken::new("eyJ0eXAi...", expires_on);
/// assert_eq!(token.secret().expose_secret(), "eyJ0eXAi...");
/// assert!(!format!("{token:?}").contains("eyJ0"));
/// ```
#[derive(Clone)]
pub struct AccessToken(Arc<Inner>);

struct Inner {
    secret: SecretString,
    expires_on: SystemTime,
    refresh_on: Option<SystemTime>,
}

impl AccessToken {
    /// A token that expires at `expires_on`.
    pub fn new(secret: impl Into<String>, expires_on: SystemTime) -> Self {
        Self(Arc::new(Inner { secret: SecretString::from(secret.into()), expires_on, refresh_on: None }))
    }

    /// The same token, with the time the issuer suggests refreshing it (Azure AD's `refresh_in`).
    #[must_use]
    pub fn with_refresh_on(self, refresh_on: SystemTime) -> Self {
        let Inner { secret, expires_on, .. } = Arc::unwrap_or_clone(self.0);
        Self(Arc::new(Inner { secret, expires_on, refresh_on: Some(refresh_on) }))
    }

    /// The token to send as `Authorization: Bearer …`.
    ///
    /// # Security
    /// Expose it only to put it on a request; never log it.
    pub fn secret(&self) -> &SecretString {
        &self.0.secret
    }

    /// When the token stops being accepted.
    pub fn expires_on(&self) -> SystemTime {
        self.0.expires_on
    }

    /// When the issuer suggests getting a new one, if it said.
    pub fn refresh_on(&self) -> Option<SystemTime> {
        self.0.refresh_on
    }

    /// True when the token has expired at `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        now >= self.0.expires_on
    }

    /// How long the token stays valid after `now` (zero once expired).
    pub fn remaining_at(&self, now: SystemTime) -> Duration {
        self.0.expires_on.duration_since(now).unwrap_or_default()
    }

    /// True when both values are the same acquisition (not merely equal text).
    pub fn is_same_as(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// `Bearer <token>`, ready for an `Authorization` header.
    ///
    /// # Security
    /// The result holds the token: put it on a request and drop it.
    pub fn bearer_header(&self) -> SecretString {
        SecretString::from(format!("Bearer {}", self.0.secret.expose_secret()))
    }
}

impl Clone for Inner {
    fn clone(&self) -> Self {
        Self { secret: self.secret.clone(), expires_on: self.expires_on, refresh_on: self.refresh_on }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[REDACTED]")
            .field("expires_on", &self.0.expires_on)
            .field("refresh_on", &self.0.refresh_on)
            .finish()
    }
}
