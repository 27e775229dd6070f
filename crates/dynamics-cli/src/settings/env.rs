//! The environment variables a run reads, injected so that tests never touch the process environment.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;

/// `DATAVERSE_URL`: the org URL, such as `https://contoso.crm.dynamics.com`.
pub const DATAVERSE_URL: &str = "DATAVERSE_URL";
/// `DYNAMICS_CONFIG`: the profile file to read instead of the platform's default.
pub const DYNAMICS_CONFIG: &str = "DYNAMICS_CONFIG";
/// `DYNAMICS_TOKEN_ENDPOINT`: the Azure AD token endpoint, `v1` or `v2` (the default), when `--endpoint` is not given.
pub const DYNAMICS_TOKEN_ENDPOINT: &str = "DYNAMICS_TOKEN_ENDPOINT";
/// `DYNAMICS_PROFILE`: the profile to use when `--profile` is not given.
pub const DYNAMICS_PROFILE: &str = "DYNAMICS_PROFILE";

/// A set of environment variables.
///
/// `Debug` lists the names only: values may be secrets.
///
/// ```
/// use dynamics_cli::Env;
///
/// let env = Env::new().with("DATAVERSE_URL", "https://contoso.crm.dynamics.com").with("EMPTY", " ");
/// assert_eq!(env.get("DATAVERSE_URL"), Some("https://contoso.crm.dynamics.com"));
/// assert_eq!(env.get("EMPTY"), None);
/// ```
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The variables of this process (those whose name and value are valid Unicode).
    pub fn from_process() -> Self {
        std::env::vars_os()
            .filter_map(|(name, value): (OsString, OsString)| {
                Some((name.into_string().ok()?, value.into_string().ok()?))
            })
            .collect()
    }

    /// The same environment with `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// The same environment without `name`.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self
    }

    /// The value of `name`, unless unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|value| !value.trim().is_empty())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self { vars: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env").field("names", &self.vars.keys().collect::<Vec<_>>()).finish()
    }
}
