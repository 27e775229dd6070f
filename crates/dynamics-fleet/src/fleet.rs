//! [`Fleet`]: one connection to the fleet's Redis, handing out shared token caches and pacers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aad_auth::{TokenCache, TokenProvider};
use dynamics_webapi::pacer::Pacer;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{Error, Result};
use crate::fleet_key::FleetKey;
use crate::redis_pacer::RedisPacerBuilder;
use crate::redis_token_store::{RedisTokenStore, TokenNamespace};

/// The variable that holds the Redis URL (`redis://host:6379/0`; `rediss://` needs a TLS feature this crate
/// does not enable).
pub const URL_VARIABLE: &str = "DYNAMICS_FLEET_REDIS_URL";

/// A connection to the fleet's Redis (reconnecting by itself), from which each worker takes its shared token
/// cache and pacer. Cloning is cheap.
///
/// ```no_run
/// use std::sync::Arc;
/// use dynamics_fleet::{Fleet, FleetKey, TokenNamespace};
///
/// # async fn run(provider: Arc<dyn aad_auth::TokenProvider>) -> dynamics_fleet::Result<()> {
/// let fleet = Fleet::connect("redis://127.0.0.1:6379", FleetKey::from_env()?).await?;
/// let namespace = TokenNamespace::new("login.microsoftonline.com", "contoso.onmicrosoft.com", "my-client-id");
/// let tokens = fleet.token_provider(provider, &namespace); // Arc<dyn TokenProvider>, cached
/// let pacer = fleet.pacer("https://contoso.crm.dynamics.com", "my-client-id"); // Arc<dyn Pacer>
/// # let _ = (tokens, pacer); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Fleet {
    connection: ConnectionManager,
    key: Arc<FleetKey>,
    prefix: String,
}

/// Configures a [`Fleet`] before connecting.
#[must_use]
#[derive(Debug)]
pub struct FleetBuilder {
    url: String,
    key: Option<FleetKey>,
    prefix: String,
    timeout: Duration,
}

impl FleetBuilder {
    /// The key tokens are sealed with (default: read from `DYNAMICS_FLEET_KEY` at [`connect`](Self::connect)).
    pub fn key(mut self, key: FleetKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The prefix of every key the fleet writes (default `dynamics-fleet`): fleets sharing a Redis but
    /// not a budget use different prefixes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting and each command may take (default 500 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad URL or key, [`Error::Redis`] when Redis cannot be reached now.
    pub async fn connect(self) -> Result<Fleet> {
        let key = match self.key {
            Some(key) => key,
            None => FleetKey::from_env()?,
        };
        let client =
            redis::Client::open(self.url.as_str()).map_err(|_| Error::config(URL_VARIABLE, "is not a redis:// URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Fleet { connection, key: Arc::new(key), prefix: self.prefix })
    }
}

impl Fleet {
    /// Starts configuring a fleet on the Redis at `url`.
    pub fn builder(url: impl Into<String>) -> FleetBuilder {
        FleetBuilder {
            url: url.into(),
            key: None,
            prefix: "dynamics-fleet".to_owned(),
            timeout: Duration::from_millis(500),
        }
    }

    /// Connects to the Redis at `url`, sealing tokens with `key`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad URL, [`Error::Redis`] when Redis cannot be reached now.
    pub async fn connect(url: &str, key: FleetKey) -> Result<Self> {
        Self::builder(url).key(key).connect().await
    }

    /// Connects to `DYNAMICS_FLEET_REDIS_URL` with the key in `DYNAMICS_FLEET_KEY`.
    ///
    /// # Errors
    /// [`Error::Config`] when a variable is missing or wrong, [`Error::Redis`] when Redis cannot be reached.
    pub async fn from_env() -> Result<Self> {
        let url = std::env::var(URL_VARIABLE)
            .map_err(|_| Error::config(URL_VARIABLE, "is not set (such as redis://127.0.0.1:6379)"))?;
        Self::builder(url).connect().await
    }

    /// The shared token store of one application user (see [`RedisTokenStore`]).
    pub fn token_store(&self, namespace: &TokenNamespace) -> RedisTokenStore {
        RedisTokenStore::new(self.connection.clone(), Arc::clone(&self.key), &self.prefix, namespace)
    }

    /// `provider` behind a [`TokenCache`] over the fleet's store: one acquisition per resource across the fleet.
    /// Give it to `ClientBuilder` with `provider_caches_tokens()`, so the client does not wrap it again.
    pub fn token_provider(
        &self,
        provider: Arc<dyn TokenProvider>,
        namespace: &TokenNamespace,
    ) -> Arc<dyn TokenProvider> {
        Arc::new(TokenCache::builder(provider).store(Arc::new(self.token_store(namespace))).build())
    }

    /// A pacer shared by every worker of `org` (its URL) and `application_user` (its client id), with defaults.
    pub fn pacer(&self, org: &str, application_user: &str) -> Arc<dyn Pacer> {
        Arc::new(self.pacer_builder(org, application_user).build())
    }

    /// Configures the pacer of `org` and `application_user` (see [`RedisPacerBuilder`]).
    pub fn pacer_builder(&self, org: &str, application_user: &str) -> RedisPacerBuilder {
        RedisPacerBuilder::new(self.connection.clone(), &self.prefix, org, application_user)
    }
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}
