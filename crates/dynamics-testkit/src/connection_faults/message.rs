//! HTTP/1.1 framing, just enough to relay messages unchanged: a head (start line and headers), then a body
//! delimited by `Transfer-Encoding: chunked`, `Content-Length`, the status, or the end of the connection.
//!
//! Messages are kept as the bytes received (`raw`), so a relayed request or answer reaches the other side
//! byte for byte; the body is also kept decoded, for the proxy's journal.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

use crate::reply::Reply;

/// The most bytes a head (start line and headers) may take.
const MAX_HEAD: usize = 64 * 1024;
/// The most bytes one line of a chunked body's framing (a size line or a trailer) may take.
const MAX_LINE: usize = 8 * 1024;

/// A start line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// `GET /path HTTP/1.1` or `HTTP/1.1 200 OK`, without the line end.
    pub(crate) start_line: String,
    /// Header names as received; values trimmed.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of a header (case-insensitive name).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) lists `token`, in any of its values.
    pub(crate) fn lists(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .flat_map(|(_, value)| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    }

    /// The three parts of a request line: method, target, version.
    pub(crate) fn request_line(&self) -> io::Result<(&str, &str, &str)> {
        let mut parts = self.start_line.split(' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(method), Some(target), Some(version), None)
                if !method.is_empty() && version.starts_with("HTTP/1.") =>
            {
                Ok((method, target, version))
            }
            _ => Err(invalid(format!("not an HTTP/1.x request line: {:?}", self.start_line))),
        }
    }

    /// The status code of a status line.
    pub(crate) fn status(&self) -> io::Result<u16> {
        let mut parts = self.start_line.splitn(3, ' ');
        match (parts.next(), parts.next().map(str::parse::<u16>)) {
            (Some(version), Some(Ok(status))) if version.starts_with("HTTP/1.") => Ok(status),
            _ => Err(invalid(format!("not an HTTP/1.x status line: {:?}", self.start_line))),
        }
    }

    /// Whether the sender closes the connection after this message (`Connection: close`, or HTTP/1.0
    /// without `Connection: keep-alive`).
    pub(crate) fn closes(&self, version: &str) -> bool {
        self.lists("connection", "close") || (version == "HTTP/1.0" && !self.lists("connection", "keep-alive"))
    }

    fn content_length(&self) -> io::Result<Option<u64>> {
        let mut lengths = self.headers.iter().filter(|(key, _)| key.eq_ignore_ascii_case("content-length"));
        let Some((_, first)) = lengths.next() else { return Ok(None) };
        let length = first.parse().map_err(|_| invalid(format!("a Content-Length that is not a number: {first:?}")))?;
        if lengths.any(|(_, other)| other != first) {
            return Err(invalid("two different Content-Length headers".to_owned()));
        }
        Ok(Some(length))
    }
}

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the sender closes the connection (an answer with neither header).
    UntilClose,
}

impl Framing {
    /// A request's body: chunked, a length, or none (RFC 9112, section 6.3).
    pub(crate) fn of_request(head: &Head) -> io::Result<Self> {
        if head.lists("transfer-encoding", "chunked") {
            return Ok(Self::Chunked);
        }
        Ok(head.content_length()?.map_or(Self::Empty, Self::Length))
    }

    /// An answer's body, which also depends on the request's method and the status.
    pub(crate) fn of_response(head: &Head, request_method: &str, status: u16) -> io::Result<Self> {
        if request_method.eq_ignore_ascii_case("HEAD") || (100..200).contains(&status) || status == 204 || status == 304
        {
            return Ok(Self::Empty);
        }
        if head.lists("transfer-encoding", "chunked") {
            return Ok(Self::Chunked);
        }
        Ok(head.content_length()?.map_or(Self::UntilClose, Self::Length))
    }
}

/// A whole message: its head, the bytes as received, and the body decoded (chunks joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) head: Head,
    pub(crate) raw: Vec<u8>,
    pub(crate) body: Vec<u8>,
}

