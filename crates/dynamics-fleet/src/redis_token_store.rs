//! [`RedisTokenStore`]: tokens shared by a fleet through Redis, encrypted, with a fleet-wide acquisition lock.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aad_auth::{AccessToken, ExposeSecret, Resource, StoreLock, StoreLockOutcome, TokenStore, TokenStoreError};
use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use crate::error::Error;
use crate::fleet_key::FleetKey;

/// Who the tokens are for: the authority host, tenant and client id of the application user.
/// Keys are namespaced by these and the resource, so two applications sharing a Redis never share tokens.
///
/// ```
/// use dynamics_fleet::TokenNamespace;
///
/// let namespace = TokenNamespace::new("login.microsoftonline.com", "contoso.onmicrosoft.com", "00000000-0000-0000-0000-000000000001");
/// # let _ = namespace;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenNamespace {
    key: String,
}

impl TokenNamespace {
    /// The namespace of one application user (client id) in one tenant of one authority.
    pub fn new(authority: impl AsRef<str>, tenant: impl AsRef<str>, client_id: impl AsRef<str>) -> Self {
        let part = |s: &str| s.trim().to_ascii_lowercase().replace(':', "%3A");
        Self { key: format!("{}:{}:{}", part(authority.as_ref()), part(tenant.as_ref()), part(client_id.as_ref())) }
    }
}

/// A [`TokenStore`] in Redis: one acquisition per resource across every worker, tokens sealed with AES-256-GCM.
///
/// - `load` is one `GET`; a stored token expires in Redis `margin` (default 2 minutes) before the token does.
/// - `lock` is `SET NX PX` (in a script, with an `INCR`ed fencing number): a holder that crashed blocks the others
///   for at most the lock's lifetime (default 30 seconds).
/// - `save` writes only while the lock is still the saver's (or free), so a holder whose lock expired
///   does not overwrite the token of the holder after it.
/// - Values are `nonce || ciphertext || tag`, bound to their key name: a reader of Redis sees no token.
///
/// Built by [`Fleet::token_provider`](crate::Fleet::token_provider); build one directly with [`RedisTokenStore::new`].
#[derive(Clone)]
pub struct RedisTokenStore {
    connection: ConnectionManager,
    key: Arc<FleetKey>,
    prefix: String,
    lock_lifetime: Duration,
    margin: Duration,
}

const LOCK_POLL: Duration = Duration::from_millis(50);

const LOCK_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
return {1, fence}
";

const SAVE_SCRIPT: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

const REMOVE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

impl RedisTokenStore {
    /// A store on `connection` for `namespace`, sealing with `key`.
    pub fn new(connection: ConnectionManager, key: Arc<FleetKey>, prefix: &str, namespace: &TokenNamespace) -> Self {
        Self {
            connection,
            key,
            prefix: format!("{prefix}:token:{}", namespace.key),
            lock_lifetime: Duration::from_secs(30),
            margin: Duration::from_secs(120),
        }
    }

    /// How long an acquisition lock lives if its holder never gives it back (default 30 seconds).
    #[must_use]
    pub fn lock_lifetime(mut self, lifetime: Duration) -> Self {
        self.lock_lifetime = lifetime.max(Duration::from_millis(100));
        self
    }

    /// How long before a token's expiry its Redis entry expires (default 2 minutes).
    #[must_use]
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    fn token_key(&self, resource: &Resource) -> String {
        format!("{}:{}", self.prefix, resource.as_str())
    }

    fn lock_key(&self, resource: &Resource) -> String {
        format!("{}:{}:lock", self.prefix, resource.as_str())
    }

    fn fence_key(&self, resource: &Resource) -> String {
        format!("{}:{}:fence", self.prefix, resource.as_str())
    }

    fn seal(&self, key: &str, token: &AccessToken) -> Result<Vec<u8>, TokenStoreError> {
        let millis = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let refresh = token.refresh_on().map(|t| millis(t).to_string()).unwrap_or_default();
        let plain = format!("{}\n{refresh}\n{}", millis(token.expires_on()), token.secret().expose_secret());
        self.key.seal(key.as_bytes(), plain.as_bytes()).map_err(unreadable)
    }

