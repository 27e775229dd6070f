//! File and image columns, as the Web API documents them ("Use file column data"):
//! a chunked upload through an upload session, a single-request upload, a ranged download, and delete.
//!
//! ```text
//! PATCH <set>(<key>)/<column>?x-ms-file-name=N   x-ms-transfer-mode: chunked
//!   -> 200, Location: <same URL>?sessiontoken=<token>, x-ms-chunk-size: <bytes>, Accept-Ranges: bytes
//! PATCH <Location>                               Content-Range: bytes a-b/total, the chunk's bytes
//!   -> 206 until the last byte, then 204: the file is stored on the record
//! PATCH <set>(<key>)/<column>                    x-ms-file-name: N, the whole file        -> 204
//! GET <set>(<key>)/<column>/$value               [Range: bytes=a-b]
//!   -> 200 (the whole file) or 206 (the slice), x-ms-file-size, x-ms-file-name, mimetype
//! DELETE <set>(<key>)/<column>                                                            -> 204
//! ```
//!
//! The record's `<column>` becomes the file's id and `<column>_name` its name (as Dataverse returns them), with a new
//! row version. The bytes live in the store's [`FileColumns`](crate::webapi::store::files::FileColumns), so a change set's copy and roll-back cover them.
//! A column counts as a file column once a file was uploaded to it; a `GET …/$value` with a `Range` header is a file
//! download whatever the column. No file (or no record) answers `404` with Dataverse's error body.

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::Ctx;
use super::guard::{Access, check_privilege};
use crate::reply::Reply;
use crate::webapi::odata::error::ODataError;
use crate::webapi::odata::filter::check_column;
use crate::webapi::odata::request::ApiRequest;
use crate::webapi::odata::target::Key;
use crate::webapi::store::Store;
use crate::webapi::store::files::{StoredFile, UploadSession};

type Result<T> = std::result::Result<T, ODataError>;

/// The chunk size an upload session asks for when none is configured: 4 MiB, as Dataverse documents.
pub(crate) const DEFAULT_CHUNK_SIZE: usize = 4 * 1024 * 1024;

const OCTET_STREAM: &str = "application/octet-stream";

/// True when a `GET <set>(<key>)/<column>/$value` reads a file: the request asks for a range,
/// or the column holds files.
pub(crate) fn is_download(store: &Store, set: &str, column: &str, request: &ApiRequest) -> bool {
    request.header("range").is_some() || store.files.is_file_column(set, column)
}

/// `PATCH <set>(<key>)/<column>`: opens an upload session (`x-ms-transfer-mode: chunked`), appends a chunk
/// (`?sessiontoken=…`), or stores the whole body as the file (neither).
pub(crate) fn upload(ctx: &mut Ctx<'_>, set: &str, key: &Key, column: &str, request: &ApiRequest) -> Result<Reply> {
    let record = locate(ctx, set, key, column)?;
    check_privilege(ctx, &record.logical_name, Access::Write)?;
    if let Some(token) = query_value(request, "sessiontoken") {
        return append_chunk(ctx, &record, &token, request);
    }
    let name = query_value(request, "x-ms-file-name")
        .or_else(|| request.header("x-ms-file-name").map(|name| percent_decode_str(name).decode_utf8_lossy().into()))
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| {
            invalid_argument(
                "A file upload needs the file name: the query option x-ms-file-name or the header x-ms-file-name.",
            )
        })?;
    let chunked = request.header("x-ms-transfer-mode").is_some_and(|mode| mode.trim().eq_ignore_ascii_case("chunked"));
    if !chunked {
        store_file(ctx, &record, name, request.body.clone());
        return Ok(Reply::empty(204));
    }
    let token = Uuid::new_v4().simple().to_string();
    ctx.state.store.files.open_session(
        token.clone(),
        UploadSession {
            set: set.to_owned(),
            record: record.id,
            column: column.to_owned(),
            name,
            total: None,
            received: Vec::new(),
        },
    );
    let location = format!("{}{}?sessiontoken={token}", ctx.service_root(), request.path);
    Ok(Reply::empty(200)
        .header("Location", location)
        .header("x-ms-chunk-size", ctx.config.file_chunk_size.to_string())
        .header("Accept-Ranges", "bytes"))
}

