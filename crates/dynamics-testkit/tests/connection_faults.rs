//! Connection-level faults: the fault proxy in front of the emulator's org, seen by a plain reqwest client,
//! by raw sockets, and by the real `dynamics-webapi` client.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aad_auth::TokenEndpoint;
use dynamics_testkit::{ConnectionFault, ConnectionFaults, Emulator, FaultProxy, FaultRule, ThrottleKind};
use dynamics_webapi::{Client, RetryPolicy};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ACCOUNTS: &str = "/api/data/v9.2/accounts";

async fn emulator_with(faults: ConnectionFaults) -> Emulator {
    Emulator::builder().without_fixtures().connection_faults(faults).start().await.unwrap()
}

async fn create(http: &reqwest::Client, emulator: &Emulator, bearer: &str, name: &str) -> reqwest::Result<u16> {
    let response = http
        .post(format!("{}accounts", emulator.service_root()))
        .header("authorization", bearer)
        .header("content-type", "application/json")
        .body(json!({ "name": name }).to_string())
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn who_am_i(http: &reqwest::Client, emulator: &Emulator, bearer: &str) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{}WhoAmI", emulator.service_root())).header("authorization", bearer).send().await
}

fn account_names(emulator: &Emulator) -> Vec<String> {
    emulator.records("accounts").iter().map(|record| record["name"].as_str().unwrap().to_owned()).collect()
}

/// A transport error: no answer, no status, not the client's own timeout.
fn assert_transport_error(error: &reqwest::Error) {
    assert!(error.status().is_none() && !error.is_timeout() && !error.is_builder(), "{error:?}");
}

#[tokio::test]
async fn closed_before_read_is_a_transport_error_and_the_record_is_never_written() {
    let emulator = emulator_with(ConnectionFaults::seeded(1).on_request(2, ConnectionFault::ClosedBeforeRead)).await;
    let bearer = support::bearer(&emulator).await;
    let http = reqwest::Client::new();
    assert_eq!(create(&http, &emulator, &bearer, "First").await.unwrap(), 204);
    assert_transport_error(&create(&http, &emulator, &bearer, "Dropped").await.unwrap_err());
    assert_eq!(
        create(&http, &emulator, &bearer, "Third").await.unwrap(),
        204,
        "the next request gets a new connection"
    );

    assert_eq!(account_names(&emulator), ["First", "Third"]);
    assert_eq!(emulator.journal().matching("POST", ACCOUNTS).len(), 2, "the org never saw the dropped request");
    let proxied = emulator.fault_proxy().unwrap().matching("POST", ACCOUNTS);
    assert_eq!(proxied.len(), 3);
    assert_eq!(proxied[1].fault(), Some(ConnectionFault::ClosedBeforeRead));
    assert_eq!(proxied[1].body_json().unwrap()["name"], "Dropped");
    assert_eq!((proxied[1].upstream_status(), proxied[1].status(), proxied[1].is_committed()), (None, None, false));
    assert_eq!((proxied[2].fault(), proxied[2].status()), (None, Some(204)));
}

#[tokio::test]
async fn closed_after_commit_is_a_transport_error_and_the_record_is_written() {
    let emulator = emulator_with(ConnectionFaults::seeded(1).on_request(1, ConnectionFault::ClosedAfterCommit)).await;
    let bearer = support::bearer(&emulator).await;
    let http = reqwest::Client::new();
    assert_transport_error(&create(&http, &emulator, &bearer, "Committed").await.unwrap_err());

    assert_eq!(account_names(&emulator), ["Committed"], "the write is in the store though the client got no answer");
    let seen = emulator.journal().matching("POST", ACCOUNTS);
    assert_eq!((seen.len(), seen[0].status()), (1, 204));
    let proxied = emulator.fault_proxy().unwrap().requests();
    assert_eq!(proxied[0].fault(), Some(ConnectionFault::ClosedAfterCommit));
    assert_eq!((proxied[0].upstream_status(), proxied[0].status(), proxied[0].is_committed()), (Some(204), None, true));
    assert_eq!(emulator.fault_proxy().unwrap().counts().closed_after_commit, 1);
}

