//! [`DeltaLink`]: where the next sync starts, saved between runs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `@odata.deltaLink` a sync ended with, and the preferences to send with it.
///
/// It serialises (serde), so a sync stores it (in a file, a database row) and resumes with
/// [`Client::changes_since`](crate::Client::changes_since).
///
/// ```
/// use dynamics_webapi::change_tracking::DeltaLink;
///
/// let link = DeltaLink::from_url("https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$deltatoken=919042%2108");
/// let saved = serde_json::to_string(&link)?;
/// assert_eq!(saved, r#"{"url":"https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$deltatoken=919042%2108"}"#);
/// assert_eq!(serde_json::from_str::<DeltaLink>(&saved)?, link);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaLink {
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prefer: Option<String>,
}

impl DeltaLink {
    /// A link from its URL, as the server sent it.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self { url: url.into(), prefer: None }
    }

    /// The URL (it carries the `$deltatoken`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `Prefer` header sent with it (page size, annotations), if any.
    pub fn prefer(&self) -> Option<&str> {
        self.prefer.as_deref()
    }

    pub(crate) fn with_prefer(url: String, prefer: Option<String>) -> Self {
        Self { url, prefer }
    }
}

impl fmt::Debug for DeltaLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is not a secret, but it is long; the start of the URL is what helps.
        let shown = self.url.split("$deltatoken=").next().unwrap_or_default();
        f.debug_struct("DeltaLink")
            .field("url", &format!("{shown}$deltatoken=…"))
            .field("prefer", &self.prefer)
            .finish()
    }
}
