//! JWT-shaped access tokens: `base64url(header).base64url(claims).base64url(HMAC-SHA256 signature)`.
//!
//! The tokens are signed with a random key of each emulator (`alg: HS256`), not with Azure AD's RSA keys:
//! they are for the emulator's own Web API, which checks them by looking them up, and for tools that
//! decode the claims (`aud`, `appid`, `tid`, `roles`, `iat`, `exp`) to show them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde_json::{Value, json};

/// Encodes and signs `claims`.
pub(crate) fn encode(claims: &Value, key: &[u8; 32]) -> String {
    let header = json!({"typ": "JWT", "alg": "HS256", "kid": "dynamics-testkit"});
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let signature = hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_three_base64url_parts_and_decodable_claims() {
        let token = encode(&json!({"aud": "http://127.0.0.1:1", "exp": 2}), &[1; 32]);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "http://127.0.0.1:1");
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        assert_ne!(encode(&json!({"aud": 1}), &[1; 32]), encode(&json!({"aud": 1}), &[2; 32]));
    }
}