#[tokio::test]
async fn the_proxy_answers_503_and_429_itself_with_dataverse_bodies_and_keeps_the_connection() {
    let throttled =
        ConnectionFault::Throttled { retry_after: Duration::from_millis(6500), kind: ThrottleKind::ExecutionTime };
    let faults =
        ConnectionFaults::seeded(1).on_request(1, ConnectionFault::ServiceUnavailable).on_request(2, throttled);
    let emulator = emulator_with(faults).await;
    let bearer = support::bearer(&emulator).await;
    let http = reqwest::Client::new();

    let unavailable = who_am_i(&http, &emulator, &bearer).await.unwrap();
    assert_eq!(unavailable.status(), 503);
    let body: Value = serde_json::from_slice(&unavailable.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "0x80040216");
    assert!(body["error"]["message"].as_str().unwrap().contains("temporarily unavailable"), "{body}");

    let throttled = who_am_i(&http, &emulator, &bearer).await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7", "whole seconds, rounded up");
    let body: Value = serde_json::from_slice(&throttled.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "0x80072321");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Combined execution time"), "{body}");

    let answer = who_am_i(&http, &emulator, &bearer).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(emulator.journal().web_api().len(), 1, "only the third request reached the org");
    let proxied = emulator.fault_proxy().unwrap().requests();
    let statuses: Vec<Option<u16>> = proxied.iter().map(|request| request.status()).collect();
    assert_eq!(statuses, [Some(503), Some(429), Some(200)]);
    assert!(proxied.iter().all(|request| request.connection() == proxied[0].connection()), "one kept-alive connection");
}

#[tokio::test]
async fn a_hung_request_ends_in_the_clients_timeout_and_never_reaches_the_org() {
    let emulator = emulator_with(ConnectionFaults::seeded(1).on_request(1, ConnectionFault::Hang)).await;
    let bearer = support::bearer(&emulator).await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let error = who_am_i(&http, &emulator, &bearer).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(who_am_i(&http, &emulator, &bearer).await.unwrap().status(), 200);
    assert_eq!(emulator.journal().web_api().len(), 1);
    let proxy = emulator.fault_proxy().unwrap();
    assert_eq!(proxy.requests()[0].fault(), Some(ConnectionFault::Hang));
    assert_eq!((proxy.counts().hung, proxy.counts().passed), (1, 1));
}

#[tokio::test]
async fn closing_before_read_resets_and_closing_after_commit_ends_the_stream() {
    let faults = ConnectionFaults::seeded(1)
        .on_request(1, ConnectionFault::ClosedBeforeRead)
        .on_request(2, ConnectionFault::ClosedAfterCommit);
    let emulator = emulator_with(faults).await;
    let address = emulator.fault_proxy().unwrap().address();
    let request = b"GET /api/data/v9.2/WhoAmI HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut answers = Vec::new();
    for _ in 0..2 {
        let mut socket = TcpStream::connect(address).await.unwrap();
        socket.write_all(request).await.unwrap();
        let mut buffer = Vec::new();
        answers.push(socket.read_to_end(&mut buffer).await.map(|_| buffer).map_err(|error| error.kind()));
    }
    assert_eq!(answers[0], Err(std::io::ErrorKind::ConnectionReset));
    assert_eq!(answers[1], Ok(Vec::new()), "a clean end of stream with none of the answer");
}

