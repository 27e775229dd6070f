#![allow(missing_docs, clippy::expect_used)]
//! The cost of a cached `token()` call through `Arc<dyn TokenProvider>`, next to a bare
//! `RwLock<Arc<_>>` read-and-clone, and the cold-cache single flight of 1,000 concurrent callers.
//!
//! Run with `cargo bench -p aad-auth --bench cached_token`.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use aad_auth::{AccessToken, Resource, TokenCache, TokenProvider};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;

/// Hands out a one-hour token after yielding once, counting calls.
#[derive(Debug, Default)]
struct CountingProvider {
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenProvider for CountingProvider {
    async fn token(&self, _resource: &Resource) -> aad_auth::Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Ok(AccessToken::new("bench-token", SystemTime::now() + Duration::from_secs(3600)))
    }
}

fn cached_token(c: &mut Criterion) {
    let resource = Resource::new("https://contoso.crm.dynamics.com").expect("valid resource");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cache: Arc<dyn TokenProvider> = Arc::new(TokenCache::new(CountingProvider::default()));
    runtime.block_on(cache.token(&resource)).expect("warm the cache");

    let mut group = c.benchmark_group("cached_token");
    let bare = RwLock::new(Arc::new(AccessToken::new("bench-token", SystemTime::now())));
    group.bench_function("bare_rwlock_arc_read_clone", |b| {
        b.iter(|| {
            let guard = bare.read().expect("not poisoned");
            black_box(Arc::clone(&guard))
        })
    });
    group.bench_function("token_cache_through_dyn_provider", |b| {
        b.iter(|| {
            let token = cache.token(black_box(&resource)).now_or_never().expect("a cached token is ready at once");
            black_box(token.expect("cached"))
        })
    });
    group.finish();
}

fn cold_single_flight(c: &mut Criterion) {
    let resource = Resource::new("https://contoso.crm.dynamics.com").expect("valid resource");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("cold_cache");
    group.sample_size(20);
    group.bench_function("1000_concurrent_callers", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let provider = Arc::new(CountingProvider::default());
                let cache = TokenCache::with_policy(
                    provider.clone(),
                    aad_auth::RefreshPolicy::default(),
                    Arc::new(aad_auth::SystemClock),
                );
                let started = Instant::now();
                runtime.block_on(async {
                    let callers: Vec<_> = (0..1000)
                        .map(|_| {
                            let cache = cache.clone();
                            let resource = resource.clone();
                            tokio::spawn(async move { cache.token(&resource).await })
                        })
                        .collect();
                    for caller in callers {
                        caller.await.expect("joined").expect("token");
                    }
                });
                total += started.elapsed();
                assert_eq!(provider.calls.load(Ordering::SeqCst), 1, "single flight: one acquisition");
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, cached_token, cold_single_flight);
criterion_main!(benches);
