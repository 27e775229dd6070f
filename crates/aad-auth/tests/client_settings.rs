//! How the client-credentials provider authenticates and connects, against wiremock:
//! `client_secret_basic`, a proxy, extra root certificates and the HTTP version.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::path::Path;

use aad_auth::{
    ClientAuthentication, ClientCredential, ClientCredentialsProvider, ClientCredentialsProviderBuilder, Error,
    ExposeSecret, HttpVersion, Resource, RetryPolicy, SecretString, TokenProvider,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";
const V2_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.v2-fixture-token.sig";

fn fixture_bytes(name: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name);
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", full.display()))
}

fn success() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture_bytes("aad/v2-success.json"), "application/json")
}

async fn fail_unmatched(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(|request: &Request| {
            ResponseTemplate::new(599).set_body_string(format!("unmatched request: {} {}", request.method, request.url))
        })
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

fn builder(authority: &str, client_id: &str, secret: &str) -> ClientCredentialsProviderBuilder {
    ClientCredentialsProvider::builder(TENANT, client_id, ClientCredential::secret(SecretString::from(secret)))
        .authority_url(authority)
        .retry_policy(RetryPolicy::none())
}

fn org() -> Resource {
    Resource::new("https://contoso.crm.dynamics.com").unwrap()
}

fn config_field(error: &Error) -> &'static str {
    match error {
        Error::Config(config) => config.field(),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn basic_authentication_form_encodes_id_and_secret_before_base64() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(V2_PATH)).respond_with(success()).expect(1).mount(&server).await;
    fail_unmatched(&server).await;
    let provider = builder(&server.uri(), "my+app/=%~:id", "s3+cr/t=%~: x")
        .client_authentication(ClientAuthentication::Basic)
        .build()
        .unwrap();

    let token = provider.token(&org()).await.unwrap();

    assert_eq!(token.secret().expose_secret(), TOKEN);
    let requests = server.received_requests().await.unwrap();
    // base64("my%2Bapp%2F%3D%25%7E%3Aid:s3%2Bcr%2Ft%3D%25%7E%3A+x"): every byte but [A-Za-z0-9*-._] escaped, space as +.
    assert_eq!(
        requests[0].headers["authorization"],
        "Basic bXklMkJhcHAlMkYlM0QlMjUlN0UlM0FpZDpzMyUyQmNyJTJGdCUzRCUyNSU3RSUzQSt4"
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&requests[0].body).into_owned().collect();
    assert_eq!(
        form,
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("scope".to_owned(), "https://contoso.crm.dynamics.com/.default".to_owned())
        ],
        "with HTTP Basic neither the id nor the secret is in the body"
    );
}

#[tokio::test]
async fn request_body_authentication_stays_the_default() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(V2_PATH)).respond_with(success()).expect(1).mount(&server).await;
    fail_unmatched(&server).await;
    let provider = builder(&server.uri(), "my-app", "s3cret").build().unwrap();

    provider.token(&org()).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&requests[0].body).into_owned().collect();
    assert!(form.contains(&("client_secret".to_owned(), "s3cret".to_owned())));
}

#[test]
fn basic_authentication_needs_a_secret() {
    let certificate = aad_auth::ClientCertificate::from_pem(&fixture_bytes("aad/certificates/app.pem")).unwrap();
    let error = ClientCredentialsProvider::builder(
        TENANT,
        "11111111-2222-3333-4444-555555555555",
        ClientCredential::certificate(certificate),
    )
    .client_authentication(ClientAuthentication::Basic)
    .build()
    .unwrap_err();
    assert_eq!(config_field(&error), "client_authentication");
}

#[test]
fn azure_hosts_still_want_a_guid_client_id() {
    let error = ClientCredentialsProvider::builder(TENANT, "my-app", ClientCredential::secret("x1~y".into()))
        .build()
        .unwrap_err();
    assert_eq!(config_field(&error), "client_id");
    let error = builder("http://127.0.0.1:9", "my app", "x").build().unwrap_err();
    assert_eq!(config_field(&error), "client_id");
}

#[tokio::test]
async fn the_proxy_receives_the_token_request_in_absolute_form() {
    // Nothing listens on 127.0.0.1:9: the request can only succeed through the proxy.
    let proxy = MockServer::start().await;
    Mock::given(method("POST"))
        .and(|request: &Request| request.url.as_str() == format!("http://127.0.0.1:9{V2_PATH}"))
        .respond_with(success())
        .expect(1)
        .mount(&proxy)
        .await;
    fail_unmatched(&proxy).await;
    let provider = builder("http://127.0.0.1:9", "my-app", "s3cret").proxy(proxy.uri()).build().unwrap();

    let token = provider.token(&org()).await.unwrap();

    assert_eq!(token.secret().expose_secret(), TOKEN);
}

#[test]
fn a_malformed_proxy_is_a_configuration_error_without_its_password() {
    for bad in ["proxy.contoso.com:3128", "socks9://user:pw-s3cret@proxy", "http://"] {
        let error = builder("http://127.0.0.1:9", "my-app", "s3cret").proxy(bad).build().unwrap_err();
        assert_eq!(config_field(&error), "proxy", "{bad}");
        assert!(!error.to_string().contains("pw-s3cret"), "{error}");
    }
}

#[test]
fn root_certificates_are_read_as_pem_or_der_and_bad_ones_refused() {
    let pem = fixture_bytes("aad/certificates/ca.crt");
    builder("http://127.0.0.1:9", "my-app", "s3cret").add_root_certificate(pem.clone()).build().unwrap();
    let text = String::from_utf8(pem.clone()).unwrap();
    let body: String = text.lines().filter(|line| !line.starts_with("-----")).collect();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
    builder("http://127.0.0.1:9", "my-app", "s3cret").add_root_certificate(der).build().unwrap();

    let mut truncated = pem.clone();
    truncated.truncate(pem.len() / 2);
    truncated.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
    for bad in [b"not a certificate".to_vec(), Vec::new(), truncated, vec![0x30, 0x03, 0x02, 0x01, 0x00]] {
        let error = builder("http://127.0.0.1:9", "my-app", "s3cret").add_root_certificate(bad).build().unwrap_err();
        assert_eq!(config_field(&error), "root_certificate");
    }
}

#[tokio::test]
async fn http1_and_http2_both_reach_the_endpoint() {
    for version in [HttpVersion::Http1, HttpVersion::Http2] {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path(V2_PATH)).respond_with(success()).expect(1).mount(&server).await;
        let provider = builder(&server.uri(), "my-app", "s3cret").http_version(version).build().unwrap();
        provider.token(&org()).await.unwrap_or_else(|e| panic!("{version:?}: {e}"));
    }
}

#[tokio::test]
async fn the_user_agent_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(V2_PATH)).respond_with(success()).expect(1).mount(&server).await;
    let provider = builder(&server.uri(), "my-app", "s3cret").user_agent("contoso-sync/2.1").build().unwrap();

    provider.token(&org()).await.unwrap();

    assert_eq!(server.received_requests().await.unwrap()[0].headers["user-agent"], "contoso-sync/2.1");
}
