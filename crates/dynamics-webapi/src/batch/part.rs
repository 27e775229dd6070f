//! The answer to one operation of a batch: the HTTP response embedded in one part.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::{BatchError, DecodeError, MalformedKind};
use super::multipart::{Part, excerpt, next_line, read_headers};
use super::odata_error::ODataError;

/// The HTTP response the server wrote for one operation (or for a whole failed change set).
///
/// The body is kept as bytes, whatever it holds; [`json`](Self::json) decodes it on demand, so a part with
/// a body that is not valid JSON is still read, and only decoding it fails.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{BatchRequest, Operation};
/// use http::StatusCode;
///
/// let batch = BatchRequest::builder().operation(Operation::get("WhoAmI")).build().unwrap();
/// let body = "--batchresponse_1\r\n\
///     Content-Type: application/http\r\n\
///     Content-Transfer-Encoding: binary\r\n\
///     \r\n\
///     HTTP/1.1 200 OK\r\n\
///     Content-Type: application/json; odata.metadata=minimal\r\n\
///     \r\n\
///     {\"UserId\":\"00000000-0000-0000-0000-000000000001\"}\r\n\
///     --batchresponse_1--\r\n";
/// let response = batch.parse_response(StatusCode::OK, "multipart/mixed; boundary=batchresponse_1", body).unwrap();
///
/// let part = response.outcomes()[0].response().unwrap();
/// assert_eq!(part.status(), StatusCode::OK);
/// assert!(part.is_success());
/// let who: serde_json::Value = part.json().unwrap();
/// assert_eq!(who["UserId"], "00000000-0000-0000-0000-000000000001");
/// ```
#[derive(Debug, Clone)]
pub struct BatchPartResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    content_id: Option<String>,
}

impl BatchPartResponse {
    /// Reads the HTTP response embedded in a part (`application/http`).
    pub(crate) fn from_part(part: Part) -> Result<Self, BatchError> {
        let content_id = part.content_id();
        let mut response = Self::parse(&part.body)?;
        response.content_id = content_id;
        Ok(response)
    }

    /// Reads a status line, headers, a blank line and a body. Blank lines before the status line are skipped.
    fn parse(message: &Bytes) -> Result<Self, BatchError> {
        let mut position = 0;
        let (status, after_status) = loop {
            let Some((line_end, next)) = next_line(message, position) else {
                return Err(BatchError::malformed(MalformedKind::BadStatusLine, ""));
            };
            let line = &message[position..line_end];
            if !line.trim_ascii().is_empty() {
                break (parse_status_line(line)?, next);
            }
            position = next;
        };
        let (headers, body_start) = read_headers(message, after_status)?;
        Ok(Self { status, headers, body: message.slice(body_start.min(message.len())..), content_id: None })
    }

    /// A response made by the HTTP layer from a whole-batch answer that is not multipart.
    pub(crate) fn whole(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self { status, headers, body, content_id: None }
    }

    /// The status code of the embedded response.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// println!("{}", part.status().as_u16());
    /// # }
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the status is 2xx.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// if !part.is_success() {
    ///     eprintln!("{:?}", part.error());
    /// }
    /// # }
    /// ```
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The headers of the embedded response, such as `OData-EntityId`, `Location` or `REQ_ID`.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// let request_id = part.headers().get("REQ_ID");
    /// # let _ = request_id;
    /// # }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The value of one header as text, if present and readable.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// let version = part.header("OData-Version");
    /// # let _ = version;
    /// # }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The URL of the record a create or upsert wrote, from the `OData-EntityId` header.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// if let Some(url) = part.entity_id() {
    ///     println!("created {url}");
    /// }
    /// # }
    /// ```
    pub fn entity_id(&self) -> Option<&str> {
        self.header("OData-EntityId")
    }

    /// The Content-ID the server gave the part, inside a change set.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// println!("{:?}", part.content_id());
    /// # }
    /// ```
    pub fn content_id(&self) -> Option<&str> {
        self.content_id.as_deref()
    }

    /// The body, exactly as received (empty for a 204).
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// println!("{} bytes", part.body().len());
    /// # }
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as shared bytes, without copying.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// let body: bytes::Bytes = part.bytes();
    /// # let _ = body;
    /// # }
    /// ```
    pub fn bytes(&self) -> Bytes {
        self.body.clone()
    }

