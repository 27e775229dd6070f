//! Caps on one batch, and the plan that splits a list of items into batches within them.

use std::ops::Range;

use super::error::{BatchError, LimitKind};
use super::item::BatchItem;

/// The caps one batch must stay within: operations (Dataverse allows 1,000) and body bytes.
///
/// [`BatchRequestBuilder::build`](super::BatchRequestBuilder::build) refuses a batch over a cap;
/// [`BatchRequestBuilder::build_split`](super::BatchRequestBuilder::build_split) splits the items into as many
/// batches as needed, keeping their order and never splitting a change set.
///
/// # Examples
///
/// ```
/// use dynamics_webapi::batch::BatchLimits;
///
/// let limits = BatchLimits::new().max_operations(100).max_body_bytes(1 << 20);
/// assert_eq!(limits.operations_cap(), 100);
/// assert_eq!(BatchLimits::default().operations_cap(), 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct BatchLimits {
    max_operations: usize,
    max_body_bytes: usize,
}

impl BatchLimits {
    /// The most operations Dataverse accepts in one batch.
    pub const DATAVERSE_MAX_OPERATIONS: usize = 1000;

    /// The default cap on the rendered body: 16 MiB.
    ///
    /// Dataverse documents no byte cap for a batch; this keeps each request, and the time the server
    /// spends on it, moderate. Lower it for large bodies (notes with attachments) or slow links.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

    /// Dataverse's operation cap and the default byte cap.
    ///
    /// ```
    /// use dynamics_webapi::batch::BatchLimits;
    ///
    /// assert_eq!(BatchLimits::new().body_bytes_cap(), BatchLimits::DEFAULT_MAX_BODY_BYTES);
    /// ```
    pub fn new() -> Self {
        Self { max_operations: Self::DATAVERSE_MAX_OPERATIONS, max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES }
    }

    /// Caps the operations in one batch (at least 1).
    ///
    /// ```
    /// use dynamics_webapi::batch::BatchLimits;
    ///
    /// assert_eq!(BatchLimits::new().max_operations(0).operations_cap(), 1);
    /// ```
    pub fn max_operations(mut self, max: usize) -> Self {
        self.max_operations = max.max(1);
        self
    }

    /// Caps the bytes of one rendered batch body.
    ///
    /// ```
    /// use dynamics_webapi::batch::BatchLimits;
    ///
    /// assert_eq!(BatchLimits::new().max_body_bytes(4096).body_bytes_cap(), 4096);
    /// ```
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// The operation cap.
    ///
    /// ```
    /// use dynamics_webapi::batch::BatchLimits;
    ///
    /// assert_eq!(BatchLimits::new().operations_cap(), BatchLimits::DATAVERSE_MAX_OPERATIONS);
    /// ```
    pub fn operations_cap(&self) -> usize {
        self.max_operations
    }

    /// The byte cap.
    ///
    /// ```
    /// use dynamics_webapi::batch::BatchLimits;
    ///
    /// assert_eq!(BatchLimits::new().body_bytes_cap(), 16 * 1024 * 1024);
    /// ```
    pub fn body_bytes_cap(&self) -> usize {
        self.max_body_bytes
    }
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self::new()
    }
}

/// The size of one item in a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemSize {
    pub(crate) operations: usize,
    pub(crate) bytes: usize,
}

