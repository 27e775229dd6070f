//! Shared helpers for the integration tests: fixtures, real documents, wiremock set-up.

#![allow(clippy::expect_used, clippy::unwrap_used)] // Test helpers fail the test by panicking.

/// The root README's examples, compiled as doctests so that they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RootReadme;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aad_auth::test_util::{ManualClock, StaticTokenProvider};
use dynamics_webapi::{Client, ClientBuilder};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The repository's `fixtures/` folder.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A fixture file's text.
pub fn fixture(path: &str) -> String {
    let full = fixtures_dir().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", full.display()))
}

/// A fixture file's bytes.
pub fn fixture_bytes(path: &str) -> Vec<u8> {
    let full = fixtures_dir().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", full.display()))
}

/// The path of a fixture file.
pub fn fixture_path(path: &str) -> PathBuf {
    fixtures_dir().join(path)
}

/// The shared folder of documents real servers produced, beside the checkout.
/// Fails loudly when it is missing: these tests must not pass by skipping.
pub fn realdata_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realdata");
    assert!(
        dir.is_dir(),
        "the shared real-data folder is missing at {}: these tests read it in place (see shared/realdata/README.md)",
        dir.display()
    );
    dir
}

/// A real document's text.
pub fn realdata(path: &str) -> String {
    let full = realdata_dir().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read real document {}: {e}", full.display()))
}

/// A JSON response with the given status and body.
pub fn json_response(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json; charset=utf-8")
}

/// Mounts a catch-all, tried last, that answers 599 and names the request nobody expected.
pub async fn fail_unmatched(server: &MockServer) {
    Mock::given(any())
        .respond_with(|request: &Request| {
            ResponseTemplate::new(599).set_body_string(format!("unmatched request: {} {}", request.method, request.url))
        })
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

/// The form fields of a request body, in order.
pub fn form_pairs(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

/// The value of one form field.
pub fn form_value(request: &Request, name: &str) -> Option<String> {
    form_pairs(request).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The token every test client sends first (`StaticTokenProvider` numbers its tokens).
pub const FIRST_TOKEN: &str = "token-1";

/// A Web API client for the org at `server`, with fixed tokens (`token-1`, `token-2`, …) and a manual clock,
/// so that back-off and `Retry-After` waits are recorded instead of slept.
pub fn webapi_client(server: &MockServer) -> (Client, ManualClock, Arc<StaticTokenProvider>) {
    let (builder, clock, tokens) = webapi_builder(server);
    (builder.build().expect("a valid client"), clock, tokens)
}

/// As [`webapi_client`], for tests that configure more.
pub fn webapi_builder(server: &MockServer) -> (ClientBuilder, ManualClock, Arc<StaticTokenProvider>) {
    let clock = ManualClock::starting_now();
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(clock.clone())));
    let builder = Client::builder(server.uri(), tokens.clone()).clock(Arc::new(clock.clone()));
    (builder, clock, tokens)
}

/// The service root path the client uses: `/api/data/v9.2/`.
pub const API: &str = "/api/data/v9.2";

/// A `.http` document from the real-data folder, split into its requests and responses.
/// Each entry is `(start line, headers, body)` for one message, in order.
pub fn http_messages(path: &str) -> Vec<HttpMessage> {
    let text = realdata(path);
    let mut messages = Vec::new();
    let mut current: Option<HttpMessage> = None;
    let mut in_body = false;
    for line in text.lines() {
        let is_start = line.starts_with("HTTP/1.1 ")
            || ["GET ", "POST ", "PATCH ", "PUT ", "DELETE "].iter().any(|m| line.starts_with(m));
        if is_start {
            if let Some(message) = current.take() {
                messages.push(message);
            }
            current = Some(HttpMessage { start: line.to_owned(), headers: Vec::new(), body: String::new() });
            in_body = false;
            continue;
        }
        let Some(message) = current.as_mut() else { continue };
        if line.starts_with("###") {
            messages.push(current.take().expect("a message"));
            continue;
        }
        if !in_body {
            if line.trim().is_empty() {
                in_body = true;
            } else if let Some((name, value)) = line.split_once(':') {
                message.headers.push((name.trim().to_owned(), value.trim().to_owned()));
            } else {
                in_body = true;
                message.body.push_str(line);
                message.body.push('\n');
            }
        } else {
            message.body.push_str(line);
            message.body.push('\n');
        }
    }
    if let Some(message) = current {
        messages.push(message);
    }
    messages
}

/// One message of a `.http` document.
#[derive(Debug, Clone)]
pub struct HttpMessage {
    /// The request line or status line.
    pub start: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body, trimmed of surrounding blank lines by the reader.
    pub body: String,
}

impl HttpMessage {
    /// The status code of a response.
    pub fn status(&self) -> u16 {
        self.start.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body with `[Organization URI]` replaced by `org`.
    pub fn body_for(&self, org: &str) -> String {
        self.body.replace("[Organization URI]", org).replace("[Organization Uri]", org).trim().to_owned()
    }
}

/// The only request the mock received (fails if there were others).
pub async fn only_request(server: &MockServer) -> Request {
    let requests = server.received_requests().await.expect("request recording is on");
    assert_eq!(requests.len(), 1, "expected exactly one request, got {requests:#?}");
    requests.into_iter().next().expect("one request")
}

/// Checks the headers every Web API request carries, with the first token.
pub fn assert_webapi_headers(request: &Request) {
    assert_eq!(request.headers["authorization"], "Bearer token-1");
    assert_eq!(request.headers["odata-version"], "4.0");
    assert_eq!(request.headers["odata-maxversion"], "4.0");
    assert_eq!(request.headers["accept"], "application/json");
}

/// A header's value as text, or `None`.
pub fn header_text(request: &Request, name: &str) -> Option<String> {
    request.headers.get(name).map(|v| v.to_str().expect("a text header").to_owned())
}

/// The query pairs the server sees, decoded the way a server decodes them (`%XX`, and `+` as space).
pub fn decoded_query(request: &Request) -> Vec<(String, String)> {
    request.url.query_pairs().into_owned().collect()
}

/// The raw (still percent-encoded) query string of a request, without `?`.
pub fn raw_query(request: &Request) -> String {
    request.url.query().unwrap_or_default().to_owned()
}

/// The request's body as JSON.
pub fn json_body(request: &Request) -> serde_json::Value {
    serde_json::from_slice(&request.body).expect("a JSON request body")
}

/// A real `.http` document's response bodies with `[Organization URI]` pointing at `server`.
pub fn realdata_response_bodies(path: &str, server: &MockServer) -> Vec<(u16, String)> {
    http_messages(path)
        .into_iter()
        .filter(|message| message.start.starts_with("HTTP/1.1 "))
        .map(|message| (message.status(), message.body_for(&server.uri())))
        .collect()
}

/// A `tracing` writer that keeps everything written, for tests that assert on log lines.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
