//! The error of the batch module: a batch that cannot be sent, a response that cannot be read.

use std::error::Error as StdError;
use std::fmt;

/// Why a batch could not be built, split or read back.
///
/// The variants follow the life of a batch: [`Invalid`](Self::Invalid) and [`Limit`](Self::Limit)
/// are found before anything is sent, [`Malformed`](Self::Malformed) when the response is read,
/// and [`Decode`](Self::Decode) when the body of one part is not the JSON the caller expects.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::{BatchError, BatchRequest, ChangeSet, ChangeSetOperation};
///
/// let mut change_set = ChangeSet::new();
/// change_set.push(ChangeSetOperation::patch("$7/name", &serde_json::json!({"name": "x"})));
/// let error = BatchRequest::builder().change_set(change_set).build().unwrap_err();
///
/// assert!(error.is_invalid());
/// assert_eq!(
///     error.to_string(),
///     "invalid batch: Content-ID reference to an operation not declared earlier in the same change set `$7`",
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The batch as built cannot be sent: a bad URL, header or Content-ID, or an undeclared reference.
    #[error("{0}")]
    Invalid(InvalidBatch),
    /// The batch, or one change set in it, is over a cap ([`BatchLimits`](super::BatchLimits)).
    #[error("{0}")]
    Limit(LimitExceeded),
    /// The response is not a batch response that can be read (no boundary, truncated, bad status line).
    #[error("{0}")]
    Malformed(MalformedResponse),
    /// The body of one part is not the JSON the caller asked for.
    #[error("cannot decode the body of a batch part as JSON")]
    Decode(#[source] DecodeError),
}

impl BatchError {
    /// Whether the batch was refused before sending because it is not well formed.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    ///
    /// let error = BatchRequest::builder().operation(Operation::get("https://x/accounts")).build().unwrap_err();
    /// assert!(error.is_invalid());
    /// ```
    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Invalid(_))
    }

    /// Whether the batch was refused before sending because it is over a cap.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchLimits, BatchRequest, Operation};
    ///
    /// let error = BatchRequest::builder()
    ///     .limits(BatchLimits::new().max_operations(1))
    ///     .operation(Operation::get("accounts"))
    ///     .operation(Operation::get("contacts"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.is_limit());
    /// ```
    pub fn is_limit(&self) -> bool {
        matches!(self, Self::Limit(_))
    }

    /// Whether a response could not be read as a batch response.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchRequest, Operation};
    /// use http::StatusCode;
    ///
    /// let batch = BatchRequest::builder().operation(Operation::get("accounts")).build().unwrap();
    /// let error = batch.parse_response(StatusCode::OK, "multipart/mixed", "").unwrap_err();
    /// assert!(error.is_malformed());
    /// ```
    pub fn is_malformed(&self) -> bool {
        matches!(self, Self::Malformed(_))
    }

    /// Whether the body of a part is not the JSON the caller asked for.
    ///
    /// ```
    /// use dynamics_webapi::batch::BatchError;
    ///
    /// # fn check(error: BatchError) {
    /// if error.is_decode() {
    ///     eprintln!("the server sent a body we cannot read: {error}");
    /// }
    /// # }
    /// ```
    pub fn is_decode(&self) -> bool {
        matches!(self, Self::Decode(_))
    }

    pub(crate) fn invalid(kind: InvalidBatchKind, input: impl Into<String>) -> Self {
        Self::Invalid(InvalidBatch::new(kind, input))
    }

    pub(crate) fn limit(kind: LimitKind, actual: usize, max: usize, item: Option<usize>) -> Self {
        Self::Limit(LimitExceeded { kind, actual, max, item })
    }

    pub(crate) fn malformed(kind: MalformedKind, detail: impl Into<String>) -> Self {
        Self::Malformed(MalformedResponse { kind, detail: detail.into() })
    }
}

impl From<InvalidBatch> for BatchError {
    fn from(invalid: InvalidBatch) -> Self {
        Self::Invalid(invalid)
    }
}

