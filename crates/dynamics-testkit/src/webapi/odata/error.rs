//! Dataverse's error answers: `{"error":{"code":"0x…","message":"…"}}` with the status Dataverse uses.
//!
//! Codes and messages are those Dataverse sends (Microsoft's "Web service error codes" list and
//! the Web API docs' examples).

use serde_json::json;

use crate::reply::Reply;

/// One Dataverse error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ODataError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ODataError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// `404 0x80040217`: no record with this id.
    pub(crate) fn record_not_found(logical_name: &str, id: impl std::fmt::Display) -> Self {
        Self::new(404, "0x80040217", format!("{logical_name} With Id = {id} Does Not Exist"))
    }

    /// `404 0x80040217`: no record with these alternate key values.
    pub(crate) fn key_not_found(logical_name: &str) -> Self {
        Self::new(
            404,
            "0x80040217",
            format!("A record with the specified key values does not exist in {logical_name} entity"),
        )
    }

    /// `404 0x8006088a`: the URL names no entity set, function or property.
    pub(crate) fn segment_not_found(segment: &str) -> Self {
        Self::new(404, "0x8006088a", format!("Resource not found for the segment '{segment}'."))
    }

    /// `400 0x80060888`: a malformed URL or query option.
    pub(crate) fn bad_query(message: impl Into<String>) -> Self {
        Self::new(400, "0x80060888", message)
    }

    /// `400 0x80048d19`: a body that cannot be used.
    pub(crate) fn bad_payload(logical_name: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "0x80048d19",
            format!("Error identified in Payload provided by the user for Entity :'{logical_name}', {detail}"),
        )
    }

    /// `412 0x80060882`: `If-Match` named an ETag that is no longer current.
    pub(crate) fn etag_mismatch() -> Self {
        Self::new(
            412,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
        )
    }

    /// `412 0x80040237`: `If-None-Match: *` (create only) on a record that exists.
    pub(crate) fn already_exists() -> Self {
        Self::new(412, "0x80040237", "A record with matching key values already exists.")
    }

    /// `412 0x80040237`: a duplicate primary id or alternate key on create.
    pub(crate) fn duplicate_key(columns: &[String]) -> Self {
        let names = columns.join(", ");
        Self::new(
            412,
            "0x80040237",
            format!(
                "A record that has the attribute values {names} already exists. The entity key requires that this set of attributes contains unique values. Select unique values and try again."
            ),
        )
    }

    /// `405`: a method the URL does not take.
    pub(crate) fn method_not_allowed(method: &str, what: &str) -> Self {
        Self::new(405, "0x80060888", format!("The HTTP method '{method}' is not allowed on {what}."))
    }

    /// `501`: valid OData the emulator does not implement; says so plainly.
    pub(crate) fn not_emulated(what: impl std::fmt::Display) -> Self {
        Self::new(501, "0x80060888", format!("{what} is not emulated by dynamics-testkit"))
    }

    /// The error body.
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }

    /// The reply.
    pub(crate) fn reply(&self) -> Reply {
        Reply::json(self.status, &self.body())
    }
}
