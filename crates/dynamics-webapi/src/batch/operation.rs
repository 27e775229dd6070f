//! One request of a batch outside any change set, and the request parts every operation shares.

use serde::Serialize;

use super::content_id::{reference_in, references_in_body};
use super::error::{InvalidBatch, InvalidBatchKind};
use super::method::Method;

/// A request that runs on its own in a batch, outside any change set: a read (`GET`) or any write.
///
/// The URL is relative to the service root (`accounts`, `accounts(<id>)?$select=name`), already
/// percent-encoded, as the query builder renders it. The batch prefixes it with the service root path.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{Method, Operation};
/// use serde_json::json;
///
/// let read = Operation::get("accounts?$select=name&$top=3");
/// let update = Operation::patch("accounts(00000000-0000-0000-0000-000000000001)", &json!({"name": "Contoso"}))
///     .header("If-Match", "W/\"77180907\"");
/// assert_eq!(read.method(), Method::Get);
/// assert_eq!(update.headers().collect::<Vec<_>>(), [("If-Match", "W/\"77180907\"")]);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Operation {
    method: Method,
    parts: RequestParts,
}

impl Operation {
    /// An operation with this method and URL, and no body.
    ///
    /// ```
    /// use dynamics_webapi::batch::{Method, Operation};
    ///
    /// let call = Operation::new(Method::Post, "Microsoft.Dynamics.CRM.CalculatePrice");
    /// assert_eq!(call.url(), "Microsoft.Dynamics.CRM.CalculatePrice");
    /// ```
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self { method, parts: RequestParts::new(url.into()) }
    }

    /// A `GET` of a record, a query or a function.
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    ///
    /// let who = Operation::get("WhoAmI");
    /// assert!(who.body_bytes().is_none());
    /// ```
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` with a JSON body: a create, or an action.
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    /// use serde_json::json;
    ///
    /// let create = Operation::post("tasks", &json!({"subject": "Call back"}));
    /// assert_eq!(create.body_bytes(), Some(&br#"{"subject":"Call back"}"#[..]));
    /// ```
    pub fn post<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Self {
        Self::new(Method::Post, url).body(body)
    }

    /// A `PATCH` with a JSON body: an update (with `If-Match: *`) or an upsert (without).
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    /// use serde_json::json;
    ///
    /// let update = Operation::patch("accounts(00000000-0000-0000-0000-000000000001)", &json!({"name": "A"}))
    ///     .header("If-Match", "*");
    /// # let _ = update;
    /// ```
    pub fn patch<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Self {
        Self::new(Method::Patch, url).body(body)
    }

    /// A `PUT` with a JSON body, such as `{"value": ...}` for a single column.
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    /// use serde_json::json;
    ///
    /// let set = Operation::put("accounts(00000000-0000-0000-0000-000000000001)/name", &json!({"value": "B"}));
    /// # let _ = set;
    /// ```
    pub fn put<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Self {
        Self::new(Method::Put, url).body(body)
    }

    /// A `DELETE` of a record, a column value or a reference (`.../$ref`).
    ///
    /// ```
    /// use dynamics_webapi::batch::{Method, Operation};
    ///
    /// let delete = Operation::delete("accounts(00000000-0000-0000-0000-000000000001)");
    /// assert_eq!(delete.method(), Method::Delete);
    /// ```
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Adds a header to the request, such as `If-Match`, `Prefer` or `MSCRM.SuppressDuplicateDetection`.
    ///
    /// A name that is not an HTTP token, or a value with a line break, is kept and reported by
    /// [`BatchRequestBuilder::build`](super::BatchRequestBuilder::build).
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    ///
    /// let read = Operation::get("accounts").header("Prefer", "odata.maxpagesize=10");
    /// assert_eq!(read.headers().next(), Some(("Prefer", "odata.maxpagesize=10")));
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.header(name.into(), value.into());
        self
    }

    /// Sets the JSON body, replacing any earlier one.
    ///
    /// A body that cannot be serialized is kept as an error and reported by
    /// [`BatchRequestBuilder::build`](super::BatchRequestBuilder::build).
    ///
    /// ```
    /// use dynamics_webapi::batch::{Method, Operation};
    ///
    /// #[derive(serde::Serialize)]
    /// struct Task<'a> {
    ///     subject: &'a str,
    /// }
    /// let create = Operation::new(Method::Post, "tasks").body(&Task { subject: "Follow up" });
    /// assert_eq!(create.body_bytes(), Some(&br#"{"subject":"Follow up"}"#[..]));
    /// ```
    pub fn body<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.parts.body(body);
        self
    }

    /// The method.
    ///
    /// ```
    /// use dynamics_webapi::batch::{Method, Operation};
    ///
    /// assert_eq!(Operation::get("accounts").method(), Method::Get);
    /// ```
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL, relative to the service root, as given.
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    ///
    /// assert_eq!(Operation::get("accounts?$top=1").url(), "accounts?$top=1");
    /// ```
    pub fn url(&self) -> &str {
        &self.parts.url
    }

    /// The headers added with [`header`](Self::header), in order.
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    ///
    /// assert_eq!(Operation::get("accounts").headers().count(), 0);
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parts.headers()
    }

    /// The serialized JSON body, if any.
    ///
    /// ```
    /// use dynamics_webapi::batch::Operation;
    ///
    /// assert_eq!(Operation::delete("accounts(00000000-0000-0000-0000-000000000001)").body_bytes(), None);
    /// ```
    pub fn body_bytes(&self) -> Option<&[u8]> {
        self.parts.body_bytes()
    }

    pub(crate) fn parts(&self) -> &RequestParts {
        &self.parts
    }

    /// Checks the operation on its own: header, body, URL, and no `$n` reference outside a change set.
    pub(crate) fn validate(&self) -> Result<(), InvalidBatch> {
        self.parts.validate()?;
        let reference = self.parts.url_reference().or_else(|| self.parts.body_references.first().map(String::as_str));
        match reference {
            Some(id) => Err(InvalidBatch::new(InvalidBatchKind::ReferenceOutsideChangeSet, format!("${id}"))),
            None => Ok(()),
        }
    }
}

