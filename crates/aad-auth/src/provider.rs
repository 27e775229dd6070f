//! The `TokenProvider` trait that joins token sources to the clients that need tokens.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{AccessToken, Resource, Result};

/// Something that can produce an access token for a resource.
///
/// This is the one seam between authentication and the clients that use it:
/// the Dataverse client takes an `Arc<dyn TokenProvider>` and never names a concrete provider,
/// so the providers of this crate, a [`TokenCache`](crate::TokenCache) around them,
/// or a provider of your own all plug in.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use aad_auth::{AccessToken, Resource, TokenProvider};
///
/// /// Hands out a token read from a vault.
/// #[derive(Debug)]
/// struct FromVault;
///
/// #[async_trait::async_trait]
/// impl TokenProvider for FromVault {
///     async fn token(&self, _resource: &Resource) -> aad_auth::Result<AccessToken> {
///         let expires_on = SystemTime::now() + Duration::from_secs(600);
///         Ok(AccessToken::new("token-from-vault", expires_on))
///     }
/// }
/// ```
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A token for `resource` that is valid now.
    ///
    /// # Errors
    /// Whatever stopped the provider from getting one; see [`Error`](crate::Error).
    async fn token(&self, resource: &Resource) -> Result<AccessToken>;

    /// Tells the provider that the resource rejected `rejected` (an HTTP 401),
    /// so that the next call gets a new token instead of a cached one.
    /// Providers without a cache ignore it.
    fn invalidate(&self, resource: &Resource, rejected: &AccessToken) {
        let _ = (resource, rejected);
    }
}

/// The future [`TokenProvider::token`] returns, as `async_trait` spells it.
type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<AccessToken>> + Send + 'a>>;

// The forwarding impls hand back the inner provider's future as it is: written with `#[async_trait]`,
// they would box a second future around it on every call.
impl<P: TokenProvider + ?Sized> TokenProvider for Arc<P> {
    fn token<'life0, 'life1, 'async_trait>(&'life0 self, resource: &'life1 Resource) -> TokenFuture<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        (**self).token(resource)
    }

    fn invalidate(&self, resource: &Resource, rejected: &AccessToken) {
        (**self).invalidate(resource, rejected);
    }
}

impl<P: TokenProvider + ?Sized> TokenProvider for Box<P> {
    fn token<'life0, 'life1, 'async_trait>(&'life0 self, resource: &'life1 Resource) -> TokenFuture<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        (**self).token(resource)
    }

    fn invalidate(&self, resource: &Resource, rejected: &AccessToken) {
        (**self).invalidate(resource, rejected);
    }
}
