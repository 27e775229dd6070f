//! Paged reads against wiremock: streams of pages and of records that follow `@odata.nextLink` verbatim and stop
//! after the last page, a saved position resumed later, an expanded collection's own next link, and FetchXML
//! paged by paging cookie, using Microsoft's published pages in place.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::pin::pin;

use dynamics_webapi::query::{Field, NavMany, Query, Untyped};
use dynamics_webapi::{PagePosition, Record};
use futures_util::{StreamExt, TryStreamExt};
use support::{
    API, assert_webapi_headers, decoded_query, fail_unmatched, fixture, header_text, http_messages, json_response,
    raw_query, realdata, webapi_builder, webapi_client,
};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

const FULLNAME: Field<Untyped, Option<String>> = Field::new("fullname");

/// The two published pages of `paging-maxpagesize.http` plus a last page of ours, mounted on `server`;
/// returns the two next links as the client must follow them.
async fn mount_contact_pages(server: &MockServer) -> [String; 2] {
    let published = http_messages("msdocs/query/paging-maxpagesize.http");
    let answers: Vec<String> =
        published.iter().filter(|m| m.start.starts_with("HTTP/1.1 200")).map(|m| m.body_for(&server.uri())).collect();
    assert_eq!(answers.len(), 2, "the published document changed shape");
    let links: Vec<String> = answers
        .iter()
        .map(|body| {
            serde_json::from_str::<serde_json::Value>(body).unwrap()["@odata.nextLink"].as_str().unwrap().to_owned()
        })
        .collect();
    let skiptoken = |link: &str| {
        url::Url::parse(link).unwrap().query_pairs().find(|(k, _)| k == "$skiptoken").unwrap().1.into_owned()
    };
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(query_param("$select", "fullname"))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json_response(200, &answers[0]))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(query_param("$skiptoken", skiptoken(&links[0])))
        .respond_with(json_response(200, &answers[1]))
        .expect(1)
        .mount(server)
        .await;
    let last = fixture("webapi/paging/maxpagesize/last-page.json").replace("[Organization URI]", &server.uri());
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(query_param("$skiptoken", skiptoken(&links[1])))
        .respond_with(json_response(200, &last))
        .expect(1)
        .mount(server)
        .await;
    fail_unmatched(server).await;
    [links[0].clone(), links[1].clone()]
}

