//! Resilience and errors: throttling with a shared pause, retries that never duplicate writes,
//! timeouts, unreadable answers, rate-limit reporting, and no token in any log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dynamics_webapi::{Client, Error, Record, RetryPolicy, ServiceProtectionLimit};
use serde_json::json;
use support::{API, CapturedLogs, http_messages, json_response, webapi_builder, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn throttled(code: &str, retry_after: u64) -> ResponseTemplate {
    json_response(
        429,
        &json!({"error": {"code": code, "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds."}})
            .to_string(),
    )
    .insert_header("retry-after", retry_after.to_string().as_str())
}

fn ok_record() -> ResponseTemplate {
    json_response(200, r#"{"name":"Contoso"}"#)
}

#[tokio::test]
async fn retries_after_429_using_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(throttled("0x80072322", 7)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("GET")).respond_with(ok_record()).mount(&server).await;
    let (client, clock, _) = webapi_client(&server);

    let record: Record = client.entity_set("accounts").retrieve(Uuid::nil()).send().await.unwrap();

    assert_eq!(record.string("name").unwrap().as_deref(), Some("Contoso"));
    assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// With nothing else in flight to tell an isolated refusal from sustained throttling, the next request goes as a
/// probe: answered, it shows the refusal was isolated and nobody else waits; refused, every request waits.
#[tokio::test]
async fn after_a_lone_429_the_next_request_probes_and_waits_only_if_the_server_still_refuses() {
    for still_refusing in [false, true] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("{API}/accounts({})", Uuid::nil())))
            .respond_with(throttled("0x80072322", 11))
            .mount(&server)
            .await;
        let who = json_response(
            200,
            &json!({"BusinessUnitId": Uuid::nil(), "UserId": Uuid::nil(), "OrganizationId": Uuid::nil()}).to_string(),
        );
        let probe_answer = if still_refusing { throttled("0x80072322", 13) } else { who.clone() };
        Mock::given(method("GET"))
            .and(path(format!("{API}/WhoAmI")))
            .respond_with(probe_answer)
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET")).and(path(format!("{API}/WhoAmI"))).respond_with(who).mount(&server).await;
        let (builder, clock, _) = webapi_builder(&server);
        let client = builder.retry_policy(RetryPolicy::none()).build().unwrap();

        let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();
        assert!(error.is_throttled());
        assert_eq!(error.throttle_limit(), Some(ServiceProtectionLimit::RequestCount));
        assert!(clock.sleeps().is_empty(), "the throttled request gave up without waiting");

        let probe = client.who_am_i().await;
        assert_eq!(probe.is_err(), still_refusing);
        assert!(clock.sleeps().is_empty(), "the probe went at once");
        client.who_am_i().await.unwrap();
        let expected: &[Duration] = if still_refusing { &[Duration::from_secs(13)] } else { &[] };
        assert_eq!(clock.sleeps(), expected, "still refusing: {still_refusing}");
    }
}

#[tokio::test]
async fn tells_the_three_service_protection_limits_apart() {
    for (code, limit) in [
        ("0x80072322", ServiceProtectionLimit::RequestCount),
        ("0x80072321", ServiceProtectionLimit::ExecutionTime),
        ("0x80072326", ServiceProtectionLimit::ConcurrentRequests),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(throttled(code, 1)).mount(&server).await;
        let (builder, _, _) = webapi_builder(&server);
        let client = builder.retry_policy(RetryPolicy::default().max_attempts(3)).build().unwrap();

        let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

        assert!(error.is_throttled(), "retries ran out: {error}");
        assert_eq!(error.throttle_limit(), Some(limit));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_is_not_waited_for() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(throttled("0x80072321", 900)).mount(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder.retry_policy(RetryPolicy::default().max_elapsed(Duration::from_secs(60))).build().unwrap();

    let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

    assert!(error.is_throttled());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn reads_are_retried_after_503_and_plain_creates_are_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("GET")).respond_with(ok_record()).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let (client, clock, _) = webapi_client(&server);

    client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();
    assert_eq!(clock.sleeps().len(), 1);

    let error = client.entity_set("accounts").create(&json!({"name": "x"})).send().await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    let posts = server.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 1, "a create without its own key is never repeated after a 503");
}

