//! Which bulk message a write uses.

use crate::retry::Repeat;

/// A bulk operation: which `…Multiple` message carries the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BulkOperation {
    /// `CreateMultiple`: new records; answers the new ids.
    Create,
    /// `UpdateMultiple`: existing records, addressed by key.
    Update,
    /// `UpsertMultiple`: update or create, addressed by key; safe to repeat.
    Upsert,
    /// `DeleteMultiple`: records addressed by key (elastic tables).
    Delete,
}

impl BulkOperation {
    /// The bound action's name, such as `CreateMultiple`.
    pub fn action(self) -> &'static str {
        match self {
            Self::Create => "CreateMultiple",
            Self::Update => "UpdateMultiple",
            Self::Upsert => "UpsertMultiple",
            Self::Delete => "DeleteMultiple",
        }
    }

    /// Whether repeating a chunk whose outcome is unknown is harmless.
    pub fn is_idempotent(self) -> bool {
        self == Self::Upsert
    }

    pub(crate) fn repeat(self) -> Repeat {
        if self.is_idempotent() { Repeat::Safe } else { Repeat::OnlyIfRefused }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upserts_are_repeated_after_an_unknown_outcome() {
        assert_eq!(BulkOperation::Upsert.repeat(), Repeat::Safe);
        for operation in [BulkOperation::Create, BulkOperation::Update, BulkOperation::Delete] {
            assert_eq!(operation.repeat(), Repeat::OnlyIfRefused, "{operation:?}");
        }
        assert_eq!(BulkOperation::Delete.action(), "DeleteMultiple");
    }
}
