//! Client assertions that come from outside: workload identity federation.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::{Error, Result};

/// A source of client assertions (signed JWTs) that Azure AD accepts in place of a secret.
#[async_trait]
pub trait ClientAssertion: Send + Sync + fmt::Debug {
    /// A current assertion. Called on every token acquisition, so a rotating source stays fresh.
    ///
    /// # Errors
    /// [`Error::Credential`] when no assertion can be had.
    async fn assertion(&self) -> Result<SecretString>;
}

/// A federated token in a file, re-read on every acquisition because the platform rotates it
/// (Kubernetes workload identity mounts it and names it in `AZURE_FEDERATED_TOKEN_FILE`).
#[derive(Debug, Clone)]
pub struct FederatedTokenFile {
    path: PathBuf,
}

impl FederatedTokenFile {
    /// A source reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl ClientAssertion for FederatedTokenFile {
    async fn assertion(&self) -> Result<SecretString> {
        let text = tokio::fs::read_to_string(&self.path).await.map_err(|e| {
            Error::credential(
                format!("cannot read the federated token file {}", self.path.display()),
                Some(std::sync::Arc::new(e)),
            )
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(Error::credential(format!("the federated token file {} is empty", self.path.display()), None));
        }
        Ok(SecretString::from(token.to_owned()))
    }
}