#[tokio::test]
async fn a_429_on_a_create_is_retried_because_nothing_ran() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(throttled("0x80072322", 2)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("OData-EntityId", format!("{}{API}/accounts({})", server.uri(), Uuid::max())),
        )
        .mount(&server)
        .await;
    let (client, clock, _) = webapi_client(&server);

    let id = client.entity_set("accounts").create(&json!({"name": "x"})).send().await.unwrap();

    assert_eq!(id, Uuid::max());
    assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_a_read_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok_record().set_delay(Duration::from_secs(5))).mount(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder
        .timeout(Duration::from_millis(100))
        .retry_policy(RetryPolicy::default().max_attempts(2))
        .build()
        .unwrap();

    let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_and_truncated_bodies_are_decode_errors() {
    for body in [r#"{"name": "Contoso""#, r#"{"name": }"#, "", "<html>oops</html>"] {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(json_response(200, body)).mount(&server).await;
        let (client, _, _) = webapi_client(&server);

        let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

        assert!(matches!(error, Error::Decode(_)), "{body}: {error:?}");
    }
}

#[tokio::test]
async fn an_error_with_annotations_keeps_them_and_the_published_invalid_one_is_a_decode_error() {
    let server = MockServer::start().await;
    let published = http_messages("msdocs/crud/error-with-annotations.http");
    let invalid_body = &published[1].body;
    let valid_body = invalid_body.replace("\\r\\n\"\n", "\\r\\n\",\n");
    Mock::given(method("POST")).respond_with(json_response(400, invalid_body)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("POST"))
        .respond_with(
            json_response(400, &valid_body)
                .insert_header("x-ms-service-request-id", "5d0f3b1e-1111-2222-3333-444455556666"),
        )
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);
    let accounts = client.entity_set("accounts");

    let invalid = accounts.create(&json!({"name": "Example Account"})).send().await.unwrap_err();
    assert!(matches!(invalid, Error::Decode(_)), "the body is invalid JSON as published: {invalid:?}");

    let valid = accounts.create(&json!({"name": "Example Account"})).send().await.unwrap_err();
    let service = valid.service_error().expect("a service error");
    assert_eq!(service.code(), "0x80040265");
    assert_eq!(service.message(), "Example Error Message.");
    assert_eq!(service.details()["@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode"], "12345");
    assert!(service.details()["@Microsoft.PowerApps.CDS.TraceText"].contains("Entering MyClass plug-in."));
    assert_eq!(valid.request_id(), Some("5d0f3b1e-1111-2222-3333-444455556666"));
}

#[tokio::test]
async fn reports_the_rate_limit_budget_and_follows_the_recommended_parallelism() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ok_record()
                .insert_header("x-ms-ratelimit-burst-remaining-xrm-requests", "5999")
                .insert_header("x-ms-ratelimit-time-remaining-xrm-requests", "1199000")
                .insert_header("x-ms-dop-hint", "8"),
        )
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);
    assert_eq!(client.rate_limits().concurrency_limit, 4);

    client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();

    let limits = client.rate_limits();
    assert_eq!(limits.burst_remaining, Some(5999));
    assert_eq!(limits.time_remaining, Some(1_199_000));
    assert_eq!(limits.recommended_parallelism, Some(8));
    assert_eq!(limits.concurrency_limit, 8);
    let (fixed, _, _) = webapi_builder(&server);
    let fixed = fixed.max_concurrency(2).build().unwrap();
    fixed.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();
    assert_eq!(fixed.rate_limits().concurrency_limit, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_never_exceed_the_limit() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok_record().set_delay(Duration::from_millis(300))).mount(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder.max_concurrency(2).build().unwrap();

    let started = Instant::now();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    // Six 300 ms answers, two at a time, cannot take less than three rounds.
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
}

