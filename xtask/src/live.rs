//! `--org URL`: `$metadata` and option sets read from a live org, with credentials from the
//! `AZURE_*` environment (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`).

use std::sync::Arc;
use std::time::Instant;

use aad_auth::TokenProvider;
use dynamics_codegen::{CsdlDocument, OptionSets};
use dynamics_webapi::Client;

/// A client for the org, and the runtime its requests run on.
pub(crate) struct Org {
    url: String,
    client: Client,
    runtime: tokio::runtime::Runtime,
}

impl Org {
    /// Connects with credentials from the environment.
    pub(crate) fn from_env(url: &str) -> Result<Self, String> {
        let tokens = aad_auth::ClientCredentialsProvider::from_env()
            .map_err(|e| format!("credentials: {}", crate::gen_entities::describe(&e)))?;
        Self::with_tokens(url, Arc::new(tokens))
    }

    /// Connects with the given token provider.
    pub(crate) fn with_tokens(url: &str, tokens: Arc<dyn TokenProvider>) -> Result<Self, String> {
        let client = Client::builder(url, tokens).build().map_err(|e| format!("{url}: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start tokio: {e}"))?;
        Ok(Self { url: url.trim_end_matches('/').to_owned(), client, runtime })
    }

    /// The label generated files name as their input.
    pub(crate) fn metadata_label(&self) -> String {
        format!("{}/api/data/v9.2/$metadata", self.url)
    }

    /// The org's `$metadata` document.
    pub(crate) fn metadata(&self) -> Result<String, String> {
        let started = Instant::now();
        let text = self.runtime.block_on(self.client.metadata_document()).map_err(|e| format!("GET $metadata: {e}"))?;
        eprintln!("gen-entities: downloaded $metadata ({} KB) in {:.1?}", text.len() / 1024, started.elapsed());
        Ok(text)
    }

    /// The option sets of the requested entities (all with an entity set when `None`).
    pub(crate) fn option_sets(
        &self,
        document: &CsdlDocument,
        requested: Option<&[String]>,
    ) -> Result<OptionSets, String> {
        let started = Instant::now();
        let mut sets = OptionSets::new();
        let entities: Vec<&str> = match requested {
            Some(names) => names.iter().map(String::as_str).filter(|n| document.entity_set(n).is_some()).collect(),
            None => document.entity_names().collect(),
        };
        for (i, entity) in entities.iter().enumerate() {
            let json = self
                .runtime
                .block_on(self.client.option_set_metadata(entity))
                .map_err(|e| format!("option sets of `{entity}`: {e}"))?;
            let label = format!("{} option sets of {entity}", self.url);
            sets.merge(OptionSets::from_json(&json.to_string(), label).map_err(|e| crate::gen_entities::describe(&e))?);
            if (i + 1) % 25 == 0 {
                eprintln!(
                    "gen-entities: option sets of {}/{} entities ({:.1?})",
                    i + 1,
                    entities.len(),
                    started.elapsed()
                );
            }
        }
        eprintln!("gen-entities: read {} choice columns in {:.1?}", sets.len(), started.elapsed());
        Ok(sets)
    }
}
