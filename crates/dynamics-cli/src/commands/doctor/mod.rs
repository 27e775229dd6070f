//! `dynamics doctor`: walk the setup in order, print a checklist, and say what to fix.
//!
//! 1. configuration: org URL, tenant id, client id, credential (with the common slips named);
//! 2. the tenant and sign-in host the org itself names in its `WWW-Authenticate` challenge;
//! 3. the authority answers;
//! 4. a token is acquired (AADSTS codes explained);
//! 5. the token's audience, app and tenant are the org's;
//! 6. `WhoAmI` succeeds (no application user, disabled user, no role explained);
//! 7. a trivial read of `accounts` is allowed (a missing privilege named).

mod challenge;
mod slips;
mod step;

use std::time::Duration;

use aad_auth::{AuthorityHost, ExposeSecret as _, TokenEndpoint, TokenProvider as _};
use dynamics_webapi::Record;
use dynamics_webapi::query::Query;

use crate::args::DoctorFormat;
use crate::claims::Claims;
use crate::error::Result;
use crate::io::Io;
use crate::settings::config::{Settings, describe_endpoint};
use crate::settings::connection::Connection;

use self::challenge::Challenge;
use self::step::{Status, Step, exit_code};

const TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) async fn run(settings: &Settings, format: DoctorFormat, io: &mut Io) -> Result<u8> {
    let mut checklist = Checklist { steps: Vec::new(), json: format == DoctorFormat::Json };
    if !checklist.json {
        io.println("dynamics doctor: checking the client-credentials setup, step by step");
    }

    // 1. Configuration.
    let (url_step, org) = slips::org_url(settings);
    checklist.record(url_step, io);
    checklist.record(slips::tenant(settings), io);
    checklist.record(slips::client_id(settings), io);
    checklist.record(slips::credential(settings), io);
    let authority = match slips::authority(settings) {
        Ok(authority) => authority,
        Err(step) => {
            checklist.record(step, io);
            AuthorityHost::AzurePublic
        }
    };
    let config_ok = !checklist.failed();

    // 2. What the org says about its tenant.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(TIMEOUT).build().ok();
    let discovered = match (&org, &http) {
        (Some(org), Some(http)) => {
            let (step, found) = discover(http, org, settings, &authority).await;
            checklist.record(step, io);
            found
        }
        _ => {
            checklist.record(Step::skip("tenant from the org's challenge", "no usable org URL"), io);
            None
        }
    };

    // 3. The authority answers.
    let tenant =
        settings.tenant.as_ref().map(|t| t.value.clone()).or_else(|| discovered.as_ref().map(|c| c.tenant.clone()));
    match (&tenant, &http) {
        (Some(tenant), Some(http)) => {
            checklist.record(reach_authority(http, &authority, tenant, settings.endpoint).await, io);
        }
        _ => checklist.record(Step::skip("authority reachable", "no tenant id"), io),
    }

    // 4-7 need a working configuration.
    let connection = match (&org, config_ok) {
        (Some(org), true) => match settings.provider() {
            Ok(provider) => Connection::with_provider(org, provider, settings.retries).ok(),
            Err(error) => {
                let fix = error.hint().unwrap_or_else(|| {
                    "check the credential settings above (AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH \
                     and its password, AZURE_FEDERATED_TOKEN_FILE)"
                        .to_owned()
                });
                checklist.record(Step::fail("token acquired", error.line(), fix), io);
                None
            }
        },
        _ => None,
    };
    let Some(connection) = connection else {
        for title in ["token acquired", "token audience", "WhoAmI", "read a common table"] {
            if !checklist.has(title) {
                checklist.record(Step::skip(title, "the configuration above must be fixed first"), io);
            }
        }
        return Ok(checklist.finish(io));
    };

    // 4. A token.
    let token = match connection.tokens.token(connection.resource()).await {
        Ok(token) => {
            let how = describe_endpoint(settings.endpoint, connection.resource().as_str());
            let origin = settings.endpoint_origin.as_deref().map(|o| format!(", {o}")).unwrap_or_default();
            checklist
                .record(Step::pass("token acquired", format!("for {} ({how}{origin})", connection.resource())), io);
            Some(token)
        }
        Err(error) => {
            checklist.record(token_failure(&error), io);
            None
        }
    };

    // 5. The token is for this org.
    match &token {
        Some(token) => {
            let step = audience(token.secret().expose_secret(), &connection, settings, discovered.as_ref());
            checklist.record(step, io);
        }
        None => checklist.record(Step::skip("token audience", "no token"), io),
    }

    // 6. WhoAmI.
    let who = if token.is_some() {
        match connection.client.who_am_i().await {
            Ok(me) => {
                checklist
                    .record(Step::pass("WhoAmI", format!("the app acts as the application user {}", me.user_id)), io);
                true
            }
            Err(error) => {
                let mut step = web_api_failure("WhoAmI", &error);
                if error.is_unauthorized()
                    && let (Some(http), Some(token)) = (&http, &token)
                {
                    step = explain_refused_token(step, http, &connection, token.secret().expose_secret()).await;
                }
                checklist.record(step, io);
                false
            }
        }
    } else {
        checklist.record(Step::skip("WhoAmI", "no token"), io);
        false
    };

    // 7. A trivial read.
    if who {
        let query = Query::untyped("accounts").select(["accountid"]).top(1);
        match connection.client.query::<Record, _>(&query).first_page().await {
            Ok(page) => checklist.record(
                Step::pass(
                    "read a common table",
                    format!("read accounts ({} record(s) on the first page)", page.records().len()),
                ),
                io,
            ),
            Err(error) => checklist.record(web_api_failure("read a common table", &error), io),
        }
    } else {
        checklist.record(Step::skip("read a common table", "WhoAmI must succeed first"), io);
    }
    Ok(checklist.finish(io))
}

