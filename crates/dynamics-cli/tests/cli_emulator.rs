//! The `dynamics` command line end to end against the local emulator (dynamics-testkit), in-process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::time::Duration;

use dynamics_testkit::{Emulator, SetupState};
use serde_json::{Value, json};
use support::{env_of, run, run_binary, temp_dir};

async fn emulator() -> Emulator {
    Emulator::start().await
}

async fn emulator_with(records: usize) -> Emulator {
    Emulator::builder().seed_generated("accounts", records).start().await.expect("the emulator starts")
}

fn env(emulator: &Emulator) -> dynamics_cli::Env {
    env_of(&emulator.env())
}

fn ndjson(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).expect("each line is a JSON object")).collect()
}

#[tokio::test]
async fn token_shows_the_claims_and_the_token_only_with_raw() {
    let emulator = emulator().await;
    let output = run(&["token"], &env(&emulator), "").await.success();
    assert!(output.stdout.contains(&format!("audience (aud)   {}", emulator.org_url())), "{}", output.stdout);
    assert!(output.stdout.contains(&format!("app id (appid)   {}", emulator.client_id())), "{}", output.stdout);
    assert!(output.stdout.contains(&format!("tenant (tid)     {}", emulator.tenant_id())), "{}", output.stdout);
    assert!(output.stdout.contains("expires (exp)    20"), "{}", output.stdout);
    assert!(output.stdout.contains("roles            (none; expected"), "{}", output.stdout);

    let raw = run(&["token", "--raw"], &env(&emulator), "").await.success();
    let token = raw.stdout.trim();
    assert_eq!(raw.stdout.lines().count(), 1);
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let again = run(&["token"], &env(&emulator), "").await.success();
    assert!(!again.all().contains(token.split('.').nth(2).unwrap_or("-")), "the claims view never shows the token");
}

#[tokio::test]
async fn whoami_names_the_application_user() {
    let emulator = emulator().await;
    let output = run(&["whoami"], &env(&emulator), "").await.success();
    assert!(output.stdout.contains(&emulator.user_id().to_string()), "{}", output.stdout);
    let json = run(&["whoami", "--format", "json"], &env(&emulator), "").await.success();
    let me: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(me["UserId"], emulator.user_id().to_string());
    assert_eq!(me["OrganizationId"], emulator.organization_id().to_string());
}

#[tokio::test]
async fn query_ndjson_and_json_round_trip_to_the_same_records() {
    let emulator = emulator_with(30).await;
    let output = run(&["query", "accounts", "--all", "--page-size", "7", "--format", "ndjson"], &env(&emulator), "")
        .await
        .success();
    let expected = emulator.records("accounts");
    assert_eq!(expected.len(), 35);
    assert_eq!(ndjson(&output.stdout), expected, "every page, every record, every value");
    let pages = emulator.journal().matching("GET", "/api/data/v9.2/accounts").len();
    assert_eq!(pages, 5, "35 records in pages of 7");

    let json = run(&["query", "accounts", "--top", "3", "--format", "json"], &env(&emulator), "").await.success();
    let array: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(array, expected[..3].to_vec());

    let first_page =
        run(&["query", "accounts", "--page-size", "10", "--format", "ndjson"], &env(&emulator), "").await.success();
    assert_eq!(ndjson(&first_page.stdout).len(), 10);
    assert!(first_page.stderr.contains("pass --all for every page"), "{}", first_page.stderr);
}

