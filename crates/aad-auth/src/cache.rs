//! A token cache with proactive refresh and single-flight acquisition, in front of any provider.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::clock::{Clock, SystemClock};
use crate::resource::ResourceHasher;
use crate::token_store::{MemoryTokenStore, StoreLockOutcome, TokenStore, TokenStoreError};
use crate::{AccessToken, Error, ExposeSecret, Resource, Result, TokenProvider};

/// Caches tokens per resource in front of any [`TokenProvider`], and refreshes them before they expire.
///
/// - A cached, fresh token is a read of shared state and a clone: no lock is written, no request is sent.
/// - Inside the refresh window (by default 5 minutes before expiry, or half the lifetime of a short token,
///   or when Azure AD's `refresh_in` says) callers keep getting the current token
///   while one refresh runs in the background.
/// - **Single flight**: any number of concurrent callers on a cold or expired entry cause exactly one request.
///   The request runs on its own task, so a caller that gives up (drops its future) does not cancel it
///   for the others.
/// - A refresh that fails while the current token is still valid is retried later;
///   callers keep the current token meanwhile.
/// - [`TokenProvider::invalidate`] drops a token the resource rejected, so the next call acquires a new one.
/// - Entries are independent: callers for one resource never wait on a refresh of another.
///
/// There is no refresh token in the client-credentials grant: refreshing means acquiring again.
///
/// ```no_run
/// use aad_auth::{ClientCredentialsProvider, Resource, TokenCache, TokenProvider};
///
/// # async fn run() -> aad_auth::Result<()> {
/// let provider = ClientCredentialsProvider::from_env()?;
/// let cache = TokenCache::new(provider);
/// let dataverse = Resource::new("https://contoso.crm.dynamics.com")?;
/// let token = cache.token(&dataverse).await?; // acquires
/// let again = cache.token(&dataverse).await?; // cached
/// assert!(token.is_same_as(&again));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

/// When a [`TokenCache`] refreshes, and how it retries a failed background refresh.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// Refresh this long before expiry (default 5 minutes), capped at half the token's lifetime.
    pub refresh_before: Duration,
    /// A token is not handed out during its last stretch: this long, capped at a quarter of its lifetime
    /// (default 30 seconds), so that a request does not start with a token about to expire.
    pub expiry_margin: Duration,
    /// After a failed background refresh, wait this long before trying again (default 30 seconds).
    pub retry_failed_refresh_after: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            refresh_before: Duration::from_secs(5 * 60),
            expiry_margin: Duration::from_secs(30),
            retry_failed_refresh_after: Duration::from_secs(30),
        }
    }
}

/// Builds a [`TokenCache`] with a refresh policy, a clock or a shared [`TokenStore`].
///
/// ```
/// use std::sync::Arc;
/// use aad_auth::{MemoryTokenStore, RefreshPolicy, TokenCache, TokenProvider};
///
/// # fn run(provider: Arc<dyn TokenProvider>) {
/// let cache = TokenCache::builder(provider)
///     .policy(RefreshPolicy::default())
///     .store(Arc::new(MemoryTokenStore::new()))
///     .build();
/// # let _ = cache; }
/// ```
#[must_use]
#[derive(Debug)]
pub struct TokenCacheBuilder {
    provider: Arc<dyn TokenProvider>,
    policy: RefreshPolicy,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn TokenStore>>,
}

impl TokenCacheBuilder {
    /// When to refresh (default [`RefreshPolicy::default`]).
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock (default [`SystemClock`]; tests pass a manual clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where tokens are shared beyond this cache (default: a [`MemoryTokenStore`] of its own).
    /// Caches sharing a store acquire once between them.
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The cache.
    pub fn build(self) -> TokenCache {
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryTokenStore::new()));
        TokenCache {
            inner: Arc::new(Inner {
                provider: self.provider,
                clock: self.clock,
                policy: self.policy,
                store,
                tokens: RwLock::new(HashMap::default()),
                flights: Mutex::new(HashMap::default()),
            }),
        }
    }
}

struct Inner {
    provider: Arc<dyn TokenProvider>,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    policy: RefreshPolicy,
    /// The read path: one read lock, one lookup, one clone.
    tokens: RwLock<HashMap<Resource, Cached, ResourceHasher>>,
    /// Refreshes in flight and failed-refresh back-offs. Lock order: `flights`, then `tokens`.
    flights: Mutex<HashMap<Resource, Flight, ResourceHasher>>,
}

struct Cached {
    token: AccessToken,
    refresh_at: SystemTime,
    usable_until: SystemTime,
}

#[derive(Default)]
struct Flight {
    running: Option<SharedAcquisition>,
    retry_not_before: Option<SystemTime>,
    /// A token the resource rejected, to drop from the store before the next acquisition looks there.
    rejected: Option<AccessToken>,
}

type SharedAcquisition = Shared<BoxFuture<'static, Result<AccessToken>>>;

