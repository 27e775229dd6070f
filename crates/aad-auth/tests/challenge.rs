//! Discovering an org's tenant and sign-in host from its `WWW-Authenticate` challenge, against wiremock.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use aad_auth::{AuthorityHost, Challenge, Error};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

async fn org_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path("/api/data/v9.2/")).respond_with(template).expect(1).mount(&server).await;
    server
}

fn challenge_error(error: Error) -> aad_auth::ChallengeError {
    match error {
        Error::Challenge(challenge) => challenge,
        other => panic!("expected a challenge error, got {other:?}"),
    }
}

#[tokio::test]
async fn discovers_tenant_authority_and_resource_from_the_401() {
    let header = format!(
        r#"Bearer authorization_uri="https://login.microsoftonline.com/{TENANT}/oauth2/authorize", resource_id="https://contoso.crm.dynamics.com/""#
    );
    let server = org_answering(ResponseTemplate::new(401).insert_header("WWW-Authenticate", header.as_str())).await;

    let challenge = Challenge::discover(&server.uri()).await.unwrap();

    assert_eq!(challenge.tenant().as_str(), TENANT);
    assert_eq!(challenge.authority_host(), &AuthorityHost::AzurePublic);
    assert_eq!(challenge.resource().unwrap().as_str(), "https://contoso.crm.dynamics.com/");
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none(), "discovery sends no credential");
}

#[tokio::test]
async fn reads_the_bearer_challenge_among_several_headers() {
    let bearer = format!("Bearer authorization_uri=http://127.0.0.1:4000/{TENANT}/oauth2/authorize");
    let server = org_answering(
        ResponseTemplate::new(401)
            .append_header("WWW-Authenticate", "Negotiate")
            .append_header("WWW-Authenticate", bearer.as_str()),
    )
    .await;

    let challenge = Challenge::discover(&format!("{}/main.aspx", server.uri())).await.unwrap();

    assert_eq!(challenge.authority_host().url().as_str(), "http://127.0.0.1:4000/");
}

#[tokio::test]
async fn a_redirect_or_a_missing_challenge_is_reported_with_the_status() {
    let server =
        org_answering(ResponseTemplate::new(302).insert_header("Location", "https://elsewhere.example/")).await;
    let error = challenge_error(Challenge::discover(&server.uri()).await.unwrap_err());
    assert_eq!(error.status(), Some(302));
    assert!(error.what().contains("https://elsewhere.example/"), "{error}");

    let server = org_answering(ResponseTemplate::new(200)).await;
    let error = challenge_error(Challenge::discover(&server.uri()).await.unwrap_err());
    assert_eq!(error.status(), Some(200));

    let server = org_answering(ResponseTemplate::new(401)).await;
    let error = challenge_error(Challenge::discover(&server.uri()).await.unwrap_err());
    assert!(error.to_string().contains("no WWW-Authenticate"), "{error}");
    assert!(error.url().unwrap().ends_with("/api/data/v9.2/"));

    let server =
        org_answering(ResponseTemplate::new(401).insert_header("WWW-Authenticate", "Bearer realm=\"x\"")).await;
    let error = challenge_error(Challenge::discover(&server.uri()).await.unwrap_err());
    assert!(error.what().contains("authorization_uri"), "{error}");
}

#[tokio::test]
async fn an_unreachable_org_is_a_challenge_error_with_its_cause() {
    let error = challenge_error(Challenge::discover("http://127.0.0.1:9").await.unwrap_err());
    assert_eq!(error.status(), None);
    assert!(std::error::Error::source(&error).is_some());
}

#[tokio::test]
async fn plain_http_orgs_other_than_loopback_are_refused_before_sending() {
    let error = Challenge::discover("http://contoso.crm.dynamics.com").await.unwrap_err();
    assert!(matches!(&error, Error::Config(c) if c.field() == "org_url"), "{error:?}");
}
