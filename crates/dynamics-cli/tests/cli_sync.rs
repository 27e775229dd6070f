//! `dynamics sync` end to end against the emulator (dynamics-testkit): the first run, incremental runs with
//! upserts and removals, interrupted runs that leave the state as it was, and a table without change tracking.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use dynamics_testkit::Emulator;
use serde_json::{Value, json};
use support::{env_of, run, temp_dir};

async fn emulator_with(records: usize) -> Emulator {
    Emulator::builder().seed_generated("accounts", records).start().await.expect("the emulator starts")
}

fn env(emulator: &Emulator) -> dynamics_cli::Env {
    env_of(&emulator.env())
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect()
}

fn state(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(records: &[Value], column: &str) -> BTreeSet<String> {
    records.iter().map(|r| r[column].as_str().unwrap().to_owned()).collect()
}

fn id_of(record: &Value) -> uuid::Uuid {
    record["accountid"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_first_run_writes_every_record_and_later_runs_only_the_changes() {
    let emulator = emulator_with(20).await;
    let dir = temp_dir("sync");
    let (out, state_file) = (dir.join("accounts.ndjson"), dir.join("accounts.sync.json"));
    let (out_text, state_text) = (out.display().to_string(), state_file.display().to_string());
    let args = [
        "sync",
        "accounts",
        "--state",
        &state_text,
        "--out",
        &out_text,
        "--select",
        "name,accountnumber",
        "--page-size",
        "7",
    ];

    let first = run(&args, &env(&emulator), "").await.success();
    assert_eq!(first.stdout, "", "data goes to the file");
    assert!(first.stderr.contains("synced accounts (first run): 25 records"), "{}", first.stderr);
    let written = ndjson(&out);
    assert_eq!(written.len(), 25);
    assert_eq!(ids(&written, "accountid"), ids(&emulator.records("accounts"), "accountid"));
    assert!(written.iter().all(|r| r["name"].is_string() && r.get("telephone1").is_none()), "only the selection");
    let tracked = emulator.journal().matching("GET", "/api/data/v9.2/accounts");
    assert_eq!(tracked.len(), 4, "25 records in pages of 7");
    assert!(tracked[0].header("prefer").unwrap_or_default().contains("odata.track-changes"), "{:?}", tracked[0]);
    let saved = state(&state_file);
    assert!(saved["delta_link"]["url"].as_str().unwrap().contains("$deltatoken="), "{saved}");
    assert_eq!((saved["runs"].as_u64(), saved["last_run"]["upserted"].as_u64()), (Some(1), Some(25)));
    assert_eq!(saved["primary_id"], "accountid");

    // Three changes through the command line (the client), one by another user of the org.
    let accounts = emulator.records("accounts");
    let (renamed, removed, touched) = (id_of(&accounts[3]), id_of(&accounts[10]), id_of(&accounts[12]));
    run(&["update", "accounts", &renamed.to_string()], &env(&emulator), r#"{"name": "Renamed Ltd"}"#).await.success();
    let created = run(&["create", "accounts"], &env(&emulator), r#"{"name": "New Co", "accountnumber": "NEW-1"}"#)
        .await
        .success()
        .stdout
        .trim()
        .to_owned();
    run(&["delete", "accounts", &removed.to_string()], &env(&emulator), "").await.success();
    assert!(emulator.update("accounts", touched, json!({"telephone1": "555-0111"})).unwrap());

    let second = run(&args, &env(&emulator), "").await.success();
    assert!(second.stderr.contains("synced accounts: 3 upserted, 1 removed since 20"), "{}", second.stderr);
    let changes = ndjson(&out);
    assert_eq!(changes.len(), 4, "{changes:?}");
    let upserted: Vec<&Value> = changes.iter().filter(|c| c.get("@removed").is_none()).collect();
    let by_id = |id: &str| upserted.iter().find(|c| c["accountid"] == id).copied();
    assert_eq!(by_id(&renamed.to_string()).unwrap()["name"], "Renamed Ltd");
    assert_eq!(by_id(&created).unwrap()["accountnumber"], "NEW-1");
    assert!(by_id(&touched.to_string()).is_some(), "a change by another user is in the delta too");
    let removals: Vec<&Value> = changes.iter().filter(|c| c.get("@removed").is_some()).collect();
    assert_eq!(removals, [&json!({"@removed": {"reason": "deleted"}, "accountid": removed.to_string()})]);
    let saved_again = state(&state_file);
    assert_ne!(saved_again["delta_link"], saved["delta_link"]);
    assert_eq!(saved_again["runs"], 2);

    let third = run(&args, &env(&emulator), "").await.success();
    assert!(third.stderr.contains("0 upserted, 0 removed"), "{}", third.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "", "no changes, an empty file");
    assert!(!Path::new(&format!("{out_text}.partial")).exists());
}

#[tokio::test]
async fn csv_sync_keeps_its_columns_and_marks_removals_in_the_first_column() {
    let emulator = emulator_with(3).await;
    let dir = temp_dir("sync-csv");
    let (out, state_file) = (dir.join("accounts.csv"), dir.join("state.json"));
    let (out_text, state_text) = (out.display().to_string(), state_file.display().to_string());
    let args = ["sync", "accounts", "--state", &state_text, "--out", &out_text, "--format", "csv", "--select", "name"];
    run(&args, &env(&emulator), "").await.success();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["@removed", "accountid", "name"]);
    assert_eq!(reader.records().count(), 8);

    let gone = id_of(&emulator.records("accounts")[0]);
    assert!(emulator.delete("accounts", gone));
    let kept = id_of(&emulator.records("accounts")[0]);
    assert!(emulator.update("accounts", kept, json!({"name": "Changed, Inc."})).unwrap());
    run(&args, &env(&emulator), "").await.success();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["@removed", "accountid", "name"]);
    let mut rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            vec![String::new(), kept.to_string(), "Changed, Inc.".to_owned()],
            vec!["deleted".to_owned(), gone.to_string(), String::new()]
        ]
    );
}

#[tokio::test]
async fn an_interrupted_run_saves_nothing_and_the_rerun_reads_the_same_changes() {
    let emulator = emulator_with(20).await;
    let dir = temp_dir("sync-resume");
    let (out, state_file) = (dir.join("accounts.ndjson"), dir.join("state.json"));
    let (out_text, state_text) = (out.display().to_string(), state_file.display().to_string());
    let args = ["--retries", "0", "sync", "accounts", "--state", &state_text, "--out", &out_text, "--page-size", "5"];

    // The first run fails on its third page: no state file claims it complete, and no output is left.
    emulator.faults().unavailable_every(3);
    let interrupted = run(&args, &env(&emulator), "").await.failure(1);
    assert!(
        interrupted.stderr.contains("sync interrupted after 10 changes; no state was saved"),
        "{}",
        interrupted.stderr
    );
    assert!(
        interrupted.stderr.lines().any(|l| l.starts_with("error: ") && l.contains("503")),
        "{}",
        interrupted.stderr
    );
    assert!(!state_file.exists() && !out.exists());
    assert!(!Path::new(&format!("{out_text}.partial")).exists());
    emulator.faults().clear();
    run(&args, &env(&emulator), "").await.success();
    assert_eq!(ndjson(&out).len(), 25);
    let saved = std::fs::read_to_string(&state_file).unwrap();
    let first_output = std::fs::read_to_string(&out).unwrap();

    // An incremental run that fails leaves the state and the last output as they were.
    let changed = id_of(&emulator.records("accounts")[7]);
    assert!(emulator.update("accounts", changed, json!({"name": "Changed once"})).unwrap());
    emulator.faults().unavailable_next(1);
    let interrupted = run(&args, &env(&emulator), "").await.failure(1);
    assert!(interrupted.stderr.contains("the saved state is unchanged"), "{}", interrupted.stderr);
    assert_eq!(std::fs::read_to_string(&state_file).unwrap(), saved, "the state is untouched");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first_output, "the last run's output is untouched");
    let rerun = run(&args, &env(&emulator), "").await.success();
    assert!(rerun.stderr.contains("1 upserted, 0 removed"), "{}", rerun.stderr);
    let changes = ndjson(&out);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0]["accountid"].as_str(), changes[0]["name"].as_str()),
        (Some(changed.to_string().as_str()), Some("Changed once"))
    );
}

