//! [`FileUpload`]: the chunked upload of a file column.

use std::fmt;

use bytes::Bytes;
use http::header::{CONTENT_RANGE, LOCATION};
use http::{HeaderName, HeaderValue, Method};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::io::AsyncRead;

use super::async_io::read_up_to;
use super::column::FileColumn;
use crate::error::{Error, Result};
use crate::query::encode_query_value;
use crate::transport::ApiRequest;

const TRANSFER_MODE: HeaderName = HeaderName::from_static("x-ms-transfer-mode");
const CHUNK_SIZE: &str = "x-ms-chunk-size";
const FILE_NAME: HeaderName = HeaderName::from_static("x-ms-file-name");
const OCTET_STREAM: &str = "application/octet-stream";
/// The chunk size when the server names none (the documented 4 MiB).
const DEFAULT_CHUNK: usize = 4 * 1024 * 1024;

/// An upload, finished by [`send`](Self::send). Made by [`FileColumn::upload`].
#[must_use = "an upload does nothing until it is sent"]
pub struct FileUpload<R> {
    column: FileColumn,
    file_name: String,
    size: u64,
    reader: R,
    max_chunk: Option<usize>,
}

impl<R> fmt::Debug for FileUpload<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileUpload")
            .field("column", &self.column)
            .field("file_name", &self.file_name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin + Send> FileUpload<R> {
    pub(crate) fn new(column: FileColumn, file_name: &str, size: u64, reader: R) -> Self {
        Self { column, file_name: file_name.to_owned(), size, reader, max_chunk: None }
    }

    /// Sends chunks of at most this many bytes, even if the server allows larger ones.
    pub fn max_chunk_size(mut self, bytes: usize) -> Self {
        self.max_chunk = Some(bytes.max(1));
        self
    }

    /// Uploads the file: opens a chunked upload, then sends the chunks in order, reading one chunk at a time.
    ///
    /// # Errors
    /// [`Error::Config`] when the file name is empty, or the reader fails or holds a different number of bytes
    /// than `size` (the last chunk is then not sent, so the column keeps its old file);
    /// [`Error::Decode`] when the server names no upload location; otherwise as any request.
    pub async fn send(mut self) -> Result<()> {
        if self.file_name.is_empty() {
            return Err(Error::config("a file upload needs a file name"));
        }
        let client = self.column.client.clone();
        let name_header = header_file_name(&self.file_name)?;
        if self.size == 0 {
            // Nothing to cut in chunks: the single-request upload, with an empty body.
            let empty = ApiRequest::new(Method::PATCH, self.column.path()?)
                .raw_body(Bytes::new(), HeaderValue::from_static(OCTET_STREAM))
                .header(FILE_NAME, &name_header)?;
            return client.execute(empty).await.map(drop);
        }
        let opening = ApiRequest::new(Method::PATCH, self.column.path()?)
            .query(Some(format!("x-ms-file-name={}", encode_query_value(&self.file_name))))
            .header(TRANSFER_MODE, "chunked")?;
        let opened = client.execute(opening).await?;
        let location = opened
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::decode("the chunked upload's answer has no Location to send the chunks to", None))?
            .to_owned();
        let server_chunk = opened
            .headers
            .get(CHUNK_SIZE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|size| *size > 0)
            .unwrap_or(DEFAULT_CHUNK);
        let chunk = self.max_chunk.map_or(server_chunk, |max| max.min(server_chunk));
        let mut buffer = Vec::new();
        let mut offset: u64 = 0;
        let mut probe = Vec::with_capacity(1);
        loop {
            let want = usize::try_from(self.size - offset).map_or(chunk, |left| left.min(chunk));
            let read = read_up_to(&mut self.reader, &mut buffer, want).await.map_err(|e| reading(&e))?;
            if read < want {
                return Err(Error::config(format!(
                    "the file ended after {} of the {} bytes announced; the upload was not finished",
                    offset + read as u64,
                    self.size
                )));
            }
            let end = offset + read as u64;
            if end == self.size && read_up_to(&mut self.reader, &mut probe, 1).await.map_err(|e| reading(&e))? > 0 {
                return Err(Error::config(format!(
                    "the file holds more than the {} bytes announced; the upload was not finished",
                    self.size
                )));
            }
            let range = format!("bytes {offset}-{}/{}", end.saturating_sub(1), self.size);
            let part = ApiRequest::absolute(Method::PATCH, location.clone())
                .raw_body(Bytes::from(std::mem::take(&mut buffer)), HeaderValue::from_static(OCTET_STREAM))
                .header(FILE_NAME, &name_header)?
                .header(CONTENT_RANGE, &range)?;
            client.execute(part).await?;
            offset = end;
            if offset >= self.size {
                return Ok(());
            }
        }
    }
}

/// The file name as header text: ASCII as is, anything else percent-encoded
/// (the header cannot carry other characters; the opening request's query parameter can).
fn header_file_name(name: &str) -> Result<String> {
    if name.chars().any(char::is_control) {
        return Err(Error::config("a file name must not contain control characters"));
    }
    Ok(if name.is_ascii() { name.to_owned() } else { utf8_percent_encode(name, NON_ALPHANUMERIC).to_string() })
}

fn reading(error: &std::io::Error) -> Error {
    Error::config(format!("reading the file to upload failed: {error}"))
}