/// `PATCH <Location>` with `Content-Range: bytes a-b/total`: the chunk must start where the last one ended.
fn append_chunk(ctx: &mut Ctx<'_>, record: &Located, token: &str, request: &ApiRequest) -> Result<Reply> {
    let chunk_size = ctx.config.file_chunk_size;
    let session = ctx
        .state
        .store
        .files
        .session_mut(token)
        .filter(|session| session.set == record.set && session.record == record.id && session.column == record.column)
        .ok_or_else(|| {
            invalid_argument(format!(
                "The upload session '{token}' is not open for the column '{}' of this record.",
                record.column
            ))
        })?;
    let range = request.header("content-range").unwrap_or_default();
    let (start, end, total) = parse_content_range(range).ok_or_else(|| {
        invalid_argument(format!("A chunk needs a Content-Range such as `bytes 0-1023/4096`, got `{range}`."))
    })?;
    let expected = session.received.len() as u64;
    if start != expected || session.total.is_some_and(|known| known != total) {
        return Err(invalid_argument(format!(
            "The chunk `{range}` does not follow the {expected} bytes received so far of this upload."
        )));
    }
    if end - start + 1 != request.body.len() as u64 {
        return Err(invalid_argument(format!(
            "The chunk `{range}` announces {} bytes but carries {}.",
            end - start + 1,
            request.body.len()
        )));
    }
    if request.body.len() > chunk_size {
        return Err(invalid_argument(format!(
            "The chunk carries {} bytes, more than the x-ms-chunk-size of {chunk_size} bytes.",
            request.body.len()
        )));
    }
    session.total = Some(total);
    session.received.extend_from_slice(&request.body);
    if end + 1 < total {
        return Ok(Reply::empty(206));
    }
    let Some(done) = ctx.state.store.files.close_session(token) else {
        return Err(invalid_argument(format!("The upload session '{token}' is not open.")));
    };
    store_file(ctx, record, done.name, done.received);
    Ok(Reply::empty(204))
}

/// `GET <set>(<key>)/<column>/$value`, the whole file or the `Range` asked for.
pub(crate) fn download(ctx: &mut Ctx<'_>, set: &str, key: &Key, column: &str, request: &ApiRequest) -> Result<Reply> {
    let record = locate(ctx, set, key, column)?;
    check_privilege(ctx, &record.logical_name, Access::Read)?;
    let file = ctx.state.store.files.file(set, record.id, column).ok_or_else(|| no_file(column, record.id))?;
    let size = file.bytes.len() as u64;
    let with_headers = |reply: Reply| {
        reply
            .header("x-ms-file-size", size.to_string())
            .header("x-ms-file-name", header_text(&file.name))
            .header("mimetype", OCTET_STREAM)
            .header("Accept-Ranges", "bytes")
    };
    let range = request.header("range").and_then(|range| parse_range(range, size));
    Ok(match range {
        None => with_headers(Reply::empty(200)).with_body(file.bytes.to_vec(), OCTET_STREAM),
        Some(Err(())) => with_headers(
            ODataError::new(416, "0x80040203", format!("The range is outside the file of {size} bytes."))
                .reply()
                .header("Content-Range", format!("bytes */{size}")),
        ),
        Some(Ok((start, end))) => {
            let (from, to) = (usize::try_from(start).unwrap_or(usize::MAX), usize::try_from(end).unwrap_or(usize::MAX));
            let slice = file.bytes.get(from..=to).unwrap_or_default().to_vec();
            with_headers(Reply::empty(206))
                .header("Content-Range", format!("bytes {start}-{end}/{size}"))
                .with_body(slice, OCTET_STREAM)
        }
    })
}

/// `DELETE <set>(<key>)/<column>` of a file column: removes the file; `404` when there is none.
pub(crate) fn delete(ctx: &mut Ctx<'_>, set: &str, key: &Key, column: &str) -> Result<Reply> {
    let record = locate(ctx, set, key, column)?;
    check_privilege(ctx, &record.logical_name, Access::Write)?;
    let removed = ctx.state.store.files.remove(set, record.id, column);
    if removed.is_none() {
        return Err(no_file(column, record.id));
    }
    change_row(ctx, &record, Value::Null, Value::Null);
    Ok(Reply::empty(204))
}

/// The record a file request addresses.
struct Located {
    set: String,
    column: String,
    id: Uuid,
    logical_name: String,
}

fn locate(ctx: &Ctx<'_>, set: &str, key: &Key, column: &str) -> Result<Located> {
    check_column(column).map_err(|_| ODataError::segment_not_found(column))?;
    let table = ctx.state.store.table(set).ok_or_else(|| ODataError::segment_not_found(set))?;
    let logical_name = table.spec.logical_name.clone();
    let at = table.find(key)?.ok_or_else(|| match key {
        Key::Id(id) => ODataError::record_not_found(&logical_name, id),
        Key::Alternate(_) => ODataError::key_not_found(&logical_name),
    })?;
    Ok(Located { set: set.to_owned(), column: column.to_owned(), id: table.rows[at].id, logical_name })
}