#[test]
fn a_bearer_token_is_never_sent_over_plain_http_except_to_loopback() {
    let tokens = Arc::new(aad_auth::test_util::StaticTokenProvider::new(
        Duration::from_secs(60),
        Arc::new(aad_auth::SystemClock),
    ));
    let error = Client::builder("http://contoso.crm.dynamics.com", tokens.clone()).build().unwrap_err();
    assert!(error.to_string().contains("plain http"), "{error}");
    let error = Client::builder("https://contoso.crm.dynamics.com/api/data/v9.2", tokens.clone()).build().unwrap_err();
    assert!(error.to_string().contains("drop /api/data"), "{error}");
    assert!(Client::builder("http://127.0.0.1:8080", tokens).build().is_ok());
}

#[tokio::test]
async fn spans_carry_the_request_and_never_the_token() {
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_record().insert_header("x-ms-service-request-id", "req-42"))
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);

    client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();
    let debug = format!("{client:?}");

    let logs = captured.text();
    assert!(logs.contains("dynamics_webapi.request"), "{logs}");
    assert!(logs.contains("entity_set=\"accounts\"") || logs.contains("entity_set=accounts"), "{logs}");
    assert!(logs.contains("req-42") && logs.contains("http.response.status_code=200"), "{logs}");
    assert!(logs.contains("dynamics_webapi.attempt") && logs.contains("http.request.method=GET"), "{logs}");
    assert!(logs.contains("server.address=\"127.0.0.1\"") || logs.contains("server.address=127.0.0.1"), "{logs}");
    assert!(!logs.contains("http.request.resend_count"), "a first attempt is no resend: {logs}");
    assert!(!logs.contains("token-1") && !debug.contains("token-1"), "{logs}\n{debug}");
}

#[tokio::test]
async fn a_401_invalidates_the_cached_token_and_retries_once_with_a_fresh_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(401, r#"{"error":{"code":"0x80072561","message":"Token expired."}}"#))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ok_record()).mount(&server).await;
    let (client, clock, tokens) = webapi_client(&server);

    client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let sent: Vec<_> = requests.iter().map(|r| r.headers["authorization"].to_str().unwrap().to_owned()).collect();
    assert_eq!(sent, ["Bearer token-1", "Bearer token-2"]);
    assert_eq!(tokens.calls(), 2);
    assert!(clock.sleeps().is_empty(), "a re-authentication does not back off");
}

#[tokio::test]
async fn a_second_401_is_unauthorized_with_a_hint_and_not_retried_again() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(json_response(401, "")).mount(&server).await;
    let (client, _, tokens) = webapi_client(&server);

    let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

    assert!(error.is_unauthorized(), "{error:?}");
    assert!(error.hint().unwrap().contains("audience"), "{:?}", error.hint());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(tokens.calls(), 2);
}

#[tokio::test]
async fn setup_mistakes_behind_403_and_401_carry_a_hint_naming_the_step_to_fix() {
    let cases = [
        (401, "0x80072560", "The user is not a member of the organization.", "Application users"),
        (
            403,
            "0x80040220",
            "Principal user (Id=5c3a, type=8, roleCount=0, privilegeCount=0, accessMode=4), is missing prvReadAccount privilege (Id=886b) on OTC=1 for entity 'account'.",
            "no security role",
        ),
        (
            403,
            "0x80040220",
            "Principal user (Id=5c3a, type=8, roleCount=2, privilegeCount=10, accessMode=4), is missing prvWriteAccount privilege (Id=886b) on OTC=1 for entity 'account'.",
            "lack the privilege prvWriteAccount",
        ),
        (
            401,
            "0x80040225",
            "The user with SystemUserId=1 in OrganizationContext=2 is disabled. Disabled users cannot access the system.",
            "disabled",
        ),
    ];
    for (status, code, message, hint) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(json_response(status, &json!({"error": {"code": code, "message": message}}).to_string()))
            .mount(&server)
            .await;
        let (client, _, _) = webapi_client(&server);

        let error = client.who_am_i().await.unwrap_err();

        assert_eq!(error.status(), Some(status));
        assert_eq!(error.is_forbidden(), status == 403);
        assert_eq!(error.is_unauthorized(), status == 401);
        assert!(error.hint().is_some_and(|h| h.contains(hint)), "{code}: {:?}", error.hint());
        assert!(error.to_string().contains(hint), "the hint is in the message: {error}");
    }
}

