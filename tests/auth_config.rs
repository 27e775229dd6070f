//! Configuration checks, `from_env`, the plain-http rule, and redaction of secrets everywhere.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::collections::HashMap;
use std::sync::Arc;

use aad_auth::test_util::ManualClock;
use aad_auth::{
    AccessToken, AuthorityHost, ClientCertificate, ClientCredential, ClientCredentialsProvider,
    ClientCredentialsProviderBuilder, Error, Resource, RetryPolicy, SecretString, TokenCache, TokenEndpoint,
    TokenProvider,
};
use support::{CapturedLogs, fixture, fixture_path, json_response};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "abc8Q~super-secret-value-42";

fn secret() -> ClientCredential {
    ClientCredential::secret(SecretString::from(SECRET))
}

fn config_field(result: aad_auth::Result<ClientCredentialsProvider>) -> &'static str {
    match result.unwrap_err() {
        Error::Config(config) => config.field(),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn bad_configuration_fails_at_build_naming_the_field() {
    let cases: Vec<(aad_auth::Result<ClientCredentialsProvider>, &str)> = vec![
        (ClientCredentialsProvider::builder("contoso.com", "", secret()).build(), "client_id"),
        (ClientCredentialsProvider::builder("contoso.com", "my-app", secret()).build(), "client_id"),
        (ClientCredentialsProvider::builder("", CLIENT_ID, secret()).build(), "tenant"),
        (ClientCredentialsProvider::builder("not a tenant", CLIENT_ID, secret()).build(), "tenant"),
        (ClientCredentialsProvider::builder("common", CLIENT_ID, secret()).build(), "tenant"),
        (
            ClientCredentialsProvider::builder(
                "contoso.com",
                CLIENT_ID,
                ClientCredential::secret(SecretString::from(" ")),
            )
            .build(),
            "client_secret",
        ),
        (
            ClientCredentialsProvider::builder("contoso.com", CLIENT_ID, secret())
                .authority_url("login.example.test")
                .build(),
            "authority_host",
        ),
        (
            ClientCredentialsProvider::builder("contoso.com", CLIENT_ID, secret())
                .authority_url("http://login.example.test")
                .build(),
            "authority_host",
        ),
    ];
    for (result, field) in cases {
        assert_eq!(config_field(result), field);
    }
}

#[test]
fn a_pasted_secret_id_is_caught() {
    let credential = ClientCredential::secret(SecretString::from("6d0a9e7e-5b1c-4f4e-9d3a-2b1c0d9e8f7a"));
    let error = ClientCredentialsProvider::builder("contoso.com", CLIENT_ID, credential).build().unwrap_err();
    assert!(error.to_string().contains("Secret ID"), "{error}");
}

#[test]
fn non_url_resources_and_v1_default_scopes_are_refused() {
    let error = Resource::new("contoso").unwrap_err();
    assert!(matches!(&error, Error::Config(c) if c.field() == "resource"));
    let error = Resource::new("https://contoso.crm.dynamics.com/.default").unwrap_err();
    assert!(
        error.to_string().contains("https://contoso.crm.dynamics.com` (the v2 endpoint appends /.default itself"),
        "{error}"
    );
}

#[test]
fn sovereign_clouds_have_their_hosts() {
    let tenant = aad_auth::Tenant::new("contoso.onmicrosoft.us").unwrap();
    let government = TokenEndpoint::V2.url(&AuthorityHost::AzureGovernment, &tenant).unwrap();
    assert_eq!(government.as_str(), "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token");
    let china = TokenEndpoint::V1.url(&AuthorityHost::AzureChina, &tenant).unwrap();
    assert_eq!(china.as_str(), "https://login.chinacloudapi.cn/contoso.onmicrosoft.us/oauth2/token");
}

fn lookup<'a>(vars: &'a HashMap<&'static str, String>) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| vars.get(name).cloned()
}

