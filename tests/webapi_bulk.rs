//! Bulk writes against wiremock: the `…Multiple` request shapes, adaptive splitting, isolating a bad record,
//! throttling through the shared pause, and never writing a record twice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dynamics_webapi::bulk::{BulkOperation, Progress, RecordOutcome};
use dynamics_webapi::entity::Entity;
use dynamics_webapi::{RecordKey, RequestOptions};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use support::{API, fail_unmatched, fixture, json_response, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CREATE: &str = "/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.CreateMultiple";

struct Account;

impl Entity for Account {
    const ENTITY_SET: &'static str = "accounts";
    const LOGICAL_NAME: &'static str = "account";
    const PRIMARY_ID: &'static str = "accountid";
}

#[derive(Serialize)]
struct NewAccount {
    name: String,
    accountnumber: String,
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!("webapi/bulk/{name}"))).unwrap()
}

/// The `name` of every target of a bulk request, or of a single create's body.
fn names_in(request: &Request) -> Vec<String> {
    let body = body(request);
    match body.get("Targets") {
        Some(targets) => targets.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect(),
        None => vec![body["name"].as_str().unwrap().to_owned()],
    }
}

fn id_for(name: &str) -> Uuid {
    let number: u128 = name.trim_start_matches('r').parse().unwrap_or(0);
    Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0000 + number)
}

/// A `CreateMultiple` answer with an id per target, derived from its name.
fn ids_for(request: &Request) -> ResponseTemplate {
    let ids: Vec<String> = names_in(request).iter().map(|name| id_for(name).to_string()).collect();
    json_response(200, &json!({ "Ids": ids }).to_string())
}

fn records(count: usize) -> Vec<Value> {
    (0..count).map(|n| json!({ "name": format!("r{n}") })).collect()
}

/// How many times each record was in a request that the server answered with success.
async fn successful_writes(server: &MockServer, succeeded: impl Fn(&Request) -> bool) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in server.received_requests().await.unwrap() {
        if succeeded(&request) {
            for name in names_in(&request) {
                *counts.entry(name).or_insert(0) += 1;
            }
        }
    }
    counts
}

#[tokio::test]
async fn create_multiple_sends_typed_targets_stamped_with_their_type_and_returns_the_ids() {
    let server = MockServer::start().await;
    let answer = fixture("webapi/bulk/create-multiple.response.json").replace("[Organization URI]", &server.uri());
    Mock::given(method("POST")).and(path(CREATE)).respond_with(json_response(200, &answer)).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let accounts = [("Contoso", "A-1"), ("Fabrikam", "A-2"), ("Northwind", "A-3")]
        .map(|(name, number)| NewAccount { name: name.into(), accountnumber: number.into() });

    let report = client
        .bulk::<Account>()
        .create(&accounts)
        .options(RequestOptions::new().bypass_custom_plugins(true))
        .send()
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(request.headers["authorization"], "Bearer token-1");
    assert_eq!(request.headers["odata-version"], "4.0");
    assert_eq!(request.headers["mscrm.bypasscustompluginexecution"], "true");
    assert_eq!(
        request.headers["prefer"], "odata.include-annotations=\"Microsoft.PowerApps.CDS.ErrorDetails.*\"",
        "asks for per-record statuses, which elastic tables send on partial failure"
    );
    assert_eq!(body(request), fixture_json("create-multiple.request.json"));
    let expected: Vec<Option<Uuid>> = ["8f4c3f92", "904c3f92", "914c3f92"]
        .iter()
        .map(|prefix| Some(Uuid::parse_str(&format!("{prefix}-312b-ee11-bdf4-000d3a993550")).unwrap()))
        .collect();
    assert_eq!(report.ids().collect::<Vec<_>>(), expected);
    assert!(report.is_complete());
    assert_eq!((report.len(), report.written(), report.requests()), (3, 3, 1));
}

#[tokio::test]
async fn upsert_by_alternate_key_names_the_key_in_odata_id_and_not_in_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts/Microsoft.Dynamics.CRM.UpsertMultiple")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let by_id = Uuid::parse_str("914c3f92-312b-ee11-bdf4-000d3a993550").unwrap();
    let rows = vec![
        (RecordKey::alternate([("accountnumber", "A-1")]), json!({"accountnumber": "A-1", "name": "Contoso"})),
        (RecordKey::alternate([("accountnumber", "O'Neil")]), json!({"name": "O'Neil Ltd"})),
        (RecordKey::Id(by_id), json!({"name": "By id", "accountid": "ignored: the key wins"})),
    ];

    let report = client.bulk_untyped("accounts", "account").upsert(rows).send().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(body(&requests[0]), fixture_json("upsert-multiple-alternate-key.request.json"));
    assert_eq!(report.ids().collect::<Vec<_>>(), [None, None, Some(by_id)]);
    assert!(report.is_complete());
}

