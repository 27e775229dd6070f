//! [`BulkWrite`]: cutting the input into chunks, sending them in parallel, and splitting the ones refused
//! until every record is written or has its own error.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{self, Either};
use futures_util::stream::{FuturesUnordered, StreamExt};
use http::{HeaderValue, Method};
use serde::Deserialize;
use uuid::Uuid;

use super::chunk_size::AdaptiveChunkSize;
use super::failure::{ChunkFailure, PREFER_ERROR_DETAILS, classify, partial_statuses, suggests_smaller_chunks};
use super::operation::BulkOperation;
use super::outcome::{BulkReport, Progress, RecordFailure, RecordOutcome};
use super::single::send_single;
use super::source::{Pulled, RecordSource};
use super::target::{BODY_END, BODY_START, TableNames, Target, chunk_body};
use crate::client::Client;
use crate::entity_set::{PREFER, check_identifier};
use crate::error::{Error, Result};
use crate::options::RequestOptions;
use crate::response::decode_json;
use crate::transport::ApiRequest;

/// The records of a bulk write, built lazily into the body of the chunk being cut.
pub(crate) type Input<'a> = Box<dyn RecordSource + 'a>;

type ProgressFn<'a> = Box<dyn Fn(&Progress) + Send + Sync + 'a>;

const DEFAULT_INITIAL_CHUNK: usize = 100;
const DEFAULT_MAX_CHUNK: usize = 1000;
const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(20);

/// A bulk write, finished by [`send`](Self::send). Made by the operations of [`BulkTable`](super::BulkTable).
///
/// ```no_run
/// use std::time::Duration;
/// use dynamics_webapi::{Client, RequestOptions};
///
/// # async fn run(client: Client, rows: Vec<serde_json::Value>) -> dynamics_webapi::Result<()> {
/// let report = client
///     .bulk_untyped("contacts", "contact")
///     .create(&rows)
///     .initial_chunk_size(200)
///     .max_chunk_size(1000)
///     .time_budget(Duration::from_secs(30))
///     .options(RequestOptions::new().bypass_custom_plugins(true))
///     .send()
///     .await?;
/// println!("{} written in {} requests", report.written(), report.requests());
/// # Ok(()) }
/// ```
#[must_use = "a bulk write does nothing until it is sent"]
pub struct BulkWrite<'a> {
    client: Client,
    names: Arc<TableNames>,
    operation: BulkOperation,
    input: Input<'a>,
    initial_chunk: usize,
    max_chunk: usize,
    budget: Duration,
    max_in_flight: Option<usize>,
    options: Option<RequestOptions>,
    progress: Option<ProgressFn<'a>>,
}

impl<'a> BulkWrite<'a> {
    pub(crate) fn new(client: Client, names: Arc<TableNames>, operation: BulkOperation, input: Input<'a>) -> Self {
        Self {
            client,
            names,
            operation,
            input,
            initial_chunk: DEFAULT_INITIAL_CHUNK,
            max_chunk: DEFAULT_MAX_CHUNK,
            budget: DEFAULT_TIME_BUDGET,
            max_in_flight: None,
            options: None,
            progress: None,
        }
    }

    /// The size of the first chunks (default 100 records).
    pub fn initial_chunk_size(mut self, records: usize) -> Self {
        self.initial_chunk = records.max(1);
        self
    }

    /// The largest chunk (default 1,000 records, where Dataverse's guidance starts).
    pub fn max_chunk_size(mut self, records: usize) -> Self {
        self.max_chunk = records.max(1);
        self
    }

