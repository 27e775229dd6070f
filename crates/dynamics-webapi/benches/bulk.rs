#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]
//! Bulk writes, measured two ways against a loopback mock of `CreateMultiple`:
//!
//! 1. Overhead: the client's bulk write against hand-written reqwest sending the same `CreateMultiple` requests
//!    (20,000 records in chunks of 500, 4 in flight) to the same server, written two ways (targets as
//!    `serde_json::Value`s stamped with `@odata.type`, and a typed target struct serialised straight into the
//!    body); prints the ratio client / reqwest over interleaved rounds (median and spread), besides criterion's
//!    own figures.
//! 2. Service protection: 200,000 records against a mock with Dataverse-style limits (a request budget per
//!    window, a concurrency limit, `Retry-After` to the end of the window, a penalty for requests sent while
//!    throttled, and a payload limit of 1,000 records per request), with the window scaled down to 1 second.
//!    Checks every record was written exactly once and prints the wall time against the least the budget
//!    allows: `(ceil(requests needed / budget) - 1)` windows plus one request's service time.
//!
//! Run with `cargo bench -p dynamics-webapi --bench bulk -- --warm-up-time 1 --measurement-time 5`.

// Only the accept loop (`serve_with`) is used here: this bench parses its `POST` requests itself.
#[expect(dead_code, reason = "the GET responder half of the loopback server is for the other benches")]
#[path = "support/loopback.rs"]
mod loopback;

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aad_auth::test_util::StaticTokenProvider;
use criterion::{Criterion, criterion_group, criterion_main};
use dynamics_webapi::{Client, RetryPolicy};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const OVERHEAD_RECORDS: usize = 20_000;
const OVERHEAD_CHUNK: usize = 500;
const CONCURRENCY: usize = 4;

const IMPORT_RECORDS: usize = 200_000;
const WINDOW: Duration = Duration::from_secs(1);
const BUDGET: usize = 25;
const MAX_RECORDS_PER_REQUEST: usize = 1000;
const PENALTY: Duration = Duration::from_millis(500);
const SERVICE_BASE: Duration = Duration::from_millis(4);
const SERVICE_PER_RECORD: Duration = Duration::from_micros(15);

#[derive(Serialize)]
struct Row {
    name: String,
    n: usize,
}

fn rows(count: usize) -> Vec<Row> {
    (0..count).map(|n| Row { name: format!("account {n}"), n }).collect()
}

// ---------------------------------------------------------------------------------------------------------
// The loopback server.

/// Dataverse-style service protection, scaled down.
struct Limits {
    window: Duration,
    budget: usize,
    max_concurrent: usize,
    penalty: Duration,
    max_records: usize,
}

#[derive(Default)]
struct Gate {
    window: u64,
    used: usize,
    throttled_until: Option<Instant>,
}

struct Server {
    started: Instant,
    limits: Option<Limits>,
    gate: Mutex<Gate>,
    in_flight: AtomicUsize,
    writes: Vec<AtomicU32>,
    refused: AtomicUsize,
    penalised: AtomicUsize,
    too_large: AtomicUsize,
    accepted: AtomicUsize,
}

