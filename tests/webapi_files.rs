//! File columns against wiremock: chunked upload in several parts, ranged download with a small chunk size,
//! and delete, each request's shape asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use dynamics_webapi::entity::Entity;
use futures_util::TryStreamExt;
use support::{API, fail_unmatched, fixture_bytes, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT: &str = "7eb682f1-ca75-e511-80d4-00155d2a68d1";

struct Account;

impl Entity for Account {
    const ENTITY_SET: &'static str = "accounts";
    const LOGICAL_NAME: &'static str = "account";
    const PRIMARY_ID: &'static str = "accountid";
}

fn account_id() -> Uuid {
    Uuid::parse_str(ACCOUNT).unwrap()
}

fn column_path() -> String {
    format!("{API}/accounts({ACCOUNT})/sample_filecolumn")
}

fn sample() -> Vec<u8> {
    fixture_bytes("webapi/files/sample.txt")
}

fn header_text<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|value| value.to_str().unwrap())
}

/// Mounts the opening of a chunked upload (answering a chunk size of `chunk`) and the chunk PATCHes
/// (`206` until the last byte, then `204`).
async fn mount_upload(server: &MockServer, chunk: usize) {
    let location = format!("{}{}?sessiontoken=s3ss10n", server.uri(), column_path());
    Mock::given(method("PATCH"))
        .and(path(column_path()))
        .and(query_param("x-ms-file-name", "sample.txt"))
        .and(header("x-ms-transfer-mode", "chunked"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Location", location.as_str())
                .insert_header("x-ms-chunk-size", chunk.to_string().as_str())
                .insert_header("Accept-Ranges", "bytes"),
        )
        .mount(server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(column_path()))
        .and(query_param("sessiontoken", "s3ss10n"))
        .respond_with(|request: &Request| {
            let range = header_text(request, "content-range").unwrap();
            let (span, total) = range.trim_start_matches("bytes ").split_once('/').unwrap();
            let end: u64 = span.split_once('-').unwrap().1.parse().unwrap();
            let total: u64 = total.parse().unwrap();
            ResponseTemplate::new(if end + 1 < total { 206 } else { 204 })
        })
        .mount(server)
        .await;
}

#[tokio::test]
async fn uploads_in_the_chunks_the_server_asks_for_through_the_session_location() {
    let server = MockServer::start().await;
    mount_upload(&server, 10).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let file = sample();

    client
        .file_column("accounts", account_id(), "sample_filecolumn")
        .upload("sample.txt", 26, &file[..])
        .send()
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 4, "the opening request and three chunks");
    let opening = &requests[0];
    assert_eq!(opening.url.query(), Some("x-ms-file-name=sample.txt"));
    assert_eq!(header_text(opening, "x-ms-transfer-mode"), Some("chunked"));
    assert!(opening.body.is_empty());
    assert_eq!(header_text(opening, "content-type"), None);
    let mut received = Vec::new();
    for (request, range) in requests[1..].iter().zip(["bytes 0-9/26", "bytes 10-19/26", "bytes 20-25/26"]) {
        assert_eq!(request.method.as_str(), "PATCH");
        assert_eq!(request.url.query(), Some("sessiontoken=s3ss10n"));
        assert_eq!(header_text(request, "content-range"), Some(range));
        assert_eq!(header_text(request, "content-type"), Some("application/octet-stream"));
        assert_eq!(header_text(request, "x-ms-file-name"), Some("sample.txt"));
        assert_eq!(header_text(request, "authorization"), Some("Bearer token-1"));
        received.extend_from_slice(&request.body);
    }
    assert_eq!(received, file);
}

#[tokio::test]
async fn a_smaller_chunk_size_than_the_servers_is_kept() {
    let server = MockServer::start().await;
    mount_upload(&server, 10).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let file = sample();

    client
        .file_column_of::<Account>(account_id(), "sample_filecolumn")
        .upload("sample.txt", 26, &file[..])
        .max_chunk_size(8)
        .send()
        .await
        .unwrap();

    let ranges: Vec<String> = server.received_requests().await.unwrap()[1..]
        .iter()
        .map(|request| header_text(request, "content-range").unwrap().to_owned())
        .collect();
    assert_eq!(ranges, ["bytes 0-7/26", "bytes 8-15/26", "bytes 16-23/26", "bytes 24-25/26"]);
}

#[tokio::test]
async fn a_file_shorter_than_announced_stops_before_the_last_chunk() {
    let server = MockServer::start().await;
    mount_upload(&server, 10).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let file = sample();
    let column = client.file_column("accounts", account_id(), "sample_filecolumn");

    let short = column.upload("sample.txt", 30, &file[..]).send().await.unwrap_err();
    let long = column.upload("sample.txt", 20, &file[..]).send().await.unwrap_err();

    assert!(short.to_string().contains("the file ended after 26 of the 30 bytes announced"), "{short}");
    assert!(long.to_string().contains("more than the 20 bytes announced"), "{long}");
    let ranges: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|request| header_text(request, "content-range").map(str::to_owned))
        .collect();
    assert_eq!(ranges, ["bytes 0-9/30", "bytes 10-19/30", "bytes 0-9/20"], "no final chunk was sent");
}