/// The data of [`BatchError::Invalid`]: what is wrong, and the input that is wrong.
///
/// ```
/// use dynamics_webapi::batch::{BatchError, BatchRequest, InvalidBatchKind, Operation};
///
/// let error = BatchRequest::builder().operation(Operation::get("accounts?$top=1 0")).build().unwrap_err();
/// let BatchError::Invalid(invalid) = error else { panic!("expected an invalid batch") };
/// assert_eq!(invalid.kind(), InvalidBatchKind::Url);
/// assert_eq!(invalid.input(), "accounts?$top=1 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBatch {
    kind: InvalidBatchKind,
    input: String,
}

impl InvalidBatch {
    pub(crate) fn new(kind: InvalidBatchKind, input: impl Into<String>) -> Self {
        Self { kind, input: input.into() }
    }

    /// What kind of mistake the batch holds.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchError, BatchRequest, InvalidBatchKind};
    ///
    /// let Err(BatchError::Invalid(invalid)) = BatchRequest::builder().build() else { panic!() };
    /// assert_eq!(invalid.kind(), InvalidBatchKind::Empty);
    /// ```
    pub fn kind(&self) -> InvalidBatchKind {
        self.kind
    }

    /// The offending input as the caller gave it (a URL, a header name, a Content-ID, a reference).
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchError, BatchRequest, Operation};
    ///
    /// let operation = Operation::get("accounts").header("If-Match", "a\r\nb");
    /// let Err(BatchError::Invalid(invalid)) = BatchRequest::builder().operation(operation).build() else { panic!() };
    /// assert_eq!(invalid.input(), "If-Match");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for InvalidBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid batch: {} `{}`", self.kind, self.input)
    }
}

/// The kinds of [`InvalidBatch`].
///
/// ```
/// use dynamics_webapi::batch::InvalidBatchKind;
///
/// assert_eq!(InvalidBatchKind::Url.to_string(), "URL is not a relative, percent-encoded URL");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidBatchKind {
    /// A URL that is empty, absolute (`https://...`, `/api/...`), or holds a space, a control character
    /// or a character outside ASCII (percent-encode those).
    Url,
    /// The service root path is not an absolute path such as `/api/data/v9.2/`.
    ServiceRoot,
    /// A header name that is not an HTTP token, or a value with a line break or control character.
    Header,
    /// An explicit Content-ID that is empty or holds characters other than letters, digits, `-`, `_` and `.`.
    ContentId,
    /// Two operations of one change set share a Content-ID.
    DuplicateContentId,
    /// A `$n` reference (in a URL or an `@odata.bind` value) to a Content-ID that no earlier operation of the
    /// same change set declares. Dataverse answers such a batch with
    /// `Content-ID Reference: '$1' does not exist in the batch context.`
    UndeclaredReference,
    /// A `$n` reference in an operation outside any change set, where no Content-ID can be declared.
    ReferenceOutsideChangeSet,
    /// A body that could not be serialized to JSON.
    Body,
    /// A change set with no operation.
    EmptyChangeSet,
    /// A batch with no item.
    Empty,
}

impl fmt::Display for InvalidBatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Url => "URL is not a relative, percent-encoded URL",
            Self::ServiceRoot => "service root is not an absolute path",
            Self::Header => "header is not valid HTTP",
            Self::ContentId => "Content-ID is not a token",
            Self::DuplicateContentId => "Content-ID used twice in one change set",
            Self::UndeclaredReference => {
                "Content-ID reference to an operation not declared earlier in the same change set"
            }
            Self::ReferenceOutsideChangeSet => "Content-ID reference outside a change set",
            Self::Body => "body cannot be serialized to JSON",
            Self::EmptyChangeSet => "change set has no operation",
            Self::Empty => "batch has no item",
        })
    }
}

