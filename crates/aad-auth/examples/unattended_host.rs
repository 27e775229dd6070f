//! On a server, a container or an Azure host: find the org's tenant from its challenge,
//! then take whichever credential the host offers (a secret, a certificate, a federated token file, a managed identity).
//!
//! ```sh
//! export DATAVERSE_URL=https://contoso.crm.dynamics.com
//! export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...   # or nothing, on a host with a managed identity
//! cargo run -p aad-auth --example unattended_host
//! ```

use aad_auth::{Challenge, DefaultCredential, Resource, TokenCache, TokenProvider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let org = std::env::var("DATAVERSE_URL")
        .map_err(|_| "set DATAVERSE_URL to your org, such as https://contoso.crm.dynamics.com")?;
    let challenge = Challenge::discover(&org).await?;
    println!("{org} belongs to tenant {} (sign-in at {})", challenge.tenant(), challenge.authority_host().url());

    let credential = DefaultCredential::from_env()?;
    for step in credential.steps() {
        println!("  {step}");
    }
    let tokens = TokenCache::new(credential);
    let resource = Resource::new(&org)?;
    match tokens.token(&resource).await.and_then(|token| token.check_audience(&resource).map(|()| token)) {
        Ok(token) => println!("token for {resource}, valid until {:?}", token.expires_on()),
        Err(error) => {
            eprintln!("{error}");
            if let Some(hint) = error.hint() {
                eprintln!("  hint: {hint}");
            }
        }
    }
    Ok(())
}
