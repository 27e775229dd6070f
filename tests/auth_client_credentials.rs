//! The client-credentials grant with a secret, against wiremock: form bodies, responses, errors, retries.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aad_auth::test_util::ManualClock;
use aad_auth::{
    ClientCredential, ClientCredentialsProvider, Clock, Error, ExposeSecret, Resource, RetryPolicy, SecretString,
    TokenEndpoint, TokenProvider,
};
use support::{fail_unmatched, fixture, form_pairs, json_response, realdata};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "abc8Q~fixture-secret-value";
const ORG: &str = "https://contoso.crm.dynamics.com";

fn provider(
    server: &MockServer,
    endpoint: TokenEndpoint,
    clock: &ManualClock,
    retry: RetryPolicy,
) -> ClientCredentialsProvider {
    ClientCredentialsProvider::builder(TENANT, CLIENT_ID, ClientCredential::secret(SecretString::from(SECRET)))
        .authority_url(&server.uri())
        .endpoint(endpoint)
        .clock(Arc::new(clock.clone()))
        .retry_policy(retry)
        .build()
        .unwrap()
}

fn org() -> Resource {
    Resource::new(ORG).unwrap()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const V1_PATH: &str = "/contoso.onmicrosoft.com/oauth2/token";
const V2_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";

#[tokio::test]
async fn v1_sends_exactly_the_resource_form_and_reads_string_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(V1_PATH))
        .respond_with(json_response(200, &fixture("aad/v1-success.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let clock = ManualClock::starting_now();

    let token = provider(&server, TokenEndpoint::V1, &clock, RetryPolicy::none()).token(&org()).await.unwrap();

    assert_eq!(token.secret().expose_secret(), "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.v1-fixture-token.sig");
    assert_eq!(token.expires_on(), clock.now() + Duration::from_secs(3599));
    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(
        form_pairs(request),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("resource", ORG)
        ])
    );
    assert_eq!(request.headers["content-type"], "application/x-www-form-urlencoded");
    assert!(request.headers.get("authorization").is_none(), "the secret goes in the body, not in HTTP Basic");
}

#[tokio::test]
async fn v2_sends_exactly_the_default_scope_form_and_reads_numeric_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(V2_PATH))
        .respond_with(json_response(200, &fixture("aad/v2-success.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let clock = ManualClock::starting_now();

    let token = provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::none()).token(&org()).await.unwrap();

    assert_eq!(token.expires_on(), clock.now() + Duration::from_secs(3599));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        form_pairs(&requests[0]),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", "https://contoso.crm.dynamics.com/.default"),
        ])
    );
}

#[tokio::test]
async fn reads_the_real_v1_and_v2_bodies_azure_ad_sent() {
    for (endpoint, route, body, lifetime) in [
        (TokenEndpoint::V1, V1_PATH, realdata("aad/v1-client-creds-success.json"), 3599),
        (TokenEndpoint::V2, V2_PATH, realdata("aad/v2-client-creds-success.json"), 3599),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path(route)).respond_with(json_response(200, &body)).mount(&server).await;
        let clock = ManualClock::starting_now();
        let token = provider(&server, endpoint, &clock, RetryPolicy::none()).token(&org()).await.unwrap();
        assert_eq!(token.expires_on(), clock.now() + Duration::from_secs(lifetime));
        assert!(token.secret().expose_secret().starts_with("eyJ0eXAiO"));
    }
}

#[tokio::test]
async fn keeps_every_field_of_a_real_azure_ad_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(400, &realdata("aad/v1-token-error-invalid_grant.json")))
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();

    let error = provider(&server, TokenEndpoint::V1, &clock, RetryPolicy::default()).token(&org()).await.unwrap_err();

    let service = error.service_error().expect("a service error");
    assert_eq!(service.status(), 400);
    assert_eq!(service.error(), "invalid_grant");
    assert_eq!(service.codes(), [70002, 70008]);
    assert_eq!(service.trace_id(), Some("3939d04c-d7ba-42bf-9cb7-1e5854cdce9e"));
    assert_eq!(service.correlation_id(), Some("a8125194-2dc8-4078-90ba-7b6592a7f231"));
    assert_eq!(service.timestamp(), Some("2016-04-11 18:00:12Z"));
    assert!(!error.is_retryable());
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "a 400 is not retried");
    // No hint is known for 70002, so the server's own first line is kept.
    assert_eq!(
        error.to_string(),
        "token endpoint answered 400 invalid_grant (AADSTS70002): AADSTS70002: Error validating credentials. \
         AADSTS70008: The provided authorization code or refresh token is expired. Send a new interactive \
         authorization request for this user and resource."
    );
}

