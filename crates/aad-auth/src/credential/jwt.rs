//! Client assertions: JWTs signed with the certificate's key (RFC 7523, Microsoft's certificate credentials).

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature;
use secrecy::SecretString;
use serde_json::json;

use super::certificate::{AssertionForm, Material};
use crate::{Error, Result};

/// How far back `nbf` is set, so that a server clock slightly behind ours still accepts the assertion.
const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// How long an assertion is valid: short, it is used once.
const LIFETIME: Duration = Duration::from_secs(10 * 60);

pub(super) fn sign(
    material: &Material,
    form: AssertionForm,
    send_chain: bool,
    client_id: &str,
    audience: &str,
    now: SystemTime,
) -> Result<SecretString> {
    let mut header = match form {
        AssertionForm::Current => {
            json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(&material.sha256)})
        }
        AssertionForm::Legacy => json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(&material.sha1)}),
    };
    if send_chain {
        header["x5c"] = material.chain.iter().map(|der| STANDARD.encode(der)).collect();
    }
    let now_secs = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let claims = json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now_secs.saturating_sub(CLOCK_SKEW.as_secs()),
        "iat": now_secs,
        "exp": now_secs + LIFETIME.as_secs(),
    });
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let algorithm: &dyn signature::RsaEncoding = match form {
        AssertionForm::Current => &signature::RSA_PSS_SHA256,
        AssertionForm::Legacy => &signature::RSA_PKCS1_SHA256,
    };
    let mut signature = vec![0; material.key.public().modulus_len()];
    material
        .key
        .sign(algorithm, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
        .map_err(|_| Error::credential("signing the client assertion failed", None))?;
    Ok(SecretString::from(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))))
}
