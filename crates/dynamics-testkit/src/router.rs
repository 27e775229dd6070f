//! The wiremock responder of each server: hands the request to the handler for its URL shape,
//! applies the latency fault, and records the request in the journal.

use std::sync::Arc;

use wiremock::{Request, Respond, ResponseTemplate};

use crate::journal::{JournalEntry, Server};
use crate::state::Shared;
use crate::{aad, webapi};

/// Headers whose values never reach the journal.
const REDACTED_HEADERS: [&str; 3] = ["authorization", "x-identity-header", "cookie"];
/// Form fields of token requests whose values never reach the journal.
const REDACTED_FIELDS: [&str; 2] = ["client_secret", "client_assertion"];

/// The responder mounted as the only mock of one server.
pub(crate) struct Router {
    pub(crate) shared: Arc<Shared>,
    pub(crate) server: Server,
}

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.shared.lock();
        let reply = match self.server {
            Server::Authority => aad::handle(&self.shared.config, &mut state, request),
            Server::Org => webapi::handle(&self.shared.config, &mut state, request),
        };
        state.counters.requests += 1;
        let entry = JournalEntry {
            server: self.server,
            method: request.method.as_str().to_owned(),
            path: request.url.path().to_owned(),
            query: request.url.query().map(str::to_owned),
            headers: recorded_headers(request),
            body: recorded_body(self.server, request),
            status: reply.status,
        };
        state.journal.push(entry);
        let latency = state.faults.latency;
        drop(state);
        let template = reply.into_template();
        if latency.is_zero() { template } else { template.set_delay(latency) }
    }
}

fn recorded_headers(request: &Request) -> Vec<(String, String)> {
    request
        .headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let value = if REDACTED_HEADERS.contains(&name.as_str()) { redact_credentials(&value) } else { value };
            (name, value)
        })
        .collect()
}

fn redact_credentials(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".to_owned(),
    }
}

/// The body as recorded: token request secrets redacted; a file's bytes (`application/octet-stream`, the body of a
/// file column upload) left out, so that the journal does not hold a second copy of every file uploaded
/// (its `content-length` and `content-range` headers say how much was sent).
fn recorded_body(server: Server, request: &Request) -> Vec<u8> {
    if server != Server::Authority {
        let is_file = request
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("application/octet-stream"));
        return if is_file { Vec::new() } else { request.body.clone() };
    }
    let redacted: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .map(|(key, value)| {
            let value = if REDACTED_FIELDS.contains(&key.as_ref()) { "<redacted>".into() } else { value };
            (key.into_owned(), value.into_owned())
        })
        .collect();
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(redacted).finish().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_but_the_scheme_is_kept() {
        assert_eq!(redact_credentials("Bearer eyJ0.abc.def"), "Bearer <redacted>");
        assert_eq!(redact_credentials("opaque"), "<redacted>");
    }
}