/// What every operation has besides its method: URL, headers, body, and the first mistake made building it.
#[derive(Debug, Clone)]
pub(crate) struct RequestParts {
    pub(crate) url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// The Content-IDs that `@odata.bind` values of the body reference.
    pub(crate) body_references: Vec<String>,
    error: Option<InvalidBatch>,
}

impl RequestParts {
    pub(crate) fn new(url: String) -> Self {
        Self { url, headers: Vec::new(), body: None, body_references: Vec::new(), error: None }
    }

    pub(crate) fn header(&mut self, name: String, value: String) {
        if !is_token(&name) || !is_header_value(&value) {
            self.remember(InvalidBatch::new(InvalidBatchKind::Header, name.clone()));
        }
        self.headers.push((name, value));
    }

    pub(crate) fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }

    pub(crate) fn body<T: Serialize + ?Sized>(&mut self, body: &T) {
        // Serialize once to bytes (keeping the caller's field order), then read the bytes back to find references.
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body_references =
                    serde_json::from_slice(&bytes).map(|v| references_in_body(&v)).unwrap_or_default();
                self.body = Some(bytes);
            }
            Err(error) => {
                self.body = None;
                self.body_references.clear();
                self.remember(InvalidBatch::new(InvalidBatchKind::Body, error.to_string()));
            }
        }
    }

    pub(crate) fn body_bytes(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The Content-ID that the URL starts with (`$1/lastname`), if any.
    pub(crate) fn url_reference(&self) -> Option<&str> {
        reference_in(&self.url)
    }

    fn remember(&mut self, error: InvalidBatch) {
        self.error.get_or_insert(error);
    }

    /// Reports the first mistake made while building, then checks the URL.
    pub(crate) fn validate(&self) -> Result<(), InvalidBatch> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if is_relative_url(&self.url) {
            Ok(())
        } else {
            Err(InvalidBatch::new(InvalidBatchKind::Url, self.url.clone()))
        }
    }

    /// Writes the embedded HTTP request: request line, headers, blank line and body, without a final line break.
    pub(crate) fn write(&self, out: &mut Vec<u8>, method: Method, service_root: &str) {
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        if self.url_reference().is_none() {
            out.extend_from_slice(service_root.as_bytes());
        }
        out.extend_from_slice(self.url.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let has_content_type = self.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if self.body.is_some() && !has_content_type {
            out.extend_from_slice(b"Content-Type: application/json\r\n");
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Some(body) = &self.body {
            out.extend_from_slice(body);
        }
    }
}

/// An HTTP token (RFC 9110 `tchar`), as header names must be.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header value without line breaks or other control characters (tabs allowed).
fn is_header_value(text: &str) -> bool {
    text.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// A relative URL of visible ASCII characters that does not start with `/` or a scheme.
fn is_relative_url(url: &str) -> bool {
    let visible = !url.is_empty() && url.bytes().all(|b| b.is_ascii_graphic());
    let scheme_end = url.find(':');
    let has_scheme = scheme_end.is_some_and(|end| {
        let scheme = &url[..end];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    visible && !url.starts_with('/') && !has_scheme
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Method, Operation, is_relative_url, is_token};
    use crate::batch::InvalidBatchKind;

    fn rendered(operation: &Operation) -> String {
        let mut out = Vec::new();
        operation.parts().write(&mut out, operation.method(), "/api/data/v9.2/");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn get_renders_request_line_and_blank_line() {
        let text = rendered(&Operation::get("accounts?$select=name"));
        assert_eq!(text, "GET /api/data/v9.2/accounts?$select=name HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn body_gets_json_content_type_and_headers_keep_their_case() {
        let operation = Operation::patch("accounts(1)", &json!({"name": "A"})).header("If-Match", "*");
        assert_eq!(
            rendered(&operation),
            "PATCH /api/data/v9.2/accounts(1) HTTP/1.1\r\nContent-Type: application/json\r\nIf-Match: *\r\n\r\n{\"name\":\"A\"}"
        );
    }

    #[test]
    fn caller_content_type_replaces_the_default() {
        let operation = Operation::post("tasks", &json!({})).header("content-type", "application/json; type=entry");
        assert_eq!(
            rendered(&operation),
            "POST /api/data/v9.2/tasks HTTP/1.1\r\ncontent-type: application/json; type=entry\r\n\r\n{}"
        );
    }

    #[test]
    fn metadata_is_a_system_resource_not_a_reference() {
        assert_eq!(rendered(&Operation::get("$metadata")), "GET /api/data/v9.2/$metadata HTTP/1.1\r\n\r\n");
        assert!(Operation::get("$metadata").validate().is_ok());
    }

    #[test]
    fn body_keeps_field_order() {
        let body = Operation::post("tasks", &json!({"b": 1, "a": 2}));
        // serde_json's map sorts keys; a struct keeps its order.
        #[derive(serde::Serialize)]
        struct Ordered {
            z: u8,
            a: u8,
        }
        let ordered = Operation::post("tasks", &Ordered { z: 1, a: 2 });
        assert_eq!(body.body_bytes(), Some(&br#"{"a":2,"b":1}"#[..]));
        assert_eq!(ordered.body_bytes(), Some(&br#"{"z":1,"a":2}"#[..]));
    }

    #[test]
    fn unserializable_body_is_reported_by_validate() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        let error = Operation::post("tasks", &map).validate().unwrap_err();
        assert_eq!(error.kind(), InvalidBatchKind::Body);
    }

    #[test]
    fn bad_headers_are_reported_with_their_name() {
        for (name, value) in [("If Match", "*"), ("", "x"), ("X-Test", "a\nb"), ("X-Test", "a\0")] {
            let error = Operation::get("accounts").header(name, value).validate().unwrap_err();
            assert_eq!(error.kind(), InvalidBatchKind::Header);
            assert_eq!(error.input(), name);
        }
        assert!(Operation::get("accounts").header("X-Test", "tab\tok é").validate().is_ok());
    }

    #[test]
    fn urls_must_be_relative_and_encoded() {
        for good in ["accounts", "accounts(1)?$select=name", "WhoAmI", "accounts(name='a:b')", "$metadata"] {
            assert!(is_relative_url(good), "{good}");
        }
        for bad in ["", "/api/data/v9.2/accounts", "https://org/api/accounts", "a b", "a\r\n", "comptes(é)"] {
            assert!(!is_relative_url(bad), "{bad:?}");
            assert_eq!(Operation::get(bad).validate().unwrap_err().kind(), InvalidBatchKind::Url);
        }
    }

    #[test]
    fn references_outside_a_change_set_are_refused() {
        let in_url = Operation::put("$1/lastname", &json!({"value": "x"}));
        let in_body = Operation::post("accounts", &json!({"primarycontactid@odata.bind": "$2"}));
        let error = in_url.validate().unwrap_err();
        assert_eq!((error.kind(), error.input()), (InvalidBatchKind::ReferenceOutsideChangeSet, "$1"));
        assert_eq!(in_body.validate().unwrap_err().input(), "$2");
    }

    #[test]
    fn tokens() {
        assert!(is_token("MSCRM.SuppressDuplicateDetection"));
        assert!(!is_token("a:b"));
        assert_eq!(Method::Get.as_str(), "GET");
    }
}
