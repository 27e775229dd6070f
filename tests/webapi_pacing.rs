//! Pacing and retries through the public API against wiremock: an isolated 429, sustained throttling, the
//! concurrency code, the in-flight limit and its queueing event, the transient SQL errors, writes whose outcome
//! is unknown, and the counters that report all of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aad_auth::SystemClock;
use aad_auth::test_util::StaticTokenProvider;
use dynamics_webapi::pacer::LimitSource;
use dynamics_webapi::{Client, ClientBuilder, Record, RetryPolicy};
use futures_util::StreamExt;
use serde_json::json;
use support::{CapturedLogs, json_response, webapi_client};
use uuid::Uuid;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn throttled(code: &str, retry_after: &str) -> ResponseTemplate {
    json_response(
        429,
        &json!({"error": {"code": code, "message": "Number of requests exceeded the limit."}}).to_string(),
    )
    .insert_header("retry-after", retry_after)
}

fn ok_record() -> ResponseTemplate {
    json_response(200, r#"{"name":"Contoso"}"#)
}

/// Answers the requests whose arrival number (from 1) `refuse` picks with `refusal`, the rest with `answer`.
struct Numbered<F> {
    received: Arc<AtomicUsize>,
    refuse: F,
    refusal: ResponseTemplate,
    answer: ResponseTemplate,
}

impl<F: Fn(usize) -> bool + Send + Sync + 'static> Respond for Numbered<F> {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let number = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        if (self.refuse)(number) { self.refusal.clone() } else { self.answer.clone() }
    }
}

/// A client on the system clock, as in production.
fn real_time_builder(server: &MockServer) -> ClientBuilder {
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(SystemClock)));
    Client::builder(server.uri(), tokens)
}

/// Reads `count` accounts at once; gives each read's time from the start.
async fn read_at_once(client: &Client, count: usize) -> Vec<Duration> {
    let started = Instant::now();
    let reads = (0..count).map(|_| async {
        client.entity_set("accounts").retrieve::<Record>(Uuid::new_v4()).send().await.unwrap();
        started.elapsed()
    });
    futures_util::future::join_all(reads).await
}

#[tokio::test]
async fn an_isolated_429_costs_only_its_own_request() {
    let server = MockServer::start().await;
    let received = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .respond_with(Numbered {
            received: received.clone(),
            refuse: |n| n == 3,
            refusal: throttled("0x80072322", "1"),
            answer: ok_record().set_delay(Duration::from_millis(30)),
        })
        .mount(&server)
        .await;
    let client = real_time_builder(&server).max_concurrency(8).build().unwrap();

    let mut times = read_at_once(&client, 24).await;

    times.sort();
    assert!(times[22] < Duration::from_millis(800), "the others did not wait for the Retry-After: {times:?}");
    assert!(times[23] >= Duration::from_secs(1), "the refused read waited its own Retry-After: {times:?}");
    let stats = client.stats();
    assert_eq!((stats.throttled.request_count, stats.retries.throttled), (1, 1));
    assert_eq!(stats.requests_sent, 25);
    assert_eq!(stats.pacer.time_paused(), Duration::ZERO);
    assert_eq!(stats.pacer.rate(), None, "one refusal does not slow the client down");
}

/// Sustained throttling: the first eight requests are refused. With or without the budget headers, every request
/// then waits out the pause: no request is sent into it, so there are exactly eight 429s.
#[tokio::test]
async fn sustained_429s_pause_every_request_with_or_without_the_budget_headers() {
    for with_headers in [false, true] {
        let server = MockServer::start().await;
        let received = Arc::new(AtomicUsize::new(0));
        let mut answer = ok_record().set_delay(Duration::from_millis(20));
        let mut refusal = throttled("0x80072321", "1").set_delay(Duration::from_millis(20));
        if with_headers {
            answer = answer
                .insert_header("x-ms-ratelimit-burst-remaining-xrm-requests", "5000")
                .insert_header("x-ms-ratelimit-time-remaining-xrm-requests", "1200000");
            refusal = refusal.insert_header("x-ms-ratelimit-burst-remaining-xrm-requests", "0");
        }
        Mock::given(method("GET"))
            .respond_with(Numbered { received: received.clone(), refuse: |n| n <= 8, refusal, answer })
            .mount(&server)
            .await;
        let client = real_time_builder(&server).max_concurrency(8).build().unwrap();

        let times = read_at_once(&client, 24).await;

        assert!(times.iter().all(|t| *t >= Duration::from_millis(900)), "no read finished inside the pause: {times:?}");
        let stats = client.stats();
        assert_eq!(stats.throttled.execution_time, 8, "headers: {with_headers}");
        assert_eq!(received.load(Ordering::SeqCst), 32, "24 reads and the 8 refused ones again");
        assert!(stats.pacer.time_paused() >= Duration::from_millis(900), "{:?}", stats.pacer);
    }
}