impl Server {
    fn new(records: usize, limits: Option<Limits>) -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            limits,
            gate: Mutex::new(Gate::default()),
            in_flight: AtomicUsize::new(0),
            writes: (0..records).map(|_| AtomicU32::new(0)).collect(),
            refused: AtomicUsize::new(0),
            penalised: AtomicUsize::new(0),
            too_large: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        })
    }

    /// `Some((status, body, retry after))` when the limits refuse the request.
    fn admit(&self, records: usize) -> Option<(u16, String, Option<Duration>)> {
        let limits = self.limits.as_ref()?;
        let now = Instant::now();
        let mut gate = self.gate.lock().unwrap();
        if let Some(until) = gate.throttled_until.filter(|until| *until > now) {
            // Sent while throttled: the penalty extends the pause.
            let until = until.max(now + limits.penalty);
            gate.throttled_until = Some(until);
            self.penalised.fetch_add(1, Ordering::Relaxed);
            return Some(throttled("0x80072322", until - now));
        }
        if self.in_flight.load(Ordering::SeqCst) > limits.max_concurrent {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Some(throttled("0x80072326", Duration::from_millis(50)));
        }
        let elapsed = now - self.started;
        let window = (elapsed.as_nanos() / limits.window.as_nanos()) as u64;
        if window != gate.window {
            gate.window = window;
            gate.used = 0;
        }
        if gate.used >= limits.budget {
            let end = self.started + limits.window * (window as u32 + 1);
            gate.throttled_until = Some(end);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Some(throttled("0x80072322", end - now));
        }
        gate.used += 1;
        if records > limits.max_records {
            self.too_large.fetch_add(1, Ordering::Relaxed);
            let body =
                r#"{"error":{"code":"0x80040216","message":"Message size exceeded when sending context to Sandbox."}}"#;
            return Some((400, body.to_owned(), None));
        }
        None
    }

    async fn handle(&self, body: &[u8]) -> (u16, String, Option<Duration>) {
        let parsed: Value = serde_json::from_slice(body).expect("a JSON body");
        let targets = parsed["Targets"].as_array().expect("Targets");
        if let Some(refusal) = self.admit(targets.len()) {
            return refusal;
        }
        if self.limits.is_some() {
            tokio::time::sleep(SERVICE_BASE + SERVICE_PER_RECORD * targets.len() as u32).await;
        }
        let mut ids = Vec::with_capacity(targets.len());
        for target in targets {
            assert_eq!(target["@odata.type"], "Microsoft.Dynamics.CRM.account");
            let n = target["n"].as_u64().expect("n") as usize;
            self.writes[n].fetch_add(1, Ordering::Relaxed);
            ids.push(Uuid::from_u128(n as u128 + 1).to_string());
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        (200, json!({ "Ids": ids }).to_string(), None)
    }

    fn reset(&self) {
        for count in &self.writes {
            count.store(0, Ordering::Relaxed);
        }
    }
}

fn throttled(code: &str, wait: Duration) -> (u16, String, Option<Duration>) {
    let body = format!(r#"{{"error":{{"code":"{code}","message":"Number of requests exceeded the limit."}}}}"#);
    (429, body, Some(wait))
}

/// Starts the server on its own thread and runtime; returns its base URL.
fn start(server: Arc<Server>) -> String {
    loopback::serve_with(move |socket| serve(socket, Arc::clone(&server)))
}

async fn serve(mut socket: tokio::net::TcpStream, server: Arc<Server>) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0_u8; 64 * 1024];
    loop {
        let end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let read = socket.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map(|value| value.trim().parse().expect("a content length"))
            .unwrap_or(0);
        buffer.drain(..end);
        while buffer.len() < length {
            let read = socket.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        }
        let body: Vec<u8> = buffer.drain(..length).collect();
        server.in_flight.fetch_add(1, Ordering::SeqCst);
        let (status, answer, retry_after) = server.handle(&body).await;
        let reason = match status {
            200 => "OK",
            429 => "Too Many Requests",
            _ => "Bad Request",
        };
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json; odata.metadata=minimal\r\nodata-version: 4.0\r\nx-ms-dop-hint: {CONCURRENCY}\r\ncontent-length: {}\r\n",
            answer.len()
        );
        if let Some(wait) = retry_after {
            // Rounded up to the millisecond, so a client that waits it out arrives after the pause.
            head.push_str(&format!("retry-after: {:.3}\r\n", wait.as_secs_f64() + 0.0005));
        }
        head.push_str("\r\n");
        socket.write_all(head.as_bytes()).await?;
        socket.write_all(answer.as_bytes()).await?;
        server.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------------------
// The two clients.

fn client(base: &str, retry: RetryPolicy) -> Client {
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(aad_auth::SystemClock)));
    Client::builder(base, tokens).max_concurrency(CONCURRENCY).retry_policy(retry).build().expect("client")
}

async fn with_client(client: &Client, rows: &[Row]) -> usize {
    let report = client
        .bulk_untyped("accounts", "account")
        .create(rows)
        .initial_chunk_size(OVERHEAD_CHUNK)
        .max_chunk_size(OVERHEAD_CHUNK)
        .send()
        .await
        .expect("a report");
    assert!(report.is_complete());
    black_box(report.ids().count())
}

