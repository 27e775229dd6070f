//! `dynamics file upload|download|delete` end to end against the emulator (dynamics-testkit), in-process:
//! a chunked upload, a download to a file (byte-identical, through `<out>.partial`) and to stdout, delete,
//! the not-found errors, and no secret or token in the `--verbose` output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use dynamics_testkit::Emulator;
use support::{env_of, run, run_binary, temp_dir};

const CONTOSO: &str = "a0000001-0000-4000-8000-000000000001";
const COLUMN: &str = "sample_filecolumn";
const COLUMN_PATH: &str = "/api/data/v9.2/accounts(a0000001-0000-4000-8000-000000000001)/sample_filecolumn";

/// An emulator whose upload sessions ask for chunks of `chunk` bytes.
async fn emulator(chunk: usize) -> Emulator {
    Emulator::builder().file_chunk_size(chunk).start().await.expect("the emulator starts")
}

fn env(emulator: &Emulator) -> dynamics_cli::Env {
    env_of(&emulator.env())
}

/// `len` bytes of every value, in an order that shows a misplaced chunk.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 31 + i / 256) % 256).unwrap()).collect()
}

#[tokio::test]
async fn upload_then_download_to_a_file_is_byte_identical() {
    let emulator = emulator(4_096).await;
    let dir = temp_dir("file-upload");
    let input = dir.join("report.bin");
    let content = binary(10_000);
    std::fs::write(&input, &content).unwrap();

    let uploaded =
        run(&["file", "upload", "accounts", CONTOSO, COLUMN, "--file", input.to_str().unwrap()], &env(&emulator), "")
            .await
            .success();

    assert!(uploaded.stdout.is_empty(), "no data on stdout: {}", uploaded.stdout);
    assert_eq!(
        uploaded.stderr.trim(),
        format!("uploaded {} (10000 bytes) to accounts({CONTOSO})/{COLUMN} as report.bin", input.display())
    );
    let patches = emulator.journal().matching("PATCH", COLUMN_PATH);
    let ranges: Vec<&str> = patches.iter().filter_map(|entry| entry.header("content-range")).collect();
    assert_eq!(ranges, ["bytes 0-4095/10000", "bytes 4096-8191/10000", "bytes 8192-9999/10000"]);
    assert_eq!(emulator.record("accounts", CONTOSO.parse().unwrap()).unwrap()["sample_filecolumn_name"], "report.bin");

    let out = dir.join("copy.bin");
    let downloaded = run(
        &["file", "download", "accounts", "accountnumber=CON-001", COLUMN, "--out", out.to_str().unwrap()],
        &env(&emulator),
        "",
    )
    .await
    .success();

    assert_eq!(std::fs::read(&out).unwrap(), content);
    assert!(!dir.join("copy.bin.partial").exists(), "the partial file was renamed");
    assert!(downloaded.stdout.is_empty());
    assert!(downloaded.stderr.contains("(report.bin): 10000 bytes to"), "{}", downloaded.stderr);

    // In ranges smaller than the file, each asked for once.
    let before = emulator.journal().matching("GET", &format!("{COLUMN_PATH}/$value")).len();
    let ranged = dir.join("ranged.bin");
    run(
        &["file", "download", "accounts", CONTOSO, COLUMN, "--out", ranged.to_str().unwrap(), "--chunk-size", "3000"],
        &env(&emulator),
        "",
    )
    .await
    .success();
    assert_eq!(std::fs::read(&ranged).unwrap(), content);
    let gets = emulator.journal().matching("GET", &format!("{COLUMN_PATH}/$value"));
    let ranges: Vec<&str> = gets[before..].iter().filter_map(|entry| entry.header("range")).collect();
    assert_eq!(ranges, ["bytes=0-2999", "bytes=3000-5999", "bytes=6000-8999", "bytes=9000-11999"]);
}