/// The checklist so far.
#[derive(Debug)]
struct Checklist {
    steps: Vec<Step>,
    /// `--format json`: one JSON document at the end instead of a line per step.
    json: bool,
}

impl Checklist {
    fn record(&mut self, step: Step, io: &mut Io) {
        if !self.json {
            for line in step.lines(self.steps.len() + 1) {
                io.println(line);
            }
        }
        self.steps.push(step);
    }

    fn failed(&self) -> bool {
        self.steps.iter().any(|step| step.status == Status::Fail)
    }

    fn has(&self, title: &str) -> bool {
        self.steps.iter().any(|step| step.title == title)
    }

    fn finish(self, io: &mut Io) -> u8 {
        let failed = self.steps.iter().filter(|step| step.status == Status::Fail).count();
        let code = self.steps.iter().find(|step| step.status == Status::Fail).map_or(0, |step| exit_code(step.title));
        if self.json {
            let steps: Vec<serde_json::Value> =
                self.steps.iter().enumerate().map(|(index, step)| step.json(index + 1)).collect();
            let document = serde_json::json!({ "passed": failed == 0, "exit_code": code, "steps": steps });
            io.println(serde_json::to_string_pretty(&document).unwrap_or_default());
            return code;
        }
        if failed == 0 {
            io.println("all checks passed");
            0
        } else {
            io.println(format!("{failed} check(s) failed: fix the first one and run `dynamics doctor` again"));
            code
        }
    }
}

