//! The shared token cache against a real redis-server: one acquisition across workers, sealed values, dead holders.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aad_auth::{
    AccessToken, ClientCredential, ClientCredentialsProvider, ExposeSecret, Resource, RetryPolicy, SecretString,
    StoreLockOutcome, TokenCache, TokenProvider, TokenStore,
};
use dynamics_fleet::{Fleet, TokenNamespace};
use support::RedisServer;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fleet-shared-token.sig";

fn org() -> Resource {
    Resource::new("https://contoso.crm.dynamics.com").unwrap()
}

fn namespace() -> TokenNamespace {
    TokenNamespace::new("login.microsoftonline.com", TENANT, CLIENT_ID)
}

async fn token_endpoint(expires_in: u64) -> MockServer {
    let server = MockServer::start().await;
    let body = format!(r#"{{"token_type":"Bearer","expires_in":{expires_in},"access_token":"{TOKEN}"}}"#);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body, "application/json").set_delay(Duration::from_millis(200)),
        )
        .mount(&server)
        .await;
    server
}

fn provider(server: &MockServer) -> Arc<dyn TokenProvider> {
    let provider = ClientCredentialsProvider::builder(
        TENANT,
        CLIENT_ID,
        ClientCredential::secret(SecretString::from("abc8Q~secret")),
    )
    .authority_url(&server.uri())
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    Arc::new(provider)
}

/// One worker: its own provider and its own cache, over the fleet's store.
fn worker(fleet: &Fleet, server: &MockServer, margin: Duration) -> TokenCache {
    let store = fleet.token_store(&namespace()).margin(margin).lock_lifetime(Duration::from_secs(1));
    TokenCache::builder(provider(server)).store(Arc::new(store)).build()
}

async fn token_requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

async fn all_fetch(workers: &[TokenCache]) -> Vec<AccessToken> {
    let tasks: Vec<_> =
        workers.iter().cloned().map(|cache| tokio::spawn(async move { cache.token(&org()).await.unwrap() })).collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap());
    }
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_cold_workers_request_one_token_and_one_again_after_expiry() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let server = token_endpoint(4).await;
    let workers: Vec<_> = (0..4).map(|_| worker(&fleet, &server, Duration::from_secs(1))).collect();

    let tokens = all_fetch(&workers).await;
    assert_eq!(token_requests(&server).await, 1, "one acquisition for the whole fleet");
    assert!(tokens.iter().all(|t| t.secret().expose_secret() == TOKEN));

    // Past expiry every worker's own copy and the Redis entry are gone: again one acquisition.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    all_fetch(&workers).await;
    assert_eq!(token_requests(&server).await, 2, "one more acquisition after expiry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_token_in_clear_text() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let server = token_endpoint(3600).await;
    worker(&fleet, &server, Duration::from_secs(120)).token(&org()).await.unwrap();

    let mut connection = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut connection).await.unwrap();
    let token_keys: Vec<_> = keys.iter().filter(|k| k.ends_with("https://contoso.crm.dynamics.com")).collect();
    assert_eq!(token_keys.len(), 1, "one token entry, namespaced by tenant and client: {keys:?}");
    assert!(token_keys[0].contains(TENANT) && token_keys[0].contains(CLIENT_ID), "{}", token_keys[0]);
    for key in &keys {
        assert!(!key.contains("fleet-shared-token"), "a key name holds the token: {key}");
        let kind: String = redis::cmd("TYPE").arg(key).query_async(&mut connection).await.unwrap();
        if kind == "string" {
            let value: Vec<u8> = redis::cmd("GET").arg(key).query_async(&mut connection).await.unwrap();
            let needle = b"fleet-shared-token";
            assert!(!value.windows(needle.len()).any(|w| w == needle), "{key} holds the token in clear text");
        }
        let ttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut connection).await.unwrap();
        if token_keys.contains(&key) {
            assert!(ttl > 0 && ttl <= (3600 - 120) * 1000, "the entry expires before the token: {ttl} ms");
        }
    }
    // A worker with another key cannot open the entry, and acquires its own.
    let other = Fleet::builder(redis.url())
        .key(dynamics_fleet::FleetKey::from_bytes(&[9; 32]).unwrap())
        .connect()
        .await
        .unwrap();
    let stranger = TokenCache::builder(provider(&server)).store(Arc::new(other.token_store(&namespace()))).build();
    stranger.token(&org()).await.unwrap();
    assert_eq!(token_requests(&server).await, 2);
}

/// Panics when asked for a token, the way a worker dies holding the lock.
#[derive(Debug)]
struct Crashing;

#[async_trait::async_trait]
impl TokenProvider for Crashing {
    async fn token(&self, _resource: &Resource) -> aad_auth::Result<AccessToken> {
        panic!("the worker died while acquiring");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_dies_frees_its_lock_within_the_lock_lifetime() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let server = token_endpoint(3600).await;
    let store = || Arc::new(fleet.token_store(&namespace()).lock_lifetime(Duration::from_secs(1)));

    let dead = TokenCache::builder(Arc::new(Crashing)).store(store()).build();
    assert!(dead.token(&org()).await.is_err(), "the crashed acquisition is reported");

    // The lock is still taken (its holder never gave it back), and lapses by itself.
    match store().lock(&org()).await.unwrap() {
        StoreLockOutcome::HeldElsewhere { .. } => {}
        other => panic!("the dead holder's lock should still be held: {other:?}"),
    }
    let started = Instant::now();
    let alive = TokenCache::builder(provider(&server)).store(store()).build();
    alive.token(&org()).await.unwrap();
    let waited = started.elapsed();
    assert!(waited < Duration::from_millis(2_000), "waited {waited:?} for a 1 s lock");
    assert_eq!(token_requests(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_dropped_from_the_store() {
    let redis = RedisServer::start();
    let fleet = redis.fleet().await;
    let server = token_endpoint(3600).await;
    let first = worker(&fleet, &server, Duration::from_secs(120));
    let second = worker(&fleet, &server, Duration::from_secs(120));
    let token = first.token(&org()).await.unwrap();
    first.invalidate(&org(), &token);
    first.token(&org()).await.unwrap();
    assert_eq!(token_requests(&server).await, 2, "the rejected token is not loaded back from Redis");
    second.token(&org()).await.unwrap();
    assert_eq!(token_requests(&server).await, 2, "the other worker takes the new one");
}