/// Reads a head; `None` when the connection ends cleanly before its first byte.
pub(crate) async fn read_head<R: AsyncBufRead + Unpin>(reader: &mut R, raw: &mut Vec<u8>) -> io::Result<Option<Head>> {
    let start = raw.len();
    let mut lines = Vec::new();
    loop {
        let line_start = raw.len();
        let read = reader.read_until(b'\n', raw).await?;
        if read == 0 {
            if raw.len() == start {
                return Ok(None);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection ended inside a message head"));
        }
        if raw.len() - start > MAX_HEAD {
            return Err(invalid(format!("a message head longer than {MAX_HEAD} bytes")));
        }
        let line = trim_line_end(&raw[line_start..]);
        if line.is_empty() {
            if lines.is_empty() {
                // A stray empty line before a request line is allowed (RFC 9112, section 2.2).
                raw.truncate(start);
                continue;
            }
            break;
        }
        lines.push(String::from_utf8_lossy(line).into_owned());
    }
    let mut lines = lines.into_iter();
    let start_line = lines.next().unwrap_or_default();
    let headers = lines
        .map(|line| match line.split_once(':') {
            Some((name, value)) => Ok((name.to_owned(), value.trim().to_owned())),
            None => Err(invalid(format!("a header line without a colon: {line:?}"))),
        })
        .collect::<io::Result<_>>()?;
    Ok(Some(Head { start_line, headers }))
}

/// Reads a body as framed, appending the bytes received to `raw` and the decoded body to `body`.
pub(crate) async fn read_body<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    framing: Framing,
    raw: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    match framing {
        Framing::Empty => Ok(()),
        Framing::Length(length) => read_exactly(reader, length, raw, body).await,
        Framing::UntilClose => {
            let from = raw.len();
            reader.read_to_end(raw).await?;
            body.extend_from_slice(&raw[from..]);
            Ok(())
        }
        Framing::Chunked => loop {
            let line = read_line(reader, raw).await?;
            let size = line.split(|&byte| byte == b';').next().unwrap_or_default();
            let size =
                std::str::from_utf8(size).ok().and_then(|size| u64::from_str_radix(size.trim(), 16).ok()).ok_or_else(
                    || invalid(format!("a chunk size that is not hexadecimal: {:?}", String::from_utf8_lossy(&line))),
                )?;
            if size == 0 {
                // Trailers, up to an empty line.
                while !read_line(reader, raw).await?.is_empty() {}
                return Ok(());
            }
            read_exactly(reader, size, raw, body).await?;
            if !read_line(reader, raw).await?.is_empty() {
                return Err(invalid("a chunk longer than its size".to_owned()));
            }
        },
    }
}

/// Reads a request or an answer whose framing follows from its head; `None` on a clean end before the first byte.
pub(crate) async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    framing: impl FnOnce(&Head) -> io::Result<Framing>,
) -> io::Result<Option<(Message, Framing)>> {
    let mut raw = Vec::new();
    let Some(head) = read_head(reader, &mut raw).await? else { return Ok(None) };
    let framing = framing(&head)?;
    let mut body = Vec::new();
    read_body(reader, framing, &mut raw, &mut body).await?;
    Ok(Some((Message { head, raw, body }, framing)))
}

