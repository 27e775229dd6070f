//! The real `dynamics` binary, as a user runs it: arguments, environment variables, stdout, stderr and exit code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use dynamics_testkit::Emulator;
use serde_json::Value;
use support::{run_binary, run_binary_into_head, temp_dir};

#[test]
fn the_demo_runs_to_the_end_with_no_azure_account() {
    let output = run_binary(&["demo", "--records", "1200"], &[], "").success();
    for step in [
        "client-credentials token",
        "audience (aud)",
        "WhoAmI",
        "typed create: an account, and a contact bound to it",
        "typed filtered query",
        "found Ana Lindqvist",
        "refused with 412",
        "read 1206 accounts in 3 pages",
        "$batch",
        "change set, operation 2: 204",
        "404, gone",
        "bulk import: 2000 accounts through CreateMultiple",
        " 100:ok 200:ok 400:ok 800:400 ",
        "refused index 1234: POST accounts answered 412 0x80040237",
        "imported into accounts: 1999 written, 1 failed, of 2000 records",
        "the org now holds 1999 BULK- accounts",
        "first run: 3207 records to accounts.ndjson",
        "second run: 3 upserted, 1 removed",
        r#"{"@removed":{"reason":"deleted"},"accountid":"#,
        "6 reads succeeded",
        "demo complete",
    ] {
        assert!(output.stdout.contains(step), "missing `{step}` in:\n{}", output.stdout);
    }
    assert!(!output.stdout.contains("0 were answered 429"), "the throttled stretch was throttled:\n{}", output.stdout);
    assert_eq!(output.stderr, "", "stderr is not a terminal: no progress bar, no noise");
}

#[tokio::test]
async fn token_and_query_through_the_binary() {
    let emulator = Emulator::start().await;
    let vars = emulator.env();
    let token = run_binary(&["token"], &vars, "").success();
    assert!(token.stdout.contains(&format!("audience (aud)   {}", emulator.org_url())), "{}", token.stdout);
    let query = run_binary(&["query", "accounts", "--all", "--format", "ndjson"], &vars, "").success();
    let records: Vec<Value> = query.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records, emulator.records("accounts"));
    assert_eq!(query.stderr, "");
}

#[tokio::test]
async fn a_failed_doctor_exits_non_zero_and_a_bad_command_line_exits_2() {
    let emulator = Emulator::start().await;
    let mut vars = emulator.env();
    vars.retain(|(name, _)| name != "AZURE_CLIENT_SECRET");
    vars.push(("AZURE_CLIENT_SECRET".to_owned(), "c0ffee00-0000-4000-8000-000000000000".to_owned()));
    let doctor = run_binary(&["doctor"], &vars, "").failure(13);
    assert!(doctor.stdout.contains("Secret ID"), "{}", doctor.stdout);
    let usage = run_binary(&["query", "--no-such-flag"], &[], "").failure(2);
    assert!(usage.stderr.contains("--no-such-flag"), "{}", usage.stderr);
    let help = run_binary(&["--help"], &[], "").success();
    assert!(help.stdout.contains("doctor") && help.stdout.contains("export"), "{}", help.stdout);
}

#[tokio::test]
async fn verbose_never_prints_the_secret_or_the_token() {
    let emulator = Emulator::start().await;
    let vars = emulator.env();
    let token = run_binary(&["token", "--raw"], &vars, "").success().stdout.trim().to_owned();
    assert_eq!(token.split('.').count(), 3);
    let dir = temp_dir("binary-verbose");
    let out = dir.join("accounts.csv").display().to_string();
    let metadata = dir.join("metadata.xml").display().to_string();
    let state = dir.join("sync.json").display().to_string();
    let synced = dir.join("synced.csv").display().to_string();
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, emulator.client_secret()).unwrap();
    let secret_file = secret_file.display().to_string();
    let without_secret: Vec<(String, String)> =
        vars.iter().filter(|(n, _)| n != "AZURE_CLIENT_SECRET").cloned().collect();
    type Vars = [(String, String)];
    let runs: Vec<(Vec<&str>, &Vars, &str)> = vec![
        (vec!["--verbose", "token"], &vars, ""),
        (vec!["--verbose", "whoami"], &vars, ""),
        (vec!["--verbose", "doctor"], &vars, ""),
        (vec!["--verbose", "query", "accounts", "--all", "--page-size", "2", "--format", "csv"], &vars, ""),
        (vec!["--verbose", "get", "accounts", "accountnumber=CON-001"], &vars, ""),
        (vec!["--verbose", "create", "accounts"], &vars, r#"{"name": "Verbose Ltd"}"#),
        (vec!["--verbose", "export", "accounts", "--out", &out, "--format", "csv"], &vars, ""),
        (vec!["--verbose", "metadata", "--out", &metadata], &vars, ""),
        (
            vec!["--verbose", "import", "accounts", "--file", "-"],
            &vars,
            "[{\"name\": \"Bulk A\"}, {\"name\": \"Bulk B\"}]",
        ),
        (vec!["--verbose", "sync", "accounts", "--state", &state, "--out", &synced, "--format", "csv"], &vars, ""),
        (vec!["--verbose", "sync", "accounts", "--state", &state, "--out", &synced, "--format", "csv"], &vars, ""),
        (vec!["--verbose", "--endpoint", "v1", "token"], &vars, ""),
        (vec!["--verbose", "--client-secret-file", &secret_file, "whoami"], &without_secret, ""),
        (vec!["--verbose", "--client-secret-stdin", "whoami"], &without_secret, emulator.client_secret()),
    ];
    let mut logged = String::new();
    for (args, env, stdin) in runs {
        let output = run_binary(&args, env, stdin);
        let all = output.all();
        assert!(!all.contains(emulator.client_secret()), "{args:?} printed the secret:\n{all}");
        assert!(!all.contains(&token), "{args:?} printed the token:\n{all}");
        assert!(!all.contains(token.split('.').nth(2).unwrap_or("-")), "{args:?} printed the token's signature");
        logged.push_str(&output.stderr);
        output.success();
    }
    assert!(logged.contains("aad_auth.acquire_token"), "the token request is logged:\n{logged}");
    assert!(logged.contains("dynamics_webapi.request") && logged.contains("http.response.status_code=200"), "{logged}");
}

