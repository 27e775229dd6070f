//! Named profiles in a TOML config file.
//!
//! The file is `DYNAMICS_CONFIG` when set, otherwise `dynamics/config.toml` in the platform's config folder:
//! `$XDG_CONFIG_HOME` or `~/.config` on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
//!
//! ```toml
//! [profiles.contoso-dev]
//! url = "https://contoso-dev.crm.dynamics.com"
//! tenant = "contoso.onmicrosoft.com"
//! client_id = "11111111-2222-3333-4444-555555555555"
//! client_secret_file = "/home/me/.secrets/contoso-dev"
//! ```
//!
//! A profile never holds a secret itself: it names a file (`client_secret_file`, `client_certificate_path`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::settings::env::{DYNAMICS_CONFIG, Env};

/// One profile's values; every field is optional and overrides the environment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    pub(crate) url: Option<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret_file: Option<PathBuf>,
    pub(crate) client_certificate_path: Option<String>,
    pub(crate) authority_host: Option<String>,
    /// `v1` or `v2`.
    pub(crate) token_endpoint: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// The config file's path, from `DYNAMICS_CONFIG` or the platform's config folder.
pub(crate) fn config_path(env: &Env) -> Option<PathBuf> {
    if let Some(path) = env.get(DYNAMICS_CONFIG) {
        return Some(PathBuf::from(path));
    }
    let base = if cfg!(windows) {
        env.get("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        env.get("HOME").map(|home| Path::new(home).join("Library").join("Application Support"))
    } else {
        env.get("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| env.get("HOME").map(|h| Path::new(h).join(".config")))
    };
    base.map(|base| base.join("dynamics").join("config.toml"))
}

/// Reads the profile `name` from the config file.
pub(crate) fn load(env: &Env, name: &str) -> Result<(Profile, PathBuf)> {
    let Some(path) = config_path(env) else {
        return Err(Error::usage_with_hint(
            format!("profile `{name}` asked for, but no config file location is known"),
            "set DYNAMICS_CONFIG to the profile file's path",
        ));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::io(format!("profile `{name}` asked for, but the config file {} cannot be read", path.display()), e)
    })?;
    let profiles = parse(&text).map_err(|what| Error::input(format!("the config file {}: {what}", path.display())))?;
    match profiles.get(name) {
        Some(profile) => Ok((profile.clone(), path)),
        None => {
            let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
            Err(Error::usage_with_hint(
                format!("no profile `{name}` in {}", path.display()),
                if known.is_empty() {
                    "add a [profiles.NAME] table to the file".to_owned()
                } else {
                    format!("the file has: {}", known.join(", "))
                },
            ))
        }
    }
}

fn parse(text: &str) -> std::result::Result<BTreeMap<String, Profile>, String> {
    let raw: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    if let Some(toml::Value::Table(profiles)) = raw.get("profiles") {
        for (name, profile) in profiles {
            if profile.as_table().is_some_and(|t| t.contains_key("client_secret")) {
                return Err(format!(
                    "profile `{name}` has client_secret: a secret is never kept in the profile file; \
                     use client_secret_file, AZURE_CLIENT_SECRET or --client-secret-stdin"
                ));
            }
        }
    }
    let file: ConfigFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    Ok(file.profiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_named_profiles() {
        let profiles = parse(
            r#"
            [profiles.dev]
            url = "https://dev.crm.dynamics.com"
            client_id = "11111111-2222-3333-4444-555555555555"
            [profiles.prod]
            tenant = "contoso.onmicrosoft.com"
            "#,
        )
        .unwrap();
        assert_eq!(profiles["dev"].url.as_deref(), Some("https://dev.crm.dynamics.com"));
        assert_eq!(profiles["prod"].tenant.as_deref(), Some("contoso.onmicrosoft.com"));
    }

    #[test]
    fn refuses_a_secret_in_the_file_and_unknown_keys() {
        let error = parse("[profiles.dev]\nclient_secret = \"abc\"\n").unwrap_err();
        assert!(error.contains("never kept in the profile file"), "{error}");
        assert!(!error.contains("abc"));
        assert!(parse("[profiles.dev]\nurll = \"x\"\n").unwrap_err().contains("urll"));
    }

    #[test]
    fn the_config_path_follows_the_environment() {
        let env = Env::new().with(DYNAMICS_CONFIG, "/tmp/x.toml");
        assert_eq!(config_path(&env), Some(PathBuf::from("/tmp/x.toml")));
        if cfg!(all(unix, not(target_os = "macos"))) {
            let env = Env::new().with("HOME", "/home/me");
            assert_eq!(config_path(&env), Some(PathBuf::from("/home/me/.config/dynamics/config.toml")));
            let env = env.with("XDG_CONFIG_HOME", "/xdg");
            assert_eq!(config_path(&env), Some(PathBuf::from("/xdg/dynamics/config.toml")));
        }
    }
}
