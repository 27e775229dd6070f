//! The credential chain (environment, workload identity, managed identity) against wiremock,
//! with the environment injected so that no test touches the process environment.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aad_auth::{
    CredentialSource, DefaultCredential, DefaultCredentialBuilder, Error, ExposeSecret, Resource, RetryPolicy,
    TokenProvider,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "abc8Q~chain-secret-value";
const V2_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
}

fn chain(vars: &[(&str, String)], imds: &str) -> DefaultCredentialBuilder {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    DefaultCredential::builder()
        .lookup(move |name| vars.get(name).cloned())
        .imds_endpoint(imds)
        .retry_policy(RetryPolicy::none())
}

fn org() -> Resource {
    Resource::new("https://contoso.crm.dynamics.com").unwrap()
}

fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

async fn token_endpoint() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(V2_PATH))
        .respond_with(json(fixture("aad/v2-success.json")))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// An instance metadata service nobody answers at.
const NO_IMDS: &str = "http://127.0.0.1:9/metadata/identity/oauth2/token";

#[tokio::test]
async fn the_environment_secret_comes_first() {
    let server = token_endpoint().await;
    let credential = chain(
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_CLIENT_SECRET", SECRET.into()),
            ("AZURE_CLIENT_CERTIFICATE_PATH", fixture_path("aad/certificates/app.pem").display().to_string()),
            ("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token".into()),
            ("AZURE_AUTHORITY_HOST", server.uri()),
        ],
        NO_IMDS,
    )
    .build()
    .unwrap();

    assert_eq!(credential.source(), CredentialSource::Environment);
    credential.token(&org()).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(form(&requests[0])["client_secret"], SECRET);
    assert!(!format!("{credential:?}").contains(SECRET));
}

#[tokio::test]
async fn the_environment_certificate_comes_when_there_is_no_secret() {
    let server = token_endpoint().await;
    let credential = chain(
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_CLIENT_CERTIFICATE_PATH", fixture_path("aad/certificates/app.pem").display().to_string()),
            ("AZURE_AUTHORITY_HOST", server.uri()),
        ],
        NO_IMDS,
    )
    .build()
    .unwrap();

    credential.token(&org()).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let form = form(&requests[0]);
    assert_eq!(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert!(!form.contains_key("client_secret"));
    assert!(credential.steps()[0].finding().contains("AZURE_CLIENT_CERTIFICATE_PATH set"));
}

#[tokio::test]
async fn workload_identity_sends_the_token_file_as_a_jwt_bearer_assertion() {
    let server = token_endpoint().await;
    let file = std::env::temp_dir().join(format!("aad-auth-chain-{}.jwt", std::process::id()));
    std::fs::write(&file, "eyJhbGciOiJSUzI1NiJ9.federated.sig\n").unwrap();
    let credential = chain(
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
            ("AZURE_AUTHORITY_HOST", server.uri()),
        ],
        NO_IMDS,
    )
    .build()
    .unwrap();

    let token = credential.token(&org()).await;
    std::fs::remove_file(&file).unwrap();
    token.unwrap();

    assert_eq!(credential.source(), CredentialSource::WorkloadIdentity);
    let requests = server.received_requests().await.unwrap();
    let form = form(&requests[0]);
    assert_eq!(form["client_assertion"], "eyJhbGciOiJSUzI1NiJ9.federated.sig");
    assert_eq!(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(credential.steps()[0].finding(), "AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH not set");
}

#[tokio::test]
async fn managed_identity_comes_last_and_an_incomplete_environment_is_skipped() {
    let imds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(IMDS_PATH))
        .respond_with(json(fixture("aad/managed-identity-success.json")))
        .expect(2)
        .mount(&imds)
        .await;
    let credential =
        chain(&[("AZURE_CLIENT_SECRET", SECRET.into())], &format!("{}{IMDS_PATH}", imds.uri())).build().unwrap();

    let token = credential.token(&org()).await.unwrap();
    credential.token(&org()).await.unwrap();

    assert!(token.secret().expose_secret().contains("mi-fixture-token"));
    assert_eq!(credential.source(), CredentialSource::ManagedIdentity);
    let findings: Vec<String> = credential.steps().iter().map(ToString::to_string).collect();
    assert_eq!(findings[0], "environment: AZURE_CLIENT_SECRET set, but AZURE_TENANT_ID and AZURE_CLIENT_ID not set");
    assert_eq!(findings[1], "workload identity: AZURE_FEDERATED_TOKEN_FILE not set");
    assert!(findings[2].starts_with("managed identity: "), "{findings:?}");
    let requests = imds.received_requests().await.unwrap();
    assert_eq!(requests[0].headers["metadata"], "true");
}