#[test]
fn from_env_reads_the_azure_identity_variables() {
    let mut vars = HashMap::from([
        ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned()),
        ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AZURE_CLIENT_SECRET", SECRET.to_owned()),
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us".to_owned()),
    ]);
    let provider = ClientCredentialsProviderBuilder::from_lookup(lookup(&vars)).unwrap().build().unwrap();
    assert_eq!(provider.tenant().as_str(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert_eq!(provider.client_id(), CLIENT_ID);
    assert!(provider.token_url().as_str().starts_with("https://login.microsoftonline.us/72f988bf"));
    assert!(format!("{provider:?}").contains("Secret([REDACTED])"));

    // A certificate when there is no secret (a .pfx with its password).
    vars.remove("AZURE_CLIENT_SECRET");
    vars.insert("AZURE_CLIENT_CERTIFICATE_PATH", fixture_path("aad/certificates/app.pfx").display().to_string());
    vars.insert("AZURE_CLIENT_CERTIFICATE_PASSWORD", "fixture-password".to_owned());
    let provider = ClientCredentialsProviderBuilder::from_lookup(lookup(&vars)).unwrap().build().unwrap();
    assert!(format!("{provider:?}").contains(fixture("aad/certificates/app.sha1").trim()));

    // A federated token file when there is neither.
    vars.remove("AZURE_CLIENT_CERTIFICATE_PATH");
    vars.insert("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token".to_owned());
    let provider = ClientCredentialsProviderBuilder::from_lookup(lookup(&vars)).unwrap().build().unwrap();
    assert!(format!("{provider:?}").contains("azure-identity-token"));

    // Nothing at all names the variables to set.
    vars.remove("AZURE_FEDERATED_TOKEN_FILE");
    let error = ClientCredentialsProviderBuilder::from_lookup(lookup(&vars)).unwrap_err();
    assert!(error.to_string().contains("AZURE_CLIENT_SECRET"), "{error}");
    vars.remove("AZURE_TENANT_ID");
    let error = ClientCredentialsProviderBuilder::from_lookup(lookup(&vars)).unwrap_err();
    assert!(matches!(&error, Error::Config(c) if c.field() == "AZURE_TENANT_ID"), "{error}");
    // A bad authority host is reported when the provider is built.
    vars.insert("AZURE_TENANT_ID", "contoso.com".to_owned());
    vars.insert("AZURE_CLIENT_SECRET", SECRET.to_owned());
    vars.insert("AZURE_AUTHORITY_HOST", "http://login.example.test".to_owned());
    let error = ClientCredentialsProviderBuilder::from_lookup(lookup(&vars)).unwrap().build().unwrap_err();
    assert!(matches!(&error, Error::Config(c) if c.field() == "authority_host"), "{error}");
}

#[tokio::test]
async fn secrets_and_tokens_never_appear_in_debug_display_errors_or_logs() {
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, &fixture("aad/v2-success.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(json_response(401, &fixture("aad/errors/7000215.json")))
        .mount(&server)
        .await;
    let clock = ManualClock::starting_now();
    let provider = ClientCredentialsProvider::builder("contoso.com", CLIENT_ID, secret())
        .authority_url(&server.uri())
        .clock(Arc::new(clock.clone()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let certificate = ClientCertificate::from_pem_file(fixture_path("aad/certificates/app.pem")).unwrap();
    let cache = TokenCache::new(provider.clone());

    let token = cache.token(&Resource::new("https://contoso.crm.dynamics.com").unwrap()).await.unwrap();
    let error = provider.token(&Resource::new("https://graph.microsoft.com").unwrap()).await.unwrap_err();

    let token_text = "v2-fixture-token";
    let key_pem = fixture("aad/certificates/app.pem");
    let key_line = key_pem.lines().nth(1).unwrap();
    let shown = [
        format!("{provider:?}"),
        format!("{cache:?}"),
        format!("{token:?}"),
        format!("{:?}", AccessToken::new("plain-token-text", clock_now())),
        format!("{error:?}"),
        error.to_string(),
        format!("{:?}", secret()),
        format!("{certificate:?}"),
        format!("{:?}", SecretString::from(SECRET)),
        captured.text(),
    ];
    assert!(shown[9].contains("aad_auth.acquire_token"), "the spans were captured: {}", shown[9]);
    for text in &shown {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
        assert!(!text.contains(token_text), "token leaked: {text}");
        assert!(!text.contains("plain-token-text"), "token leaked: {text}");
        assert!(!text.contains(key_line), "key leaked: {text}");
    }
}

fn clock_now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}
