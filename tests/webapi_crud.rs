//! Create, retrieve, update, upsert, delete and references, against wiremock:
//! the exact request on the wire and the parsed answer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use dynamics_webapi::query::{Annotation, Field, Query, Untyped};
use dynamics_webapi::{Patch, Record, RecordKey, RequestOptions, bind};
use serde_json::{Value, json};
use support::{API, fail_unmatched, http_messages, json_response, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT: &str = "7eb682f1-ca75-e511-80d4-00155d2a68d1";

fn account_id() -> Uuid {
    Uuid::parse_str(ACCOUNT).unwrap()
}

/// The only request the mock received.
async fn only_request(server: &MockServer) -> Request {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

fn assert_standard_headers(request: &Request) {
    assert_eq!(request.headers["authorization"], "Bearer token-1");
    assert_eq!(request.headers["odata-version"], "4.0");
    assert_eq!(request.headers["odata-maxversion"], "4.0");
    assert_eq!(request.headers["accept"], "application/json");
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn creates_a_record_and_reads_its_id_from_odata_entity_id() {
    let server = MockServer::start().await;
    let sample = http_messages("msdocs/crud/create-basic.http");
    let (sent, answer) = (&sample[0], &sample[1]);
    let entity_id = answer.header("OData-EntityId").unwrap().replace("[Organization URI]", &server.uri());
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts")))
        .respond_with(ResponseTemplate::new(answer.status()).insert_header("OData-EntityId", entity_id.as_str()))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let record: Value = serde_json::from_str(&sent.body).unwrap();

    let id = client.entity_set("accounts").create(&record).send().await.unwrap();

    assert_eq!(id, account_id());
    let request = only_request(&server).await;
    assert_standard_headers(&request);
    assert_eq!(request.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(body(&request), record);
}

#[tokio::test]
async fn create_with_return_representation_returns_the_record_with_exact_money() {
    let server = MockServer::start().await;
    let sample = http_messages("msdocs/crud/create-return-representation.http");
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts")))
        .and(query_param("$select", "name,revenue"))
        .and(header("prefer", "return=representation"))
        .respond_with(json_response(201, &sample[1].body_for(&server.uri())))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    const NAME: Field<Untyped, Option<String>> = Field::new("name");
    const REVENUE: Field<Untyped, Option<rust_decimal::Decimal>> = Field::new("revenue");

    let record: Record = client
        .entity_set("accounts")
        .create(&json!({"name": "Sample Account", "revenue": 5000000}))
        .query(&Query::untyped("accounts").select((NAME, REVENUE)))
        .send_returning()
        .await
        .unwrap();

    assert_eq!(record.string("name").unwrap().as_deref(), Some("Sample Account"));
    assert_eq!(record.decimal("revenue").unwrap().unwrap().to_string(), "5000000.0000");
    assert_eq!(record.etag().as_deref(), Some("W/\"536530\""));
}

#[tokio::test]
async fn send_returning_keeps_the_annotations_the_query_asks_for_beside_return_representation() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(
            201,
            r#"{"name":"x","statecode":0,"statecode@OData.Community.Display.V1.FormattedValue":"Active"}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("PATCH")).respond_with(json_response(200, r#"{"name":"y"}"#)).mount(&server).await;
    let (client, _, _) = webapi_client(&server);
    const NAME: Field<Untyped, Option<String>> = Field::new("name");
    let query = Query::untyped("accounts").select(NAME).annotations([Annotation::FormattedValue]).max_page_size(5);

    let _: Record =
        client.entity_set("accounts").create(&json!({"name": "x"})).query(&query).send_returning().await.unwrap();
    let _: Record = client
        .entity_set("accounts")
        .update(account_id(), &json!({"name": "y"}))
        .query(&query)
        .send_returning()
        .await
        .unwrap();

    for request in server.received_requests().await.unwrap() {
        assert_eq!(
            request.headers.get("prefer").unwrap().to_str().unwrap(),
            "return=representation, odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"",
            "{} keeps the annotations and leaves out paging",
            request.method
        );
    }
}

#[tokio::test]
async fn create_binds_a_lookup_with_odata_bind() {
    let server = MockServer::start().await;
    let contact = "00000000-0000-0000-0000-0000000000c1";
    Mock::given(method("POST"))
        .and(path(format!("{API}/contacts")))
        .and(body_json(json!({
            "lastname": "Doe",
            "parentcustomerid_account@odata.bind": format!("/accounts({ACCOUNT})"),
        })))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("OData-EntityId", format!("{}{API}/contacts({contact})", server.uri())),
        )
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let id = client
        .entity_set("contacts")
        .create(&json!({"lastname": "Doe", "parentcustomerid_account@odata.bind": bind("accounts", account_id())}))
        .send()
        .await
        .unwrap();

    assert_eq!(id.to_string(), contact);
}

#[tokio::test]
async fn a_create_with_its_own_id_is_repeated_after_503_and_the_duplicate_counts_as_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(
            412,
            r#"{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}"#,
        ))
        .mount(&server)
        .await;
    let (client, clock, _) = webapi_client(&server);

    let id = client
        .entity_set("accounts")
        .create(&json!({"name": "Contoso"}))
        .with_id_column("accountid", account_id())
        .send()
        .await;

    assert_eq!(id.unwrap(), account_id());
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(body(&requests[1]), json!({"name": "Contoso", "accountid": ACCOUNT}));
    assert_eq!(clock.sleeps().len(), 1);
}

#[tokio::test]
async fn a_plain_create_is_never_repeated_after_503() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).expect(1).mount(&server).await;
    let (client, clock, _) = webapi_client(&server);

    let error = client.entity_set("accounts").create(&json!({"name": "Contoso"})).send().await.unwrap_err();

    assert_eq!(error.status(), Some(503));
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn retrieves_by_id_and_by_single_and_composite_alternate_keys() {
    let server = MockServer::start().await;
    let answer = json!({"@odata.etag": "W/\"1\"", "name": "Contoso"}).to_string();
    for route in [
        format!("{API}/accounts({ACCOUNT})"),
        format!("{API}/accounts(accountnumber='A%2F1%20%231')"),
        format!("{API}/contacts(firstname='J',lastname='O''Neil')"),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(json_response(200, &answer))
            .expect(1)
            .mount(&server)
            .await;
    }
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let by_id: Record = client.entity_set("accounts").retrieve(account_id()).send().await.unwrap();
    let by_number: Record = client
        .entity_set("accounts")
        .retrieve(RecordKey::alternate([("accountnumber", "A/1 #1")]))
        .send()
        .await
        .unwrap();
    let by_name: Record = client
        .entity_set("contacts")
        .retrieve(RecordKey::alternate([("firstname", "J"), ("lastname", "O'Neil")]))
        .send()
        .await
        .unwrap();

    for record in [by_id, by_number, by_name] {
        assert_eq!(record.string("name").unwrap().as_deref(), Some("Contoso"));
    }
}