/// Groups items, in order, into batches within the limits. `closing_bytes` is what a batch adds after its
/// last item (the closing delimiter).
///
/// # Errors
///
/// [`LimitKind::ChangeSetOperations`] for a change set with more operations than the cap, and
/// [`LimitKind::BodyBytes`] for an item that alone makes a body over the byte cap: such an item fits no batch.
pub(crate) fn plan(
    items: &[BatchItem],
    sizes: &[ItemSize],
    closing_bytes: usize,
    limits: &BatchLimits,
) -> Result<Vec<Range<usize>>, BatchError> {
    let mut batches = Vec::new();
    let mut start = 0;
    let (mut operations, mut bytes) = (0, closing_bytes);
    for (index, (item, size)) in items.iter().zip(sizes).enumerate() {
        if size.operations > limits.max_operations {
            let kind = match item {
                BatchItem::ChangeSet(_) => LimitKind::ChangeSetOperations,
                BatchItem::Operation(_) => LimitKind::Operations,
            };
            return Err(BatchError::limit(kind, size.operations, limits.max_operations, Some(index)));
        }
        if closing_bytes + size.bytes > limits.max_body_bytes {
            return Err(BatchError::limit(
                LimitKind::BodyBytes,
                closing_bytes + size.bytes,
                limits.max_body_bytes,
                Some(index),
            ));
        }
        let fits = operations + size.operations <= limits.max_operations && bytes + size.bytes <= limits.max_body_bytes;
        if !fits {
            batches.push(start..index);
            start = index;
            (operations, bytes) = (0, closing_bytes);
        }
        operations += size.operations;
        bytes += size.bytes;
    }
    if start < items.len() {
        batches.push(start..items.len());
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{BatchLimits, ItemSize, plan};
    use crate::batch::{BatchError, BatchItem, ChangeSet, ChangeSetOperation, LimitKind, Operation};

    fn operation() -> BatchItem {
        Operation::get("accounts").into()
    }

    fn change_set(size: usize) -> BatchItem {
        (0..size).map(|_| ChangeSetOperation::post("tasks", &json!({}))).collect::<ChangeSet>().into()
    }

    fn sizes(items: &[BatchItem], bytes: usize) -> Vec<ItemSize> {
        items.iter().map(|item| ItemSize { operations: item.operation_count(), bytes }).collect()
    }

    #[test]
    fn splits_by_operations_without_splitting_change_sets() {
        let items = vec![operation(), change_set(3), operation(), change_set(2), operation()];
        let four = plan(&items, &sizes(&items, 10), 5, &BatchLimits::new().max_operations(4)).unwrap();
        assert_eq!(four, [0..2, 2..5]);
        let three = plan(&items, &sizes(&items, 10), 5, &BatchLimits::new().max_operations(3)).unwrap();
        assert_eq!(three, [0..1, 1..2, 2..4, 4..5]);
    }

    #[test]
    fn splits_by_bytes() {
        let items = vec![operation(), operation(), operation()];
        let limits = BatchLimits::new().max_body_bytes(25);
        assert_eq!(plan(&items, &sizes(&items, 10), 5, &limits).unwrap(), [0..2, 2..3]);
    }

    #[test]
    fn exact_fit_stays_in_one_batch() {
        let items = vec![operation(), operation()];
        let limits = BatchLimits::new().max_operations(2).max_body_bytes(25);
        let batches = plan(&items, &sizes(&items, 10), 5, &limits).unwrap();
        assert_eq!((batches.len(), &batches[0]), (1, &(0..2)));
    }

    #[test]
    fn change_set_over_the_operation_cap_is_refused() {
        let items = vec![operation(), change_set(5)];
        let error = plan(&items, &sizes(&items, 10), 5, &BatchLimits::new().max_operations(4)).unwrap_err();
        let BatchError::Limit(limit) = error else { panic!("expected a limit error") };
        assert_eq!(
            (limit.kind(), limit.actual(), limit.max(), limit.item()),
            (LimitKind::ChangeSetOperations, 5, 4, Some(1))
        );
    }

    #[test]
    fn item_over_the_byte_cap_is_refused() {
        let items = vec![operation()];
        let error = plan(&items, &sizes(&items, 100), 5, &BatchLimits::new().max_body_bytes(50)).unwrap_err();
        let BatchError::Limit(limit) = error else { panic!("expected a limit error") };
        assert_eq!((limit.kind(), limit.actual(), limit.item()), (LimitKind::BodyBytes, 105, Some(0)));
    }

    #[test]
    fn no_items_no_batches() {
        assert!(plan(&[], &[], 5, &BatchLimits::new()).unwrap().is_empty());
    }

    #[test]
    fn thousand_and_one_operations_make_two_batches() {
        let items: Vec<BatchItem> = (0..1001).map(|_| operation()).collect();
        let batches = plan(&items, &sizes(&items, 100), 5, &BatchLimits::new()).unwrap();
        assert_eq!(batches, [0..1000, 1000..1001]);
    }
}