#[tokio::test]
async fn a_reader_that_goes_away_ends_the_output_quietly() {
    // More than a pipe's buffer (64 KiB) of records, so that writes after the reader left fail.
    let emulator = Emulator::builder().seed_generated("accounts", 3000).start().await.expect("the emulator starts");
    let vars = emulator.env();
    for args in [
        vec!["query", "accounts", "--all", "--format", "ndjson", "--page-size", "500"],
        vec!["query", "accounts", "--all", "--page-size", "500"],
        vec!["export", "accounts", "--out", "-", "--page-size", "500"],
    ] {
        let (first, output) = run_binary_into_head(&args, &vars);
        assert!(!first.is_empty(), "{args:?} printed nothing");
        assert_eq!(output.code, 0, "{args:?} failed:\n{}", output.stderr);
        assert_eq!(output.stderr, "", "{args:?}: a closed pipe is not an error");
    }
}

#[tokio::test]
async fn a_dash_out_means_standard_output_for_export_sync_and_metadata() {
    let emulator = Emulator::start().await;
    let vars = emulator.env();
    let dir = temp_dir("binary-dash");
    let export = run_binary(&["export", "accounts", "--out", "-"], &vars, "").success();
    let records: Vec<Value> = export.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records, emulator.records("accounts"));
    assert!(!std::path::Path::new("-").exists(), "no file named `-`");
    let state = dir.join("sync.json").display().to_string();
    let sync = run_binary(&["sync", "accounts", "--state", &state, "--out", "-"], &vars, "").success();
    assert_eq!(sync.stdout.lines().count(), emulator.records("accounts").len(), "{}", sync.stdout);
    assert!(sync.stderr.contains("to standard output"), "{}", sync.stderr);
    assert!(dir.join("sync.json").exists(), "the state is saved");
    let metadata = run_binary(&["metadata", "--out", "-"], &vars, "").success();
    assert!(metadata.stdout.contains("<edmx:Edmx"), "{}", metadata.stdout);
}

#[tokio::test]
async fn metadata_creates_its_folder_and_leaves_no_temporary_behind() {
    let emulator = Emulator::start().await;
    let vars = emulator.env();
    let dir = temp_dir("binary-metadata");
    let out = dir.join("metadata").join("contoso.xml");
    run_binary(&["metadata", "--out", &out.display().to_string()], &vars, "").success();
    assert!(std::fs::read_to_string(&out).unwrap().contains("<edmx:Edmx"));
    let names: Vec<_> = std::fs::read_dir(dir.join("metadata")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("contoso.xml")]);
    // A folder that cannot be made fails before anything is downloaded.
    std::fs::write(dir.join("file"), "").unwrap();
    let blocked = dir.join("file").join("contoso.xml").display().to_string();
    let before = emulator.journal().entries().len();
    let failed = run_binary(&["metadata", "--out", &blocked], &vars, "").failure(1);
    assert!(failed.stderr.contains("cannot be created"), "{}", failed.stderr);
    let metadata_requests =
        emulator.journal().entries()[before..].iter().filter(|e| e.path().contains("$metadata")).count();
    assert_eq!(metadata_requests, 0, "nothing was downloaded");
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line() {
    let bash = run_binary(&["completions", "bash"], &[], "").success();
    assert!(bash.stdout.contains("_dynamics()") && bash.stdout.contains("export"), "{}", bash.stdout);
    let zsh = run_binary(&["completions", "zsh"], &[], "").success();
    assert!(zsh.stdout.starts_with("#compdef dynamics"), "{}", zsh.stdout);
    let fish = run_binary(&["completions", "fish"], &[], "").success();
    assert!(fish.stdout.contains("complete -c dynamics"), "{}", fish.stdout);
    let man = run_binary(&["man"], &[], "").success();
    assert!(man.stdout.contains(".TH dynamics 1") && man.stdout.contains("doctor"), "{}", man.stdout);
    assert_eq!(bash.stderr, "", "no connection settings are needed");
}

#[test]
fn help_groups_the_connection_options_and_shows_examples() {
    let help = run_binary(&["query", "--help"], &[], "").success().stdout;
    let own = help.find("--select").expect("the command's own options");
    let heading = help.find("Connection options (every command):").expect("the connection heading");
    let url = help.find("--url").expect("--url");
    assert!(own < heading && heading < url, "the connection options come apart, after the command's own:\n{help}");
    assert!(help.contains("Examples:\n  dynamics query accounts"), "{help}");
    let root = run_binary(&["--help"], &[], "").success().stdout;
    assert!(root.contains("dynamics completions bash"), "{root}");
    let version = run_binary(&["--version"], &[], "").success().stdout;
    assert!(version.starts_with(&format!("dynamics {}", env!("CARGO_PKG_VERSION"))), "{version}");
}
