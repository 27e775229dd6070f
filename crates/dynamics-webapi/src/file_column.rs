//! File and image columns: chunked upload, ranged download, delete; streaming, one chunk in memory at a time.
//!
//! ```no_run
//! use dynamics_webapi::Client;
//! use tokio::io::{AsyncRead, AsyncWrite};
//!
//! # async fn run(
//! #     client: Client,
//! #     id: uuid::Uuid,
//! #     file: impl AsyncRead + Unpin + Send,
//! #     size: u64,
//! #     mut copy: impl AsyncWrite + Unpin,
//! # ) -> dynamics_webapi::Result<()> {
//! // `file` is any reader, such as a `tokio::fs::File`, and `size` its length.
//! let column = client.file_column("accounts", id, "sample_filecolumn");
//! column.upload("25mb.pdf", size, file).send().await?;
//!
//! let info = column.download().to_writer(&mut copy).await?;
//! println!("{} bytes of {:?}", info.size(), info.name());
//! column.delete().await?;
//! # Ok(()) }
//! ```
//!
//! # The requests (as documented for the Web API, "Use file column data")
//!
//! Upload in chunks: the first request opens the upload and the server answers where to send the chunks
//! and how large they should be; each chunk is a `PATCH` with its `Content-Range` (`206` until the last,
//! which answers `204`).
//!
//! ```text
//! PATCH [Organization URI]/api/data/v9.2/accounts(<id>)/sample_filecolumn?x-ms-file-name=25mb.pdf
//! x-ms-transfer-mode: chunked
//!
//! HTTP/1.1 200 OK
//! Location: [Organization URI]/api/data/v9.2/accounts(<id>)/sample_filecolumn?sessiontoken=<token>
//! x-ms-chunk-size: 4194304
//!
//! PATCH <Location>
//! x-ms-file-name: 25mb.pdf
//! Content-Type: application/octet-stream
//! Content-Range: bytes 0-4194303/25870370
//! ```
//!
//! Download in ranges: `GET …/sample_filecolumn/$value` with `Range: bytes=0-4194303`, answered `206` with
//! `x-ms-file-size` (the whole size), `x-ms-file-name` and `mimetype`; a `200` carries the whole file
//! (files kept in the database cannot be read in parts). Image columns take the same requests
//! (`?size=full` reads the full-size image). Delete: `DELETE …/sample_filecolumn` (`204`).

mod async_io;
mod column;
mod download;
mod upload;

pub use column::FileColumn;
pub use download::{FileDownload, FileInfo};
pub use upload::FileUpload;