#[tokio::test]
async fn query_csv_round_trips_and_options_reach_the_server() {
    let emulator = emulator().await;
    let args = [
        "query",
        "accounts",
        "--select",
        "accountid,name,accountnumber,numberofemployees",
        "--filter",
        "numberofemployees gt 100",
        "--orderby",
        "name desc",
        "--format",
        "csv",
    ];
    let output = run(&args, &env(&emulator), "").await.success();
    let mut reader = csv::Reader::from_reader(output.stdout.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["accountid", "name", "accountnumber", "numberofemployees"]
    );
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    let mut expected: Vec<Vec<String>> = emulator
        .records("accounts")
        .iter()
        .filter(|r| r["numberofemployees"].as_i64().unwrap_or(0) > 100)
        .map(|r| {
            ["accountid", "name", "accountnumber"]
                .iter()
                .map(|c| r[*c].as_str().unwrap_or_default().to_owned())
                .chain([r["numberofemployees"].to_string()])
                .collect()
        })
        .collect();
    expected.sort_by(|a, b| b[1].cmp(&a[1]));
    assert!(!expected.is_empty());
    assert_eq!(rows, expected, "CSV parses back to the same values, filtered and ordered by the server");
    let sent = emulator.journal().matching("GET", "/api/data/v9.2/accounts");
    let query = sent[0].query().unwrap_or_default().to_owned();
    assert!(query.contains("%24filter=") || query.contains("$filter="), "{query}");

    let table = run(&["query", "accounts", "--select", "name,accountnumber"], &env(&emulator), "").await.success();
    assert!(table.stdout.lines().next().unwrap_or_default().starts_with("name"), "{}", table.stdout);
    assert!(table.stdout.contains("CON-001") && table.stdout.contains("Contoso Ltd"), "{}", table.stdout);
}

#[tokio::test]
async fn get_reads_by_id_and_by_alternate_key() {
    let emulator = emulator().await;
    let by_key =
        run(&["get", "accounts", "accountnumber=CON-001", "--select", "name,accountnumber"], &env(&emulator), "")
            .await
            .success();
    let record: Value = serde_json::from_str(&by_key.stdout).unwrap();
    assert_eq!(record["name"], "Contoso Ltd");
    let id = record["accountid"].as_str().unwrap_or("a0000001-0000-4000-8000-000000000001").to_owned();
    let by_id = run(&["get", "accounts", &id], &env(&emulator), "").await.success();
    let full: Value = serde_json::from_str(&by_id.stdout).unwrap();
    assert_eq!(full["accountnumber"], "CON-001");
    let missing =
        run(&["get", "accounts", "00000000-0000-0000-0000-0000000000ff"], &env(&emulator), "").await.failure(1);
    assert!(
        missing.stderr.starts_with("error: GET accounts(00000000-0000-0000-0000-0000000000ff) answered 404"),
        "{}",
        missing.stderr
    );
    assert_eq!(missing.stdout, "");
}

