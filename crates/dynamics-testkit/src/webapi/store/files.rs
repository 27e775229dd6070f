//! The files of file and image columns, and the open upload sessions, kept in the store
//! so that a change set's copy and roll-back cover them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use uuid::Uuid;

/// A stored file. The bytes are shared, so copying the store (for a change set) does not copy them.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) name: String,
    pub(crate) bytes: Arc<[u8]>,
}

/// An upload session opened by a chunked `PATCH`, until its last chunk.
#[derive(Debug, Clone)]
pub(crate) struct UploadSession {
    pub(crate) set: String,
    pub(crate) record: Uuid,
    pub(crate) column: String,
    pub(crate) name: String,
    /// The total the first chunk announced.
    pub(crate) total: Option<u64>,
    pub(crate) received: Vec<u8>,
}

/// The files of every file and image column, and the open upload sessions.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileColumns {
    /// By entity set, record id and column.
    files: BTreeMap<(String, Uuid, String), StoredFile>,
    /// By session token.
    sessions: BTreeMap<String, UploadSession>,
    /// The (entity set, column) pairs a file was ever uploaded to.
    columns: BTreeSet<(String, String)>,
}

impl FileColumns {
    /// True when a file was ever uploaded to this column of this set.
    pub(crate) fn is_file_column(&self, set: &str, column: &str) -> bool {
        self.columns.contains(&(set.to_owned(), column.to_owned()))
    }

    /// The file in this column of this record.
    pub(crate) fn file(&self, set: &str, id: Uuid, column: &str) -> Option<&StoredFile> {
        self.files.get(&(set.to_owned(), id, column.to_owned()))
    }

    /// Stores a complete file in this column of this record, replacing the one there; the column becomes a file column.
    pub(crate) fn store(&mut self, set: &str, id: Uuid, column: &str, file: StoredFile) {
        self.columns.insert((set.to_owned(), column.to_owned()));
        self.files.insert((set.to_owned(), id, column.to_owned()), file);
    }

    /// Removes the file in this column of this record, returning it.
    pub(crate) fn remove(&mut self, set: &str, id: Uuid, column: &str) -> Option<StoredFile> {
        self.files.remove(&(set.to_owned(), id, column.to_owned()))
    }

    /// Opens an upload session under `token`.
    pub(crate) fn open_session(&mut self, token: String, session: UploadSession) {
        self.sessions.insert(token, session);
    }

    /// The open upload session `token`.
    pub(crate) fn session_mut(&mut self, token: &str) -> Option<&mut UploadSession> {
        self.sessions.get_mut(token)
    }

    /// Closes the upload session `token`, returning it.
    pub(crate) fn close_session(&mut self, token: &str) -> Option<UploadSession> {
        self.sessions.remove(token)
    }

    /// Forgets the files and upload sessions of a deleted record.
    pub(crate) fn forget_record(&mut self, set: &str, id: Uuid) {
        self.files.retain(|(file_set, record, _), _| !(file_set == set && *record == id));
        self.sessions.retain(|_, session| !(session.set == set && session.record == id));
    }

    /// The stored file's bytes, for tests inside the crate.
    #[cfg(test)]
    fn bytes(&self, set: &str, id: Uuid, column: &str) -> Option<&[u8]> {
        self.files.get(&(set.to_owned(), id, column.to_owned())).map(|file| &*file.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_record_takes_its_files_and_sessions_along() {
        let (id, other) = (Uuid::new_v4(), Uuid::new_v4());
        let mut files = FileColumns::default();
        for record in [id, other] {
            files.files.insert(
                ("accounts".into(), record, "doc".into()),
                StoredFile { name: "a.txt".into(), bytes: Arc::from(&b"abc"[..]) },
            );
        }
        files.sessions.insert(
            "t".into(),
            UploadSession {
                set: "accounts".into(),
                record: id,
                column: "doc".into(),
                name: "a.txt".into(),
                total: None,
                received: Vec::new(),
            },
        );
        files.forget_record("accounts", id);
        assert_eq!(files.bytes("accounts", id, "doc"), None);
        assert_eq!(files.bytes("accounts", other, "doc"), Some(&b"abc"[..]));
        assert!(files.sessions.is_empty());
    }
}