#[tokio::test]
async fn a_missing_record_is_not_found_and_optional_turns_it_into_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(
            404,
            r#"{"error":{"code":"0x80040217","message":"account With Id = 7eb682f1-ca75-e511-80d4-00155d2a68d1 Does Not Exist"}}"#,
        ))
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);

    let error = client.entity_set("accounts").retrieve::<Record>(account_id()).send().await.unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(error.service_code(), Some("0x80040217"));
    assert!(error.to_string().contains("Does Not Exist"), "{error}");

    use dynamics_webapi::OptionalExt;
    let none = client.entity_set("accounts").retrieve::<Record>(account_id()).send().await.optional().unwrap();
    assert!(none.is_none());
}

#[tokio::test]
async fn update_sends_if_match_star_and_only_the_columns_given() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{API}/accounts({ACCOUNT})")))
        .and(header("if-match", "*"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    #[derive(serde::Serialize, Default)]
    struct AccountUpdate {
        #[serde(skip_serializing_if = "Patch::is_keep")]
        name: Patch<String>,
        #[serde(skip_serializing_if = "Patch::is_keep")]
        telephone1: Patch<String>,
        #[serde(skip_serializing_if = "Patch::is_keep")]
        fax: Patch<String>,
    }
    let update = AccountUpdate { name: Patch::Set("Contoso".into()), telephone1: Patch::Clear, ..Default::default() };

    client.entity_set("accounts").update(account_id(), &update).send().await.unwrap();

    let request = only_request(&server).await;
    assert_standard_headers(&request);
    assert!(request.headers.get("if-none-match").is_none());
    assert_eq!(body(&request), json!({"name": "Contoso", "telephone1": null}));
}

#[tokio::test]
async fn update_of_a_missing_record_is_not_found_because_update_never_creates() {
    let server = MockServer::start().await;
    let sample = http_messages("msdocs/crud/conditional-upsert-etag.http");
    let not_found = sample.iter().find(|m| m.start.starts_with("HTTP/1.1 404")).unwrap();
    Mock::given(method("PATCH")).respond_with(json_response(404, &not_found.body)).mount(&server).await;
    let (client, _, _) = webapi_client(&server);

    let error = client.entity_set("accounts").update(account_id(), &json!({"name": "x"})).send().await.unwrap_err();

    assert!(error.is_not_found());
    assert!(!error.is_concurrency_conflict() && !error.is_already_exists());
}

/// OData servers other than Dataverse answer an update-only write (`If-Match: *`) of a missing record with 412.
#[tokio::test]
async fn an_update_only_write_answered_412_is_not_found_too() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(header("if-match", "*"))
        .respond_with(json_response(412, r#"{"error":{"code":"","message":"Precondition failed."}}"#))
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);

    let error = client.entity_set("accounts").update(account_id(), &json!({"name": "x"})).send().await.unwrap_err();

    assert!(error.is_not_found(), "{error}");
    assert!(!error.is_concurrency_conflict() && !error.is_already_exists());
}

#[tokio::test]
async fn a_create_only_write_that_also_asks_for_if_match_is_refused_before_sending() {
    let server = MockServer::start().await;
    let (client, _, _) = webapi_client(&server);

    let error = client
        .entity_set("accounts")
        .create_only(account_id(), &json!({"name": "x"}))
        .if_match("*")
        .send()
        .await
        .unwrap_err();

    assert!(matches!(error, dynamics_webapi::Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("cannot also require If-Match"), "{error}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_conditional_retrieve_is_none_when_the_record_has_not_changed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("if-none-match", "W/\"470867\""))
        .respond_with(ResponseTemplate::new(304))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("if-none-match", "W/\"1\""))
        .respond_with(json_response(200, r#"{"@odata.etag":"W/\"470867\"","name":"Contoso"}"#))
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);
    let accounts = client.entity_set("accounts");

    let unchanged = accounts.retrieve::<Record>(account_id()).send_if_changed("W/\"470867\"").await.unwrap();
    let changed = accounts.retrieve::<Record>(account_id()).send_if_changed("W/\"1\"").await.unwrap();

    assert!(unchanged.is_none());
    assert_eq!(changed.unwrap().string("name").unwrap().as_deref(), Some("Contoso"));
}

#[tokio::test]
async fn upsert_sends_no_precondition() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{API}/accounts(accountnumber='A1')")))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("OData-EntityId", format!("{}{API}/accounts({ACCOUNT})", server.uri()).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);

    let id = client
        .entity_set("accounts")
        .upsert(RecordKey::alternate([("accountnumber", "A1")]), &json!({"name": "x"}))
        .send()
        .await;

    assert_eq!(id.unwrap(), Some(account_id()));
    let request = only_request(&server).await;
    assert!(request.headers.get("if-match").is_none() && request.headers.get("if-none-match").is_none());
}

