//! [`FileColumn`]: one record's file or image column.

use http::Method;
use tokio::io::AsyncRead;

use super::download::FileDownload;
use super::upload::FileUpload;
use crate::client::Client;
use crate::entity::Entity;
use crate::entity_set::check_identifier;
use crate::error::Result;
use crate::key::RecordKey;
use crate::transport::ApiRequest;

/// A file or image column of one record. Get one with [`Client::file_column`] or [`Client::file_column_of`].
#[derive(Debug, Clone)]
pub struct FileColumn {
    pub(crate) client: Client,
    entity_set: String,
    key: RecordKey,
    column: String,
}

impl Client {
    /// The file or image column `column` of the record `key` in `entity_set`.
    pub fn file_column(&self, entity_set: &str, key: impl Into<RecordKey>, column: &str) -> FileColumn {
        FileColumn {
            client: self.clone(),
            entity_set: entity_set.to_owned(),
            key: key.into(),
            column: column.to_owned(),
        }
    }

    /// The file or image column `column` of the `E` record `key`.
    pub fn file_column_of<E: Entity>(&self, key: impl Into<RecordKey>, column: &str) -> FileColumn {
        self.file_column(E::ENTITY_SET, key, column)
    }
}

impl FileColumn {
    /// `<set>(<key>)/<column>`, checked and encoded.
    pub(crate) fn path(&self) -> Result<String> {
        check_identifier(&self.entity_set)?;
        check_identifier(&self.column)?;
        Ok(format!("{}{}/{}", self.entity_set, self.key.to_path()?, self.column))
    }

    /// Uploads `size` bytes from `reader` as the file `file_name`, in the chunks the server asks for.
    pub fn upload<R: AsyncRead + Unpin + Send>(&self, file_name: &str, size: u64, reader: R) -> FileUpload<R> {
        FileUpload::new(self.clone(), file_name, size, reader)
    }

    /// Downloads the file, in ranges.
    pub fn download(&self) -> FileDownload {
        FileDownload::new(self.clone())
    }

    /// Deletes the file (`DELETE <set>(<key>)/<column>`).
    ///
    /// # Errors
    /// As any request.
    pub async fn delete(&self) -> Result<()> {
        self.client.execute(ApiRequest::new(Method::DELETE, self.path()?)).await.map(drop)
    }
}