#[tokio::test]
async fn upload_with_a_name_and_a_chunk_size_then_download_to_stdout() {
    let emulator = emulator(1_000_000).await;
    let dir = temp_dir("file-stdout");
    let input = dir.join("notes");
    let text: String = (0..500).map(|n| format!("line {n}\n")).collect();
    std::fs::write(&input, &text).unwrap();

    run(
        &[
            "file",
            "upload",
            "accounts",
            CONTOSO,
            COLUMN,
            "--file",
            input.to_str().unwrap(),
            "--name",
            "notes.txt",
            "--chunk-size",
            "1024",
        ],
        &env(&emulator),
        "",
    )
    .await
    .success();
    let chunks = emulator
        .journal()
        .matching("PATCH", COLUMN_PATH)
        .iter()
        .filter(|entry| entry.header("content-range").is_some())
        .count();
    assert_eq!(chunks, text.len().div_ceil(1024), "chunks of at most --chunk-size bytes");

    let output = run(
        &["file", "download", "accounts", CONTOSO, COLUMN, "--out", "-", "--chunk-size", "700"],
        &env(&emulator),
        "",
    )
    .await
    .success();

    assert_eq!(output.stdout, text, "the file, alone, on stdout");
    assert_eq!(
        output.stderr.trim(),
        format!("downloaded accounts({CONTOSO})/{COLUMN} ({} bytes) to standard output", text.len())
    );
    assert_eq!(emulator.record("accounts", CONTOSO.parse().unwrap()).unwrap()["sample_filecolumn_name"], "notes.txt");
}

#[tokio::test]
async fn delete_then_download_is_not_found_and_leaves_no_file() {
    let emulator = emulator(4_096).await;
    let dir = temp_dir("file-delete");
    let input = dir.join("a.txt");
    std::fs::write(&input, "abc").unwrap();
    run(&["file", "upload", "accounts", CONTOSO, COLUMN, "--file", input.to_str().unwrap()], &env(&emulator), "")
        .await
        .success();

    let deleted = run(&["file", "delete", "accounts", CONTOSO, COLUMN], &env(&emulator), "").await.success();
    assert_eq!(deleted.stderr.trim(), format!("deleted the file in accounts({CONTOSO})/{COLUMN}"));

    let out = dir.join("gone.txt");
    let missing =
        run(&["file", "download", "accounts", CONTOSO, COLUMN, "--out", out.to_str().unwrap()], &env(&emulator), "")
            .await
            .failure(1);
    assert!(
        missing.stderr.starts_with("error: ")
            && missing.stderr.contains("No file attachment found for attribute: sample_filecolumn"),
        "{}",
        missing.stderr
    );
    assert!(!out.exists() && !dir.join("gone.txt.partial").exists(), "a failed download leaves no file behind");
    let twice = run(&["file", "delete", "accounts", CONTOSO, COLUMN], &env(&emulator), "").await.failure(1);
    assert!(twice.stderr.contains("No file attachment found"), "{}", twice.stderr);
}

#[tokio::test]
async fn a_missing_record_a_missing_local_file_and_a_bad_key_fail_with_exit_1() {
    let emulator = emulator(4_096).await;
    let dir = temp_dir("file-errors");
    let input = dir.join("a.txt");
    std::fs::write(&input, "abc").unwrap();
    let nobody = "0f0f0f0f-0000-4000-8000-000000000000";

    let upload =
        run(&["file", "upload", "accounts", nobody, COLUMN, "--file", input.to_str().unwrap()], &env(&emulator), "")
            .await
            .failure(1);
    assert!(upload.stderr.contains(&format!("account With Id = {nobody} Does Not Exist")), "{}", upload.stderr);
    let out = dir.join("out.txt");
    let download =
        run(&["file", "download", "accounts", nobody, COLUMN, "--out", out.to_str().unwrap()], &env(&emulator), "")
            .await
            .failure(1);
    assert!(download.stderr.contains("Does Not Exist"), "{}", download.stderr);
    assert!(!out.exists());
    let delete =
        run(&["file", "delete", "accounts", "accountnumber=NOPE-1", COLUMN], &env(&emulator), "").await.failure(1);
    assert!(delete.stderr.contains("does not exist"), "{}", delete.stderr);

    let no_file = dir.join("missing.bin");
    let local =
        run(&["file", "upload", "accounts", CONTOSO, COLUMN, "--file", no_file.to_str().unwrap()], &env(&emulator), "")
            .await
            .failure(1);
    assert!(local.stderr.contains("missing.bin cannot be read"), "{}", local.stderr);
    let bad_key = run(&["file", "delete", "accounts", "not-a-key", COLUMN], &env(&emulator), "").await.failure(1);
    assert!(bad_key.stderr.contains("neither a GUID nor an alternate key"), "{}", bad_key.stderr);
    assert!(emulator.journal().matching("PATCH", COLUMN_PATH).is_empty(), "nothing was sent for the local errors");
}

