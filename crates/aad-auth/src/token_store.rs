//! Where a [`TokenCache`](crate::TokenCache) keeps tokens beyond its own memory, and how caches that share a store
//! agree on which of them acquires: the seam a fleet of workers plugs a shared store into.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::resource::ResourceHasher;
use crate::{AccessToken, ExposeSecret, Resource};

/// Storage a [`TokenCache`](crate::TokenCache) reads and writes when its own memory has no usable token,
/// and the lock that makes acquisition single across every cache sharing the store.
///
/// The cache's hot path never touches the store: a fresh token is read from the cache's own memory.
/// The store is asked only by the cache's acquisition task, once per refresh:
/// [`load`](TokenStore::load) (did another cache already get one?), then [`lock`](TokenStore::lock),
/// then, holding the lock, the provider, [`save`](TokenStore::save) and [`unlock`](TokenStore::unlock).
/// A cache that finds the lock [held elsewhere](StoreLockOutcome::HeldElsewhere) waits and loads again.
/// A store that fails is not fatal: the cache logs a warning and acquires on its own.
///
/// A lock must expire by itself (a holder that crashed must not block the others for longer than that), and
/// [`save`](TokenStore::save) should check the lock's fencing number, so that a holder whose lock expired
/// does not overwrite a newer token.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
/// use aad_auth::{AccessToken, MemoryTokenStore, Resource, TokenCache, TokenProvider, TokenStore};
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// #[async_trait::async_trait]
/// impl TokenProvider for FromVault {
///     async fn token(&self, _resource: &Resource) -> aad_auth::Result<AccessToken> {
///         Ok(AccessToken::new("token-from-vault", SystemTime::now() + Duration::from_secs(3600)))
///     }
/// }
///
/// // Two caches sharing one store acquire once between them.
/// let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
/// let first = TokenCache::builder(Arc::new(FromVault)).store(store.clone()).build();
/// let second = TokenCache::builder(Arc::new(FromVault)).store(store).build();
/// # let _ = (first, second);
/// ```
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored token for `resource`, if there is one that has not expired.
    ///
    /// # Errors
    /// [`TokenStoreError`] when the store cannot be reached or its entry cannot be read.
    async fn load(&self, resource: &Resource) -> Result<Option<AccessToken>, TokenStoreError>;

    /// Stores `token` for `resource`, acquired while holding `lock`.
    /// A store that can tell should skip the write when `lock` is no longer the current holder.
    ///
    /// # Errors
    /// [`TokenStoreError`] when the store cannot be reached.
    async fn save(&self, resource: &Resource, token: &AccessToken, lock: &StoreLock) -> Result<(), TokenStoreError>;

    /// Removes the stored token for `resource` if it is `rejected` (the resource answered 401 to it).
    ///
    /// # Errors
    /// [`TokenStoreError`] when the store cannot be reached.
    async fn remove(&self, resource: &Resource, rejected: &AccessToken) -> Result<(), TokenStoreError>;

    /// Takes the right to acquire a token for `resource`, unless another holder has it.
    ///
    /// # Errors
    /// [`TokenStoreError`] when the store cannot be reached.
    async fn lock(&self, resource: &Resource) -> Result<StoreLockOutcome, TokenStoreError>;

    /// Gives the lock back (only if it is still `lock`'s: an expired lock taken by another holder stays theirs).
    ///
    /// # Errors
    /// [`TokenStoreError`] when the store cannot be reached; the lock then expires by itself.
    async fn unlock(&self, resource: &Resource, lock: StoreLock) -> Result<(), TokenStoreError>;
}

/// What [`TokenStore::lock`] got.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreLockOutcome {
    /// This cache acquires; pass the lock to [`TokenStore::save`] and [`TokenStore::unlock`].
    Acquired(StoreLock),
    /// Another holder is acquiring: load again after `retry_in`.
    HeldElsewhere {
        /// How long to wait before looking again.
        retry_in: Duration,
    },
}

/// A held acquisition lock, named by its fencing number (larger for a later holder of the same lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLock {
    fence: u64,
}

impl StoreLock {
    /// The lock with fencing number `fence`.
    pub fn new(fence: u64) -> Self {
        Self { fence }
    }

    /// Its fencing number.
    pub fn fence(&self) -> u64 {
        self.fence
    }
}

/// Why a [`TokenStore`] could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenStoreError {
    /// The store could not be reached, or refused the command.
    #[error("the token store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored entry could not be read (corrupt, or written under another key).
    #[error("a stored token could not be read")]
    Unreadable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The default store: tokens in this process's memory, shareable by several caches in one process.
///
/// Its locks expire after 30 seconds, so an acquisition that never completed does not block the others for longer.
#[derive(Default)]
pub struct MemoryTokenStore {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    tokens: HashMap<Resource, AccessToken, ResourceHasher>,
    locks: HashMap<Resource, (u64, Instant), ResourceHasher>,
    next_fence: u64,
}

const MEMORY_LOCK_LIFETIME: Duration = Duration::from_secs(30);
const MEMORY_LOCK_POLL: Duration = Duration::from_millis(20);

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, resource: &Resource) -> Result<Option<AccessToken>, TokenStoreError> {
        Ok(self.state().tokens.get(resource).cloned())
    }

    async fn save(&self, resource: &Resource, token: &AccessToken, lock: &StoreLock) -> Result<(), TokenStoreError> {
        let mut state = self.state();
        let current = state.locks.get(resource).map(|(fence, _)| *fence);
        if current.is_none_or(|fence| fence == lock.fence()) {
            state.tokens.insert(resource.clone(), token.clone());
        }
        Ok(())
    }

    async fn remove(&self, resource: &Resource, rejected: &AccessToken) -> Result<(), TokenStoreError> {
        let mut state = self.state();
        let stored = state.tokens.get(resource);
        if stored.is_some_and(|t| t.secret().expose_secret() == rejected.secret().expose_secret()) {
            state.tokens.remove(resource);
        }
        Ok(())
    }

    async fn lock(&self, resource: &Resource) -> Result<StoreLockOutcome, TokenStoreError> {
        let mut state = self.state();
        let now = Instant::now();
        if let Some((_, until)) = state.locks.get(resource)
            && now < *until
        {
            return Ok(StoreLockOutcome::HeldElsewhere { retry_in: MEMORY_LOCK_POLL });
        }
        state.next_fence += 1;
        let fence = state.next_fence;
        state.locks.insert(resource.clone(), (fence, now + MEMORY_LOCK_LIFETIME));
        Ok(StoreLockOutcome::Acquired(StoreLock::new(fence)))
    }

    async fn unlock(&self, resource: &Resource, lock: StoreLock) -> Result<(), TokenStoreError> {
        let mut state = self.state();
        if state.locks.get(resource).is_some_and(|(fence, _)| *fence == lock.fence()) {
            state.locks.remove(resource);
        }
        Ok(())
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemoryTokenStore")
            .field("tokens", &state.tokens.len())
            .field("locks", &state.locks.len())
            .finish()
    }
}