/// Step 2: an unauthenticated request to the Web API, whose 401 names the tenant and sign-in host.
async fn discover(
    http: &reqwest::Client,
    org: &str,
    settings: &Settings,
    authority: &AuthorityHost,
) -> (Step, Option<Challenge>) {
    const TITLE: &str = "tenant from the org's challenge";
    let url = format!("{org}/api/data/v9.2/");
    let response = match http.get(&url).send().await {
        Ok(response) => response,
        Err(error) => {
            let why = if error.is_timeout() {
                "timed out"
            } else if error.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            return (
                Step::fail(
                    TITLE,
                    format!("a request to {url} {why}"),
                    "check the org URL (the Environment URL in the Power Platform admin center), the network and any proxy",
                ),
                None,
            );
        }
    };
    let status = response.status().as_u16();
    let header = response.headers().get(reqwest::header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok());
    let Some(challenge) = header.and_then(challenge::parse) else {
        return (
            Step::fail(
                TITLE,
                format!(
                    "{url} answered {status} without a Bearer challenge naming authorization_uri: it is not a Dataverse Web API"
                ),
                "check the org URL: https://<org>.crm.dynamics.com (regional hosts such as crm4 included)",
            ),
            None,
        );
    };
    let configured_authority = authority.url().as_str().trim_end_matches('/').to_owned();
    if !challenge.authority.eq_ignore_ascii_case(&configured_authority) {
        let step = Step::fail(
            TITLE,
            format!(
                "the org signs in at {}, but the configured authority is {configured_authority}",
                challenge.authority
            ),
            format!("set AZURE_AUTHORITY_HOST={}", challenge.authority),
        );
        return (step, Some(challenge));
    }
    let step = match &settings.tenant {
        None => Step::fail(
            TITLE,
            format!("the org belongs to tenant {}, and no tenant id is set", challenge.tenant),
            format!("set AZURE_TENANT_ID={}", challenge.tenant),
        ),
        Some(tenant) if slips::is_guid(&tenant.value) && !tenant.value.eq_ignore_ascii_case(&challenge.tenant) => {
            Step::fail(
                TITLE,
                format!(
                    "the org belongs to tenant {}, but the tenant id is {} ({})",
                    challenge.tenant, tenant.value, tenant.origin
                ),
                format!(
                    "set AZURE_TENANT_ID={} (the app registration must be in the tenant that owns the environment)",
                    challenge.tenant
                ),
            )
        }
        Some(tenant) if slips::is_guid(&tenant.value) => {
            Step::pass(TITLE, format!("the org belongs to tenant {}, as configured", challenge.tenant))
        }
        Some(tenant) => Step::pass(
            TITLE,
            format!(
                "the org belongs to tenant {}; the configured {} is a domain (the token's tid is compared below)",
                challenge.tenant, tenant.value
            ),
        ),
    };
    (step, Some(challenge))
}

/// Step 3: the tenant's OpenID configuration answers.
async fn reach_authority(
    http: &reqwest::Client,
    authority: &AuthorityHost,
    tenant: &str,
    endpoint: TokenEndpoint,
) -> Step {
    const TITLE: &str = "authority reachable";
    let base = authority.url();
    let version = if endpoint == TokenEndpoint::V1 { "" } else { "v2.0/" };
    let url = format!("{}{tenant}/{version}.well-known/openid-configuration", base.as_str());
    match http.get(&url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            if body.contains("AADSTS90002") || body.contains("invalid_tenant") {
                return Step::fail(
                    TITLE,
                    format!("{} answered {status}: tenant {tenant} was not found", base.as_str().trim_end_matches('/')),
                    aad_auth::aadsts_hint(90002).unwrap_or("check the tenant id").to_owned(),
                );
            }
            Step::pass(TITLE, format!("{} answered {status}", base.as_str().trim_end_matches('/')))
        }
        Err(_) => Step::fail(
            TITLE,
            format!("no answer from {}", base.as_str().trim_end_matches('/')),
            "check the network, any proxy, and AZURE_AUTHORITY_HOST for other clouds",
        ),
    }
}

