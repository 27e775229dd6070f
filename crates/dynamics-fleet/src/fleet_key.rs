//! The AES-256-GCM key that seals tokens before they go to Redis.

use std::fmt;

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// The 32-byte key tokens are encrypted under (AES-256-GCM), so that a reader of Redis gets no bearer token.
/// Every worker of a fleet is given the same key, base64-encoded, in `DYNAMICS_FLEET_KEY`.
///
/// Its `Debug` shows nothing of the key.
///
/// ```
/// use dynamics_fleet::FleetKey;
///
/// // 32 bytes, base64-encoded (generate one with `openssl rand -base64 32`).
/// let key = FleetKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// assert_eq!(format!("{key:?}"), "FleetKey([REDACTED])");
/// assert!(FleetKey::from_base64("c2hvcnQ=").is_err());
/// # Ok::<(), dynamics_fleet::Error>(())
/// ```
pub struct FleetKey {
    key: LessSafeKey,
}

/// The variable that holds the key.
pub const KEY_VARIABLE: &str = "DYNAMICS_FLEET_KEY";

impl FleetKey {
    /// A key from its base64 text (standard alphabet, padded or not).
    ///
    /// # Errors
    /// [`Error::Config`] when the text is not base64 or does not decode to 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| Error::config(KEY_VARIABLE, "is not base64 (generate one with `openssl rand -base64 32`)"))?;
        Self::from_bytes(&bytes)
    }

    /// A key from `DYNAMICS_FLEET_KEY`.
    ///
    /// # Errors
    /// [`Error::Config`] when the variable is missing or is not a base64-encoded 32-byte key.
    pub fn from_env() -> Result<Self> {
        let text = std::env::var(KEY_VARIABLE)
            .map_err(|_| Error::config(KEY_VARIABLE, "is not set (generate one with `openssl rand -base64 32`)"))?;
        Self::from_base64(&text)
    }

    /// A key from its 32 bytes.
    ///
    /// # Errors
    /// [`Error::Config`] when `bytes` is not 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 32 {
            return Err(Error::config(KEY_VARIABLE, format!("decodes to {} bytes; AES-256 needs 32", bytes.len())));
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| Error::config(KEY_VARIABLE, "is not usable"))?;
        Ok(Self { key: LessSafeKey::new(key) })
    }

    /// `nonce || ciphertext || tag`, bound to `context` (the Redis key, so a value moved to another key fails to open).
    pub(crate) fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| Error::Unreadable)?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut sealed)
            .map_err(|_| Error::Unreadable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plaintext of a value [`seal`](Self::seal)ed under the same key and `context`.
    pub(crate) fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::Unreadable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Unreadable)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context), &mut buffer).map_err(|_| Error::Unreadable)?;
        Ok(plain.to_vec())
    }
}

impl fmt::Debug for FleetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FleetKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_value_opens_only_under_its_context() {
        let key = FleetKey::from_bytes(&[7; 32]).unwrap();
        let sealed = key.seal(b"k1", b"secret-token").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(key.open(b"k1", &sealed).unwrap(), b"secret-token");
        assert!(key.open(b"k2", &sealed).is_err());
        assert!(FleetKey::from_bytes(&[8; 32]).unwrap().open(b"k1", &sealed).is_err());
    }
}