#[tokio::test]
async fn a_412_tells_already_exists_from_a_concurrency_conflict() {
    let server = MockServer::start().await;
    let sample = http_messages("msdocs/crud/conditional-upsert-etag.http");
    let already_exists = sample.iter().find(|m| m.start.starts_with("HTTP/1.1 412")).unwrap();
    Mock::given(method("PATCH"))
        .and(header("if-none-match", "*"))
        .respond_with(json_response(412, &already_exists.body))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(header("if-match", "W/\"470867\""))
        .respond_with(json_response(
            412,
            r#"{"error":{"code":"0x80060882","message":"The version of the existing record doesn't match the RowVersion property provided."}}"#,
        ))
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);
    let accounts = client.entity_set("accounts");

    let exists = accounts.create_only(account_id(), &json!({"name": "x"})).send().await.unwrap_err();
    let conflict =
        accounts.update(account_id(), &json!({"name": "x"})).if_match("W/\"470867\"").send().await.unwrap_err();

    assert!(exists.is_already_exists() && !exists.is_concurrency_conflict(), "{exists}");
    assert!(conflict.is_concurrency_conflict() && !conflict.is_already_exists(), "{conflict}");
}

#[tokio::test]
async fn update_can_return_the_record_as_written() {
    let server = MockServer::start().await;
    let sample = http_messages("msdocs/crud/update-return-representation.http");
    Mock::given(method("PATCH"))
        .and(header("prefer", "return=representation"))
        .and(header("if-match", "*"))
        .respond_with(json_response(200, &sample[1].body_for(&server.uri())))
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);

    let record: Record = client
        .entity_set("accounts")
        .update(Uuid::nil(), &json!({"name": "Updated Sample Account"}))
        .send_returning()
        .await
        .unwrap();

    assert_eq!(record.string("name").unwrap().as_deref(), Some("Updated Sample Account"));
}