/// Step 5: the token's claims against the org and the configuration.
fn audience(token: &str, connection: &Connection, settings: &Settings, discovered: Option<&Challenge>) -> Step {
    const TITLE: &str = "token audience";
    let claims = match Claims::decode(token) {
        Ok(claims) => claims,
        Err(why) => {
            return Step::warn(TITLE, format!("the claims cannot be read ({why})"), "nothing to fix if WhoAmI passes");
        }
    };
    let org = connection.resource().as_str();
    if !claims.is_for(org) {
        return Step::fail(
            TITLE,
            format!("the token is for {}, not for {org}", claims.audience_text()),
            format!("request the token for the org URL itself ({})", describe_endpoint(settings.endpoint, org)),
        );
    }
    if let (Some(app), Some(client)) = (claims.app_id(), &settings.client_id)
        && !app.eq_ignore_ascii_case(&client.value)
    {
        return Step::fail(
            TITLE,
            format!("the token is for the app {app}, not {}", client.value),
            "check AZURE_CLIENT_ID",
        );
    }
    if let (Some(tid), Some(challenge)) = (claims.tid.as_deref(), discovered)
        && !tid.eq_ignore_ascii_case(&challenge.tenant)
    {
        return Step::fail(
            TITLE,
            format!("the token was issued by tenant {tid}, but the org belongs to tenant {}", challenge.tenant),
            format!("set AZURE_TENANT_ID={} and use an app registration of that tenant", challenge.tenant),
        );
    }
    let roles = match &claims.roles {
        Some(roles) if !roles.is_empty() => format!("roles: {}", roles.join(", ")),
        _ => "no roles claim, as expected: Dataverse access comes from the application user's security role".to_owned(),
    };
    Step::pass(TITLE, format!("for {org}; {roles}"))
}

/// A failed Web API step, explained.
fn web_api_failure(title: &'static str, error: &dynamics_webapi::Error) -> Step {
    let detail = match error.service_error() {
        Some(service) => {
            let code = if service.code().is_empty() { String::new() } else { format!(" {}", service.code()) };
            let message = service.message().trim();
            let message = if message.is_empty() { String::new() } else { format!(": {message}") };
            format!("answered {}{code}{message}", service.status())
        }
        None => crate::error::Error::Api(error.clone()).line(),
    };
    let fix = error.hint().map(str::to_owned).unwrap_or_else(|| match error.status() {
        Some(403) => "the application user lacks a privilege: check its security roles".to_owned(),
        _ => "see the troubleshooting table in the dynamics-cli README".to_owned(),
    });
    Step::fail(title, detail, fix)
}

/// Step 4's failure: what Azure AD said, and the fix (its AADSTS hint, named once, not repeated in the cause).
fn token_failure(error: &aad_auth::Error) -> Step {
    const TITLE: &str = "token acquired";
    let Some(service) = error.service_error() else {
        let fix = error.hint().map(str::to_owned).unwrap_or_else(|| {
            "check the network, any proxy, and AZURE_AUTHORITY_HOST; then the tenant id, client id and credential"
                .to_owned()
        });
        return Step::fail(TITLE, crate::error::Error::Auth(error.clone()).line(), fix);
    };
    let mut cause = format!("the token endpoint answered {}", service.status());
    if !service.error().is_empty() {
        cause.push_str(&format!(" {}", service.error()));
    }
    if let Some(code) = service.aadsts_code() {
        cause.push_str(&format!(" (AADSTS{code})"));
    }
    if let Some(first) = service.description().and_then(|d| d.lines().next()) {
        // Azure AD's own sentence, without the `AADSTS…:` prefix already named.
        let first =
            first.split_once(": ").filter(|(code, _)| code.starts_with("AADSTS")).map_or(first, |(_, rest)| rest);
        cause.push_str(&format!(": {}", first.trim()));
    }
    let fix = service
        .hint()
        .map(str::to_owned)
        .unwrap_or_else(|| "check the tenant id, client id and credential against the app registration".to_owned());
    Step::fail(TITLE, cause, fix)
}

/// A 401 to a token that was issued: asks the org once more, with that token, for its `WWW-Authenticate`
/// answer (`error_description` says why, such as an audience that is not the org), and names it in the cause.
async fn explain_refused_token(step: Step, http: &reqwest::Client, connection: &Connection, token: &str) -> Step {
    let url = format!("{}/api/data/v9.2/WhoAmI", connection.resource().as_str().trim_end_matches('/'));
    let said = match http.get(&url).bearer_auth(token).send().await {
        Ok(response) => response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|value| value.to_str().ok())
            .and_then(challenge::refusal),
        Err(_) => None,
    };
    let cause = match said {
        Some(said) => format!("the org refused the token (401): {said}"),
        None => "the org refused the token (401) and said no more".to_owned(),
    };
    Step::fail(
        step.title,
        cause,
        "the token must be for the org URL itself, from the org's own tenant: see the token audience step above",
    )
}
