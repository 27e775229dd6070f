//! File columns through the real `dynamics-webapi` client: a chunked upload several chunks long (the emulator's
//! chunk size set small), ranged downloads, a single-request upload, delete, and the not-found answers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use futures_util::TryStreamExt;
use uuid::Uuid;

use dynamics_testkit::Emulator;
use dynamics_webapi::RecordKey;
use support::{bearer, client};

const CONTOSO: &str = "a0000001-0000-4000-8000-000000000001";
const COLUMN: &str = "sample_filecolumn";
const COLUMN_PATH: &str = "/api/data/v9.2/accounts(a0000001-0000-4000-8000-000000000001)/sample_filecolumn";

fn contoso() -> Uuid {
    Uuid::parse_str(CONTOSO).unwrap()
}

/// `len` bytes that differ from chunk to chunk, so a misplaced chunk shows.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap()).collect()
}

async fn emulator_with_chunk(chunk: usize) -> Emulator {
    Emulator::builder().file_chunk_size(chunk).start().await.expect("the emulator starts")
}

#[tokio::test]
async fn a_file_several_chunks_long_is_uploaded_and_read_back_in_small_ranges() {
    let emulator = emulator_with_chunk(1000).await;
    let client = client(&emulator);
    let file = content(4_321);
    let column = client.file_column("accounts", contoso(), COLUMN);

    column.upload("report.bin", file.len() as u64, &file[..]).send().await.unwrap();

    let opening = emulator.journal().matching("PATCH", COLUMN_PATH);
    assert_eq!(opening[0].query_param("x-ms-file-name").as_deref(), Some("report.bin"));
    assert_eq!(opening[0].header("x-ms-transfer-mode"), Some("chunked"));
    assert_eq!(opening[0].status(), 200);
    let chunks: Vec<_> = opening[1..].iter().collect();
    let ranges: Vec<&str> = chunks.iter().map(|entry| entry.header("content-range").unwrap()).collect();
    assert_eq!(
        ranges,
        [
            "bytes 0-999/4321",
            "bytes 1000-1999/4321",
            "bytes 2000-2999/4321",
            "bytes 3000-3999/4321",
            "bytes 4000-4320/4321"
        ],
        "the client cut the file in the chunks the emulator asked for"
    );
    let statuses: Vec<u16> = chunks.iter().map(|entry| entry.status()).collect();
    assert_eq!(statuses, [206, 206, 206, 206, 204]);
    assert!(chunks.iter().all(|entry| entry.query_param("sessiontoken").is_some()));
    assert!(chunks.iter().all(|entry| entry.body().is_empty()), "the journal leaves a file's bytes out");
    assert_eq!(chunks[0].header("content-length"), Some("1000"), "but keeps their length");

    let record = emulator.record("accounts", contoso()).unwrap();
    assert_eq!(record["sample_filecolumn_name"], "report.bin");
    assert!(Uuid::parse_str(record[COLUMN].as_str().unwrap()).is_ok(), "the column holds the file's id: {record}");

    let mut copy = Vec::new();
    let info = column.download().chunk_size(333).to_writer(&mut copy).await.unwrap();
    assert_eq!(copy, file);
    assert_eq!((info.name(), info.size()), (Some("report.bin"), 4_321));
    let gets = emulator.journal().matching("GET", &format!("{COLUMN_PATH}/$value"));
    assert_eq!(gets.len(), 13, "4321 bytes in ranges of 333");
    assert!(gets.iter().all(|entry| entry.status() == 206));

    let chunks: Vec<_> = column.download().chunk_size(2_000).chunks().try_collect().await.unwrap();
    assert_eq!(chunks.iter().map(|chunk| chunk.len()).collect::<Vec<_>>(), [2_000, 2_000, 321]);
    assert_eq!(chunks.concat(), file);
}

#[tokio::test]
async fn deleting_the_file_makes_the_download_not_found() {
    let emulator = emulator_with_chunk(64).await;
    let client = client(&emulator);
    let file = content(200);
    let column = client.file_column("accounts", RecordKey::alternate([("accountnumber", "CON-001")]), COLUMN);
    column.upload("notes.txt", 200, &file[..]).send().await.unwrap();

    column.delete().await.unwrap();

    let mut copy = Vec::new();
    let error = column.download().chunk_size(50).to_writer(&mut copy).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.service_code(), Some("0x80040217"));
    assert!(error.to_string().contains("No file attachment found for attribute: sample_filecolumn"), "{error}");
    assert!(copy.is_empty());
    let again = column.delete().await.unwrap_err();
    assert!(again.is_not_found(), "a second delete finds no file: {again}");
    let record = emulator.record("accounts", contoso()).unwrap();
    assert!(record[COLUMN].is_null() && record["sample_filecolumn_name"].is_null(), "{record}");
}

