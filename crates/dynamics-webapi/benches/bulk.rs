#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]
//! Bulk writes on the testkit's TLS loopback server, under its service protection model.
//!
//! 1. `create_multiple_overhead/h1`, `/h2`: the library's bulk write against hand-written reqwest sending the same
//!    `CreateMultiple` requests (20,000 records in chunks of 500, 4 in flight), written two ways (targets as
//!    `serde_json::Value`s stamped with `@odata.type`, and a typed target struct serialised straight into the body);
//!    ratios over interleaved rounds (median, min, max).
//! 2. `import_200k/h1`, `/h2`: 200,000 records through `client.bulk_untyped(..).create(..)` against a budget scaled
//!    down from Dataverse's (25 requests per sliding second, 4 concurrent, 500 ms penalty for each request sent while
//!    throttled, 4 ms + 15 µs per record, at most 1,000 records per request). Checks every record was written exactly
//!    once (0 lost, 0 duplicated) and prints the wall time against the least the budget allows:
//!    `(ceil(requests needed / budget) - 1)` windows plus one request's service time.
//!
//! Run with `cargo bench -p dynamics-webapi --bench bulk -- [filter] [--rounds N]`.

#[path = "support/harness.rs"]
mod harness;

use std::hint::black_box;
use std::time::{Duration, Instant};

use dynamics_testkit::loopback::LoopbackServer;
use dynamics_testkit::service_protection::{Budget, ServiceProtection};
use dynamics_webapi::{Client, RetryPolicy};
use futures_util::StreamExt;
use harness::{Args, Version, odata};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
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

#[derive(Deserialize)]
struct Ids {
    #[serde(rename = "Ids")]
    ids: Vec<Uuid>,
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

/// Which side of the comparison runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Library,
    ReqwestValue,
    ReqwestTyped,
}

struct Overhead {
    client: Client,
    http: reqwest::Client,
    url: String,
    rows: Vec<Row>,
}

