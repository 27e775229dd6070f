//! The token cache: caching, single flight, proactive refresh, failed refreshes, invalidation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::sync::Arc;
use std::time::Duration;

use aad_auth::test_util::{ManualClock, StaticTokenProvider};
use aad_auth::{
    AccessToken, ClientCredential, ClientCredentialsProvider, Clock, ExposeSecret, RefreshPolicy, Resource,
    RetryPolicy, SecretString, TokenCache, TokenProvider,
};
use support::{fixture, json_response};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

fn org() -> Resource {
    Resource::new("https://contoso.crm.dynamics.com").unwrap()
}

fn token_body(token: &str, expires_in: u64) -> String {
    format!(r#"{{"token_type":"Bearer","expires_in":{expires_in},"access_token":"{token}"}}"#)
}

fn cache_over(server: &MockServer, clock: &ManualClock) -> TokenCache {
    let provider = ClientCredentialsProvider::builder(
        TENANT,
        CLIENT_ID,
        ClientCredential::secret(SecretString::from("abc8Q~secret")),
    )
    .authority_url(&server.uri())
    .clock(Arc::new(clock.clone()))
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    TokenCache::with_policy(Arc::new(provider), RefreshPolicy::default(), Arc::new(clock.clone()))
}

fn secret(token: &AccessToken) -> String {
    token.secret().expose_secret().to_owned()
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// Waits (boundedly) until `cache` hands out a token other than `old`.
async fn next_token(cache: &TokenCache, old: &AccessToken) -> AccessToken {
    for _ in 0..500 {
        let token = cache.token(&org()).await.unwrap();
        if !token.is_same_as(old) {
            return token;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the cache never replaced the token");
}

/// Awaits every task, then yields once. Awaiting many finished tasks in a row can use up tokio's cooperative
/// budget, and wiremock's `MockServer` verifies itself on drop by blocking on its own lock: with no budget left
/// that lock never comes free and the test spins forever. The yield gives the drop a fresh budget.
async fn join_all<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("the caller's task ran to the end"));
    }
    tokio::task::yield_now().await;
    results
}

#[tokio::test]
async fn a_cached_token_sends_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &fixture("aad/v2-success.json")))
        .expect(1)
        .mount(&server)
        .await;
    let cache = cache_over(&server, &ManualClock::starting_now());

    let first = cache.token(&org()).await.unwrap();
    let second = cache.token(&org()).await.unwrap();

    assert!(first.is_same_as(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_on_a_cold_cache_send_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &fixture("aad/v2-success.json")).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&server)
        .await;
    let cache = cache_over(&server, &ManualClock::starting_now());

    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token(&org()).await })
        })
        .collect();
    let tokens: Vec<_> = join_all(callers).await.into_iter().map(Result::unwrap).collect();

    assert!(tokens.iter().all(|t| t.is_same_as(&tokens[0])));
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_first_caller_does_not_cancel_the_refresh_for_the_others() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &fixture("aad/v2-success.json")).set_delay(Duration::from_millis(400)))
        .expect(1)
        .mount(&server)
        .await;
    let cache = cache_over(&server, &ManualClock::starting_now());

    let first = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.token(&org()).await })
    };
    // Let the first caller start the request, then give up on it.
    for _ in 0..200 {
        if requests(&server).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());

    let others: Vec<_> = (0..999)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token(&org()).await })
        })
        .collect();
    for token in join_all(others).await {
        token.unwrap();
    }
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(401, &fixture("aad/errors/7000215.json")).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    let cache = cache_over(&server, &ManualClock::starting_now());

    let callers: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token(&org()).await })
        })
        .collect();
    for result in join_all(callers).await {
        assert_eq!(result.unwrap_err().aadsts_code(), Some(7000215));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_token_before_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &token_body("first", 3600)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(json_response(200, &token_body("second", 3600))).mount(&server).await;
    let clock = ManualClock::starting_now();
    let cache = cache_over(&server, &clock);
    let first = cache.token(&org()).await.unwrap();

    // Six minutes before expiry: still fresh, no request.
    clock.advance(Duration::from_secs(3600 - 360));
    assert!(cache.token(&org()).await.unwrap().is_same_as(&first));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(requests(&server).await, 1);

    // Four minutes before expiry: the current token is still handed out while one refresh runs.
    clock.advance(Duration::from_secs(120));
    assert!(cache.token(&org()).await.unwrap().is_same_as(&first));
    let second = next_token(&cache, &first).await;

    assert_eq!(secret(&second), "second");
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_tokens_refresh_at_half_their_lifetime() {
    let clock = ManualClock::starting_now();
    let provider = Arc::new(StaticTokenProvider::new(Duration::from_secs(240), Arc::new(clock.clone())));
    let cache = TokenCache::with_policy(provider.clone(), RefreshPolicy::default(), Arc::new(clock.clone()));
    let first = cache.token(&org()).await.unwrap();

    clock.advance(Duration::from_secs(119));
    assert!(cache.token(&org()).await.unwrap().is_same_as(&first));
    assert_eq!(provider.calls(), 1);

    clock.advance(Duration::from_secs(2));
    let second = next_token(&cache, &first).await;
    assert_eq!(secret(&second), "token-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uses_refresh_in_when_azure_ad_sends_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &fixture("aad/v2-success-refresh-in.json")))
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();
    let cache = cache_over(&server, &clock);
    let first = cache.token(&org()).await.unwrap();

    // refresh_in is 43199 s of an 86399 s token: long before the 5-minute rule would refresh.
    clock.advance(Duration::from_secs(43_000));
    cache.token(&org()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(requests(&server).await, 1);

    clock.advance(Duration::from_secs(300));
    assert!(cache.token(&org()).await.unwrap().is_same_as(&first));
    next_token(&cache, &first).await;
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_the_still_valid_token_and_is_retried_later() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &token_body("first", 3600)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(json_response(503, r#"{"error":"temporarily_unavailable"}"#))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(json_response(200, &token_body("second", 3600))).mount(&server).await;
    let clock = ManualClock::starting_now();
    let cache = cache_over(&server, &clock);
    let first = cache.token(&org()).await.unwrap();

    clock.advance(Duration::from_secs(3600 - 240));
    assert!(cache.token(&org()).await.unwrap().is_same_as(&first));
    wait_for_requests(&server, 2).await;
    // The refresh failed: the old token is still handed out, without a request per call.
    for _ in 0..10 {
        assert!(cache.token(&org()).await.unwrap().is_same_as(&first));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(requests(&server).await, 2);

    // After the back-off, the refresh is tried again (and fails again).
    clock.advance(Duration::from_secs(31));
    assert!(cache.token(&org()).await.unwrap().is_same_as(&first));
    wait_for_requests(&server, 3).await;

    clock.advance(Duration::from_secs(31));
    let second = next_token(&cache, &first).await;
    assert_eq!(secret(&second), "second");
}

async fn wait_for_requests(server: &MockServer, count: usize) {
    for _ in 0..500 {
        if requests(server).await >= count {
            // Give the failing refresh a moment to record its back-off.
            tokio::time::sleep(Duration::from_millis(20)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {count} requests");
}

#[tokio::test]
async fn an_expired_token_is_never_handed_out() {
    let clock = ManualClock::starting_now();
    let provider = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(clock.clone())));
    let cache = TokenCache::with_policy(provider.clone(), RefreshPolicy::default(), Arc::new(clock.clone()));
    let first = cache.token(&org()).await.unwrap();

    clock.advance(Duration::from_secs(3601));
    let second = cache.token(&org()).await.unwrap();

    assert!(!second.is_same_as(&first));
    assert!(!second.is_expired_at(clock.now()));
}

#[tokio::test]
async fn invalidate_drops_only_the_rejected_token() {
    let clock = ManualClock::starting_now();
    let provider = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(clock.clone())));
    let cache = TokenCache::with_policy(provider.clone(), RefreshPolicy::default(), Arc::new(clock.clone()));
    let first = cache.token(&org()).await.unwrap();

    cache.invalidate(&org(), &first);
    let second = cache.token(&org()).await.unwrap();
    assert_eq!(secret(&second), "token-2");

    // A late report about the old token does not throw away the new one.
    cache.invalidate(&org(), &first);
    assert!(cache.token(&org()).await.unwrap().is_same_as(&second));
    assert_eq!(provider.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_for_one_resource_do_not_wait_on_another() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("crm.dynamics.com"))
        .respond_with(json_response(200, &token_body("slow", 3600)).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("graph.microsoft.com"))
        .respond_with(json_response(200, &token_body("fast", 3600)))
        .mount(&server)
        .await;
    let cache = cache_over(&server, &ManualClock::starting_now());

    let slow = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.token(&org()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let graph = Resource::new("https://graph.microsoft.com").unwrap();
    let fast = tokio::time::timeout(Duration::from_secs(2), cache.token(&graph)).await;

    assert_eq!(secret(&fast.expect("graph's token did not wait for Dataverse's").unwrap()), "fast");
    assert!(!slow.is_finished());
    assert_eq!(secret(&slow.await.unwrap().unwrap()), "slow");
}

/// A provider whose first acquisition panics (or, with `stall_first`, never finishes); later ones succeed.
#[derive(Debug)]
struct BreaksOnce {
    calls: std::sync::atomic::AtomicUsize,
    clock: ManualClock,
    stall_first: bool,
}

impl TokenProvider for BreaksOnce {
    fn token<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _resource: &'life1 Resource,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = aad_auth::Result<AccessToken>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if call == 0 {
                if self.stall_first {
                    std::future::pending::<()>().await;
                }
                panic!("the provider broke on its first call");
            }
            Ok(AccessToken::new(format!("token-{call}"), self.clock.now() + Duration::from_secs(3600)))
        })
    }
}

#[tokio::test]
async fn an_acquisition_that_panicked_is_not_handed_out_again_and_the_next_call_acquires() {
    let clock = ManualClock::starting_now();
    let provider = Arc::new(BreaksOnce { calls: 0.into(), clock: clock.clone(), stall_first: false });
    let cache = TokenCache::with_policy(provider.clone(), RefreshPolicy::default(), Arc::new(clock.clone()));

    assert!(cache.token(&org()).await.is_err(), "the acquisition panicked");
    let token = cache.token(&org()).await.expect("a new acquisition, not the broken one again");

    assert_eq!(secret(&token), "token-1");
    assert_eq!(provider.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_acquisition_cut_off_by_its_runtime_shutting_down_is_not_waited_on_forever() {
    let clock = ManualClock::starting_now();
    let provider = Arc::new(BreaksOnce { calls: 0.into(), clock: clock.clone(), stall_first: true });
    let cache = TokenCache::with_policy(provider.clone(), RefreshPolicy::default(), Arc::new(clock.clone()));

    // A short-lived runtime starts the acquisition and is shut down while it is in flight.
    let first = cache.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let timed_out = runtime
            .block_on(async { tokio::time::timeout(Duration::from_millis(50), first.token(&org())).await.is_err() });
        assert!(timed_out, "the first acquisition never finishes");
    })
    .join()
    .unwrap();

    let token = tokio::time::timeout(Duration::from_secs(5), cache.token(&org()))
        .await
        .expect("the next call does not wait on the dead acquisition")
        .expect("a new acquisition");
    assert_eq!(secret(&token), "token-1");
}
