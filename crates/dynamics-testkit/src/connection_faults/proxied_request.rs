//! What the fault proxy recorded: one entry per request, and running totals.

use super::ConnectionFault;

/// One request that reached the [`FaultProxy`](crate::FaultProxy), with what was done to it.
///
/// Only what a test needs to match requests with records is kept: no headers (so no bearer token),
/// and no body when it is a file's bytes (`application/octet-stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    pub(crate) index: u64,
    pub(crate) connection: u64,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) body: Vec<u8>,
    pub(crate) fault: Option<ConnectionFault>,
    pub(crate) upstream_status: Option<u16>,
    pub(crate) status: Option<u16>,
}

impl ProxiedRequest {
    /// Its place among the proxy's requests, from 0, in the order their heads were read.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Which client connection it came on (numbered from 0 in the order accepted): requests on one kept-alive
    /// connection share it.
    pub fn connection(&self) -> u64 {
        self.connection
    }

    /// The method, such as `POST`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path as sent (percent-encoded), without the query, such as `/api/data/v9.2/accounts`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path percent-decoded.
    pub fn decoded_path(&self) -> String {
        percent_encoding::percent_decode_str(&self.path).decode_utf8_lossy().into_owned()
    }

    /// The query string as sent, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The body (chunks joined; empty for a file's bytes).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The fault injected, or `None` when the request passed through.
    pub fn fault(&self) -> Option<ConnectionFault> {
        self.fault
    }

    /// The status the upstream server answered, when the request reached it and the answer was read
    /// (pass-through and [`ConnectionFault::ClosedAfterCommit`]).
    pub fn upstream_status(&self) -> Option<u16> {
        self.upstream_status
    }

    /// The status the client was sent, if any: the upstream's for a pass-through, the proxy's own `503` or `429`,
    /// or `502` when the upstream could not be reached. `None` when the connection was closed or hung.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether the upstream server handled the request successfully (a `2xx` answer), whether or not the client got the answer:
    /// for a create, whether the record is in the server's store.
    pub fn is_committed(&self) -> bool {
        self.upstream_status.is_some_and(|status| (200..300).contains(&status))
    }
}

/// Running totals of a [`FaultProxy`](crate::FaultProxy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultCounts {
    /// Client connections accepted.
    pub connections: u64,
    /// Requests read.
    pub requests: u64,
    /// Requests passed through unharmed.
    pub passed: u64,
    /// [`ConnectionFault::ClosedBeforeRead`] injected.
    pub closed_before_read: u64,
    /// [`ConnectionFault::ClosedAfterCommit`] injected.
    pub closed_after_commit: u64,
    /// [`ConnectionFault::ServiceUnavailable`] injected.
    pub service_unavailable: u64,
    /// [`ConnectionFault::Throttled`] injected.
    pub throttled: u64,
    /// [`ConnectionFault::Hang`] injected.
    pub hung: u64,
    /// Requests answered `502` because the upstream server could not be reached or broke off its answer.
    pub upstream_failures: u64,
}

impl FaultCounts {
    pub(crate) fn count(&mut self, fault: Option<ConnectionFault>) {
        let counter = match fault {
            None => &mut self.passed,
            Some(ConnectionFault::ClosedBeforeRead) => &mut self.closed_before_read,
            Some(ConnectionFault::ClosedAfterCommit) => &mut self.closed_after_commit,
            Some(ConnectionFault::ServiceUnavailable) => &mut self.service_unavailable,
            Some(ConnectionFault::Throttled { .. }) => &mut self.throttled,
            Some(ConnectionFault::Hang) => &mut self.hung,
        };
        *counter += 1;
    }

    /// The faults injected, of every kind.
    pub fn injected(&self) -> u64 {
        self.closed_before_read + self.closed_after_commit + self.service_unavailable + self.throttled + self.hung
    }
}
