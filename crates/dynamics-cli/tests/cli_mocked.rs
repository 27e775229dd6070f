//! CLI runs against hand-written wiremock mocks, for what the emulator does not serve:
//! the org's `WWW-Authenticate` challenge, a missing privilege with a role, and a failure that interrupts an export.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use support::{env_of, run, temp_dir};
use wiremock::matchers::{body_string_contains, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "11111111-0000-0000-0000-000000000000";
const CLIENT: &str = "22222222-3333-4444-5555-666666666666";
const SECRET: &str = "Xy8Q~mock-secret-value-0123456789";

fn jwt(claims: &Value) -> String {
    format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// An authority and an org on one mock server, answering like Azure AD and Dataverse.
async fn mock_org(roles: Option<&[&str]>) -> (MockServer, Vec<(String, String)>) {
    let server = MockServer::start().await;
    let org = server.uri();
    let mut claims =
        json!({"aud": org, "appid": CLIENT, "tid": TENANT, "iat": 1_700_000_000, "exp": 4_000_000_000_u64});
    if let Some(roles) = roles {
        claims["roles"] = json!(roles);
    }
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .and(body_string_contains(format!("client_secret={}", SECRET.replace('~', "%7E"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": jwt(&claims)
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/{TENANT}/v2.0/.well-known/openid-configuration")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"issuer": "x"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/WhoAmI"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "BusinessUnitId": "00000000-0000-0000-0000-00000000000b",
            "UserId": "00000000-0000-0000-0000-00000000000a",
            "OrganizationId": "00000000-0000-0000-0000-00000000000c"
        })))
        .mount(&server)
        .await;
    let challenge = format!("Bearer authorization_uri={org}/{TENANT}/oauth2/authorize, resource_id={org}/");
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", challenge.as_str()))
        .mount(&server)
        .await;
    let env = vec![
        ("DATAVERSE_URL".to_owned(), org.clone()),
        ("AZURE_TENANT_ID".to_owned(), TENANT.to_owned()),
        ("AZURE_CLIENT_ID".to_owned(), CLIENT.to_owned()),
        ("AZURE_CLIENT_SECRET".to_owned(), SECRET.to_owned()),
        ("AZURE_AUTHORITY_HOST".to_owned(), org),
    ];
    (server, env)
}

fn accounts_page(from: usize, to: usize, next: Option<String>) -> Value {
    let value: Vec<Value> = (from..to)
        .map(|i| json!({"accountid": format!("00000000-0000-0000-0000-{i:012}"), "name": format!("Account {i}")}))
        .collect();
    match next {
        Some(link) => json!({"value": value, "@odata.nextLink": link}),
        None => json!({"value": value}),
    }
}

#[tokio::test]
async fn doctor_passes_a_good_setup_even_without_a_roles_claim() {
    let (server, vars) = mock_org(None).await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(0, 1, None)))
        .mount(&server)
        .await;
    let output = run(&["doctor"], &env_of(&vars), "").await.success();
    assert!(output.stdout.contains(&format!("the org belongs to tenant {TENANT}, as configured")), "{}", output.stdout);
    assert!(output.stdout.contains("no roles claim, as expected"), "{}", output.stdout);
    assert!(output.stdout.contains("all checks passed"), "{}", output.stdout);
    assert!(!output.stdout.contains("[FAIL]"), "{}", output.stdout);
    assert!(!output.all().contains(SECRET));
}

#[tokio::test]
async fn doctor_names_the_missing_privilege_of_a_role() {
    let (server, vars) = mock_org(Some(&["user_impersonation"])).await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": "0x80040220",
            "message": "Principal user (Id=5c3a, type=8, roleCount=1, privilegeCount=120, accessMode=4), is missing prvReadAccount privilege (Id=886b) on OTC=1 for entity 'account'."
        }})))
        .mount(&server)
        .await;
    let output = run(&["doctor"], &env_of(&vars), "").await.failure(41);
    let line = output.stdout.lines().find(|l| l.contains("read a common table")).unwrap_or_default().to_owned();
    assert!(line.starts_with("[FAIL] "), "{}", output.stdout);
    assert!(output.stdout.contains("lack the privilege prvReadAccount"), "{}", output.stdout);
    assert!(output.stdout.contains("[pass] ") && output.stdout.contains("WhoAmI"), "{}", output.stdout);
}