    /// The time one request should take at most (default 20 seconds; Dataverse stops a request at 2 minutes).
    /// Chunks grow while they finish within a quarter of it and shrink when they come close.
    pub fn time_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The most chunks in flight at once (default: the client's concurrency limit, which follows `x-ms-dop-hint`).
    pub fn max_in_flight(mut self, chunks: usize) -> Self {
        self.max_in_flight = Some(chunks.max(1));
        self
    }

    /// Options sent with every request of the write, such as [`RequestOptions::bypass_custom_plugins`].
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Called after each request with the records done so far and the rate.
    pub fn on_progress(mut self, progress: impl Fn(&Progress) + Send + Sync + 'a) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    /// The operation this write performs.
    pub fn operation(&self) -> BulkOperation {
        self.operation
    }

    /// Sends every record and reports what happened to each.
    ///
    /// A record that fails does not stop the others: its error is in the report, by index.
    ///
    /// # Errors
    /// [`Error::Config`] before anything is sent, when a table name is not a valid name.
    pub async fn send(self) -> Result<BulkReport> {
        check_identifier(&self.names.entity_set)?;
        check_identifier(&self.names.logical_name)?;
        check_identifier(&self.names.primary_id)?;
        let clock = Arc::clone(&self.client.inner.clock);
        let started = clock.now();
        let context = Arc::new(Context {
            client: self.client,
            names: self.names,
            operation: self.operation,
            options: self.options,
        });
        let mut state = State {
            outcomes: Vec::new(),
            pending: VecDeque::new(),
            sizing: AdaptiveChunkSize::new(self.initial_chunk, self.max_chunk, self.budget),
            single_only: false,
            written: 0,
            failed: 0,
        };
        let mut input = self.input;
        let mut input_done = false;
        let mut requests = 0;
        let mut in_flight = FuturesUnordered::new();
        let progress = |state: &State| {
            if let Some(progress) = &self.progress {
                progress(&Progress {
                    written: state.written,
                    failed: state.failed,
                    elapsed: clock.now().duration_since(started).unwrap_or_default(),
                    chunk_size: state.sizing.current(),
                });
            }
        };
        loop {
            let limit = if state.sizing.is_growing() && !state.single_only {
                // Probe the size with one chunk at a time; fan out once it has settled.
                1
            } else {
                self.max_in_flight.unwrap_or_else(|| context.client.inner.pacer.state().in_flight_limit()).max(1)
            };
            while in_flight.len() < limit {
                let chunk = match state.pending.pop_front() {
                    Some(chunk) => chunk,
                    None if input_done => break,
                    None => {
                        let size = if state.single_only { 1 } else { state.sizing.current() };
                        let cutting = cut(&mut input, size);
                        let mut cutting = std::pin::pin!(cutting);
                        // The chunks in flight are read while the input is slow to give records: a request whose
                        // answer is left unread would time out, and its records be reported as unknown.
                        let (chunk, ended, unbuilt) = loop {
                            match future::select(cutting.as_mut(), in_flight.next()).await {
                                Either::Left((cut, _)) => break cut,
                                Either::Right((Some((chunk, sent, elapsed)), _)) => {
                                    state.settle(context.operation, chunk, sent, elapsed);
                                    progress(&state);
                                }
                                Either::Right((None, _)) => break cutting.as_mut().await,
                            }
                        };
                        input_done = ended;
                        for (index, error) in unbuilt {
                            state.fail(index, error, false);
                        }
                        match chunk {
                            // An answer read meanwhile may have turned the write to single requests.
                            Some(chunk) if state.single_only => {
                                for target in chunk.targets.into_iter().rev() {
                                    state.pending.push_front(Chunk { targets: vec![target], body: None, single: true });
                                }
                                continue;
                            }
                            Some(chunk) => chunk,
                            None => continue,
                        }
                    }
                };
                requests += 1;
                in_flight.push(run(Arc::clone(&context), chunk));
            }
            let Some((chunk, sent, elapsed)) = in_flight.next().await else {
                break;
            };
            state.settle(context.operation, chunk, sent, elapsed);
            progress(&state);
        }
        let outcomes = state
            .outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.unwrap_or_else(|| {
                    RecordOutcome::Failed(RecordFailure {
                        index,
                        error: Error::decode("the bulk write recorded no outcome for this record", None),
                        outcome_unknown: true,
                    })
                })
            })
            .collect();
        Ok(BulkReport { outcomes, requests, elapsed: clock.now().duration_since(started).unwrap_or_default() })
    }
}

impl fmt::Debug for BulkWrite<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkWrite")
            .field("entity_set", &self.names.entity_set)
            .field("operation", &self.operation)
            .field("initial_chunk", &self.initial_chunk)
            .field("max_chunk", &self.max_chunk)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// What every request of one write shares.
