//! The loopback server over TLS and plain HTTP: ALPN negotiating HTTP/2 or HTTP/1.1 with a reqwest client that trusts
//! the test CA, the Dataverse shapes through the real `dynamics-webapi` client, and the service protection model
//! refusing with Dataverse's codes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::sync::Arc;
use std::time::Duration;

use aad_auth::test_util::StaticTokenProvider;
use dynamics_testkit::loopback::LoopbackServer;
use dynamics_testkit::service_protection::{Budget, IsolatedRefusals, ServiceProtection, Spread};
use dynamics_webapi::Client;
use dynamics_webapi::batch::{BatchRequest, Operation};
use dynamics_webapi::query::Query;
use futures_util::TryStreamExt;
use serde_json::{Value, json};

fn tls_server() -> LoopbackServer {
    LoopbackServer::builder().tls(true).start().expect("a server")
}

fn reqwest_client(server: &LoopbackServer, http1_only: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_certificate_pem().as_bytes()).expect("the CA");
    let builder = reqwest::Client::builder().add_root_certificate(ca);
    let builder = if http1_only { builder.http1_only() } else { builder };
    builder.build().expect("a client")
}

fn webapi_client(server: &LoopbackServer) -> Client {
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(aad_auth::SystemClock)));
    Client::builder(server.url(), tokens)
        .add_root_certificate(server.ca_certificate_pem())
        .http_version(dynamics_webapi::HttpVersion::Negotiate)
        .retry_policy(dynamics_webapi::RetryPolicy::none())
        .build()
        .expect("a client")
}

async fn who_am_i(http: &reqwest::Client, server: &LoopbackServer) -> reqwest::Response {
    http.get(format!("{}/api/data/v9.2/WhoAmI", server.url())).bearer_auth("any").send().await.expect("an answer")
}

#[tokio::test]
async fn alpn_negotiates_http2_over_tls() {
    let server = tls_server();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let http = reqwest_client(&server, false);
    for _ in 0..3 {
        let response = who_am_i(&http, &server).await;
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert!(body["UserId"].is_string());
    }
    let versions = server.http_versions();
    assert_eq!((versions.alpn_h2(), versions.http2_connections(), versions.http1_connections()), (1, 1, 0));
    assert!(versions.to_string().starts_with("HTTP/2 on 1 connection, HTTP/1.1 on 0 (TLS, ALPN h2 1"), "{versions}");
}

#[tokio::test]
async fn an_http1_only_client_gets_http1_over_tls() {
    let server = tls_server();
    let response = who_am_i(&reqwest_client(&server, true), &server).await;
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 200);
    let versions = server.http_versions();
    assert_eq!((versions.alpn_http1(), versions.http1_connections(), versions.http2_connections()), (1, 1, 0));
}

#[tokio::test]
async fn a_server_offering_only_http1_makes_the_client_fall_back() {
    let server = LoopbackServer::builder().tls(true).alpn(true, false).start().unwrap();
    let response = who_am_i(&reqwest_client(&server, false), &server).await;
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(server.http_versions().alpn_http1(), 1);
}

#[tokio::test]
async fn plain_http_serves_http1_and_prior_knowledge_http2() {
    let server = LoopbackServer::start().unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let http1 = reqwest::Client::new();
    assert_eq!(who_am_i(&http1, &server).await.version(), reqwest::Version::HTTP_11);
    let http2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    assert_eq!(who_am_i(&http2, &server).await.version(), reqwest::Version::HTTP_2);
    let versions = server.http_versions();
    assert_eq!((versions.http1_connections(), versions.http2_connections()), (1, 1));
}