#[tokio::test]
async fn each_common_aadsts_code_gets_its_hint() {
    let statuses: serde_json::Value = serde_json::from_str(&fixture("aad/errors/statuses.json")).unwrap();
    for (code, status) in statuses.as_object().unwrap() {
        let code: u32 = code.parse().unwrap();
        let status = status.as_u64().unwrap() as u16;
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(json_response(status, &fixture(&format!("aad/errors/{code}.json"))))
            .mount(&server)
            .await;
        let clock = ManualClock::starting_now();

        let error = provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::none()).token(&org()).await.unwrap_err();

        assert_eq!(error.aadsts_code(), Some(code));
        assert_eq!(error.status(), Some(status));
        assert_eq!(error.hint(), aad_auth::aadsts_hint(code), "{code}");
        let text = error.to_string();
        match aad_auth::aadsts_hint(code) {
            Some(hint) => assert!(text.ends_with(hint), "{code}: {text}"),
            None => assert!(text.contains(&format!("AADSTS{code}: ")), "unknown codes keep the server's text: {text}"),
        }
    }
    // The two cases the issue singles out read as they should.
    let secret_id = aad_auth::aadsts_hint(7000215).unwrap();
    assert!(secret_id.contains("Value") && secret_id.contains("Secret ID"));
    assert!(aad_auth::aadsts_hint(700024).unwrap().contains("clock"));
}

#[tokio::test]
async fn retries_after_503_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(json_response(200, &fixture("aad/v2-success.json"))).mount(&server).await;
    let clock = ManualClock::starting_now();
    let retry = RetryPolicy::default().jitter(false).initial_backoff(Duration::from_millis(500));

    let token = provider(&server, TokenEndpoint::V2, &clock, retry).token(&org()).await.unwrap();

    assert!(token.secret().expose_secret().contains("v2-fixture-token"));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(clock.sleeps(), [Duration::from_millis(500)]);
}

#[tokio::test]
async fn retries_after_429_using_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            json_response(
                429,
                r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: loop detected"}"#,
            )
            .insert_header("retry-after", "7"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(json_response(200, &fixture("aad/v2-success.json"))).mount(&server).await;
    let clock = ManualClock::starting_now();

    provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::default()).token(&org()).await.unwrap();

    assert_eq!(clock.sleeps(), [Duration::from_secs(7)], "the wait is the server's, not the back-off's");
}

#[tokio::test]
async fn gives_up_when_retry_after_passes_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(429, r#"{"error":"temporarily_unavailable"}"#).insert_header("retry-after", "120"))
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();
    let retry = RetryPolicy::default().max_elapsed(Duration::from_secs(60));

    let error = provider(&server, TokenEndpoint::V2, &clock, retry).token(&org()).await.unwrap_err();

    assert!(error.is_throttled());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn bounded_attempts_end_with_the_last_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(3).mount(&server).await;
    let clock = ManualClock::starting_now();
    let retry = RetryPolicy::default().max_attempts(3);

    let error = provider(&server, TokenEndpoint::V2, &clock, retry).token(&org()).await.unwrap_err();

    assert_eq!(error.status(), Some(500));
    assert_eq!(clock.sleeps().len(), 2);
}

#[tokio::test]
async fn never_retries_invalid_client() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(401, &fixture("aad/errors/7000215.json")))
        .expect(1)
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();

    let error = provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::default()).token(&org()).await.unwrap_err();

    assert!(!error.is_retryable());
    assert!(clock.sleeps().is_empty());
    assert_eq!(error.service_error().unwrap().error(), "invalid_client");
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    // Bind and drop a listener so the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let clock = ManualClock::starting_now();
    let provider =
        ClientCredentialsProvider::builder(TENANT, CLIENT_ID, ClientCredential::secret(SecretString::from(SECRET)))
            .authority_url(&format!("http://127.0.0.1:{port}"))
            .clock(Arc::new(clock.clone()))
            .retry_policy(RetryPolicy::default().max_attempts(2).jitter(false))
            .build()
            .unwrap();

    let error = provider.token(&org()).await.unwrap_err();

    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(clock.sleeps().len(), 1, "one retry, then the budget of two attempts is spent");
}