    /// Decodes the body as JSON into `T`.
    ///
    /// # Errors
    ///
    /// [`BatchError::Decode`] when the body is empty, not JSON, or not the shape of `T`.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// #[derive(serde::Deserialize)]
    /// struct Page {
    ///     value: Vec<serde_json::Value>,
    /// }
    /// # fn show(part: &BatchPartResponse) -> Result<(), dynamics_webapi::batch::BatchError> {
    /// let page: Page = part.json()?;
    /// println!("{} records", page.value.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, BatchError> {
        serde_json::from_slice(&self.body).map_err(|error| BatchError::Decode(DecodeError::from_json(error)))
    }

    /// The OData error of a failed part (`{"error":{"code":"0x80040217","message":"..."}}`), `None` for a success.
    ///
    /// A body that is not an OData error (plain text, HTML from a gateway) becomes an error without code
    /// whose message is the text.
    ///
    /// ```
    /// # use dynamics_webapi::batch::BatchPartResponse;
    /// # fn show(part: &BatchPartResponse) {
    /// if let Some(error) = part.error() {
    ///     eprintln!("{}: {}", error.code().unwrap_or("no code"), error.message());
    /// }
    /// # }
    /// ```
    pub fn error(&self) -> Option<ODataError> {
        (!self.is_success()).then(|| ODataError::from_body(&self.body))
    }
}

/// Reads `HTTP/1.1 204 No Content`: a version starting with `HTTP/`, a three-digit code, an optional reason.
fn parse_status_line(line: &[u8]) -> Result<StatusCode, BatchError> {
    let bad = || BatchError::malformed(MalformedKind::BadStatusLine, excerpt(line));
    let text = std::str::from_utf8(line).map_err(|_| bad())?.trim();
    let mut words = text.splitn(3, ' ');
    let version = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    if !version.starts_with("HTTP/") || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    StatusCode::from_bytes(code.as_bytes()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::StatusCode;

    use super::{BatchPartResponse, parse_status_line};
    use crate::batch::{BatchError, MalformedKind};

    fn parse(text: &'static str) -> Result<BatchPartResponse, BatchError> {
        BatchPartResponse::parse(&Bytes::from_static(text.as_bytes()))
    }

    #[test]
    fn reads_status_headers_and_body() {
        let part =
            parse("HTTP/1.1 201 Created\r\nOData-EntityId: [Organization Uri]/tasks(1)\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!(part.status(), StatusCode::CREATED);
        assert_eq!(part.entity_id(), Some("[Organization Uri]/tasks(1)"));
        assert_eq!(part.body(), b"{\"a\":1}");
        assert_eq!(part.json::<serde_json::Value>().unwrap()["a"], 1);
        assert!(part.error().is_none());
    }

    #[test]
    fn headers_without_blank_line_mean_no_body() {
        let part = parse("HTTP/1.1 204 No Content\nOData-Version: 4.0\nLocation: x\n").unwrap();
        assert_eq!(part.status(), StatusCode::NO_CONTENT);
        assert_eq!(part.header("location"), Some("x"));
        assert!(part.body().is_empty());
    }

    #[test]
    fn leading_blank_lines_are_skipped() {
        assert_eq!(parse("\r\n\r\nHTTP/1.1 200 OK\r\n\r\n").unwrap().status(), StatusCode::OK);
    }

    #[test]
    fn bad_status_lines_are_typed_errors() {
        for line in ["HTTP/1.1", "HTTP/1.1 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTP/1.1 200 OK", "200 OK"] {
            let Err(BatchError::Malformed(error)) = parse_status_line(line.as_bytes()) else {
                panic!("{line} was accepted");
            };
            assert_eq!(error.kind(), MalformedKind::BadStatusLine);
            assert_eq!(error.detail(), line);
        }
        assert!(matches!(parse(""), Err(BatchError::Malformed(e)) if e.kind() == MalformedKind::BadStatusLine));
        assert!(parse_status_line(b"HTTP/1.1 099 Odd").is_err());
        assert!(parse_status_line(b"HTTP/1.1 \xff\xfe").is_err());
    }

    #[test]
    fn reason_phrase_is_optional_and_free() {
        assert_eq!(parse_status_line(b"HTTP/1.1 400").unwrap(), StatusCode::BAD_REQUEST);
        assert_eq!(parse_status_line(b"HTTP/1.1 400 BadRequest").unwrap(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn invalid_json_body_fails_only_in_the_accessor() {
        let part = parse("HTTP/1.1 200 OK\r\n\r\n{\"value\": [1,]}").unwrap();
        assert!(matches!(part.json::<serde_json::Value>(), Err(BatchError::Decode(_))));
        assert!(parse("HTTP/1.1 204 No Content\r\n\r\n").unwrap().json::<serde_json::Value>().is_err());
    }

    #[test]
    fn failed_part_gives_its_odata_error() {
        let part = parse(
            "HTTP/1.1 404 Not Found\r\n\r\n{\"error\":{\"code\":\"0x80040217\",\"message\":\"account Does Not Exist\"}}",
        )
        .unwrap();
        let error = part.error().unwrap();
        assert_eq!(error.code(), Some("0x80040217"));
        assert_eq!(error.message(), "account Does Not Exist");
    }
}