#[tokio::test]
async fn the_concurrency_code_lowers_the_in_flight_limit_instead_of_pausing() {
    let server = MockServer::start().await;
    let received = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .respond_with(Numbered {
            received: received.clone(),
            refuse: |n| n == 8,
            refusal: throttled("0x80072326", "0"),
            answer: ok_record().set_delay(Duration::from_millis(200)),
        })
        .mount(&server)
        .await;
    let client = real_time_builder(&server).max_concurrency(8).build().unwrap();

    let reading = tokio::spawn({
        let client = client.clone();
        async move { read_at_once(&client, 8).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let during = client.stats().pacer;
    let times = reading.await.unwrap();

    assert_eq!((during.in_flight_limit(), during.limit_source()), (7, LimitSource::ConcurrencyRefusals));
    assert_eq!(during.paused_until(), None);
    assert!(times.iter().all(|t| *t < Duration::from_millis(900)), "nobody paused: {times:?}");
    assert_eq!(client.stats().throttled.concurrent_requests, 1);
}

#[tokio::test]
async fn queueing_behind_the_in_flight_limit_is_reported_once_with_the_limit_and_its_source() {
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok_record().set_delay(Duration::from_millis(20))).mount(&server).await;
    let client = real_time_builder(&server).build().unwrap();

    read_at_once(&client, 12).await;
    read_at_once(&client, 12).await;

    let logs = captured.text();
    let reported = logs.matches("requests are queueing behind the in-flight limit of 4 set by the default").count();
    assert_eq!(reported, 1, "{logs}");
    assert!(logs.contains("max_concurrency"), "the event says how to raise the limit: {logs}");
}

/// The transient server errors of Microsoft's .NET ServiceClient: retried for requests safe to repeat.
#[tokio::test]
async fn transient_sql_errors_are_retried_for_reads_and_other_server_errors_are_not() {
    let cases = [
        ("0x80044150", "Generic SQL error. Transaction (Process ID 57) was deadlocked on lock resources.", true),
        ("0x80044150", "Sql error: Generic SQL error. Timeout expired.", true),
        ("0x80044150", "Sql error: Generic SQL error. Violation of UNIQUE KEY constraint.", false),
        ("0x80044151", "Sql error: SQL timeout expired.", true),
        ("0x80131501", "SQL Server deadlock detected.", true),
        ("0x80131501", "An unexpected error occurred.", false),
        ("0x80040216", "An unexpected error occurred.", false),
    ];
    for (code, message, retried) in cases {
        let server = MockServer::start().await;
        let received = Arc::new(AtomicUsize::new(0));
        let refusal = json_response(500, &json!({"error": {"code": code, "message": message}}).to_string());
        Mock::given(method("GET"))
            .respond_with(Numbered { received: received.clone(), refuse: |n| n == 1, refusal, answer: ok_record() })
            .mount(&server)
            .await;
        let (client, _, _) = webapi_client(&server);

        let result = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await;

        assert_eq!(result.is_ok(), retried, "{code}: {message}");
        assert_eq!(received.load(Ordering::SeqCst), if retried { 2 } else { 1 }, "{code}");
        assert_eq!(client.stats().retries.transient_server_error, u64::from(retried), "{code}");
    }
}

#[tokio::test]
async fn a_deadlocked_plain_create_is_not_sent_again() {
    let server = MockServer::start().await;
    let refusal = json_response(
        500,
        &json!({"error": {"code": "0x80044150", "message": "Transaction was deadlocked on lock resources."}})
            .to_string(),
    );
    Mock::given(method("POST")).respond_with(refusal).mount(&server).await;
    let (client, _, _) = webapi_client(&server);

    let error = client.entity_set("accounts").create(&json!({"name": "x"})).send().await.unwrap_err();

    assert_eq!(error.service_code(), Some("0x80044150"));
    assert!(!error.is_outcome_unknown(), "a deadlock victim is rolled back");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_create_whose_answer_never_came_is_reported_as_maybe_written() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ok_record().set_delay(Duration::from_secs(5))).mount(&server).await;
    let client = real_time_builder(&server)
        .timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    let create = client.entity_set("accounts").create(&json!({"name": "x"})).send().await.unwrap_err();
    let read = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

    assert!(create.is_timeout() && create.is_outcome_unknown(), "{create}");
    assert!(create.to_string().contains("may or may not have been carried out"), "{create}");
    assert!(read.is_timeout() && !read.is_outcome_unknown(), "a read has no outcome to doubt");
}

/// A keyed create whose first answer was lost and whose repeats were refused with 429 may exist: it is not
/// reported as "not written".
#[tokio::test]
async fn a_lost_answer_then_429s_is_still_an_unknown_outcome() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(throttled("0x80072322", "0")).mount(&server).await;
    let client = real_time_builder(&server)
        .timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy::default().max_attempts(3).initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap();

    let error = client
        .entity_set("accounts")
        .create(&json!({"name": "x"}))
        .with_id_column("accountid", Uuid::new_v4())
        .send()
        .await
        .unwrap_err();

    assert!(error.is_throttled(), "{error}");
    assert!(error.is_outcome_unknown(), "the first attempt may have written it: {error}");
    let stats = client.stats();
    assert_eq!((stats.retries.no_answer, stats.retries.throttled, stats.requests_sent), (1, 1, 3));
}

