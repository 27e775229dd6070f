//! The emulated Azure AD through the real `aad-auth` provider: v1 and v2 tokens, and the real error bodies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::time::{Duration, SystemTime};

use aad_auth::{ExposeSecret, Resource, TokenEndpoint, TokenProvider};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dynamics_testkit::{Emulator, Server};
use serde_json::Value;
use support::{provider, provider_with_secret};

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

#[tokio::test]
async fn v1_and_v2_endpoints_issue_jwt_shaped_tokens_for_the_org() {
    let emulator = Emulator::start().await;
    let resource = Resource::new(emulator.org_url()).unwrap();
    for endpoint in [TokenEndpoint::V1, TokenEndpoint::V2] {
        let token = provider(&emulator, endpoint).token(&resource).await.unwrap();
        let secret = token.secret().expose_secret().to_owned();
        assert_eq!(secret.split('.').count(), 3, "header.payload.signature");
        let claims = claims(&secret);
        assert_eq!(claims["aud"], emulator.org_url());
        assert_eq!(claims["appid"], emulator.client_id());
        assert_eq!(claims["tid"], emulator.tenant_id());
        assert_eq!(claims["iss"], format!("https://sts.windows.net/{}/", emulator.tenant_id()));
        assert!(claims["oid"].is_string());
        let (iat, nbf, exp) =
            (claims["iat"].as_i64().unwrap(), claims["nbf"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
        assert!(iat <= nbf && exp - iat == 3599, "{claims}");
        let remaining = token.expires_on().duration_since(SystemTime::now()).unwrap();
        assert!(remaining > Duration::from_secs(3500) && remaining <= Duration::from_secs(3600));
        assert!(claims.get("roles").is_none(), "no roles unless configured");
    }
    let tokens = emulator.journal().entries();
    assert_eq!(tokens.len(), 2);
    let v1 = &tokens[0];
    assert_eq!(
        (v1.server(), v1.method(), v1.path()),
        (Server::Authority, "POST", format!("/{}/oauth2/token", emulator.tenant_id()).as_str())
    );
    assert!(v1.body_text().contains("client_secret=%3Credacted%3E"), "{}", v1.body_text());
    assert!(!v1.body_text().contains(emulator.client_secret()));
    assert!(tokens[1].body_text().contains("scope="), "v2 sends a scope");
    assert_eq!(emulator.counters().tokens_issued, 2);
}

#[tokio::test]
async fn success_bodies_have_the_types_azure_ad_sends() {
    let emulator = Emulator::builder().roles(["Dataverse.Access"]).start().await.unwrap();
    let http = reqwest::Client::new();
    let form = |resource_field: (&'static str, String)| {
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", emulator.client_id().to_owned()),
            ("client_secret", emulator.client_secret().to_owned()),
            (resource_field.0, resource_field.1),
        ]
    };
    let base = format!("{}/{}/oauth2", emulator.authority_host(), emulator.tenant_id());
    let v1 =
        json(http.post(format!("{base}/token")).form(&form(("resource", emulator.org_url()))).send().await.unwrap())
            .await;
    assert!(v1["expires_in"].is_string() && v1["expires_on"].is_string() && v1["ext_expires_in"].is_string(), "{v1}");
    assert_eq!(v1["resource"], emulator.org_url());
    assert_eq!(v1["token_type"], "Bearer");
    let request =
        http.post(format!("{base}/v2.0/token")).form(&form(("scope", format!("{}/.default", emulator.org_url()))));
    let v2 = json(request.send().await.unwrap()).await;
    assert!(v2["expires_in"].is_number() && v2.get("expires_on").is_none(), "{v2}");
    assert_eq!(claims(v2["access_token"].as_str().unwrap())["roles"][0], "Dataverse.Access");
}

/// Asks for a token and returns the AADSTS code and the status as `aad-auth` parsed them.
async fn failure(
    emulator: &Emulator,
    provider: aad_auth::ClientCredentialsProvider,
    resource: &str,
) -> (u32, u16, String) {
    let _ = emulator;
    let error = provider.token(&Resource::new(resource).unwrap()).await.unwrap_err();
    let service = error.service_error().unwrap_or_else(|| panic!("a service error, got {error:?}"));
    assert!(service.trace_id().is_some() && service.correlation_id().is_some() && service.timestamp().is_some());
    (error.aadsts_code().unwrap(), service.status(), service.description().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn wrong_secret_is_aadsts7000215_as_aad_auth_parses_it() {
    let emulator = Emulator::start().await;
    let wrong = provider_with_secret(&emulator, TokenEndpoint::V2, "Tk8Q~not-the-right-one");
    let (code, status, description) = failure(&emulator, wrong, &emulator.org_url()).await;
    assert_eq!((code, status), (7000215, 401));
    assert!(description.starts_with("AADSTS7000215: Invalid client secret provided."), "{description}");
    assert!(description.contains("Trace ID: ") && description.contains("Correlation ID: "));
}

#[tokio::test]
async fn unknown_app_unknown_tenant_and_wrong_resource_get_their_aadsts_codes() {
    let emulator = Emulator::start().await;
    let secret = aad_auth::ClientCredential::secret(aad_auth::SecretString::from(emulator.client_secret().to_owned()));
    let other_app = aad_auth::ClientCredentialsProvider::builder(
        emulator.tenant_id(),
        "0e0e0e0e-1111-4222-8333-444444444444",
        secret.clone(),
    )
    .authority_url(&emulator.authority_host())
    .build()
    .unwrap();
    assert_eq!(failure(&emulator, other_app, &emulator.org_url()).await.0, 700016);

    let other_tenant =
        aad_auth::ClientCredentialsProvider::builder("fabrikam.onmicrosoft.com", emulator.client_id(), secret)
            .authority_url(&emulator.authority_host())
            .endpoint(TokenEndpoint::V1)
            .build()
            .unwrap();
    let (code, status, description) = failure(&emulator, other_tenant, &emulator.org_url()).await;
    assert_eq!((code, status), (90002, 400));
    assert!(description.contains("Tenant 'fabrikam.onmicrosoft.com' not found"), "{description}");

    for endpoint in [TokenEndpoint::V1, TokenEndpoint::V2] {
        let (code, _, description) =
            failure(&emulator, provider(&emulator, endpoint), "https://contoso.crm.dynamics.com").await;
        assert_eq!(code, 500011, "{endpoint:?}");
        assert!(description.contains("The resource principal named https://contoso.crm.dynamics.com was not found"));
    }
}

#[tokio::test]
async fn malformed_scopes_get_1002012_and_70011() {
    let emulator = Emulator::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/{}/oauth2/v2.0/token", emulator.authority_host(), emulator.tenant_id());
    for (scope, expected) in
        [(emulator.org_url(), 1002012), (format!("{0}/.default {0}/user_impersonation", emulator.org_url()), 70011)]
    {
        let response = http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", emulator.client_id()),
                ("client_secret", emulator.client_secret()),
                ("scope", scope.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body = json(response).await;
        assert_eq!(body["error"], "invalid_scope");
        assert_eq!(body["error_codes"][0], expected);
        for field in ["error_description", "timestamp", "trace_id", "correlation_id"] {
            assert!(body[field].is_string(), "{field} in {body}");
        }
    }
}

#[tokio::test]
async fn the_correlation_id_echoes_client_request_id() {
    let emulator = Emulator::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/{}/oauth2/token", emulator.authority_host(), emulator.tenant_id()))
        .header("client-request-id", "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", emulator.client_id()),
            ("client_secret", "wrong"),
            ("resource", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body = json(response).await;
    assert_eq!(body["correlation_id"], "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f");
}

#[tokio::test]
async fn client_secret_basic_is_accepted_too() {
    let emulator = Emulator::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/{}/oauth2/v2.0/token", emulator.authority_host(), emulator.tenant_id()))
        .basic_auth(emulator.client_id(), Some(emulator.client_secret()))
        .form(&[("grant_type", "client_credentials"), ("scope", format!("{}/.default", emulator.org_url()).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(json(response).await["access_token"].is_string());
    let entry = emulator.journal().entries().pop().unwrap();
    assert_eq!(entry.header("authorization"), Some("Basic <redacted>"));
}

/// The JSON type of a value, for comparing shapes.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of the real body is in ours, with the same JSON type.
fn assert_same_shape(real: &Value, ours: &Value, what: &str) {
    for (field, value) in real.as_object().unwrap() {
        let mine = ours.get(field).unwrap_or_else(|| panic!("{what}: `{field}` is missing from {ours}"));
        assert_eq!(kind(mine), kind(value), "{what}: `{field}` has another type");
    }
}

#[tokio::test]
async fn token_bodies_have_the_fields_and_types_of_real_azure_ad_bodies() {
    let emulator = Emulator::start().await;
    let http = reqwest::Client::new();
    let base = format!("{}/{}/oauth2", emulator.authority_host(), emulator.tenant_id());
    let form = |extra: (&'static str, String), secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", emulator.client_id().to_owned()),
            ("client_secret", secret.to_owned()),
            extra,
        ]
    };
    let real_v1: Value = serde_json::from_str(&support::realdata("aad/v1-client-creds-success.json")).unwrap();
    let v1 = json(
        http.post(format!("{base}/token"))
            .form(&form(("resource", emulator.org_url()), emulator.client_secret()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_same_shape(&real_v1, &v1, "v1 success");

    let real_v2: Value = serde_json::from_str(&support::realdata("aad/v2-client-creds-success.json")).unwrap();
    let scope = format!("{}/.default", emulator.org_url());
    let v2 = json(
        http.post(format!("{base}/v2.0/token"))
            .form(&form(("scope", scope.clone()), emulator.client_secret()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_same_shape(&real_v2, &v2, "v2 success");

    let real_error: Value =
        serde_json::from_str(&support::realdata("aad/v2-client-creds-error-invalid_scope.json")).unwrap();
    let error =
        json(http.post(format!("{base}/v2.0/token")).form(&form(("scope", scope), "wrong")).send().await.unwrap())
            .await;
    assert_same_shape(&real_error, &error, "v2 error");
    // The description ends like Azure AD's: trace id, correlation id and time on their own lines.
    let description = error["error_description"].as_str().unwrap();
    let real_description = real_error["error_description"].as_str().unwrap();
    let tail = |text: &str| {
        text.split("\r\n").skip(1).map(|line| line.split(':').next().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(tail(description), tail(real_description));
    assert!(description.contains(error["trace_id"].as_str().unwrap()));
    let timestamp = error["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), "2016-01-09 02:02:12Z".len(), "{timestamp}");
}