#[tokio::test]
async fn pass_through_keeps_one_connection_alive_for_many_requests() {
    let emulator = emulator_with(ConnectionFaults::none()).await;
    let bearer = support::bearer(&emulator).await;
    let http = reqwest::Client::new();
    for _ in 0..200 {
        let answer = who_am_i(&http, &emulator, &bearer).await.unwrap();
        assert_eq!(answer.status(), 200);
        let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        assert_eq!(body["UserId"], emulator.user_id().to_string());
    }
    let proxy = emulator.fault_proxy().unwrap();
    assert_eq!((proxy.counts().connections, proxy.counts().passed, proxy.counts().injected()), (1, 200, 0));

    // Pipelined on one raw socket: the answers come back whole and in order.
    let mut socket = TcpStream::connect(proxy.address()).await.unwrap();
    let mut pipelined = Vec::new();
    for name in ["Piped 1", "Piped 2"] {
        let body = json!({ "name": name }).to_string();
        pipelined.extend_from_slice(
            format!(
                "POST {ACCOUNTS} HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    pipelined.extend_from_slice(b"GET /api/data/v9.2/WhoAmI HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    socket.write_all(&pipelined).await.unwrap();
    let mut answers = String::new();
    socket.read_to_string(&mut answers).await.unwrap();
    let status_lines: Vec<&str> = answers.lines().filter(|line| line.starts_with("HTTP/1.1")).collect();
    assert_eq!(status_lines, ["HTTP/1.1 204 No Content", "HTTP/1.1 204 No Content", "HTTP/1.1 401 Unauthorized"]);
    assert_eq!(account_names(&emulator), ["Piped 1", "Piped 2"]);
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults_in_the_same_order() {
    let plan = |seed| {
        ConnectionFaults::seeded(seed)
            .closed_before_read(0.1)
            .closed_after_commit(0.1)
            .service_unavailable(0.1)
            .throttled(0.1, Duration::ZERO, ThrottleKind::RequestCount)
    };
    async fn run(faults: ConnectionFaults) -> Vec<Option<ConnectionFault>> {
        let emulator = emulator_with(faults).await;
        let http = reqwest::Client::new();
        for _ in 0..100 {
            // Unauthenticated: the org answers 401, which is all this needs.
            let _ = http.get(emulator.service_root()).send().await;
        }
        let proxied = emulator.fault_proxy().unwrap().requests();
        assert_eq!(proxied.len(), 100);
        proxied.iter().map(|request| request.fault()).collect()
    }
    let first = run(plan(42)).await;
    assert_eq!(first, run(plan(42)).await);
    assert_ne!(first, run(plan(43)).await);
    let faulted = first.iter().filter(|fault| fault.is_some()).count();
    assert!((20..60).contains(&faulted), "about 40 of 100: {faulted}");
}

#[tokio::test]
async fn a_counting_rule_faults_only_the_nth_matching_request() {
    let rule = FaultRule::nth(ConnectionFault::ClosedAfterCommit, 3).method("POST").path_prefix(ACCOUNTS);
    let emulator = emulator_with(ConnectionFaults::seeded(1).rule(rule)).await;
    let bearer = support::bearer(&emulator).await;
    let http = reqwest::Client::new();
    let mut failed = Vec::new();
    for (step, name) in ["A1", "GET", "contact", "A2", "GET", "A3", "A4"].into_iter().enumerate() {
        let ok = match name {
            "GET" => who_am_i(&http, &emulator, &bearer).await.is_ok(),
            "contact" => http
                .post(format!("{}contacts", emulator.service_root()))
                .header("authorization", &bearer)
                .header("content-type", "application/json")
                .body(r#"{"lastname":"Other"}"#)
                .send()
                .await
                .is_ok(),
            _ => create(&http, &emulator, &bearer, name).await.is_ok(),
        };
        if !ok {
            failed.push(step);
        }
    }
    assert_eq!(failed, [5], "only the third POST to accounts failed");
    assert_eq!(account_names(&emulator), ["A1", "A2", "A3", "A4"], "and it was committed");
}

#[tokio::test]
async fn a_standalone_proxy_wraps_an_existing_emulator_as_the_clients_http_proxy() {
    let emulator = Emulator::start().await;
    let proxy = FaultProxy::start(
        &emulator.org_url(),
        ConnectionFaults::seeded(5).on_request(1, ConnectionFault::ServiceUnavailable),
    )
    .unwrap();
    let tokens = Arc::new(support::provider(&emulator, TokenEndpoint::V2));
    let client = Client::builder(emulator.org_url(), tokens)
        .proxy(proxy.uri())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    assert_eq!(client.who_am_i().await.unwrap_err().status(), Some(503));
    assert_eq!(client.who_am_i().await.unwrap().user_id, emulator.user_id());
    let proxied = proxy.requests();
    let paths: Vec<(&str, Option<u16>)> = proxied.iter().map(|request| (request.path(), request.status())).collect();
    assert_eq!(paths, [("/api/data/v9.2/WhoAmI", Some(503)), ("/api/data/v9.2/WhoAmI", Some(200))]);
    assert_eq!(emulator.journal().web_api()[0].path(), "/api/data/v9.2/WhoAmI", "forwarded in origin form");
    assert!(FaultProxy::start("http://10.1.2.3:80", ConnectionFaults::none()).is_err(), "only loopback upstreams");
}

#[tokio::test]
async fn bad_connection_fault_rates_are_refused_by_the_builder() {
    let error = Emulator::builder()
        .connection_faults(ConnectionFaults::seeded(1).hang(0.7).service_unavailable(0.7))
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("connection_faults"), "{error}");
}

#[tokio::test]
async fn a_client_creating_300_records_through_faults_leaves_exactly_the_committed_requests_in_the_store() {
    let faults = ConnectionFaults::seeded(2024)
        .closed_after_commit(0.03)
        .closed_before_read(0.03)
        .service_unavailable(0.03)
        .throttled(0.03, Duration::ZERO, ThrottleKind::RequestCount);
    let emulator = emulator_with(faults).await;
    let client = support::client(&emulator);
    let accounts = client.entity_set("accounts");
    let mut outcomes = Vec::new();
    for i in 0..300 {
        let name = format!("Faulty {i:03}");
        let outcome = accounts.create(&json!({ "name": name })).send().await;
        outcomes.push((name, outcome));
    }

    let proxy = emulator.fault_proxy().unwrap();
    let posts = proxy.matching("POST", ACCOUNTS);
    let name_of =
        |request: &dynamics_testkit::ProxiedRequest| request.body_json().unwrap()["name"].as_str().unwrap().to_owned();
    let mut committed: BTreeMap<String, usize> = BTreeMap::new();
    for request in posts.iter().filter(|request| request.is_committed()) {
        *committed.entry(name_of(request)).or_default() += 1;
    }
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for name in account_names(&emulator) {
        *stored.entry(name).or_default() += 1;
    }
    assert_eq!(stored, committed, "the store holds exactly the requests the org committed");
    let forwarded = posts.iter().filter(|request| request.fault().is_none_or(|fault| fault.reaches_upstream())).count();
    assert_eq!(
        emulator.journal().matching("POST", ACCOUNTS).len(),
        forwarded,
        "faults answered by the proxy never reach the org"
    );

    for (name, outcome) in &outcomes {
        let last = posts.iter().rev().find(|request| name_of(request) == *name).unwrap();
        match outcome {
            Ok(id) => {
                assert!(emulator.record("accounts", *id).is_some(), "{name} was reported created and is stored");
                assert_eq!(last.fault(), None, "{name}: a success is the answer of a request that passed");
            }
            Err(error) => assert!(last.fault().is_some(), "{name} failed without an injected fault: {error:?}"),
        }
    }
    let counts = proxy.counts();
    let kinds = [counts.closed_after_commit, counts.closed_before_read, counts.service_unavailable, counts.throttled];
    assert!(kinds.iter().all(|&count| count > 0), "every kind of fault was injected: {counts:?}");
    assert_eq!(counts.requests, posts.len() as u64);
    assert!(outcomes.iter().any(|(_, outcome)| outcome.is_err()), "faults surface as errors");
}

#[tokio::test]
async fn faults_can_be_changed_while_the_proxy_runs() {
    let emulator = emulator_with(ConnectionFaults::none()).await;
    let bearer = support::bearer(&emulator).await;
    let http = reqwest::Client::new();
    let proxy = emulator.fault_proxy().unwrap();
    assert_eq!(who_am_i(&http, &emulator, &bearer).await.unwrap().status(), 200);
    proxy.set_faults(ConnectionFaults::seeded(3).on_request(1, ConnectionFault::ServiceUnavailable)).unwrap();
    assert_eq!(who_am_i(&http, &emulator, &bearer).await.unwrap().status(), 503, "counting starts again");
    assert!(proxy.set_faults(ConnectionFaults::seeded(3).closed_before_read(2.0)).is_err());
    proxy.set_faults(ConnectionFaults::none()).unwrap();
    assert_eq!(who_am_i(&http, &emulator, &bearer).await.unwrap().status(), 200);
    assert_eq!(proxy.counts().requests, 3);
    proxy.clear();
    assert!(proxy.requests().is_empty());
    assert_eq!(proxy.counts(), dynamics_testkit::FaultCounts::default());
    assert_eq!(who_am_i(&http, &emulator, &bearer).await.unwrap().status(), 200);
    assert_eq!(proxy.requests()[0].index(), 3, "indexes go on counting after a clear");
}

/// A loopback server that answers `/chunked` in chunks on a kept-alive connection, and anything else with a body
/// that ends when it closes the connection.
async fn framing_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut reader = tokio::io::BufReader::new(socket);
                loop {
                    let mut head = String::new();
                    while !head.ends_with("\r\n\r\n") {
                        if tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut head).await.unwrap_or(0) == 0 {
                            return;
                        }
                    }
                    let socket = reader.get_mut();
                    if head.starts_with("GET /chunked ") {
                        let answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
                        socket.write_all(answer.as_bytes()).await.unwrap();
                    } else {
                        socket
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
                            .await
                            .unwrap();
                        return;
                    }
                }
            });
        }
    });
    uri
}