#[tokio::test]
async fn a_connection_that_could_not_be_opened_is_retried_even_for_a_plain_create() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(SystemClock)));
    let client = Client::builder(format!("http://127.0.0.1:{port}"), tokens)
        .retry_policy(RetryPolicy::default().max_attempts(3).initial_backoff(Duration::from_millis(5)))
        .build()
        .unwrap();

    let error = client.entity_set("accounts").create(&json!({"name": "x"})).send().await.unwrap_err();

    assert!(!error.is_outcome_unknown(), "nothing was sent: {error}");
    assert!(error.to_string().contains("was not sent"), "{error}");
    assert_eq!(client.stats().retries.no_answer, 2, "sent again: nothing had reached the server");
}

/// Several web servers behind one URL, each with its own budget (requests spread round robin, as without an
/// affinity cookie), on the testkit's TLS loopback server: every create is written once, and no request is
/// sent into a throttle the client already knew of (at most the requests in flight are refused per throttle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_web_servers_with_their_own_budgets_are_paced_without_losing_a_write() {
    use dynamics_testkit::loopback::LoopbackServer;
    use dynamics_testkit::service_protection::{Budget, ServiceProtection, Spread};

    const CREATES: usize = 300;
    const IN_FLIGHT: usize = 8;
    let budget = Budget::unlimited().requests(40, Duration::from_secs(1)).latency(Duration::from_millis(10));
    let server = LoopbackServer::builder()
        .tls(true)
        .protection(ServiceProtection::web_servers(3, budget, Spread::RoundRobin))
        .start()
        .unwrap();
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(SystemClock)));
    let client = Client::builder(server.url(), tokens)
        .add_root_certificate(server.ca_certificate_pem())
        .max_concurrency(IN_FLIGHT)
        .retry_policy(RetryPolicy::default().max_attempts(30))
        .build()
        .unwrap();
    let accounts = client.entity_set("accounts");

    let results: Vec<_> = futures_util::stream::iter(0..CREATES)
        .map(|n| {
            let create = accounts.create(&json!({ "name": format!("account {n}"), "n": n }));
            async move { create.send().await }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;

    assert!(results.iter().all(Result::is_ok), "{:?}", results.iter().find(|r| r.is_err()));
    let counters = server.protection();
    assert!(counters.servers().iter().all(|s| s.served >= 90), "requests spread over all three: {counters:?}");
    assert_eq!(counters.total().served as usize, CREATES, "nothing written twice, nothing lost");
    let total = counters.total();
    assert!(total.refused() > 0, "the budgets were reached");
    assert!(
        total.max_refusals_per_throttle() <= IN_FLIGHT as u64,
        "no request was sent into a throttle the client knew of: {total:?}"
    );
    let stats = client.stats();
    assert_eq!(stats.throttled.request_count, total.refused(), "{stats:?}");
    eprintln!(
        "3 web servers: {} refused in {} throttles (at most {} in one), paused {:?}, rate {:?}",
        total.refused(),
        total.throttles.len(),
        total.max_refusals_per_throttle(),
        stats.pacer.time_paused(),
        stats.pacer.rate()
    );
}
