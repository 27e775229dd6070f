//! A request to the Web API as the handlers read it, from the wire or from inside a `$batch`.

use super::query_options::Preferences;

/// A request to the Web API, from the wire or from inside a `$batch`.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: String,
    /// The path below the service root, still percent-encoded, such as `accounts(…)/name`.
    pub(crate) path: String,
    /// The query string without `?`, still percent-encoded.
    pub(crate) query: Option<String>,
    /// Header names in lower case.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl ApiRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub(crate) fn preferences(&self) -> Preferences {
        Preferences::parse(
            self.headers.iter().filter(|(key, _)| key.eq_ignore_ascii_case("prefer")).map(|(_, value)| value.as_str()),
        )
    }
}
