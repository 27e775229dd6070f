//! The OData error body Dataverse sends with a failed operation.

use std::fmt;

use serde::Deserialize;

/// The `error` object of a failed operation: `{"error":{"code":"0x80040217","message":"..."}}`.
///
/// Dataverse's codes are hexadecimal, such as `0x80040217` (record not found) or `0x80072322`
/// (service protection: too many requests). A body that is not such an object, such as the plain text
/// Dataverse sends for an undeclared Content-ID reference, gives an error without code whose message
/// is the text.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::ODataError;
///
/// let error = ODataError::from_body(br#"{"error":{"code":"0x80044331","message":"A validation error occurred."}}"#);
/// assert_eq!(error.code(), Some("0x80044331"));
/// assert_eq!(error.message(), "A validation error occurred.");
///
/// let text = ODataError::from_body(b"Content-ID Reference: '$1' does not exist in the batch context.");
/// assert_eq!(text.code(), None);
/// assert_eq!(text.message(), "Content-ID Reference: '$1' does not exist in the batch context.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    code: Option<String>,
    message: String,
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ODataError {
    /// Reads an error body; never fails (see the type's documentation for bodies that are not OData errors).
    ///
    /// ```
    /// use dynamics_webapi::batch::ODataError;
    ///
    /// let error = ODataError::from_body(b"");
    /// assert_eq!((error.code(), error.message()), (None, ""));
    /// ```
    pub fn from_body(body: &[u8]) -> Self {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => {
                Self { code: error.code.filter(|code| !code.is_empty()), message: error.message.unwrap_or_default() }
            }
            Err(_) => Self { code: None, message: String::from_utf8_lossy(body).trim().to_owned() },
        }
    }

    /// The error code, such as `0x80040217`, when the body had one.
    ///
    /// ```
    /// use dynamics_webapi::batch::ODataError;
    ///
    /// let error = ODataError::from_body(br#"{"error":{"code":"0x80040217","message":"Not found"}}"#);
    /// assert_eq!(error.code(), Some("0x80040217"));
    /// ```
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The message, meant for people.
    ///
    /// ```
    /// use dynamics_webapi::batch::ODataError;
    ///
    /// let error = ODataError::from_body(br#"{"error":{"code":"0x80040217","message":"Not found"}}"#);
    /// assert_eq!(error.message(), "Not found");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ODataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ODataError;

    #[test]
    fn extra_fields_are_ignored() {
        let body = br#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds.","@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus":"0","innererror":{}}}"#;
        let error = ODataError::from_body(body);
        assert_eq!(error.code(), Some("0x80072322"));
        assert!(error.message().starts_with("Number of requests"));
        assert!(error.to_string().starts_with("0x80072322: Number"));
    }

    #[test]
    fn missing_pieces_are_tolerated() {
        let error = ODataError::from_body(br#"{"error":{"message":"no code"}}"#);
        assert_eq!((error.code(), error.message()), (None, "no code"));
        let error = ODataError::from_body(br#"{"error":{"code":""}}"#);
        assert_eq!((error.code(), error.message()), (None, ""));
    }

    #[test]
    fn other_bodies_become_their_text() {
        let error = ODataError::from_body(b"  <html>Bad Gateway</html>\r\n");
        assert_eq!(error.code(), None);
        assert_eq!(error.message(), "<html>Bad Gateway</html>");
        assert_eq!(error.to_string(), "<html>Bad Gateway</html>");
        assert_eq!(ODataError::from_body(b"\xff\xfe").message(), "\u{fffd}\u{fffd}");
    }
}
