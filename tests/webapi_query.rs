//! The typed query builder on the wire: every query option and `Prefer` preference as the server receives it,
//! values with awkward characters arriving intact, annotations and exact Money values in the answer,
//! and retrieves by alternate key with `$select`/`$expand`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use dynamics_webapi::entity::Entity;
use dynamics_webapi::query::{Aggregate, Annotation, Apply, Expand, Field, Lookup, NavMany, NavOne, Query, prelude::*};
use dynamics_webapi::{Record, RecordKey};
use rust_decimal::Decimal;
use support::{
    API, assert_webapi_headers, decoded_query, fail_unmatched, fixture, header_text, http_messages, json_response,
    only_request, raw_query, webapi_client,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

struct Account;
impl Entity for Account {
    const ENTITY_SET: &'static str = "accounts";
    const LOGICAL_NAME: &'static str = "account";
    const PRIMARY_ID: &'static str = "accountid";
}

struct Contact;
impl Entity for Contact {
    const ENTITY_SET: &'static str = "contacts";
    const LOGICAL_NAME: &'static str = "contact";
    const PRIMARY_ID: &'static str = "contactid";
}

mod account {
    use super::{Account, Contact};
    use dynamics_webapi::query::{Field, Lookup, NavMany, NavOne};
    pub(crate) const NAME: Field<Account, Option<String>> = Field::new("name");
    pub(crate) const REVENUE: Field<Account, Option<rust_decimal::Decimal>> = Field::new("revenue");
    pub(crate) const STATE: Field<Account, i32> = Field::new("statecode");
    pub(crate) const INDUSTRY: Field<Account, Option<i32>> = Field::new("industrycode");
    pub(crate) const PARENT: Lookup<Account> = Lookup::new("parentaccountid");
    pub(crate) const OWNER: Lookup<Account> = Lookup::new("ownerid");
    pub(crate) const CONTACTS: NavMany<Account, Contact> = NavMany::new("contact_customer_accounts");
    pub(crate) const PRIMARY_CONTACT: NavOne<Account, Contact> = NavOne::new("primarycontactid");
}

mod contact {
    use super::Contact;
    use dynamics_webapi::query::Field;
    pub(crate) const FULLNAME: Field<Contact, Option<String>> = Field::new("fullname");
    pub(crate) const JOBTITLE: Field<Contact, Option<String>> = Field::new("jobtitle");
}

/// The query string of a published request line (`GET [Organization URI]/...?<query> HTTP/1.1`).
fn published_query(request_line: &str) -> &str {
    let query = request_line.split_once('?').expect("a query string").1;
    query.strip_suffix(" HTTP/1.1").unwrap_or(query).trim()
}

fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

#[tokio::test]
async fn a_typed_query_reaches_the_server_with_every_option_and_preference() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, &fixture("webapi/query/typed-expand/response.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let query = Query::<Account>::new()
        .select((account::NAME, account::REVENUE, account::PARENT))
        .filter(
            account::NAME
                .starts_with("Contoso")
                .and(account::REVENUE.gt(Decimal::new(10_000, 0)).or(!account::PARENT.is_null())),
        )
        .filter(account::CONTACTS.any("c", contact::FULLNAME.contains("McKay")))
        .order_by(account::REVENUE.desc())
        .order_by(account::NAME.asc())
        .top(50)
        .expand(
            account::CONTACTS
                .expand()
                .select(contact::FULLNAME)
                .filter(contact::JOBTITLE.is_not_null())
                .order_by(contact::FULLNAME.asc())
                .top(5),
        )
        .expand(account::PRIMARY_CONTACT.expand().select((contact::FULLNAME, contact::JOBTITLE)))
        .count(true)
        .max_page_size(100)
        .annotations([Annotation::FormattedValue, Annotation::LookupLogicalName]);

    let page = client.query::<Record, _>(&query).first_page().await.unwrap();

    let request = only_request(&server).await;
    assert_webapi_headers(&request);
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), format!("{API}/accounts"));
    assert!(request.body.is_empty());
    // What goes on the wire is the query's own encoding, untouched by the HTTP stack...
    assert_eq!(raw_query(&request), query.to_query_string().unwrap());
    // ...and it decodes, option by option, to the OData text a reader expects.
    let pairs = decoded_query(&request);
    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["$select", "$filter", "$orderby", "$top", "$expand", "$count"]);
    assert_eq!(pair(&pairs, "$select"), "name,revenue,_parentaccountid_value");
    assert_eq!(
        pair(&pairs, "$filter"),
        "startswith(name,'Contoso') and (revenue gt 10000 or not (_parentaccountid_value eq null)) \
         and contact_customer_accounts/any(c:contains(c/fullname,'McKay'))"
    );
    assert_eq!(pair(&pairs, "$orderby"), "revenue desc,name asc");
    assert_eq!(pair(&pairs, "$top"), "50");
    assert_eq!(
        pair(&pairs, "$expand"),
        "contact_customer_accounts($select=fullname;$filter=jobtitle ne null;$orderby=fullname asc;$top=5),\
         primarycontactid($select=fullname,jobtitle)"
    );
    assert_eq!(pair(&pairs, "$count"), "true");
    assert_eq!(
        header_text(&request, "prefer").as_deref(),
        Some(
            "odata.maxpagesize=100, odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\""
        )
    );

    assert_eq!(page.count(), Some(2));
    assert!(page.next_position().is_none());
    let [first, second] = page.records() else { panic!("two records: {:?}", page.records()) };
    assert_eq!(first.decimal("revenue").unwrap().unwrap().to_string(), "922337203685477.5807");
    assert_eq!(first.formatted_value("revenue").as_deref(), Some("$922,337,203,685,477.58"));
    assert_eq!(first.guid("_parentaccountid_value").unwrap(), None);
    let contacts = first.expanded("contact_customer_accounts").unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].string("fullname").unwrap().as_deref(), Some("Yvonne McKay (sample)"));
    assert!(first.expanded_next_link("contact_customer_accounts").is_none());
    assert_eq!(second.guid("_parentaccountid_value").unwrap(), first.guid("accountid").unwrap());
    assert!(second.expanded("contact_customer_accounts").unwrap().is_empty());
}

