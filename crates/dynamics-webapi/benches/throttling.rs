#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]
//! 2,000 single creates at 8 in flight on the testkit's TLS loopback server while its service protection model
//! refuses some: the library against hand-written reqwest that retries each refused request after its `Retry-After`
//! ("per-request retry") and, under a budget, against hand-written reqwest that pauses every request until the latest
//! `Retry-After` has passed ("global pause"). Interleaved rounds, each on a fresh budget; prints each side's time,
//! the ratios library / hand-written (median, min, max), the least time the budget allows, the server's counters of
//! each side's last round (served, refused, sent while throttled, the most refusals in one throttle), and how the
//! connections were negotiated. A run longer than the scenario's cap is stopped and reported as "did not finish".
//!
//! - `isolated_429/h1`, `/h2`: every 50th request gets an isolated `429` with `Retry-After: 1` (the budget is
//!   otherwise unlimited).
//! - `budget_50ms/h1`, `/h2`: 600 requests per sliding 2 s, at most 16 concurrent, 50 ms penalty for each request
//!   sent while throttled, 20 ms latency.
//! - `budget_500ms/h1`, `/h2`: the same with a 500 ms penalty.
//! - `budget_50ms_from_arrival/h1`, `/h2`: the 50 ms budget with the milder penalty
//!   ([`Budget::penalty_from_arrival`]: the throttle lasts at least 50 ms after each request sent into it, instead of
//!   growing by 50 ms for each). Added-up penalties outgrow per-request retry with 8 in flight whatever their size
//!   (each request's wait ends before the penalties the other seven added since), so it does not finish above.
//!
//! Run with `cargo bench -p dynamics-webapi --bench throttling -- [filter] [--rounds N]`.

#[path = "support/harness.rs"]
mod harness;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dynamics_testkit::loopback::LoopbackServer;
use dynamics_testkit::service_protection::{Budget, IsolatedRefusals, ServerCounters, ServiceProtection};
use dynamics_webapi::{Client, RetryPolicy};
use futures_util::StreamExt;
use harness::{Args, Version, odata};
use serde::Serialize;

const CREATES: usize = 2_000;
const IN_FLIGHT: usize = 8;

#[derive(Serialize)]
struct NewAccount<'a> {
    name: &'a str,
    n: usize,
}

/// How a side handles a `429`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Library,
    PerRequestRetry,
    GlobalPause,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Self::Library => "library",
            Self::PerRequestRetry => "hand-written per-request retry",
            Self::GlobalPause => "hand-written global pause",
        }
    }
}

struct Scenario {
    name: &'static str,
    budget: fn() -> Budget,
    sides: &'static [Side],
    cap: Duration,
    /// The least time the budget allows for the creates, when it binds.
    least: Option<Duration>,
}

fn isolated() -> Budget {
    Budget::unlimited().isolated_refusals(IsolatedRefusals::every(50, Duration::from_secs(1)))
}

fn budget(penalty: Duration) -> Budget {
    scaled().penalty(penalty)
}

fn scaled() -> Budget {
    Budget::unlimited()
        .requests(600, Duration::from_secs(2))
        .max_concurrent(16)
        .concurrency_retry_after(Duration::from_millis(100))
        .latency(Duration::from_millis(20))
}

/// `(ceil(creates / 600) - 1)` windows of 2 s plus one request, or the concurrency bound if longer.
fn least_for_budget() -> Duration {
    let windows = Duration::from_secs(2) * (CREATES.div_ceil(600) as u32 - 1) + Duration::from_millis(20);
    let concurrency = Duration::from_millis(20) * CREATES.div_ceil(IN_FLIGHT.min(16)) as u32;
    windows.max(concurrency)
}

struct Sides {
    client: Client,
    http: reqwest::Client,
    url: String,
    pause: Mutex<Instant>,
}

async fn create_by_hand(sides: &Sides, n: usize, side: Side) {
    let body = serde_json::to_vec(&NewAccount { name: "account", n }).expect("a body");
    loop {
        if side == Side::GlobalPause {
            loop {
                let until = *sides.pause.lock().unwrap();
                let now = Instant::now();
                if until <= now {
                    break;
                }
                tokio::time::sleep(until - now).await;
            }
        }
        let response = odata(sides.http.post(&sides.url))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.clone())
            .send()
            .await
            .expect("an answer");
        if response.status() == 429 {
            let wait = harness::retry_after(&response);
            if side == Side::GlobalPause {
                let mut pause = sides.pause.lock().unwrap();
                *pause = (*pause).max(Instant::now() + wait);
            } else {
                tokio::time::sleep(wait).await;
            }
            continue;
        }
        assert_eq!(response.status(), 204);
        return;
    }
}