fn path_and_query(url: &url::Url) -> String {
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

fn contacts_query() -> Query<Untyped> {
    Query::untyped("contacts").select(FULLNAME).max_page_size(2)
}

#[tokio::test]
async fn records_stream_follows_next_links_verbatim_and_stops_after_the_last_page() {
    let server = MockServer::start().await;
    let links = mount_contact_pages(&server).await;
    let (client, _, _) = webapi_client(&server);

    let names: Vec<String> = client
        .query::<Record, _>(&contacts_query())
        .records()
        .map_ok(|record| record.string("fullname").unwrap().unwrap())
        .try_collect()
        .await
        .unwrap();

    assert_eq!(
        names,
        [
            "Yvonne McKay (sample)",
            "Susanna Stubberod (sample)",
            "Nancy Anderson (sample)",
            "Maria Campbell (sample)",
            "Sidney Higa (sample)"
        ]
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "one request per page and none after the last");
    assert_eq!(raw_query(&requests[0]), "$select=fullname");
    for (request, link) in requests[1..].iter().zip(&links) {
        assert_eq!(
            path_and_query(&request.url),
            path_and_query(&url::Url::parse(link).unwrap()),
            "sent exactly as given"
        );
    }
    for request in &requests {
        assert_webapi_headers(request);
        assert_eq!(header_text(request, "prefer").as_deref(), Some("odata.maxpagesize=2"), "every page asks the size");
    }
}

#[tokio::test]
async fn the_pages_stream_is_lazy_and_each_page_knows_where_the_next_starts() {
    let server = MockServer::start().await;
    let links = mount_contact_pages(&server).await;
    let (client, _, _) = webapi_client(&server);

    let mut pages = pin!(client.query::<Record, _>(&contacts_query()).pages());
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.records().len(), 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "the next page is asked for only when wanted");
    let second = pages.next().await.unwrap().unwrap();
    let third = pages.next().await.unwrap().unwrap();
    assert!(pages.next().await.is_none(), "the stream ends after the page without a next link");
    assert!(pages.next().await.is_none(), "and stays ended");

    assert_eq!(
        first.next_position(),
        Some(&PagePosition::from_next_link(&links[0]).with_prefer(Some("odata.maxpagesize=2".into())))
    );
    assert_eq!(
        second.next_position(),
        Some(&PagePosition::from_next_link(&links[1]).with_prefer(Some("odata.maxpagesize=2".into())))
    );
    assert_eq!(third.next_position(), None);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_saved_position_resumes_the_export_where_it_stopped() {
    let server = MockServer::start().await;
    let links = mount_contact_pages(&server).await;
    let (client, _, _) = webapi_client(&server);

    let first = client.query::<Record, _>(&contacts_query()).first_page().await.unwrap();
    let saved = serde_json::to_string(first.next_position().unwrap()).unwrap();
    drop(first);

    // Later, maybe in another process: a new client picks the position up.
    let (client, _, _) = webapi_client(&server);
    let position: PagePosition = serde_json::from_str(&saved).unwrap();
    let rest: Vec<Record> = client.resume(position).records().try_collect().await.unwrap();

    assert_eq!(rest.len(), 3);
    assert_eq!(rest[0].string("fullname").unwrap().as_deref(), Some("Nancy Anderson (sample)"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    assert_eq!(path_and_query(&requests[1].url), path_and_query(&url::Url::parse(&links[0]).unwrap()));
    assert_eq!(header_text(&requests[1], "prefer").as_deref(), Some("odata.maxpagesize=2"), "the saved Prefer is sent");
    assert_eq!(header_text(&requests[1], "authorization").as_deref(), Some("Bearer token-1"));
}

#[tokio::test]
async fn a_next_link_outside_the_service_root_is_refused_and_the_token_not_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .respond_with(json_response(200, r#"{"value":[{"fullname":"a"}],"@odata.nextLink":"https://attacker.example/api/data/v9.2/contacts?$skiptoken=1"}"#))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let results: Vec<_> = client.query::<Record, _>(&contacts_query()).records().collect().await;

    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let error = results[1].as_ref().unwrap_err();
    assert!(matches!(error, dynamics_webapi::Error::Decode(_)), "{error:?}");
    assert!(error.to_string().contains("outside the service root"), "{error}");
}

#[tokio::test]
async fn an_expanded_collections_next_link_is_followed_so_nothing_is_silently_cut_short() {
    let server = MockServer::start().await;
    // A real answer from a CRM 8.1 org: the expanded Account_Tasks came with a next link to the rest.
    let published = realdata("records/AccountTasksAndLink.json")
        .replace("https://demoodataendpoint.crm4.dynamics.com", &server.uri());
    let account_url = "/api/data/v8.1/accounts(11111111-4952-e611-80dd-c4346bacfc18)/Account_Tasks";
    Mock::given(method("GET"))
        .and(path("/api/data/v8.1/accounts"))
        .and(query_param("$expand", "Account_Tasks"))
        .respond_with(json_response(200, &published))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(account_url))
        .respond_with(json_response(
            200,
            &fixture("webapi/paging/expanded/account-tasks.json").replace("[Organization URI]", &server.uri()),
        ))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (builder, _, _) = webapi_builder(&server);
    let client = builder.api_version("8.1").build().unwrap();
    const TASKS: NavMany<Untyped, Untyped> = NavMany::new("Account_Tasks");
    let query = Query::untyped("accounts").select("name").expand(TASKS);

    let page = client.query::<Record, _>(&query).first_page().await.unwrap();
    let account = &page.records()[0];
    let inline = account.expanded("Account_Tasks").unwrap();
    let link = account.expanded_next_link("Account_Tasks").expect("the published answer has a next link");
    let rest: Vec<Record> = client.resume(PagePosition::from_next_link(link)).records().try_collect().await.unwrap();

    assert_eq!(inline.len(), 1);
    assert_eq!(inline[0].string("subject").unwrap().as_deref(), Some("Account task 2"));
    let subjects: Vec<String> = rest.iter().map(|t| t.string("subject").unwrap().unwrap()).collect();
    assert_eq!(subjects, ["Account task 3", "Account task 4"]);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].url.path(), account_url);
    assert_eq!(requests[1].url.query(), None);
}

/// The `fetchXml` parameter of a published request line, decoded as a server decodes it.
fn published_fetch_xml(request_line: &str) -> String {
    let url = request_line.split_whitespace().find(|part| part.contains("fetchXml=")).unwrap();
    let query = url.split_once('?').unwrap().1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "fetchXml").unwrap().1.into_owned()
}

