//! `$batch` through the client against wiremock: the exact multipart request, every response Microsoft published
//! mapped back to its operations, failed change sets, whole-batch throttling, lost answers, and the 1,000 cap.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::io::Read;
use std::time::Duration;

use dynamics_webapi::batch::{
    BatchError, BatchItem, BatchRequest, ChangeSet, ChangeSetOperation, LimitKind, Operation, PartOutcome, RetryAdvice,
};
use dynamics_webapi::{Error, RetryPolicy};
use serde_json::json;
use support::{
    API, assert_webapi_headers, fail_unmatched, fixture, header_text, json_response, only_request, realdata,
    realdata_dir, webapi_builder, webapi_client,
};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn task(subject: &str) -> serde_json::Value {
    json!({
        "subject": subject,
        "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
    })
}

const QUERY: &str = "accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject";

/// The request behind each published batch response, built as a caller would.
fn request_for(name: &str) -> BatchRequest {
    let builder = BatchRequest::builder();
    let builder = match name {
        "01-batch-no-changeset.response.http" => builder
            .operations((1..=3).map(|n| Operation::post("tasks", &task(&format!("Task {n} in batch")))))
            .operation(Operation::get(QUERY)),
        "02-batch-changeset.response.http" => builder
            .change_set(
                (1..=3).map(|n| ChangeSetOperation::post("tasks", &task(&format!("Task {n} in batch")))).collect(),
            )
            .operation(Operation::get(QUERY)),
        "03-batch-contentid-ref-body.response.http" => {
            let mut change_set = ChangeSet::new();
            let lead = change_set
                .push(ChangeSetOperation::post("leads", &json!({"firstname": "first name", "lastname": "last name"})));
            let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "first name"})));
            change_set.push(ChangeSetOperation::post(
                "accounts",
                &json!({"name": "IcM Account", "originatingleadid@odata.bind": lead.reference(), "primarycontactid@odata.bind": contact.reference()}),
            ));
            builder.change_set(change_set)
        }
        "04-batch-contentid-ref-url-put.response.http" => {
            let mut change_set = ChangeSet::new();
            let contact = change_set
                .push(ChangeSetOperation::post("contacts", &json!({"firstname": "Joe", "lastname": "Smith"})));
            change_set
                .push(ChangeSetOperation::put(format!("{}/lastname", contact.reference()), &json!({"value": "Doe"})));
            builder.change_set(change_set)
        }
        "05-batch-error-no-continue.response.http" => builder
            .operation(Operation::post("tasks", &task(&"x".repeat(201))))
            .operations((2..=3).map(|n| Operation::post("tasks", &task(&format!("Task {n} in batch"))))),
        "06-contentid-undeclared.response.txt" => builder.operation(Operation::post("tasks", &task("refers to $1"))),
        "07-batch-continue-on-error.response.http" => builder
            .operation(Operation::post("tasks", &task(&"x".repeat(201))))
            .operations((2..=3).map(|n| Operation::post("tasks", &task(&format!("Task {n} in batch")))))
            .continue_on_error(true),
        other => panic!("no request for the published response {other}: add one to request_for"),
    };
    builder.build().unwrap()
}

/// A published batch response as a server sends it: status, `Content-Type` (the samples leave the header out,
/// so it is taken from the first delimiter, as the header would give it) and the body with the org's URL.
fn published_answer(name: &str, server: &MockServer) -> ResponseTemplate {
    let text = realdata(&format!("msdocs/batch/{name}"))
        .replace("[Organization Uri]", &server.uri())
        .replace("[Organization URI]", &server.uri());
    let status_line = text.lines().next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    // The plain-text sample has no headers: its body starts on the second line.
    let body = text.split_once("\n\n").map_or_else(|| text.split_once('\n').unwrap().1, |(_, body)| body);
    let content_type = match body.lines().find_map(|line| line.strip_prefix("--")) {
        Some(boundary) => format!("multipart/mixed; boundary={}", boundary.trim_end_matches('-')),
        None => "text/plain".to_owned(),
    };
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), content_type.as_str())
}

async fn mount_batch(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST")).and(path(format!("{API}/$batch"))).respond_with(answer).mount(server).await;
    fail_unmatched(server).await;
}

