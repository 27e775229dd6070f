#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]
//! Streaming many records at 5,000 per page: the client's `records()` stream against a hand-written reqwest loop
//! that follows `@odata.nextLink`, on the same loopback server.
//!
//! - Memory: a counting global allocator (`peak_alloc`) gives the peak of live bytes while 50,000, 500,000 and
//!   5,000,000 records stream by; the stream holds one page at a time, so the peaks should be about the same
//!   (they include the loopback server's page buffer, whose timing against the client's varies a little).
//! - Throughput: interleaved rounds of 50,000 records each; the ratio client / reqwest (median and spread).
//!
//! Run with `cargo bench -p dynamics-webapi --bench streaming -- --warm-up-time 1 --measurement-time 3`.

#[path = "support/loopback.rs"]
mod loopback;

use std::hint::black_box;
use std::io::Write as _;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aad_auth::test_util::StaticTokenProvider;
use criterion::{Criterion, criterion_group, criterion_main};
use dynamics_webapi::Client;
use dynamics_webapi::query::Query;
use futures_util::TryStreamExt;
use peak_alloc::PeakAlloc;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

const PAGE: usize = 5_000;

#[derive(Deserialize)]
struct Row {
    #[serde(rename = "@odata.etag")]
    _etag: String,
    accountid: Uuid,
    name: String,
    #[serde(with = "dynamics_webapi::exact::decimal")]
    revenue: Decimal,
}

#[derive(Deserialize)]
struct Envelope {
    value: Vec<Row>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Serves `total` records (set before each run) in pages of 5,000, each page naming the next by `$skiptoken`.
/// Numbers are zero-padded, so every record (and page) has the same size whatever the record count.
fn start_server(total: Arc<AtomicUsize>) -> String {
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let link_base = Arc::clone(&base);
    let url = loopback::start(Arc::new(move |target: &str, body: &mut Vec<u8>| {
        let page: usize = target.split("$skiptoken=").nth(1).and_then(|t| t.parse().ok()).unwrap_or(0);
        let total = total.load(Ordering::Relaxed);
        let start = page * PAGE;
        let end = (start + PAGE).min(total);
        body.extend_from_slice(br#"{"@odata.context":"$metadata#accounts(name,revenue)","value":["#);
        for n in start..end {
            if n > start {
                body.push(b',');
            }
            write!(
                body,
                r#"{{"@odata.etag":"W/\"{n:07}\"","accountid":"{}","name":"Account {n:07}","revenue":1{n:07}.5807}}"#,
                Uuid::from_u128(n as u128)
            )
            .expect("write to a Vec");
        }
        body.push(b']');
        if end < total {
            write!(
                body,
                r#","@odata.nextLink":"{}/api/data/v9.2/accounts?$select=accountid,name,revenue&$skiptoken={}""#,
                link_base.get().map(String::as_str).unwrap_or_default(),
                page + 1
            )
            .expect("write to a Vec");
        }
        body.push(b'}');
    }));
    base.set(url.clone()).expect("set once");
    url
}

struct Setup {
    client: Client,
    http: reqwest::Client,
    base: String,
    total: Arc<AtomicUsize>,
}

async fn stream_with_client(setup: &Setup) -> usize {
    let query = Query::untyped("accounts").select(["accountid", "name", "revenue"]).max_page_size(PAGE as u32);
    let mut records = pin!(setup.client.query::<Row, _>(&query).records());
    let mut count = 0;
    while let Some(row) = records.try_next().await.expect("a record") {
        black_box((row.accountid, row.name, row.revenue));
        count += 1;
    }
    count
}

async fn stream_with_reqwest(setup: &Setup) -> usize {
    let mut next = Some(format!("{}/api/data/v9.2/accounts?$select=accountid,name,revenue", setup.base));
    let mut count = 0;
    while let Some(url) = next {
        let response = setup
            .http
            .get(&url)
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0")
            .header("Accept", "application/json")
            .header("Prefer", format!("odata.maxpagesize={PAGE}"))
            .bearer_auth("token-1")
            .send()
            .await
            .expect("an answer");
        assert!(response.status().is_success());
        let bytes = response.bytes().await.expect("a body");
        let page: Envelope = serde_json::from_slice(&bytes).expect("a page");
        drop(bytes);
        for row in page.value {
            black_box((row.accountid, row.name, row.revenue));
            count += 1;
        }
        next = page.next_link;
    }
    count
}

/// Streams `total` records and returns the peak of live bytes above what was live before, and the time taken.
fn measure(runtime: &tokio::runtime::Runtime, setup: &Setup, total: usize, ours: bool) -> (usize, Duration) {
    setup.total.store(total, Ordering::Relaxed);
    let before = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let started = Instant::now();
    let count = runtime
        .block_on(async { if ours { stream_with_client(setup).await } else { stream_with_reqwest(setup).await } });
    let elapsed = started.elapsed();
    assert_eq!(count, total);
    (ALLOCATOR.peak_usage().saturating_sub(before), elapsed)
}

fn streaming(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let total = Arc::new(AtomicUsize::new(0));
    let base = start_server(Arc::clone(&total));
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(aad_auth::SystemClock)));
    let client = Client::builder(base.clone(), tokens).build().expect("client");
    let setup = Setup { client, http: reqwest::Client::new(), base, total };

    // Warm up connections and the token cache.
    measure(&runtime, &setup, 10_000, true);
    measure(&runtime, &setup, 10_000, false);

    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    for ours in [true, false] {
        let (small, _) = measure(&runtime, &setup, 50_000, ours);
        let (large, _) = measure(&runtime, &setup, 500_000, ours);
        let (huge, _) = measure(&runtime, &setup, 5_000_000, ours);
        eprintln!(
            "streaming memory ({}): peak live bytes above baseline {:.1} MiB for 50,000 records, {:.1} MiB for 500,000 \
             (ratio {:.2}), {:.1} MiB for 5,000,000",
            if ours { "client records()" } else { "hand-written reqwest loop" },
            mib(small),
            mib(large),
            large as f64 / small as f64,
            mib(huge),
        );
    }

    // Each round streams 50,000 records four times per side, alternating which side goes first.
    let rounds = 15;
    let runs = |ours: bool| (0..4).map(|_| measure(&runtime, &setup, 50_000, ours).1).sum::<Duration>();
    let mut ratios = Vec::new();
    for index in 0..rounds {
        let (ours, theirs) = if index % 2 == 0 {
            let theirs = runs(false);
            (runs(true), theirs)
        } else {
            let ours = runs(true);
            (ours, runs(false))
        };
        ratios.push(ours.as_secs_f64() / theirs.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    eprintln!(
        "streaming throughput 50,000 records at 5,000 per page: client/reqwest time median {:.3} (min {:.3}, max {:.3}, {rounds} rounds of 4 runs)",
        ratios[rounds / 2],
        ratios[0],
        ratios[rounds - 1]
    );

    let mut group = c.benchmark_group("stream_50000_records");
    group.sample_size(10);
    for (name, ours) in [("reqwest_next_link_loop", false), ("dynamics_webapi_records", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| (0..iterations).map(|_| measure(&runtime, &setup, 50_000, ours).1).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, streaming);
criterion_main!(benches);