/// The data of [`BatchError::Limit`]: which cap, the size found and the cap.
///
/// ```
/// use dynamics_webapi::batch::{BatchError, BatchLimits, BatchRequest, ChangeSet, ChangeSetOperation, LimitKind};
///
/// let mut change_set = ChangeSet::new();
/// for _ in 0..3 {
///     change_set.push(ChangeSetOperation::delete("tasks(00000000-0000-0000-0000-000000000001)"));
/// }
/// let error = BatchRequest::builder()
///     .limits(BatchLimits::new().max_operations(2))
///     .change_set(change_set)
///     .build_split()
///     .unwrap_err();
/// let BatchError::Limit(limit) = error else { panic!("expected a limit error") };
/// assert_eq!((limit.kind(), limit.actual(), limit.max(), limit.item()), (LimitKind::ChangeSetOperations, 3, 2, Some(0)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    kind: LimitKind,
    actual: usize,
    max: usize,
    item: Option<usize>,
}

impl LimitExceeded {
    /// Which cap was exceeded.
    ///
    /// ```
    /// # use dynamics_webapi::batch::{BatchError, BatchLimits, BatchRequest, LimitKind, Operation};
    /// let error = BatchRequest::builder()
    ///     .limits(BatchLimits::new().max_body_bytes(10))
    ///     .operation(Operation::get("accounts"))
    ///     .build()
    ///     .unwrap_err();
    /// let BatchError::Limit(limit) = error else { panic!() };
    /// assert_eq!(limit.kind(), LimitKind::BodyBytes);
    /// ```
    pub fn kind(&self) -> LimitKind {
        self.kind
    }

    /// The size found: operations, or bytes for [`LimitKind::BodyBytes`].
    ///
    /// ```
    /// # use dynamics_webapi::batch::{BatchError, BatchLimits, BatchRequest, Operation};
    /// let error = BatchRequest::builder()
    ///     .limits(BatchLimits::new().max_operations(1))
    ///     .operations([Operation::get("accounts"), Operation::get("contacts")])
    ///     .build()
    ///     .unwrap_err();
    /// let BatchError::Limit(limit) = error else { panic!() };
    /// assert_eq!(limit.actual(), 2);
    /// ```
    pub fn actual(&self) -> usize {
        self.actual
    }

    /// The cap.
    ///
    /// ```
    /// # use dynamics_webapi::batch::{BatchError, BatchLimits, BatchRequest, Operation};
    /// let error = BatchRequest::builder()
    ///     .limits(BatchLimits::new().max_operations(1))
    ///     .operations([Operation::get("accounts"), Operation::get("contacts")])
    ///     .build()
    ///     .unwrap_err();
    /// let BatchError::Limit(limit) = error else { panic!() };
    /// assert_eq!(limit.max(), 1);
    /// ```
    pub fn max(&self) -> usize {
        self.max
    }

    /// The position of the offending item among the items given, when one item alone is over the cap.
    ///
    /// ```
    /// # use dynamics_webapi::batch::{BatchError, BatchLimits, BatchRequest, Operation};
    /// let error = BatchRequest::builder()
    ///     .limits(BatchLimits::new().max_operations(1))
    ///     .operations([Operation::get("accounts"), Operation::get("contacts")])
    ///     .build()
    ///     .unwrap_err();
    /// let BatchError::Limit(limit) = error else { panic!() };
    /// assert_eq!(limit.item(), None);
    /// ```
    pub fn item(&self) -> Option<usize> {
        self.item
    }
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.item) {
            (LimitKind::ChangeSetOperations, Some(item)) => write!(
                f,
                "change set at item {item} has {} operations, over the cap of {} per batch; a change set is never split",
                self.actual, self.max
            ),
            (LimitKind::BodyBytes, Some(item)) => {
                write!(f, "item {item} alone renders to {} bytes, over the cap of {} bytes", self.actual, self.max)
            }
            (LimitKind::BodyBytes, None) => {
                write!(f, "batch body is {} bytes, over the cap of {} bytes", self.actual, self.max)
            }
            (_, _) => write!(f, "batch has {} operations, over the cap of {}", self.actual, self.max),
        }
    }
}