fn assert_batch_request(request: &Request, batch: &BatchRequest) {
    assert_webapi_headers(request);
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), format!("{API}/$batch"));
    assert_eq!(request.url.query(), None);
    assert_eq!(header_text(request, "content-type"), Some(batch.content_type()));
    assert_eq!(header_text(request, "prefer").as_deref(), batch.prefer_header());
    assert_eq!(request.body, batch.body().to_vec(), "the body is the rendered batch, byte for byte");
}

fn entity_ids(outcomes: &[dynamics_webapi::batch::OperationOutcome]) -> Vec<Option<String>> {
    outcomes.iter().map(|o| o.response().and_then(|p| p.entity_id()).map(str::to_owned)).collect()
}

#[tokio::test]
async fn every_published_batch_response_comes_back_through_the_client_mapped_to_its_operations() {
    let mut names: Vec<String> = std::fs::read_dir(realdata_dir().join("msdocs/batch"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".response."))
        .collect();
    names.sort();
    assert_eq!(names.len(), 7, "a published response was added or removed: map it in request_for");

    for name in &names {
        let server = MockServer::start().await;
        mount_batch(&server, published_answer(name, &server)).await;
        let (client, _, _) = webapi_client(&server);
        let batch = request_for(name);

        let result = client.batch(&batch).await;

        assert_batch_request(&only_request(&server).await, &batch);
        if name.starts_with("06-") {
            // A plain-text 400 refuses the batch as a whole.
            let error = result.unwrap_err();
            assert_eq!(error.status(), Some(400), "{name}");
            assert!(error.to_string().contains("does not exist in the batch context"), "{name}: {error}");
            continue;
        }
        let response = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let outcomes = response.outcomes();
        assert_eq!(outcomes.len(), batch.operation_count(), "{name}");
        assert_eq!(response.retry_advice(), RetryAdvice::PerOperation, "{name}");
        let uri = server.uri();
        match name.as_str() {
            "01-batch-no-changeset.response.http" | "02-batch-changeset.response.http" => {
                assert!(response.is_success(), "{name}");
                let ids = entity_ids(&outcomes[..3]);
                assert!(
                    ids.iter().all(|id| id
                        .as_deref()
                        .is_some_and(|id| id.starts_with(&format!("{uri}/api/data/v9.2/tasks(")))),
                    "{name}: {ids:?}"
                );
                let PartOutcome::Answered(query) = outcomes[3].outcome() else {
                    panic!("{name}: the query was answered")
                };
                let tasks: serde_json::Value = query.json().unwrap();
                assert_eq!(tasks["value"].as_array().unwrap().len(), 3, "{name}");
                assert_eq!(tasks["value"][2]["subject"], "Task 3 in batch");
                let in_change_set = name.starts_with("02-");
                assert_eq!(outcomes[0].content_id().is_some(), in_change_set, "{name}");
            }
            "03-batch-contentid-ref-body.response.http" => {
                assert!(response.is_success());
                let content_ids: Vec<&str> = outcomes.iter().map(|o| o.content_id().unwrap().as_str()).collect();
                assert_eq!(content_ids, ["1", "2", "3"]);
                assert_eq!(
                    entity_ids(outcomes)[2].as_deref(),
                    Some(format!("{uri}/api/data/v9.2/accounts(4f5195a4-7a75-e911-a97a-000d3a34a1bd)").as_str())
                );
            }
            "04-batch-contentid-ref-url-put.response.http" => {
                assert!(response.is_success());
                assert!(
                    entity_ids(outcomes)[0]
                        .as_deref()
                        .unwrap()
                        .ends_with("contacts(f8ea5d2c-8c75-e911-a97a-000d3a34a1bd)")
                );
                assert_eq!(outcomes[1].response().unwrap().status(), 204);
            }
            "05-batch-error-no-continue.response.http" => {
                assert_eq!(response.status(), Some(http::StatusCode::BAD_REQUEST));
                let error = outcomes[0].error().unwrap();
                assert_eq!(error.code(), Some("0x80044331"));
                assert_eq!(
                    outcomes[0].response().unwrap().header("REQ_ID"),
                    Some("5ecd1cb3-1730-4ffc-909c-d44c22270026")
                );
                assert!(outcomes[1..].iter().all(|o| matches!(o.outcome(), PartOutcome::NotExecuted)), "{name}");
            }
            "07-batch-continue-on-error.response.http" => {
                assert_eq!(
                    header_text(&only_request(&server).await, "prefer").as_deref(),
                    Some("odata.continue-on-error")
                );
                assert_eq!(outcomes[0].error().unwrap().code(), Some("0x80044331"));
                assert!(outcomes[1..].iter().all(|o| o.is_success()), "{name}");
                assert_eq!(response.failures().count(), 1);
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[tokio::test]
async fn a_change_set_with_content_id_references_is_sent_as_rendered_and_answered_per_operation() {
    let server = MockServer::start().await;
    mount_batch(&server, published_answer("03-batch-contentid-ref-body.response.http", &server)).await;
    let (client, _, _) = webapi_client(&server);
    let mut change_set = ChangeSet::with_boundary_id(Uuid::from_u128(2));
    let lead = change_set
        .push(ChangeSetOperation::post("leads", &json!({"firstname": "first name", "lastname": "last name"})));
    let contact = change_set.push(ChangeSetOperation::post("contacts", &json!({"firstname": "first name"})));
    change_set.push(ChangeSetOperation::post(
        "accounts",
        &json!({"name": "IcM Account", "originatingleadid@odata.bind": lead.reference(), "primarycontactid@odata.bind": contact.reference()}),
    ));
    let batch = BatchRequest::builder().boundary_id(Uuid::from_u128(1)).change_set(change_set).build().unwrap();

    let response = client.batch(&batch).await.unwrap();

    let request = only_request(&server).await;
    assert_batch_request(&request, &batch);
    let body = String::from_utf8(request.body.clone()).unwrap();
    let expected = fixture("webapi/batch/contentid-ref-body/request.txt").replace('\n', "\r\n");
    assert_eq!(body, expected);
    assert!(response.is_success());
    assert_eq!(
        response.outcomes().iter().map(|o| o.index_in_change_set()).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
}

#[tokio::test]
async fn a_failed_change_set_fails_every_operation_in_it_and_continue_on_error_runs_the_rest() {
    let server = MockServer::start().await;
    let body = fixture("webapi/batch/failed-change-set/response.txt");
    mount_batch(
        &server,
        ResponseTemplate::new(200).set_body_raw(
            body.into_bytes(),
            "multipart/mixed; boundary=batchresponse_c1bd45c1-dd81-470d-b897-e965846aad2f",
        ),
    )
    .await;
    let (client, _, _) = webapi_client(&server);
    let mut change_set = ChangeSet::new();
    change_set.push(ChangeSetOperation::post("accounts", &json!({"name": "A", "accountnumber": "A1"})));
    change_set.push(ChangeSetOperation::post("accounts", &json!({"name": "B", "accountnumber": "A1"})));
    let batch = BatchRequest::builder()
        .change_set(change_set)
        .operation(Operation::get("accounts?$select=name&$filter=accountnumber%20eq%20'A1'"))
        .continue_on_error(true)
        .build()
        .unwrap();

    let response = client.batch(&batch).await.unwrap();

    assert_batch_request(&only_request(&server).await, &batch);
    let [first, second, query] = response.outcomes() else { panic!("three outcomes") };
    for member in [first, second] {
        let PartOutcome::ChangeSetFailed(part) = member.outcome() else { panic!("{member:?}") };
        assert_eq!(part.status(), 400);
        assert_eq!(member.error().unwrap().code(), Some("0x80040237"));
    }
    assert!(query.is_success());
    assert!(!response.is_success());
    assert_eq!(response.failures().count(), 2);
}

#[tokio::test]
async fn a_whole_batch_429_is_retried_after_retry_after_because_nothing_ran() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/$batch")))
        .respond_with(
            json_response(429, r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}"#)
                .insert_header("retry-after", "3"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_batch(&server, published_answer("01-batch-no-changeset.response.http", &server)).await;
    let (client, clock, _) = webapi_client(&server);
    let batch = request_for("01-batch-no-changeset.response.http");

    let response = client.batch(&batch).await.unwrap();

    assert!(response.is_success());
    assert_eq!(clock.sleeps(), [Duration::from_secs(3)]);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body, "the same batch, unchanged");
}

#[tokio::test]
async fn a_batch_whose_answer_times_out_is_not_repeated_and_every_operation_is_unknown() {
    let server = MockServer::start().await;
    mount_batch(
        &server,
        published_answer("01-batch-no-changeset.response.http", &server).set_delay(Duration::from_secs(5)),
    )
    .await;
    let (builder, clock, _) = webapi_builder(&server);
    let client = builder.timeout(Duration::from_millis(200)).build().unwrap();
    let batch = request_for("01-batch-no-changeset.response.http");

    let response = client.batch(&batch).await.unwrap();

    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "creates outside change sets are never repeated blindly"
    );
    assert!(clock.sleeps().is_empty());
    assert_eq!(response.outcomes().len(), 4);
    assert!(response.outcomes().iter().all(|o| matches!(o.outcome(), PartOutcome::Unknown)));
    assert_eq!(response.retry_advice(), RetryAdvice::Unsafe);
    assert_eq!(response.status(), None);
}

#[tokio::test]
async fn a_gateway_timeout_on_a_batch_with_creates_leaves_every_operation_unknown_without_a_repeat() {
    let server = MockServer::start().await;
    mount_batch(&server, ResponseTemplate::new(504).set_body_string("Gateway Timeout")).await;
    let (client, clock, _) = webapi_client(&server);
    let batch = request_for("07-batch-continue-on-error.response.http");

    let response = client.batch(&batch).await.unwrap();

    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(clock.sleeps().is_empty());
    assert_eq!(response.status(), Some(http::StatusCode::GATEWAY_TIMEOUT));
    assert_eq!(response.refusal().unwrap().body(), b"Gateway Timeout");
    assert!(response.outcomes().iter().all(|o| matches!(o.outcome(), PartOutcome::Unknown)));
    assert_eq!(response.retry_advice(), RetryAdvice::Unsafe);
}

#[tokio::test]
async fn a_reads_only_batch_is_repeated_after_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/$batch")))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let answer = "--batchresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"value\":[]}\r\n--batchresponse_1--\r\n";
    mount_batch(&server, ResponseTemplate::new(200).set_body_raw(answer, "multipart/mixed; boundary=batchresponse_1"))
        .await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder.timeout(Duration::from_millis(200)).build().unwrap();
    let batch = BatchRequest::builder().operation(Operation::get("accounts?$select=name")).build().unwrap();

    let response = client.batch(&batch).await.unwrap();

    assert!(response.is_success());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// A server that reads one request and then drops the connection without answering.
fn hang_up_after_reading() -> (String, std::thread::JoinHandle<usize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0_u8; 8192];
        while let Ok(read) = socket.read(&mut buffer) {
            if read == 0 {
                break;
            }
            received.extend_from_slice(&buffer[..read]);
            if received.windows(b"--\r\n".len()).any(|w| w == b"--\r\n") && received.ends_with(b"--\r\n") {
                break;
            }
        }
        received.len()
    });
    (uri, handle)
}

#[tokio::test]
async fn a_connection_lost_after_sending_leaves_every_operation_unknown_and_is_not_retried() {
    let (uri, server) = hang_up_after_reading();
    let clock = aad_auth::test_util::ManualClock::starting_now();
    let tokens = std::sync::Arc::new(aad_auth::test_util::StaticTokenProvider::new(
        Duration::from_secs(3600),
        std::sync::Arc::new(clock.clone()),
    ));
    let client =
        dynamics_webapi::Client::builder(uri, tokens).clock(std::sync::Arc::new(clock.clone())).build().unwrap();
    let batch = request_for("07-batch-continue-on-error.response.http");

    let response = client.batch(&batch).await.unwrap();

    let received = server.join().unwrap();
    assert!(received > batch.body().len(), "the whole batch was sent before the connection dropped");
    assert!(response.outcomes().iter().all(|o| matches!(o.outcome(), PartOutcome::Unknown)));
    assert_eq!(response.retry_advice(), RetryAdvice::Unsafe);
    assert!(clock.sleeps().is_empty(), "no retry was attempted");
}

#[tokio::test]
async fn a_batch_that_could_not_connect_did_not_run_and_may_be_sent_again() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tokens = std::sync::Arc::new(aad_auth::test_util::StaticTokenProvider::new(
        Duration::from_secs(3600),
        std::sync::Arc::new(aad_auth::SystemClock),
    ));
    let client = dynamics_webapi::Client::builder(format!("http://127.0.0.1:{port}"), tokens)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let batch = request_for("07-batch-continue-on-error.response.http");

    let response = client.batch(&batch).await.unwrap();

    assert!(response.outcomes().iter().all(|o| matches!(o.outcome(), PartOutcome::NotExecuted)));
    assert!(response.may_retry_whole());
}