#[tokio::test]
async fn doctor_discovers_the_org_tenant_and_spots_a_wrong_one() {
    let (_server, mut vars) = mock_org(None).await;
    vars.retain(|(name, _)| name != "AZURE_TENANT_ID");
    vars.push(("AZURE_TENANT_ID".to_owned(), OTHER_TENANT.to_owned()));
    let output = run(&["doctor"], &env_of(&vars), "").await.failure(20);
    assert!(
        output.stdout.contains(&format!("the org belongs to tenant {TENANT}, but the tenant id is {OTHER_TENANT}")),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains(&format!("fix: set AZURE_TENANT_ID={TENANT}")), "{}", output.stdout);
}

#[tokio::test]
async fn doctor_catches_the_common_configuration_slips_before_sending() {
    let (_server, vars) = mock_org(None).await;
    let org = vars[0].1.clone();
    let slipped: Vec<(String, String)> = vars
        .iter()
        .map(|(name, value)| match name.as_str() {
            "DATAVERSE_URL" => (name.clone(), format!("{org}/api/data/v9.2/")),
            "AZURE_CLIENT_SECRET" => (name.clone(), "0b5c2b1e-8d4f-4e3a-9f6a-1c2d3e4f5a6b".to_owned()),
            _ => (name.clone(), value.clone()),
        })
        .collect();
    let output = run(&["doctor"], &env_of(&slipped), "").await.failure(10);
    assert!(output.stdout.contains("has the path /api/data/v9.2"), "{}", output.stdout);
    assert!(output.stdout.contains(&format!("give the org alone, {org}")), "{}", output.stdout);
    assert!(output.stdout.contains("shaped like a GUID: that is the secret's Secret ID"), "{}", output.stdout);
    assert!(output.stdout.contains("copy the secret's Value"), "{}", output.stdout);
    // The tenant is still discovered through the corrected URL.
    assert!(output.stdout.contains(&format!("the org belongs to tenant {TENANT}")), "{}", output.stdout);

    let scoped: Vec<(String, String)> = vars
        .iter()
        .map(
            |(n, v)| if n == "DATAVERSE_URL" { (n.clone(), format!("{org}/.default")) } else { (n.clone(), v.clone()) },
        )
        .collect();
    let output = run(&["doctor"], &env_of(&scoped), "").await.failure(10);
    assert!(
        output.stdout.contains("/.default belongs to the v2 scope, which is formed from the org URL"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains(&format!("give the org URL alone, {org}")), "{}", output.stdout);
    let output = run(&["--endpoint", "v1", "doctor"], &env_of(&scoped), "").await.failure(10);
    assert!(
        output.stdout.contains(&format!(
            "the v1 token endpoint (--endpoint v1) takes the bare org URL as its resource, with no /.default: use {org}"
        )),
        "{}",
        output.stdout
    );
}

#[tokio::test]
async fn doctor_says_when_the_url_is_not_a_dataverse_org() {
    let (server, mut vars) = mock_org(None).await;
    let elsewhere = MockServer::start().await;
    vars[0].1 = elsewhere.uri();
    let output = run(&["doctor"], &env_of(&vars), "").await.failure(20);
    assert!(output.stdout.contains("without a Bearer challenge"), "{}", output.stdout);
    drop(server);
}

#[tokio::test]
async fn export_resumes_after_an_interruption_without_duplicates_or_gaps() {
    let (server, vars) = mock_org(None).await;
    let org = server.uri();
    let link = |n: usize| format!("{org}/api/data/v9.2/accounts?$select=accountid,name&$skiptoken=page{n}");
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .and(query_param("$skiptoken", "page2"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"code": "0x80040216", "message": "An unexpected error occurred."}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .and(query_param("$skiptoken", "page2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(3, 6, Some(link(3)))))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .and(query_param("$skiptoken", "page3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(6, 8, None)))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(0, 3, Some(link(2)))))
        .with_priority(3)
        .mount(&server)
        .await;
    let dir = temp_dir("export-resume");
    for format in ["ndjson", "csv"] {
        let out = dir.join(format!("accounts.{format}"));
        let out_text = out.to_str().unwrap_or_default().to_owned();
        let args = ["export", "accounts", "--out", &out_text, "--format", format, "--select", "accountid,name"];
        let first = run(&args, &env_of(&vars), "").await;
        if format == "ndjson" {
            // Page 2 fails once with a 500 (not retried): the export stops after page 1 and keeps its position.
            first.clone().failure(1);
            assert!(first.stderr.contains("export interrupted after 3 records"), "{}", first.stderr);
            assert!(std::path::Path::new(&format!("{out_text}.export-state.json")).exists());
            let second = run(&args, &env_of(&vars), "").await.success();
            assert!(second.stderr.contains("resuming the export"), "{}", second.stderr);
            assert!(second.stderr.contains("exported 8 records"), "{}", second.stderr);
        } else {
            first.success();
        }
        assert!(!std::path::Path::new(&format!("{out_text}.export-state.json")).exists());
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let names: Vec<String> = if format == "ndjson" {
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].as_str().unwrap().to_owned())
                .collect()
        } else {
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["accountid", "name"]);
            reader.records().map(|r| r.unwrap()[1].to_owned()).collect()
        };
        let expected: Vec<String> = (0..8).map(|i| format!("Account {i}")).collect();
        assert_eq!(names, expected, "{format}: every record once, in order");
    }
    let first_pages = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r: &&Request| {
            r.url.path() == "/api/data/v9.2/accounts" && !r.url.query().unwrap_or("").contains("skiptoken")
        })
        .count();
    assert_eq!(first_pages, 2, "page 1 is read once per export (ndjson, csv), not again on resume");
}

