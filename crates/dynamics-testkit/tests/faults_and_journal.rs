//! Faults injected at run time, the org setup failures, the authentication challenge, and the journal,
//! seen through the real `aad-auth` provider and `dynamics-webapi` client.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aad_auth::{ClientCredentialsProviderBuilder, ExposeSecret, Resource, TokenEndpoint, TokenProvider};
use dynamics_testkit::{Emulator, Server, SetupState, ThrottleKind};
use dynamics_webapi::query::Query;
use dynamics_webapi::{Client, RetryPolicy, ServiceProtectionLimit};
use serde_json::{Value, json};
use support::{client, provider};

async fn read_accounts(client: &Client) -> dynamics_webapi::Result<usize> {
    Ok(client.query::<Value, _>(&Query::untyped("accounts")).first_page().await?.records().len())
}

#[tokio::test]
async fn an_unauthenticated_request_gets_the_bearer_challenge_naming_tenant_and_resource() {
    let emulator = Emulator::start().await;
    let response = reqwest::Client::new().get(emulator.service_root()).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        format!(
            "Bearer authorization_uri={}/{}/oauth2/authorize, resource_id={}/",
            emulator.authority_host(),
            emulator.tenant_id(),
            emulator.org_url()
        )
    );
    assert_eq!(emulator.counters().unauthorized, 1);

    let forged = reqwest::Client::new().get(emulator.service_root()).bearer_auth("eyJ0.eyJ0.sig").send().await.unwrap();
    assert_eq!(forged.status(), 401);
    assert!(forged.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer error=\"invalid_token\""));
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_by_the_org() {
    let emulator = Emulator::builder().extra_resource("https://graph.microsoft.com").start().await.unwrap();
    let graph = Resource::new("https://graph.microsoft.com").unwrap();
    let token = provider(&emulator, TokenEndpoint::V2).token(&graph).await.unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}WhoAmI", emulator.service_root()))
        .bearer_auth(token.secret().expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("audience"));
}

#[tokio::test]
async fn env_configures_the_real_provider_and_client() {
    let emulator = Emulator::start().await;
    let vars: HashMap<String, String> = emulator.env().into_iter().collect();
    let tokens =
        ClientCredentialsProviderBuilder::from_lookup(|name| vars.get(name).cloned()).unwrap().build().unwrap();
    let client = Client::builder(vars["DATAVERSE_URL"].clone(), Arc::new(tokens)).build().unwrap();
    assert_eq!(client.who_am_i().await.unwrap().user_id, emulator.user_id());
    assert!(!format!("{emulator:?}").contains(emulator.client_secret()), "Debug never shows the secret");
    let builder = Emulator::builder().client_secret("builder-secret-value");
    let debug = format!("{builder:?}");
    assert!(!debug.contains("builder-secret-value") && debug.contains("client_secret"), "{debug}");
}

#[tokio::test]
async fn throttling_is_recovered_by_the_clients_retries() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    emulator.faults().throttle_every(2, Duration::ZERO);
    for _ in 0..4 {
        assert_eq!(read_accounts(&client).await.unwrap(), 5);
    }
    let throttled: Vec<_> = emulator.journal().web_api().into_iter().filter(|entry| entry.status() == 429).collect();
    assert_eq!(throttled.len() as u64, emulator.counters().throttled);
    assert!(throttled.len() >= 3, "every second request was throttled: {}", throttled.len());
}

/// A client that does not retry (a fresh one per check: a 429 pauses the client that got it).
fn no_retry_client(emulator: &Emulator) -> Client {
    let tokens = Arc::new(provider(emulator, TokenEndpoint::V2));
    Client::builder(emulator.org_url(), tokens).retry_policy(RetryPolicy::none()).build().unwrap()
}

#[tokio::test]
async fn a_throttled_answer_carries_retry_after_and_the_service_protection_code() {
    let emulator = Emulator::start().await;
    emulator.faults().throttle_next(1, Duration::from_secs(7));
    let error = read_accounts(&no_retry_client(&emulator)).await.unwrap_err();
    assert!(error.is_throttled(), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(error.service_code(), Some("0x80072322"));
    assert_eq!(error.throttle_limit(), Some(ServiceProtectionLimit::RequestCount));
    assert_eq!(read_accounts(&no_retry_client(&emulator)).await.unwrap(), 5, "throttle_next wears off");

    for (kind, code) in [(ThrottleKind::ExecutionTime, "0x80072321"), (ThrottleKind::ConcurrentRequests, "0x80072326")]
    {
        emulator.faults().throttle_every_with(1, Duration::ZERO, kind);
        assert_eq!(read_accounts(&no_retry_client(&emulator)).await.unwrap_err().service_code(), Some(code));
    }
    emulator.faults().clear();
    assert_eq!(read_accounts(&no_retry_client(&emulator)).await.unwrap(), 5);
    let throttled = emulator.journal().web_api().into_iter().filter(|entry| entry.status() == 429).count();
    assert_eq!(throttled, 3);
}

#[tokio::test]
async fn transient_503s_are_retried_for_reads_but_never_for_a_create() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    emulator.faults().unavailable_next(2);
    assert_eq!(read_accounts(&client).await.unwrap(), 5);
    assert_eq!(emulator.counters().unavailable, 2);

    emulator.faults().unavailable_next(1);
    let error = client.entity_set("accounts").create(&json!({"name": "Maybe"})).send().await.unwrap_err();
    assert_eq!(error.status(), Some(503), "a plain create is not repeated after a 503: {error:?}");
    assert!(!emulator.records("accounts").iter().any(|a| a["name"] == "Maybe"));

    emulator.faults().unavailable_every(3);
    for _ in 0..3 {
        assert_eq!(read_accounts(&client).await.unwrap(), 5);
    }
    assert_eq!(emulator.counters().unavailable, 4);
}

