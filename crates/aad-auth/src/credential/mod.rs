//! What an app registration proves itself with: a secret, a certificate, or a federated assertion.

mod assertion;
mod certificate;
mod jwt;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

pub use assertion::{ClientAssertion, FederatedTokenFile};
pub use certificate::{AssertionForm, ClientCertificate};

use crate::resource::is_guid;
use crate::{Error, Result};

/// The credential of an app registration, for the client-credentials grant.
///
/// ```
/// use aad_auth::{ClientCredential, SecretString};
///
/// let credential = ClientCredential::secret(SecretString::from("abc8Q~not-a-real-secret"));
/// assert!(!format!("{credential:?}").contains("abc8Q"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret (the secret's Value, not its Secret ID).
    Secret(SecretString),
    /// An X.509 certificate whose key signs a client assertion.
    Certificate(ClientCertificate),
    /// A client assertion from elsewhere, such as a workload identity federation token file.
    Assertion(Arc<dyn ClientAssertion>),
}

impl ClientCredential {
    /// A client secret.
    pub fn secret(secret: SecretString) -> Self {
        Self::Secret(secret)
    }

    /// A certificate.
    pub fn certificate(certificate: ClientCertificate) -> Self {
        Self::Certificate(certificate)
    }

    /// A federated token read from `path` on every acquisition (it rotates),
    /// as with `AZURE_FEDERATED_TOKEN_FILE` in Kubernetes workload identity.
    pub fn federated_token_file(path: impl Into<PathBuf>) -> Self {
        Self::Assertion(Arc::new(FederatedTokenFile::new(path)))
    }

    /// Any client assertion source.
    pub fn assertion(source: impl ClientAssertion + 'static) -> Self {
        Self::Assertion(Arc::new(source))
    }

    /// Refuses credentials that cannot work, before anything is sent.
    pub(crate) fn validate(&self) -> Result<()> {
        if let Self::Secret(secret) = self {
            let value = secret.expose_secret().trim();
            if value.is_empty() {
                return Err(Error::config("client_secret", "it is empty"));
            }
            if is_guid(value) {
                return Err(Error::config(
                    "client_secret",
                    "this looks like the secret's Secret ID (a GUID), not its Value: \
                     copy the Value column from Certificates & secrets (it is shown only once, \
                     so create a new secret if you no longer have it)",
                ));
            }
        }
        Ok(())
    }

    /// The kind of credential, for logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Secret(_) => "client_secret",
            Self::Certificate(_) => "certificate",
            Self::Assertion(_) => "client_assertion",
        }
    }
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([REDACTED])"),
            Self::Certificate(certificate) => f.debug_tuple("Certificate").field(certificate).finish(),
            Self::Assertion(source) => f.debug_tuple("Assertion").field(source).finish(),
        }
    }
}