/// Answers any batch with one `204` per operation, a change set with a nested answer, as Dataverse does.
fn echo_batch(request: &Request) -> ResponseTemplate {
    let body = String::from_utf8(request.body.clone()).unwrap();
    let content_type = header_text(request, "content-type").unwrap();
    let boundary = content_type.split("boundary=").nth(1).unwrap();
    let mut answer = String::new();
    for part in body.split(&format!("--{boundary}")).skip(1) {
        if part.starts_with("--") {
            break;
        }
        answer.push_str("--batchresponse_echo\r\n");
        if let Some(nested) = part.split("boundary=").nth(1).and_then(|rest| rest.lines().next()) {
            answer.push_str("Content-Type: multipart/mixed; boundary=changesetresponse_echo\r\n\r\n");
            for (index, _) in part.split(&format!("--{nested}")).skip(1).filter(|p| !p.starts_with("--")).enumerate() {
                answer.push_str(&format!(
                    "--changesetresponse_echo\r\nContent-Type: application/http\r\nContent-ID: {}\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n",
                    index + 1
                ));
            }
            answer.push_str("--changesetresponse_echo--\r\n");
        } else {
            answer.push_str("Content-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n");
        }
    }
    answer.push_str("--batchresponse_echo--\r\n");
    ResponseTemplate::new(200).set_body_raw(answer, "multipart/mixed; boundary=batchresponse_echo")
}