#[derive(Deserialize)]
struct Ids {
    #[serde(rename = "Ids")]
    ids: Vec<Uuid>,
}

/// What one would write by hand with reqwest: each chunk's targets stamped with `@odata.type`, `CreateMultiple`,
/// the ids read back; `CONCURRENCY` chunks in flight.
async fn with_reqwest(http: &reqwest::Client, url: &str, rows: &[Row]) -> usize {
    futures_util::stream::iter(rows.chunks(OVERHEAD_CHUNK))
        .map(|chunk| async move {
            let targets: Vec<Value> = chunk
                .iter()
                .map(|row| {
                    let mut target = serde_json::to_value(row).expect("a record");
                    target["@odata.type"] = Value::from("Microsoft.Dynamics.CRM.account");
                    target
                })
                .collect();
            let body = serde_json::to_vec(&json!({ "Targets": targets })).expect("a body");
            let response = http
                .post(url)
                .header("OData-MaxVersion", "4.0")
                .header("OData-Version", "4.0")
                .header("Accept", "application/json")
                .header("Content-Type", "application/json; charset=utf-8")
                .bearer_auth("token-1")
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert!(response.status().is_success());
            let ids: Ids = serde_json::from_slice(&response.bytes().await.expect("a body")).expect("ids");
            ids.ids.len()
        })
        .buffer_unordered(CONCURRENCY)
        .fold(0, |total, n| async move { total + n })
        .await
}

#[derive(Serialize)]
struct Stamped<'a> {
    name: &'a str,
    n: usize,
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
}

#[derive(Serialize)]
struct Targets<'a> {
    #[serde(rename = "Targets")]
    targets: Vec<Stamped<'a>>,
}

/// The leanest hand-written version: a struct that knows its columns and its `@odata.type`, serialised
/// straight into the body.
async fn with_reqwest_typed(http: &reqwest::Client, url: &str, rows: &[Row]) -> usize {
    futures_util::stream::iter(rows.chunks(OVERHEAD_CHUNK))
        .map(|chunk| async move {
            let targets = chunk
                .iter()
                .map(|row| Stamped { name: &row.name, n: row.n, odata_type: "Microsoft.Dynamics.CRM.account" })
                .collect();
            let body = serde_json::to_vec(&Targets { targets }).expect("a body");
            let response = http
                .post(url)
                .header("OData-MaxVersion", "4.0")
                .header("OData-Version", "4.0")
                .header("Accept", "application/json")
                .header("Content-Type", "application/json; charset=utf-8")
                .bearer_auth("token-1")
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert!(response.status().is_success());
            let ids: Ids = serde_json::from_slice(&response.bytes().await.expect("a body")).expect("ids");
            ids.ids.len()
        })
        .buffer_unordered(CONCURRENCY)
        .fold(0, |total, n| async move { total + n })
        .await
}

/// Which side of the comparison runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Client,
    Reqwest,
    ReqwestTyped,
}

struct Overhead {
    client: Client,
    http: reqwest::Client,
    url: String,
    rows: Vec<Row>,
}

async fn overhead_round(setup: &Overhead, side: Side) -> Duration {
    let started = Instant::now();
    let written = match side {
        Side::Client => with_client(&setup.client, &setup.rows).await,
        Side::Reqwest => with_reqwest(&setup.http, &setup.url, &setup.rows).await,
        Side::ReqwestTyped => with_reqwest_typed(&setup.http, &setup.url, &setup.rows).await,
    };
    assert_eq!(written, OVERHEAD_RECORDS);
    started.elapsed()
}

