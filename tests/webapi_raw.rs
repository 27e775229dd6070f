//! The raw request (any path below the service root, through the same transport), and tolerant reading:
//! relative next links, error bodies with target, details and innererror,
//! and a create answered with `Location` alone, against wiremock.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::time::Duration;

use dynamics_webapi::query::{Field, Query, Untyped};
use dynamics_webapi::{Error, Record};
use futures_util::StreamExt;
use http::Method;
use serde_json::json;
use support::{API, assert_webapi_headers, fail_unmatched, header_text, json_response, raw_query, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_raw_get_goes_out_as_written_with_the_clients_headers() {
    let server = MockServer::start().await;
    let metadata_path = format!(
        "{API}/EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    );
    Mock::given(method("GET"))
        .and(path(metadata_path.as_str()))
        .respond_with(json_response(200, r#"{"value":[{"LogicalName":"industrycode"}]}"#))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let answer = client
        .raw(
            Method::GET,
            "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet",
        )
        .header("Consistency", "Strong")
        .send()
        .await
        .unwrap();

    let body: serde_json::Value = answer.json().unwrap();
    assert_eq!(body["value"][0]["LogicalName"], "industrycode");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(raw_query(&requests[0]), "$select=LogicalName&$expand=OptionSet");
    assert_eq!(header_text(&requests[0], "consistency").as_deref(), Some("Strong"));
    assert_webapi_headers(&requests[0]);
}

#[tokio::test]
async fn a_raw_request_is_paced_and_retried_like_any_other() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            json_response(429, r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit."}}"#)
                .insert_header("retry-after", "3"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts/$count")))
        .respond_with(ResponseTemplate::new(200).set_body_string("42"))
        .mount(&server)
        .await;
    let (client, clock, _) = webapi_client(&server);

    let answer = client.raw(Method::GET, "accounts/$count").send().await.unwrap();

    assert_eq!(answer.text(), "42");
    assert_eq!(clock.sleeps(), [Duration::from_secs(3)]);
    assert_eq!(client.stats().retries.throttled, 1);
}

#[tokio::test]
async fn a_raw_post_is_repeated_after_a_503_only_when_said_to_be_idempotent() {
    for idempotent in [false, true] {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).mount(&server).await;
        Mock::given(method("POST")).respond_with(json_response(200, "{}")).mount(&server).await;
        let (client, _, _) = webapi_client(&server);

        let request = client.raw(Method::POST, "RetrievePrincipalAccess").json(&json!({"Target": {}}));
        let request = if idempotent { request.idempotent() } else { request };
        let result = request.send().await;

        assert_eq!(result.is_ok(), idempotent);
        if let Err(error) = result {
            assert_eq!(error.status(), Some(503));
            assert!(error.is_outcome_unknown(), "a gateway error leaves a plain POST unknown");
        }
        let posts = server.received_requests().await.unwrap().len();
        assert_eq!(posts, if idempotent { 2 } else { 1 });
    }
}

#[tokio::test]
async fn a_raw_path_that_leaves_the_service_root_or_a_bad_header_is_refused_before_sending() {
    let server = MockServer::start().await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let leaving = client.raw(Method::GET, "../../../admin").send().await.unwrap_err();
    let bad_header = client.raw(Method::GET, "accounts").header("bad header", "x").send().await.unwrap_err();

    assert!(
        matches!(leaving, Error::Config(_)) && leaving.to_string().contains("leaves the service root"),
        "{leaving}"
    );
    assert!(matches!(bad_header, Error::Config(_)), "{bad_header}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

const NAME: Field<Untyped, Option<String>> = Field::new("name");

#[tokio::test]
async fn a_relative_next_link_is_resolved_against_the_service_root_and_still_kept_inside_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .and(query_param("$skiptoken", "2"))
        .respond_with(json_response(200, r#"{"value":[{"name":"b"}],"@odata.nextLink":"../../../elsewhere/accounts"}"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, r#"{"value":[{"name":"a"}],"@odata.nextLink":"accounts?$skiptoken=2"}"#))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let query = Query::untyped("accounts").select(NAME);
    let results: Vec<_> = client.query::<Record, _>(&query).records().collect().await;

    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[1].as_ref().unwrap().string("name").unwrap().as_deref(), Some("b"));
    let error = results[2].as_ref().unwrap_err();
    assert!(error.to_string().contains("outside the service root"), "{error}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_create_answered_201_with_location_alone_reports_the_new_id() {
    let server = MockServer::start().await;
    let id = Uuid::from_u128(7);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).insert_header("Location", format!("{}{API}/accounts({id})", server.uri())),
        )
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);

    let created = client.entity_set("accounts").create(&json!({"name": "x"})).send().await.unwrap();

    assert_eq!(created, id);
}

#[tokio::test]
async fn an_error_bodys_target_details_and_inner_error_are_kept() {
    let server = MockServer::start().await;
    // OData 4.0 JSON format, section 21.1, as a third-party OData V4 server sends it.
    let body = r#"{"error":{"code":"501","message":"Unsupported functionality","target":"query","details":[{"code":"301","target":"$search","message":"$search query option not supported"}],"innererror":{"trace":[],"context":{}}}}"#;
    Mock::given(method("GET")).respond_with(json_response(501, body)).mount(&server).await;
    let (client, _, _) = webapi_client(&server);

    let error = client.raw(Method::GET, "accounts?$search=x").send().await.unwrap_err();

    let service = error.service_error().unwrap();
    assert_eq!((service.status(), service.code(), service.target()), (501, "501", Some("query")));
    let detail = &service.error_details()[0];
    assert_eq!((detail.code(), detail.target()), ("301", Some("$search")));
    assert_eq!(detail.message(), "$search query option not supported");
    assert_eq!(service.inner_error(), Some(r#"{"context":{},"trace":[]}"#));
}

/// A FetchXML read whose URL would pass Dataverse's 32,768-character limit goes inside a `$batch`.
#[tokio::test]
async fn a_long_fetch_xml_read_is_sent_inside_a_batch() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/$batch")))
        .respond_with(|request: &wiremock::Request| {
            let body = String::from_utf8_lossy(&request.body);
            assert!(body.contains("GET /api/data/v9.2/accounts?fetchXml="), "{}", &body[..300.min(body.len())]);
            let part = "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
                HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n\
                {\"value\":[{\"name\":\"a\"},{\"name\":\"b\"}]}\r\n--batchresponse_1--\r\n";
            ResponseTemplate::new(200).set_body_raw(part, "multipart/mixed; boundary=batchresponse_1")
        })
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let values: String =
        (0..1_500).map(|i| format!("<value>{}</value>", Uuid::from_u128(i))).collect::<Vec<_>>().join("");
    let xml = format!(
        "<fetch><entity name='account'><attribute name='name'/><filter><condition attribute='accountid' operator='in'>{values}</condition></filter></entity></fetch>"
    );

    let records: Vec<_> = client.fetch_xml::<Record>("accounts", &xml).records().collect().await;

    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1].as_ref().unwrap().string("name").unwrap().as_deref(), Some("b"));
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.method.as_str() == "POST"), "no GET went out with the long URL");
}