/// The attributes of the `<fetch>` element, sorted, and the XML after it.
fn split_fetch(xml: &str) -> (Vec<(String, String)>, String) {
    let start = xml.find("<fetch ").unwrap() + "<fetch ".len();
    let end = start + xml[start..].find('>').unwrap();
    let mut attributes = Vec::new();
    let mut rest = xml[start..end].trim();
    while let Some((name, after)) = rest.split_once("=\"") {
        let (value, tail) = after.split_once('"').unwrap();
        attributes.push((name.trim().to_owned(), value.to_owned()));
        rest = tail.trim();
    }
    attributes.sort();
    (attributes, xml[end + 1..].to_owned())
}

#[tokio::test]
async fn fetch_xml_pages_by_paging_cookie_as_a_stream() {
    let server = MockServer::start().await;
    let published = http_messages("msdocs/query/fetchxml.http");
    let requests: Vec<_> = published.iter().filter(|m| m.start.starts_with("GET ")).collect();
    let first_page = published.iter().filter(|m| m.start.starts_with("HTTP/1.1 200")).nth(1).unwrap();
    let page_one_xml = published_fetch_xml(&requests[1].start);
    let page_two_xml = published_fetch_xml(&requests[2].start);
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(wiremock::matchers::query_param_contains("fetchXml", "page=\"1\""))
        .respond_with(json_response(200, &first_page.body_for(&server.uri())))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(wiremock::matchers::query_param_contains("fetchXml", "page=\"2\""))
        .respond_with(json_response(
            200,
            &fixture("webapi/paging/fetchxml/last-page.json").replace("[Organization Uri]", &server.uri()),
        ))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let contacts: Vec<Record> = client.fetch_xml("contacts", &page_one_xml).records().try_collect().await.unwrap();

    let names: Vec<String> = contacts.iter().map(|c| c.string("fullname").unwrap().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Susanna Stubberod (sample)",
            "Scott Konersmann (sample)",
            "Robert Lyon (sample)",
            "Rene Valdes (sample)",
            "Paul Cannon (sample)"
        ]
    );
    assert_eq!(contacts[0].decimal("annualincome").unwrap().unwrap().to_string(), "52000.0");
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2, "the page without morerecords is the last");
    let fetch_of = |request: &wiremock::Request| {
        decoded_query(request).into_iter().find(|(k, _)| k == "fetchXml").map(|(_, v)| v).unwrap()
    };
    // Page one is the caller's query; page two carries the page number and the decoded cookie,
    // exactly as Microsoft's page-two request does (attribute order aside).
    assert_eq!(split_fetch(&fetch_of(&sent[0])), split_fetch(&page_one_xml));
    assert_eq!(split_fetch(&fetch_of(&sent[1])), split_fetch(&page_two_xml));
    for request in &sent {
        assert_webapi_headers(request);
        assert_eq!(
            header_text(request, "prefer").as_deref(),
            Some("odata.include-annotations=\"Microsoft.Dynamics.CRM.*\""),
            "the paging cookie is an annotation: it must be asked for"
        );
    }
}