#[tokio::test]
async fn the_app_service_endpoint_is_used_when_the_environment_names_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .respond_with(json(fixture("aad/managed-identity-success.json")))
        .expect(1)
        .mount(&server)
        .await;
    let credential = chain(
        &[("IDENTITY_ENDPOINT", format!("{}/msi/token", server.uri())), ("IDENTITY_HEADER", "header-secret".into())],
        NO_IMDS,
    )
    .build()
    .unwrap();

    credential.token(&org()).await.unwrap();

    assert_eq!(server.received_requests().await.unwrap()[0].headers["x-identity-header"], "header-secret");
    assert!(!format!("{credential:?}").contains("header-secret"));
}

#[tokio::test]
async fn when_nothing_gives_a_token_the_error_lists_every_step() {
    let credential = chain(&[], NO_IMDS).build().unwrap();

    let error = credential.token(&org()).await.unwrap_err();

    let Error::Chain(chain) = &error else { panic!("expected a chain error, got {error:?}") };
    let sources: Vec<CredentialSource> = chain.steps().iter().map(|s| s.source()).collect();
    assert_eq!(
        sources,
        [CredentialSource::Environment, CredentialSource::WorkloadIdentity, CredentialSource::ManagedIdentity]
    );
    let text = error.to_string();
    assert!(text.contains("environment: AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH not set"), "{text}");
    assert!(text.contains("workload identity: AZURE_FEDERATED_TOKEN_FILE not set"), "{text}");
    assert!(text.contains("managed identity: no answer from the instance metadata service"), "{text}");
    assert!(matches!(chain.last_error(), Error::Transport(_) | Error::Timeout(_)));
    assert!(error.hint().unwrap().contains("AZURE_FEDERATED_TOKEN_FILE"));
}

#[tokio::test]
async fn a_metadata_service_without_an_identity_is_reported_with_its_answer() {
    let imds = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
            "application/json",
        ))
        .mount(&imds)
        .await;
    let credential = chain(&[], &format!("{}{IMDS_PATH}", imds.uri())).build().unwrap();

    let error = credential.token(&org()).await.unwrap_err();

    let Error::Chain(chain) = &error else { panic!("expected a chain error, got {error:?}") };
    assert!(chain.steps()[2].finding().contains("refused"), "{error}");
    assert_eq!(chain.last_error().status(), Some(400));
}

#[test]
fn a_configured_but_broken_step_fails_the_build() {
    let error = chain(
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/app.pem".into()),
        ],
        NO_IMDS,
    )
    .build()
    .unwrap_err();
    assert!(matches!(error, Error::Credential(_)), "{error:?}");
    let error = chain(
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_CLIENT_SECRET", SECRET.into()),
            ("AZURE_AUTHORITY_HOST", "http://login.example.test".into()),
        ],
        NO_IMDS,
    )
    .build()
    .unwrap_err();
    assert!(matches!(&error, Error::Config(c) if c.field() == "authority_host"), "{error:?}");
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn the_chain_sends_token_requests_through_its_proxy() {
    // Nothing listens on 127.0.0.1:9: the request can only succeed through the proxy.
    let proxy = MockServer::start().await;
    Mock::given(method("POST"))
        .and(|request: &Request| request.url.as_str() == format!("http://127.0.0.1:9{V2_PATH}"))
        .respond_with(json(fixture("aad/v2-success.json")))
        .expect(1)
        .mount(&proxy)
        .await;
    let credential = chain(
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_CLIENT_SECRET", SECRET.into()),
            ("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9".into()),
        ],
        NO_IMDS,
    )
    .proxy(proxy.uri())
    .build()
    .unwrap();

    credential.token(&org()).await.unwrap();
}
