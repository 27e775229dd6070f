//! Error answers from a server that sends no AADSTS code still get distinct hints.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use aad_auth::{ClientCredential, ClientCredentialsProvider, Resource, RetryPolicy, SecretString, TokenProvider};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn answer(status: u16, body: &str) -> aad_auth::Error {
    let server = MockServer::start().await;
    let template = if body.is_empty() {
        ResponseTemplate::new(status)
    } else {
        ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
    };
    Mock::given(method("POST")).respond_with(template).expect(1).mount(&server).await;
    let provider =
        ClientCredentialsProvider::builder("contoso.com", "my-app", ClientCredential::secret(SecretString::from("s")))
            .authority_url(&server.uri())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
    provider.token(&Resource::new("https://contoso.crm.dynamics.com").unwrap()).await.unwrap_err()
}

#[tokio::test]
async fn an_expired_and_a_wrong_secret_get_different_hints_without_aadsts_codes() {
    let expired =
        answer(401, r#"{"error":"invalid_client","error_description":"The client secret has expired"}"#).await;
    let wrong = answer(401, r#"{"error":"invalid_client","error_description":"Invalid client secret"}"#).await;

    assert_eq!(expired.aadsts_code(), None);
    assert_eq!(expired.hint(), aad_auth::aadsts_hint(7000222));
    assert_eq!(wrong.hint(), aad_auth::aadsts_hint(7000215));
    assert!(expired.to_string().ends_with(expired.hint().unwrap()), "{expired}");
}

#[tokio::test]
async fn oauth2_error_codes_and_bare_statuses_get_hints() {
    let scope = answer(400, r#"{"error":"invalid_scope"}"#).await;
    assert!(scope.hint().unwrap().contains("/.default"), "{scope}");
    let grant = answer(400, r#"{"error":"unsupported_grant_type"}"#).await;
    assert!(grant.hint().unwrap().contains("client_credentials"), "{grant}");
    let bare = answer(401, "").await;
    assert_eq!(bare.status(), Some(401));
    assert!(bare.hint().unwrap().contains("ClientAuthentication::Basic"), "{bare}");
    let bad_request = answer(400, "").await;
    assert!(bad_request.hint().unwrap().contains("tenant"), "{bad_request}");
    assert_ne!(bare.hint(), bad_request.hint());
}