/// A reply the proxy answers itself, as HTTP/1.1 bytes with a `Content-Length`.
pub(crate) fn encode(reply: &Reply) -> Vec<u8> {
    let (body, content_type) =
        reply.body.as_ref().map_or((&[][..], None), |(body, kind)| (body.as_slice(), Some(kind)));
    let mut text = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(content_type) = content_type {
        text.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn reason(status: u16) -> &'static str {
    match status {
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

async fn read_exactly<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    length: u64,
    raw: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    let from = raw.len();
    let read = reader.take(length).read_to_end(raw).await?;
    if (read as u64) < length {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection ended inside a message body"));
    }
    body.extend_from_slice(&raw[from..]);
    Ok(())
}

/// One line of chunked framing, appended to `raw`; returned without its line end.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, raw: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let from = raw.len();
    let read = (&mut *reader).take(MAX_LINE as u64).read_until(b'\n', raw).await?;
    if read == 0 || raw.last() != Some(&b'\n') {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection ended inside a chunked body"));
    }
    Ok(trim_line_end(&raw[from..]).to_vec())
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(mut bytes: &[u8], response_to: Option<&str>) -> Vec<(Message, Framing)> {
        let mut messages = Vec::new();
        loop {
            let next = match response_to {
                None => read_message(&mut bytes, Framing::of_request).await,
                Some(method) => {
                    read_message(&mut bytes, |head| Framing::of_response(head, method, head.status()?)).await
                }
            };
            match next.unwrap() {
                Some(message) => messages.push(message),
                None => return messages,
            }
        }
    }

    #[tokio::test]
    async fn keeps_pipelined_requests_apart_by_content_length_and_chunks() {
        let wire = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n\
                     PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 1\r\n\r\n";
        let messages = read_all(wire, None).await;
        let lines: Vec<&str> = messages.iter().map(|(message, _)| message.head.start_line.as_str()).collect();
        assert_eq!(lines, ["POST /a HTTP/1.1", "GET /b HTTP/1.1", "PUT /c HTTP/1.1"]);
        assert_eq!(messages[0].0.body, b"hello");
        assert_eq!((messages[1].1, messages[1].0.body.len()), (Framing::Empty, 0));
        assert_eq!((messages[2].1, messages[2].0.body.as_slice()), (Framing::Chunked, &b"abcde"[..]));
        let joined: Vec<u8> = messages.iter().flat_map(|(message, _)| message.raw.clone()).collect();
        assert_eq!(joined, wire, "the raw bytes are exactly what was received");
        assert_eq!(messages[0].0.head.request_line().unwrap(), ("POST", "/a", "HTTP/1.1"));
    }

    #[tokio::test]
    async fn an_answers_body_depends_on_status_method_and_headers() {
        let wire = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\nuntil the end";
        let messages = read_all(wire, Some("GET")).await;
        let framings: Vec<Framing> = messages.iter().map(|(_, framing)| *framing).collect();
        assert_eq!(framings, [Framing::Empty, Framing::Length(2), Framing::UntilClose]);
        assert_eq!(messages[2].0.body, b"until the end");
        let head = read_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", Some("HEAD")).await;
        assert_eq!(head[0].1, Framing::Empty, "an answer to HEAD has no body whatever its length says");
    }

    #[tokio::test]
    async fn a_truncated_or_malformed_message_is_an_error() {
        for wire in [
            &b"POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort"[..],
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET /a HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET /a HTTP/1.1\r\nHost: x",
            b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        ] {
            let mut bytes = wire;
            assert!(
                read_message(&mut bytes, Framing::of_request).await.is_err(),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn connection_close_and_http_1_0_end_the_connection() {
        let head = |headers: &[(&str, &str)]| Head {
            start_line: "HTTP/1.1 200 OK".to_owned(),
            headers: headers.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect(),
        };
        assert!(head(&[("Connection", "Close")]).closes("HTTP/1.1"));
        assert!(!head(&[]).closes("HTTP/1.1"));
        assert!(head(&[]).closes("HTTP/1.0"));
        assert!(!head(&[("connection", "keep-alive")]).closes("HTTP/1.0"));
    }

    #[test]
    fn an_own_reply_is_encoded_with_its_length() {
        let reply = Reply::empty(503).header("Retry-After", "2").with_body(b"{}".to_vec(), "application/json");
        assert_eq!(
            String::from_utf8(encode(&reply)).unwrap(),
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
