//! The `multipart/mixed` framing: writing delimiters, reading the boundary of a content type,
//! splitting a body into parts and reading header blocks.
//!
//! Writing always uses CRLF. Reading accepts CRLF and bare LF line ends, since the published samples
//! use LF, and treats the line break before a delimiter as part of the delimiter (RFC 2046).

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::error::{BatchError, MalformedKind};

/// Writes `--boundary` and a line break: the start of a part.
pub(crate) fn write_delimiter(out: &mut Vec<u8>, boundary: &str) {
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Writes `--boundary--`: the end of the last part, without a line break.
pub(crate) fn write_close_delimiter(out: &mut Vec<u8>, boundary: &str) {
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--");
}

/// Writes the headers of a part that holds one HTTP request, and the blank line after them.
pub(crate) fn write_http_part_headers(out: &mut Vec<u8>, content_id: Option<&str>) {
    out.extend_from_slice(b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = content_id {
        out.extend_from_slice(b"Content-ID: ");
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The boundary of a `multipart/...` content type, `None` for any other content type.
///
/// # Errors
///
/// [`MalformedKind::MissingBoundary`] when the content type is multipart but has no usable boundary.
pub(crate) fn boundary(content_type: &str) -> Result<Option<String>, BatchError> {
    let mut pieces = split_parameters(content_type).into_iter();
    let media_type = pieces.next().unwrap_or_default();
    if !media_type.trim().to_ascii_lowercase().starts_with("multipart/") {
        return Ok(None);
    }
    let boundary = pieces.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| unquote(value.trim()))
    });
    match boundary {
        Some(boundary) if !boundary.is_empty() && boundary.len() <= 200 && !boundary.contains(['\r', '\n']) => {
            Ok(Some(boundary))
        }
        _ => Err(BatchError::malformed(MalformedKind::MissingBoundary, excerpt(content_type.as_bytes()))),
    }
}

/// Splits a content type at the semicolons that are not inside a quoted string.
fn split_parameters(content_type: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in content_type.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            pieces.push(String::new());
            continue;
        }
        if let Some(last) = pieces.last_mut() {
            last.push(c);
        }
    }
    pieces
}

/// A parameter value without its quotes and escapes.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().unwrap_or(c) } else { c });
    }
    out
}

/// One part of a multipart body: its headers, and its content after the blank line.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Part {
    /// The boundary of the part's own multipart content, if the part is a nested multipart (a change set).
    pub(crate) fn nested_boundary(&self) -> Result<Option<String>, BatchError> {
        match self.headers.get(http::header::CONTENT_TYPE).map(HeaderValue::to_str) {
            Some(Ok(content_type)) => boundary(content_type),
            _ => Ok(None),
        }
    }

    /// The Content-ID header, without the angle brackets some servers put around it.
    pub(crate) fn content_id(&self) -> Option<String> {
        let value = self.headers.get("content-id")?.to_str().ok()?.trim();
        let value = value.strip_prefix('<').and_then(|v| v.strip_suffix('>')).unwrap_or(value);
        Some(value.to_owned())
    }
}

/// Splits a multipart body at `--boundary` lines, up to the closing `--boundary--`.
///
/// # Errors
///
/// [`MalformedKind::Truncated`] when the body ends before the closing delimiter,
/// [`MalformedKind::BoundaryNotFound`] when the boundary never appears,
/// [`MalformedKind::BadHeader`] for a part header that cannot be read.
pub(crate) fn split(body: &Bytes, boundary: &str) -> Result<Vec<Part>, BatchError> {
    let dash = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut position = 0;
    while let Some((line_end, next)) = next_line(body, position) {
        let line = trim_end_whitespace(&body[position..line_end]);
        let rest = line.strip_prefix(dash.as_bytes());
        if let Some(rest @ (b"" | b"--")) = rest {
            if let Some(start) = part_start {
                let end = content_end(body, start, position);
                parts.push(read_part(body.slice(start..end))?);
            }
            if rest == b"--" {
                return Ok(parts);
            }
            part_start = Some(next);
        }
        position = next;
    }
    if part_start.is_some() || body.iter().all(u8::is_ascii_whitespace) {
        Err(BatchError::malformed(MalformedKind::Truncated, format!("no closing `{dash}--`")))
    } else {
        Err(BatchError::malformed(MalformedKind::BoundaryNotFound, dash))
    }
}

