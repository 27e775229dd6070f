//! Shared helpers for the integration tests: fixtures, real documents, wiremock set-up.

use std::path::{Path, PathBuf};

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