/// The caps of [`LimitExceeded`].
///
/// ```
/// use dynamics_webapi::batch::LimitKind;
///
/// assert_ne!(LimitKind::Operations, LimitKind::ChangeSetOperations);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// Operations in one batch (Dataverse allows 1,000).
    Operations,
    /// Operations in one change set, which cannot be split across batches.
    ChangeSetOperations,
    /// Bytes of the rendered batch body.
    BodyBytes,
}

/// The data of [`BatchError::Malformed`]: what is wrong with the response, and where.
///
/// ```
/// use dynamics_webapi::batch::{BatchError, BatchRequest, MalformedKind, Operation};
/// use http::StatusCode;
///
/// let batch = BatchRequest::builder().operation(Operation::get("accounts")).build().unwrap();
/// let error = batch.parse_response(StatusCode::OK, "multipart/mixed; charset=utf-8", "").unwrap_err();
/// let BatchError::Malformed(malformed) = error else { panic!("expected a malformed response") };
/// assert_eq!(malformed.kind(), MalformedKind::MissingBoundary);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedResponse {
    kind: MalformedKind,
    detail: String,
}

impl MalformedResponse {
    /// What is wrong with the response.
    ///
    /// ```
    /// # use dynamics_webapi::batch::{BatchError, BatchRequest, MalformedKind, Operation};
    /// # use http::StatusCode;
    /// let batch = BatchRequest::builder().operation(Operation::get("accounts")).build().unwrap();
    /// let body = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{\"value\":[";
    /// let error = batch.parse_response(StatusCode::OK, "multipart/mixed; boundary=b", body).unwrap_err();
    /// let BatchError::Malformed(malformed) = error else { panic!() };
    /// assert_eq!(malformed.kind(), MalformedKind::Truncated);
    /// ```
    pub fn kind(&self) -> MalformedKind {
        self.kind
    }

    /// Where the problem is: the offending line or value, cut to a readable length.
    ///
    /// ```
    /// # use dynamics_webapi::batch::{BatchError, BatchRequest, Operation};
    /// # use http::StatusCode;
    /// let batch = BatchRequest::builder().operation(Operation::get("accounts")).build().unwrap();
    /// let body = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 OK\r\n\r\n--b--\r\n";
    /// let error = batch.parse_response(StatusCode::OK, "multipart/mixed; boundary=b", body).unwrap_err();
    /// let BatchError::Malformed(malformed) = error else { panic!() };
    /// assert_eq!(malformed.detail(), "HTTP/1.1 OK");
    /// ```
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for MalformedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "malformed batch response: {}", self.kind)
        } else {
            write!(f, "malformed batch response: {} `{}`", self.kind, self.detail)
        }
    }
}

/// The kinds of [`MalformedResponse`].
///
/// ```
/// use dynamics_webapi::batch::MalformedKind;
///
/// assert_eq!(MalformedKind::BadStatusLine.to_string(), "bad status line");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedKind {
    /// A `multipart/mixed` content type without a `boundary` parameter.
    MissingBoundary,
    /// A successful answer whose content type is not `multipart/mixed`.
    UnexpectedContentType,
    /// The boundary of the content type never appears in the body.
    BoundaryNotFound,
    /// The body ends before the closing delimiter (`--boundary--`).
    Truncated,
    /// A part whose first line is not an HTTP status line such as `HTTP/1.1 204 No Content`.
    BadStatusLine,
    /// A header line without a colon, or with a name or value HTTP does not allow.
    BadHeader,
    /// A part where none was expected: more parts than requests, or a change set answer for a single request.
    UnexpectedPart,
    /// A change set answer with a Content-ID that no operation of the change set has.
    UnknownContentId,
}

impl fmt::Display for MalformedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingBoundary => "multipart content type without boundary",
            Self::UnexpectedContentType => "unexpected content type",
            Self::BoundaryNotFound => "boundary not found in body",
            Self::Truncated => "truncated body",
            Self::BadStatusLine => "bad status line",
            Self::BadHeader => "bad header line",
            Self::UnexpectedPart => "unexpected part",
            Self::UnknownContentId => "unknown Content-ID",
        })
    }
}

