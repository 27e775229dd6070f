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
use crate::{AccessToken, Error, Resource, Result, TokenProvider};

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

struct Inner {
    provider: Arc<dyn TokenProvider>,
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
        Self {
            inner: Arc::new(Inner {
                provider,
                clock,
                policy,
                tokens: RwLock::new(HashMap::default()),
                flights: Mutex::new(HashMap::default()),
            }),
        }
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
                    flight.running = Some(self.spawn_acquisition(resource.clone()));
                }
                Join::Ready(token)
            }
            Lookup::Missing => {
                let running = flight.running.get_or_insert_with(|| self.spawn_acquisition(resource.clone()));
                Join::Wait(running.clone())
            }
        }
    }

    fn spawn_acquisition(self: &Arc<Self>, resource: Resource) -> SharedAcquisition {
        let inner = Arc::clone(self);
        let work = async move {
            // If the acquisition never completes (the provider panics, or the runtime running it shuts down),
            // the flight is cleared anyway, so the next caller starts a new one instead of joining a dead one.
            let mut abandoned = AbandonedFlight { inner: Some(Arc::clone(&inner)), resource: resource.clone() };
            let acquired_at = inner.clock.now();
            let result = inner.provider.token(&resource).await;
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
            .field("cached_resources", &cached)
            .finish()
    }
}
