//! [`FileDownload`]: reading a file column in `Range` chunks.

use bytes::Bytes;
use futures_util::stream::{self, Stream, TryStreamExt};
use http::header::RANGE;
use http::{HeaderMap, Method};
use tokio::io::AsyncWrite;

use super::async_io::{flush, write_all};
use super::column::FileColumn;
use crate::error::{Error, Result};
use crate::transport::ApiRequest;

/// The range size when none is set: 4 MiB, the chunk size Dataverse recommends.
const DEFAULT_CHUNK: u64 = 4 * 1024 * 1024;

/// What the server said about a downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileInfo {
    name: Option<String>,
    size: u64,
    mime_type: Option<String>,
}

impl FileInfo {
    /// The file's name (`x-ms-file-name`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The file's size in bytes (`x-ms-file-size`).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file's MIME type (`mimetype`).
    pub fn mime_type(&self) -> Option<&str> {
        self.mime_type.as_deref()
    }
}

/// A download, finished by [`to_writer`](Self::to_writer) or [`chunks`](Self::chunks).
/// Made by [`FileColumn::download`].
#[derive(Debug, Clone)]
#[must_use = "a download does nothing until it is read"]
pub struct FileDownload {
    column: FileColumn,
    chunk: u64,
    full_size: bool,
}

/// One ranged answer.
struct Part {
    bytes: Bytes,
    info: FileInfo,
    /// The answer was the whole file (`200`), not a range.
    whole: bool,
}

impl FileDownload {
    pub(crate) fn new(column: FileColumn) -> Self {
        Self { column, chunk: DEFAULT_CHUNK, full_size: false }
    }

    /// Asks for ranges of this many bytes (default 4 MiB).
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk = bytes.max(1);
        self
    }

    /// For an image column: the full-size image (`?size=full`) rather than the thumbnail.
    pub fn full_size_image(mut self) -> Self {
        self.full_size = true;
        self
    }

    /// Writes the file to `writer`, range by range, and returns what the server said about it.
    ///
    /// # Errors
    /// As any request; [`Error::Config`] when writing fails; [`Error::Decode`] when the answers do not add up
    /// to the announced size.
    pub async fn to_writer<W: AsyncWrite + Unpin>(self, writer: &mut W) -> Result<FileInfo> {
        let mut offset = 0;
        loop {
            let part = self.part(offset).await?;
            write_all(writer, &part.bytes).await.map_err(|e| writing(&e))?;
            offset += part.bytes.len() as u64;
            if let Some(info) = finished(&part, offset)? {
                flush(writer).await.map_err(|e| writing(&e))?;
                return Ok(info);
            }
        }
    }

    /// The file's bytes, one range per item, each requested when the one before has been taken.
    pub fn chunks(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        stream::try_unfold((self, Some(0_u64)), |(download, offset)| async move {
            let Some(offset) = offset else {
                return Ok::<_, Error>(None);
            };
            let part = download.part(offset).await?;
            let end = offset + part.bytes.len() as u64;
            let next = if finished(&part, end)?.is_some() { None } else { Some(end) };
            Ok(Some((part.bytes, (download, next))))
        })
        .into_stream()
    }

    /// `GET <set>(<key>)/<column>/$value` with `Range: bytes=<offset>-<offset + chunk - 1>`.
    async fn part(&self, offset: u64) -> Result<Part> {
        let query = self.full_size.then(|| "size=full".to_owned());
        let range = format!("bytes={offset}-{}", offset.saturating_add(self.chunk - 1));
        let request = ApiRequest::new(Method::GET, format!("{}/$value", self.column.path()?))
            .query(query)
            .header(RANGE, &range)?;
        let response = self.column.client.execute(request).await?;
        let whole = response.status != 206;
        if whole && offset > 0 {
            // The server ignored the range after answering earlier ones: its whole file must not be appended
            // to the part already written.
            return Err(Error::decode(
                format!("the server answered a range from byte {offset} with the whole file ({})", response.status),
                None,
            ));
        }
        let size = match read_size(&response.headers) {
            Some(size) => size,
            None if whole => offset + response.body.len() as u64,
            None => return Err(Error::decode("a ranged file answer has no x-ms-file-size", None)),
        };
        let info = FileInfo {
            name: header_text(&response.headers, "x-ms-file-name"),
            size,
            mime_type: header_text(&response.headers, "mimetype"),
        };
        Ok(Part { bytes: response.body, info, whole })
    }
}

/// `Some(info)` once the file is complete; an error when a range came back empty before the end.
fn finished(part: &Part, received: u64) -> Result<Option<FileInfo>> {
    if part.whole || received >= part.info.size {
        return Ok(Some(part.info.clone()));
    }
    if part.bytes.is_empty() {
        return Err(Error::decode(format!("the file answer stopped at {received} of {} bytes", part.info.size), None));
    }
    Ok(None)
}

fn read_size(headers: &HeaderMap) -> Option<u64> {
    headers.get("x-ms-file-size").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn writing(error: &std::io::Error) -> Error {
    Error::config(format!("writing the downloaded file failed: {error}"))
}