fn report_overhead(runtime: &tokio::runtime::Runtime, setup: &Overhead, baseline: Side) {
    let rounds = 15;
    let mut ratios: Vec<f64> = runtime.block_on(async {
        overhead_round(setup, baseline).await;
        overhead_round(setup, Side::Client).await;
        let mut ratios = Vec::new();
        for index in 0..rounds {
            // Alternate which goes first, so neither always gets the warmer machine.
            let (theirs, ours) = if index % 2 == 0 {
                let theirs = overhead_round(setup, baseline).await;
                (theirs, overhead_round(setup, Side::Client).await)
            } else {
                let ours = overhead_round(setup, Side::Client).await;
                (overhead_round(setup, baseline).await, ours)
            };
            ratios.push(ours.as_secs_f64() / theirs.as_secs_f64());
        }
        ratios
    });
    ratios.sort_by(f64::total_cmp);
    let against = match baseline {
        Side::ReqwestTyped => "reqwest with a typed target struct",
        _ => "reqwest with serde_json::Value targets",
    };
    eprintln!(
        "bulk create_multiple overhead: client / {against}: median {:.3} (min {:.3}, max {:.3}; {rounds} rounds of {OVERHEAD_RECORDS} records, chunks of {OVERHEAD_CHUNK}, {CONCURRENCY} in flight)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
    );
}

/// The 200,000-record import through the service-protection mock; prints the figures and checks exactly-once.
fn report_import(runtime: &tokio::runtime::Runtime) {
    let limits = Limits {
        window: WINDOW,
        budget: BUDGET,
        max_concurrent: CONCURRENCY,
        penalty: PENALTY,
        max_records: MAX_RECORDS_PER_REQUEST,
    };
    let server = Server::new(IMPORT_RECORDS, Some(limits));
    let base = start(Arc::clone(&server));
    let retry = RetryPolicy::default().max_attempts(1000).max_elapsed(Duration::from_secs(600));
    let client = client(&base, retry);
    let started = Instant::now();
    let report = runtime.block_on(async {
        client
            .bulk_untyped("accounts", "account")
            .create((0..IMPORT_RECORDS).map(|n| Row { name: format!("account {n}"), n }))
            .max_chunk_size(2000)
            .send()
            .await
            .expect("a report")
    });
    let wall = started.elapsed();
    assert!(report.is_complete(), "{:?}", report.failures().next());
    let twice = server.writes.iter().filter(|count| count.load(Ordering::Relaxed) != 1).count();
    assert_eq!(twice, 0, "every record written exactly once");
    let needed = IMPORT_RECORDS.div_ceil(MAX_RECORDS_PER_REQUEST);
    let one_request = SERVICE_BASE + SERVICE_PER_RECORD * MAX_RECORDS_PER_REQUEST as u32;
    let least = WINDOW * (needed.div_ceil(BUDGET) as u32 - 1) + one_request;
    eprintln!(
        "bulk import of {IMPORT_RECORDS} records under service protection ({BUDGET} requests per {WINDOW:?}, {CONCURRENCY} concurrent, {MAX_RECORDS_PER_REQUEST} records per request at most): \
         wall {:.2}s, least the budget allows {:.2}s, ratio {:.3}; every record written exactly once; \
         {} requests accepted ({} needed at least), {} refused by the budget, {} penalised, {} too large",
        wall.as_secs_f64(),
        least.as_secs_f64(),
        wall.as_secs_f64() / least.as_secs_f64(),
        server.accepted.load(Ordering::Relaxed),
        needed,
        server.refused.load(Ordering::Relaxed),
        server.penalised.load(Ordering::Relaxed),
        server.too_large.load(Ordering::Relaxed),
    );
}

fn bulk(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let server = Server::new(OVERHEAD_RECORDS, None);
    let base = start(Arc::clone(&server));
    let setup = Overhead {
        client: client(&base, RetryPolicy::default()),
        http: reqwest::Client::new(),
        url: format!("{base}/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.CreateMultiple"),
        rows: rows(OVERHEAD_RECORDS),
    };
    report_overhead(&runtime, &setup, Side::Reqwest);
    report_overhead(&runtime, &setup, Side::ReqwestTyped);
    server.reset();
    report_import(&runtime);

    let mut group = c.benchmark_group("create_multiple_20k");
    group.sample_size(10);
    for (name, side) in
        [("reqwest_value", Side::Reqwest), ("reqwest_typed", Side::ReqwestTyped), ("dynamics_webapi", Side::Client)]
    {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        total += overhead_round(&setup, side).await;
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bulk);
criterion_main!(benches);