#[tokio::test]
async fn chunked_answers_keep_the_connection_and_answers_ended_by_a_close_end_it() {
    let proxy = FaultProxy::start(&framing_server().await, ConnectionFaults::none()).unwrap();
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let body = http.get(format!("{}/chunked", proxy.uri())).send().await.unwrap().text().await.unwrap();
        assert_eq!(body, "hello world");
    }
    assert_eq!(proxy.counts().connections, 1, "chunked answers are delimited, so the connection stays");
    for _ in 0..2 {
        let body = http.get(format!("{}/close", proxy.uri())).send().await.unwrap().text().await.unwrap();
        assert_eq!(body, "until the end");
    }
    let connections: Vec<u64> = proxy.requests().iter().map(|request| request.connection()).collect();
    assert_eq!(connections, [0, 0, 0, 0, 1], "an answer ended by a close ends the client's connection too");
    let statuses: Vec<Option<u16>> = proxy.requests().iter().map(|request| request.upstream_status()).collect();
    assert_eq!(statuses, [Some(200); 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_through_faults_leave_the_committed_requests_in_the_store() {
    use futures_util::StreamExt;

    let faults =
        ConnectionFaults::seeded(11).closed_after_commit(0.05).closed_before_read(0.05).service_unavailable(0.05);
    let emulator = emulator_with(faults).await;
    let client = support::client(&emulator);
    let outcomes: Vec<bool> = futures_util::stream::iter(0..200)
        .map(|i| {
            let accounts = client.entity_set("accounts");
            async move { accounts.create(&json!({ "name": format!("Parallel {i:03}") })).send().await.is_ok() }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let proxy = emulator.fault_proxy().unwrap();
    let mut committed: Vec<String> = proxy
        .matching("POST", ACCOUNTS)
        .iter()
        .filter(|request| request.is_committed())
        .map(|request| request.body_json().unwrap()["name"].as_str().unwrap().to_owned())
        .collect();
    let mut stored = account_names(&emulator);
    committed.sort();
    stored.sort();
    assert_eq!(stored, committed);
    assert!(proxy.counts().connections > 1, "requests in flight at once came on several connections");
    let succeeded = outcomes.iter().filter(|ok| **ok).count();
    assert!((150..200).contains(&succeeded), "most succeed, some fail: {succeeded}");
}
