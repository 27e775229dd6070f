//! Bulk writes: `CreateMultiple`, `UpdateMultiple`, `UpsertMultiple` and `DeleteMultiple`,
//! in chunks whose size adapts to what the server accepts.
//!
//! Start from [`Client::bulk`](crate::Client::bulk) (a generated [`Entity`](crate::Entity) names the table)
//! or [`Client::bulk_untyped`](crate::Client::bulk_untyped) (names given at run time), pick an operation,
//! and [`send`](BulkWrite::send) it. Any number of records goes in, from an iterator or a stream;
//! a [`BulkReport`] comes out that accounts for every one of them by its input index.
//!
//! ```no_run
//! use dynamics_webapi::Client;
//! use serde_json::json;
//!
//! # async fn run(client: Client) -> dynamics_webapi::Result<()> {
//! let records = (0..10_000).map(|n| json!({ "name": format!("account {n}") }));
//! let report = client
//!     .bulk_untyped("accounts", "account")
//!     .create(records)
//!     .on_progress(|p| eprintln!("{} of the records done, {:.0}/s", p.done(), p.records_per_second()))
//!     .send()
//!     .await?;
//! for failure in report.failures() {
//!     eprintln!("record {} was not written: {}", failure.index(), failure.error());
//! }
//! # Ok(()) }
//! ```
//!
//! # The requests (as documented for the Web API)
//!
//! Each chunk is one bound action on the entity set, with the records in `Targets`, each stamped with its
//! `@odata.type` (Dataverse requires it on every target):
//!
//! ```text
//! POST [Organization URI]/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.CreateMultiple
//! Content-Type: application/json; charset=utf-8
//!
//! {"Targets":[{"name":"a","@odata.type":"Microsoft.Dynamics.CRM.account"}, …]}
//!
//! HTTP/1.1 200 OK
//! {"@odata.context":"…$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse","Ids":["…","…"]}
//! ```
//!
//! - `UpdateMultiple` carries the primary key column in each target (`"accountid":"…"`) and answers `204`.
//! - `UpsertMultiple` answers `204` (no ids). A record addressed by an alternate key names it in
//!   `@odata.id` as a relative URL (`"@odata.id":"accounts(accountnumber='A-1')"`); the key columns are
//!   not repeated in the body. A record addressed by its id carries the primary key column.
//! - `DeleteMultiple` takes targets with only the key (`@odata.type` and the primary key column, or
//!   `@odata.id`); Dataverse implements it for elastic tables only. When a table does not support a
//!   `…Multiple` message, the records are written one request each instead.
//!
//! # How chunks are sized, split and repeated
//!
//! - The chunk size starts at [`initial_chunk_size`](BulkWrite::initial_chunk_size) and doubles while
//!   full chunks finish within a quarter of the [`time_budget`](BulkWrite::time_budget), up to
//!   [`max_chunk_size`](BulkWrite::max_chunk_size); it shrinks when requests come close to the budget, and
//!   halves on a payload-size error (HTTP 413, or `0x80040216` "Message size exceeded …") or an
//!   execution-time error (SQL timeout `0x80044151`), never growing back to a size that failed (it closes half
//!   the gap instead, a binary search for the server's limit). While the size is still being found, one chunk
//!   is in flight at a time, so a probe that is too large costs one request.
//! - On standard tables a `…Multiple` request is one transaction: any error rolls the whole chunk back.
//!   A chunk refused that way is split in halves and the halves sent again, down to single records,
//!   which are then sent as single requests (`POST`, `PATCH`, `DELETE` on the record), so a bad record is
//!   reported with its index and reason while every other record is written.
//! - Chunks run in parallel up to the client's concurrency limit (which follows `x-ms-dop-hint`), through
//!   the client's transport: a `429` pauses every request of the client for its `Retry-After` and the
//!   refused chunk is sent again after the pause.
//! - Nothing is written twice: a chunk is sent again only when the server refused it as a whole (a `429`,
//!   or an error answer, which rolls the transaction back) or when the operation is an upsert (idempotent).
//!   A create, update or delete chunk that got no answer (timeout, broken connection) is not repeated:
//!   its records are reported as failed with [`RecordFailure::is_outcome_unknown`].
//! - A chunk still refused with `429` once the client's [`RetryPolicy`](crate::RetryPolicy) gives up is not written:
//!   its records are reported failed ([`Error::is_throttled`](crate::Error::is_throttled)), with a known outcome,
//!   and can be sent again later.
//! - Elastic tables do not roll back: a failed chunk may be partly written. Every bulk request asks for the
//!   per-record statuses (`Prefer: odata.include-annotations="Microsoft.PowerApps.CDS.ErrorDetails.*"`), and a
//!   failed chunk whose error lists them (`RequestIndex`, `Id`, `StatusCode`) is settled record by record and never
//!   sent again. An elastic table's error without that list would be treated as a rollback, so prefer upserts
//!   (idempotent) for elastic tables.

mod chunk_size;
mod failure;
mod operation;
mod outcome;
mod single;
mod source;
mod table;
mod target;
mod writer;

pub use operation::BulkOperation;
pub use outcome::{BulkReport, Progress, RecordFailure, RecordOutcome};
pub use table::BulkTable;
pub use writer::BulkWrite;
