//! The `$batch` codec: a `multipart/mixed` body read into operations and change sets,
//! and an answer written part by part.

use super::request::ApiRequest;
use crate::reply::Reply;

/// One HTTP request inside the batch.
#[derive(Debug)]
pub(crate) struct PartRequest {
    pub(crate) content_id: Option<String>,
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// A top-level item of the batch.
#[derive(Debug)]
pub(crate) enum Item {
    Operation(PartRequest),
    ChangeSet(Vec<PartRequest>),
}

/// Writes one answer as a part of a batch answer (`application/http`, with its `Content-ID`).
pub(crate) fn write_part(out: &mut Vec<u8>, boundary: &str, content_id: Option<&str>, reply: &Reply) {
    let mut text = format!("--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = content_id {
        text.push_str(&format!("Content-ID: {id}\r\n"));
    }
    text.push_str(&format!("\r\nHTTP/1.1 {} {}\r\n", reply.status, reason(reply.status)));
    if !reply.has_header("odata-version") {
        text.push_str("OData-Version: 4.0\r\n");
    }
    for (name, value) in &reply.headers {
        // In a batch, Dataverse answers a create with `Location` as well as `OData-EntityId`.
        if name.eq_ignore_ascii_case("OData-EntityId") && !reply.has_header("location") {
            text.push_str(&format!("Location: {value}\r\n"));
        }
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((_, content_type)) = &reply.body {
        text.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    text.push_str("\r\n");
    out.extend_from_slice(text.as_bytes());
    if let Some((body, _)) = &reply.body {
        out.extend_from_slice(body);
    }
    out.extend_from_slice(b"\r\n");
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// The `boundary` parameter of a multipart content type.
fn boundary_of(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/mixed") {
        return None;
    }
    content_type.split(';').map(str::trim).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Reads a batch body into its operations and change sets; the error says what is malformed.
pub(crate) fn parse_batch(request: &ApiRequest) -> Result<Vec<Item>, String> {
    let content_type = request.header("content-type").ok_or("it has no Content-Type")?;
    let boundary = boundary_of(content_type).ok_or("its Content-Type is not multipart/mixed with a boundary")?;
    let mut items = Vec::new();
    for part in split(&request.body, &boundary)? {
        let (headers, content) = split_head(part);
        let part_type = find_header(&headers, "content-type").unwrap_or_default();
        if let Some(inner) = boundary_of(&part_type) {
            let mut operations = Vec::new();
            for operation in split(content, &inner)? {
                operations.push(parse_operation(operation)?);
            }
            if operations.is_empty() {
                return Err("a change set has no operations".to_owned());
            }
            items.push(Item::ChangeSet(operations));
        } else {
            items.push(Item::Operation(parse_operation(part)?));
        }
    }
    Ok(items)
}

/// The parts between `--boundary` lines, up to `--boundary--`.
fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&body[at..], delimiter) {
        let position = at + found;
        let line_start = position == 0 || body[position - 1] == b'\n';
        if line_start {
            starts.push(position);
        }
        at = position + delimiter.len();
    }
    let mut parts = Vec::new();
    for (index, start) in starts.iter().enumerate() {
        let after = start + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        let content_start = match find(&body[after..], b"\n") {
            Some(newline) => after + newline + 1,
            None => return Err("a part has no content".to_owned()),
        };
        let end = starts.get(index + 1).copied().ok_or("the closing boundary is missing")?;
        if content_start > end {
            return Err("a part is empty".to_owned());
        }
        let mut content = &body[content_start..end];
        content = content.strip_suffix(b"\n").unwrap_or(content);
        content = content.strip_suffix(b"\r").unwrap_or(content);
        parts.push(content);
    }
    Err(format!("the closing boundary --{boundary}-- is missing"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Splits headers from content at the first blank line.
fn split_head(part: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let (head, content) = match (find(part, b"\r\n\r\n"), find(part, b"\n\n")) {
        (Some(crlf), Some(lf)) if lf < crlf => (&part[..lf], &part[lf + 2..]),
        (Some(crlf), _) => (&part[..crlf], &part[crlf + 4..]),
        (None, Some(lf)) => (&part[..lf], &part[lf + 2..]),
        (None, None) => (part, &part[part.len()..]),
    };
    let headers = String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    (headers, content)
}

fn find_header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
}

/// An `application/http` part: its MIME headers, then the request line, headers and body.
fn parse_operation(part: &[u8]) -> Result<PartRequest, String> {
    let (mime_headers, http) = split_head(part);
    let content_id = find_header(&mime_headers, "content-id");
    let (request_line_end, skip) = match find(http, b"\r\n") {
        Some(end) => (end, 2),
        None => (find(http, b"\n").unwrap_or(http.len()), 1),
    };
    let request_line = String::from_utf8_lossy(&http[..request_line_end]).into_owned();
    let rest = http.get(request_line_end + skip..).unwrap_or_default();
    let mut words = request_line.split_whitespace();
    let (Some(method), Some(url)) = (words.next(), words.next()) else {
        return Err(format!("`{request_line}` is not an HTTP request line"));
    };
    let (headers, body) = if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") || rest.is_empty() {
        let skip = if rest.starts_with(b"\r\n") { 2 } else { usize::from(!rest.is_empty()) };
        (Vec::new(), &rest[skip..])
    } else {
        split_head(rest)
    };
    let mut body = body.to_vec();
    while body.last().is_some_and(|byte| matches!(byte, b'\r' | b'\n')) {
        body.pop();
    }
    Ok(PartRequest { content_id, method: method.to_ascii_uppercase(), url: url.to_owned(), headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "--batch_1\r\nContent-Type: multipart/mixed; boundary=\"changeset_2\"\r\n\r\n--changeset_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPOST /api/data/v9.2/tasks HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{\"subject\":\"a\"}\r\n--changeset_2--\r\n\r\n--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /api/data/v9.2/accounts?$select=name HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n";

    #[test]
    fn parses_change_sets_and_operations() {
        let request = ApiRequest {
            method: "POST".into(),
            path: "$batch".into(),
            query: None,
            headers: vec![("content-type".into(), "multipart/mixed; boundary=batch_1".into())],
            body: BODY.as_bytes().to_vec(),
        };
        let items = parse_batch(&request).unwrap();
        assert_eq!(items.len(), 2);
        let Item::ChangeSet(parts) = &items[0] else { panic!() };
        assert_eq!((parts[0].method.as_str(), parts[0].url.as_str()), ("POST", "/api/data/v9.2/tasks"));
        assert_eq!(parts[0].content_id.as_deref(), Some("1"));
        assert_eq!(parts[0].body, b"{\"subject\":\"a\"}");
        assert_eq!(find_header(&parts[0].headers, "content-type").as_deref(), Some("application/json; type=entry"));
        let Item::Operation(get) = &items[1] else { panic!() };
        assert_eq!(get.url, "/api/data/v9.2/accounts?$select=name");
        assert!(get.body.is_empty());
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        let parse = |body: &str| {
            let request = ApiRequest {
                method: "POST".into(),
                path: "$batch".into(),
                query: None,
                headers: vec![("content-type".into(), "multipart/mixed; boundary=batch_1".into())],
                body: body.as_bytes().to_vec(),
            };
            parse_batch(&request).map(|items| items.len())
        };
        assert_eq!(parse("--batch_1--\r\n"), Ok(0));
        assert!(parse("--batch_1\r\n").unwrap_err().contains("closing boundary"));
        assert!(parse("").unwrap_err().contains("closing boundary"));
        assert!(parse("--batch_1").is_err());
        assert!(parse("--batch_1\r\n\r\n--batch_1--").unwrap_err().contains("not an HTTP request line"));
    }
}
