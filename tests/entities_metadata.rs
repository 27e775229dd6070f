//! The metadata reads behind `cargo xtask gen-entities --org`: `$metadata` and choice-column metadata
//! fetched through `dynamics-webapi` from wiremock, then read by `dynamics-codegen`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use dynamics_codegen::{CsdlDocument, Generator, OptionSets};
use serde_json::json;
use support::{API, fail_unmatched, fixture, header_text, json_response, webapi_client};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn metadata_document_is_fetched_as_xml_and_parses() {
    let server = MockServer::start().await;
    let csdl = fixture("csdl/dataverse/metadata.xml");
    Mock::given(method("GET"))
        .and(path(format!("{API}/$metadata")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(csdl.clone().into_bytes(), "application/xml"))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let text = client.metadata_document().await.unwrap();
    assert_eq!(text, csdl);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(header_text(&requests[0], "accept").as_deref(), Some("application/xml"));
    let document = CsdlDocument::parse(text.as_bytes(), "$metadata").unwrap();
    assert_eq!(document.entity_set("cr6a1_project"), Some("cr6a1_projects"));
}

#[tokio::test]
async fn option_set_metadata_reads_every_choice_kind_into_one_document() {
    let server = MockServer::start().await;
    let base = format!("{API}/EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.");
    let option = |value: i32, label: &str| json!({"Value": value, "Label": {"UserLocalizedLabel": {"Label": label, "LanguageCode": 1033}}});
    let answers = [
        (
            "PicklistAttributeMetadata",
            json!([{"LogicalName": "industrycode", "OptionSet": {"Name": "account_industrycode", "Options": [option(1, "Accounting")]}, "GlobalOptionSet": null}]),
        ),
        (
            "StateAttributeMetadata",
            json!([{"LogicalName": "statecode", "OptionSet": {"Name": "account_statecode", "Options": [option(0, "Active"), option(1, "Inactive")]}}]),
        ),
        (
            "StatusAttributeMetadata",
            json!([{"LogicalName": "statuscode", "OptionSet": {"Name": "account_statuscode", "Options": [option(1, "Active"), option(2, "Inactive")]}}]),
        ),
        (
            "MultiSelectPicklistAttributeMetadata",
            json!([{"LogicalName": "cr6a1_tags", "OptionSet": null, "GlobalOptionSet": {"Name": "cr6a1_tag", "IsGlobal": true, "Options": [option(100000000, "Strategic")]}}]),
        ),
    ];
    for (kind, value) in &answers {
        Mock::given(method("GET"))
            .and(path(format!("{base}{kind}")))
            .and(query_param("$select", "LogicalName"))
            .and(query_param("$expand", "OptionSet,GlobalOptionSet"))
            .respond_with(json_response(200, &json!({ "value": value }).to_string()))
            .expect(1)
            .mount(&server)
            .await;
    }
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let document = client.option_set_metadata("account").await.unwrap();
    let sets = OptionSets::from_json(&document.to_string(), "live").unwrap();
    assert_eq!(sets.len(), 4);
    assert!(sets.get("account", "cr6a1_tags").unwrap().is_multi_select());
    assert_eq!(
        sets.get("account", "statecode").unwrap().options().collect::<Vec<_>>(),
        [(0, Some("Active")), (1, Some("Inactive"))]
    );

    // Together with the CSDL they generate the enums the checked-in crate has.
    let csdl = CsdlDocument::parse(fixture("csdl/dataverse/metadata.xml").as_bytes(), "metadata.xml").unwrap();
    let output = Generator::new(&csdl).option_sets(sets).entities(["account"]).generate().unwrap();
    let enums = output.file("optionsets.rs").unwrap();
    assert!(enums.contains("pub enum AccountIndustrycode {") && enums.contains("pub enum Cr6a1Tag {"));
    assert!(output.file("account.rs").unwrap().contains("::std::vec::Vec<super::optionsets::Cr6a1Tag>"));
}

#[tokio::test]
async fn a_failed_metadata_read_is_a_service_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/$metadata")))
        .respond_with(json_response(
            403,
            r#"{"error":{"code":"0x80040220","message":"Principal user is missing prvReadEntity privilege"}}"#,
        ))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let error = client.metadata_document().await.unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert!(error.to_string().contains("prvReadEntity"), "{error}");
}