#[tokio::test]
async fn deletes_with_and_without_an_etag() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{API}/accounts({ACCOUNT})")))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);

    client.entity_set("accounts").delete(account_id()).send().await.unwrap();
    client.entity_set("accounts").delete(account_id()).if_match("W/\"470867\"").send().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("if-match").is_none());
    assert_eq!(requests[1].headers["if-match"], "W/\"470867\"");
}

#[tokio::test]
async fn sets_clears_associates_and_disassociates_references() {
    let server = MockServer::start().await;
    let opportunity = "00000000-0000-0000-0000-000000000001";
    let account = "00000000-0000-0000-0000-000000000002";
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts({account})/opportunity_customer_accounts/$ref")))
        .and(body_json(json!({"@odata.id": format!("{}{API}/opportunities({opportunity})", server.uri())})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{API}/opportunities({opportunity})/customerid_account/$ref")))
        .and(body_json(json!({"@odata.id": format!("{}{API}/accounts({account})", server.uri())})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{API}/accounts({account})/opportunity_customer_accounts({opportunity})/$ref")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{API}/opportunities({opportunity})/customerid_account/$ref")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let (account, opportunity) = (Uuid::parse_str(account).unwrap(), Uuid::parse_str(opportunity).unwrap());

    let accounts = client.entity_set("accounts");
    let opportunities = client.entity_set("opportunities");
    accounts.associate(account, "opportunity_customer_accounts", "opportunities", opportunity).await.unwrap();
    opportunities.set_lookup(opportunity, "customerid_account", "accounts", account).await.unwrap();
    accounts.disassociate(account, "opportunity_customer_accounts", opportunity).await.unwrap();
    opportunities.clear_lookup(opportunity, "customerid_account").await.unwrap();
}

#[tokio::test]
async fn request_options_travel_as_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("OData-EntityId", format!("{}{API}/accounts({ACCOUNT})", server.uri())),
        )
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);
    let caller = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();

    client
        .entity_set("accounts")
        .create(&json!({"name": "x"}))
        .options(
            RequestOptions::new()
                .impersonate_entra_object(caller)
                .suppress_duplicate_detection(false)
                .bypass_custom_plugins(true)
                .solution("contoso_core"),
        )
        .send()
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_eq!(request.headers["callerobjectid"], caller.to_string());
    assert_eq!(request.headers["mscrm.suppressduplicatedetection"], "false");
    assert_eq!(request.headers["mscrm.bypasscustompluginexecution"], "true");
    assert_eq!(request.headers["mscrm.solutionuniquename"], "contoso_core");
}