#[tokio::test]
async fn update_multiple_and_delete_multiple_carry_the_primary_id_in_each_target() {
    let server = MockServer::start().await;
    for action in ["UpdateMultiple", "DeleteMultiple"] {
        Mock::given(method("POST"))
            .and(path(format!("{API}/accounts/Microsoft.Dynamics.CRM.{action}")))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
    }
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let first = Uuid::parse_str("8f4c3f92-312b-ee11-bdf4-000d3a993550").unwrap();
    let second = Uuid::parse_str("904c3f92-312b-ee11-bdf4-000d3a993550").unwrap();
    let table = client.bulk::<Account>();

    let updated = table
        .update([(first, json!({"name": "Contoso Updated"})), (second, json!({"telephone1": null}))])
        .send()
        .await
        .unwrap();
    let write = table.delete([first, second]);
    assert_eq!(write.operation(), BulkOperation::Delete);
    let deleted = write.send().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(body(&requests[0]), fixture_json("update-multiple.request.json"));
    assert_eq!(body(&requests[1]), fixture_json("delete-multiple.request.json"));
    assert_eq!(updated.ids().collect::<Vec<_>>(), [Some(first), Some(second)]);
    assert_eq!(deleted.ids().collect::<Vec<_>>(), [Some(first), Some(second)]);
}

/// Refuses chunks of more than three targets with Dataverse's payload-size error.
struct SizeLimited;

impl Respond for SizeLimited {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if names_in(request).len() > 3 {
            json_response(400, &fixture("webapi/bulk/payload-too-large.json"))
        } else {
            ids_for(request)
        }
    }
}

#[tokio::test]
async fn a_chunk_refused_for_its_size_is_split_and_later_chunks_stay_below_that_size() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(CREATE)).respond_with(SizeLimited).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let report = client
        .bulk_untyped("accounts", "account")
        .create(records(12))
        .initial_chunk_size(8)
        .max_in_flight(1)
        .send()
        .await
        .unwrap();

    assert!(report.is_complete(), "{:?}", report.failures().collect::<Vec<_>>());
    let sizes: Vec<usize> =
        server.received_requests().await.unwrap().iter().map(|request| names_in(request).len()).collect();
    // 8 fails, its halves of 4 fail, the quarters of 2 succeed; growth stops below 4, so new chunks take 3.
    assert_eq!(sizes, [8, 4, 2, 2, 4, 2, 2, 3, 1]);
    assert_eq!(report.requests(), sizes.len());
    let ids: Vec<Option<Uuid>> = report.ids().collect();
    let expected: Vec<Option<Uuid>> = (0..12).map(|n| Some(id_for(&format!("r{n}")))).collect();
    assert_eq!(ids, expected, "ids follow the input order through the splits");
    let writes = successful_writes(&server, |request| names_in(request).len() <= 3).await;
    assert_eq!(writes.len(), 12);
    assert!(writes.values().all(|count| *count == 1), "{writes:?}");
}

/// A plug-in refuses any request that carries the record named `bad` (a standard table rolls it all back).
struct RefusesBad;

fn carries_bad(request: &Request) -> bool {
    names_in(request).iter().any(|name| name == "bad")
}

impl Respond for RefusesBad {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if carries_bad(request) {
            json_response(400, &fixture("webapi/bulk/bad-record.json"))
        } else if request.url.path() == CREATE {
            ids_for(request)
        } else {
            ResponseTemplate::new(204)
                .insert_header("OData-EntityId", format!("{API}/accounts({})", Uuid::nil()).as_str())
        }
    }
}

#[tokio::test]
async fn a_bad_record_is_reported_by_index_while_the_rest_are_written_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(RefusesBad).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let mut input = records(10);
    input[6] = json!({"name": "bad"});
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let log = Arc::clone(&seen);

    let report = client
        .bulk_untyped("accounts", "account")
        .create(input)
        .initial_chunk_size(10)
        .on_progress(move |progress| log.lock().unwrap().push(*progress))
        .send()
        .await
        .unwrap();

    assert_eq!(report.written(), 9);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].index(), 6);
    assert!(!failures[0].is_outcome_unknown());
    assert_eq!(failures[0].error().service_code(), Some("0x80040265"));
    assert!(failures[0].error().to_string().contains("The account name 'bad' is not allowed."));
    assert!(matches!(report.outcome(6), Some(RecordOutcome::Failed(_))));
    let writes = successful_writes(&server, |request| !carries_bad(request)).await;
    assert_eq!(writes.len(), 9);
    assert!(writes.values().all(|count| *count == 1), "{writes:?}");
    let requests = server.received_requests().await.unwrap();
    let singles: Vec<&Request> = requests.iter().filter(|r| r.url.path() == format!("{API}/accounts")).collect();
    assert_eq!(singles.len(), 1, "the bad record alone falls back to a single create");
    assert_eq!(body(singles[0]), json!({"name": "bad"}), "the single create drops @odata.type");
    let progress = seen.lock().unwrap();
    assert_eq!(progress.len(), requests.len(), "one progress report per request");
    let last = progress.last().unwrap();
    assert_eq!((last.done(), last.written(), last.failed()), (10, 9, 1));
    assert!(progress.windows(2).all(|pair| pair[0].done() <= pair[1].done()));
}

