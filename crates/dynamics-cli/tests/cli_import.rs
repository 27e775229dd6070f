//! `dynamics import` end to end against the emulator (dynamics-testkit): bulk creates with a bad record named by
//! its line, upserts and updates by key, input refused before anything is sent, and throttled chunks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use dynamics_testkit::Emulator;
use serde_json::{Value, json};
use support::{env_of, run, temp_dir};

fn env(emulator: &Emulator) -> dynamics_cli::Env {
    env_of(&emulator.env())
}

/// How many records of `set` have each account number starting with `prefix`.
fn numbers(emulator: &Emulator, prefix: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for record in emulator.records("accounts") {
        if let Some(number) = record["accountnumber"].as_str().filter(|n| n.starts_with(prefix)) {
            *seen.entry(number.to_owned()).or_insert(0) += 1;
        }
    }
    seen
}

fn ndjson_of(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

const BULK: &str = "/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.";

#[tokio::test]
async fn a_bad_record_is_named_by_its_line_and_every_other_is_written_once() {
    let emulator = Emulator::start().await;
    let mut records: Vec<Value> =
        (0..300).map(|n| json!({"name": format!("Imported {n}"), "accountnumber": format!("IMP-{n:04}")})).collect();
    // Line 151: an account number the org already has (CON-001), refused by its alternate key.
    records[150] = json!({"name": "Duplicate", "accountnumber": "CON-001"});
    let dir = temp_dir("import");
    let file = dir.join("accounts.ndjson");
    std::fs::write(&file, ndjson_of(&records)).unwrap();

    let output = run(&["import", "accounts", "--file", &file.display().to_string()], &env(&emulator), "").await;
    let output = output.failure(1);
    assert_eq!(output.stdout, "");
    let failures: Vec<&str> = output.stderr.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(failures.len(), 1, "{}", output.stderr);
    assert!(failures[0].starts_with("line 151: "), "{}", output.stderr);
    assert!(failures[0].contains("0x80040237"), "the reason is the server's: {}", output.stderr);
    assert!(
        output.stderr.contains("imported into accounts: 299 written, 1 failed, of 300 records (CreateMultiple in"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("error: 1 of 300 records were not written"), "{}", output.stderr);

    let written = numbers(&emulator, "IMP-");
    assert_eq!(written.len(), 299, "every good record is written");
    assert!(written.values().all(|count| *count == 1), "none twice");
    assert!(!written.contains_key("IMP-0150"));
    let contoso: Vec<Value> =
        emulator.records("accounts").into_iter().filter(|r| r["accountnumber"] == "CON-001").collect();
    assert_eq!(contoso.len(), 1);
    assert_eq!(contoso[0]["name"], "Contoso Ltd", "the duplicate changed nothing");
    let bulk = emulator.journal().matching("POST", &format!("{BULK}CreateMultiple"));
    assert!(!bulk.is_empty(), "the records went through CreateMultiple");
    let targets = &bulk[0].body_json().unwrap()["Targets"];
    assert_eq!(targets[0]["@odata.type"], "Microsoft.Dynamics.CRM.account");
}

#[tokio::test]
async fn upsert_and_update_by_key_from_a_json_array_on_stdin() {
    let emulator = Emulator::start().await;
    let array = json!([
        {"accountnumber": "CON-001", "name": "Contoso (upserted)"},
        {"accountnumber": "UPS-0001", "name": "Created by upsert"}
    ]);
    let output = run(
        &["import", "accounts", "--file", "-", "--mode", "upsert", "--key", "accountnumber"],
        &env(&emulator),
        &array.to_string(),
    )
    .await
    .success();
    assert!(
        output.stderr.contains("2 written, 0 failed, of 2 records (UpsertMultiple in 1 requests"),
        "{}",
        output.stderr
    );
    let by_number = |number: &str| {
        emulator.records("accounts").into_iter().find(|r| r["accountnumber"] == number).unwrap_or(Value::Null)
    };
    assert_eq!(by_number("CON-001")["name"], "Contoso (upserted)");
    assert_eq!(by_number("UPS-0001")["name"], "Created by upsert");
    let sent = emulator.journal().matching("POST", &format!("{BULK}UpsertMultiple"));
    assert_eq!(sent[0].body_json().unwrap()["Targets"][0]["@odata.id"], "accounts(accountnumber='CON-001')");

    // Update by primary id: an id the org does not have fails alone, reported by its index.
    let fabrikam = by_number("FAB-002")["accountid"].as_str().unwrap().to_owned();
    let array = json!([
        {"accountid": fabrikam, "telephone1": "555-0222"},
        {"accountid": "00000000-0000-4000-8000-0000000000aa", "telephone1": "555-0333"}
    ]);
    let output = run(&["import", "accounts", "--file", "-", "--mode", "update"], &env(&emulator), &array.to_string())
        .await
        .failure(1);
    assert!(output.stderr.lines().any(|l| l.starts_with("index 1: ") && l.contains("404")), "{}", output.stderr);
    assert!(output.stderr.contains("1 written, 1 failed"), "{}", output.stderr);
    assert_eq!(by_number("FAB-002")["telephone1"], "555-0222");
    assert!(
        emulator.record("accounts", "00000000-0000-4000-8000-0000000000aa".parse().unwrap()).is_none(),
        "update never creates"
    );
}

#[tokio::test]
async fn input_that_cannot_be_sent_is_refused_before_anything_is_sent() {
    let emulator = Emulator::start().await;
    let env = env(&emulator);
    let not_json = run(&["import", "accounts", "--file", "-"], &env, "{\"name\":\"a\"}\n{oops}\n").await.failure(1);
    assert!(not_json.stderr.starts_with("error: line 2 of standard input is not JSON"), "{}", not_json.stderr);
    let no_key = run(
        &["import", "accounts", "--file", "-", "--mode", "upsert", "--key", "accountnumber"],
        &env,
        "[{\"accountnumber\":\"A-1\"},{\"name\":\"no key\"}]",
    )
    .await
    .failure(1);
    assert!(no_key.stderr.contains("index 1 has no value for the key column accountnumber"), "{}", no_key.stderr);
    let no_id =
        run(&["import", "accounts", "--file", "-", "--mode", "update"], &env, "{\"name\":\"x\"}\n").await.failure(1);
    assert!(no_id.stderr.contains("line 1 has no accountid"), "{}", no_id.stderr);
    assert!(no_id.stderr.contains("hint: ") && no_id.stderr.contains("--key"), "{}", no_id.stderr);
    let key_on_create =
        run(&["import", "accounts", "--file", "-", "--key", "accountnumber"], &env, "{}\n").await.failure(1);
    assert!(key_on_create.stderr.contains("--key addresses existing records"), "{}", key_on_create.stderr);
    let missing = run(&["import", "accounts", "--file", "/nonexistent/records.ndjson"], &env, "").await.failure(1);
    assert!(missing.stderr.contains("cannot be read"), "{}", missing.stderr);
    assert!(emulator.journal().matching("POST", "/api/data/v9.2/accounts").is_empty(), "nothing was sent");
}

#[tokio::test]
async fn throttled_chunks_are_retried_and_every_record_is_written_exactly_once() {
    let emulator = Emulator::start().await;
    let records: Vec<Value> =
        (0..1000).map(|n| json!({"name": format!("Throttled {n}"), "accountnumber": format!("THR-{n:04}")})).collect();
    let dir = temp_dir("import-throttled");
    let file = dir.join("accounts.ndjson");
    std::fs::write(&file, ndjson_of(&records)).unwrap();
    emulator.faults().throttle_every(2, Duration::ZERO);
    let output = run(
        &["import", "accounts", "--file", &file.display().to_string(), "--max-chunk-size", "100"],
        &env(&emulator),
        "",
    )
    .await
    .success();
    emulator.faults().clear();
    assert!(output.stderr.contains("1000 written, 0 failed, of 1000 records"), "{}", output.stderr);
    let written = numbers(&emulator, "THR-");
    assert_eq!(written.len(), 1000);
    assert!(written.values().all(|count| *count == 1), "no record twice");
    assert!(emulator.counters().throttled >= 5, "throttled {} times", emulator.counters().throttled);
    let chunks = emulator.journal().matching("POST", &format!("{BULK}CreateMultiple"));
    let accepted: usize = chunks
        .iter()
        .filter(|entry| entry.status() == 200)
        .map(|entry| entry.body_json().unwrap()["Targets"].as_array().unwrap().len())
        .sum();
    assert_eq!(accepted, 1000, "the accepted chunks hold each record once");
    assert!(chunks.iter().all(|entry| entry.body_json().unwrap()["Targets"].as_array().unwrap().len() <= 100));
}

#[tokio::test]
async fn chunks_refused_as_too_large_are_split_and_the_import_goes_on() {
    let emulator = Emulator::builder().max_bulk_targets(150).start().await.unwrap();
    let records: Vec<Value> = (0..700).map(|n| json!({"name": format!("Sized {n}")})).collect();
    let dir = temp_dir("import-sized");
    let file = dir.join("accounts.json");
    std::fs::write(&file, Value::Array(records).to_string()).unwrap();
    let output =
        run(&["import", "accounts", "--file", &file.display().to_string()], &env(&emulator), "").await.success();
    assert!(output.stderr.contains("700 written, 0 failed"), "{}", output.stderr);
    let sizes: Vec<(usize, u16)> = emulator
        .journal()
        .matching("POST", &format!("{BULK}CreateMultiple"))
        .iter()
        .map(|entry| (entry.body_json().unwrap()["Targets"].as_array().unwrap().len(), entry.status()))
        .collect();
    assert!(sizes.iter().any(|(size, status)| *size > 150 && *status != 200), "a chunk was refused: {sizes:?}");
    assert!(sizes.iter().filter(|(_, status)| *status == 200).all(|(size, _)| *size <= 150), "{sizes:?}");
    let names =
        emulator.records("accounts").iter().filter(|r| r["name"].as_str().unwrap_or("").starts_with("Sized ")).count();
    assert_eq!(names, 700);
}

#[tokio::test]
async fn decimals_are_sent_exactly_as_written_in_the_input() {
    // A money value with more digits than an f64 holds: an export writes it exactly, an import must send it so.
    let emulator = Emulator::start().await;
    let exact = "12345678901234.5678";
    let ndjson = format!("{{\"name\":\"Exact NDJSON\",\"revenue\":{exact}}}\n");
    run(&["import", "accounts", "--file", "-"], &env(&emulator), ndjson.as_str()).await.success();
    let array = format!(
        "[{{\"accountid\":\"a0000001-0000-4000-8000-000000000001\",\"revenue\":{exact},\"creditlimit\":0.1000}}]"
    );
    run(&["import", "accounts", "--file", "-", "--mode", "update"], &env(&emulator), array.as_str()).await.success();
    let bodies: Vec<String> =
        emulator.journal().matching("POST", BULK).iter().map(dynamics_testkit::JournalEntry::body_text).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    for body in &bodies {
        assert!(body.contains(&format!("\"revenue\":{exact}")), "sent as written: {body}");
    }
    assert!(bodies[1].contains("\"creditlimit\":0.1000"), "{}", bodies[1]);
}