#[tokio::test]
async fn apply_groups_and_aggregates_on_the_wire_and_sums_read_exactly() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, &fixture("webapi/query/aggregate/response.json")))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let query = Query::<Account>::new().apply(
        Apply::new()
            .filter(account::STATE.eq(0))
            .group_by((account::STATE, account::INDUSTRY))
            .aggregate(Aggregate::sum(account::REVENUE, "total"))
            .aggregate(Aggregate::count("rows")),
    );

    let page = client.query::<Record, _>(&query).first_page().await.unwrap();

    let request = only_request(&server).await;
    assert_eq!(raw_query(&request), query.to_query_string().unwrap());
    assert_eq!(
        decoded_query(&request),
        [(
            "$apply".to_owned(),
            "filter(statecode eq 0)/groupby((statecode,industrycode),aggregate(revenue with sum as total,$count as rows))"
                .to_owned()
        )]
    );
    assert!(request.headers.get("prefer").is_none(), "no page size or annotations were asked");
    let totals: Vec<String> = page.records().iter().map(|r| r.decimal("total").unwrap().unwrap().to_string()).collect();
    assert_eq!(totals, ["9007199254740993.0001", "20000.0000"]);
    assert_eq!(page.records()[0].get::<i64>("rows").unwrap(), Some(3));
}

