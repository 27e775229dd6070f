//! One handler per request shape, each working on the locked state through a [`Ctx`].
//!
//! Records ([`records`], with [`expand`] and [`formatted`] shaping what they return, [`fetch_xml`] and
//! [`change_tracking`] for the reads that take those), `$batch` ([`batch`]), bulk actions ([`bulk`]),
//! operations by name ([`operations`]), `$metadata` and the service document ([`metadata`]), table definitions
//! ([`entity_definition`]), file and image columns ([`file_column`]), and the application user's privileges ([`guard`]).
//! Handlers import the store and the OData layer, never the dispatcher; `$batch` is handed the dispatcher to run its parts.

pub(crate) mod batch;
pub(crate) mod bulk;
pub(crate) mod change_tracking;
pub(crate) mod entity_definition;
pub(crate) mod expand;
pub(crate) mod fetch_xml;
pub(crate) mod file_column;
pub(crate) mod formatted;
pub(crate) mod guard;
pub(crate) mod metadata;
pub(crate) mod operations;
pub(crate) mod records;

use crate::state::{Config, State};

/// What a handler works with: the fixed settings and the state (already locked).
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a Config,
    pub(crate) state: &'a mut State,
}

impl Ctx<'_> {
    /// The service root URL, `<org>/api/data/v9.2/`.
    pub(crate) fn service_root(&self) -> String {
        format!("{}/api/data/v9.2/", self.config.org_url)
    }
}