#[tokio::test]
async fn over_a_thousand_operations_are_split_into_batches_without_splitting_a_change_set() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(format!("{API}/$batch"))).respond_with(echo_batch).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let deletes = (0..1200).map(|i| BatchItem::from(Operation::delete(format!("tasks({})", Uuid::from_u128(i)))));
    let change_set: ChangeSet = (0..300).map(|i| ChangeSetOperation::post("tasks", &json!({"subject": i}))).collect();

    let batches = BatchRequest::builder().items(deletes).change_set(change_set).build_split().unwrap();
    let mut outcomes = Vec::new();
    for batch in &batches {
        outcomes.extend(client.batch(batch).await.unwrap().into_outcomes());
    }

    assert_eq!(batches.iter().map(BatchRequest::operation_count).collect::<Vec<_>>(), [1000, 500]);
    assert_eq!(batches.iter().map(BatchRequest::first_item).collect::<Vec<_>>(), [0, 1000]);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for (request, batch) in requests.iter().zip(&batches) {
        assert_batch_request(request, batch);
    }
    assert_eq!(outcomes.len(), 1500);
    assert!(outcomes.iter().all(|o| o.is_success()));
    assert_eq!(outcomes[999].item(), 999);
    assert_eq!(outcomes[1000].item(), 1000);
    assert_eq!(outcomes[1499].item(), 1200, "the change set is the 1,201st item");
    assert_eq!(outcomes[1499].index_in_change_set(), Some(299));
}

