//! The emulated bulk actions (`CreateMultiple`, `UpdateMultiple`, `UpsertMultiple`, `DeleteMultiple`) through
//! the real `dynamics-webapi` bulk writer: splitting under a payload limit, all-or-nothing chunks, alternate
//! keys, throttling, elastic tables, and a revoked privilege.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use dynamics_testkit::{Emulator, EntitySetSpec, JournalEntry};
use dynamics_webapi::RecordKey;
use dynamics_webapi::entity::Entity;
use dynamics_webapi::query::Query;
use support::{bearer, client};

struct Account;
impl Entity for Account {
    const ENTITY_SET: &'static str = "accounts";
    const LOGICAL_NAME: &'static str = "account";
    const PRIMARY_ID: &'static str = "accountid";
}

const CONTOSO: &str = "a0000001-0000-4000-8000-000000000001";

/// The bulk requests of one action, with the number of targets each carried.
fn bulk_requests(emulator: &Emulator, set: &str, action: &str) -> Vec<(JournalEntry, usize)> {
    emulator
        .journal()
        .matching("POST", &format!("/api/data/v9.2/{set}/Microsoft.Dynamics.CRM.{action}"))
        .into_iter()
        .map(|entry| {
            let targets = entry.body_json().and_then(|body| body["Targets"].as_array().map(Vec::len)).unwrap_or(0);
            (entry, targets)
        })
        .collect()
}

/// A response's JSON body.
async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// The records of a set whose `column` starts with `prefix`, by that column.
fn by_column(emulator: &Emulator, set: &str, column: &str, prefix: &str) -> HashMap<String, Vec<Value>> {
    let mut found: HashMap<String, Vec<Value>> = HashMap::new();
    for record in emulator.records(set) {
        if let Some(value) = record[column].as_str().filter(|value| value.starts_with(prefix)) {
            found.entry(value.to_owned()).or_default().push(record.clone());
        }
    }
    found
}

#[tokio::test]
async fn a_bulk_create_is_split_under_the_payload_limit_and_writes_every_record_exactly_once() {
    let emulator = Emulator::builder().max_bulk_targets(300).start().await.unwrap();
    let client = client(&emulator);
    let records: Vec<Value> = (0..3000)
        .map(|n| json!({"name": format!("Bulk account {n:04}"), "accountnumber": format!("BULK-{n:04}")}))
        .collect();
    let report = client.bulk::<Account>().create(&records).max_chunk_size(1000).send().await.unwrap();

    assert_eq!(report.len(), 3000);
    assert_eq!(report.written(), 3000, "failures: {:?}", report.failures().take(3).collect::<Vec<_>>());
    // Every record is in the org once, under the id the report gives for its index.
    let stored = by_column(&emulator, "accounts", "accountnumber", "BULK-");
    assert_eq!(stored.len(), 3000);
    assert!(stored.values().all(|copies| copies.len() == 1));
    for (index, id) in report.ids().enumerate() {
        let record = emulator.record("accounts", id.expect("a created record has an id")).unwrap();
        assert_eq!(record["accountnumber"], format!("BULK-{index:04}"));
    }
    assert_eq!(emulator.records("accounts").len(), 3005);
    assert_eq!(emulator.counters().created, 3000);

    // The limit was hit (answered with the payload error, nothing written) and the client went below it.
    let requests = bulk_requests(&emulator, "accounts", "CreateMultiple");
    let refused: Vec<&(JournalEntry, usize)> = requests.iter().filter(|(entry, _)| entry.status() == 400).collect();
    assert!(!refused.is_empty(), "the client never reached the limit");
    assert!(refused.iter().all(|(_, targets)| *targets > 300));
    let written: usize = requests.iter().filter(|(entry, _)| entry.status() == 200).map(|(_, targets)| targets).sum();
    assert_eq!(written, 3000, "each record was accepted in exactly one request");
    assert!(requests.iter().filter(|(entry, _)| entry.status() == 200).all(|(_, targets)| *targets <= 300));
    assert!(
        emulator
            .journal()
            .matching("POST", "/api/data/v9.2/accounts")
            .iter()
            .all(|entry| entry.path().ends_with("CreateMultiple"))
    );
}