/// The data of [`BatchError::Decode`]: where the JSON of a part stopped making sense.
///
/// The underlying parser error is the [`source`](std::error::Error::source).
///
/// ```
/// use dynamics_webapi::batch::{BatchError, BatchRequest, Operation};
/// use http::StatusCode;
///
/// let batch = BatchRequest::builder().operation(Operation::get("accounts")).build().unwrap();
/// let body = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{\"value\": [}\r\n--b--\r\n";
/// let response = batch.parse_response(StatusCode::OK, "multipart/mixed; boundary=b", body).unwrap();
/// let part = response.outcomes()[0].response().unwrap();
/// let Err(BatchError::Decode(decode)) = part.json::<serde_json::Value>() else { panic!("expected a decode error") };
/// assert_eq!((decode.line(), decode.column()), (1, 12));
/// ```
#[derive(Debug)]
pub struct DecodeError {
    line: usize,
    column: usize,
    source: Box<dyn StdError + Send + Sync>,
}

impl DecodeError {
    pub(crate) fn from_json(error: serde_json::Error) -> Self {
        Self { line: error.line(), column: error.column(), source: Box::new(error) }
    }

    /// The line (from 1) of the body where decoding failed.
    ///
    /// ```
    /// # use dynamics_webapi::batch::DecodeError;
    /// # fn show(error: &DecodeError) {
    /// println!("bad JSON at line {}", error.line());
    /// # }
    /// ```
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column (from 1) of the body where decoding failed.
    ///
    /// ```
    /// # use dynamics_webapi::batch::DecodeError;
    /// # fn show(error: &DecodeError) {
    /// println!("bad JSON at column {}", error.column());
    /// # }
    /// ```
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at line {} column {}", self.line, self.column)
    }
}

impl StdError for DecodeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::{BatchError, DecodeError, InvalidBatchKind, LimitKind, MalformedKind};

    #[test]
    fn display_is_one_lowercase_line_without_final_period() {
        let errors = [
            BatchError::invalid(InvalidBatchKind::Url, "https://x/accounts"),
            BatchError::limit(LimitKind::ChangeSetOperations, 1001, 1000, Some(3)),
            BatchError::limit(LimitKind::Operations, 1001, 1000, None),
            BatchError::limit(LimitKind::BodyBytes, 20, 10, None),
            BatchError::limit(LimitKind::BodyBytes, 20, 10, Some(0)),
            BatchError::malformed(MalformedKind::Truncated, ""),
            BatchError::malformed(MalformedKind::BadStatusLine, "HTTP/1.1"),
        ];
        for error in errors {
            let text = error.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            assert!(text.chars().next().is_some_and(char::is_lowercase), "{text}");
        }
    }

    #[test]
    fn change_set_limit_names_the_item_and_says_it_is_never_split() {
        let error = BatchError::limit(LimitKind::ChangeSetOperations, 1001, 1000, Some(3));
        assert_eq!(
            error.to_string(),
            "change set at item 3 has 1001 operations, over the cap of 1000 per batch; a change set is never split"
        );
    }

    #[test]
    fn decode_error_keeps_position_and_source() {
        let json_error = serde_json::from_slice::<serde_json::Value>(b"{\n  \"a\": }").unwrap_err();
        let error = BatchError::Decode(DecodeError::from_json(json_error));
        assert_eq!(error.to_string(), "cannot decode the body of a batch part as JSON");
        let decode = error.source().unwrap();
        assert_eq!(decode.to_string(), "invalid JSON at line 2 column 8");
        assert!(decode.source().is_some());
    }

    #[test]
    fn predicates_match_variants() {
        assert!(BatchError::invalid(InvalidBatchKind::Empty, "").is_invalid());
        assert!(BatchError::limit(LimitKind::Operations, 2, 1, None).is_limit());
        assert!(BatchError::malformed(MalformedKind::Truncated, "").is_malformed());
        assert!(!BatchError::malformed(MalformedKind::Truncated, "").is_decode());
    }
}
