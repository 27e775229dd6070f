//! Certificate credentials and federated assertions: the JWTs are verified with the public key and their claims checked.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aad_auth::test_util::ManualClock;
use aad_auth::{
    AssertionForm, ClientCertificate, ClientCredential, ClientCredentialsProvider, Error, Resource, RetryPolicy,
    SecretString, TokenEndpoint, TokenProvider,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, UnparsedPublicKey};
use serde_json::Value;
use support::{fixture, fixture_bytes, fixture_path, form_pairs, form_value, json_response};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn password() -> SecretString {
    SecretString::from("fixture-password")
}

/// Acquires one token with `credential` and returns the form the mock received.
async fn sent_form(
    credential: ClientCredential,
    endpoint: TokenEndpoint,
) -> (MockServer, Vec<(String, String)>, ClientCredentialsProvider) {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(json_response(200, &fixture("aad/v2-success.json"))).mount(&server).await;
    let provider = ClientCredentialsProvider::builder(TENANT, CLIENT_ID, credential)
        .authority_url(&server.uri())
        .endpoint(endpoint)
        .clock(Arc::new(ManualClock::starting_now()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    provider.token(&Resource::new("https://contoso.crm.dynamics.com").unwrap()).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let form = form_pairs(&requests[0]);
    (server, form, provider)
}

struct Jwt {
    header: Value,
    claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn split_jwt(jwt: &str) -> Jwt {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form");
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).unwrap();
    Jwt {
        header: serde_json::from_slice(&decode(parts[0])).unwrap(),
        claims: serde_json::from_slice(&decode(parts[1])).unwrap(),
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: decode(parts[2]),
    }
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.trim().len()).step_by(2).map(|i| u8::from_str_radix(&hex.trim()[i..i + 2], 16).unwrap()).collect()
}

fn verify(jwt: &Jwt, algorithm: &'static dyn signature::VerificationAlgorithm) {
    let public_key = fixture_bytes("aad/certificates/app-public.der");
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .expect("the assertion's signature verifies with the certificate's public key");
}

fn check_claims(jwt: &Jwt, token_url: &str) {
    let claims = &jwt.claims;
    assert_eq!(claims["aud"], token_url);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let nbf = claims["nbf"].as_u64().unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(nbf < now && now - nbf <= 5 * 60, "nbf is a little in the past, for clock skew: {nbf} vs {now}");
    assert!(exp > now && exp - now <= 15 * 60, "exp is short: {exp} vs {now}");
}

#[tokio::test]
async fn current_form_is_ps256_with_sha256_thumbprint_and_verifies() {
    let certificate = ClientCertificate::from_pem_file(fixture_path("aad/certificates/app.pem")).unwrap();
    let (server, form, _) = sent_form(ClientCredential::certificate(certificate), TokenEndpoint::V2).await;

    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["grant_type", "client_id", "client_assertion_type", "client_assertion", "scope"]);
    assert_eq!(form[2].1, JWT_BEARER);
    let jwt = split_jwt(&form[3].1);
    assert_eq!(jwt.header["alg"], "PS256");
    assert_eq!(jwt.header["typ"], "JWT");
    let expected = URL_SAFE_NO_PAD.encode(hex_to_bytes(&fixture("aad/certificates/app.sha256")));
    assert_eq!(jwt.header["x5t#S256"], expected.as_str());
    assert!(jwt.header.get("x5t").is_none() && jwt.header.get("x5c").is_none());
    verify(&jwt, &signature::RSA_PSS_2048_8192_SHA256);
    check_claims(&jwt, &format!("{}/{TENANT}/oauth2/v2.0/token", server.uri()));
}

#[tokio::test]
async fn legacy_form_is_rs256_with_sha1_thumbprint_and_verifies() {
    let certificate = ClientCertificate::from_pkcs12_file(fixture_path("aad/certificates/app-legacy.pfx"), &password())
        .unwrap()
        .with_form(AssertionForm::Legacy);
    let (server, form, _) = sent_form(ClientCredential::certificate(certificate), TokenEndpoint::V1).await;

    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["grant_type", "client_id", "client_assertion_type", "client_assertion", "resource"]);
    let jwt = split_jwt(&form_value_of(&form, "client_assertion"));
    assert_eq!(jwt.header["alg"], "RS256");
    let expected = URL_SAFE_NO_PAD.encode(hex_to_bytes(&fixture("aad/certificates/app.sha1")));
    assert_eq!(jwt.header["x5t"], expected.as_str());
    verify(&jwt, &signature::RSA_PKCS1_2048_8192_SHA256);
    check_claims(&jwt, &format!("{}/{TENANT}/oauth2/token", server.uri()));
}