#[tokio::test]
async fn published_annotation_answers_give_formatted_values_and_lookup_tables() {
    let messages = http_messages("msdocs/query/select-formatted-lookup-annotations.http");
    let requests: Vec<_> = messages.iter().filter(|m| m.start.starts_with("GET ")).collect();
    let answers: Vec<_> = messages.iter().filter(|m| m.start.starts_with("HTTP/1.1")).collect();
    assert_eq!((requests.len(), answers.len()), (3, 3), "the published document changed shape");

    // Formatted values.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, &answers[1].body_for(&server.uri())))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    const CUSTOMER_TYPE: Field<Account, Option<i32>> = Field::new("customertypecode");
    const PRIMARY_CONTACT_ID: Lookup<Account> = Lookup::new("primarycontactid");
    const MODIFIED_ON: Field<Account, Option<time::OffsetDateTime>> = Field::new("modifiedon");
    let query = Query::<Account>::new()
        .select((account::NAME, account::REVENUE, PRIMARY_CONTACT_ID, CUSTOMER_TYPE, MODIFIED_ON))
        .top(1)
        .annotations([Annotation::FormattedValue]);

    let page = client.query::<Record, _>(&query).first_page().await.unwrap();

    let request = only_request(&server).await;
    assert_eq!(published_query(&requests[1].start), raw_query(&request));
    assert_eq!(header_text(&request, "prefer").as_deref(), requests[1].header("Prefer"));
    let record = &page.records()[0];
    assert_eq!(record.formatted_value("revenue").as_deref(), Some("$20,000.00"));
    assert_eq!(record.decimal("revenue").unwrap(), Some(Decimal::new(200_000_000, 4)));
    assert_eq!(record.formatted_value("customertypecode").as_deref(), Some("Competitor"));
    assert_eq!(record.get::<i32>("customertypecode").unwrap(), Some(1));
    assert_eq!(record.formatted_value("_primarycontactid_value").as_deref(), Some("Susanna Stubberod (sample)"));
    assert_eq!(record.formatted_value("modifiedon").as_deref(), Some("4/7/2023 2:59 PM"));
    let modified: time::OffsetDateTime = record
        .get::<String>("modifiedon")
        .unwrap()
        .map(|t| time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).unwrap())
        .unwrap();
    assert_eq!(modified.year(), 2023);

    // Lookup logical names and navigation properties.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, &answers[2].body_for(&server.uri())))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let query = Query::<Account>::new()
        .select((account::NAME, account::OWNER))
        .top(2)
        .annotations([Annotation::AssociatedNavigationProperty, Annotation::LookupLogicalName]);

    let owners: Vec<Record> = client.query::<Record, _>(&query).first_page().await.unwrap().into_records();

    let request = only_request(&server).await;
    assert_eq!(published_query(&requests[2].start), raw_query(&request));
    assert_eq!(header_text(&request, "prefer").as_deref(), requests[2].header("Prefer"));
    let tables: Vec<_> = owners.iter().map(|r| r.lookup_logical_name("_ownerid_value").unwrap()).collect();
    assert_eq!(tables, ["team", "systemuser"]);
    assert_eq!(owners[0].associated_navigation_property("_ownerid_value").as_deref(), Some("ownerid"));
    assert_eq!(owners[1].guid("_ownerid_value").unwrap().unwrap().to_string(), "4026be43-6b69-e111-8f65-78e7d1620f5e");
}

/// Values with every character that URL encoding gets wrong, and the `$filter` text each must arrive as.
const NASTY: [&str; 10] = [
    "O'Neil & Sons",
    "#1 + #2 = 3",
    "100% sure",
    "a/b?c=d&e",
    "  leading and trailing  ",
    "Zoë Ünïcödé 日本語 🚀",
    "''quoted''",
    "semi;colon,comma:colon$dollar@at(paren)*star!",
    "back\\slash \"double\" `tick`",
    "tab\there\nnewline",
];

#[tokio::test]
async fn filter_values_with_quotes_ampersands_hashes_pluses_and_non_ascii_reach_the_server_intact() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, r#"{"value":[]}"#))
        .expect(NASTY.len() as u64)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    for value in NASTY {
        let query = Query::<Account>::new().select(account::NAME).filter(account::NAME.eq(value));
        let page = client.query::<Record, _>(&query).first_page().await.unwrap();
        assert!(page.records().is_empty());
    }

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), NASTY.len());
    for (value, request) in NASTY.iter().zip(&requests) {
        let pairs = decoded_query(request);
        assert_eq!(pairs.len(), 2, "{value:?} split the query: {:?}", request.url);
        assert!(request.url.fragment().is_none(), "{value:?} made a fragment: {}", request.url);
        let filter = pair(&pairs, "$filter");
        let literal = filter.strip_prefix("name eq '").and_then(|f| f.strip_suffix('\'')).unwrap();
        assert_eq!(literal.replace("''", "'"), *value, "as received: {filter}");
    }
}