#[tokio::test]
async fn a_secret_is_never_taken_as_a_flag_value() {
    let (_server, vars) = mock_org(None).await;
    let output = run(&["whoami", "--client-secret", "s3cret-on-the-command-line"], &env_of(&vars), "").await.failure(1);
    assert!(output.stderr.contains("--client-secret is not accepted"), "{}", output.stderr);
    assert!(!output.all().contains("s3cret-on-the-command-line"));
}

#[tokio::test]
async fn the_secret_comes_from_a_file_or_stdin_and_profiles_name_the_rest() {
    let (_server, vars) = mock_org(None).await;
    let org = vars[0].1.clone();
    let dir = temp_dir("profiles");
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.mock]\nurl = \"{org}\"\ntenant = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nauthority_host = \"{org}\"\nclient_secret_file = \"{}\"\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let env = dynamics_cli::Env::new().with("DYNAMICS_CONFIG", config.display().to_string());
    let output = run(&["--profile", "mock", "whoami", "--format", "json"], &env, "").await.success();
    let me: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(me["UserId"], "00000000-0000-0000-0000-00000000000a");

    let without_secret: Vec<(String, String)> =
        vars.iter().filter(|(n, _)| n != "AZURE_CLIENT_SECRET").cloned().collect();
    run(&["whoami", "--client-secret-stdin"], &env_of(&without_secret), &format!("{SECRET}\n")).await.success();
    let output =
        run(&["whoami", "--client-secret-file", &secret_file.display().to_string()], &env_of(&without_secret), "")
            .await;
    output.success();
    let missing = run(&["whoami"], &env_of(&without_secret), "").await.failure(1);
    assert!(missing.stderr.contains("AZURE_CLIENT_SECRET"), "{}", missing.stderr);
    let unknown = run(&["--profile", "nope", "whoami"], &env, "").await.failure(1);
    assert!(unknown.stderr.contains("no profile `nope`") && unknown.stderr.contains("mock"), "{}", unknown.stderr);
}

