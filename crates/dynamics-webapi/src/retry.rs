//! Which requests may be sent again after a failure that leaves their outcome unknown.
//!
//! How often and after what waits is the [`RetryPolicy`](aad_auth::RetryPolicy), the one policy of the workspace
//! (re-exported as `dynamics_webapi::RetryPolicy`). What the client retries:
//! - a 429 after its `Retry-After`, every request (Dataverse refused it, nothing ran);
//! - server errors (502, 503, 504), timeouts and dropped connections only for requests that are safe to repeat:
//!   reads, updates with `If-Match`, upserts, deletes, and creates that carry their own primary key;
//! - a connection that could not be opened, every request (nothing was sent);
//! - the transient SQL errors (a deadlock or a timeout, see `transport::judge`) for requests safe to repeat;
//! - a 401 once, with a new token.
//!
//! A repeat that finds its work already done (a keyed or create-only create's "already exists", a delete's 404)
//! counts as the success of the attempt before it.

/// Whether a request may be sent again after a failure that leaves its outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads, `If-Match` updates, upserts, deletes: repeating gives the same result.
    Safe,
    /// A create that carries its own primary key (or a create-only `PATCH`): a repeat that finds the record
    /// means the first one worked.
    KeyedCreate,
    /// Plain creates and actions: repeated only when the server refused them (429).
    OnlyIfRefused,
}