#[tokio::test]
async fn bad_names_and_keys_fail_before_sending() {
    let server = MockServer::start().await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let bad_set = client.entity_set("accounts?$top=1").retrieve::<Record>(account_id()).send().await.unwrap_err();
    let bad_key = client
        .entity_set("accounts")
        .retrieve::<Record>(RecordKey::alternate([("account number", "1")]))
        .send()
        .await
        .unwrap_err();

    assert!(matches!(bad_set, dynamics_webapi::Error::Config(_)), "{bad_set:?}");
    assert!(matches!(bad_key, dynamics_webapi::Error::Config(_)), "{bad_key:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn updates_upserts_and_deletes_are_repeated_after_a_gateway_error_because_repeating_is_safe() {
    for (verb, status) in [("PATCH", 502_u16), ("PUT", 503), ("DELETE", 504)] {
        let server = MockServer::start().await;
        Mock::given(method(verb)).respond_with(ResponseTemplate::new(status)).up_to_n_times(1).mount(&server).await;
        Mock::given(method(verb)).respond_with(ResponseTemplate::new(204)).mount(&server).await;
        fail_unmatched(&server).await;
        let (client, clock, _) = webapi_client(&server);
        let accounts = client.entity_set("accounts");

        match verb {
            "PATCH" => {
                accounts.update(account_id(), &json!({"name": "x"})).send().await.unwrap();
            }
            "PUT" => accounts.set_lookup(account_id(), "parentaccountid", "accounts", Uuid::nil()).await.unwrap(),
            _ => accounts.delete(account_id()).send().await.unwrap(),
        }

        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2, "{verb}");
        assert_eq!(requests[0].body, requests[1].body, "{verb}: the same request again");
        assert_eq!(clock.sleeps().len(), 1, "{verb}: one back-off");
    }
}

#[tokio::test]
async fn the_user_agent_api_version_and_a_caller_supplied_http_client_are_used() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(json_response(200, r#"{"name":"x"}"#)).mount(&server).await;
    fail_unmatched(&server).await;
    let (builder, _, _) = support::webapi_builder(&server);
    let client = builder.user_agent("contoso-sync/1.2").api_version("9.1").build().unwrap();

    let _: Record = client.entity_set("accounts").retrieve(account_id()).send().await.unwrap();

    let request = only_request(&server).await;
    assert_eq!(request.headers["user-agent"], "contoso-sync/1.2");
    assert_eq!(request.url.path(), format!("/api/data/v9.1/accounts({ACCOUNT})"));
    assert_eq!(client.service_root().as_str(), format!("{}/api/data/v9.1/", server.uri()));

    let mut defaults = reqwest::header::HeaderMap::new();
    defaults.insert("x-contoso-trace", reqwest::header::HeaderValue::from_static("abc"));
    let http = reqwest::Client::builder().default_headers(defaults).build().unwrap();
    let (builder, _, _) = support::webapi_builder(&server);
    let client = builder.http_client(http).build().unwrap();
    let _: Record = client.entity_set("accounts").retrieve(account_id()).send().await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[1].headers["x-contoso-trace"], "abc");
    assert_eq!(requests[1].headers["authorization"], "Bearer token-1");
    assert_eq!(client.resource().as_str().trim_end_matches('/'), server.uri());
}