#[tokio::test]
async fn a_slow_endpoint_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &fixture("aad/v2-success.json")).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let provider =
        ClientCredentialsProvider::builder(TENANT, CLIENT_ID, ClientCredential::secret(SecretString::from(SECRET)))
            .authority_url(&server.uri())
            .timeout(Duration::from_millis(100))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();

    let error = provider.token(&org()).await.unwrap_err();

    assert!(error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn malformed_or_incomplete_success_bodies_are_decode_errors_without_the_body() {
    let cases = [
        (r#"{"access_token":"leaky-token","token_type":"Bearer","expires_in":"#, "truncated JSON"),
        (r#"{"access_token":"leaky-token","token_type":"Bearer"}"#, "neither expires_in nor expires_on"),
        (r#"{"access_token":"leaky-token","token_type":"Bearer","expires_in":"soon"}"#, "expires_in"),
        (r#"{"access_token":"leaky-token","token_type":"pop","expires_in":60}"#, "not Bearer"),
    ];
    for (body, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(json_response(200, body)).mount(&server).await;
        let clock = ManualClock::starting_now();

        let error =
            provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::default()).token(&org()).await.unwrap_err();

        assert!(matches!(error, Error::Decode(_)), "{body}: {error:?}");
        let text = format!("{error} {error:?}");
        assert!(text.contains(expected), "{body}: {text}");
        assert!(!text.contains("leaky-token"), "{text}");
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn an_error_page_that_is_not_json_keeps_status_and_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway from proxy"))
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();

    let error = provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::none()).token(&org()).await.unwrap_err();

    assert_eq!(error.status(), Some(502));
    assert!(error.is_retryable());
    assert_eq!(error.to_string(), "token endpoint answered 502: Bad Gateway from proxy");
}

#[tokio::test]
async fn one_provider_serves_several_resources() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(json_response(200, &fixture("aad/v2-success.json"))).mount(&server).await;
    let clock = ManualClock::starting_now();
    let provider = provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::none());

    provider.token(&org()).await.unwrap();
    provider.token(&Resource::new("https://graph.microsoft.com").unwrap()).await.unwrap();

    let scopes: Vec<String> =
        server.received_requests().await.unwrap().iter().map(|r| support::form_value(r, "scope").unwrap()).collect();
    assert_eq!(scopes, ["https://contoso.crm.dynamics.com/.default", "https://graph.microsoft.com/.default"]);
}

#[tokio::test]
async fn expiry_falls_back_to_expires_on() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, r#"{"access_token":"a","token_type":"Bearer","expires_on":"1767225599"}"#))
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();

    let token = provider(&server, TokenEndpoint::V1, &clock, RetryPolicy::none()).token(&org()).await.unwrap();

    assert_eq!(token.expires_on(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_599));
}

#[tokio::test]
async fn an_expiry_beyond_the_clock_is_a_decode_error_not_a_panic() {
    let cases = [
        r#"{"access_token":"leaky-token","token_type":"Bearer","expires_in":18446744073709551615}"#,
        r#"{"access_token":"leaky-token","token_type":"Bearer","expires_on":"18446744073709551615"}"#,
        r#"{"access_token":"leaky-token","token_type":"Bearer","expires_in":3599,"refresh_in":18446744073709551615}"#,
    ];
    for body in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(json_response(200, body)).mount(&server).await;
        let clock = ManualClock::starting_now();

        let error = provider(&server, TokenEndpoint::V2, &clock, RetryPolicy::none()).token(&org()).await.unwrap_err();

        assert!(matches!(error, Error::Decode(_)), "{body}: {error:?}");
        let text = format!("{error} {error:?}");
        assert!(text.contains("out of range"), "{body}: {text}");
        assert!(!text.contains("leaky-token"), "{text}");
    }
}
