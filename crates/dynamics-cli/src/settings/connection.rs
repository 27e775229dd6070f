//! The token provider and Web API client a command talks through.

use std::sync::Arc;

use aad_auth::{ClientCredentialsProvider, Resource, TokenCache};
use dynamics_webapi::{Client, RetryPolicy};

use crate::error::{Error, Result};
use crate::settings::config::Settings;

/// A provider and a client for the configured org.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) tokens: Arc<TokenCache>,
}

impl Connection {
    /// Connects with `settings` (nothing is sent yet).
    pub(crate) fn open(settings: &Settings) -> Result<Self> {
        let url = settings.require_url()?;
        let provider = settings.provider()?;
        Self::with_provider(&url.value, provider, settings.retries).map_err(|error| match error {
            Error::Api(dynamics_webapi::Error::Config(config)) => Error::usage_with_hint(
                format!("{} ({})", config, url.origin),
                "give the org URL as https://<org>.crm.dynamics.com (the Environment URL in the Power Platform admin center)",
            ),
            other => other,
        })
    }

    /// Connects to `url` with `provider`.
    pub(crate) fn with_provider(url: &str, provider: ClientCredentialsProvider, retries: Option<u32>) -> Result<Self> {
        let tokens = Arc::new(TokenCache::new(provider));
        let retry = RetryPolicy::default().max_attempts(retries.unwrap_or(5).saturating_add(1));
        let client = Client::builder(url, tokens.clone())
            .retry_policy(retry)
            .user_agent(concat!("dynamics-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, tokens })
    }

    /// The resource tokens are for (the org URL without a trailing slash).
    pub(crate) fn resource(&self) -> &Resource {
        self.client.resource()
    }
}