struct Context {
    client: Client,
    names: Arc<TableNames>,
    operation: BulkOperation,
    options: Option<RequestOptions>,
}

/// Records sent together: as one `…Multiple` request, or (`single`) one record as its single request.
struct Chunk {
    targets: Vec<Target>,
    /// The whole `{"Targets":[…]}` body, for a chunk cut from the input (the targets are slices of it);
    /// `None` for the halves of a split, whose bodies are built from their targets.
    body: Option<Bytes>,
    single: bool,
}

/// Cuts the next chunk of up to `size` records from the input, serialising them straight into its body.
/// Returns the chunk (none when every record pulled failed to build, or the input was empty), whether the
/// input has ended, and the records that could not be built, by index.
async fn cut(input: &mut Input<'_>, size: usize) -> (Option<Chunk>, bool, Vec<(usize, Error)>) {
    let mut body = Vec::with_capacity(size.min(4096) * 128);
    body.extend_from_slice(BODY_START);
    let mut pulled: Vec<(usize, std::ops::Range<usize>, Option<crate::key::RecordKey>)> =
        Vec::with_capacity(size.min(4096));
    let mut ended = false;
    let mut unbuilt = Vec::new();
    while pulled.len() < size {
        let before = body.len();
        if !pulled.is_empty() {
            body.push(b',');
        }
        let start = body.len();
        match std::future::poll_fn(|cx| input.poll_next_into(cx, &mut body)).await {
            Some(Pulled::Written { index, key }) => pulled.push((index, start..body.len(), key)),
            Some(Pulled::Failed { index, error }) => {
                body.truncate(before);
                unbuilt.push((index, error));
            }
            None => {
                body.truncate(before);
                ended = true;
                break;
            }
        }
    }
    if pulled.is_empty() {
        return (None, ended, unbuilt);
    }
    body.extend_from_slice(BODY_END);
    let body = Bytes::from(body);
    let targets =
        pulled.into_iter().map(|(index, range, key)| Target { index, json: body.slice(range), key }).collect();
    (Some(Chunk { targets, body: Some(body), single: false }), ended, unbuilt)
}

enum Sent {
    Bulk(Result<Vec<Option<Uuid>>>),
    Single(Result<Option<Uuid>>),
}

/// The bookkeeping of a write in progress.
struct State {
    outcomes: Vec<Option<RecordOutcome>>,
    pending: VecDeque<Chunk>,
    sizing: AdaptiveChunkSize,
    single_only: bool,
    written: usize,
    failed: usize,
}

impl State {
    fn record(&mut self, index: usize, outcome: RecordOutcome) {
        if self.outcomes.len() <= index {
            self.outcomes.resize_with(index + 1, || None);
        }
        if outcome.is_written() {
            self.written += 1;
        } else {
            self.failed += 1;
        }
        self.outcomes[index] = Some(outcome);
    }

    fn fail(&mut self, index: usize, error: Error, outcome_unknown: bool) {
        self.record(index, RecordOutcome::Failed(RecordFailure { index, error, outcome_unknown }));
    }