#[tokio::test]
async fn fetchxml_pages_with_the_paging_cookie() {
    let (server, vars) = mock_org(None).await;
    let cookie = r#"<cookie pagenumber="2" pagingcookie="%253ccookie%2520page%253d%25221%2522%253e%253caccountid%2520last%253d%2522%257b00000000-0000-0000-0000-000000000001%257d%2522%2520%252f%253e%253c%252fcookie%253e" istracking="False" />"#;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .and(wiremock::matchers::query_param_contains("fetchXml", "page=\"2\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"accountid": "00000000-0000-0000-0000-000000000002", "name": "Second"}],
            "@Microsoft.Dynamics.CRM.morerecords": false
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .and(wiremock::matchers::query_param_contains("fetchXml", "page=\"1\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"accountid": "00000000-0000-0000-0000-000000000001", "name": "First"}],
            "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie": cookie,
            "@Microsoft.Dynamics.CRM.morerecords": true
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = temp_dir("fetchxml");
    let file = dir.join("query.xml");
    std::fs::write(&file, r#"<fetch count="1"><entity name="account"><attribute name="name"/></entity></fetch>"#)
        .unwrap();
    let file = file.display().to_string();
    let all = run(&["fetchxml", &file, "--all", "--format", "ndjson"], &env_of(&vars), "").await.success();
    let names: Vec<String> = all
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["First", "Second"]);
    let first = run(&["fetchxml", &file], &env_of(&vars), "").await.success();
    assert!(first.stdout.contains("First") && !first.stdout.contains("Second"), "{}", first.stdout);
    assert!(first.stderr.contains("pass --all"), "{}", first.stderr);
    let from_stdin = run(
        &["fetchxml", "-", "--set", "accounts", "--format", "csv"],
        &env_of(&vars),
        r#"<fetch count="1"><entity name="account"/></fetch>"#,
    )
    .await
    .success();
    assert!(from_stdin.stdout.starts_with("accountid,name\n"), "{}", from_stdin.stdout);
}

/// A tracked read of `accounts` whose first run ends with a delta link, and whose delta answers `delta`.
async fn tracked_accounts(server: &MockServer, delta: ResponseTemplate) {
    let org = server.uri();
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .and(query_param("$deltatoken", "919042!12/01/2026 08:00:00"))
        .respond_with(delta)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .and(wiremock::matchers::header("prefer", "odata.track-changes"))
        .respond_with(ResponseTemplate::new(200).insert_header("preference-applied", "odata.track-changes").set_body_json(
            json!({
                "@odata.deltaLink": format!("{org}/api/data/v9.2/accounts?$select=name&$deltatoken=919042%2112%2f01%2f2026%2008%3a00%3a00"),
                "value": [{"@odata.etag": "W/\"1\"", "name": "First", "accountid": "00000000-0000-0000-0000-000000000001"}]
            }),
        ))
        .with_priority(2)
        .mount(server)
        .await;
}

#[tokio::test]
async fn sync_writes_removals_of_the_odata_401_form_with_their_reason() {
    let (server, vars) = mock_org(None).await;
    let org = server.uri();
    tracked_accounts(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "@odata.deltaLink": format!("{org}/api/data/v9.2/accounts?$select=name&$deltatoken=919043%2112%2f01%2f2026%2008%3a05%3a00"),
            "value": [
                {"@removed": {"reason": "changed"}, "@id": format!("{org}/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)")},
                {"@odata.context": format!("{org}/api/data/v9.2/$metadata#accounts/$deletedEntity"), "id": "00000000-0000-0000-0000-000000000002", "reason": "deleted"}
            ]
        })),
    )
    .await;
    let dir = temp_dir("sync-mocked");
    let (out, state) = (dir.join("out.ndjson").display().to_string(), dir.join("state.json").display().to_string());
    let args = ["sync", "accounts", "--state", &state, "--out", &out, "--select", "name"];
    run(&args, &env_of(&vars), "").await.success();
    run(&args, &env_of(&vars), "").await.success();
    let lines: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines,
        [
            json!({"@removed": {"reason": "changed"}, "accountid": "00000000-0000-0000-0000-000000000001"}),
            json!({"@removed": {"reason": "deleted"}, "accountid": "00000000-0000-0000-0000-000000000002"}),
        ]
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved["delta_link"]["url"].as_str().unwrap().contains("919043"), "the next link is saved: {saved}");
}

#[tokio::test]
async fn sync_says_to_restart_when_the_saved_link_is_refused() {
    let (server, vars) = mock_org(None).await;
    tracked_accounts(
        &server,
        ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": "0x80040203",
            "message": "Invalid delta token: the changes since this version are no longer kept."
        }})),
    )
    .await;
    let dir = temp_dir("sync-expired");
    let (out, state) = (dir.join("out.ndjson").display().to_string(), dir.join("state.json").display().to_string());
    let args = ["sync", "accounts", "--state", &state, "--out", &out, "--select", "name"];
    run(&args, &env_of(&vars), "").await.success();
    let saved = std::fs::read_to_string(&state).unwrap();
    let refused = run(&args, &env_of(&vars), "").await.failure(1);
    assert!(refused.stderr.contains("error: the saved delta link was refused: GET"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("hint: a delta link expires") && refused.stderr.contains("--restart"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), saved, "the state is kept");
    let first_run: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(first_run.len(), 1, "the first run's output is kept");
    let restarted = run(&[&args[..], &["--restart"]].concat(), &env_of(&vars), "").await.success();
    assert!(restarted.stderr.contains("(first run): 1 records"), "{}", restarted.stderr);
}

