//! [`BulkTable`]: the table a bulk write goes to, and the operations on it.

use std::sync::Arc;

use futures_util::stream::{self, Stream};
use serde::Serialize;

use super::operation::BulkOperation;
use super::source::StreamSource;
use super::target::{CreateStamp, TableNames, create_into, keyed_into};
use super::writer::{BulkWrite, Input};
use crate::client::Client;
use crate::entity::Entity;
use crate::key::RecordKey;

/// The table of a bulk write. Get one with [`Client::bulk`] (typed) or [`Client::bulk_untyped`].
///
/// ```no_run
/// use dynamics_webapi::{Client, RecordKey};
/// use serde_json::json;
///
/// # async fn run(client: Client) -> dynamics_webapi::Result<()> {
/// let accounts = client.bulk_untyped("accounts", "account");
/// let rows = [("A-1", "Contoso"), ("A-2", "Fabrikam")];
/// let report = accounts
///     .upsert(rows.iter().map(|(number, name)| {
///         (RecordKey::alternate([("accountnumber", *number)]), json!({ "name": name }))
///     }))
///     .send()
///     .await?;
/// assert_eq!(report.written(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BulkTable {
    client: Client,
    names: TableNames,
}

impl Client {
    /// Bulk writes to `E`'s table (entity set, logical name and primary id from the [`Entity`] impl).
    pub fn bulk<E: Entity>(&self) -> BulkTable {
        BulkTable {
            client: self.clone(),
            names: TableNames {
                entity_set: E::ENTITY_SET.to_owned(),
                logical_name: E::LOGICAL_NAME.to_owned(),
                primary_id: E::PRIMARY_ID.to_owned(),
            },
        }
    }

    /// Bulk writes to the table with this entity set name (`accounts`) and logical name (`account`),
    /// for JSON records. The primary id column is taken to be `<logical name>id`; see
    /// [`BulkTable::primary_id`] for tables where it is not.
    pub fn bulk_untyped(&self, entity_set: impl Into<String>, logical_name: impl Into<String>) -> BulkTable {
        let logical_name = logical_name.into();
        BulkTable {
            client: self.clone(),
            names: TableNames { entity_set: entity_set.into(), primary_id: format!("{logical_name}id"), logical_name },
        }
    }
}

impl BulkTable {
    /// The primary id column (such as `accountid`), where it is not `<logical name>id`.
    #[must_use]
    pub fn primary_id(mut self, column: impl Into<String>) -> Self {
        self.names.primary_id = column.into();
        self
    }

    /// Creates the records (`CreateMultiple`). Each must serialise to a JSON object.
    pub fn create<'a, I>(&self, records: I) -> BulkWrite<'a>
    where
        I: IntoIterator + 'a,
        I::IntoIter: Send + 'a,
        I::Item: Serialize,
    {
        self.create_stream(stream::iter(records))
    }

    /// Creates the records of a stream (`CreateMultiple`), reading it as chunks are sent.
    pub fn create_stream<'a, S>(&self, records: S) -> BulkWrite<'a>
    where
        S: Stream + Send + 'a,
        S::Item: Serialize,
    {
        let names = Arc::new(self.names.clone());
        let stamp = CreateStamp::new(&names);
        let input: Input<'a> =
            Box::new(StreamSource::new(records, move |record: S::Item, buffer: &mut Vec<u8>| match &stamp {
                Ok(stamp) => create_into(stamp, &record, buffer).map(|()| None),
                Err(error) => Err(error.clone()),
            }));
        BulkWrite::new(self.client.clone(), names, BulkOperation::Create, input)
    }

    /// Updates existing records (`UpdateMultiple`): each item is the record's key and the columns to change.
    pub fn update<'a, I, K, T>(&self, records: I) -> BulkWrite<'a>
    where
        I: IntoIterator<Item = (K, T)> + 'a,
        I::IntoIter: Send + 'a,
        K: Into<RecordKey>,
        T: Serialize,
    {
        self.keyed(BulkOperation::Update, stream::iter(records))
    }

    /// Updates the records of a stream (`UpdateMultiple`).
    pub fn update_stream<'a, S, K, T>(&self, records: S) -> BulkWrite<'a>
    where
        S: Stream<Item = (K, T)> + Send + 'a,
        K: Into<RecordKey>,
        T: Serialize,
    {
        self.keyed(BulkOperation::Update, records)
    }

    /// Updates or creates records (`UpsertMultiple`): each item is the record's key (id or alternate key)
    /// and its columns. Key columns are sent in the key only.
    pub fn upsert<'a, I, K, T>(&self, records: I) -> BulkWrite<'a>
    where
        I: IntoIterator<Item = (K, T)> + 'a,
        I::IntoIter: Send + 'a,
        K: Into<RecordKey>,
        T: Serialize,
    {
        self.keyed(BulkOperation::Upsert, stream::iter(records))
    }

    /// Upserts the records of a stream (`UpsertMultiple`).
    pub fn upsert_stream<'a, S, K, T>(&self, records: S) -> BulkWrite<'a>
    where
        S: Stream<Item = (K, T)> + Send + 'a,
        K: Into<RecordKey>,
        T: Serialize,
    {
        self.keyed(BulkOperation::Upsert, records)
    }

    /// Deletes records by key (`DeleteMultiple`; tables without it get one `DELETE` per record).
    pub fn delete<'a, I>(&self, keys: I) -> BulkWrite<'a>
    where
        I: IntoIterator + 'a,
        I::IntoIter: Send + 'a,
        I::Item: Into<RecordKey>,
    {
        let names = Arc::new(self.names.clone());
        let build = Arc::clone(&names);
        let input: Input<'a> =
            Box::new(StreamSource::new(stream::iter(keys), move |key: I::Item, buffer: &mut Vec<u8>| {
                let key = key.into();
                keyed_into(&build, &key, None, buffer).map(|()| Some(key))
            }));
        BulkWrite::new(self.client.clone(), names, BulkOperation::Delete, input)
    }

    fn keyed<'a, S, K, T>(&self, operation: BulkOperation, records: S) -> BulkWrite<'a>
    where
        S: Stream<Item = (K, T)> + Send + 'a,
        K: Into<RecordKey>,
        T: Serialize,
    {
        let names = Arc::new(self.names.clone());
        let build = Arc::clone(&names);
        let input: Input<'a> =
            Box::new(StreamSource::new(records, move |(key, record): (K, T), buffer: &mut Vec<u8>| {
                let key = key.into();
                keyed_into(&build, &key, Some(&record), buffer).map(|()| Some(key))
            }));
        BulkWrite::new(self.client.clone(), names, operation, input)
    }
}