#[tokio::test]
async fn a_fetch_xml_position_can_be_saved_and_resumed() {
    let server = MockServer::start().await;
    let published = http_messages("msdocs/query/fetchxml.http");
    let first_page = published.iter().filter(|m| m.start.starts_with("HTTP/1.1 200")).nth(1).unwrap();
    let xml = "<fetch count=\"3\"><entity name=\"contact\"><attribute name=\"fullname\"/></entity></fetch>";
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param_contains("fetchXml", "page=\"1\""))
        .respond_with(json_response(200, &first_page.body_for(&server.uri())))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param_contains("fetchXml", "page=\"2\""))
        .respond_with(json_response(200, r#"{"value":[{"fullname":"last"}]}"#))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let page = client.fetch_xml::<Record>("contacts", xml).first_page().await.unwrap();
    let saved = serde_json::to_value(page.next_position().unwrap()).unwrap();
    let resumed: Vec<Record> =
        client.resume(serde_json::from_value(saved).unwrap()).records().try_collect().await.unwrap();

    assert_eq!(resumed.len(), 1);
    let sent = server.received_requests().await.unwrap();
    let fetch = decoded_query(&sent[1]).into_iter().find(|(k, _)| k == "fetchXml").unwrap().1;
    assert!(
        fetch.starts_with("<fetch count=\"3\" page=\"2\" paging-cookie=\"&lt;cookie page=&quot;1&quot;&gt;"),
        "{fetch}"
    );
}

#[tokio::test]
async fn fetch_xml_can_ask_for_formatted_values_beside_the_paging_cookie() {
    let server = MockServer::start().await;
    let body = serde_json::json!({
        "value": [{
            "fullname": "Paul Cannon (sample)",
            "annualincome": 52000.0,
            "annualincome@OData.Community.Display.V1.FormattedValue": "$52,000.00"
        }]
    });
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .respond_with(json_response(200, &body.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let fetch = r#"<fetch count="5"><entity name="contact"><attribute name="annualincome"/></entity></fetch>"#;

    let contacts: Vec<Record> = client
        .fetch_xml_annotated("contacts", fetch, [dynamics_webapi::query::Annotation::FormattedValue])
        .records()
        .try_collect()
        .await
        .unwrap();

    assert_eq!(contacts[0].formatted_value("annualincome").as_deref(), Some("$52,000.00"));
    let sent = server.received_requests().await.unwrap();
    assert_eq!(
        header_text(&sent[0], "prefer").as_deref(),
        Some("odata.include-annotations=\"Microsoft.Dynamics.CRM.*,OData.Community.Display.V1.FormattedValue\"")
    );

    let bad = client.fetch_xml_annotated::<Record>(
        "contacts",
        fetch,
        [dynamics_webapi::query::Annotation::Other("not a pattern".into())],
    );
    let error = bad.first_page().await.unwrap_err();
    let cause = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
    assert!(cause.contains("not a pattern"), "{error}: {cause}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "a bad annotation is refused before sending");
}

#[tokio::test]
async fn a_fetch_xml_page_number_past_the_largest_is_a_decode_error_not_a_panic() {
    let server = MockServer::start().await;
    let xml = "<fetch count=\"1\"><entity name=\"contact\"><attribute name=\"fullname\"/></entity></fetch>";
    let last = u32::MAX;
    let cookie = format!(
        r#"<cookie pagenumber="{last}" pagingcookie="%253ccookie%2520page%253d%25221%2522%253e%253c%252fcookie%253e" istracking="False" />"#
    );
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param_contains("fetchXml", "page=\"1\""))
        .respond_with(json_response(
            200,
            &serde_json::json!({
                "value": [{"fullname": "first"}],
                "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie": cookie,
                "@Microsoft.Dynamics.CRM.morerecords": true,
            })
            .to_string(),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param_contains("fetchXml", format!("page=\"{last}\"")))
        .respond_with(json_response(
            200,
            r#"{"value":[{"fullname":"second"}],"@Microsoft.Dynamics.CRM.morerecords":true}"#,
        ))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let read: Vec<_> = client.fetch_xml::<Record>("contacts", xml).records().collect().await;

    // The page that asks for an impossible next page is refused as a whole, loudly.
    assert_eq!(read.len(), 2, "the first page's record, then the error: {read:?}");
    assert!(read[0].is_ok());
    let error = read[1].as_ref().unwrap_err();
    assert!(matches!(error, dynamics_webapi::Error::Decode(_)), "{error:?}");
    assert!(error.to_string().contains("page"), "{error}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_next_link_pointing_at_its_own_page_ends_the_stream_with_an_error_not_a_loop() {
    let server = MockServer::start().await;
    let same = format!("{}{API}/contacts?$skiptoken=same", server.uri());
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json_response(
            200,
            &serde_json::json!({"value": [{"fullname": "a"}], "@odata.nextLink": same}).to_string(),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(query_param("$skiptoken", "same"))
        .respond_with(json_response(
            200,
            &serde_json::json!({"value": [{"fullname": "b"}], "@odata.nextLink": same}).to_string(),
        ))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let results: Vec<_> = client.query::<Record, _>(&Query::untyped("contacts")).records().collect().await;

    // The page whose link points at itself is refused as a whole, as a FetchXML page with an impossible next page is.
    assert_eq!(results.len(), 2, "the first page's record, then the error: {results:?}");
    assert!(matches!(results[1], Err(dynamics_webapi::Error::Decode(_))), "{:?}", results[1]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Request options apply to every page of a paged read, FetchXML ones included.
#[tokio::test]
async fn request_options_go_with_every_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .and(query_param("$skiptoken", "2"))
        .respond_with(json_response(200, r#"{"value":[{"fullname":"b"}]}"#))
        .mount(&server)
        .await;
    let next = format!("{}{API}/contacts?$select=fullname&$skiptoken=2", server.uri());
    Mock::given(method("GET"))
        .and(path(format!("{API}/contacts")))
        .respond_with(json_response(200, &format!(r#"{{"value":[{{"fullname":"a"}}],"@odata.nextLink":"{next}"}}"#)))
        .mount(&server)
        .await;
    let (client, _, _) = webapi_client(&server);
    let step = uuid::Uuid::from_u128(1);
    let options = dynamics_webapi::RequestOptions::new()
        .strong_consistency()
        .bypass_business_logic(dynamics_webapi::BusinessLogic::All)
        .bypass_steps([step])
        .merge_labels(true)
        .suppress_callback_registration_expander_job(true)
        .tag("nightly import")
        .header("x-contoso-run", "42");

    let names: Vec<Record> =
        client.query::<Record, _>(&contacts_query()).options(options).records().try_collect().await.unwrap();

    assert_eq!(names.len(), 2);
    let requests = server.received_requests().await.unwrap();
    for request in &requests {
        let header = |name: &str| header_text(request, name);
        assert_eq!(header("consistency").as_deref(), Some("Strong"));
        assert_eq!(header("mscrm.bypassbusinesslogicexecution").as_deref(), Some("CustomSync,CustomAsync"));
        assert_eq!(header("mscrm.bypassbusinesslogicexecutionstepids").as_deref(), Some(step.to_string().as_str()));
        assert_eq!(header("mscrm.mergelabels").as_deref(), Some("true"));
        assert_eq!(header("mscrm.suppresscallbackregistrationexpanderjob").as_deref(), Some("true"));
        assert_eq!(header("x-contoso-run").as_deref(), Some("42"));
        assert!(raw_query(request).ends_with("&tag=nightly%20import"), "{}", raw_query(request));
    }
    assert_eq!(raw_query(&requests[1]), "$select=fullname&$skiptoken=2&tag=nightly%20import");
}

#[tokio::test]
async fn a_bad_header_in_the_options_is_refused_before_sending() {
    let server = MockServer::start().await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let options = dynamics_webapi::RequestOptions::new().header("bad name", "x");
    let error = client.query::<Record, _>(&contacts_query()).options(options).first_page().await.unwrap_err();

    assert!(matches!(error, dynamics_webapi::Error::Config(_)), "{error:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