#[tokio::test]
async fn throttled_chunks_are_sent_again_after_the_shared_pause() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(json_response(429, &fixture("webapi/bulk/throttled.json")).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path(CREATE)).respond_with(ids_for).with_priority(2).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, clock, _) = webapi_client(&server);

    let report = client
        .bulk_untyped("accounts", "account")
        .create(records(6))
        .initial_chunk_size(2)
        .max_in_flight(1)
        .send()
        .await
        .unwrap();

    assert!(report.is_complete());
    assert_eq!(clock.sleeps(), [Duration::from_secs(7)], "the refused chunk waited out Retry-After, once");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 4, "one refused chunk sent again, then two more");
    assert_eq!(names_in(&requests[0]), names_in(&requests[1]), "the same chunk, repeated after the pause");
    let mut written: Vec<String> = requests[1..].iter().flat_map(names_in).collect();
    written.sort();
    let mut expected: Vec<String> = (0..6).map(|n| format!("r{n}")).collect();
    expected.sort();
    assert_eq!(written, expected, "every record written once, by the answered requests");
    assert_eq!(report.requests(), 3, "a retry by the transport is not a new chunk");
}

#[tokio::test]
async fn a_create_chunk_without_an_answer_is_never_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(504).set_body_string("gateway timeout"))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let report =
        client.bulk_untyped("accounts", "account").create(records(3)).initial_chunk_size(3).send().await.unwrap();

    assert_eq!(server.received_requests().await.unwrap().len(), 1, "a create that may have run is not repeated");
    assert_eq!(report.written(), 0);
    assert!(report.failures().all(|failure| failure.is_outcome_unknown() && failure.error().status() == Some(504)));
    assert_eq!(report.failures().map(|f| f.index()).collect::<Vec<_>>(), [0, 1, 2]);
}

#[tokio::test]
async fn an_upsert_chunk_is_idempotent_so_the_transport_repeats_it() {
    let server = MockServer::start().await;
    let upsert = format!("{API}/accounts/Microsoft.Dynamics.CRM.UpsertMultiple");
    Mock::given(method("POST"))
        .and(path(upsert.as_str()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(upsert.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let rows = (0..3).map(|n| (RecordKey::alternate([("accountnumber", format!("A-{n}"))]), json!({"name": n})));

    let report = client.bulk::<Account>().upsert(rows).send().await.unwrap();

    assert!(report.is_complete());
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(body(&requests[0]), body(&requests[1]));
}

#[tokio::test]
async fn a_table_without_the_message_gets_single_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts/Microsoft.Dynamics.CRM.DeleteMultiple")))
        .respond_with(json_response(400, &fixture("webapi/bulk/delete-multiple-not-implemented.json")))
        .mount(&server)
        .await;
    Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let ids: Vec<Uuid> = (1..=5).map(Uuid::from_u128).collect();

    let report =
        client.bulk::<Account>().delete(ids.clone()).initial_chunk_size(2).max_in_flight(1).send().await.unwrap();

    assert!(report.is_complete());
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 6, "one DeleteMultiple refused, then one DELETE per record: {requests:?}");
    let mut deleted: Vec<String> =
        requests.iter().filter(|r| r.method.as_str() == "DELETE").map(|r| r.url.path().to_owned()).collect();
    deleted.sort();
    let expected: Vec<String> = ids.iter().map(|id| format!("{API}/accounts({id})")).collect();
    assert_eq!(deleted, expected);
}

#[tokio::test]
async fn a_record_that_is_not_an_object_fails_alone_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(CREATE)).respond_with(ids_for).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let input = vec![json!({"name": "r0"}), json!("not a record"), json!({"name": "r2"})];

    let report = client.bulk_untyped("accounts", "account").create(input).send().await.unwrap();

    assert_eq!(report.written(), 2);
    let failure = report.failures().next().unwrap();
    assert_eq!(failure.index(), 1);
    assert!(failure.error().to_string().contains("JSON object"), "{}", failure.error());
    assert_eq!(names_in(&server.received_requests().await.unwrap()[0]), ["r0", "r2"]);
    let bad_name = client.bulk_untyped("accounts?x", "account").create(records(1)).send().await;
    assert!(bad_name.unwrap_err().to_string().contains("accounts?x"));
}