#[tokio::test]
async fn a_table_without_change_tracking_names_the_setting() {
    let emulator = emulator_with(0).await;
    let dir = temp_dir("sync-off");
    let (out, state_file) = (dir.join("tasks.ndjson"), dir.join("state.json"));
    let (out_text, state_text) = (out.display().to_string(), state_file.display().to_string());
    let args = ["sync", "tasks", "--state", &state_text, "--out", &out_text];
    let output = run(&args, &env(&emulator), "").await.failure(1);
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", output.stderr);
    assert!(lines[0].starts_with("error: GET tasks answered 400 0x80072491"), "{}", output.stderr);
    assert!(lines[0].contains("Entity task isn't enabled for change tracking"), "{}", output.stderr);
    assert!(
        lines[0].contains("hint: turn on change tracking") && lines[0].contains("\"Track changes\""),
        "{}",
        output.stderr
    );
    assert_eq!(output.stdout, "");
    assert!(!state_file.exists() && !out.exists());
}

#[tokio::test]
async fn a_state_of_another_sync_is_refused_until_restarted() {
    let emulator = emulator_with(0).await;
    let dir = temp_dir("sync-other");
    let (out, state_file) = (dir.join("out.ndjson").display().to_string(), dir.join("state.json"));
    let state_text = state_file.display().to_string();
    run(&["sync", "accounts", "--state", &state_text, "--out", &out], &env(&emulator), "").await.success();
    let other = ["sync", "accounts", "--state", &state_text, "--out", &out, "--select", "name"];
    let refused = run(&other, &env(&emulator), "").await.failure(1);
    assert!(refused.stderr.contains("belongs to another sync (accounts, all columns, ndjson"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--restart"), "{}", refused.stderr);
    let restarted = run(&[&other[..], &["--restart"]].concat(), &env(&emulator), "").await.success();
    assert!(restarted.stderr.contains("(first run): 5 records"), "{}", restarted.stderr);
    assert_eq!(state(&state_file)["select"], json!(["name"]));
    let same = run(&["sync", "accounts", "--state", &state_text, "--out", &state_text], &env(&emulator), "").await;
    assert!(same.failure(1).stderr.contains("--out and --state must be two files"));
    assert_eq!(state(&state_file)["select"], json!(["name"]), "the state is untouched");
}

#[tokio::test]
async fn a_csv_sync_that_starts_on_an_empty_table_takes_its_columns_from_the_first_rows() {
    // No row fixed the columns on the first run: the next run, with rows, must not be refused for them.
    let emulator = Emulator::builder().without_fixtures().start().await.expect("the emulator starts");
    assert!(emulator.records("accounts").is_empty());
    let dir = temp_dir("sync-csv-empty");
    let (out, state_file) = (dir.join("accounts.csv"), dir.join("state.json"));
    let (out_text, state_text) = (out.display().to_string(), state_file.display().to_string());
    let args = ["sync", "accounts", "--state", &state_text, "--out", &out_text, "--format", "csv"];
    run(&args, &env(&emulator), "").await.success();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "@removed,accountid\n");

    let id = emulator.insert("accounts", json!({"name": "First, Ltd"}));
    let second = run(&args, &env(&emulator), "").await.success();
    assert!(second.stderr.contains("1 upserted, 0 removed"), "{}", second.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header[..2], ["@removed", "accountid"]);
    let name_at = header.iter().position(|c| c == "name").expect("the name column");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!((&rows[0][1], &rows[0][name_at]), (id.to_string().as_str(), "First, Ltd"));
}
