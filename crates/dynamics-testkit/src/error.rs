//! The error type of the emulator's own API (building and seeding), not of the requests it serves.

/// What went wrong while configuring or seeding an [`Emulator`](crate::Emulator).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder setting is unusable, such as an empty tenant id.
    #[error("invalid emulator setting `{setting}`: {reason}")]
    Config {
        /// The setting, such as `tenant_id`.
        setting: &'static str,
        /// Why it is unusable and what to give instead.
        reason: String,
    },
    /// A seed record is not a JSON object, or names an entity set that is not registered.
    #[error("invalid seed for entity set `{entity_set}`: {reason}")]
    Seed {
        /// The entity set the record was meant for.
        entity_set: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A direct change ([`Emulator::update`](crate::Emulator::update)) is not a JSON object, or changes the primary id.
    #[error("invalid change to a record of entity set `{entity_set}`: {reason}")]
    Change {
        /// The entity set of the record.
        entity_set: String,
        /// What is wrong with the change.
        reason: String,
    },
    /// A loopback server could not be started, such as the [`FaultProxy`](crate::FaultProxy):
    /// no port could be bound, or its thread could not start.
    #[error("cannot start a loopback server: {what} failed")]
    Loopback {
        /// The step that failed, such as `binding a port`.
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The result type of the emulator's own API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