#[tokio::test]
async fn a_401_once_makes_the_client_get_a_new_token() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    read_accounts(&client).await.unwrap();
    assert_eq!(emulator.counters().tokens_issued, 1);
    emulator.faults().unauthorized_once();
    assert_eq!(read_accounts(&client).await.unwrap(), 5);
    assert_eq!(emulator.counters().tokens_issued, 2, "the cached token was invalidated and replaced");
    let statuses: Vec<(Server, u16)> = emulator.journal().entries().iter().map(|e| (e.server(), e.status())).collect();
    assert_eq!(
        statuses,
        [
            (Server::Authority, 200),
            (Server::Org, 200),
            (Server::Org, 401),
            (Server::Authority, 200),
            (Server::Org, 200)
        ]
    );
}

#[tokio::test]
async fn latency_delays_answers() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    read_accounts(&client).await.unwrap();
    emulator.faults().latency(Duration::from_millis(150));
    let started = Instant::now();
    read_accounts(&client).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn an_unknown_application_user_is_0x80072560_with_the_hint() {
    let emulator = Emulator::builder().setup(SetupState::UnknownApplicationUser).start().await.unwrap();
    let error = client(&emulator).who_am_i().await.unwrap_err();
    assert_eq!((error.status(), error.service_code()), (Some(403), Some("0x80072560")));
    assert_eq!(error.service_error().unwrap().message(), "The user is not a member of the organization.");
    assert!(error.hint().unwrap().contains("Application users"), "{:?}", error.hint());
}

#[tokio::test]
async fn a_disabled_application_user_is_refused_as_disabled() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    client.who_am_i().await.unwrap();
    emulator.faults().setup(SetupState::DisabledUser);
    let error = client.who_am_i().await.unwrap_err();
    assert_eq!((error.status(), error.service_code()), (Some(403), Some("0x80040225")));
    let message = error.service_error().unwrap().message().to_owned();
    assert!(
        message.contains(&format!("SystemUserId={}", emulator.user_id())) && message.contains("is disabled"),
        "{message}"
    );
    assert!(error.hint().unwrap().contains("disabled"));
    emulator.faults().setup(SetupState::Ready);
    client.who_am_i().await.unwrap();
}

#[tokio::test]
async fn a_user_without_a_role_passes_who_am_i_and_lacks_the_table_privileges() {
    let emulator = Emulator::builder().setup(SetupState::NoSecurityRole).start().await.unwrap();
    let client = client(&emulator);
    client.who_am_i().await.unwrap();
    let error = read_accounts(&client).await.unwrap_err();
    assert_eq!((error.status(), error.service_code()), (Some(403), Some("0x80040220")));
    let message = error.service_error().unwrap().message().to_owned();
    assert!(message.contains("is missing prvReadAccount privilege") && message.contains("roleCount=0"), "{message}");
    assert!(error.hint().unwrap().contains("no security role"), "{:?}", error.hint());
    let create = client.entity_set("contacts").create(&json!({"lastname": "x"})).send().await.unwrap_err();
    assert!(create.service_error().unwrap().message().contains("prvCreateContact"));
}

#[tokio::test]
async fn the_journal_records_every_request_in_order_without_secrets() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    let query = Query::untyped("accounts").select("name").top(2);
    client.query::<Value, _>(&query).first_page().await.unwrap();
    client.entity_set("contacts").create(&json!({"lastname": "Journal"})).send().await.unwrap();
    let entries = emulator.journal().entries();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].server(), Server::Authority);
    assert!(!entries[0].body_text().contains(emulator.client_secret()));
    assert_eq!((entries[1].method(), entries[1].path()), ("GET", "/api/data/v9.2/accounts"));
    assert_eq!(entries[1].query_param("$top").as_deref(), Some("2"));
    assert_eq!(entries[1].query_param("$select").as_deref(), Some("name"));
    assert_eq!(entries[2].body_json().unwrap(), json!({"lastname": "Journal"}));
    for entry in &entries {
        for (name, value) in entry.headers() {
            assert!(!value.contains("eyJ"), "{name} leaks a token");
        }
    }
    assert_eq!(emulator.journal().web_api().len(), 2);
    let counters = emulator.journal().counters();
    assert_eq!((counters.requests, counters.token_requests, counters.web_api_requests, counters.created), (3, 1, 2, 1));
    emulator.journal().clear();
    assert!(emulator.journal().is_empty());
    assert_eq!(emulator.counters().requests, 0);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let emulator = Emulator::builder().token_lifetime(Duration::ZERO).start().await.unwrap();
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/{}/oauth2/token", emulator.authority_host(), emulator.tenant_id()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", emulator.client_id()),
            ("client_secret", emulator.client_secret()),
            ("resource", emulator.org_url().as_str()),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["expires_in"], "0");
    let answer = http
        .get(format!("{}WhoAmI()", emulator.service_root()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(answer.headers()["www-authenticate"].to_str().unwrap().contains("expired"));
}
