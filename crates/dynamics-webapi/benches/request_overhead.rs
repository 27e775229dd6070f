#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]
//! Per-request overhead of the client against hand-written reqwest doing the same `GET` (same headers, same
//! parsing into the same struct) on the same loopback server, at concurrency 1 and 32.
//!
//! Besides criterion's own figures, it prints the ratio client / reqwest measured in interleaved rounds
//! (median, and the spread over the rounds), since client, server and harness share the machine's cores.
//!
//! Run with `cargo bench -p dynamics-webapi --bench request_overhead -- --warm-up-time 1 --measurement-time 3`.

#[path = "support/loopback.rs"]
mod loopback;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aad_auth::test_util::StaticTokenProvider;
use criterion::{Criterion, criterion_group, criterion_main};
use dynamics_webapi::Client;
use serde::Deserialize;
use uuid::Uuid;

const ID: Uuid = Uuid::from_u128(0x7eb6_82f1_ca75_e511_80d4_0015_5d2a_68d1);
const BODY: &str = r#"{"@odata.context":"http://127.0.0.1/api/data/v9.2/$metadata#accounts(name)/$entity","@odata.etag":"W/\"536530\"","accountid":"7eb682f1-ca75-e511-80d4-00155d2a68d1","name":"Contoso Pharmaceuticals"}"#;

#[derive(Deserialize)]
struct Row {
    #[serde(rename = "@odata.etag")]
    _etag: String,
    accountid: Uuid,
    name: String,
}

struct Setup {
    client: Client,
    http: reqwest::Client,
    url: String,
}

fn setup() -> Setup {
    let base = loopback::start(Arc::new(|_, body: &mut Vec<u8>| body.extend_from_slice(BODY.as_bytes())));
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(aad_auth::SystemClock)));
    let client = Client::builder(base.clone(), tokens).max_concurrency(64).build().expect("client");
    let url = format!("{base}/api/data/v9.2/accounts({ID})");
    Setup { client, http: reqwest::Client::new(), url }
}

async fn with_client(setup: &Setup) {
    let row: Row = setup.client.entity_set("accounts").retrieve(ID).send().await.expect("a record");
    assert_eq!(row.accountid, ID);
    black_box(row.name);
}

async fn with_reqwest(setup: &Setup) {
    let response = setup
        .http
        .get(&setup.url)
        .header("OData-MaxVersion", "4.0")
        .header("OData-Version", "4.0")
        .header("Accept", "application/json")
        .bearer_auth("token-1")
        .send()
        .await
        .expect("an answer");
    assert!(response.status().is_success());
    let bytes = response.bytes().await.expect("a body");
    let row: Row = serde_json::from_slice(&bytes).expect("a record");
    assert_eq!(row.accountid, ID);
    black_box(row.name);
}

/// Time for `per_task` requests on each of `concurrency` tasks.
async fn round(setup: &Arc<Setup>, concurrency: usize, per_task: usize, ours: bool) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let setup = Arc::clone(setup);
            tokio::spawn(async move {
                for _ in 0..per_task {
                    if ours { with_client(&setup).await } else { with_reqwest(&setup).await }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task");
    }
    started.elapsed()
}

/// Interleaved rounds of reqwest then client; prints the ratio's median and spread.
fn report_ratio(runtime: &tokio::runtime::Runtime, setup: &Arc<Setup>, concurrency: usize, per_task: usize) {
    let rounds = 21;
    let mut ratios: Vec<f64> = runtime.block_on(async {
        // Warm both up (connections, token cache).
        round(setup, concurrency, per_task, false).await;
        round(setup, concurrency, per_task, true).await;
        let mut ratios = Vec::new();
        for index in 0..rounds {
            // Alternate which goes first, so neither always gets the warmer machine.
            let (theirs, ours) = if index % 2 == 0 {
                let theirs = round(setup, concurrency, per_task, false).await;
                (theirs, round(setup, concurrency, per_task, true).await)
            } else {
                let ours = round(setup, concurrency, per_task, true).await;
                (round(setup, concurrency, per_task, false).await, ours)
            };
            ratios.push(ours.as_secs_f64() / theirs.as_secs_f64());
        }
        ratios
    });
    ratios.sort_by(f64::total_cmp);
    let requests = concurrency * per_task;
    eprintln!(
        "request_overhead concurrency {concurrency}: client/reqwest median {:.3} (min {:.3}, max {:.3}, {rounds} rounds of {requests} requests)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
    );
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let setup = Arc::new(setup());
    report_ratio(&runtime, &setup, 1, 1000);
    report_ratio(&runtime, &setup, 32, 40);

    let mut group = c.benchmark_group("get_one_record");
    group.sample_size(20);
    for concurrency in [1_usize, 32] {
        let per_task = if concurrency == 1 { 50 } else { 4 };
        for (name, ours) in [("reqwest", false), ("dynamics_webapi", true)] {
            group.bench_function(format!("{name}/concurrency_{concurrency}"), |b| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iterations {
                            total += round(&setup, concurrency, per_task, ours).await;
                        }
                        total
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
