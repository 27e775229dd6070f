//! Configuration from the environment, with the variable names Azure Identity uses.
//!
//! The constants name the variables read.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::client_credentials::ClientCredentialsProviderBuilder;
use crate::{ClientCertificate, ClientCredential, ClientCredentialsProvider, Error, Result};

/// `AZURE_TENANT_ID`: the directory (tenant) id.
pub const TENANT_ID: &str = "AZURE_TENANT_ID";
/// `AZURE_CLIENT_ID`: the application (client) id.
pub const CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// `AZURE_CLIENT_SECRET`: a client secret's Value.
pub const CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// `AZURE_CLIENT_CERTIFICATE_PATH`: a PEM or PKCS#12 (`.pfx`) file with the key and certificate.
pub const CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
/// `AZURE_CLIENT_CERTIFICATE_PASSWORD`: the PKCS#12 file's password.
pub const CLIENT_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`: `true` or `1` to send the chain in `x5c`.
pub const CLIENT_SEND_CERTIFICATE_CHAIN: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
/// `AZURE_FEDERATED_TOKEN_FILE`: a workload identity federation token file.
pub const FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// `IDENTITY_ENDPOINT`: the managed identity endpoint set by App Service, Functions, Container Apps and Arc.
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// `IDENTITY_HEADER`: the secret to send in `X-IDENTITY-HEADER` to `IDENTITY_ENDPOINT`.
pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
/// `AZURE_AUTHORITY_HOST`: the sign-in host, such as `https://login.microsoftonline.us`.
pub const AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

impl ClientCredentialsProviderBuilder {
    /// A builder configured from the environment:
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and one credential, looked for in this order:
    /// `AZURE_CLIENT_SECRET`; `AZURE_CLIENT_CERTIFICATE_PATH` (with `AZURE_CLIENT_CERTIFICATE_PASSWORD`
    /// for a PKCS#12 file, and `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`); `AZURE_FEDERATED_TOKEN_FILE`.
    /// `AZURE_AUTHORITY_HOST` is optional.
    /// To fall back to managed identity as well, use [`DefaultCredential`](crate::DefaultCredential).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing variable, or [`Error::Credential`] when the certificate cannot be read.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup` (for tests and for other sources).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use aad_auth::ClientCredentialsProviderBuilder;
    ///
    /// let vars = HashMap::from([
    ///     ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
    ///     ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
    ///     ("AZURE_CLIENT_SECRET", "abc8Q~example"),
    /// ]);
    /// let provider = ClientCredentialsProviderBuilder::from_lookup(|name| vars.get(name).map(|v| v.to_string()))?.build()?;
    /// assert_eq!(provider.client_id(), "11111111-2222-3333-4444-555555555555");
    /// # Ok::<(), aad_auth::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let tenant = get(TENANT_ID).ok_or_else(|| missing(TENANT_ID, "the Directory (tenant) ID"))?;
        let client_id = get(CLIENT_ID).ok_or_else(|| missing(CLIENT_ID, "the Application (client) ID"))?;
        let credential = if let Some(secret) = get(CLIENT_SECRET) {
            ClientCredential::secret(SecretString::from(secret))
        } else if let Some(path) = get(CLIENT_CERTIFICATE_PATH) {
            let password = get(CLIENT_CERTIFICATE_PASSWORD).map(SecretString::from);
            let send_chain =
                get(CLIENT_SEND_CERTIFICATE_CHAIN).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            let certificate =
                ClientCertificate::from_file(PathBuf::from(path), password.as_ref())?.with_chain(send_chain);
            ClientCredential::certificate(certificate)
        } else if let Some(path) = get(FEDERATED_TOKEN_FILE) {
            ClientCredential::federated_token_file(path)
        } else {
            return Err(Error::config(
                CLIENT_SECRET,
                format!(
                    "no credential in the environment: set {CLIENT_SECRET}, {CLIENT_CERTIFICATE_PATH} or {FEDERATED_TOKEN_FILE}"
                ),
            ));
        };
        let builder = ClientCredentialsProvider::builder(tenant, client_id, credential);
        Ok(match get(AUTHORITY_HOST) {
            Some(host) => builder.authority_url(&host),
            None => builder,
        })
    }
}

impl ClientCredentialsProvider {
    /// A provider configured from the environment; see [`ClientCredentialsProviderBuilder::from_env`].
    ///
    /// # Errors
    /// As [`ClientCredentialsProviderBuilder::from_env`] and [`ClientCredentialsProviderBuilder::build`].
    pub fn from_env() -> Result<Self> {
        ClientCredentialsProviderBuilder::from_env()?.build()
    }
}

fn missing(variable: &'static str, what: &str) -> Error {
    Error::config(variable, format!("{variable} is not set; set it to {what} from the app registration's overview"))
}
