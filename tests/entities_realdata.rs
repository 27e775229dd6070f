//! Real documents from `../shared/realdata/`, read in place, against code generated from the real CSDL.
//!
//! The types come from the generator case `fixtures/csdl/realdata-crm-8.1/`: `account`, `activitypointer`
//! and `task` generated from `csdl/crm-online-8.1.xml` with `optionsets/account-metadata.json`, without the
//! CSDL's descriptions. `cargo test -p dynamics-codegen --test cases` regenerates them from the real document
//! and fails when they differ, so these tests exercise exactly what the generator makes of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

#[allow(unreachable_pub, dead_code, unused_imports)] // A private copy of a public module: not all of it is used here.
#[path = "../fixtures/csdl/realdata-crm-8.1/expected/mod.rs"]
mod realdata;

use dynamics_codegen::{CsdlDocument, Generator, OptionSets};
use dynamics_webapi::query::{Query, prelude::*};
use realdata::optionsets::{AccountIndustrycode, AccountStatecode};
use realdata::{Annotated, account, task};
use support::{API, decoded_query, fail_unmatched, json_response, only_request, realdata, realdata_dir, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

const ACCOUNT_1: Uuid = Uuid::from_u128(0x5f4c87e4_4952_e611_80dd_c4346bacfc18);

#[derive(serde::Deserialize)]
struct Collection<T> {
    value: Vec<T>,
}

#[test]
fn real_accounts_with_expanded_tasks_read_into_flattened_generated_types() {
    let text = realdata("records/AccountTasksAndLink.json");
    let text = text.trim_start_matches('\u{feff}');
    let accounts: Collection<Annotated<account::Account>> = serde_json::from_str(text).unwrap();
    let [account] = accounts.value.as_slice() else { panic!("one account") };
    let row = account.entity();
    assert_eq!(row.name.as_deref(), Some("Account 1"));
    assert_eq!(row.accountid, Some(ACCOUNT_1));
    assert_eq!(row.etag.as_deref(), Some("W/\"596351\""));
    let tasks = row.account_tasks.as_deref().expect("the expanded Account_Tasks");
    let [first] = tasks else { panic!("one task: {tasks:?}") };
    // Every one of these columns is declared on `activitypointer`, the base type of `task`.
    assert_eq!(first.subject.as_deref(), Some("Account task 2"));
    assert_eq!(first.description.as_deref(), Some("description"));
    assert_eq!(first.activitytypecode.as_deref(), Some("task"));
    assert_eq!(first.regardingobjectid, Some(ACCOUNT_1), "read from _regardingobjectid_value");
    assert_eq!(first.statecode, Some(0));
    assert_eq!(first.statuscode, Some(2));
    assert_eq!(first.prioritycode, Some(1));
    assert_eq!(first.isbilled, Some(false));
    assert_eq!(first.versionnumber, Some(596_332));
    assert_eq!(first.createdon.unwrap().unix_timestamp(), 1_469_438_789);
    assert!(first.activityid.is_some());
    assert!(
        account.record().expanded_next_link("Account_Tasks").unwrap().ends_with("/Account_Tasks"),
        "the next link of the expanded collection stays readable"
    );
}

#[test]
fn a_real_account_whose_tasks_are_only_a_link_has_no_expanded_rows() {
    let text = realdata("records/AccountTasksOnlyLink.json");
    let accounts: Collection<Annotated<account::Account>> =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
    let [account] = accounts.value.as_slice() else { panic!("one account") };
    assert_eq!(account.entity().name.as_deref(), Some("Account 1"));
    assert_eq!(account.entity().account_tasks.as_ref().map(Vec::len), Some(0), "an empty expansion, not a missing one");
    assert!(account.record().expanded_next_link("Account_Tasks").is_some());
}

#[tokio::test]
async fn a_real_answer_served_by_wiremock_reads_through_a_typed_query() {
    let server = MockServer::start().await;
    let body = realdata("records/AccountTasksAndLink.json");
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, body.trim_start_matches('\u{feff}')))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let query = Query::<account::Account>::new()
        .select(account::NAME)
        .filter(account::STATECODE.eq(AccountStatecode::Active))
        .expand(account::ACCOUNT_TASKS.expand().select((task::SUBJECT, task::STATECODE, task::REGARDINGOBJECTID)));
    let page = client.query::<account::Account, _>(&query).first_page().await.unwrap();
    let request = only_request(&server).await;
    let pairs = decoded_query(&request);
    assert_eq!(pairs[0], ("$select".to_owned(), "name".to_owned()));
    assert_eq!(pairs[1], ("$filter".to_owned(), "statecode eq 0".to_owned()));
    assert_eq!(
        pairs[2],
        ("$expand".to_owned(), "Account_Tasks($select=subject,statecode,_regardingobjectid_value)".to_owned())
    );
    let [account] = page.records() else { panic!("one account") };
    assert_eq!(account.account_tasks.as_ref().map(Vec::len), Some(1));
}

#[test]
fn enums_from_the_real_option_set_metadata_keep_values_labels_and_unknowns() {
    assert_eq!(AccountIndustrycode::from(1), AccountIndustrycode::Accounting);
    assert_eq!(AccountIndustrycode::Accounting.label(), Some("Accounting"));
    assert_eq!(i32::from(AccountIndustrycode::Wholesale), 33);
    assert_eq!(AccountIndustrycode::from(11).label(), Some("Doctor's Offices and Clinics"));
    assert_eq!(AccountIndustrycode::from(100_000_001), AccountIndustrycode::Unknown(100_000_001));
    let parsed: AccountIndustrycode = serde_json::from_str("9").unwrap();
    assert_eq!(parsed.label(), Some("Design, Direction and Creative Management"));

    // Generating from every real option-set file at once (account and opportunity) gives one enum per
    // choice column, each with every option of the metadata and the Unknown fallback.
    let dir = realdata_dir();
    let document = CsdlDocument::read(dir.join("csdl/crm-online-8.1.xml")).unwrap();
    let option_sets = OptionSets::read(dir.join("optionsets")).unwrap();
    let output = Generator::new(&document)
        .option_sets(option_sets.clone())
        .entities(["account", "opportunity"])
        .generate()
        .unwrap();
    let enums = output.file("optionsets.rs").unwrap();
    for (entity, attribute, set) in option_sets.iter() {
        let column = format!("`{entity}.{attribute}`");
        if !enums.contains(&column) {
            assert!(
                output.warnings().iter().any(|w| w.message().contains(&format!("{entity}.{attribute}"))),
                "{column} is neither generated nor warned about"
            );
            continue;
        }
        for (value, _) in set.options() {
            assert!(enums.contains(&format!("            {value} => Self::")), "{column}: option {value} missing");
        }
    }
    assert!(enums.contains("pub enum OpportunityOpportunityratingcode {"), "opportunity's choices become enums");
    assert!(enums.contains("pub enum AccountCustomertypecode {"));
    assert_eq!(enums.matches("    Unknown(i32),\n").count(), enums.matches("pub enum ").count());
    assert!(output.file("opportunity.rs").unwrap().contains("super::optionsets::OpportunityStatecode"));
}
