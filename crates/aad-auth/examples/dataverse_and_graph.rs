//! One credential from the environment, tokens for Dataverse and for Microsoft Graph.
//!
//! ```sh
//! export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...
//! export DATAVERSE_URL=https://contoso.crm.dynamics.com
//! cargo run -p aad-auth --example dataverse_and_graph
//! ```

use aad_auth::{ClientCredentialsProvider, Resource, TokenCache, TokenProvider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let org = std::env::var("DATAVERSE_URL")
        .map_err(|_| "set DATAVERSE_URL to your org, such as https://contoso.crm.dynamics.com")?;
    let tokens = TokenCache::new(ClientCredentialsProvider::from_env()?);

    for resource in [Resource::new(org)?, Resource::new("https://graph.microsoft.com")?] {
        match tokens.token(&resource).await {
            Ok(token) => println!("{resource}: token valid until {:?}", token.expires_on()),
            Err(error) => {
                eprintln!("{resource}: {error}");
                if let Some(hint) = error.hint() {
                    eprintln!("  hint: {hint}");
                }
            }
        }
    }
    Ok(())
}