async fn with_library(client: &Client, rows: &[Row]) -> usize {
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

/// What one would write by hand with reqwest: each chunk's targets stamped with `@odata.type` (as
/// `serde_json::Value`s, or through a typed struct), `CreateMultiple`, the ids read back; `CONCURRENCY` in flight.
async fn with_reqwest(http: &reqwest::Client, url: &str, rows: &[Row], typed: bool) -> usize {
    futures_util::stream::iter(rows.chunks(OVERHEAD_CHUNK))
        .map(|chunk| async move {
            let body = if typed {
                let targets = chunk
                    .iter()
                    .map(|row| Stamped { name: &row.name, n: row.n, odata_type: "Microsoft.Dynamics.CRM.account" })
                    .collect();
                serde_json::to_vec(&Targets { targets }).expect("a body")
            } else {
                let targets: Vec<Value> = chunk
                    .iter()
                    .map(|row| {
                        let mut target = serde_json::to_value(row).expect("a record");
                        target["@odata.type"] = Value::from("Microsoft.Dynamics.CRM.account");
                        target
                    })
                    .collect();
                serde_json::to_vec(&json!({ "Targets": targets })).expect("a body")
            };
            let response = odata(http.post(url))
                .header("Content-Type", "application/json; charset=utf-8")
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

async fn overhead_round(setup: &Overhead, side: Side) -> Duration {
    let started = Instant::now();
    let written = match side {
        Side::Library => with_library(&setup.client, &setup.rows).await,
        Side::ReqwestValue => with_reqwest(&setup.http, &setup.url, &setup.rows, false).await,
        Side::ReqwestTyped => with_reqwest(&setup.http, &setup.url, &setup.rows, true).await,
    };
    assert_eq!(written, OVERHEAD_RECORDS);
    started.elapsed()
}

fn overhead(args: &Args, runtime: &tokio::runtime::Runtime, version: Version) {
    let scenario = format!("create_multiple_overhead/{}", version.tag());
    if !args.wants(&scenario) {
        return;
    }
    let server = harness::tls_server(|builder| builder);
    let setup = Overhead {
        client: harness::library_client(&server, version, |builder| builder.max_concurrency(CONCURRENCY)),
        http: harness::reqwest_client(&server, version),
        url: format!("{}/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.CreateMultiple", server.url()),
        rows: rows(OVERHEAD_RECORDS),
    };
    let sides = [Side::Library, Side::ReqwestValue, Side::ReqwestTyped];
    let rounds = args.rounds(9);
    let times = runtime.block_on(async {
        for side in sides {
            overhead_round(&setup, side).await;
        }
        harness::interleave(sides.len(), rounds, async |side| Some(overhead_round(&setup, sides[side]).await)).await
    });
    harness::report(
        &format!("{scenario} ({OVERHEAD_RECORDS} records in chunks of {OVERHEAD_CHUNK}, {CONCURRENCY} in flight)"),
        &["library", "reqwest with serde_json::Value targets", "reqwest with a typed target struct"],
        &times,
        server.http_versions(),
    );
}

fn import_budget() -> ServiceProtection {
    ServiceProtection::new(
        Budget::unlimited()
            .requests(BUDGET, WINDOW)
            .max_concurrent(CONCURRENCY)
            .concurrency_retry_after(Duration::from_millis(50))
            .penalty(PENALTY)
            .latency(SERVICE_BASE)
            .latency_per_record(SERVICE_PER_RECORD),
    )
}

/// The 200,000-record import under service protection; prints the figures and checks exactly-once.
fn import(args: &Args, runtime: &tokio::runtime::Runtime, version: Version) {
    let scenario = format!("import_200k/{}", version.tag());
    if !args.wants(&scenario) {
        return;
    }
    let server: LoopbackServer = harness::tls_server(|builder| {
        builder.protection(import_budget()).max_targets(MAX_RECORDS_PER_REQUEST).key_column("n").dop_hint(CONCURRENCY)
    });
    let retry = RetryPolicy::default().max_attempts(1000).max_elapsed(Duration::from_secs(600));
    let client =
        harness::library_client(&server, version, |builder| builder.max_concurrency(CONCURRENCY).retry_policy(retry));
    let needed = IMPORT_RECORDS.div_ceil(MAX_RECORDS_PER_REQUEST);
    let one_request = SERVICE_BASE + SERVICE_PER_RECORD * MAX_RECORDS_PER_REQUEST as u32;
    let least = WINDOW * (needed.div_ceil(BUDGET) as u32 - 1) + one_request;
    for round in 0..args.rounds(1) {
        server.set_protection(import_budget());
        server.clear_writes();
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
        let writes = server.writes();
        let lost = IMPORT_RECORDS - writes.distinct();
        assert_eq!((lost, writes.duplicated()), (0, 0), "every record written exactly once");
        let counters = server.protection().total();
        eprintln!(
            "[{scenario}] round {}: {IMPORT_RECORDS} records under service protection ({BUDGET} requests per sliding {WINDOW:?}, \
             {CONCURRENCY} concurrent, {PENALTY:?} penalty, {MAX_RECORDS_PER_REQUEST} records per request at most): \
             wall {:.2} s, least the budget allows {:.2} s, ratio {:.3}; 0 lost, 0 duplicated; \
             {} requests served ({needed} needed at least, {} by the client's count), refused: {} by the budget, {} while throttled, \
             {} for concurrency; at most {} refusals in one throttle; negotiated: {}",
            round + 1,
            wall.as_secs_f64(),
            least.as_secs_f64(),
            wall.as_secs_f64() / least.as_secs_f64(),
            counters.served,
            report.requests(),
            counters.refused_request_count + counters.refused_execution_time,
            counters.refused_while_throttled,
            counters.refused_concurrency,
            counters.max_refusals_per_throttle(),
            server.http_versions(),
        );
    }
}

fn main() {
    let args = Args::parse();
    let runtime = harness::runtime();
    for version in Version::ALL {
        overhead(&args, &runtime, version);
    }
    for version in Version::ALL {
        import(&args, &runtime, version);
    }
}
