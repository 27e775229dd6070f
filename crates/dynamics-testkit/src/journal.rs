//! The request journal: every request the emulator received, in order, and counters.

use std::sync::Arc;

use crate::state::Shared;

/// Which of the emulator's two servers received a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Server {
    /// The Azure AD authority (token endpoints).
    Authority,
    /// The Dataverse org (Web API).
    Org,
}

/// One recorded request and the status it was answered with.
///
/// The `Authorization` header is recorded as `Bearer <redacted>` (or `<redacted>`), and the
/// `client_secret` and `client_assertion` form fields of token requests as `<redacted>`:
/// the journal can be printed in a failing test without leaking anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub(crate) server: Server,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) status: u16,
}

impl JournalEntry {
    /// The server that received the request.
    pub fn server(&self) -> Server {
        self.server
    }

    /// The method, such as `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path as sent (percent-encoded), such as `/api/data/v9.2/accounts(…)`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path percent-decoded, such as `/api/data/v9.2/accounts(accountnumber='A 1')`.
    pub fn decoded_path(&self) -> String {
        percent_encoding::percent_decode_str(&self.path).decode_utf8_lossy().into_owned()
    }

    /// The query string as sent (percent-encoded), without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The value of a query option, decoded, such as `query_param("$top")`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }

    /// Every header, names in lower case, in the order received (`Authorization` redacted).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The body as received (token request secrets redacted; empty for a file's bytes, `application/octet-stream`,
    /// whose length is in the `content-length` header).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The status the emulator answered with.
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// Running totals of what the emulator saw and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Every request, to either server.
    pub requests: u64,
    /// Requests to a token endpoint.
    pub token_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Requests to the org.
    pub web_api_requests: u64,
    /// Operations inside `$batch` requests.
    pub batch_operations: u64,
    /// Requests answered `429` by the throttling fault.
    pub throttled: u64,
    /// Requests answered `503` by the outage fault.
    pub unavailable: u64,
    /// Org requests answered `401` (no, unknown, expired or revoked token, or the 401-once fault).
    pub unauthorized: u64,
    /// Records created (including by upserts and in batches).
    pub created: u64,
    /// Records updated.
    pub updated: u64,
    /// Records deleted.
    pub deleted: u64,
}

/// The recorded requests of an emulator; cheap to clone.
///
/// ```no_run
/// # async fn demo() {
/// use dynamics_testkit::Emulator;
///
/// let emulator = Emulator::start().await;
/// // … run the code under test …
/// let posts = emulator.journal().matching("POST", "/api/data/v9.2/accounts");
/// assert_eq!(posts.len(), 1);
/// assert_eq!(posts[0].body_json().unwrap()["name"], "Contoso");
/// # }
/// ```
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("len", &self.len()).finish()
    }
}

impl Journal {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Every request so far, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.shared.lock().journal.clone()
    }

    /// How many requests were recorded.
    pub fn len(&self) -> usize {
        self.shared.lock().journal.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The requests with this method whose path starts with `path_prefix` (compared decoded),
    /// such as `matching("PATCH", "/api/data/v9.2/accounts(")`.
    pub fn matching(&self, method: &str, path_prefix: &str) -> Vec<JournalEntry> {
        self.shared
            .lock()
            .journal
            .iter()
            .filter(|entry| entry.method.eq_ignore_ascii_case(method) && entry.decoded_path().starts_with(path_prefix))
            .cloned()
            .collect()
    }

    /// The requests to the org's Web API (not the token requests).
    pub fn web_api(&self) -> Vec<JournalEntry> {
        self.shared.lock().journal.iter().filter(|entry| entry.server == Server::Org).cloned().collect()
    }

    /// The running totals.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters
    }

    /// Forgets the recorded requests and resets the counters.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.journal.clear();
        state.counters = Counters::default();
    }
}