/// Where the content of a part that starts at `start` ends, given the start of the next delimiter line:
/// before the line break that precedes the delimiter.
fn content_end(body: &[u8], start: usize, delimiter_start: usize) -> usize {
    if delimiter_start <= start {
        return start;
    }
    let mut end = delimiter_start;
    if body[end - 1] == b'\n' {
        end -= 1;
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end.max(start)
}

fn read_part(content: Bytes) -> Result<Part, BatchError> {
    let (headers, body_start) = read_headers(&content, 0)?;
    Ok(Part { headers, body: content.slice(body_start..) })
}

/// The end of the line that starts at `start` (without its line break) and the start of the next line.
pub(crate) fn next_line(buf: &[u8], start: usize) -> Option<(usize, usize)> {
    if start >= buf.len() {
        return None;
    }
    match buf[start..].iter().position(|&b| b == b'\n') {
        Some(offset) => {
            let newline = start + offset;
            let end = if newline > start && buf[newline - 1] == b'\r' { newline - 1 } else { newline };
            Some((end, newline + 1))
        }
        None => Some((buf.len(), buf.len())),
    }
}

fn trim_end_whitespace(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(0, |i| i + 1);
    &line[..end]
}

/// Reads header lines from `start` up to a blank line (or the end), and returns them with the offset
/// just after the blank line. Lines that start with a space or tab continue the previous header.
///
/// # Errors
///
/// [`MalformedKind::BadHeader`] for a line without a colon, or a name or value HTTP does not allow.
pub(crate) fn read_headers(buf: &[u8], start: usize) -> Result<(HeaderMap, usize), BatchError> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut position = start;
    while let Some((line_end, next)) = next_line(buf, position) {
        let line = &buf[position..line_end];
        position = next;
        if line.is_empty() {
            break;
        }
        match lines.last_mut() {
            Some(previous) if matches!(line[0], b' ' | b'\t') => {
                previous.push(b' ');
                previous.extend_from_slice(line.trim_ascii());
            }
            _ => lines.push(line.to_vec()),
        }
    }
    let mut headers = HeaderMap::with_capacity(lines.len());
    for line in lines {
        let bad = || BatchError::malformed(MalformedKind::BadHeader, excerpt(&line));
        let colon = line.iter().position(|&b| b == b':').ok_or_else(bad)?;
        let name = HeaderName::from_bytes(line[..colon].trim_ascii()).map_err(|_| bad())?;
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).map_err(|_| bad())?;
        headers.append(name, value);
    }
    Ok((headers, position))
}

