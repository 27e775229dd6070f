//! Incremental sync with change tracking: all rows once, then only what changed, from a saved delta link.
//!
//! [`Client::track_changes`](crate::Client::track_changes) reads a table with `Prefer: odata.track-changes`;
//! the last item of the stream is [`SyncEvent::Completed`] with the [`DeltaLink`] to save.
//! [`Client::changes_since`](crate::Client::changes_since) follows a saved link and yields what changed since:
//! [`Change::Upserted`] rows and [`Change::Deleted`] ids, then the next link.
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use dynamics_webapi::change_tracking::{Change, DeltaLink, SyncEvent};
//! use dynamics_webapi::query::Query;
//! use dynamics_webapi::{Client, Record};
//!
//! # async fn run(client: Client, saved: Option<DeltaLink>) -> dynamics_webapi::Result<()> {
//! let sync = match saved {
//!     Some(link) => client.changes_since::<Record>(link),
//!     None => client.track_changes::<Record, _>(&Query::untyped("accounts").max_page_size(5000)),
//! };
//! let mut events = std::pin::pin!(sync.events());
//! while let Some(event) = events.try_next().await? {
//!     match event {
//!         SyncEvent::Change(Change::Upserted(account)) => println!("upsert {:?}", account.string("name")?),
//!         SyncEvent::Change(Change::Deleted(gone)) => println!("delete {}", gone.id()),
//!         SyncEvent::Completed(next) => println!("save {}", serde_json::to_string(&next).unwrap_or_default()),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # The requests (as documented for the Web API)
//!
//! ```text
//! GET [Organization URI]/api/data/v9.2/accounts?$select=name,accountnumber,telephone1,fax
//! Prefer: odata.track-changes
//!
//! HTTP/1.1 200 OK
//! Preference-Applied: odata.track-changes
//! {"@odata.context":"…","@odata.deltaLink":"…/accounts?$select=…&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44",
//!  "value":[{"@odata.etag":"W/\"915244\"","name":"Monte Orton",…,"accountid":"60c4e274-…"}]}
//!
//! GET [Organization URI]/api/data/v9.2/accounts?$select=…&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44
//!
//! HTTP/1.1 200 OK
//! {"@odata.context":"…/$delta","@odata.deltaLink":"…&$deltatoken=919058%21…",
//!  "value":[{…changed row…},
//!           {"@odata.context":"…$metadata#accounts/$deletedEntity","id":"2e451703-…","reason":"deleted"}]}
//! ```
//!
//! Removed rows come as Dataverse documents them (`$deletedEntity` entries with `id` and `reason`) or in the
//! OData 4.01 form (`{"@removed":{"reason":"deleted"},"@id":"accounts(2e451703-…)"}`); both are read.
//! Pages (`Prefer: odata.maxpagesize`) are followed through `@odata.nextLink`; the delta link is on the last page.
//! `$filter`, `$orderby`, `$expand` and `$top` are not supported with change tracking and are refused before
//! sending. A table without change tracking answers `0x80072491` ("Entity … isn't enabled for change
//! tracking."): the error's [`hint`](crate::Error::hint) names the **Track changes** setting to turn on.
//! [`Client::is_change_tracking_enabled`](crate::Client::is_change_tracking_enabled) asks the table's definition
//! first (`GET EntityDefinitions(LogicalName='account')?$select=ChangeTrackingEnabled`).
//! Dataverse keeps changes for `ExpireChangeTrackingInDays` (7 by default): an older link must start over.

mod change;
mod delta_link;
mod enabled;
mod not_enabled;
mod sync;

pub use change::{Change, DeletedRecord, RemovedReason};
pub use delta_link::DeltaLink;
pub use sync::{ChangeTracking, SyncEvent};
