//! The client-credentials flow end to end against a local stand-in for Azure AD, with no Azure account:
//! v1 and v2 endpoints, a certificate assertion, the cache and its single flight, and a plain-language error.
//!
//! `cargo run -p aad-auth --example local_demo`

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aad_auth::{
    ClientCertificate, ClientCredential, ClientCredentialsProvider, Resource, RetryPolicy, SecretString, TokenCache,
    TokenEndpoint, TokenProvider,
};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "demo8Q~local-secret-value";

/// Answers like Azure AD: a token for the right secret or a valid-looking assertion, `AADSTS7000215` otherwise.
struct LocalAzureAd {
    issued: AtomicUsize,
}

impl Respond for LocalAzureAd {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body).into_owned().collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let accepted = field("client_secret") == Some(SECRET)
            || field("client_assertion").is_some_and(|a| a.split('.').count() == 3);
        if !accepted {
            let body = serde_json::json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215],
                "trace_id": "00000000-0000-0000-0000-000000000001",
                "correlation_id": "00000000-0000-0000-0000-000000000002",
                "timestamp": "2026-11-25 10:00:00Z"
            });
            return ResponseTemplate::new(401).set_body_json(body);
        }
        std::thread::sleep(Duration::from_millis(100));
        let number = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let (expires_in, resource) = if request.url.path().contains("/v2.0/") {
            (serde_json::json!(3599), field("scope").unwrap_or_default().trim_end_matches("/.default").to_owned())
        } else {
            (serde_json::json!("3599"), field("resource").unwrap_or_default().to_owned())
        };
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "access_token": format!("local-token-{number}-for-{resource}"),
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let azure_ad = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(LocalAzureAd { issued: AtomicUsize::new(0) })
        .mount(&azure_ad)
        .await;
    println!("local Azure AD stand-in at {}", azure_ad.uri());

    let dataverse = Resource::new("https://contoso.crm.dynamics.com")?;
    let graph = Resource::new("https://graph.microsoft.com")?;
    let provider = |credential: ClientCredential, endpoint: TokenEndpoint| {
        ClientCredentialsProvider::builder(TENANT, CLIENT_ID, credential)
            .authority_url(&azure_ad.uri())
            .endpoint(endpoint)
            .build()
    };

    println!("\n1. v1 endpoint (resource=), client secret");
    let v1 = provider(ClientCredential::secret(SecretString::from(SECRET)), TokenEndpoint::V1)?;
    let token = v1.token(&dataverse).await?;
    println!("   {} -> token expiring in {:?}", v1.token_url(), token.remaining_at(std::time::SystemTime::now()));

    println!("\n2. v2 endpoint (scope=<resource>/.default), certificate assertion (PS256, x5t#S256)");
    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/aad/certificates/app.pem");
    let certificate = ClientCertificate::from_pem_file(pem)?;
    println!("   certificate thumbprint {}", certificate.thumbprint_sha1());
    let v2 = provider(ClientCredential::certificate(certificate), TokenEndpoint::V2)?;
    v2.token(&graph).await?;
    println!("   {} -> token acquired", v2.token_url());

    println!("\n3. one cached credential, two resources, 500 concurrent callers");
    let cache = TokenCache::new(provider(ClientCredential::secret(SecretString::from(SECRET)), TokenEndpoint::V2)?);
    let before = azure_ad.received_requests().await.unwrap_or_default().len();
    let callers: Vec<_> = (0..500)
        .map(|i| {
            let cache = cache.clone();
            let resource = if i % 2 == 0 { dataverse.clone() } else { graph.clone() };
            tokio::spawn(async move { cache.token(&resource).await })
        })
        .collect();
    for caller in callers {
        caller.await??;
    }
    let sent = azure_ad.received_requests().await.unwrap_or_default().len() - before;
    println!("   500 callers, {sent} token requests (one per resource)");

    println!("\n4. a wrong secret, explained");
    let wrong = ClientCredentialsProvider::builder(
        TENANT,
        CLIENT_ID,
        ClientCredential::secret(SecretString::from("wrong~secret")),
    )
    .authority_url(&azure_ad.uri())
    .retry_policy(RetryPolicy::none())
    .build()?;
    match wrong.token(&dataverse).await {
        Ok(_) => println!("   unexpectedly accepted"),
        Err(error) => println!(
            "   error: {error}\n   trace id: {}",
            error.service_error().and_then(|s| s.trace_id()).unwrap_or("-")
        ),
    }

    println!("\n5. configuration slips caught before anything is sent");
    for (label, result) in [
        (
            "secret id pasted",
            ClientCredentialsProvider::builder(
                TENANT,
                CLIENT_ID,
                ClientCredential::secret(SecretString::from("6d0a9e7e-5b1c-4f4e-9d3a-2b1c0d9e8f7a")),
            )
            .build()
            .map(|_| ()),
        ),
        ("v2 scope as resource", Resource::new("https://contoso.crm.dynamics.com/.default").map(|_| ())),
        (
            "plain http authority",
            ClientCredentialsProvider::builder(TENANT, CLIENT_ID, ClientCredential::secret(SecretString::from(SECRET)))
                .authority_url("http://login.example.test")
                .build()
                .map(|_| ()),
        ),
    ] {
        if let Err(error) = result {
            println!("   {label}: {error}");
        }
    }
    println!("\ndone");
    Ok(())
}
