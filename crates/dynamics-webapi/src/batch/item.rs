//! One item of a batch: an operation on its own, or a change set.

use super::changeset::ChangeSet;
use super::error::InvalidBatch;
use super::multipart;
use super::operation::Operation;

/// One top-level part of a batch: an [`Operation`] that runs on its own, or a [`ChangeSet`] of writes that
/// run together. Dataverse answers items in order, one response part per item.
///
/// ```
/// use dynamics_webapi::batch::{BatchItem, ChangeSet, ChangeSetOperation, Operation};
///
/// let items: Vec<BatchItem> = vec![
///     Operation::get("accounts?$top=1").into(),
///     [ChangeSetOperation::delete("tasks(00000000-0000-0000-0000-000000000001)")].into_iter().collect::<ChangeSet>().into(),
/// ];
/// assert_eq!(items.iter().map(BatchItem::operation_count).sum::<usize>(), 2);
/// ```
#[derive(Debug, Clone)]
pub enum BatchItem {
    /// A request on its own, outside any change set.
    Operation(Operation),
    /// An atomic group of writes.
    ChangeSet(ChangeSet),
}

impl BatchItem {
    /// How many operations the item holds: 1 for an operation, the size of a change set.
    ///
    /// ```
    /// use dynamics_webapi::batch::{BatchItem, Operation};
    ///
    /// assert_eq!(BatchItem::from(Operation::get("accounts")).operation_count(), 1);
    /// ```
    pub fn operation_count(&self) -> usize {
        match self {
            Self::Operation(_) => 1,
            Self::ChangeSet(change_set) => change_set.len(),
        }
    }

    /// Whether sending the item twice has the effect of sending it once (no `POST` in it).
    pub(crate) fn is_idempotent(&self) -> bool {
        match self {
            Self::Operation(operation) => operation.method().is_idempotent(),
            Self::ChangeSet(change_set) => change_set.is_idempotent(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), InvalidBatch> {
        match self {
            Self::Operation(operation) => operation.validate(),
            Self::ChangeSet(change_set) => change_set.validate(),
        }
    }

    /// Writes the item as one part of the batch: `--boundary`, the part, and the line break before the next delimiter.
    pub(crate) fn write(&self, out: &mut Vec<u8>, batch_boundary: &str, service_root: &str) {
        multipart::write_delimiter(out, batch_boundary);
        match self {
            Self::Operation(operation) => {
                multipart::write_http_part_headers(out, None);
                operation.parts().write(out, operation.method(), service_root);
            }
            Self::ChangeSet(change_set) => change_set.write(out, service_root),
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl From<Operation> for BatchItem {
    fn from(operation: Operation) -> Self {
        Self::Operation(operation)
    }
}

impl From<ChangeSet> for BatchItem {
    fn from(change_set: ChangeSet) -> Self {
        Self::ChangeSet(change_set)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::BatchItem;
    use crate::batch::{ChangeSet, ChangeSetOperation, Operation};

    #[test]
    fn operation_part_has_http_headers_and_trailing_line_break() {
        let mut out = Vec::new();
        BatchItem::from(Operation::get("WhoAmI")).write(&mut out, "batch_x", "/api/data/v9.2/");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--batch_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             GET /api/data/v9.2/WhoAmI HTTP/1.1\r\n\r\n\r\n"
        );
    }

    #[test]
    fn idempotence_follows_methods() {
        assert!(BatchItem::from(Operation::get("accounts")).is_idempotent());
        assert!(!BatchItem::from(Operation::post("accounts", &json!({}))).is_idempotent());
        let change_set: ChangeSet = [ChangeSetOperation::patch("accounts(1)", &json!({}))].into_iter().collect();
        assert!(BatchItem::from(change_set).is_idempotent());
    }
}
