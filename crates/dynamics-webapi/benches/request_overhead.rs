#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]
//! Per-request overhead of the library against hand-written reqwest doing the same requests (same headers, same
//! parsing) on the testkit's TLS loopback server, on the same HTTP version and at the same concurrency, in
//! interleaved rounds; prints the ratio library / reqwest (median, min, max) and how HTTP/2 was negotiated.
//!
//! Scenarios (each `/h1` and `/h2`): `retrieve_1`, `retrieve_32` (a `GET` by id, 1 and 32 in flight),
//! `create_1`, `create_8` (single creates), `batch_100` (a `$batch` of 100 creates), `create_multiple_100`
//! (a `CreateMultiple` of 100 records).
//!
//! Run with `cargo bench -p dynamics-webapi --bench request_overhead -- [filter] [--rounds N]`.

#[path = "support/harness.rs"]
mod harness;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynamics_testkit::loopback::LoopbackServer;
use dynamics_webapi::Client;
use dynamics_webapi::batch::{BatchRequest, Operation};
use futures_util::StreamExt;
use harness::{Args, Version, odata};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const ID: Uuid = Uuid::from_u128(0x7eb6_82f1_ca75_e511_80d4_0015_5d2a_68d1);

#[derive(Deserialize)]
struct Row {
    #[serde(rename = "@odata.etag")]
    _etag: String,
    accountid: Uuid,
    name: String,
}

#[derive(Serialize, Clone)]
struct NewAccount {
    name: String,
    n: usize,
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

#[derive(Deserialize)]
struct Ids {
    #[serde(rename = "Ids")]
    ids: Vec<Uuid>,
}

struct Setup {
    server: LoopbackServer,
    client: Client,
    http: reqwest::Client,
    service_root: String,
    rows: Vec<NewAccount>,
}

/// What one request of a scenario is.
#[derive(Clone, Copy, Debug)]
enum Work {
    Retrieve,
    Create,
    Batch100,
    CreateMultiple100,
}

async fn library(setup: &Setup, work: Work) {
    match work {
        Work::Retrieve => {
            let row: Row = setup.client.entity_set("accounts").retrieve(ID).send().await.expect("a record");
            assert_eq!(row.accountid, ID);
            black_box(row.name);
        }
        Work::Create => {
            let id = setup.client.entity_set("accounts").create(&setup.rows[0]).send().await.expect("a create");
            black_box(id);
        }
        Work::Batch100 => {
            let operations = setup.rows[..100].iter().map(|row| Operation::post("accounts", row));
            let batch = BatchRequest::builder().operations(operations).build().expect("a batch");
            let response = setup.client.batch(&batch).await.expect("a batch answer");
            assert_eq!(response.outcomes().iter().filter(|outcome| outcome.is_success()).count(), 100);
        }
        Work::CreateMultiple100 => {
            let report = setup
                .client
                .bulk_untyped("accounts", "account")
                .create(&setup.rows[..100])
                .initial_chunk_size(100)
                .max_chunk_size(100)
                .send()
                .await
                .expect("a report");
            assert!(report.is_complete());
            black_box(report.ids().count());
        }
    }
}

async fn hand_written(setup: &Setup, work: Work) {
    let root = &setup.service_root;
    match work {
        Work::Retrieve => {
            let response = odata(setup.http.get(format!("{root}accounts({ID})"))).send().await.expect("an answer");
            assert!(response.status().is_success());
            let row: Row = serde_json::from_slice(&response.bytes().await.expect("a body")).expect("a record");
            assert_eq!(row.accountid, ID);
            black_box(row.name);
        }
        Work::Create => {
            let body = serde_json::to_vec(&setup.rows[0]).expect("a body");
            let response = odata(setup.http.post(format!("{root}accounts")))
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), 204);
            let location = response.headers()["odata-entityid"].to_str().expect("text");
            let id = location.rsplit_once('(').and_then(|(_, id)| Uuid::parse_str(id.trim_end_matches(')')).ok());
            black_box(id.expect("an id"));
        }
        Work::Batch100 => {
            let boundary = format!("batch_{}", Uuid::new_v4());
            let mut body = Vec::with_capacity(100 * 200);
            for row in &setup.rows[..100] {
                body.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
                         POST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"
                    )
                    .as_bytes(),
                );
                serde_json::to_writer(&mut body, row).expect("a row");
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            let response = odata(setup.http.post(format!("{root}$batch")))
                .header("Content-Type", format!("multipart/mixed; boundary={boundary}"))
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert!(response.status().is_success());
            let text = response.text().await.expect("a body");
            assert_eq!(text.matches("HTTP/1.1 204").count(), 100);
        }
        Work::CreateMultiple100 => {
            let targets = setup.rows[..100]
                .iter()
                .map(|row| Stamped { name: &row.name, n: row.n, odata_type: "Microsoft.Dynamics.CRM.account" })
                .collect();
            let body = serde_json::to_vec(&Targets { targets }).expect("a body");
            let response = odata(setup.http.post(format!("{root}accounts/Microsoft.Dynamics.CRM.CreateMultiple")))
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert!(response.status().is_success());
            let ids: Ids = serde_json::from_slice(&response.bytes().await.expect("a body")).expect("ids");
            assert_eq!(ids.ids.len(), 100);
        }
    }
}

/// `per_task` requests on each of `concurrency` tasks.
async fn round(setup: &Arc<Setup>, work: Work, concurrency: usize, per_task: usize, ours: bool) -> Duration {
    let started = Instant::now();
    futures_util::stream::iter(0..concurrency)
        .for_each_concurrent(None, |_| async move {
            for _ in 0..per_task {
                if ours { library(setup, work).await } else { hand_written(setup, work).await }
            }
        })
        .await;
    started.elapsed()
}

fn scenario(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    work: Work,
    concurrency: usize,
    per_task: usize,
) {
    for version in Version::ALL {
        let scenario = format!("{name}/{}", version.tag());
        if !args.wants(&scenario) {
            continue;
        }
        let server = harness::tls_server(|builder| builder);
        let client = harness::library_client(&server, version, |builder| builder.max_concurrency(concurrency.max(1)));
        let http = harness::reqwest_client(&server, version);
        let service_root = format!("{}/api/data/v9.2/", server.url());
        let rows = (0..100).map(|n| NewAccount { name: format!("account {n}"), n }).collect();
        let setup = Arc::new(Setup { server, client, http, service_root, rows });
        let rounds = args.rounds(11);
        let times = runtime.block_on(async {
            // Warm both up (connections, token cache).
            round(&setup, work, concurrency, per_task, false).await;
            round(&setup, work, concurrency, per_task, true).await;
            harness::interleave(2, rounds, async |side| {
                Some(round(&setup, work, concurrency, per_task, side == 0).await)
            })
            .await
        });
        let requests = concurrency * per_task;
        harness::report(
            &format!("{scenario} ({requests} requests per round, {concurrency} in flight)"),
            &["library", "hand-written reqwest"],
            &times,
            setup.server.http_versions(),
        );
    }
}

fn main() {
    let args = Args::parse();
    let runtime = harness::runtime();
    scenario(&args, &runtime, "retrieve_1", Work::Retrieve, 1, 500);
    scenario(&args, &runtime, "retrieve_32", Work::Retrieve, 32, 20);
    scenario(&args, &runtime, "create_1", Work::Create, 1, 500);
    scenario(&args, &runtime, "create_8", Work::Create, 8, 100);
    scenario(&args, &runtime, "batch_100", Work::Batch100, 1, 10);
    scenario(&args, &runtime, "create_multiple_100", Work::CreateMultiple100, 1, 20);
}