/// Stores a complete file and records its id and name on the record.
fn store_file(ctx: &mut Ctx<'_>, record: &Located, name: String, bytes: Vec<u8>) {
    let id = Uuid::new_v4();
    let file = StoredFile { name: name.clone(), bytes: bytes.into() };
    ctx.state.store.files.store(&record.set, record.id, &record.column, file);
    change_row(ctx, record, Value::String(id.to_string()), Value::String(name));
}

/// Sets `<column>` and `<column>_name` on the record, as an update (new version, `modifiedon`).
fn change_row(ctx: &mut Ctx<'_>, record: &Located, file_id: Value, name: Value) {
    let version = ctx.state.store.next_version();
    let Some(table) = ctx.state.store.table_mut(&record.set) else {
        return;
    };
    let Some(at) = table.position(record.id) else {
        return;
    };
    let row = &mut table.rows[at];
    row.fields.insert(record.column.clone(), file_id);
    row.fields.insert(format!("{}_name", record.column), name);
    row.version = version;
    row.fields.insert("versionnumber".to_owned(), Value::from(version));
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).ok().and_then(|t| t.format(&Rfc3339).ok());
    if let Some(now) = now {
        row.fields.insert("modifiedon".to_owned(), Value::String(now));
    }
    ctx.state.counters.updated += 1;
}

/// `404 0x80040217`: the record has no file in this column (Dataverse's "object does not exist" code).
fn no_file(column: &str, id: Uuid) -> ODataError {
    ODataError::new(404, "0x80040217", format!("No file attachment found for attribute: {column} EntityId: {id}."))
}

/// `400 0x80040203` (Dataverse's "invalid argument"): an upload request the emulator cannot use.
fn invalid_argument(message: impl Into<String>) -> ODataError {
    ODataError::new(400, "0x80040203", message)
}

/// A query option's decoded value.
fn query_value(request: &ApiRequest, name: &str) -> Option<String> {
    let query = request.query.as_deref()?;
    url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// `bytes a-b/total` into `(a, b, total)`, with `a <= b < total`.
fn parse_content_range(text: &str) -> Option<(u64, u64, u64)> {
    let (span, total) = text.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end, total): (u64, u64, u64) =
        (start.trim().parse().ok()?, end.trim().parse().ok()?, total.trim().parse().ok()?);
    (start <= end && end < total).then_some((start, end, total))
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes: `Some(Ok((first, last)))` for a range
/// inside the file, `Some(Err(()))` for one outside it, `None` to answer the whole file (no usable range,
/// or an empty file).
fn parse_range(text: &str, size: u64) -> Option<std::result::Result<(u64, u64), ()>> {
    let (start, end) = text.trim().strip_prefix("bytes=")?.split_once('-')?;
    if size == 0 {
        return None;
    }
    let last = size - 1;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let length: u64 = suffix.parse().ok()?;
            (size.saturating_sub(length), last)
        }
        (start, "") => (start.parse().ok()?, last),
        (start, end) => (start.parse().ok()?, end.parse::<u64>().ok()?.min(last)),
    };
    if start > end && start <= last {
        return None;
    }
    Some(if start > last { Err(()) } else { Ok((start, end)) })
}

/// A file name as header text: ASCII as is, anything else percent-encoded.
fn header_text(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        name.to_owned()
    } else {
        utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_ranges_and_ranges() {
        assert_eq!(parse_content_range("bytes 0-9/26"), Some((0, 9, 26)));
        assert_eq!(parse_content_range("bytes 20-25/26"), Some((20, 25, 26)));
        assert_eq!(parse_content_range("bytes 20-26/26"), None);
        assert_eq!(parse_content_range("bytes 9-0/26"), None);
        assert_eq!(parse_content_range("0-9/26"), None);
        assert_eq!(parse_range("bytes=0-9", 26), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=20-29", 26), Some(Ok((20, 25))));
        assert_eq!(parse_range(&format!("bytes=10-{}", u64::MAX), 26), Some(Ok((10, 25))));
        assert_eq!(parse_range("bytes=20-", 26), Some(Ok((20, 25))));
        assert_eq!(parse_range("bytes=-6", 26), Some(Ok((20, 25))));
        assert_eq!(parse_range("bytes=26-30", 26), Some(Err(())));
        assert_eq!(parse_range("bytes=0-9", 0), None);
        assert_eq!(parse_range("items=0-9", 26), None);
        assert_eq!(parse_range("bytes=9-3", 26), None);
    }

    #[test]
    fn file_names_are_header_safe() {
        assert_eq!(header_text("report 1.pdf"), "report 1.pdf");
        assert_eq!(header_text("résumé.pdf"), "r%C3%A9sum%C3%A9%2Epdf");
    }
}