fn form_value_of(form: &[(String, String)], name: &str) -> String {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap()
}

#[tokio::test]
async fn sends_the_chain_leaf_first_when_asked() {
    let certificate = ClientCertificate::from_pkcs12_file(fixture_path("aad/certificates/app.pfx"), &password())
        .unwrap()
        .with_chain(true);
    let (_server, form, _) = sent_form(ClientCredential::certificate(certificate), TokenEndpoint::V2).await;

    let jwt = split_jwt(&form_value_of(&form, "client_assertion"));
    let chain: Vec<Vec<u8>> =
        jwt.header["x5c"].as_array().unwrap().iter().map(|c| STANDARD.decode(c.as_str().unwrap()).unwrap()).collect();
    assert_eq!(chain, [pem_der(&fixture("aad/certificates/app.crt")), pem_der(&fixture("aad/certificates/ca.crt"))]);
    verify(&jwt, &signature::RSA_PSS_2048_8192_SHA256);
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[test]
fn every_format_loads_the_same_certificate() {
    let sha1 = fixture("aad/certificates/app.sha1");
    let sha256 = fixture("aad/certificates/app.sha256");
    let loaded = [
        ClientCertificate::from_pem_file(fixture_path("aad/certificates/app.pem")).unwrap(),
        // A PKCS#1 key, with the certificate listed after an unrelated one.
        ClientCertificate::from_pem_file(fixture_path("aad/certificates/app-pkcs1.pem")).unwrap(),
        ClientCertificate::from_pkcs12_file(fixture_path("aad/certificates/app.pfx"), &password()).unwrap(),
        ClientCertificate::from_pkcs12_file(fixture_path("aad/certificates/app-legacy.pfx"), &password()).unwrap(),
        ClientCertificate::from_file(fixture_path("aad/certificates/app.pfx"), Some(&password())).unwrap(),
    ];
    for certificate in loaded {
        assert_eq!(certificate.thumbprint_sha1(), sha1.trim());
        assert_eq!(certificate.thumbprint_sha256(), sha256.trim());
        let debug = format!("{certificate:?}");
        assert!(debug.contains(sha1.trim()) && debug.contains("[REDACTED]"), "{debug}");
    }
}

#[test]
fn unusable_certificates_say_why() {
    let cases = [
        (ClientCertificate::from_pem_file(fixture_path("aad/certificates/app-encrypted.pem")), "encrypted"),
        (ClientCertificate::from_pem_file(fixture_path("aad/certificates/mismatched.pem")), "does not belong"),
        (ClientCertificate::from_pem_file(fixture_path("aad/certificates/app.crt")), "no private key"),
        (ClientCertificate::from_pem_file(fixture_path("aad/certificates/missing.pem")), "cannot read"),
        (
            ClientCertificate::from_pkcs12_file(fixture_path("aad/certificates/app.pfx"), &SecretString::from("wrong")),
            "wrong password",
        ),
        (ClientCertificate::from_pem(b"not a pem at all"), "no private key"),
    ];
    for (result, expected) in cases {
        let error = result.unwrap_err();
        assert!(matches!(error, Error::Credential(_)), "{error:?}");
        assert!(error.to_string().contains(expected), "{error}");
        assert!(!error.to_string().contains("fixture-password"));
    }
}

#[tokio::test]
async fn federated_token_file_is_read_again_on_every_acquisition() {
    let path = std::env::temp_dir().join(format!("aad-auth-federated-{}", uuid::Uuid::new_v4()));
    std::fs::write(&path, "federated-assertion-1\n").unwrap();
    let (server, form, provider) = sent_form(ClientCredential::federated_token_file(&path), TokenEndpoint::V2).await;
    assert_eq!(form_value_of(&form, "client_assertion"), "federated-assertion-1");
    assert_eq!(form_value_of(&form, "client_assertion_type"), JWT_BEARER);

    std::fs::write(&path, "federated-assertion-2").unwrap();
    provider.token(&Resource::new("https://graph.microsoft.com").unwrap()).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(form_value(&requests[1], "client_assertion").as_deref(), Some("federated-assertion-2"));
    std::fs::remove_file(&path).unwrap();

    let error = provider.token(&Resource::new("https://graph.microsoft.com").unwrap()).await.unwrap_err();
    assert!(matches!(error, Error::Credential(_)) && error.to_string().contains("federated token file"), "{error}");
}