#[tokio::test]
async fn records_from_a_stream_are_written_as_from_an_iterator() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(CREATE)).respond_with(ids_for).mount(&server).await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts/Microsoft.Dynamics.CRM.UpdateMultiple")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let table = client.bulk::<Account>();

    let created = table
        .create_stream(futures_util::stream::iter(records(5)))
        .initial_chunk_size(2)
        .max_chunk_size(2)
        .max_in_flight(1)
        .send()
        .await
        .unwrap();
    let ids: Vec<Uuid> = created.ids().map(Option::unwrap).collect();
    let updates = futures_util::stream::iter(ids.clone()).map(|id| (id, json!({"name": "renamed"})));
    let updated = table.update_stream(updates).send().await.unwrap();

    assert_eq!(ids, (0..5).map(|n| id_for(&format!("r{n}"))).collect::<Vec<_>>());
    assert!(updated.is_complete());
    assert_eq!(updated.ids().map(Option::unwrap).collect::<Vec<_>>(), ids);
    let requests = server.received_requests().await.unwrap();
    let sizes: Vec<usize> = requests.iter().map(|r| body(r)["Targets"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [2, 2, 1, 5], "chunks of two from the stream, then one UpdateMultiple");
    let update = &body(&requests[3])["Targets"][0];
    assert_eq!(update["accountid"], ids[0].to_string());
    assert_eq!(update["@odata.type"], "Microsoft.Dynamics.CRM.account");
}

#[tokio::test]
async fn a_bulk_write_of_owned_records_runs_on_a_spawned_task() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(CREATE)).respond_with(ids_for).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let write = client.bulk_untyped("accounts", "account").create(records(3));

    let report = tokio::spawn(write.send()).await.unwrap().unwrap();

    assert_eq!(report.written(), 3);
}

#[tokio::test]
async fn a_chunk_still_throttled_when_retries_run_out_is_reported_not_written() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(json_response(429, &fixture("webapi/bulk/throttled.json")).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (builder, _, _) = support::webapi_builder(&server);
    let client = builder.retry_policy(dynamics_webapi::RetryPolicy::none()).build().unwrap();

    let report = client.bulk_untyped("accounts", "account").create(records(4)).send().await.unwrap();

    assert_eq!(server.received_requests().await.unwrap().len(), 1, "not split: every record would be refused");
    assert_eq!(report.written(), 0);
    assert!(report.failures().all(|failure| failure.error().is_throttled() && !failure.is_outcome_unknown()));
}

#[tokio::test]
async fn an_elastic_table_chunk_that_partly_succeeded_is_settled_per_record_and_never_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/contoso_sensordatas/Microsoft.Dynamics.CRM.CreateMultiple")))
        .respond_with(json_response(400, &fixture("webapi/bulk/elastic-partial.json")))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let report =
        client.bulk_untyped("contoso_sensordatas", "contoso_sensordata").create(records(3)).send().await.unwrap();

    assert_eq!(server.received_requests().await.unwrap().len(), 1, "written records are never sent again");
    let ids: Vec<Option<String>> = report.ids().map(|id| id.map(|id| id.to_string())).collect();
    assert_eq!(
        ids,
        [
            Some("6114ca58-0928-ee11-9965-6045bd5cd155".to_owned()),
            None,
            Some("6314ca58-0928-ee11-9965-6045bd5cd155".to_owned())
        ]
    );
    let failure = report.failures().next().unwrap();
    assert_eq!((failure.index(), failure.is_outcome_unknown()), (1, false));
    assert_eq!(report.failures().count(), 1);
}

#[tokio::test]
async fn chunks_in_flight_are_answered_while_a_slow_stream_is_read_and_do_not_time_out() {
    // Three records of one chunk each, two chunks in flight; the third record is slow to arrive. The chunks
    // already sent must be read while the write waits for it: an answered request left unpolled for longer than
    // the client's timeout would be reported as timed out, its records as unknown although they are written.
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(CREATE)).respond_with(ids_for).mount(&server).await;
    fail_unmatched(&server).await;
    let (builder, _, _) = support::webapi_builder(&server);
    let client = builder.timeout(Duration::from_millis(500)).build().unwrap();
    let slow = futures_util::stream::iter(records(3)).then(|record| async move {
        if record["name"] == "r2" {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        record
    });

    let report = client
        .bulk_untyped("accounts", "account")
        .create_stream(slow)
        .initial_chunk_size(1)
        .max_chunk_size(1)
        .max_in_flight(2)
        .send()
        .await
        .unwrap();

    let failures: Vec<String> = report.failures().map(|f| f.error().to_string()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(report.written(), 3);
    assert_eq!(successful_writes(&server, |_| true).await.values().copied().collect::<Vec<_>>(), [1, 1, 1]);
}
