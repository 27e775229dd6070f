#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]
//! Paged reads at 5,000 per page on the testkit's TLS loopback server: the library's `records()` stream against a
//! hand-written reqwest loop that follows `@odata.nextLink`, on the same HTTP version.
//!
//! - `paged_read_50000/h1`, `/h2`: interleaved rounds of 50,000 records each; the ratio library / reqwest
//!   (median, min, max) and how the connection was negotiated.
//! - `memory/h2`: a counting global allocator (`peak_alloc`) gives the peak of live bytes while 50,000 and 500,000
//!   records stream by; the stream holds one page at a time, so the peaks should be about the same (they include
//!   the loopback server's page buffer, whose timing against the client's varies a little).
//!
//! Run with `cargo bench -p dynamics-webapi --bench streaming -- [filter] [--rounds N]`.

#[path = "support/harness.rs"]
mod harness;

use std::hint::black_box;
use std::pin::pin;
use std::time::{Duration, Instant};

use dynamics_testkit::loopback::LoopbackServer;
use dynamics_webapi::Client;
use dynamics_webapi::query::Query;
use futures_util::TryStreamExt;
use harness::{Args, Version, odata};
use peak_alloc::PeakAlloc;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

const PAGE: usize = 5_000;
const RECORDS: usize = 50_000;

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

struct Setup {
    server: LoopbackServer,
    client: Client,
    http: reqwest::Client,
}

async fn stream_with_library(setup: &Setup) -> usize {
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
    let mut next = Some(format!("{}/api/data/v9.2/accounts?$select=accountid,name,revenue", setup.server.url()));
    let mut count = 0;
    while let Some(url) = next {
        let response = odata(setup.http.get(&url))
            .header("Prefer", format!("odata.maxpagesize={PAGE}"))
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

/// Streams `total` records; returns the peak of live bytes above what was live before, and the time taken.
async fn measure(setup: &Setup, total: usize, ours: bool) -> (usize, Duration) {
    setup.server.set_rows(total);
    let before = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let started = Instant::now();
    let count = if ours { stream_with_library(setup).await } else { stream_with_reqwest(setup).await };
    let elapsed = started.elapsed();
    assert_eq!(count, total);
    (ALLOCATOR.peak_usage().saturating_sub(before), elapsed)
}

fn setup(version: Version) -> Setup {
    let server = harness::tls_server(|builder| builder);
    let client = harness::library_client(&server, version, |builder| builder);
    let http = harness::reqwest_client(&server, version);
    Setup { server, client, http }
}

fn main() {
    let args = Args::parse();
    let runtime = harness::runtime();
    for version in Version::ALL {
        let scenario = format!("paged_read_{RECORDS}/{}", version.tag());
        if !args.wants(&scenario) {
            continue;
        }
        let setup = setup(version);
        let rounds = args.rounds(9);
        let times = runtime.block_on(async {
            measure(&setup, 10_000, true).await;
            measure(&setup, 10_000, false).await;
            harness::interleave(2, rounds, async |side| Some(measure(&setup, RECORDS, side == 0).await.1)).await
        });
        harness::report(
            &format!("{scenario} ({PAGE} per page)"),
            &["library records()", "hand-written nextLink loop"],
            &times,
            setup.server.http_versions(),
        );
    }

    if args.wants("memory/h2") {
        let setup = setup(Version::Http2);
        let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
        runtime.block_on(async {
            measure(&setup, 10_000, true).await;
            measure(&setup, 10_000, false).await;
            for ours in [true, false] {
                let (small, _) = measure(&setup, 50_000, ours).await;
                let (large, _) = measure(&setup, 500_000, ours).await;
                eprintln!(
                    "[memory/h2] {}: peak live bytes above baseline {:.1} MiB for 50,000 records, {:.1} MiB for 500,000 (ratio {:.2})",
                    if ours { "library records()" } else { "hand-written nextLink loop" },
                    mib(small),
                    mib(large),
                    large as f64 / small as f64,
                );
            }
        });
    }
}