/// A readable excerpt of some bytes for an error message: lossy UTF-8, at most 100 characters.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut excerpt: String = text.chars().take(100).collect();
    if text.chars().nth(100).is_some() {
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{boundary, read_headers, split};
    use crate::batch::{BatchError, MalformedKind};

    fn kind(error: BatchError) -> MalformedKind {
        match error {
            BatchError::Malformed(malformed) => malformed.kind(),
            other => panic!("expected a malformed response, got {other:?}"),
        }
    }

    #[test]
    fn boundary_is_read_quoted_or_not_with_any_case_and_spacing() {
        let cases = [
            ("multipart/mixed; boundary=batchresponse_1", "batchresponse_1"),
            ("multipart/mixed;boundary=batch_AAA123", "batch_AAA123"),
            ("Multipart/Mixed; BOUNDARY=\"batch_80dd1615-2a10\"", "batch_80dd1615-2a10"),
            ("multipart/mixed; charset=utf-8; boundary=\"a;b\\\"c\"", "a;b\"c"),
        ];
        for (content_type, expected) in cases {
            assert_eq!(boundary(content_type).unwrap().as_deref(), Some(expected), "{content_type}");
        }
    }

    #[test]
    fn other_content_types_have_no_boundary() {
        for content_type in ["application/json", "text/plain; charset=utf-8", ""] {
            assert_eq!(boundary(content_type).unwrap(), None);
        }
    }

    #[test]
    fn multipart_without_boundary_is_an_error() {
        for content_type in ["multipart/mixed", "multipart/mixed; boundary=", "multipart/mixed; boundary=\"\""] {
            assert_eq!(kind(boundary(content_type).unwrap_err()), MalformedKind::MissingBoundary);
        }
    }

    #[test]
    fn splits_crlf_and_lf_bodies_alike() {
        let lf = "preamble\n--b\nContent-Type: text/plain\n\none\n--b\n\ntwo\n\n--b--\nepilogue";
        let crlf = lf.replace('\n', "\r\n");
        for body in [lf.to_owned(), crlf] {
            let parts = split(&Bytes::from(body), "b").unwrap();
            assert_eq!(parts.len(), 2);
            assert_eq!(parts[0].headers["content-type"], "text/plain");
            assert_eq!(&parts[0].body[..], b"one");
            assert!(parts[1].headers.is_empty());
            assert!(parts[1].body.ends_with(b"two\n") || parts[1].body.ends_with(b"two\r\n"));
        }
    }

    #[test]
    fn empty_parts_and_transport_padding() {
        let parts = split(&Bytes::from_static(b"--b  \r\n--b\t\r\n\r\nx\r\n--b-- \r\n"), "b").unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].body.is_empty() && parts[0].headers.is_empty());
        assert_eq!(&parts[1].body[..], b"x");
    }

    #[test]
    fn boundary_must_be_the_whole_line() {
        let parts = split(&Bytes::from_static(b"--b\r\n\r\n--bb\r\n--b x\r\n--b--"), "b").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(&parts[0].body[..], b"--bb\r\n--b x");
    }

    #[test]
    fn no_parts_before_close() {
        assert!(split(&Bytes::from_static(b"--b--\r\n"), "b").unwrap().is_empty());
    }

    #[test]
    fn truncated_and_missing_delimiters_are_errors() {
        let truncated = ["--b\r\nContent-Type: text/plain\r\n\r\nhalf", "--b\r\n\r\none\r\n--b\r\n", "--b", ""];
        for body in truncated {
            assert_eq!(kind(split(&Bytes::from(body), "b").unwrap_err()), MalformedKind::Truncated, "{body:?}");
        }
        assert_eq!(kind(split(&Bytes::from("hello\r\n--c--"), "b").unwrap_err()), MalformedKind::BoundaryNotFound);
    }

    #[test]
    fn headers_without_colon_or_with_bad_names_are_errors() {
        for block in ["no colon here\r\n\r\n", "bad name: x\r\n\r\n", "X: a\u{7f}b\r\n\r\n", ": empty\r\n\r\n"] {
            assert_eq!(kind(read_headers(block.as_bytes(), 0).unwrap_err()), MalformedKind::BadHeader, "{block:?}");
        }
    }

    #[test]
    fn headers_keep_values_without_spaces_and_join_folded_lines() {
        let (headers, end) =
            read_headers(b"Location:[Organization URI]/x\r\nX-A: one\r\n  two\r\n\r\nbody", 0).unwrap();
        assert_eq!(headers["location"], "[Organization URI]/x");
        assert_eq!(headers["x-a"], "one two");
        assert_eq!(end, 50);
    }

    #[test]
    fn headers_may_end_without_blank_line() {
        let block = b"A: 1\nB: 2\n";
        let (headers, end) = read_headers(block, 0).unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(end, block.len());
    }
}