    fn settle(&mut self, operation: BulkOperation, chunk: Chunk, sent: Sent, elapsed: Duration) {
        match sent {
            Sent::Single(Ok(id)) => {
                let target = &chunk.targets[0];
                let id = id.or_else(|| target.id());
                self.record(target.index, RecordOutcome::Written { id });
            }
            Sent::Single(Err(error)) => {
                let unknown = classify(&error) == ChunkFailure::Unknown;
                for target in &chunk.targets {
                    self.fail(target.index, error.clone(), unknown);
                }
            }
            Sent::Bulk(Ok(ids)) => {
                self.sizing.succeeded(chunk.targets.len(), elapsed);
                for (target, id) in chunk.targets.iter().zip(ids) {
                    self.record(target.index, RecordOutcome::Written { id });
                }
            }
            Sent::Bulk(Err(error)) if partial_statuses(&error).is_some() => {
                // An elastic table wrote part of the chunk: take each record's status; nothing is sent again.
                let statuses = partial_statuses(&error).unwrap_or_default();
                for (position, target) in chunk.targets.iter().enumerate() {
                    match statuses.iter().find(|status| status.position == position) {
                        Some(status) if status.written => {
                            let id = status.id.or_else(|| target.id());
                            self.record(target.index, RecordOutcome::Written { id });
                        }
                        Some(_) => self.fail(target.index, error.clone(), false),
                        None => self.fail(target.index, error.clone(), true),
                    }
                }
            }
            Sent::Bulk(Err(error)) => {
                let records = chunk.targets.len();
                match classify(&error) {
                    ChunkFailure::TooLarge => {
                        tracing::debug!(records, operation = operation.action(), "chunk too large; splitting");
                        self.sizing.too_large(records);
                        self.split(chunk.targets);
                    }
                    ChunkFailure::Rejected => {
                        tracing::debug!(records, %error, "chunk refused; splitting to find the record");
                        self.split(chunk.targets);
                    }
                    ChunkFailure::Unsupported => {
                        tracing::debug!(%error, "the table does not support the message; sending single requests");
                        self.single_only = true;
                        for target in chunk.targets.into_iter().rev() {
                            self.pending.push_front(Chunk { targets: vec![target], body: None, single: true });
                        }
                    }
                    ChunkFailure::Fatal => {
                        for target in &chunk.targets {
                            self.fail(target.index, error.clone(), false);
                        }
                    }
                    ChunkFailure::Unknown => {
                        if suggests_smaller_chunks(&error) {
                            self.sizing.too_large(records);
                        }
                        for target in &chunk.targets {
                            self.fail(target.index, error.clone(), true);
                        }
                    }
                }
            }
        }
    }

    /// Sends the records again in two halves, first; a single record goes as its single request.
    fn split(&mut self, mut targets: Vec<Target>) {
        if targets.len() <= 1 {
            self.pending.push_front(Chunk { targets, body: None, single: true });
            return;
        }
        let second = targets.split_off(targets.len() / 2);
        self.pending.push_front(Chunk { targets: second, body: None, single: false });
        self.pending.push_front(Chunk { targets, body: None, single: false });
    }
}

async fn run(context: Arc<Context>, chunk: Chunk) -> (Chunk, Sent, Duration) {
    let clock = &context.client.inner.clock;
    let started = clock.now();
    let sent = if chunk.single {
        let target = &chunk.targets[0];
        Sent::Single(
            send_single(&context.client, &context.names, context.operation, target, context.options.as_ref()).await,
        )
    } else {
        Sent::Bulk(send_chunk(&context, &chunk).await)
    };
    let elapsed = clock.now().duration_since(started).unwrap_or_default();
    (chunk, sent, elapsed)
}

#[derive(Deserialize)]
struct CreateMultipleResponse {
    #[serde(rename = "Ids")]
    ids: Vec<Uuid>,
}

/// One `POST <set>/Microsoft.Dynamics.CRM.<action>` with the chunk's `Targets`.
async fn send_chunk(context: &Context, chunk: &Chunk) -> Result<Vec<Option<Uuid>>> {
    let targets = &chunk.targets;
    let path = format!("{}/Microsoft.Dynamics.CRM.{}", context.names.entity_set, context.operation.action());
    let body = chunk.body.clone().unwrap_or_else(|| Bytes::from(chunk_body(targets)));
    let request = ApiRequest::new(Method::POST, path)
        .raw_body(body, HeaderValue::from_static("application/json; charset=utf-8"))
        .header(PREFER, PREFER_ERROR_DETAILS)?
        .repeat(context.operation.repeat())
        .options(context.options.clone())
        .shrinks_on_timeout();
    let response = context.client.execute(request).await?;
    if context.operation != BulkOperation::Create {
        return Ok(targets.iter().map(Target::id).collect());
    }
    let answer: CreateMultipleResponse = decode_json(&response)?;
    if answer.ids.len() != targets.len() {
        return Err(Error::decode(
            format!("CreateMultiple answered {} ids for {} records", answer.ids.len(), targets.len()),
            None,
        ));
    }
    Ok(answer.ids.into_iter().map(Some).collect())
}
