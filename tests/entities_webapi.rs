//! The generated entities (`dynamics-entities`, from `fixtures/csdl/dataverse/`) driven through `dynamics-webapi`
//! against wiremock: typed queries with choice filters, creates with typed lookup binds, retrieves with
//! formatted values and lookup annotations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use dynamics_entities::optionsets::{
    AccountIndustrycode, AccountStatecode, ContactGendercode, ContactPreferredcontactmethodcode, Cr6a1Tag,
};
use dynamics_entities::{Annotated, MultiChoiceColumn, account, contact, cr6a1_project, task};
use dynamics_webapi::Patch;
use dynamics_webapi::query::{Annotation, Query, QueryErrorKind, prelude::*};
use rust_decimal::Decimal;
use serde_json::json;
use support::{API, decoded_query, fail_unmatched, fixture, header_text, json_response, only_request, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FOURTH_COFFEE: Uuid = Uuid::from_u128(0x7d577253_3ef0_4a0a_bb7f_8335c2596e70);

fn pair(pairs: &[(String, String)], name: &str) -> String {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_typed_account_query_filters_on_a_choice_column_and_reads_typed_rows() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, &fixture("csdl/dataverse/responses/accounts-by-industry.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let query = Query::<account::Account>::new()
        .select((
            account::NAME,
            account::INDUSTRYCODE,
            account::REVENUE,
            account::STATECODE,
            account::CR6A1_TAGS,
            account::LASTUSEDINCAMPAIGN,
            account::PARENTACCOUNTID,
        ))
        .filter(
            account::INDUSTRYCODE
                .eq(AccountIndustrycode::Accounting)
                .and(account::STATECODE.ne(AccountStatecode::Inactive))
                .and(account::REVENUE.ge(Decimal::new(10_000, 0))),
        )
        .order_by(account::REVENUE.desc())
        .expand(account::CONTACT_CUSTOMER_ACCOUNTS.expand().select(contact::FULLNAME).top(3))
        .annotations([Annotation::FormattedValue, Annotation::LookupLogicalName]);
    let page = client.query::<Annotated<account::Account>, _>(&query).first_page().await.unwrap();

    let request = only_request(&server).await;
    let pairs = decoded_query(&request);
    assert_eq!(
        pair(&pairs, "$select"),
        "name,industrycode,revenue,statecode,cr6a1_tags,lastusedincampaign,_parentaccountid_value"
    );
    assert_eq!(pair(&pairs, "$filter"), "industrycode eq 1 and statecode ne 1 and revenue ge 10000");
    assert_eq!(pair(&pairs, "$orderby"), "revenue desc");
    assert_eq!(pair(&pairs, "$expand"), "contact_customer_accounts($select=fullname;$top=3)");
    assert!(header_text(&request, "prefer").unwrap().contains("OData.Community.Display.V1.FormattedValue"));

    let [first, second] = page.records() else { panic!("two accounts: {:?}", page.records()) };
    let fourth = first.entity();
    assert_eq!(fourth.name.as_deref(), Some("Fourth Coffee (sample)"));
    assert_eq!(fourth.accountid, Some(FOURTH_COFFEE));
    assert_eq!(fourth.etag.as_deref(), Some("W/\"1280511\""));
    assert_eq!(fourth.industrycode, Some(AccountIndustrycode::Accounting));
    assert_eq!(fourth.industrycode.and_then(AccountIndustrycode::label), Some("Accounting"));
    assert_eq!(fourth.statecode, Some(AccountStatecode::Active));
    assert_eq!(fourth.revenue.unwrap().to_string(), "922337203685477.5807", "Money reads exactly");
    assert_eq!(fourth.cr6a1_tags, Some(vec![Cr6a1Tag::Strategic, Cr6a1Tag::ReferenceCustomer]));
    assert_eq!(fourth.lastusedincampaign.unwrap().unix_timestamp(), 1_773_480_413);
    assert_eq!(fourth.parentaccountid, None);
    assert_eq!(first.formatted_value(account::REVENUE).as_deref(), Some("$922,337,203,685,477.58"));
    assert_eq!(first.formatted_value(account::CR6A1_TAGS).as_deref(), Some("Strategic; Reference customer"));

    let litware = second.entity();
    assert_eq!(litware.revenue, Some(Decimal::new(100_005, 1)));
    assert_eq!(litware.parentaccountid, Some(FOURTH_COFFEE));
    assert_eq!(litware.cr6a1_tags, None);
    assert_eq!(second.formatted_value(account::PARENTACCOUNTID).as_deref(), Some("Fourth Coffee (sample)"));
    assert_eq!(second.lookup_logical_name(account::PARENTACCOUNTID).as_deref(), Some("account"));
}

#[tokio::test]
async fn a_multi_select_column_is_filtered_with_typed_contain_values() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, &fixture("csdl/dataverse/responses/accounts-by-industry.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let query = Query::<account::Account>::new().select((account::NAME, account::CR6A1_TAGS)).filter(
        account::CR6A1_TAGS
            .contain_values([Cr6a1Tag::Strategic, Cr6a1Tag::ReferenceCustomer])
            .and(account::CR6A1_TAGS.does_not_contain_values([Cr6a1Tag::AtRisk, Cr6a1Tag::Unknown(100_000_009)])),
    );
    let page = client.query::<account::Account, _>(&query).first_page().await.unwrap();

    let pairs = decoded_query(&only_request(&server).await);
    assert_eq!(pair(&pairs, "$select"), "name,cr6a1_tags");
    assert_eq!(
        pair(&pairs, "$filter"),
        "Microsoft.Dynamics.CRM.ContainValues(PropertyName='cr6a1_tags',PropertyValues=['100000000','100000002']) \
         and Microsoft.Dynamics.CRM.DoesNotContainValues(PropertyName='cr6a1_tags',PropertyValues=['100000001','100000009'])"
    );
    let tags: Vec<_> = page.records().iter().map(|account| account.cr6a1_tags.clone()).collect();
    assert_eq!(tags, [Some(vec![Cr6a1Tag::Strategic, Cr6a1Tag::ReferenceCustomer]), None]);

    let empty = Query::<account::Account>::new().filter(account::CR6A1_TAGS.contain_values([]));
    let error = empty.query_pairs().unwrap_err();
    assert_eq!(error.kind(), QueryErrorKind::EmptyList);
    assert!(error.to_string().contains("ContainValues"), "{error}");
}

#[tokio::test]
async fn a_contact_is_created_bound_to_its_parent_account_with_a_date_and_choices() {
    let server = MockServer::start().await;
    let created = Uuid::from_u128(0x4b2c7c1f_9d7e_4c55_8b8a_2f0f9a4e8d11);
    Mock::given(method("POST"))
        .and(path(format!("{API}/contacts")))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("OData-EntityId", format!("{}{API}/contacts({created})", server.uri()).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let new_contact = contact::ContactWrite {
        firstname: Patch::Set("Yvonne".into()),
        lastname: Patch::Set("McKay".into()),
        birthdate: Patch::Set(time::macros::date!(1985 - 02 - 14)),
        gendercode: Patch::Set(ContactGendercode::Female),
        preferredcontactmethodcode: Patch::Set(ContactPreferredcontactmethodcode::Unknown(100_000_007)),
        telephone1: Patch::Clear,
        parentcustomerid_account: Patch::Set(FOURTH_COFFEE),
        ..Default::default()
    };
    let id = client.entities::<contact::Contact>().create(&new_contact).send().await.unwrap();
    assert_eq!(id, created);

    let request = only_request(&server).await;
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "firstname": "Yvonne",
            "lastname": "McKay",
            "birthdate": "1985-02-14",
            "gendercode": 2,
            "preferredcontactmethodcode": 100000007,
            "telephone1": null,
            "parentcustomerid_account@odata.bind": "/accounts(7d577253-3ef0-4a0a-bb7f-8335c2596e70)"
        })
    );
}