    fn open(&self, key: &str, sealed: &[u8]) -> Result<AccessToken, TokenStoreError> {
        let plain = self.key.open(key.as_bytes(), sealed).map_err(unreadable)?;
        let plain = String::from_utf8(plain).map_err(|_| unreadable(Error::Unreadable))?;
        let mut parts = plain.splitn(3, '\n');
        let time = |text: Option<&str>| -> Option<SystemTime> {
            text.filter(|t| !t.is_empty())
                .and_then(|t| t.parse::<u64>().ok())
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
        };
        let expires_on = time(parts.next()).ok_or_else(|| unreadable(Error::Unreadable))?;
        let refresh_on = time(parts.next());
        let secret = parts.next().ok_or_else(|| unreadable(Error::Unreadable))?;
        let token = AccessToken::new(secret, expires_on);
        Ok(match refresh_on {
            Some(refresh_on) => token.with_refresh_on(refresh_on),
            None => token,
        })
    }
}

fn unavailable(error: redis::RedisError) -> TokenStoreError {
    TokenStoreError::Unavailable(Box::new(Error::Redis(error)))
}

fn unreadable(error: Error) -> TokenStoreError {
    TokenStoreError::Unreadable(Box::new(error))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl TokenStore for RedisTokenStore {
    async fn load(&self, resource: &Resource) -> Result<Option<AccessToken>, TokenStoreError> {
        let key = self.token_key(resource);
        let mut connection = self.connection.clone();
        let sealed: Option<Vec<u8>> =
            redis::cmd("GET").arg(&key).query_async(&mut connection).await.map_err(unavailable)?;
        match sealed {
            None => Ok(None),
            Some(sealed) => match self.open(&key, &sealed) {
                Ok(token) if !token.is_expired_at(SystemTime::now()) => Ok(Some(token)),
                Ok(_) => Ok(None),
                Err(error) => {
                    // Written under another key (a rotated DYNAMICS_FLEET_KEY): treat as missing.
                    tracing::warn!(error = %error, "a stored token could not be opened; acquiring a new one");
                    Ok(None)
                }
            },
        }
    }

    async fn save(&self, resource: &Resource, token: &AccessToken, lock: &StoreLock) -> Result<(), TokenStoreError> {
        let remaining = token.remaining_at(SystemTime::now());
        let Some(ttl) = remaining.checked_sub(self.margin).filter(|ttl| !ttl.is_zero()) else {
            return Ok(());
        };
        let key = self.token_key(resource);
        let sealed = self.seal(&key, token)?;
        let mut connection = self.connection.clone();
        let _: i64 = Script::new(SAVE_SCRIPT)
            .key(self.lock_key(resource))
            .key(&key)
            .arg(lock.fence())
            .arg(sealed)
            .arg(millis(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn remove(&self, resource: &Resource, rejected: &AccessToken) -> Result<(), TokenStoreError> {
        let key = self.token_key(resource);
        let mut connection = self.connection.clone();
        let sealed: Option<Vec<u8>> =
            redis::cmd("GET").arg(&key).query_async(&mut connection).await.map_err(unavailable)?;
        let Some(sealed) = sealed else { return Ok(()) };
        let is_rejected = self
            .open(&key, &sealed)
            .is_ok_and(|stored| stored.secret().expose_secret() == rejected.secret().expose_secret());
        if is_rejected {
            let _: i64 = Script::new(REMOVE_SCRIPT)
                .key(&key)
                .arg(sealed)
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn lock(&self, resource: &Resource) -> Result<StoreLockOutcome, TokenStoreError> {
        let mut connection = self.connection.clone();
        let (acquired, value): (i64, i64) = Script::new(LOCK_SCRIPT)
            .key(self.lock_key(resource))
            .key(self.fence_key(resource))
            .arg(millis(self.lock_lifetime))
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(if acquired == 1 {
            StoreLockOutcome::Acquired(StoreLock::new(u64::try_from(value).unwrap_or_default()))
        } else {
            let left = Duration::from_millis(u64::try_from(value).unwrap_or_default());
            StoreLockOutcome::HeldElsewhere { retry_in: LOCK_POLL.min(left.max(Duration::from_millis(5))) }
        })
    }

    async fn unlock(&self, resource: &Resource, lock: StoreLock) -> Result<(), TokenStoreError> {
        let mut connection = self.connection.clone();
        let _: i64 = Script::new(UNLOCK_SCRIPT)
            .key(self.lock_key(resource))
            .arg(lock.fence())
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("prefix", &self.prefix)
            .field("lock_lifetime", &self.lock_lifetime)
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}