#[tokio::test]
async fn requests_without_a_bearer_token_are_unauthorized() {
    let server = tls_server();
    let http = reqwest_client(&server, false);
    let response = http.get(format!("{}/api/data/v9.2/WhoAmI", server.url())).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_webapi_client_creates_reads_and_batches_over_tls() {
    let server = LoopbackServer::builder().tls(true).rows(12_345).key_column("n").start().unwrap();
    let client = webapi_client(&server);

    let me = client.who_am_i().await.expect("WhoAmI");
    assert!(!me.user_id.is_nil());

    let id = client.entity_set("accounts").create(&json!({"name": "a", "n": 1})).send().await.expect("a create");
    assert!(!id.is_nil());

    let rows: Vec<serde_json::Map<String, Value>> =
        (2..=301).map(|n| json!({"name": "b", "n": n})).map(|v| v.as_object().unwrap().clone()).collect();
    let report = client.bulk_untyped("accounts", "account").create(&rows).send().await.expect("a report");
    assert!(report.is_complete());
    assert_eq!(report.ids().count(), 300);

    let operations = (302..=311).map(|n| Operation::post("accounts", &json!({"name": "c", "n": n})));
    let batch = BatchRequest::builder().operations(operations).build().unwrap();
    let answer = client.batch(&batch).await.expect("a batch");
    assert_eq!(answer.outcomes().iter().filter(|outcome| outcome.is_success()).count(), 10);

    let writes = server.writes();
    assert_eq!((writes.distinct(), writes.total(), writes.duplicated()), (311, 311, 0));
    assert_eq!(writes.count("7"), 1);

    let query = Query::untyped("accounts").select(["accountid", "name"]).max_page_size(1000);
    let read: Vec<Value> = client.query::<Value, _>(&query).records().try_collect().await.expect("the rows");
    assert_eq!(read.len(), 12_345);
    assert_eq!(read[12_344]["name"], "Row 0012344");
    assert_eq!(server.http_versions().http2_connections(), 1);
}

#[tokio::test]
async fn create_multiple_over_the_target_limit_is_refused_as_too_large() {
    let server = LoopbackServer::builder().tls(true).max_targets(10).start().unwrap();
    let http = reqwest_client(&server, false);
    let targets: Vec<Value> = (0..11).map(|n| json!({"n": n})).collect();
    let response = http
        .post(format!("{}/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.CreateMultiple", server.url()))
        .bearer_auth("any")
        .header("Content-Type", "application/json")
        .body(json!({ "Targets": targets }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "0x80040216");
    assert_eq!(server.protection().total().served, 0, "refused before it reached the budget");
}

#[tokio::test]
async fn the_budget_refuses_with_retry_after_and_reports_what_is_left() {
    let budget = Budget::unlimited().requests(2, Duration::from_secs(60)).penalty(Duration::from_secs(1));
    let server = LoopbackServer::builder().tls(true).protection(ServiceProtection::new(budget)).start().unwrap();
    let http = reqwest_client(&server, false);
    let first = who_am_i(&http, &server).await;
    assert_eq!(first.headers()["x-ms-ratelimit-burst-remaining-xrm-requests"], "1");
    assert_eq!(who_am_i(&http, &server).await.status(), 200);
    let refused = who_am_i(&http, &server).await;
    assert_eq!(refused.status(), 429);
    let retry_after: f64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((59.0..=60.0).contains(&retry_after), "{retry_after}");
    let body: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "0x80072322");
    // Sent while throttled: refused again, and the pause grows by the penalty.
    let again = who_am_i(&http, &server).await;
    let waited: f64 = again.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(waited > retry_after, "{waited} after {retry_after}");
    let total = server.protection().total();
    assert_eq!((total.served, total.refused_request_count, total.refused_while_throttled), (2, 1, 1));
    assert_eq!(total.max_refusals_per_throttle(), 2);
}

#[tokio::test]
async fn several_clients_share_several_web_servers() {
    let budget = Budget::unlimited()
        .latency(Duration::from_millis(5))
        .isolated_refusals(IsolatedRefusals::every(10, Duration::from_millis(1)));
    let protection = ServiceProtection::web_servers(3, budget, Spread::RoundRobin);
    let server = LoopbackServer::builder().tls(true).protection(protection).start().unwrap();
    let clients: Vec<reqwest::Client> = (0..4).map(|_| reqwest_client(&server, false)).collect();
    let tasks = clients.iter().map(|http| async {
        let mut refused = 0;
        for _ in 0..15 {
            if who_am_i(http, &server).await.status() == 429 {
                refused += 1;
            }
        }
        refused
    });
    let refused: u32 = futures_util::future::join_all(tasks).await.into_iter().sum();
    let counters = server.protection();
    assert_eq!(counters.servers().len(), 3);
    assert!(counters.servers().iter().all(|server| server.served + server.refused_isolated == 20));
    assert_eq!(u64::from(refused), counters.total().refused_isolated);
    assert_eq!(counters.total().refused_isolated, 6);
    assert_eq!(server.http_versions().http2_connections(), 4);
}