/// Answers `GET …/$value` with the part of the sample its `Range` asks for.
fn ranged(request: &Request) -> ResponseTemplate {
    let file = sample();
    let range = header_text(request, "range").unwrap().trim_start_matches("bytes=").to_owned();
    let (start, end) = range.split_once('-').unwrap();
    let start: usize = start.parse().unwrap();
    let end = end.parse::<usize>().unwrap().min(file.len() - 1);
    ResponseTemplate::new(206)
        .insert_header("x-ms-file-size", file.len().to_string().as_str())
        .insert_header("x-ms-file-name", "sample.txt")
        .insert_header("x-ms-chunk-size", "4194304")
        .insert_header("mimetype", "text/plain")
        .set_body_raw(file[start..=end].to_vec(), "application/octet-stream")
}

#[tokio::test]
async fn downloads_in_ranges_with_a_small_chunk_size() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path(format!("{}/$value", column_path()))).respond_with(ranged).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let column = client.file_column("accounts", account_id(), "sample_filecolumn");

    let mut copy = Vec::new();
    let info = column.download().chunk_size(10).to_writer(&mut copy).await.unwrap();
    let chunks: Vec<_> = column.download().chunk_size(12).chunks().try_collect().await.unwrap();

    assert_eq!(copy, sample());
    assert_eq!((info.name(), info.size(), info.mime_type()), (Some("sample.txt"), 26, Some("text/plain")));
    assert_eq!(chunks.iter().map(|c| c.len()).collect::<Vec<_>>(), [12, 12, 2]);
    assert_eq!(chunks.iter().flat_map(|c| c.iter().copied()).collect::<Vec<u8>>(), sample());
    let ranges: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| header_text(request, "range").unwrap().to_owned())
        .collect();
    assert_eq!(
        ranges,
        ["bytes=0-9", "bytes=10-19", "bytes=20-29", "bytes=0-11", "bytes=12-23", "bytes=24-35"],
        "each range asked for once, in order"
    );
}

#[tokio::test]
async fn a_whole_file_answer_ends_the_download_and_images_ask_for_the_full_size() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts({ACCOUNT})/entityimage/$value")))
        .and(query_param("size", "full"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ms-file-size", "26")
                .insert_header("mimetype", "image/png")
                .set_body_raw(sample(), "application/octet-stream"),
        )
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let mut copy = Vec::new();
    let info = client
        .file_column("accounts", account_id(), "entityimage")
        .download()
        .full_size_image()
        .chunk_size(10)
        .to_writer(&mut copy)
        .await
        .unwrap();

    assert_eq!(copy, sample());
    assert_eq!((info.size(), info.mime_type(), info.name()), (26, Some("image/png"), None));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn deletes_the_file_of_a_column() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(column_path()))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    client.file_column("accounts", account_id(), "sample_filecolumn").delete().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.is_empty());
    let bad = client.file_column("accounts", account_id(), "no/such").delete().await.unwrap_err();
    assert!(bad.to_string().contains("no/such"), "{bad}");
}

#[tokio::test]
async fn an_empty_file_is_uploaded_in_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH")).and(path(column_path())).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    client
        .file_column("accounts", account_id(), "sample_filecolumn")
        .upload("empty.txt", 0, &b""[..])
        .send()
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.url.query(), None);
    assert_eq!(header_text(request, "x-ms-file-name"), Some("empty.txt"));
    assert_eq!(header_text(request, "content-type"), Some("application/octet-stream"));
    assert_eq!(header_text(request, "x-ms-transfer-mode"), None, "nothing to cut into chunks");
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn a_chunk_size_as_large_as_a_u64_asks_for_the_rest_of_the_file_without_overflowing() {
    // The server answers at most 10 bytes a range, so the download goes on past the first range.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{}/$value", column_path())))
        .respond_with(|request: &Request| {
            let file = sample();
            let range = header_text(request, "range").unwrap().trim_start_matches("bytes=").to_owned();
            let (start, end) = range.split_once('-').unwrap();
            let start: usize = start.parse().unwrap();
            let end: u64 = end.parse().unwrap();
            let end = usize::try_from(end).unwrap_or(usize::MAX).min(start + 9).min(file.len() - 1);
            ResponseTemplate::new(206)
                .insert_header("x-ms-file-size", file.len().to_string().as_str())
                .set_body_raw(file[start..=end].to_vec(), "application/octet-stream")
        })
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let column = client.file_column("accounts", account_id(), "sample_filecolumn");

    let mut copy = Vec::new();
    column.download().chunk_size(u64::MAX).to_writer(&mut copy).await.unwrap();

    assert_eq!(copy, sample());
    let ranges: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| header_text(request, "range").unwrap().to_owned())
        .collect();
    let last = u64::MAX;
    assert_eq!(ranges, [format!("bytes=0-{}", last - 1), format!("bytes=10-{last}"), format!("bytes=20-{last}")]);
}

#[tokio::test]
async fn a_whole_file_answer_after_the_first_range_is_an_error_not_appended() {
    let server = MockServer::start().await;
    let download = format!("{API}/accounts({ACCOUNT})/sample_filecolumn/$value");
    Mock::given(method("GET"))
        .and(path(download.as_str()))
        .and(header("range", "bytes=0-9"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("x-ms-file-size", "26")
                .set_body_raw(sample()[..10].to_vec(), "application/octet-stream"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(download.as_str()))
        .and(header("range", "bytes=10-19"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sample(), "application/octet-stream"))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let mut copy = Vec::new();
    let error = client
        .file_column("accounts", account_id(), "sample_filecolumn")
        .download()
        .chunk_size(10)
        .to_writer(&mut copy)
        .await
        .unwrap_err();

    assert!(matches!(error, dynamics_webapi::Error::Decode(_)), "{error:?}");
    assert_eq!(copy, sample()[..10], "the whole file was not appended to the first range");
}