#[tokio::test]
async fn verbose_file_commands_never_print_the_secret_or_the_token() {
    let emulator = emulator(1_024).await;
    let token = run(&["token", "--raw"], &env(&emulator), "").await.success().stdout.trim().to_owned();
    let dir = temp_dir("file-verbose");
    let input = dir.join("v.bin");
    std::fs::write(&input, binary(3_000)).unwrap();
    let input = input.display().to_string();
    let out = dir.join("v.copy").display().to_string();
    let runs: Vec<Vec<&str>> = vec![
        vec!["--verbose", "file", "upload", "accounts", CONTOSO, COLUMN, "--file", &input],
        vec!["--verbose", "file", "download", "accounts", CONTOSO, COLUMN, "--out", &out, "--chunk-size", "1000"],
        vec!["--verbose", "file", "delete", "accounts", CONTOSO, COLUMN],
    ];
    // Through the real binary: it installs the log subscriber for the whole process, so every request line shows
    // (in-process, a per-thread subscriber can miss lines logged while another test runs).
    let vars = emulator.env();
    for args in runs {
        let output = run_binary(&args, &vars, "").success();
        let all = output.all();
        assert!(!all.contains(emulator.client_secret()), "{args:?} printed the secret");
        assert!(!all.contains(&token), "{args:?} printed the token");
        assert!(output.stderr.contains("dynamics_webapi.request"), "{args:?}: {}", output.stderr);
        assert!(output.stderr.contains("http.response.status_code=20"), "{args:?}: {}", output.stderr);
    }
    assert_eq!(std::fs::read(&out).unwrap(), binary(3_000));
    let failed =
        run(&["--verbose", "file", "delete", "accounts", CONTOSO, COLUMN], &env(&emulator), "").await.failure(1);
    assert!(!failed.all().contains(emulator.client_secret()) && !failed.all().contains(&token));
}

#[tokio::test]
async fn an_interrupted_download_keeps_the_previous_file_under_the_final_name() {
    let emulator = emulator(4_096).await;
    let dir = temp_dir("file-interrupted");
    let input = dir.join("big.bin");
    std::fs::write(&input, binary(9_000)).unwrap();
    run(&["file", "upload", "accounts", CONTOSO, COLUMN, "--file", input.to_str().unwrap()], &env(&emulator), "")
        .await
        .success();
    let out = dir.join("copy.bin");
    std::fs::write(&out, "the previous download").unwrap();

    // The first range is answered, the second fails (503), and no retry is allowed.
    emulator.faults().unavailable_every(2);
    let output = run(
        &[
            "--retries",
            "0",
            "file",
            "download",
            "accounts",
            CONTOSO,
            COLUMN,
            "--out",
            out.to_str().unwrap(),
            "--chunk-size",
            "4000",
        ],
        &env(&emulator),
        "",
    )
    .await
    .failure(1);
    emulator.faults().clear();

    assert!(output.stderr.contains("503"), "{}", output.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "the previous download", "the final name is never truncated");
    assert!(!dir.join("copy.bin.partial").exists());
    let statuses: Vec<u16> = emulator
        .journal()
        .matching("GET", &format!("{COLUMN_PATH}/$value"))
        .iter()
        .map(|entry| entry.status())
        .collect();
    assert_eq!(statuses, [206, 503], "one range was received before the failure");
}