#[tokio::test]
async fn the_byte_limit_answers_the_message_size_error_the_client_shrinks_on() {
    let emulator = Emulator::builder().max_bulk_bytes(20_000).start().await.unwrap();
    let client = client(&emulator);
    let records: Vec<Value> = (0..400).map(|n| json!({"name": format!("Sized account {n:03}")})).collect();
    let report = client.bulk::<Account>().create(&records).initial_chunk_size(400).send().await.unwrap();
    assert_eq!(report.written(), 400);
    let requests = bulk_requests(&emulator, "accounts", "CreateMultiple");
    let (first, _) = &requests[0];
    assert_eq!(first.status(), 400);
    assert!(requests.iter().filter(|(entry, _)| entry.status() == 200).all(|(entry, _)| entry.body().len() <= 20_000));
    assert_eq!(by_column(&emulator, "accounts", "name", "Sized account ").len(), 400);
}

#[tokio::test]
async fn the_answers_have_the_documented_shapes() {
    let emulator = Emulator::builder().max_bulk_targets(2).start().await.unwrap();
    let http = reqwest::Client::new();
    let bearer = bearer(&emulator).await;
    let post = |action: &str, body: Value| {
        http.post(format!("{}accounts/Microsoft.Dynamics.CRM.{action}", emulator.service_root()))
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
    };
    let created = post(
        "CreateMultiple",
        json!({"Targets": [
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "One", "accountnumber": "SH-1"},
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Two", "accountnumber": "SH-2"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 200);
    let answer = json_of(created).await;
    assert!(
        answer["@odata.context"].as_str().unwrap().ends_with("$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse")
    );
    let ids: Vec<Uuid> = serde_json::from_value(answer["Ids"].clone()).unwrap();
    assert_eq!(emulator.record("accounts", ids[0]).unwrap()["accountnumber"], "SH-1");
    assert_eq!(emulator.record("accounts", ids[1]).unwrap()["accountnumber"], "SH-2");

    let updated = post(
        "UpdateMultiple",
        json!({"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": ids[0], "name": "One, renamed"}]}),
    )
    .await
    .unwrap();
    assert_eq!(updated.status(), 204);
    assert_eq!(emulator.record("accounts", ids[0]).unwrap()["name"], "One, renamed");

    let upserted = post(
        "UpsertMultiple",
        json!({"Targets": [
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": "accounts(accountnumber='SH-2')", "name": "Two, upserted"},
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": "accounts(accountnumber='O''Neil')", "name": "O'Neil"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(upserted.status(), 204, "UpsertMultiple returns 204 NoContent");
    assert_eq!(emulator.record("accounts", ids[1]).unwrap()["name"], "Two, upserted");
    assert_eq!(by_column(&emulator, "accounts", "accountnumber", "O'Neil").len(), 1);

    // Without @odata.type, the whole request is refused and nothing is written.
    let untyped = post(
        "CreateMultiple",
        json!({"Targets": [
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Typed"},
            {"name": "Untyped"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(untyped.status(), 400);
    let error = json_of(untyped).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("@odata.type"), "{error}");
    assert_eq!(by_column(&emulator, "accounts", "name", "Typed").len(), 0, "rolled back");

    // Over the limit: Dataverse's payload error, which the client's classifier reads as "too large".
    let too_many = post(
        "CreateMultiple",
        json!({"Targets": [
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "a"},
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "b"},
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "c"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(too_many.status(), 400);
    let error = json_of(too_many).await;
    assert_eq!(error["error"]["code"], "0x80040216");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Message size exceeded when sending context to Sandbox.")
    );

    // DeleteMultiple is for elastic tables: a standard table answers the documented error.
    let delete = post(
        "DeleteMultiple",
        json!({"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": ids[0]}]}),
    )
    .await
    .unwrap();
    assert_eq!(delete.status(), 400);
    let error = json_of(delete).await;
    assert_eq!(error["error"]["message"], "DeleteMultiple has not yet been implemented.");
    assert!(emulator.record("accounts", ids[0]).is_some());
}

#[tokio::test]
async fn upserts_by_alternate_key_update_the_existing_record_and_create_the_missing_one() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    let report = client
        .bulk::<Account>()
        .upsert([
            (RecordKey::alternate([("accountnumber", "CON-001")]), json!({"name": "Contoso (upserted)"})),
            (RecordKey::alternate([("accountnumber", "UPS-001")]), json!({"name": "Upserted Ltd"})),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(report.written(), 2);
    let contoso = emulator.record("accounts", CONTOSO.parse().unwrap()).unwrap();
    assert_eq!(contoso["name"], "Contoso (upserted)");
    assert_eq!(contoso["accountnumber"], "CON-001");
    let created = by_column(&emulator, "accounts", "accountnumber", "UPS-001");
    assert_eq!(created["UPS-001"][0]["name"], "Upserted Ltd");
    assert_eq!(emulator.records("accounts").len(), 6);
    let counters = emulator.counters();
    assert_eq!((counters.created, counters.updated), (1, 1));

    let requests = bulk_requests(&emulator, "accounts", "UpsertMultiple");
    assert_eq!(requests.len(), 1);
    let body = requests[0].0.body_json().unwrap();
    assert_eq!(body["Targets"][0]["@odata.id"], "accounts(accountnumber='CON-001')");
    assert_eq!(requests[0].0.status(), 204);
}

#[tokio::test]
async fn a_bad_record_rolls_its_chunk_back_and_is_isolated_by_index() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    // Record 17 repeats Contoso's account number: the alternate key must be unique.
    let records: Vec<Value> = (0..40)
        .map(|n| {
            let number = if n == 17 { "CON-001".to_owned() } else { format!("ISO-{n:02}") };
            json!({"name": format!("Isolated {n:02}"), "accountnumber": number})
        })
        .collect();
    let report = client.bulk::<Account>().create(&records).initial_chunk_size(40).send().await.unwrap();
    assert_eq!(report.written(), 39);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].index(), 17);
    assert_eq!(failures[0].error().service_code(), Some("0x80040237"));
    assert!(!failures[0].is_outcome_unknown());

    // Nothing of a refused chunk stayed: each good record is there once, the bad one not at all.
    let stored = by_column(&emulator, "accounts", "accountnumber", "ISO-");
    assert_eq!(stored.len(), 39);
    assert!(stored.values().all(|copies| copies.len() == 1));
    assert_eq!(emulator.records("accounts").len(), 5 + 39);
    assert_eq!(emulator.counters().created, 39);
    let first = &bulk_requests(&emulator, "accounts", "CreateMultiple")[0];
    assert_eq!((first.0.status(), first.1), (412, 40), "the whole first chunk was refused");
    // The bad record ended as its own single request.
    let singles = emulator.journal().matching("POST", "/api/data/v9.2/accounts");
    let single = singles.iter().find(|entry| entry.path() == "/api/data/v9.2/accounts").unwrap();
    assert_eq!((single.body_json().unwrap()["accountnumber"].clone(), single.status()), (json!("CON-001"), 412));
}

#[tokio::test]
async fn bulk_writes_get_through_throttling_without_writing_anything_twice() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    emulator.faults().throttle_every(2, Duration::ZERO);
    let records: Vec<Value> = (0..1200)
        .map(|n| json!({"name": format!("Throttled {n:04}"), "accountnumber": format!("THR-{n:04}")}))
        .collect();
    let report = client.bulk::<Account>().create(&records).send().await.unwrap();
    emulator.faults().clear();
    assert_eq!(report.written(), 1200);
    let stored = by_column(&emulator, "accounts", "accountnumber", "THR-");
    assert_eq!(stored.len(), 1200);
    assert!(stored.values().all(|copies| copies.len() == 1));
    let counters = emulator.counters();
    assert!(counters.throttled >= 1);
    assert_eq!(counters.created, 1200);
    let requests = bulk_requests(&emulator, "accounts", "CreateMultiple");
    assert!(requests.iter().any(|(entry, _)| entry.status() == 429));

    // Updates by id under throttling too.
    emulator.faults().throttle_every(3, Duration::ZERO);
    let updates = report.ids().map(|id| (RecordKey::Id(id.unwrap()), json!({"telephone1": "555-0100"})));
    let updated = client.bulk::<Account>().update(updates.collect::<Vec<_>>()).send().await.unwrap();
    emulator.faults().clear();
    assert_eq!(updated.written(), 1200);
    assert!(
        by_column(&emulator, "accounts", "accountnumber", "THR-").values().all(|c| c[0]["telephone1"] == "555-0100")
    );
    assert_eq!(emulator.counters().updated, 1200);
}

#[tokio::test]
async fn deletes_fall_back_to_single_requests_on_standard_tables_and_use_delete_multiple_on_elastic_ones() {
    let emulator = Emulator::builder()
        .entity_set(EntitySetSpec::new("new_readings", "new_reading", "new_readingid").elastic(true))
        .seed("new_readings", (0..6).map(|n| json!({"new_name": format!("reading {n}")})))
        .start()
        .await
        .unwrap();
    let client = client(&emulator);
    let contacts: Vec<Uuid> = emulator
        .records("contacts")
        .iter()
        .take(2)
        .map(|r| r["contactid"].as_str().unwrap().parse().unwrap())
        .collect();
    let report = client.bulk_untyped("contacts", "contact").delete(contacts.iter().copied()).send().await.unwrap();
    assert_eq!(report.written(), 2);
    assert!(contacts.iter().all(|id| emulator.record("contacts", *id).is_none()));
    assert_eq!(bulk_requests(&emulator, "contacts", "DeleteMultiple")[0].0.status(), 400);
    assert_eq!(emulator.journal().matching("DELETE", "/api/data/v9.2/contacts(").len(), 2);

    let readings: Vec<Uuid> = emulator
        .records("new_readings")
        .iter()
        .take(4)
        .map(|r| r["new_readingid"].as_str().unwrap().parse().unwrap())
        .collect();
    let report =
        client.bulk_untyped("new_readings", "new_reading").delete(readings.iter().copied()).send().await.unwrap();
    assert_eq!(report.written(), 4);
    assert_eq!(emulator.records("new_readings").len(), 2);
    let requests = bulk_requests(&emulator, "new_readings", "DeleteMultiple");
    assert_eq!((requests.len(), requests[0].0.status(), requests[0].1), (1, 204, 4));
    assert!(emulator.journal().matching("DELETE", "/api/data/v9.2/new_readings(").is_empty());
}

#[tokio::test]
async fn an_elastic_table_writes_what_it_can_and_reports_each_record() {
    let emulator = Emulator::builder()
        .entity_set(
            EntitySetSpec::new("new_readings", "new_reading", "new_readingid")
                .alternate_key(["new_code"])
                .elastic(true),
        )
        .seed("new_readings", [json!({"new_code": "R-1"})])
        .start()
        .await
        .unwrap();
    let client = client(&emulator);
    let records = [json!({"new_code": "R-2"}), json!({"new_code": "R-1"}), json!({"new_code": "R-3"})];
    let report = client.bulk_untyped("new_readings", "new_reading").create(&records).send().await.unwrap();
    assert_eq!(report.written(), 2);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!((failures.len(), failures[0].index()), (1, 1));
    // No chunk was sent again: one request, whose error listed each record's status.
    let requests = bulk_requests(&emulator, "new_readings", "CreateMultiple");
    assert_eq!(requests.len(), 1);
    let codes: HashSet<String> =
        emulator.records("new_readings").iter().map(|r| r["new_code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(codes, HashSet::from(["R-1".to_owned(), "R-2".to_owned(), "R-3".to_owned()]));
    assert_eq!(emulator.records("new_readings").len(), 3);
}

#[tokio::test]
async fn a_revoked_privilege_refuses_only_what_needs_it() {
    let emulator = Emulator::builder().revoke_privilege("prvReadAccount").start().await.unwrap();
    let client = client(&emulator);
    let refused: dynamics_webapi::Result<Value> =
        client.entity_set("accounts").retrieve(RecordKey::Id(CONTOSO.parse().unwrap())).send().await;
    let error = refused.unwrap_err();
    assert!(error.is_forbidden());
    assert_eq!(error.service_code(), Some("0x80040220"));
    let message = error.service_error().unwrap().message().to_owned();
    assert!(message.contains("roleCount=1"), "{message}");
    assert!(message.contains("is missing prvReadAccount privilege"), "{message}");
    assert!(message.contains("for entity 'account'"), "{message}");
    // Other tables, and writes to accounts, still work.
    let contacts = client.query::<Value, _>(&Query::untyped("contacts")).first_page().await.unwrap();
    assert_eq!(contacts.records().len(), 5);
    client.entity_set("accounts").create(&json!({"name": "Still creatable"})).send().await.unwrap();

    // At run time: taking prvCreateAccount makes a bulk create fail every record with 403, without splitting.
    emulator.faults().revoke_privilege("prvCreateAccount");
    let records: Vec<Value> = (0..10).map(|n| json!({"name": format!("Denied {n}")})).collect();
    let report = client.bulk::<Account>().create(&records).send().await.unwrap();
    assert_eq!(report.written(), 0);
    assert!(report.failures().all(|failure| failure.error().is_forbidden()));
    assert_eq!(bulk_requests(&emulator, "accounts", "CreateMultiple").len(), 1);
    emulator.faults().restore_privileges();
    let account: Value =
        client.entity_set("accounts").retrieve(RecordKey::Id(CONTOSO.parse().unwrap())).send().await.unwrap();
    assert_eq!(account["accountnumber"], "CON-001");
}

/// A document of `dynamics-webapi`'s bulk fixtures (the shapes the Web API docs give).
fn documented(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/webapi/bulk").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_documented_requests_are_served_with_the_documented_answers() {
    let emulator = Emulator::start().await;
    let http = reqwest::Client::new();
    let bearer = bearer(&emulator).await;
    let post = |action: &str, body: Value| {
        http.post(format!("{}accounts/Microsoft.Dynamics.CRM.{action}", emulator.service_root()))
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.to_string())
            .send()
    };
    let created = post("CreateMultiple", documented("create-multiple.request.json")).await.unwrap();
    assert_eq!(created.status(), 200);
    let answer = json_of(created).await;
    let example = documented("create-multiple.response.json");
    let mut keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    let mut expected: Vec<&String> = example.as_object().unwrap().keys().collect();
    keys.sort();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(answer["Ids"].as_array().unwrap().len(), 3);
    assert_eq!(by_column(&emulator, "accounts", "accountnumber", "A-").len(), 3);

    // The update fixture names two records by id: make them exist, as the docs' example assumes.
    for id in ["8f4c3f92-312b-ee11-bdf4-000d3a993550", "904c3f92-312b-ee11-bdf4-000d3a993550"] {
        emulator.insert("accounts", json!({"accountid": id, "name": "Before", "telephone1": "555-0199"}));
    }
    let updated = post("UpdateMultiple", documented("update-multiple.request.json")).await.unwrap();
    assert_eq!(updated.status(), 204);
    let first = emulator.record("accounts", "8f4c3f92-312b-ee11-bdf4-000d3a993550".parse().unwrap()).unwrap();
    assert_eq!(first["name"], "Contoso Updated");
    let second = emulator.record("accounts", "904c3f92-312b-ee11-bdf4-000d3a993550".parse().unwrap()).unwrap();
    assert_eq!((second["name"].clone(), second["telephone1"].clone()), (json!("Before"), Value::Null));

    let upserted = post("UpsertMultiple", documented("upsert-multiple-alternate-key.request.json")).await.unwrap();
    assert_eq!(upserted.status(), 204);
    assert_eq!(by_column(&emulator, "accounts", "accountnumber", "A-1")["A-1"][0]["name"], "Contoso");
    assert_eq!(by_column(&emulator, "accounts", "accountnumber", "O'Neil")["O'Neil"][0]["name"], "O'Neil Ltd");
    let by_id = emulator.record("accounts", "914c3f92-312b-ee11-bdf4-000d3a993550".parse().unwrap()).unwrap();
    assert_eq!(by_id["name"], "By id");

    let deleted = post("DeleteMultiple", documented("delete-multiple.request.json")).await.unwrap();
    assert_eq!(deleted.status(), 400);
    assert_eq!(json_of(deleted).await, documented("delete-multiple-not-implemented.json"));
}

#[tokio::test]
async fn bulk_targets_bind_lookups_and_a_dangling_one_is_isolated() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    let missing = Uuid::new_v4();
    let records: Vec<Value> = (0..12)
        .map(|n| {
            let account =
                if n == 7 { format!("/accounts({missing})") } else { "/accounts(accountnumber='CON-001')".to_owned() };
            json!({"lastname": format!("Bound {n:02}"), "parentcustomerid_account@odata.bind": account})
        })
        .collect();
    let report = client.bulk_untyped("contacts", "contact").create(&records).send().await.unwrap();
    assert_eq!(report.written(), 11);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!((failures.len(), failures[0].index()), (1, 7));
    assert!(failures[0].error().is_not_found(), "{}", failures[0].error());
    let bound = by_column(&emulator, "contacts", "lastname", "Bound ");
    assert_eq!(bound.len(), 11);
    assert!(bound.values().all(|copies| copies.len() == 1 && copies[0]["_parentcustomerid_value"] == CONTOSO));
}

#[tokio::test]
async fn a_bulk_write_to_an_unknown_set_fails_every_record_with_not_found_and_writes_nothing() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    let records: Vec<Value> = (0..8).map(|n| json!({"name": format!("Nowhere {n}")})).collect();
    let report = client.bulk_untyped("acounts", "acount").create(&records).send().await.unwrap();
    assert_eq!(report.written(), 0);
    assert_eq!(report.failures().count(), 8);
    assert!(report.failures().all(|failure| failure.error().service_code() == Some("0x8006088a")));
    assert_eq!(emulator.counters().created, 0);
    let first = &bulk_requests(&emulator, "acounts", "CreateMultiple")[0].0;
    assert_eq!(first.status(), 404);
}
