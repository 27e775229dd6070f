//! Shared helpers: the real `aad-auth` provider and `dynamics-webapi` client, pointed at an emulator.

#![allow(dead_code, unreachable_pub, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aad_auth::{ClientCredential, ClientCredentialsProvider, SecretString, TokenEndpoint};
use dynamics_testkit::Emulator;
use dynamics_webapi::{Client, RetryPolicy};

/// The real client-credentials provider, configured with the emulator's tenant, client and secret.
pub fn provider(emulator: &Emulator, endpoint: TokenEndpoint) -> ClientCredentialsProvider {
    provider_with_secret(emulator, endpoint, emulator.client_secret())
}

/// As [`provider`], with another secret.
pub fn provider_with_secret(emulator: &Emulator, endpoint: TokenEndpoint, secret: &str) -> ClientCredentialsProvider {
    ClientCredentialsProvider::builder(
        emulator.tenant_id(),
        emulator.client_id(),
        ClientCredential::secret(SecretString::from(secret.to_owned())),
    )
    .authority_url(&emulator.authority_host())
    .endpoint(endpoint)
    .build()
    .expect("the emulator's settings make a valid provider")
}

/// The real Web API client on the emulator's org, with quick retries.
pub fn client(emulator: &Emulator) -> Client {
    let tokens = Arc::new(provider(emulator, TokenEndpoint::V2));
    Client::builder(emulator.org_url(), tokens)
        .retry_policy(
            RetryPolicy::default().initial_backoff(Duration::from_millis(5)).max_backoff(Duration::from_millis(50)),
        )
        .build()
        .expect("the emulator's org URL makes a valid client")
}

/// A document from the shared real-data folder (`../shared/realdata` beside the checkout), read in place.
/// Fails loudly when the folder is missing: these tests compare the emulator with what real servers sent.
pub fn realdata(path: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata");
    assert!(dir.is_dir(), "the shared real-data folder is missing at {}: these tests read it in place", dir.display());
    let full = dir.join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read real document {}: {e}", full.display()))
}

/// A bearer header value for the emulator's org, from the real provider.
pub async fn bearer(emulator: &Emulator) -> String {
    use aad_auth::{ExposeSecret, Resource, TokenProvider};
    let resource = Resource::new(emulator.org_url()).expect("the org URL is a resource");
    let token = provider(emulator, TokenEndpoint::V2).token(&resource).await.expect("a token");
    format!("Bearer {}", token.secret().expose_secret())
}
