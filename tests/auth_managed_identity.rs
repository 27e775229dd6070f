//! Managed identity, against wiremock standing in for the metadata service and the App Service endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::sync::Arc;
use std::time::Duration;

use aad_auth::test_util::ManualClock;
use aad_auth::{
    Clock, Error, ExposeSecret, ManagedIdentityProvider, Resource, RetryPolicy, SecretString, TokenProvider,
    UserAssignedId,
};
use support::{fail_unmatched, fixture, json_response};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn org() -> Resource {
    Resource::new("https://contoso.crm.dynamics.com").unwrap()
}

#[tokio::test]
async fn imds_request_has_the_metadata_header_and_reads_string_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/metadata/identity/oauth2/token"))
        .and(query_param("api-version", "2018-02-01"))
        .and(query_param("resource", "https://contoso.crm.dynamics.com"))
        .and(query_param_is_missing("client_id"))
        .and(header("metadata", "true"))
        .respond_with(json_response(200, &fixture("aad/managed-identity-success.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let clock = ManualClock::starting_now();
    let provider = ManagedIdentityProvider::builder()
        .imds_endpoint(&format!("{}/metadata/identity/oauth2/token", server.uri()))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();

    let token = provider.token(&org()).await.unwrap();

    assert!(token.secret().expose_secret().contains("mi-fixture-token"));
    assert_eq!(token.expires_on(), clock.now() + Duration::from_secs(86399));
}

#[tokio::test]
async fn imds_404_while_the_identity_is_set_up_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Identity not found"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, &fixture("aad/managed-identity-success.json")))
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();
    let provider = ManagedIdentityProvider::builder()
        .imds_endpoint(&format!("{}/metadata/identity/oauth2/token", server.uri()))
        .user_assigned(UserAssignedId::ObjectId("0f0e0d0c-0b0a-0908-0706-050403020100".into()))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();

    provider.token(&org()).await.unwrap();

    assert_eq!(clock.sleeps().len(), 1);
    let requests = server.received_requests().await.unwrap();
    assert!(requests[1].url.query().unwrap().contains("object_id=0f0e0d0c-0b0a-0908-0706-050403020100"));
}

#[tokio::test]
async fn app_service_sends_the_identity_header_and_the_user_assigned_client_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", "https://contoso.crm.dynamics.com"))
        .and(query_param("client_id", "9d2ac0e8-6a5e-4a45-8a0b-1e1b0c0c6f55"))
        .and(header("x-identity-header", "identity-header-secret"))
        .respond_with(json_response(200, &fixture("aad/managed-identity-success.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let endpoint = format!("{}/msi/token", server.uri());
    let vars = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", "identity-header-secret"),
        ("AZURE_CLIENT_ID", "9d2ac0e8-6a5e-4a45-8a0b-1e1b0c0c6f55"),
    ];
    let provider = ManagedIdentityProvider::builder()
        .from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    provider.token(&org()).await.unwrap();
    assert!(!format!("{provider:?}").contains("identity-header-secret"));
}

#[tokio::test]
async fn managed_identity_errors_are_typed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(400, r#"{"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named https://x was not found"}"#))
        .mount(&server)
        .await;
    let provider = ManagedIdentityProvider::builder()
        .imds_endpoint(&format!("{}/metadata/identity/oauth2/token", server.uri()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    let error = provider.token(&org()).await.unwrap_err();

    assert_eq!(error.aadsts_code(), Some(500011));
    assert_eq!(error.hint(), aad_auth::aadsts_hint(500011));
}

#[test]
fn the_identity_header_never_goes_over_plain_http_to_another_host() {
    let error = ManagedIdentityProvider::builder()
        .app_service("http://identity.example.test/msi/token", SecretString::from("h"))
        .build()
        .unwrap_err();
    assert!(matches!(&error, Error::Config(c) if c.field() == "IDENTITY_ENDPOINT"), "{error}");
    assert!(error.to_string().contains("plain http"));

    // The default metadata address is link-local and takes no secret: allowed, and never contacted here.
    assert!(ManagedIdentityProvider::builder().build().is_ok());
    assert!(ManagedIdentityProvider::builder().imds_endpoint("http://10.1.2.3/token").build().is_err());
}