#[tokio::test]
async fn create_update_upsert_and_delete_take_json_from_stdin_or_a_file() {
    let emulator = emulator().await;
    let created =
        run(&["create", "accounts"], &env(&emulator), r#"{"name": "Created by the CLI", "accountnumber": "CLI-1"}"#)
            .await
            .success();
    let id: uuid::Uuid = created.stdout.trim().parse().expect("create prints the new id");
    assert_eq!(emulator.record("accounts", id).unwrap()["name"], "Created by the CLI");

    let dir = temp_dir("write");
    let body = dir.join("update.json");
    std::fs::write(&body, r#"{"telephone1": "555-0142"}"#).unwrap();
    let body_path = body.display().to_string();
    run(&["update", "accounts", &id.to_string(), "--file", &body_path], &env(&emulator), "").await.success();
    assert_eq!(emulator.record("accounts", id).unwrap()["telephone1"], "555-0142");

    let etag = emulator.record("accounts", id).unwrap()["@odata.etag"].as_str().unwrap().to_owned();
    run(&["update", "accounts", &id.to_string(), "--if-match", &etag], &env(&emulator), r#"{"name": "Renamed"}"#)
        .await
        .success();
    let stale =
        run(&["update", "accounts", &id.to_string(), "--if-match", &etag], &env(&emulator), r#"{"name": "Stale"}"#)
            .await
            .failure(1);
    assert!(stale.stderr.contains("412"), "{}", stale.stderr);
    assert!(stale.stderr.contains("hint: the record changed since it was read"), "{}", stale.stderr);
    assert_eq!(emulator.record("accounts", id).unwrap()["name"], "Renamed");

    let never =
        run(&["update", "accounts", "00000000-0000-0000-0000-0000000000ee"], &env(&emulator), r#"{"name": "x"}"#).await;
    never.failure(1);
    assert!(
        emulator.record("accounts", "00000000-0000-0000-0000-0000000000ee".parse().unwrap()).is_none(),
        "update never creates"
    );

    run(&["upsert", "accounts", "accountnumber=UPS-1"], &env(&emulator), r#"{"name": "Upserted"}"#).await.success();
    assert!(emulator.records("accounts").iter().any(|r| r["accountnumber"] == "UPS-1" && r["name"] == "Upserted"));

    run(&["delete", "accounts", &id.to_string()], &env(&emulator), "").await.success();
    assert!(emulator.record("accounts", id).is_none());

    let returned = run(&["create", "accounts", "--return"], &env(&emulator), r#"{"name": "Returned"}"#).await.success();
    let record: Value = serde_json::from_str(&returned.stdout).unwrap();
    assert_eq!(record["name"], "Returned");
    assert!(record["accountid"].is_string(), "{record}");

    let bad = run(&["create", "accounts"], &env(&emulator), "not json").await.failure(1);
    assert!(bad.stderr.contains("the body from standard input is not JSON"), "{}", bad.stderr);
}

#[tokio::test]
async fn export_resumes_after_a_fault_without_duplicates_or_gaps() {
    let emulator = emulator_with(995).await;
    let dir = temp_dir("export-emulator");
    for format in ["ndjson", "csv"] {
        let out = dir.join(format!("accounts.{format}")).display().to_string();
        let args = [
            "--retries",
            "0",
            "export",
            "accounts",
            "--out",
            &out,
            "--format",
            format,
            "--page-size",
            "200",
            "--select",
            "accountid,name,accountnumber",
        ];
        // The third Web API request (the third page) answers 503, and --retries 0 does not retry it.
        emulator.faults().unavailable_every(3);
        let first = run(&args, &env(&emulator), "").await.failure(1);
        assert!(first.stderr.contains("export interrupted after 400 records"), "{}", first.stderr);
        emulator.faults().clear();
        let before = emulator.journal().matching("GET", "/api/data/v9.2/accounts").len();
        let second = run(&args, &env(&emulator), "").await.success();
        assert!(
            second.stderr.contains("resuming the export") && second.stderr.contains("exported 1000 records"),
            "{}",
            second.stderr
        );
        let resumed_pages = emulator.journal().matching("GET", "/api/data/v9.2/accounts").len() - before;
        assert_eq!(resumed_pages, 3, "the rerun reads pages 3, 4 and 5 only");
        let text = std::fs::read_to_string(&out).unwrap();
        let ids: Vec<String> = if format == "ndjson" {
            ndjson(&text).iter().map(|r| r["accountid"].as_str().unwrap().to_owned()).collect()
        } else {
            csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()[0].to_owned()).collect()
        };
        let expected: Vec<String> =
            emulator.records("accounts").iter().map(|r| r["accountid"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, expected, "{format}: no duplicates, no gaps, in order");
    }
}

#[tokio::test]
async fn errors_are_one_line_with_the_hint_and_exit_non_zero() {
    let emulator = emulator().await;
    let mut vars = emulator.env();
    for (name, value) in &mut vars {
        if name == "AZURE_CLIENT_SECRET" {
            *value = "wrong-secret-value".to_owned();
        }
    }
    let output = run(&["whoami"], &env_of(&vars), "").await.failure(1);
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert!(lines[0].starts_with("error: ") && lines[0].contains("AADSTS7000215"), "{}", output.stderr);
    assert!(output.stderr.contains("Value"), "the hint says to use the secret's Value: {}", output.stderr);
    assert!(!output.all().contains("wrong-secret-value"));
    let usage = run(&["query"], &env(&emulator), "").await.failure(2);
    assert!(usage.stderr.contains("<ENTITY_SET>"), "{}", usage.stderr);
}

#[tokio::test]
async fn doctor_passes_against_a_ready_org() {
    let emulator = emulator().await;
    let output = run(&["doctor"], &env(&emulator), "").await.success();
    assert!(!output.stdout.contains("[FAIL]"), "{}", output.stdout);
    assert!(
        output.stdout.contains(&format!("the org belongs to tenant {}, as configured", emulator.tenant_id())),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("no roles claim, as expected"), "{}", output.stdout);
    assert!(output.stdout.contains("all checks passed"));
}

/// Runs doctor with `change` applied to the emulator's environment; returns the FAIL lines with their fixes.
async fn doctor_failure(emulator: &Emulator, change: impl Fn(&str, &str) -> Option<String>) -> String {
    let vars: Vec<(String, String)> = emulator
        .env()
        .into_iter()
        .map(|(name, value)| {
            let changed = change(&name, &value).unwrap_or(value);
            (name, changed)
        })
        .collect();
    let output = run(&["doctor"], &env_of(&vars), "").await;
    assert!(
        output.code >= 10,
        "a failed step exits with its own code (10 and up), not {}:\n{}",
        output.code,
        output.stdout
    );
    assert!(!output.all().contains(emulator.client_secret()), "the secret is never printed");
    output.stdout
}

fn step<'a>(report: &'a str, title: &str) -> &'a str {
    report.lines().find(|line| line.contains(&format!(". {title}: "))).unwrap_or_default()
}

#[tokio::test]
async fn doctor_explains_a_wrong_secret() {
    let emulator = emulator().await;
    let report =
        doctor_failure(&emulator, |name, _| (name == "AZURE_CLIENT_SECRET").then(|| "Wr0ng~secret".to_owned())).await;
    assert!(step(&report, "token acquired").starts_with("[FAIL]"), "{report}");
    assert!(step(&report, "token acquired").contains("AADSTS7000215"), "{report}");
    assert!(report.contains("fix: the client secret is wrong: use the secret's Value"), "{report}");
    assert!(step(&report, "WhoAmI").starts_with("[skip]"), "{report}");
}

#[tokio::test]
async fn doctor_explains_a_wrong_tenant() {
    let emulator = emulator().await;
    let wrong = "0badbad0-0000-4000-8000-000000000000";
    let report = doctor_failure(&emulator, |name, _| (name == "AZURE_TENANT_ID").then(|| wrong.to_owned())).await;
    let line = step(&report, "tenant from the org's challenge");
    assert!(line.starts_with("[FAIL]"), "{report}");
    assert!(
        line.contains(&format!("the org belongs to tenant {}, but the tenant id is {wrong}", emulator.tenant_id())),
        "{report}"
    );
    assert!(report.contains(&format!("fix: set AZURE_TENANT_ID={}", emulator.tenant_id())), "{report}");
}

#[tokio::test]
async fn doctor_explains_a_wrong_org_url() {
    let emulator = emulator().await;
    let report =
        doctor_failure(&emulator, |name, value| (name == "DATAVERSE_URL").then(|| format!("{value}/api/data/v9.2")))
            .await;
    assert!(step(&report, "org URL").contains("has the path /api/data/v9.2"), "{report}");
    assert!(report.contains(&format!("give the org alone, {}", emulator.org_url())), "{report}");

    // The authority's host instead of the org's: it answers, but with no Dataverse challenge.
    let report =
        doctor_failure(&emulator, |name, _| (name == "DATAVERSE_URL").then(|| emulator.authority_host())).await;
    assert!(step(&report, "tenant from the org's challenge").contains("not a Dataverse Web API"), "{report}");
}

#[tokio::test]
async fn doctor_explains_a_missing_application_user() {
    let emulator = Emulator::builder().setup(SetupState::UnknownApplicationUser).start().await.unwrap();
    let report = doctor_failure(&emulator, |_, _| None).await;
    let line = step(&report, "WhoAmI");
    assert!(line.starts_with("[FAIL]") && line.contains("0x80072560"), "{report}");
    assert!(report.contains("fix: no application user exists for this app"), "{report}");
    assert!(step(&report, "token acquired").starts_with("[pass]"), "{report}");
}

#[tokio::test]
async fn doctor_explains_a_disabled_application_user() {
    let emulator = Emulator::builder().setup(SetupState::DisabledUser).start().await.unwrap();
    let report = doctor_failure(&emulator, |_, _| None).await;
    assert!(step(&report, "WhoAmI").starts_with("[FAIL]"), "{report}");
    assert!(report.contains("fix: the application user is disabled"), "{report}");
}

#[tokio::test]
async fn doctor_explains_an_application_user_without_a_role() {
    let emulator = Emulator::builder().setup(SetupState::NoSecurityRole).start().await.unwrap();
    let report = doctor_failure(&emulator, |_, _| None).await;
    assert!(step(&report, "WhoAmI").starts_with("[pass]"), "{report}");
    let line = step(&report, "read a common table");
    assert!(line.starts_with("[FAIL]") && line.contains("prvReadAccount"), "{report}");
    assert!(report.contains("fix: the application user has no security role (it lacks prvReadAccount)"), "{report}");
}

#[tokio::test]
async fn throttling_is_retried_through_retry_after() {
    let emulator = emulator().await;
    emulator.faults().throttle_every(2, Duration::from_secs(1));
    let output = run(&["query", "accounts", "--all", "--page-size", "2", "--format", "ndjson"], &env(&emulator), "")
        .await
        .success();
    assert_eq!(ndjson(&output.stdout).len(), 5);
    assert!(emulator.counters().throttled >= 1);
}

#[tokio::test]
async fn verbose_logs_requests_but_never_the_secret_or_the_token() {
    let emulator = emulator().await;
    let raw = run(&["token", "--raw"], &env(&emulator), "").await.success();
    let token = raw.stdout.trim().to_owned();
    let dir = temp_dir("verbose");
    let out = dir.join("accounts.ndjson").display().to_string();
    let body = dir.join("body.json");
    std::fs::write(&body, json!({"name": "Verbose"}).to_string()).unwrap();
    let body = body.display().to_string();
    let records = dir.join("records.ndjson");
    std::fs::write(
        &records,
        "{\"name\": \"Imported A\", \"accountnumber\": \"VRB-A\"}\n{\"name\": \"B\", \"accountnumber\": \"VRB-B\"}\n",
    )
    .unwrap();
    let records = records.display().to_string();
    let state = dir.join("sync.json").display().to_string();
    let synced = dir.join("synced.ndjson").display().to_string();
    let runs: Vec<Vec<&str>> = vec![
        vec!["--verbose", "token"],
        vec!["--verbose", "whoami"],
        vec!["--verbose", "query", "accounts", "--all", "--page-size", "2"],
        vec!["--verbose", "get", "accounts", "accountnumber=CON-001"],
        vec!["--verbose", "create", "accounts", "--file", &body],
        vec!["--verbose", "upsert", "accounts", "accountnumber=VRB-1", "--file", &body],
        vec!["--verbose", "export", "accounts", "--out", &out],
        vec!["--verbose", "import", "accounts", "--file", &records],
        vec!["--verbose", "import", "accounts", "--file", &records, "--mode", "upsert", "--key", "accountnumber"],
        vec!["--verbose", "sync", "accounts", "--state", &state, "--out", &synced, "--page-size", "3"],
        vec!["--verbose", "sync", "accounts", "--state", &state, "--out", &synced],
        vec!["--verbose", "--endpoint", "v1", "whoami"],
        vec!["--verbose", "doctor"],
    ];
    // Through the real binary, which installs the log subscriber for the whole process: in-process, a per-thread
    // subscriber can miss request lines while other tests run in parallel.
    let vars = emulator.env();
    for args in runs {
        let output = run_binary(&args, &vars, "").success();
        let all = output.all();
        assert!(!all.contains(emulator.client_secret()), "{args:?} printed the secret");
        assert!(!all.contains(&token), "{args:?} printed the token");
        if args[1] != "token" && args[1] != "doctor" {
            assert!(output.stderr.contains("dynamics_webapi.request"), "{args:?}: {}", output.stderr);
            assert!(
                output.stderr.contains("http.response.status_code=200")
                    || output.stderr.contains("http.response.status_code=204"),
                "{args:?}: {}",
                output.stderr
            );
        }
    }
}

#[tokio::test]
async fn metadata_saves_the_org_csdl() {
    let emulator = emulator().await;
    let dir = temp_dir("metadata");
    let out = dir.join("metadata.xml");
    let output = run(&["metadata", "--out", &out.display().to_string()], &env(&emulator), "").await.success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("Edmx") && text.contains("EntityType"), "{}", &text[..text.len().min(300)]);
    assert!(output.stderr.contains("bytes of CSDL"), "{}", output.stderr);
    assert_eq!(emulator.journal().matching("GET", "/api/data/v9.2/$metadata").len(), 1);
}

#[tokio::test]
async fn the_demo_runs_in_process_too() {
    let output = run(&["demo", "--records", "600"], &dynamics_cli::Env::new(), "").await.success();
    assert!(output.stdout.contains("read 606 accounts in 2 pages"), "{}", output.stdout);
    assert!(output.stdout.contains("1999 written, 1 failed, of 2000 records"), "{}", output.stdout);
    assert!(output.stdout.contains("second run: 3 upserted, 1 removed"), "{}", output.stdout);
    assert!(output.stdout.contains("demo complete"), "{}", output.stdout);
}

#[tokio::test]
async fn export_refuses_a_position_saved_by_another_export_until_restarted() {
    let emulator = emulator_with(20).await;
    let dir = temp_dir("export-restart");
    let out = dir.join("accounts.ndjson").display().to_string();
    emulator.faults().unavailable_every(2);
    let args = ["--retries", "0", "export", "accounts", "--out", &out, "--page-size", "5"];
    run(&args, &env(&emulator), "").await.failure(1);
    emulator.faults().clear();
    let other = ["export", "accounts", "--out", &out, "--page-size", "10"];
    let refused = run(&other, &env(&emulator), "").await.failure(1);
    assert!(refused.stderr.contains("belongs to another export"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--restart"), "{}", refused.stderr);
    let restarted = run(&[&other[..], &["--restart"]].concat(), &env(&emulator), "").await.success();
    assert!(restarted.stderr.contains("exported 25 records"), "{}", restarted.stderr);
    assert_eq!(ndjson(&std::fs::read_to_string(&out).unwrap()), emulator.records("accounts"));
}

#[tokio::test]
async fn doctor_names_the_missing_privilege_of_a_role_against_the_emulator() {
    let emulator = Emulator::builder().revoke_privilege("prvReadAccount").start().await.unwrap();
    let report = doctor_failure(&emulator, |_, _| None).await;
    assert!(step(&report, "WhoAmI").starts_with("[pass]"), "{report}");
    let line = step(&report, "read a common table");
    assert!(line.starts_with("[FAIL]") && line.contains("0x80040220") && line.contains("roleCount=1"), "{report}");
    assert!(report.contains("lack the privilege prvReadAccount"), "{report}");
    assert!(!report.contains("has no security role"), "a role is assigned: {report}");
}

#[tokio::test]
async fn fetchxml_pages_with_paging_cookies_against_the_emulator() {
    let emulator = emulator_with(12).await;
    let dir = temp_dir("fetchxml-emulator");
    let file = dir.join("query.xml");
    std::fs::write(
        &file,
        r#"<fetch count="5"><entity name="account"><attribute name="name"/><attribute name="accountnumber"/>
           <order attribute="accountnumber"/><filter><condition attribute="accountnumber" operator="like" value="%-%"/></filter>
           </entity></fetch>"#,
    )
    .unwrap();
    let file = file.display().to_string();
    let all = run(&["fetchxml", &file, "--all", "--format", "ndjson"], &env(&emulator), "").await.success();
    let numbers: Vec<String> =
        ndjson(&all.stdout).iter().map(|r| r["accountnumber"].as_str().unwrap().to_owned()).collect();
    let mut expected: Vec<String> = emulator
        .records("accounts")
        .iter()
        .filter_map(|r| r["accountnumber"].as_str().filter(|n| n.contains('-')).map(str::to_owned))
        .collect();
    expected.sort();
    assert!(expected.len() > 10, "{expected:?}");
    assert_eq!(numbers, expected, "every page once, in FetchXML order");
    let pages = emulator.journal().matching("GET", "/api/data/v9.2/accounts");
    assert_eq!(pages.len(), expected.len().div_ceil(5), "pages of 5");
    let second = pages[1].query_param("fetchXml").unwrap();
    assert!(second.contains("page=\"2\"") && second.contains("paging-cookie="), "the cookie is sent back: {second}");

    let first = run(&["fetchxml", &file, "--format", "csv"], &env(&emulator), "").await.success();
    let mut reader = csv::Reader::from_reader(first.stdout.as_bytes());
    assert_eq!(reader.records().count(), 5);
    assert!(first.stderr.contains("pass --all"), "{}", first.stderr);
}

#[tokio::test]
async fn the_v1_token_endpoint_is_chosen_by_flag_variable_or_profile() {
    let emulator = emulator().await;
    let token_posts =
        |path: &str| emulator.journal().entries().iter().filter(|e| e.method() == "POST" && e.path() == path).count();
    let v1 = format!("/{}/oauth2/token", emulator.tenant_id());
    let v2 = format!("/{}/oauth2/v2.0/token", emulator.tenant_id());

    run(&["whoami"], &env(&emulator), "").await.success();
    assert_eq!((token_posts(&v1), token_posts(&v2)), (0, 1), "v2 by default");
    let output = run(&["--endpoint", "v1", "token"], &env(&emulator), "").await.success();
    assert!(output.stdout.contains(&format!("audience (aud)   {}", emulator.org_url())), "{}", output.stdout);
    assert_eq!(token_posts(&v1), 1);
    let sent = emulator.journal().entries().into_iter().rfind(|e| e.path() == v1).unwrap().body_text();
    assert!(sent.contains("resource=") && !sent.contains("scope="), "v1 asks for the resource: {sent}");

    let from_variable = env(&emulator).with("DYNAMICS_TOKEN_ENDPOINT", "v1");
    run(&["whoami"], &from_variable, "").await.success();
    assert_eq!(token_posts(&v1), 2);
    let doctor = run(&["doctor"], &from_variable, "").await.success();
    assert!(
        doctor.stdout.contains(&format!("(v1 endpoint, resource {}, DYNAMICS_TOKEN_ENDPOINT)", emulator.org_url())),
        "{}",
        doctor.stdout
    );
    let dir = temp_dir("endpoint-profile");
    let config = dir.join("config.toml");
    std::fs::write(&config, "[profiles.v1]\ntoken_endpoint = \"v1\"\n").unwrap();
    let profiled = env(&emulator).with("DYNAMICS_CONFIG", config.display().to_string());
    assert_eq!(token_posts(&v1), 3, "doctor asked v1 too");
    run(&["--profile", "v1", "whoami"], &profiled, "").await.success();
    assert_eq!(token_posts(&v1), 4);
    run(&["--profile", "v1", "--endpoint", "v2", "whoami"], &profiled, "").await.success();
    assert_eq!((token_posts(&v1), token_posts(&v2)), (4, 2), "the flag wins over the profile");
    let bad = run(&["whoami"], &env(&emulator).with("DYNAMICS_TOKEN_ENDPOINT", "v3"), "").await.failure(1);
    assert!(bad.stderr.contains("neither v1 nor v2"), "{}", bad.stderr);
    let bad_flag = run(&["--endpoint", "v3", "whoami"], &env(&emulator), "").await.failure(2);
    assert!(bad_flag.stderr.contains("v1") && bad_flag.stderr.contains("v2"), "{}", bad_flag.stderr);
}

#[tokio::test]
async fn csv_with_a_selection_leaving_out_the_primary_id_prints_the_selection() {
    // Dataverse returns the primary id whether or not it is selected: it must not break the CSV.
    let emulator = emulator().await;
    let output =
        run(&["query", "accounts", "--select", "name", "--format", "csv"], &env(&emulator), "").await.success();
    let mut reader = csv::Reader::from_reader(output.stdout.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["name"]);
    let names: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert!(names.contains(&"Contoso Ltd".to_owned()), "{names:?}");

    let id = emulator.records("accounts")[0]["accountid"].as_str().unwrap().to_owned();
    let one =
        run(&["get", "accounts", &id, "--select", "name", "--format", "csv"], &env(&emulator), "").await.success();
    assert_eq!(one.stdout.lines().next(), Some("name"), "{}", one.stdout);
}

#[tokio::test]
async fn fetchxml_csv_keeps_a_column_the_first_row_leaves_out_as_null() {
    // FetchXML results leave out null columns: Litware has no telephone1, Contoso has one.
    let emulator = emulator().await;
    let fetch = r#"<fetch><entity name="account"><attribute name="name"/><attribute name="telephone1"/>
        <filter><condition attribute="accountnumber" operator="in"><value>LIT-005</value><value>CON-001</value></condition></filter>
        <order attribute="name" descending="true"/></entity></fetch>"#;
    let output = run(&["fetchxml", "-", "--format", "csv"], &env(&emulator), fetch).await.success();
    let mut reader = csv::Reader::from_reader(output.stdout.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let column = |name: &str| header.iter().position(|c| c == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let (name, phone) = (column("name"), column("telephone1"));
    assert_eq!(rows.len(), 2);
    assert_eq!((&rows[0][name], &rows[0][phone]), ("Litware O'Brien & Sons", ""));
    assert_eq!((&rows[1][name], &rows[1][phone]), ("Contoso Ltd", "+1 425 555 0100"));
}

#[tokio::test]
async fn csv_with_a_selection_and_an_expansion_keeps_the_expanded_column() {
    let emulator = emulator().await;
    let args = [
        "query",
        "contacts",
        "--select",
        "lastname",
        "--expand",
        "parentcustomerid_account($select=name)",
        "--filter",
        "lastname eq 'McKay'",
        "--format",
        "csv",
    ];
    let output = run(&args, &env(&emulator), "").await.success();
    let mut reader = csv::Reader::from_reader(output.stdout.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["lastname", "parentcustomerid_account"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], "McKay");
    let parent: Value = serde_json::from_str(&rows[0][1]).expect("the expanded record as JSON");
    assert_eq!(parent["name"], "Contoso Ltd");
}

#[tokio::test]
async fn create_and_update_send_decimals_exactly_as_written() {
    let emulator = emulator().await;
    let exact = "12345678901234.5678";
    let body = format!("{{\"name\": \"Exact Ltd\", \"revenue\": {exact}}}");
    let created = run(&["create", "accounts"], &env(&emulator), body.as_str()).await.success();
    let id = created.stdout.trim().to_owned();
    run(&["update", "accounts", &id], &env(&emulator), format!("{{\"creditlimit\": {exact}}}").as_str())
        .await
        .success();
    let sent: Vec<String> = emulator
        .journal()
        .web_api()
        .iter()
        .filter(|entry| entry.method() == "POST" || entry.method() == "PATCH")
        .map(dynamics_testkit::JournalEntry::body_text)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains(&format!("\"revenue\": {exact}")), "{}", sent[0]);
    assert!(sent[1].contains(&format!("\"creditlimit\": {exact}")), "{}", sent[1]);
}