enum Join {
    Wait(SharedAcquisition),
    Ready(AccessToken),
}

enum Lookup {
    Fresh(AccessToken),
    Refreshing(AccessToken),
    Missing,
}

impl TokenCache {
    /// A cache in front of `provider`, with the default [`RefreshPolicy`] and the system clock.
    pub fn new(provider: impl TokenProvider + 'static) -> Self {
        Self::with_policy(Arc::new(provider), RefreshPolicy::default(), Arc::new(SystemClock))
    }

    /// A cache with an explicit refresh policy and clock (tests pass a manual clock).
    pub fn with_policy(provider: Arc<dyn TokenProvider>, policy: RefreshPolicy, clock: Arc<dyn Clock>) -> Self {
        Self::builder(provider).policy(policy).clock(clock).build()
    }

    /// A builder, for a shared [`TokenStore`] (see [`TokenCacheBuilder`]).
    pub fn builder(provider: Arc<dyn TokenProvider>) -> TokenCacheBuilder {
        TokenCacheBuilder { provider, policy: RefreshPolicy::default(), clock: Arc::new(SystemClock), store: None }
    }

    /// Drops every cached token.
    pub fn clear(&self) {
        self.inner.tokens.write().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl Inner {
    fn lookup(&self, resource: &Resource, now: SystemTime) -> Lookup {
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        match tokens.get(resource) {
            Some(cached) if now < cached.refresh_at => Lookup::Fresh(cached.token.clone()),
            Some(cached) if now < cached.usable_until => Lookup::Refreshing(cached.token.clone()),
            _ => Lookup::Missing,
        }
    }

    fn cached_entry(&self, token: AccessToken, acquired_at: SystemTime) -> Cached {
        let expires_on = token.expires_on();
        let lifetime = expires_on.duration_since(acquired_at).unwrap_or_default();
        let margin = self.policy.expiry_margin.min(lifetime / 4);
        let usable_until = expires_on.checked_sub(margin).unwrap_or(expires_on);
        let suggested = expires_on.checked_sub(self.policy.refresh_before.min(lifetime / 2)).unwrap_or(acquired_at);
        let refresh_at = token.refresh_on().unwrap_or(suggested).min(usable_until);
        Cached { token, refresh_at, usable_until }
    }

    /// Joins the acquisition in flight for `resource` or starts one, unless a usable token is cached.
    /// A usable token inside its refresh window gets a background refresh (unless one failed recently).
    fn join_or_start(self: &Arc<Self>, resource: &Resource) -> Join {
        let now = self.clock.now();
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        let flight = flights.entry(resource.clone()).or_default();
        match self.lookup(resource, now) {
            Lookup::Fresh(token) => Join::Ready(token),
            Lookup::Refreshing(token) => {
                let backing_off = flight.retry_not_before.is_some_and(|not_before| now < not_before);
                if flight.running.is_none() && !backing_off {
                    flight.running = Some(self.spawn_acquisition(resource.clone(), flight.rejected.take()));
                }
                Join::Ready(token)
            }
            Lookup::Missing => {
                let rejected = &mut flight.rejected;
                let running =
                    flight.running.get_or_insert_with(|| self.spawn_acquisition(resource.clone(), rejected.take()));
                Join::Wait(running.clone())
            }
        }
    }

    fn spawn_acquisition(self: &Arc<Self>, resource: Resource, rejected: Option<AccessToken>) -> SharedAcquisition {
        let inner = Arc::clone(self);
        let work = async move {
            // If the acquisition never completes (the provider panics, or the runtime running it shuts down),
            // the flight is cleared anyway, so the next caller starts a new one instead of joining a dead one.
            let mut abandoned = AbandonedFlight { inner: Some(Arc::clone(&inner)), resource: resource.clone() };
            let acquired_at = inner.clock.now();
            let result = inner.acquire(&resource, rejected).await;
            inner.complete(&resource, &result, acquired_at);
            abandoned.inner = None;
            result
        };
        match tokio::runtime::Handle::try_current() {
            // On its own task, so that no caller dropping its future cancels it for the others.
            Ok(runtime) => {
                let task = runtime.spawn(work);
                async move {
                    task.await.unwrap_or_else(|join| {
                        Err(Error::provider(std::io::Error::other(format!("token acquisition task ended: {join}"))))
                    })
                }
                .boxed()
                .shared()
            }
            // Outside a tokio runtime the waiters drive the acquisition together.
            Err(_) => work.boxed().shared(),
        }
    }

    /// One acquisition: a token another cache stored, or, holding the store's lock, one from the provider.
    /// A store that fails is passed by: the provider is asked directly.
    async fn acquire(&self, resource: &Resource, rejected: Option<AccessToken>) -> Result<AccessToken> {
        let store = &self.store;
        if let Some(rejected) = &rejected
            && let Err(error) = store.remove(resource, rejected).await
        {
            warn_store(resource, &error);
        }
        let current = self.tokens.read().unwrap_or_else(PoisonError::into_inner).get(resource).map(|c| c.token.clone());
        let usable = |token: &AccessToken| self.is_newer(token, current.as_ref(), rejected.as_ref());
        loop {
            match store.load(resource).await {
                Ok(Some(token)) if usable(&token) => return Ok(token),
                Ok(_) => {}
                Err(error) => return self.acquire_without_store(resource, &error).await,
            }
            let lock = match store.lock(resource).await {
                Ok(StoreLockOutcome::Acquired(lock)) => lock,
                Ok(StoreLockOutcome::HeldElsewhere { retry_in }) => {
                    self.clock.sleep(retry_in).await;
                    continue;
                }
                Err(error) => return self.acquire_without_store(resource, &error).await,
            };
            // Another holder may have saved between the load and the lock.
            let result = match store.load(resource).await {
                Ok(Some(token)) if usable(&token) => Ok(token),
                _ => {
                    let result = self.provider.token(resource).await;
                    if let Ok(token) = &result
                        && let Err(error) = store.save(resource, token, &lock).await
                    {
                        warn_store(resource, &error);
                    }
                    result
                }
            };
            if let Err(error) = store.unlock(resource, lock).await {
                warn_store(resource, &error);
            }
            return result;
        }
    }

    async fn acquire_without_store(&self, resource: &Resource, error: &TokenStoreError) -> Result<AccessToken> {
        warn_store(resource, error);
        self.provider.token(resource).await
    }

    /// A stored token is taken when it is still usable (as if acquired now: the store's own expiry already ends
    /// before the token's), is not the one the resource rejected, and expires later than the one this cache holds
    /// (otherwise it is the same one, due for refresh).
    fn is_newer(&self, token: &AccessToken, current: Option<&AccessToken>, rejected: Option<&AccessToken>) -> bool {
        let now = self.clock.now();
        let usable = now < self.cached_entry(token.clone(), now).usable_until;
        let is_rejected = rejected.is_some_and(|r| r.secret().expose_secret() == token.secret().expose_secret());
        usable && !is_rejected && current.is_none_or(|c| token.expires_on() > c.expires_on())
    }

    fn complete(&self, resource: &Resource, result: &Result<AccessToken>, acquired_at: SystemTime) {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        let flight = flights.entry(resource.clone()).or_default();
        flight.running = None;
        match result {
            Ok(token) => {
                flight.retry_not_before = None;
                let entry = self.cached_entry(token.clone(), acquired_at);
                self.tokens.write().unwrap_or_else(PoisonError::into_inner).insert(resource.clone(), entry);
            }
            Err(error) => {
                let now = self.clock.now();
                flight.retry_not_before = Some(now + self.policy.retry_failed_refresh_after);
                tracing::warn!(
                    resource = %resource,
                    error = %error,
                    "token refresh failed; the current token, if still valid, stays in use"
                );
            }
        }
    }
}

fn warn_store(resource: &Resource, error: &TokenStoreError) {
    let cause = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
    tracing::warn!(resource = %resource, error = %error, cause = %cause, "token store failed; acquiring without it");
}

/// Clears the flight of an acquisition dropped before it completed (unless disarmed by setting `inner` to `None`).
struct AbandonedFlight {
    inner: Option<Arc<Inner>>,
    resource: Resource,
}

impl Drop for AbandonedFlight {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let mut flights = inner.flights.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(flight) = flights.get_mut(&self.resource) {
                flight.running = None;
            }
        }
    }
}