#[tokio::test]
async fn doctor_fails_the_credential_step_for_a_certificate_that_does_not_exist() {
    let (_server, mut vars) = mock_org(None).await;
    vars.retain(|(name, _)| name != "AZURE_CLIENT_SECRET");
    let missing = temp_dir("doctor-cert").join("app.pem").display().to_string();
    vars.push(("AZURE_CLIENT_CERTIFICATE_PATH".to_owned(), missing.clone()));
    let output = run(&["doctor"], &env_of(&vars), "").await.failure(13);
    let line = output.stdout.lines().find(|l| l.contains("credential:")).unwrap_or_default().to_owned();
    assert!(
        line.starts_with("[FAIL] ") && line.contains(&missing) && line.contains("does not exist"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("fix: set AZURE_CLIENT_CERTIFICATE_PATH"), "{}", output.stdout);
    assert!(!output.stdout.lines().any(|l| l.trim() == "fix:"), "no empty fix line:\n{}", output.stdout);
}

#[tokio::test]
async fn doctor_says_what_the_401_said() {
    let (server, vars) = mock_org(None).await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/WhoAmI"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "www-authenticate",
            r#"Bearer error="invalid_token", error_description="The audience 'https://other.crm.dynamics.com' is invalid""#,
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    let output = run(&["doctor"], &env_of(&vars), "").await.failure(40);
    let line = output.stdout.lines().find(|l| l.contains("WhoAmI:")).unwrap_or_default().to_owned();
    assert!(
        line.contains("invalid_token: The audience 'https://other.crm.dynamics.com' is invalid"),
        "{}",
        output.stdout
    );
    assert!(!output.stdout.contains("401: \n") && !line.ends_with(": "), "{}", output.stdout);
}

#[tokio::test]
async fn doctor_names_an_aadsts_fix_once() {
    let (server, vars) = mock_org(None).await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: x",
            "error_codes": [7000215]
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let output = run(&["doctor"], &env_of(&vars), "").await.failure(30);
    let lines: Vec<&str> = output.stdout.lines().collect();
    let at = lines.iter().position(|l| l.contains("token acquired:")).expect("the token step");
    let (cause, fix) = (lines[at], lines[at + 1].trim().trim_start_matches("fix: "));
    assert!(cause.contains("AADSTS7000215") && cause.contains("Invalid client secret provided"), "{cause}");
    assert!(!fix.is_empty() && !cause.contains(fix), "the fix repeats the cause:\n{cause}\n{fix}");
}

#[tokio::test]
async fn doctor_prints_json_for_ci_and_exits_with_the_failed_steps_code() {
    let (server, vars) = mock_org(None).await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.2/accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(0, 1, None)))
        .mount(&server)
        .await;
    let output = run(&["doctor", "--format", "json"], &env_of(&vars), "").await.success();
    let document: Value = serde_json::from_str(&output.stdout).expect("stdout is one JSON document");
    assert_eq!(document["passed"], true);
    assert_eq!(document["exit_code"], 0);
    let steps = document["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["status"] == "pass"), "{document:#}");
    assert_eq!(steps[0]["title"], "org URL");

    let mut wrong = vars.clone();
    wrong.retain(|(name, _)| name != "AZURE_CLIENT_ID");
    wrong.push(("AZURE_CLIENT_ID".to_owned(), "my-app".to_owned()));
    let output = run(&["doctor", "--format", "json"], &env_of(&wrong), "").await.failure(12);
    let document: Value = serde_json::from_str(&output.stdout).expect("stdout is one JSON document");
    assert_eq!(document["exit_code"], 12);
    let failed = document["steps"].as_array().unwrap().iter().find(|s| s["status"] == "fail").unwrap();
    assert_eq!(failed["title"], "client id");
    assert!(failed["cause"].as_str().unwrap().contains("my-app"), "{failed}");
    assert!(failed["fix"].as_str().unwrap().contains("Application (client) ID"), "{failed}");
    assert_eq!(failed["exit_code"], 12);
}
