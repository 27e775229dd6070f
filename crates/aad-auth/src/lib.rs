#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aadsts;
mod access_token;
mod audience;
mod cache;
mod clock;
mod error;
mod provider;
mod resource;
#[cfg(feature = "test-util")]
pub mod test_util;
mod token_store;

#[cfg(feature = "client-credentials")]
mod authority;
#[cfg(feature = "client-credentials")]
mod challenge;
#[cfg(feature = "client-credentials")]
mod client_credentials;
#[cfg(feature = "client-credentials")]
mod credential;
#[cfg(feature = "client-credentials")]
mod default_credential;
#[cfg(feature = "client-credentials")]
pub mod env;
#[cfg(feature = "client-credentials")]
mod http_client;
#[cfg(feature = "client-credentials")]
mod http_settings;
mod http_version;
#[cfg(feature = "client-credentials")]
mod managed_identity;
mod retry;
#[cfg(feature = "client-credentials")]
mod token_response;
#[cfg(feature = "client-credentials")]
mod transport_security;

pub use aadsts::hint as aadsts_hint;
pub use access_token::AccessToken;
pub use cache::{RefreshPolicy, TokenCache, TokenCacheBuilder};
pub use clock::{Clock, SystemClock};
pub use error::{
    AudienceError, ChallengeError, ConfigError, CredentialError, DecodeError, Error, ProviderError, Result,
    ServiceError, TransportError,
};
pub use http_version::HttpVersion;
pub use provider::TokenProvider;
pub use resource::Resource;
pub use retry::{Attempts, RetryPolicy};
/// Re-exported so that secrets can be held without depending on `secrecy` directly.
pub use secrecy::{ExposeSecret, SecretString};
pub use token_store::{MemoryTokenStore, StoreLock, StoreLockOutcome, TokenStore, TokenStoreError};

#[cfg(feature = "client-credentials")]
pub use authority::{AuthorityHost, Tenant, TokenEndpoint};
#[cfg(feature = "client-credentials")]
pub use challenge::Challenge;
#[cfg(feature = "client-credentials")]
pub use client_credentials::{ClientAuthentication, ClientCredentialsProvider, ClientCredentialsProviderBuilder};
#[cfg(feature = "client-credentials")]
pub use credential::{AssertionForm, ClientAssertion, ClientCertificate, ClientCredential, FederatedTokenFile};
#[cfg(feature = "client-credentials")]
pub use default_credential::{ChainStep, CredentialSource, DefaultCredential, DefaultCredentialBuilder};
#[cfg(feature = "client-credentials")]
pub use error::ChainError;
#[cfg(feature = "client-credentials")]
pub use managed_identity::{ManagedIdentityProvider, ManagedIdentityProviderBuilder, UserAssignedId};