#[tokio::test]
async fn a_retrieved_contact_gives_typed_columns_formatted_values_and_its_expanded_parent() {
    let server = MockServer::start().await;
    let id = Uuid::from_u128(0x4b2c7c1f_9d7e_4c55_8b8a_2f0f9a4e8d11);
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts({id})")))
        .respond_with(json_response(200, &fixture("csdl/dataverse/responses/contact-with-formatted-values.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let query = Query::<contact::Contact>::new()
        .select((
            contact::FULLNAME,
            contact::GENDERCODE,
            contact::BIRTHDATE,
            contact::ANNUALINCOME,
            contact::PARENTCUSTOMERID,
        ))
        .expand(contact::PARENTCUSTOMERID_ACCOUNT.expand().select((account::NAME, account::INDUSTRYCODE)))
        .annotations([Annotation::All]);
    let retrieved: Annotated<contact::Contact> =
        client.entities::<contact::Contact>().retrieve(id).query(&query).send().await.unwrap();

    let request = only_request(&server).await;
    let pairs = decoded_query(&request);
    assert_eq!(pair(&pairs, "$select"), "fullname,gendercode,birthdate,annualincome,_parentcustomerid_value");
    assert_eq!(pair(&pairs, "$expand"), "parentcustomerid_account($select=name,industrycode)");
    assert_eq!(header_text(&request, "prefer").as_deref(), Some("odata.include-annotations=\"*\""));

    let yvonne = retrieved.entity();
    assert_eq!(yvonne.fullname.as_deref(), Some("Yvonne McKay (sample)"));
    assert_eq!(yvonne.display_name().as_deref(), Some("Yvonne McKay (sample)"));
    assert_eq!(yvonne.gendercode, Some(ContactGendercode::Female));
    assert_eq!(yvonne.birthdate, Some(time::macros::date!(1985 - 02 - 14)));
    assert_eq!(yvonne.annualincome.unwrap().to_string(), "123456789012345.6789");
    assert_eq!(
        yvonne.preferredcontactmethodcode,
        Some(ContactPreferredcontactmethodcode::Unknown(100_000_007)),
        "a value added to the org after generation still reads"
    );
    assert_eq!(yvonne.parentcustomerid, Some(FOURTH_COFFEE));
    let parent = yvonne.parentcustomerid_account.as_deref().expect("the expanded parent account");
    assert_eq!(parent.name.as_deref(), Some("Fourth Coffee (sample)"));
    assert_eq!(parent.industrycode, Some(AccountIndustrycode::Accounting));

    assert_eq!(retrieved.formatted_value(contact::GENDERCODE).as_deref(), Some("Female"));
    assert_eq!(retrieved.formatted_value(contact::BIRTHDATE).as_deref(), Some("2/14/1985"));
    assert_eq!(retrieved.formatted_value(contact::PARENTCUSTOMERID).as_deref(), Some("Fourth Coffee (sample)"));
    assert_eq!(retrieved.lookup_logical_name(contact::PARENTCUSTOMERID).as_deref(), Some("account"));
    assert_eq!(
        retrieved.record().associated_navigation_property("_parentcustomerid_value").as_deref(),
        Some("parentcustomerid_account")
    );
}

#[tokio::test]
async fn an_update_sends_only_changed_columns_and_clears_a_polymorphic_lookup_with_null() {
    let server = MockServer::start().await;
    let id = Uuid::from_u128(7);
    Mock::given(method("PATCH"))
        .and(path(format!("{API}/cr6a1_projects({id})")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let update = cr6a1_project::Cr6a1ProjectWrite {
        cr6a1_budget: Patch::Set("922337203685477.5807".parse().unwrap()),
        cr6a1_priority: Patch::Set(dynamics_entities::optionsets::Cr6a1ProjectCr6a1Priority::N1High),
        cr6a1_customerid_contact: Patch::Clear,
        cr6a1_customerid_account: Patch::Set(FOURTH_COFFEE),
        ownerid_team: Patch::Set(Uuid::from_u128(9)),
        ..Default::default()
    };
    client.entities::<cr6a1_project::Cr6a1Project>().update(id, &update).send().await.unwrap();

    let request = only_request(&server).await;
    let text = String::from_utf8(request.body.clone()).unwrap();
    assert!(text.contains("\"cr6a1_budget\":922337203685477.5807"), "Money goes out with every digit: {text}");
    let mut body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert!(body.as_object_mut().unwrap().remove("cr6a1_budget").is_some());
    assert_eq!(
        body,
        json!({
            "cr6a1_priority": 100000000,
            "cr6a1_customerid_account@odata.bind": "/accounts(7d577253-3ef0-4a0a-bb7f-8335c2596e70)",
            "cr6a1_customerid_contact@odata.bind": null,
            "ownerid@odata.bind": "/teams(00000000-0000-0000-0000-000000000009)"
        })
    );
}

#[test]
fn inherited_columns_keys_and_tokens_of_a_derived_activity() {
    use dynamics_webapi::Entity;
    assert_eq!(task::Task::ENTITY_SET, "tasks");
    assert_eq!(task::Task::PRIMARY_ID, "activityid");
    assert_eq!(cr6a1_project::Cr6a1Project::ENTITY_SET, "cr6a1_projects");
    let query = Query::<task::Task>::new()
        .select((task::SUBJECT, task::SCHEDULEDEND, task::REGARDINGOBJECTID))
        .filter(task::PERCENTCOMPLETE.lt(100).and(task::REGARDINGOBJECTID.eq(FOURTH_COFFEE)));
    assert_eq!(
        query.to_string(),
        "$select=subject,scheduledend,_regardingobjectid_value\
         &$filter=percentcomplete lt 100 and _regardingobjectid_value eq 7d577253-3ef0-4a0a-bb7f-8335c2596e70"
    );
    let write = task::TaskWrite {
        subject: Patch::Set("Call back".into()),
        regardingobjectid_account_task: Patch::Set(FOURTH_COFFEE),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&write).unwrap(),
        json!({"subject": "Call back", "regardingobjectid_account_task@odata.bind": "/accounts(7d577253-3ef0-4a0a-bb7f-8335c2596e70)"})
    );
}