#[tokio::test]
async fn truncated_and_malformed_error_bodies_are_decode_errors_not_panics() {
    for body in [r#"{"error":{"code":"0x80040217","message":"acc"#, r#"{"error":{"code":}}"#, "{"] {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(json_response(404, body)).mount(&server).await;
        let (client, _, _) = webapi_client(&server);

        let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

        let Error::Decode(decode) = &error else { panic!("{body}: {error:?}") };
        assert!(decode.what().contains("404"), "{decode}");
        assert!(std::error::Error::source(decode).is_some(), "the JSON error is the source");
    }
}

#[tokio::test]
async fn the_published_fetch_xml_answer_with_a_trailing_comma_is_a_decode_error_and_valid_once_repaired() {
    let published = http_messages("msdocs/query/fetchxml.http");
    let invalid = &published.iter().find(|m| m.start.starts_with("HTTP/1.1 200")).unwrap().body;
    assert!(
        invalid.contains("\"accountnumber\":\"1234\",\n"),
        "the published body is as described in the real-data README"
    );
    let repaired = invalid.replace("\"accountnumber\":\"1234\",\n", "\"accountnumber\":\"1234\"\n");
    let fetch = "<fetch mapping='logical'><entity name='account'><attribute name='accountid'/><attribute name='name'/><attribute name='accountnumber'/></entity></fetch>";

    for (body, valid) in [(invalid.as_str(), false), (repaired.as_str(), true)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("{API}/accounts")))
            .respond_with(json_response(200, body))
            .mount(&server)
            .await;
        let (client, _, _) = webapi_client(&server);

        let result = client.fetch_xml::<Record>("accounts", fetch).first_page().await;

        if valid {
            let page = result.unwrap();
            assert_eq!(page.records().len(), 4);
            assert_eq!(page.records()[0].string("accountnumber").unwrap().as_deref(), Some("1234"));
            assert!(page.next_position().is_none());
        } else {
            let error = result.unwrap_err();
            let Error::Decode(decode) = &error else { panic!("{error:?}") };
            assert!(decode.what().contains("malformed JSON at line"), "{decode}");
        }
    }
}

/// Every response body in Microsoft's CRUD and query samples, served as the answer to a read: the valid ones are
/// accepted (success bodies decode, error bodies become service errors with their code), and exactly the two
/// bodies that are invalid JSON as published give the typed decode error.
#[tokio::test]
async fn every_valid_published_response_is_accepted_and_only_the_two_invalid_ones_are_decode_errors() {
    let mut decode_errors = Vec::new();
    let mut accepted = 0;
    for folder in ["msdocs/crud", "msdocs/query"] {
        let mut files: Vec<_> = std::fs::read_dir(support::realdata_dir().join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".http"))
            .collect();
        files.sort();
        for file in files {
            let document = format!("{folder}/{file}");
            for (index, answer) in
                http_messages(&document).iter().enumerate().filter(|(_, m)| m.start.starts_with("HTTP/1.1"))
            {
                let server = MockServer::start().await;
                let body = answer.body_for(&server.uri());
                let status = answer.status();
                Mock::given(method("GET")).respond_with(json_response(status, &body)).mount(&server).await;
                let (client, _, _) = webapi_client(&server);

                let result = client.entity_set("accounts").retrieve::<serde_json::Value>(Uuid::nil()).send().await;

                let label = format!("{document} message {index} ({status})");
                match result {
                    Ok(value) => {
                        assert!((200..300).contains(&status), "{label}");
                        assert!(value.is_object(), "{label}");
                        accepted += 1;
                    }
                    Err(Error::Decode(_)) if body.is_empty() && (200..300).contains(&status) || status == 304 => {
                        // No body where a record was expected: 204 and 304 answers to writes and conditional reads.
                        accepted += 1;
                    }
                    Err(Error::Decode(_)) => decode_errors.push(document.clone()),
                    Err(Error::Service(service)) => {
                        assert!(status >= 400, "{label}");
                        assert!(!service.message().is_empty(), "{label}: the published error body has a message");
                        accepted += 1;
                    }
                    Err(other) => panic!("{label}: {other:?}"),
                }
            }
        }
    }
    assert_eq!(decode_errors, ["msdocs/crud/error-with-annotations.http", "msdocs/query/fetchxml.http"]);
    assert!(accepted >= 15, "{accepted} published answers read");
}

