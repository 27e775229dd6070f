//! The fallback for one record: the single-record request its bulk message stands for
//! (`POST <set>`, `PATCH <set>(<key>)` with `If-Match: *`, `PATCH <set>(<key>)`, `DELETE <set>(<key>)`).

use uuid::Uuid;

use super::operation::BulkOperation;
use super::target::{TableNames, Target};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::options::RequestOptions;

/// Sends one record by itself; returns its id when known.
pub(crate) async fn send_single(
    client: &Client,
    names: &TableNames,
    operation: BulkOperation,
    target: &Target,
    options: Option<&RequestOptions>,
) -> Result<Option<Uuid>> {
    let set = client.entity_set(names.entity_set.clone());
    let body = target.single_body(names)?;
    let options = options.cloned().unwrap_or_default();
    let key = || target.key.clone().ok_or_else(|| Error::config("a keyed bulk write needs a key for every record"));
    match operation {
        BulkOperation::Create => set.create(&body).options(options).send().await.map(Some),
        BulkOperation::Update => {
            set.update(key()?, &body).options(options).send().await.map(|id| id.or_else(|| target.id()))
        }
        BulkOperation::Upsert => {
            set.upsert(key()?, &body).options(options).send().await.map(|id| id.or_else(|| target.id()))
        }
        BulkOperation::Delete => set.delete(key()?).options(options).send().await.map(|()| target.id()),
    }
}
