//! The shared pacer against a real redis-server: shared slots and rate, dead workers, Redis going away.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::time::{Duration, Instant};

use dynamics_fleet::{Fleet, RedisPacer};
use dynamics_webapi::ServiceProtectionLimit;
use dynamics_webapi::pacer::{LimitSource, Observation, Pacer, Signal};
use support::{Logs, RedisServer};

const ORG: &str = "https://contoso.crm.dynamics.com";
const USER: &str = "11111111-2222-3333-4444-555555555555";

fn pacer(fleet: &Fleet, max_in_flight: usize) -> RedisPacer {
    fleet
        .pacer_builder(ORG, USER)
        .max_in_flight(max_in_flight)
        .lease(Duration::from_secs(1))
        .call_timeout(Duration::from_millis(300))
        .retry_redis_after(Duration::from_millis(200))
        .throttle_cooldown(Duration::from_millis(100))
        .build()
}

fn answered() -> Observation {
    Observation::new(Signal::Answered, Duration::from_millis(5))
}

fn throttled() -> Observation {
    let signal = Signal::Throttled {
        limit: Some(ServiceProtectionLimit::RequestCount),
        retry_after: Some(Duration::from_secs(5)),
    };
    Observation::new(signal, Duration::from_millis(5))
}

async fn admit_within(pacer: &RedisPacer, limit: Duration) -> Option<dynamics_webapi::pacer::Admission> {
    tokio::time::timeout(limit, pacer.admit()).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_one_in_flight_limit() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let (first, second) = (pacer(&fleet, 3), pacer(&fleet, 3));
    let a = first.admit().await;
    let b = second.admit().await;
    let c = first.admit().await;
    assert!(admit_within(&second, Duration::from_millis(300)).await.is_none(), "the fleet's 3 slots are taken");
    first.observe(a, &answered());
    assert!(admit_within(&second, Duration::from_millis(500)).await.is_some(), "a slot given back is taken");
    drop((b, c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_slots_come_back_within_the_lease() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let dead = pacer(&fleet, 2);
    // The worker dies holding both slots: nothing is given back and nothing renews them.
    std::mem::forget(dead.admit().await);
    std::mem::forget(dead.admit().await);
    drop(dead);

    let alive = pacer(&fleet, 2);
    assert!(
        admit_within(&alive, Duration::from_millis(300)).await.is_none(),
        "the dead worker's slots are still taken"
    );
    let started = Instant::now();
    let admission = admit_within(&alive, Duration::from_secs(3)).await;
    assert!(admission.is_some(), "the slots lapse after the 1 s lease");
    assert!(started.elapsed() < Duration::from_millis(1_500), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_requests_keep_their_slots_past_the_lease() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let (first, second) = (pacer(&fleet, 1), pacer(&fleet, 1));
    let held = first.admit().await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(admit_within(&second, Duration::from_millis(300)).await.is_none(), "the live lease was renewed");
    first.observe(held, &answered());
    assert!(admit_within(&second, Duration::from_millis(500)).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_worker_lowers_the_rate_every_worker_sees_without_stopping_them() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let (first, second) = (pacer(&fleet, 8), pacer(&fleet, 8));
    for _ in 0..20 {
        let admission = first.admit().await;
        first.observe(admission, &answered());
    }
    assert_eq!(second.state().rate(), None, "no rate before any refusal");

    let admission = first.admit().await;
    first.observe(admission, &throttled());
    let started = Instant::now();
    let mut seen = None;
    while seen.is_none() && started.elapsed() < Duration::from_secs(3) {
        let admission = second.admit().await;
        second.observe(admission, &answered());
        seen = second.state().rate();
    }
    let rate = seen.expect("the other worker sees the lowered rate");
    assert!(rate > 0.0);
    assert!(started.elapsed() < Duration::from_secs(2), "one 429 (Retry-After 5 s) does not stop the fleet");
    assert_eq!(second.state().limit_source(), LimitSource::Shared);

    // A second refusal after the cool-down lowers it again, in proportion.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let admission = second.admit().await;
    second.observe(admission, &throttled());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let admission = first.admit().await;
    let lowered = first.state().rate().unwrap();
    first.observe(admission, &answered());
    assert!(lowered < rate && lowered > rate * 0.5, "{lowered} after {rate}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_worker_makes_one_redis_call_per_request() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let worker = pacer(&fleet, 8);
    let before = worker.redis_calls();
    for _ in 0..100 {
        let admission = worker.admit().await;
        worker.observe(admission, &answered());
    }
    let calls = worker.redis_calls() - before;
    assert!(calls <= 103, "{calls} Redis calls for 100 requests");

    // What the server counted: round trips are EVALSHA calls (plus a SCRIPT LOAD the first time).
    let mut connection = redis.connection().await;
    let stats: String = redis::cmd("INFO").arg("commandstats").query_async(&mut connection).await.unwrap();
    let count = |name: &str| -> u64 {
        stats
            .lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{name}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    let round_trips = count("evalsha") + count("eval") + count("script|load");
    assert!(round_trips <= 105, "{round_trips} round trips for 101 requests:\n{stats}");
    println!("redis round trips for 101 requests: {round_trips} ({calls} counted by the worker after the first)");
}

#[tokio::test(flavor = "current_thread")]
async fn redis_going_away_falls_back_with_one_warning_and_rejoins() {
    let (logs, _guard) = Logs::capture();
    let mut redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let worker = pacer(&fleet, 4);
    let admission = worker.admit().await;
    worker.observe(admission, &answered());
    assert!(!worker.is_fallen_back());

    redis.stop();
    for _ in 0..20 {
        let admission = admit_within(&worker, Duration::from_secs(2)).await.expect("writing goes on without Redis");
        worker.observe(admission, &answered());
    }
    assert!(worker.is_fallen_back());
    assert_ne!(worker.state().limit_source(), LimitSource::Shared);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let admission = admit_within(&worker, Duration::from_secs(2)).await.expect("still writing");
    worker.observe(admission, &answered());
    assert_eq!(logs.count("redis is unreachable"), 1, "one warning per outage:\n{}", logs.text());

    redis.restart();
    let started = Instant::now();
    while worker.is_fallen_back() {
        assert!(started.elapsed() < Duration::from_secs(10), "never rejoined:\n{}", logs.text());
        let admission = admit_within(&worker, Duration::from_secs(2)).await.expect("still writing");
        worker.observe(admission, &answered());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(worker.state().limit_source(), LimitSource::Shared);
    assert_eq!(logs.count("redis is back"), 1, "{}", logs.text());
    assert_eq!(logs.count("redis is unreachable"), 1, "{}", logs.text());
}