#[async_trait]
impl TokenProvider for TokenCache {
    async fn token(&self, resource: &Resource) -> Result<AccessToken> {
        let inner = &self.inner;
        match inner.lookup(resource, inner.clock.now_coarse()) {
            Lookup::Fresh(token) => Ok(token),
            Lookup::Refreshing(_) | Lookup::Missing => match inner.join_or_start(resource) {
                Join::Ready(token) => Ok(token),
                Join::Wait(acquisition) => acquisition.await,
            },
        }
    }

    fn invalidate(&self, resource: &Resource, rejected: &AccessToken) {
        let mut flights = self.inner.flights.lock().unwrap_or_else(PoisonError::into_inner);
        flights.entry(resource.clone()).or_default().rejected = Some(rejected.clone());
        let mut tokens = self.inner.tokens.write().unwrap_or_else(PoisonError::into_inner);
        if tokens.get(resource).is_some_and(|cached| cached.token.is_same_as(rejected)) {
            tokens.remove(resource);
        }
        self.inner.provider.invalidate(resource, rejected);
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.inner.tokens.read().map(|t| t.len()).unwrap_or_default();
        f.debug_struct("TokenCache")
            .field("provider", &self.inner.provider)
            .field("policy", &self.inner.policy)
            .field("store", &self.inner.store)
            .field("cached_resources", &cached)
            .finish()
    }
}
