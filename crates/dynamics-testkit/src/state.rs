//! The state the emulator's servers share: fixed configuration plus everything that changes, behind one lock.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use uuid::Uuid;

use crate::faults::FaultPlan;
use crate::journal::{Counters, JournalEntry};
use crate::webapi::store::Store;

/// Settings fixed when the emulator starts. `Debug` leaves out the secret and the signing key.
pub(crate) struct Config {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// The org URL without a trailing slash, such as `http://127.0.0.1:40123`.
    pub(crate) org_url: String,
    /// The authority host without a trailing slash.
    pub(crate) authority_host: String,
    /// Resources other than the org that tokens may be issued for (they are refused by the Web API).
    pub(crate) extra_resources: HashSet<String>,
    /// The application user's `systemuserid`.
    pub(crate) user_id: Uuid,
    pub(crate) business_unit_id: Uuid,
    pub(crate) organization_id: Uuid,
    /// The service principal's object id in the tenant (the token's `oid`).
    pub(crate) object_id: Uuid,
    pub(crate) token_lifetime: Duration,
    pub(crate) page_size: usize,
    /// The HMAC-SHA256 key tokens are signed with.
    pub(crate) signing_key: [u8; 32],
    pub(crate) roles: Vec<String>,
    /// The most targets a bulk action (`CreateMultiple`, …) takes; more answer "Message size exceeded".
    pub(crate) max_bulk_targets: Option<usize>,
    /// The largest bulk action body in bytes; a larger one answers "Message size exceeded".
    pub(crate) max_bulk_bytes: Option<usize>,
    /// The `x-ms-chunk-size` a file column's upload session asks for.
    pub(crate) file_chunk_size: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("org_url", &self.org_url)
            .field("authority_host", &self.authority_host)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// An access token the emulator issued.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) audience: String,
    /// Unix seconds.
    pub(crate) expires_on: i64,
}

/// Everything that changes while the emulator runs. `Debug` counts the issued tokens, never shows them.
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) tokens: HashMap<String, IssuedToken>,
    pub(crate) faults: FaultPlan,
    pub(crate) journal: Vec<JournalEntry>,
    pub(crate) counters: Counters,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("tokens", &self.tokens.len())
            .field("faults", &self.faults)
            .field("journal", &self.journal.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// What both servers and every handle hold (in an `Arc`).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: Config, state: State) -> Self {
        Self { config, state: Mutex::new(state) }
    }

    /// Locks the state. A panic while it was held (a bug) does not make the emulator unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