#[tokio::test]
async fn a_caller_can_cancel_a_request_waiting_out_a_long_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(throttled("0x80072322", 120)).mount(&server).await;
    let tokens = Arc::new(aad_auth::test_util::StaticTokenProvider::new(
        Duration::from_secs(3600),
        Arc::new(aad_auth::SystemClock),
    ));
    let client = Client::builder(server.uri(), tokens).build().unwrap();

    let started = Instant::now();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send(),
    )
    .await;

    assert!(cancelled.is_err(), "the request was still waiting when the caller gave up");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "nothing more is sent after the caller gives up");
}

/// Requests queued behind a lone 429: the first of them goes as the probe; when it is refused too, the rest wait out
/// the Retry-After (nothing more is sent into the throttle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_queued_behind_a_429_send_one_probe_and_wait_out_the_retry_after_when_it_is_refused() {
    let server = MockServer::start().await;
    let arrivals: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let record = |arrivals: &Arc<Mutex<Vec<(String, Instant)>>>, answer: ResponseTemplate| {
        let arrivals = Arc::clone(arrivals);
        move |request: &wiremock::Request| {
            arrivals.lock().unwrap().push((request.url.path().to_owned(), Instant::now()));
            answer.clone()
        }
    };
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts({})", Uuid::nil())))
        .respond_with(record(&arrivals, throttled("0x80072322", 1).set_delay(Duration::from_millis(200))))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // Whichever queued request goes first is the probe, and it is refused too.
    Mock::given(method("GET"))
        .respond_with(record(&arrivals, throttled("0x80072322", 1)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(record(&arrivals, ok_record())).mount(&server).await;
    let tokens = Arc::new(aad_auth::test_util::StaticTokenProvider::new(
        Duration::from_secs(3600),
        Arc::new(aad_auth::SystemClock),
    ));
    let client = Client::builder(server.uri(), tokens).max_concurrency(1).build().unwrap();

    let throttled_one = {
        let client = client.clone();
        tokio::spawn(async move { client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await })
    };
    // Queue the others only once the first is at the server (its answer takes 200 ms).
    while server.received_requests().await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let probe = {
        let client = client.clone();
        tokio::spawn(async move { client.entity_set("contacts").retrieve::<Record>(Uuid::max()).send().await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let last = client.entity_set("leads").retrieve::<Record>(Uuid::nil()).send().await;

    last.unwrap();
    probe.await.unwrap().unwrap();
    throttled_one.await.unwrap().unwrap();
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 5, "{arrivals:?}");
    let (_, probe_at) = &arrivals[1];
    let refused_at = arrivals[0].1 + Duration::from_millis(200);
    assert!(probe_at.duration_since(refused_at) < Duration::from_millis(500), "the probe goes at once: {arrivals:?}");
    for (route, at) in &arrivals[2..] {
        assert!(
            at.duration_since(*probe_at) >= Duration::from_millis(900),
            "{route} was sent {:?} after the refused probe, inside its 1 s Retry-After",
            at.duration_since(*probe_at)
        );
    }
}

#[tokio::test]
async fn a_retry_after_too_large_for_a_duration_or_the_clock_is_a_throttling_error_not_a_panic() {
    // 1e300 seconds overflows a `Duration`; 1.8e19 fits one but not the clock's time plus it.
    for retry_after in ["1e300", "18000000000000000000"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("{API}/accounts({})", Uuid::nil())))
            .respond_with(throttled("0x80072322", 1).insert_header("retry-after", retry_after))
            .mount(&server)
            .await;
        // The next request probes and is refused the same way: throttling is sustained.
        Mock::given(method("GET"))
            .and(path(format!("{API}/WhoAmI")))
            .respond_with(throttled("0x80072322", 1).insert_header("retry-after", retry_after))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{API}/WhoAmI")))
            .respond_with(json_response(
                200,
                &json!({"BusinessUnitId": Uuid::nil(), "UserId": Uuid::nil(), "OrganizationId": Uuid::nil()})
                    .to_string(),
            ))
            .mount(&server)
            .await;
        let (client, clock, _) = webapi_client(&server);

        let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

        assert!(error.is_throttled(), "{retry_after}: {error}");
        assert!(error.retry_after().is_some_and(|wait| wait > Duration::from_secs(3600)), "{retry_after}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1, "{retry_after}: not waited for");
        assert!(client.who_am_i().await.unwrap_err().is_throttled(), "{retry_after}: the probe is refused");
        // The client's other requests wait out a pause, bounded to a day rather than forever.
        client.who_am_i().await.unwrap();
        assert_eq!(clock.sleeps(), [Duration::from_secs(24 * 3600)], "{retry_after}");
    }
}

#[tokio::test]
async fn an_unreadable_answer_keeps_the_servers_request_id() {
    const REQUEST_ID: &str = "5d0f3b1e-1111-2222-3333-444455556666";
    for (status, body) in [(404, r#"{"error":{"code":"0x80040217","message":"acc"#), (200, r#"{"name": }"#)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(json_response(status, body).insert_header("x-ms-service-request-id", REQUEST_ID))
            .mount(&server)
            .await;
        let (client, _, _) = webapi_client(&server);

        let error = client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap_err();

        let Error::Decode(decode) = &error else { panic!("{status}: {error:?}") };
        assert_eq!(decode.request_id(), Some(REQUEST_ID), "{status}");
        assert_eq!(error.request_id(), Some(REQUEST_ID), "{status}");
    }
}

#[tokio::test]
async fn an_unlimited_concurrency_limit_builds_a_working_client_not_a_panic() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok_record()).mount(&server).await;
    let (builder, _, _) = webapi_builder(&server);

    let client = builder.max_concurrency(usize::MAX).build().unwrap();

    client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();
    assert!(client.rate_limits().concurrency_limit > 1_000_000);
}

#[tokio::test]
async fn a_provider_that_caches_its_own_tokens_is_not_wrapped_in_another_cache() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok_record()).mount(&server).await;
    for (provider_caches, expected_calls) in [(false, 1), (true, 3)] {
        let (builder, _, tokens) = webapi_builder(&server);
        let builder = if provider_caches { builder.provider_caches_tokens() } else { builder };
        let client = builder.build().unwrap();
        for _ in 0..3 {
            client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();
        }
        assert_eq!(tokens.calls(), expected_calls, "provider caches: {provider_caches}");
    }
}

#[tokio::test]
async fn each_attempt_has_its_own_span_with_opentelemetry_http_attributes() {
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(throttled("0x80072322", 1)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("GET")).respond_with(ok_record()).mount(&server).await;
    let (client, _, _) = webapi_client(&server);

    client.entity_set("accounts").retrieve::<Record>(Uuid::nil()).send().await.unwrap();

    let logs = captured.text();
    let closes: Vec<&str> = logs.lines().filter(|line| line.contains("close")).collect();
    let attempts: Vec<&&str> = closes.iter().filter(|line| line.contains("dynamics_webapi.attempt")).collect();
    assert_eq!(attempts.len(), 2, "{logs}");
    assert!(attempts[0].contains("http.response.status_code=429") && attempts[0].contains("error.type=429"), "{logs}");
    assert!(
        attempts[1].contains("http.response.status_code=200") && attempts[1].contains("http.request.resend_count=1"),
        "{logs}"
    );
    let call: Vec<&&str> =
        closes.iter().filter(|line| line.contains("dynamics_webapi.request") && !line.contains("attempt{")).collect();
    assert!(call.iter().all(|line| line.matches("status_code").count() <= 1), "fields are not repeated: {logs}");
}