#[tokio::test]
async fn a_column_without_a_file_and_a_missing_record_are_not_found() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);

    let mut copy = Vec::new();
    let no_file = client.file_column("accounts", contoso(), COLUMN).download().to_writer(&mut copy).await.unwrap_err();
    assert!(no_file.is_not_found(), "{no_file}");
    assert!(no_file.to_string().contains(&format!("EntityId: {CONTOSO}")), "{no_file}");

    let missing = Uuid::new_v4();
    let column = client.file_column("accounts", missing, COLUMN);
    let download = column.download().to_writer(&mut copy).await.unwrap_err();
    let upload = column.upload("a.txt", 3, &b"abc"[..]).send().await.unwrap_err();
    for error in [download, upload] {
        assert!(error.is_not_found(), "{error}");
        assert!(error.to_string().contains(&format!("account With Id = {missing} Does Not Exist")), "{error}");
    }
}

#[tokio::test]
async fn an_empty_file_is_stored_by_a_single_request_and_a_new_upload_replaces_the_file() {
    let emulator = emulator_with_chunk(10).await;
    let client = client(&emulator);
    let column = client.file_column("accounts", contoso(), COLUMN);

    column.upload("empty.txt", 0, &b""[..]).send().await.unwrap();
    let mut copy = Vec::new();
    let info = column.download().to_writer(&mut copy).await.unwrap();
    assert_eq!((info.name(), info.size(), copy.len()), (Some("empty.txt"), 0, 0));

    column.upload("second.txt", 26, &b"abcdefghijklmnopqrstuvwxyz"[..]).send().await.unwrap();
    let mut copy = Vec::new();
    let info = column.download().chunk_size(7).to_writer(&mut copy).await.unwrap();
    assert_eq!(copy, b"abcdefghijklmnopqrstuvwxyz");
    assert_eq!(info.name(), Some("second.txt"));
    assert_eq!(emulator.record("accounts", contoso()).unwrap()["sample_filecolumn_name"], "second.txt");
}

#[tokio::test]
async fn the_answers_have_the_documented_headers_and_bad_chunks_are_refused() {
    let emulator = emulator_with_chunk(8).await;
    let http = reqwest::Client::new();
    let auth = bearer(&emulator).await;
    let url = format!("{}{COLUMN_PATH}", emulator.org_url());

    let opened = http
        .patch(format!("{url}?x-ms-file-name=a.txt"))
        .header("Authorization", &auth)
        .header("x-ms-transfer-mode", "chunked")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let header = |name: &str| opened.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("x-ms-chunk-size").as_deref(), Some("8"));
    assert_eq!(header("accept-ranges").as_deref(), Some("bytes"));
    let location = header("location").unwrap();
    assert!(location.starts_with(&format!("{url}?sessiontoken=")), "{location}");

    let chunk = |range: &str, body: &'static [u8]| {
        http.patch(&location)
            .header("Authorization", &auth)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", range.to_owned())
            .body(body)
            .send()
    };
    assert_eq!(chunk("bytes 0-8/12", b"012345678").await.unwrap().status(), 400, "larger than x-ms-chunk-size");
    assert_eq!(chunk("bytes 4-7/12", b"4567").await.unwrap().status(), 400, "does not start at 0");
    assert_eq!(chunk("bytes 0-3/12", b"012").await.unwrap().status(), 400, "shorter than its range");
    assert_eq!(chunk("bytes 0-7/12", b"01234567").await.unwrap().status(), 206);
    assert_eq!(chunk("bytes 8-11/12", b"89ab").await.unwrap().status(), 204);
    assert_eq!(chunk("bytes 8-11/12", b"89ab").await.unwrap().status(), 400, "the session is closed");

    let ranged = http
        .get(format!("{url}/$value"))
        .header("Authorization", &auth)
        .header("Range", "bytes=3-5")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    let header = |name: &str| ranged.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("x-ms-file-size").as_deref(), Some("12"));
    assert_eq!(header("x-ms-file-name").as_deref(), Some("a.txt"));
    assert_eq!(header("content-type").as_deref(), Some("application/octet-stream"));
    assert_eq!(header("content-range").as_deref(), Some("bytes 3-5/12"));
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), b"345");

    let whole = http.get(format!("{url}/$value")).header("Authorization", &auth).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap().as_ref(), b"0123456789ab");
    let outside = http
        .get(format!("{url}/$value"))
        .header("Authorization", &auth)
        .header("Range", "bytes=12-20")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 416);
}

#[tokio::test]
async fn a_deleted_record_takes_its_file_along() {
    let emulator = emulator_with_chunk(16).await;
    let client = client(&emulator);
    let id = emulator.insert("accounts", serde_json::json!({"name": "With a file"}));
    let column = client.file_column("accounts", id, COLUMN);
    column.upload("a.bin", 40, &content(40)[..]).send().await.unwrap();

    client.entity_set("accounts").delete(id).send().await.unwrap();
    emulator.insert("accounts", serde_json::json!({"accountid": id.to_string(), "name": "Again"}));

    let error = column.download().to_writer(&mut Vec::new()).await.unwrap_err();
    assert!(error.to_string().contains("No file attachment found"), "{error}");
}

#[tokio::test]
async fn a_chunk_size_of_zero_is_refused() {
    let error = Emulator::builder().file_chunk_size(0).start().await.unwrap_err();
    assert!(error.to_string().contains("file_chunk_size"), "{error}");
}
