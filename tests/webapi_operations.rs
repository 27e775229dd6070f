//! Functions, actions, references and request options against wiremock, checked against the URLs and bodies
//! Microsoft publishes (read in place).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use dynamics_webapi::{RecordKey, RequestOptions, WhoAmI};
use serde_json::{Value, json};
use support::{
    API, assert_webapi_headers, decoded_query, fail_unmatched, header_text, http_messages, json_body, json_response,
    only_request, webapi_builder, webapi_client,
};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The published URL forms of `functions-whoami.http`, without the org and the request's HTTP version.
fn published_function_urls() -> Vec<String> {
    http_messages("msdocs/crud/functions-whoami.http")
        .iter()
        .filter(|m| m.start.starts_with("GET "))
        .map(|m| {
            let url = m.start.trim_start_matches("GET ").trim_end_matches(" HTTP/1.1").trim();
            url.replace("[Organization URI]", "")
        })
        .collect()
}

#[tokio::test]
async fn who_am_i_reads_the_published_answer_into_a_typed_struct() {
    let server = MockServer::start().await;
    let published = http_messages("msdocs/crud/functions-whoami.http");
    let answer = published.iter().find(|m| m.start.starts_with("HTTP/1.1 200")).unwrap();
    Mock::given(method("GET"))
        .and(path(format!("{API}/WhoAmI")))
        .respond_with(json_response(200, &answer.body_for(&server.uri())))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let me: WhoAmI = client.who_am_i().await.unwrap();

    assert_eq!(me.user_id, Uuid::parse_str("d96e9f55-f06d-e511-80d0-00155db07cb1").unwrap());
    assert_eq!(me.business_unit_id, Uuid::parse_str("ded5a64f-f06d-e511-80d0-00155db07cb1").unwrap());
    assert_eq!(me.organization_id, Uuid::parse_str("4faf1f34-f06d-e511-80d0-00155db07cb1").unwrap());
    let request = only_request(&server).await;
    assert_webapi_headers(&request);
    assert_eq!(request.url.query(), None);
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn an_unbound_function_passes_its_parameters_as_aliases_exactly_as_published() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/data/v9.0/GetTimeZoneCodeByLocalizedName(LocalizedStandardName=@p1,LocaleId=@p2)"))
        .respond_with(json_response(200, r#"{"@odata.context":"x","TimeZoneCode":4}"#))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder.api_version("9.0").build().unwrap();

    let answer: Value = client
        .function("GetTimeZoneCodeByLocalizedName")
        .param("LocalizedStandardName", "Pacific Standard Time")
        .param("LocaleId", 1033)
        .send()
        .await
        .unwrap();

    assert_eq!(answer["TimeZoneCode"], 4);
    let request = only_request(&server).await;
    assert_webapi_headers(&request);
    let published = published_function_urls();
    let alias_form = published.iter().find(|u| u.contains("LocalizedStandardName=@p1")).unwrap();
    let (published_path, published_query) = alias_form.split_once('?').unwrap();
    assert_eq!(request.url.path(), published_path);
    let decoded: Vec<String> = decoded_query(&request).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(decoded.join("&"), published_query, "the aliases decode to the published values");
}

#[tokio::test]
async fn a_bound_function_with_a_raw_entity_reference_parameter() {
    let server = MockServer::start().await;
    let user = "af9b3cf6-f654-4cd9-97a6-cf9526662797";
    Mock::given(method("GET"))
        .and(path(format!(
            "/api/data/v9.0/systemusers({user})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)"
        )))
        .respond_with(json_response(200, r#"{"AccessRights":"ReadAccess, WriteAccess"}"#))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder.api_version("9.0").build().unwrap();

    let access: Value = client
        .function("RetrievePrincipalAccess")
        .bound_to("systemusers", Uuid::parse_str(user).unwrap())
        .param_raw("Target", "{'@odata.id':'contacts(9f3162f6-804a-e611-80d1-00155d4333fa)'}")
        .send()
        .await
        .unwrap();

    assert_eq!(access["AccessRights"], "ReadAccess, WriteAccess");
    let request = only_request(&server).await;
    let published = published_function_urls();
    let bound = published.iter().find(|u| u.contains("RetrievePrincipalAccess")).unwrap();
    let published_value = bound.split_once("?@tid=").unwrap().1;
    assert_eq!(decoded_query(&request), [("@p1".to_owned(), published_value.to_owned())]);
}

#[tokio::test]
async fn actions_post_their_parameters_as_json_unbound_bound_to_a_record_and_to_a_set() {
    let server = MockServer::start().await;
    let opportunity = Uuid::from_u128(7);
    Mock::given(method("POST"))
        .and(path(format!("{API}/WinOpportunity")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/opportunities({opportunity})/Microsoft.Dynamics.CRM.contoso_Score")))
        .respond_with(json_response(200, r#"{"Score":98.25}"#))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/accounts/Microsoft.Dynamics.CRM.contoso_Recalculate")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let win = json!({
        "Status": 3,
        "OpportunityClose": {
            "subject": "Won Opportunity",
            "opportunityid@odata.bind": format!("/opportunities({opportunity})")
        }
    });

    client.action("WinOpportunity").body(&win).send().await.unwrap();
    #[derive(serde::Deserialize)]
    struct Score {
        #[serde(rename = "Score")]
        score: f64,
    }
    let score: Score = client
        .action("contoso_Score")
        .bound_to("opportunities", Some(RecordKey::from(opportunity)))
        .body(&json!({"Weight": 2}))
        .send_returning()
        .await
        .unwrap();
    client.action("contoso_Recalculate").bound_to("accounts", None).send().await.unwrap();

    assert!((score.score - 98.25).abs() < f64::EPSILON);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_webapi_headers(request);
        assert_eq!(header_text(request, "content-type").as_deref(), Some("application/json; charset=utf-8"));
        assert_eq!(request.url.query(), None);
    }
    assert_eq!(json_body(&requests[0]), win);
    assert_eq!(json_body(&requests[1]), json!({"Weight": 2}));
    assert_eq!(json_body(&requests[2]), json!({}));
}

#[tokio::test]
async fn an_action_is_not_repeated_after_a_503_because_it_may_have_run() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).expect(1).mount(&server).await;
    let (client, clock, _) = webapi_client(&server);

    let error = client.action("WinOpportunity").body(&json!({"Status": 3})).send().await.unwrap_err();

    assert_eq!(error.status(), Some(503));
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn associates_and_disassociates_through_ref_as_published() {
    let server = MockServer::start().await;
    let published = http_messages("msdocs/crud/associate-disassociate.http");
    let requests: Vec<_> = published.iter().filter(|m| !m.start.starts_with("HTTP/")).collect();
    let account = Uuid::from_u128(2);
    let opportunity = Uuid::from_u128(1);
    for (verb, route) in [
        ("POST", format!("/api/data/v9.0/accounts({account})/opportunity_customer_accounts/$ref")),
        ("PUT", format!("/api/data/v9.0/opportunities({opportunity})/customerid_account/$ref")),
        ("DELETE", format!("/api/data/v9.0/accounts({account})/opportunity_customer_accounts({opportunity})/$ref")),
        ("DELETE", format!("/api/data/v9.0/opportunities({opportunity})/customerid_account/$ref")),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
    }
    fail_unmatched(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder.api_version("9.0").build().unwrap();
    let accounts = client.entity_set("accounts");
    let opportunities = client.entity_set("opportunities");

    accounts.associate(account, "opportunity_customer_accounts", "opportunities", opportunity).await.unwrap();
    opportunities.set_lookup(opportunity, "customerid_account", "accounts", account).await.unwrap();
    accounts.disassociate(account, "opportunity_customer_accounts", opportunity).await.unwrap();
    opportunities.clear_lookup(opportunity, "customerid_account").await.unwrap();

    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 4);
    // Published 1, 2, 3b (key in the path; 3a is the `$id` form of the same) and 3c.
    for (ours, theirs) in sent.iter().zip([requests[0], requests[1], requests[3], requests[4]]) {
        let published_path = theirs.start.split("]").nth(1).unwrap().split_whitespace().next().unwrap();
        assert_eq!(
            format!("{} {}", ours.method, ours.url.path()),
            format!("{} {published_path}", theirs.start.split(' ').next().unwrap())
        );
        assert_webapi_headers(ours);
    }
    // The published associate body, with the org's URL: the same as ours.
    let published_body: Value = serde_json::from_str(&requests[0].body_for(&server.uri())).unwrap();
    assert_eq!(json_body(&sent[0]), published_body);
    // The published single-valued body names the target relative to the service root; ours is absolute,
    // which Dataverse takes as well.
    let relative: Value = serde_json::from_str(&requests[1].body_for(&server.uri())).unwrap();
    assert_eq!(
        json_body(&sent[1])["@odata.id"],
        format!("{}/api/data/v9.0/{}", server.uri(), relative["@odata.id"].as_str().unwrap())
    );
    assert!(sent[2].body.is_empty() && sent[3].body.is_empty());
}

#[tokio::test]
async fn request_options_become_dataverse_headers_and_override_the_client_defaults() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(json_response(200, r#"{"TimeZoneCode":4}"#)).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder
        .default_options(RequestOptions::new().solution("contoso_core").suppress_duplicate_detection(false))
        .build()
        .unwrap();
    let entra_user = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();
    let system_user = Uuid::parse_str("66666666-7777-8888-9999-000000000000").unwrap();

    let _: Value = client
        .function("GetTimeZoneCodeByLocalizedName")
        .param("LocaleId", 1033)
        .options(RequestOptions::new().impersonate_systemuser(system_user))
        .send()
        .await
        .unwrap();
    client
        .action("contoso_Recalculate")
        .options(
            RequestOptions::new().impersonate_entra_object(entra_user).bypass_custom_plugins(true).solution("other"),
        )
        .send()
        .await
        .unwrap();
    client.action("contoso_Plain").send().await.unwrap();

    let sent = server.received_requests().await.unwrap();
    let headers = |index: usize| {
        [
            "callerobjectid",
            "mscrmcallerid",
            "mscrm.suppressduplicatedetection",
            "mscrm.bypasscustompluginexecution",
            "mscrm.solutionuniquename",
        ]
        .map(|name| header_text(&sent[index], name))
    };
    assert_eq!(
        headers(0),
        [None, Some(system_user.to_string()), Some("false".into()), None, Some("contoso_core".into())]
    );
    assert_eq!(
        headers(1),
        [Some(entra_user.to_string()), None, Some("false".into()), Some("true".into()), Some("other".into())]
    );
    assert_eq!(headers(2), [None, None, Some("false".into()), None, Some("contoso_core".into())]);
}

#[tokio::test]
async fn an_actions_money_parameter_goes_out_exactly_as_written() {
    #[derive(serde::Serialize)]
    struct Adjust {
        #[serde(rename = "Amount", with = "dynamics_webapi::exact::decimal")]
        amount: rust_decimal::Decimal,
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/contoso_Adjust")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    client
        .action("contoso_Adjust")
        .body(&Adjust { amount: "9007199254740993.0001".parse().unwrap() })
        .send()
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(String::from_utf8(requests[0].body.clone()).unwrap(), r#"{"Amount":9007199254740993.0001}"#);
    assert_eq!(requests[0].headers["content-type"], "application/json; charset=utf-8");
}
