//! The crate's error type.

/// What went wrong setting up or talking to the fleet's Redis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing or wrong (nothing was sent).
    #[error("fleet configuration: {what} {why}")]
    Config {
        /// Which value (`DYNAMICS_FLEET_KEY`, the Redis URL, ...).
        what: &'static str,
        /// What is wrong with it (never the value itself).
        why: String,
    },
    /// Redis could not be reached or refused a command.
    #[error("redis is unavailable")]
    Redis(#[source] redis::RedisError),
    /// A stored value could not be decrypted or read (another key, or corrupt).
    #[error("a stored value could not be read")]
    Unreadable,
}

impl Error {
    pub(crate) fn config(what: &'static str, why: impl Into<String>) -> Self {
        Self::Config { what, why: why.into() }
    }
}

impl From<redis::RedisError> for Error {
    fn from(error: redis::RedisError) -> Self {
        Self::Redis(error)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