#[tokio::test]
async fn a_change_set_over_the_cap_or_a_batch_over_the_byte_cap_is_refused_before_sending() {
    let server = MockServer::start().await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let too_big: ChangeSet = (0..1001).map(|i| ChangeSetOperation::post("tasks", &json!({"subject": i}))).collect();

    let error = BatchRequest::builder().change_set(too_big.clone()).build_split().unwrap_err();
    let BatchError::Limit(limit) = &error else { panic!("{error:?}") };
    assert_eq!(
        (limit.kind(), limit.actual(), limit.max(), limit.item()),
        (LimitKind::ChangeSetOperations, 1001, 1000, Some(0))
    );
    assert!(error.to_string().contains("a change set is never split"), "{error}");
    assert!(BatchRequest::builder().change_set(too_big).build().unwrap_err().is_limit());
    let bytes = BatchRequest::builder()
        .limits(dynamics_webapi::batch::BatchLimits::new().max_body_bytes(1024))
        .operation(Operation::post("notes", &json!({"notetext": "x".repeat(4096)})))
        .build()
        .unwrap_err();
    assert!(bytes.is_limit(), "{bytes:?}");
    let as_client_error = Error::from(bytes);
    assert!(matches!(as_client_error, Error::Config(_)), "{as_client_error:?}");

    drop(client);
    assert!(server.received_requests().await.unwrap().is_empty(), "nothing was sent");
}