async fn run(sides: &Sides, side: Side) {
    futures_util::stream::iter(0..CREATES)
        .for_each_concurrent(IN_FLIGHT, |n| async move {
            match side {
                Side::Library => {
                    let row = NewAccount { name: "account", n };
                    sides.client.entity_set("accounts").create(&row).send().await.expect("a create");
                }
                _ => create_by_hand(sides, n, side).await,
            }
        })
        .await;
}

fn scenario(args: &Args, runtime: &tokio::runtime::Runtime, scenario: &Scenario, version: Version) {
    let name = format!("{}/{}", scenario.name, version.tag());
    if !args.wants(&name) {
        return;
    }
    let server: LoopbackServer = harness::tls_server(|builder| builder);
    let retry = RetryPolicy::default().max_attempts(1000).max_elapsed(Duration::from_secs(600));
    let sides = Sides {
        client: harness::library_client(&server, version, |builder| {
            builder.max_concurrency(IN_FLIGHT).retry_policy(retry)
        }),
        http: harness::reqwest_client(&server, version),
        url: format!("{}/api/data/v9.2/accounts", server.url()),
        pause: Mutex::new(Instant::now()),
    };
    let mut last: Vec<Option<ServerCounters>> = vec![None; scenario.sides.len()];
    let times = runtime.block_on(async {
        // Warm up connections and the token cache without limits.
        run(&sides, Side::Library).await;
        run(&sides, Side::PerRequestRetry).await;
        harness::interleave(scenario.sides.len(), args.rounds(3), async |index| {
            server.set_protection(ServiceProtection::new((scenario.budget)()));
            *sides.pause.lock().unwrap() = Instant::now();
            let started = Instant::now();
            let finished = tokio::time::timeout(scenario.cap, run(&sides, scenario.sides[index])).await.is_ok();
            let elapsed = started.elapsed();
            last[index] = Some(server.protection().total());
            // Let a stopped run's requests drain, so they do not count against the next side.
            if !finished {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            finished.then_some(elapsed)
        })
        .await
    });
    let names: Vec<&str> = scenario.sides.iter().map(|side| side.name()).collect();
    let least = scenario.least.map(|least| format!(", least the budget allows {:.2} s", least.as_secs_f64()));
    harness::report(
        &format!(
            "{name} ({CREATES} creates, {IN_FLIGHT} in flight, cap {} s{})",
            scenario.cap.as_secs(),
            least.unwrap_or_default()
        ),
        &names,
        &times,
        server.http_versions(),
    );
    for (side, counters) in names.iter().zip(&last) {
        if let Some(counters) = counters {
            eprintln!(
                "[{name}]   {side}, last round: {} served, {} refused ({} isolated, {} by the budget, {} while throttled, {} for concurrency), \
                 {} throttles, at most {} refusals in one",
                counters.served,
                counters.refused(),
                counters.refused_isolated,
                counters.refused_request_count + counters.refused_execution_time,
                counters.refused_while_throttled,
                counters.refused_concurrency,
                counters.throttles.len(),
                counters.max_refusals_per_throttle(),
            );
        }
    }
}

fn main() {
    let args = Args::parse();
    let runtime = harness::runtime();
    let scenarios = [
        Scenario {
            name: "isolated_429",
            budget: isolated,
            sides: &[Side::Library, Side::PerRequestRetry],
            cap: Duration::from_secs(90),
            least: None,
        },
        Scenario {
            name: "budget_50ms",
            budget: || budget(Duration::from_millis(50)),
            sides: &[Side::Library, Side::PerRequestRetry, Side::GlobalPause],
            cap: Duration::from_secs(30),
            least: Some(least_for_budget()),
        },
        Scenario {
            name: "budget_500ms",
            budget: || budget(Duration::from_millis(500)),
            sides: &[Side::Library, Side::PerRequestRetry, Side::GlobalPause],
            cap: Duration::from_secs(30),
            least: Some(least_for_budget()),
        },
        Scenario {
            name: "budget_50ms_from_arrival",
            budget: || scaled().penalty_from_arrival(Duration::from_millis(50)),
            sides: &[Side::Library, Side::PerRequestRetry, Side::GlobalPause],
            cap: Duration::from_secs(30),
            least: Some(least_for_budget()),
        },
    ];
    for scenario_spec in &scenarios {
        for version in Version::ALL {
            scenario(&args, &runtime, scenario_spec, version);
        }
    }
}
