//! The resource a token is for.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::{Error, Result};

/// The resource (audience) a token is requested for, such as `https://contoso.crm.dynamics.com`
/// or `https://graph.microsoft.com`.
///
/// The v1 endpoint sends it as `resource`, the v2 endpoint as the scope `<resource>/.default`.
/// Cloning is cheap.
///
/// ```
/// use aad_auth::Resource;
///
/// let dataverse = Resource::new("https://contoso.crm.dynamics.com")?;
/// assert_eq!(dataverse.default_scope(), "https://contoso.crm.dynamics.com/.default");
///
/// // A v2 scope is refused where a resource is expected...
/// assert!(Resource::new("https://graph.microsoft.com/.default").is_err());
/// // ...but can be converted on purpose.
/// assert_eq!(Resource::from_scope("https://graph.microsoft.com/.default")?.as_str(), "https://graph.microsoft.com");
/// # Ok::<(), aad_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct Resource {
    uri: Arc<str>,
    /// The URI's hash, computed once, so that a cache lookup does not hash the text again.
    hash: u64,
}

const DEFAULT_SCOPE_SUFFIX: &str = "/.default";

impl Resource {
    /// A resource from its URI (`https://…`, `api://…`) or application id GUID.
    ///
    /// # Errors
    /// [`Error::Config`] when the value is empty, contains white space, is not an absolute URI or a GUID,
    /// or is a v2 scope ending in `/.default` (use [`Resource::from_scope`] for those).
    pub fn new(uri: impl AsRef<str>) -> Result<Self> {
        let uri = uri.as_ref();
        if uri.is_empty() {
            return Err(Error::config(
                "resource",
                "it is empty; give the resource URL, such as https://contoso.crm.dynamics.com",
            ));
        }
        if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::config("resource", format!("`{uri}` contains white space")));
        }
        if let Some(stripped) = uri.strip_suffix(DEFAULT_SCOPE_SUFFIX) {
            return Err(Error::config(
                "resource",
                format!(
                    "`{uri}` is a v2 scope, not a resource: give `{stripped}` \
                     (the v2 endpoint appends /.default itself, the v1 endpoint must not get it)"
                ),
            ));
        }
        if !is_absolute_uri(uri) && !is_guid(uri) {
            return Err(Error::config(
                "resource",
                format!(
                    "`{uri}` is not an absolute URI (such as https://contoso.crm.dynamics.com) or an application id"
                ),
            ));
        }
        let mut hasher = std::hash::DefaultHasher::new();
        uri.hash(&mut hasher);
        Ok(Self { uri: Arc::from(uri), hash: hasher.finish() })
    }

    /// A resource from a v2 scope of the form `<resource>/.default`.
    ///
    /// # Errors
    /// [`Error::Config`] when the scope does not end in `/.default` or the rest is not a valid resource.
    pub fn from_scope(scope: impl AsRef<str>) -> Result<Self> {
        let scope = scope.as_ref();
        match scope.strip_suffix(DEFAULT_SCOPE_SUFFIX) {
            Some(resource) => Self::new(resource),
            None => Err(Error::config(
                "scope",
                format!(
                    "`{scope}` does not end in /.default; the client-credentials grant only takes <resource>/.default scopes"
                ),
            )),
        }
    }

    /// The resource URI as given.
    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// The v2 scope for this resource: the URI followed by `/.default`.
    pub fn default_scope(&self) -> String {
        format!("{}{DEFAULT_SCOPE_SUFFIX}", self.uri)
    }
}

impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.uri, &other.uri) || (self.hash == other.hash && self.uri == other.uri)
    }
}

impl Eq for Resource {}

impl Hash for Resource {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Resource {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Resource {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.uri.cmp(&other.uri)
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.uri, f)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

impl AsRef<str> for Resource {
    fn as_ref(&self) -> &str {
        &self.uri
    }
}

/// A hasher for keys that already carry their hash ([`Resource`]): it passes the `u64` through.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if a key hashes more than its precomputed u64; fold the bytes in.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// The `BuildHasher` for maps keyed by [`Resource`].
pub(crate) type ResourceHasher = std::hash::BuildHasherDefault<PrehashedHasher>;

impl std::str::FromStr for Resource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

fn is_absolute_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    let mut scheme_chars = scheme.chars();
    scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !rest.starts_with('/')
}

/// True for the 8-4-4-4-12 hexadecimal form of a GUID.
pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_urls_app_id_uris_and_guids() {
        for ok in [
            "https://contoso.crm.dynamics.com",
            "https://contoso.crm.dynamics.com/",
            "https://graph.microsoft.com",
            "api://my-api",
            "00000007-0000-0000-c000-000000000000",
        ] {
            assert!(Resource::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_non_urls_and_scopes_naming_the_field() {
        for bad in ["", "contoso", "https://", "https:///x", "https://a b", "https://x/.default", "00000000-0000"] {
            let error = Resource::new(bad).unwrap_err();
            assert!(matches!(&error, Error::Config(c) if c.field() == "resource"), "{bad}: {error}");
        }
    }

    #[test]
    fn keeps_a_trailing_slash_in_the_scope() {
        let resource = Resource::new("https://database.windows.net/").unwrap();
        assert_eq!(resource.default_scope(), "https://database.windows.net//.default");
    }

    #[test]
    fn from_scope_requires_the_default_suffix() {
        assert!(Resource::from_scope("https://graph.microsoft.com/User.Read").is_err());
    }
}