#[tokio::test]
async fn money_and_decimal_beyond_two_to_the_53_read_exactly_into_records_and_structs() {
    let server = MockServer::start().await;
    let id = "7eb682f1-ca75-e511-80d4-00155d2a68d1";
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts({id})")))
        .respond_with(json_response(200, &fixture("webapi/query/exact-money/response.json")))
        .expect(2)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let id = uuid::Uuid::parse_str(id).unwrap();

    let record: Record = client.entity_set("accounts").retrieve(id).send().await.unwrap();
    assert_eq!(record.decimal("revenue").unwrap().unwrap().to_string(), "922337203685477.5807");
    assert_eq!(record.decimal("creditlimit").unwrap().unwrap().to_string(), "-922337203685477.5808");
    assert_eq!(record.decimal("exchangerate").unwrap().unwrap().to_string(), "9007199254740993.0000000001");
    assert_eq!(record.get::<i64>("numberofemployees").unwrap(), Some(9_007_199_254_740_993));
    // What a trip through f64 would have given instead:
    assert_ne!(
        record.decimal("revenue").unwrap().unwrap().to_string(),
        "922337203685477.5807".parse::<f64>().unwrap().to_string()
    );

    #[derive(serde::Deserialize)]
    struct AccountRow {
        #[serde(default, with = "dynamics_webapi::exact::option_decimal")]
        revenue: Option<Decimal>,
        #[serde(with = "dynamics_webapi::exact::decimal")]
        creditlimit: Decimal,
        #[serde(rename = "@odata.etag")]
        etag: String,
    }
    let row: AccountRow = client.entity_set("accounts").retrieve(id).send().await.unwrap();
    assert_eq!(row.revenue.unwrap().to_string(), "922337203685477.5807");
    assert_eq!(row.creditlimit.to_string(), "-922337203685477.5808");
    assert_eq!(row.etag, "W/\"536530\"");
}

#[tokio::test]
async fn retrieves_by_single_and_composite_alternate_key_with_select_and_expand() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts(firstname='J',lastname='D')")))
        .respond_with(json_response(200, &fixture("webapi/query/alternate-key/response.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts(accountnumber='A1')")))
        .respond_with(json_response(200, r#"{"@odata.etag":"W/\"1\"","name":"Contoso","accountnumber":"A1"}"#))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    const PARENT_ACCOUNT: NavOne<Contact, Account> = NavOne::new("parentcustomerid_account");
    const ACCOUNT_NUMBER: Field<Account, Option<String>> = Field::new("accountnumber");
    let contact_query = Query::<Contact>::new()
        .select(contact::FULLNAME)
        .expand(PARENT_ACCOUNT.expand().select(account::NAME))
        .annotations([Annotation::All]);

    let contact: Record = client
        .entities::<Contact>()
        .retrieve(RecordKey::alternate([("firstname", "J"), ("lastname", "D")]))
        .query(&contact_query)
        .send()
        .await
        .unwrap();
    let account: Record = client
        .entities::<Account>()
        .retrieve(RecordKey::alternate([("accountnumber", "A1")]))
        .query(&Query::<Account>::new().select((account::NAME, ACCOUNT_NUMBER)))
        .send()
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        decoded_query(&requests[0]),
        [
            ("$select".to_owned(), "fullname".to_owned()),
            ("$expand".to_owned(), "parentcustomerid_account($select=name)".to_owned())
        ]
    );
    assert_eq!(header_text(&requests[0], "prefer").as_deref(), Some("odata.include-annotations=\"*\""));
    assert_eq!(raw_query(&requests[1]), "$select=name,accountnumber");
    assert!(requests[1].headers.get("prefer").is_none());
    assert_eq!(contact.string("fullname").unwrap().as_deref(), Some("J D"));
    let parent: Record = contact.get("parentcustomerid_account").unwrap().unwrap();
    assert_eq!(parent.string("name").unwrap().as_deref(), Some("Contoso"));
    assert_eq!(account.string("accountnumber").unwrap().as_deref(), Some("A1"));
}