#[tokio::test]
async fn requests_go_through_the_configured_proxy_and_bad_root_certificates_are_refused() {
    let proxy = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts({ACCOUNT})")))
        .respond_with(json_response(200, r#"{"name":"via proxy"}"#))
        .expect(1)
        .mount(&proxy)
        .await;
    fail_unmatched(&proxy).await;
    // Nothing listens at the org's address: the answer can only come through the proxy.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let tokens = std::sync::Arc::new(aad_auth::test_util::StaticTokenProvider::new(
        std::time::Duration::from_secs(3600),
        std::sync::Arc::new(aad_auth::SystemClock),
    ));
    let client = dynamics_webapi::Client::builder(format!("http://{unused}"), tokens.clone())
        .proxy(proxy.uri())
        .build()
        .unwrap();

    let record: Record = client.entity_set("accounts").retrieve(account_id()).send().await.unwrap();

    assert_eq!(record.string("name").unwrap().as_deref(), Some("via proxy"));
    let request = only_request(&proxy).await;
    assert_eq!(request.headers["host"], unused.to_string().as_str(), "addressed to the org, sent to the proxy");
    let error = dynamics_webapi::Client::builder("https://contoso.crm.dynamics.com", tokens.clone())
        .add_root_certificate(b"not a certificate".to_vec())
        .build()
        .unwrap_err();
    assert!(matches!(error, dynamics_webapi::Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("neither PEM"), "{error}");
    let trusted = dynamics_webapi::Client::builder("https://contoso.crm.dynamics.com", tokens.clone())
        .add_root_certificate(support::fixture_bytes("aad/certificates/ca.crt"))
        .build();
    assert!(trusted.is_ok(), "a PEM CA certificate is taken: {trusted:?}");
    let error = dynamics_webapi::Client::builder("https://contoso.crm.dynamics.com", tokens)
        .proxy("::bad::")
        .build()
        .unwrap_err();
    assert!(matches!(error, dynamics_webapi::Error::Config(_)), "{error:?}");
}

/// A record whose Money column is written as an exact JSON number.
#[derive(serde::Serialize)]
struct Priced {
    name: &'static str,
    #[serde(with = "dynamics_webapi::exact::decimal")]
    revenue: rust_decimal::Decimal,
}

#[tokio::test]
async fn a_create_sends_money_exactly_as_written_with_or_without_its_own_id() {
    let server = MockServer::start().await;
    let entity_id = format!("{}{API}/accounts({ACCOUNT})", server.uri());
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts")))
        .respond_with(ResponseTemplate::new(204).insert_header("OData-EntityId", entity_id.as_str()))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    // 17 significant digits: a trip through f64 would give 123456789012345.67.
    let record = Priced { name: "Contoso", revenue: "123456789012345.6789".parse().unwrap() };

    client.entity_set("accounts").create(&record).send().await.unwrap();
    client.entity_set("accounts").create(&record).with_id_column("accountid", account_id()).send().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let plain = String::from_utf8(requests[0].body.clone()).unwrap();
    assert_eq!(plain, r#"{"name":"Contoso","revenue":123456789012345.6789}"#);
    let keyed = String::from_utf8(requests[1].body.clone()).unwrap();
    assert_eq!(keyed, format!(r#"{{"accountid":"{ACCOUNT}","name":"Contoso","revenue":123456789012345.6789}}"#));
}

#[tokio::test]
async fn a_create_only_write_repeated_after_a_gateway_error_counts_its_own_record_as_created() {
    // The first attempt may have created the record before the gateway gave up: the repeat's 412
    // "already exists" is that success, not someone else's record.
    let server = MockServer::start().await;
    let sample = http_messages("msdocs/crud/conditional-upsert-etag.http");
    let already_exists = sample.iter().find(|m| m.start.starts_with("HTTP/1.1 412")).unwrap();
    Mock::given(method("PATCH"))
        .and(header("if-none-match", "*"))
        .respond_with(ResponseTemplate::new(504))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(header("if-none-match", "*"))
        .respond_with(json_response(412, &already_exists.body))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, clock, _) = webapi_client(&server);

    let written = client.entity_set("accounts").create_only(account_id(), &json!({"name": "x"})).send().await;

    assert_eq!(written.unwrap(), None);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "the create-only write was repeated once");
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(clock.sleeps().len(), 1);

    // Without an earlier attempt whose outcome is unknown, a 412 is someone else's record.
    let server = MockServer::start().await;
    Mock::given(method("PATCH")).respond_with(json_response(412, &already_exists.body)).mount(&server).await;
    let (client, _, _) = webapi_client(&server);
    let error = client.entity_set("accounts").create_only(account_id(), &json!({"name": "x"})).send().await;
    assert!(error.unwrap_err().is_already_exists());
}

#[tokio::test]
async fn a_repeated_create_with_its_own_id_returns_the_record_it_created() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(
            412,
            r#"{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts({ACCOUNT})")))
        .and(query_param("$select", "name"))
        .respond_with(json_response(200, &format!(r#"{{"accountid":"{ACCOUNT}","name":"Contoso"}}"#)))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let created: Record = client
        .entity_set("accounts")
        .create(&json!({"name": "Contoso"}))
        .with_id_column("accountid", account_id())
        .query(&Query::untyped("accounts").select("name"))
        .send_returning()
        .await
        .unwrap();

    assert_eq!(created.string("name").unwrap().as_deref(), Some("Contoso"));
    let posts = server.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 2);
}

#[tokio::test]
async fn a_repeated_create_only_write_returns_the_record_it_created() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(502)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("PATCH"))
        .respond_with(json_response(
            412,
            r#"{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts({ACCOUNT})")))
        .respond_with(json_response(200, r#"{"name":"x"}"#))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let written: Record =
        client.entity_set("accounts").create_only(account_id(), &json!({"name": "x"})).send_returning().await.unwrap();

    assert_eq!(written.string("name").unwrap().as_deref(), Some("x"));
}

#[tokio::test]
async fn a_delete_repeated_after_a_gateway_error_that_finds_nothing_counts_as_deleted() {
    let not_found = r#"{"error":{"code":"0x80040217","message":"account With Id = 7eb682f1-ca75-e511-80d4-00155d2a68d1 Does Not Exist"}}"#;
    let server = MockServer::start().await;
    Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(504)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("DELETE")).respond_with(json_response(404, not_found)).mount(&server).await;
    fail_unmatched(&server).await;
    let (client, clock, _) = webapi_client(&server);

    client.entity_set("accounts").delete(account_id()).send().await.unwrap();

    assert_eq!(server.received_requests().await.unwrap().len(), 2, "the delete was repeated once");
    assert_eq!(clock.sleeps().len(), 1);

    // A first attempt that finds nothing is a record that was never there.
    let server = MockServer::start().await;
    Mock::given(method("DELETE")).respond_with(json_response(404, not_found)).mount(&server).await;
    let (client, _, _) = webapi_client(&server);
    assert!(client.entity_set("accounts").delete(account_id()).send().await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_solution_name_that_is_not_header_text_is_refused_before_sending_not_dropped() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    let (client, _, _) = webapi_client(&server);

    let error = client
        .entity_set("accounts")
        .create(&json!({"name": "x"}))
        .options(RequestOptions::new().solution("contoso_core\r\nX-Injected: 1"))
        .send()
        .await
        .unwrap_err();

    assert!(matches!(error, dynamics_webapi::Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("solution"), "{error}");
    assert!(server.received_requests().await.unwrap().is_empty(), "nothing is sent without its solution header");
}