#[tokio::test]
async fn a_raw_expand_reaches_the_server_intact_next_to_a_typed_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, r#"{"value":[]}"#))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let raw = "contact_customer_accounts($select=fullname;$filter=contains(fullname,'A&B #1');$top=2)";
    let query = Query::<Account>::new()
        .select(account::NAME)
        .expand(Expand::raw(raw))
        .expand(account::PRIMARY_CONTACT.expand().select(contact::FULLNAME));

    let page = client.query::<Record, _>(&query).first_page().await.unwrap();

    assert!(page.records().is_empty());
    let request = only_request(&server).await;
    assert_eq!(
        raw_query(&request),
        "$select=name&$expand=contact_customer_accounts($select%3Dfullname;$filter%3Dcontains(fullname,%27A%26B%20%231%27);$top%3D2)\
         ,primarycontactid($select%3Dfullname)"
    );
    let pairs = decoded_query(&request);
    assert_eq!(pairs.len(), 2, "the raw text split the query: {pairs:?}");
    assert_eq!(pair(&pairs, "$expand"), format!("{raw},primarycontactid($select=fullname)"));
}

#[tokio::test]
async fn an_invalid_query_fails_before_anything_is_sent() {
    let server = MockServer::start().await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    const BAD: NavMany<Account, Contact> = NavMany::new("bad name");

    let error = client.query::<Record, _>(&Query::<Account>::new().expand(BAD)).first_page().await.unwrap_err();
    let zero = client.query::<Record, _>(&Query::<Account>::new().max_page_size(0)).first_page().await.unwrap_err();
    let empty = client.query::<Record, _>(&Query::<Account>::new().expand(Expand::raw(" "))).first_page().await;

    assert!(matches!(error, dynamics_webapi::Error::Config(_)), "{error:?}");
    assert!(matches!(zero, dynamics_webapi::Error::Config(_)), "{zero:?}");
    assert!(matches!(empty, Err(dynamics_webapi::Error::Config(_))), "{empty:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn dataverse_query_functions_dates_and_choices_reach_the_server_as_odata_text() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, r#"{"value":[]}"#))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    #[derive(Clone, Copy)]
    enum Category {
        Preferred,
    }
    impl dynamics_webapi::query::ChoiceValue for Category {
        fn value(&self) -> i32 {
            match self {
                Category::Preferred => 1,
            }
        }
    }
    const CATEGORY: Field<Account, Option<Category>> = Field::new("accountcategorycode");
    const STATUS: Field<Account, Option<i32>> = Field::new("statuscode");
    const CREATED_ON: Field<Account, Option<time::OffsetDateTime>> = Field::new("createdon");
    const MODIFIED_ON: Field<Account, Option<time::OffsetDateTime>> = Field::new("modifiedon");
    const ACCOUNT_ID: Field<Account, uuid::Uuid> = Field::new("accountid");
    let parent = uuid::Uuid::parse_str("4624eff7-53d3-ed11-a7c7-000d3a993550").unwrap();
    let query = Query::<Account>::new().select(account::NAME).filter(dynamics_webapi::query::Filter::all_of([
        STATUS.is_in([1, 2]),
        CREATED_ON.last_x_days(7),
        account::OWNER.equal_user_id(),
        ACCOUNT_ID.under(parent),
        MODIFIED_ON.gt(time::macros::datetime!(2023-04-07 21:59:01 UTC)),
        CATEGORY.eq(Category::Preferred),
    ]));

    client.query::<Record, _>(&query).first_page().await.unwrap();

    let request = only_request(&server).await;
    assert_eq!(raw_query(&request), query.to_query_string().unwrap());
    assert_eq!(
        pair(&decoded_query(&request), "$filter"),
        "Microsoft.Dynamics.CRM.In(PropertyName='statuscode',PropertyValues=['1','2']) \
         and Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7) \
         and Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid') \
         and Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='4624eff7-53d3-ed11-a7c7-000d3a993550') \
         and modifiedon gt 2023-04-07T21:59:01Z \
         and accountcategorycode eq 1"
    );
}
