//! Change tracking against wiremock: the first sync with `Prefer: odata.track-changes`, delta links with
//! removed entries, resuming from a saved link, and tables without change tracking.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use dynamics_webapi::change_tracking::{Change, DeltaLink, RemovedReason, SyncEvent};
use dynamics_webapi::query::Query;
use futures_util::TryStreamExt;
use serde::Deserialize;
use support::{API, fail_unmatched, fixture, json_response, webapi_client};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request};

#[derive(Debug, Deserialize, PartialEq)]
struct Account {
    name: String,
    accountnumber: Option<String>,
    accountid: Uuid,
}

fn answer(server: &MockServer, name: &str) -> String {
    fixture(&format!("webapi/sync/{name}")).replace("[Organization URI]", &server.uri())
}

fn has_query(key: &'static str) -> impl Fn(&Request) -> bool {
    move |request: &Request| request.url.query_pairs().any(|(name, _)| name == key)
}

fn prefer(request: &Request) -> Option<&str> {
    request.headers.get("prefer").map(|value| value.to_str().unwrap())
}

async fn events(
    stream: impl futures_util::Stream<Item = dynamics_webapi::Result<SyncEvent<Account>>>,
) -> Vec<SyncEvent<Account>> {
    stream.try_collect().await.unwrap()
}

/// A URL's path and query: wiremock reports the host as `localhost`.
fn path_and_query(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

fn id(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap()
}

#[tokio::test]
async fn the_first_sync_reads_every_page_with_track_changes_and_ends_with_the_delta_link() {
    let server = MockServer::start().await;
    let accounts = format!("{API}/accounts");
    Mock::given(method("GET"))
        .and(path(accounts.as_str()))
        .and(has_query("$skiptoken"))
        .respond_with(json_response(200, &answer(&server, "initial-page-2.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(accounts.as_str()))
        .respond_with(
            json_response(200, &answer(&server, "initial-page-1.json"))
                .insert_header("Preference-Applied", "odata.track-changes"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let query = Query::untyped("accounts").select(["name", "accountnumber"]).max_page_size(1);

    let seen = events(client.track_changes::<Account, _>(&query).events()).await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].url.query(), Some("$select=name,accountnumber"));
    assert_eq!(prefer(&requests[0]), Some("odata.track-changes, odata.maxpagesize=1"));
    let next_link =
        serde_json::from_str::<serde_json::Value>(&answer(&server, "initial-page-1.json")).unwrap()["@odata.nextLink"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(
        path_and_query(requests[1].url.as_str()),
        path_and_query(&next_link),
        "the next link is followed as given"
    );
    assert_eq!(prefer(&requests[1]), Some("odata.track-changes, odata.maxpagesize=1"));
    let delta_url = format!(
        "{}/api/data/v9.2/accounts?$select=name,accountnumber&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44",
        server.uri()
    );
    assert_eq!(
        seen,
        [
            SyncEvent::Change(Change::Upserted(Account {
                name: "Monte Orton".into(),
                accountnumber: None,
                accountid: id("60c4e274-0d87-e711-80e5-00155db19e6d"),
            })),
            SyncEvent::Change(Change::Upserted(Account {
                name: "Fabrikam".into(),
                accountnumber: Some("A-2".into()),
                accountid: id("2e451703-c686-e711-80e5-00155db19e6d"),
            })),
            SyncEvent::Completed(
                serde_json::from_value(serde_json::json!({"url": delta_url, "prefer": "odata.maxpagesize=1"})).unwrap()
            ),
        ]
    );
}

#[tokio::test]
async fn a_saved_delta_link_resumes_with_changed_rows_and_removed_ids() {
    let server = MockServer::start().await;
    let accounts = format!("{API}/accounts");
    Mock::given(method("GET"))
        .and(path(accounts.as_str()))
        .and(|request: &Request| request.url.query().is_some_and(|q| q.contains("919042")))
        .respond_with(json_response(200, &answer(&server, "delta.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(accounts.as_str()))
        .and(|request: &Request| request.url.query().is_some_and(|q| q.contains("919058")))
        .respond_with(json_response(200, &answer(&server, "no-changes.json")))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);
    let saved_url = format!(
        "{}/api/data/v9.2/accounts?$select=name,accountnumber&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44",
        server.uri()
    );
    // What the first sync stored, read back as a later run would.
    let stored = serde_json::json!({"url": saved_url, "prefer": "odata.maxpagesize=1"}).to_string();
    let link: DeltaLink = serde_json::from_str(&stored).unwrap();

    let (changes, next) = client.changes_since::<Account>(link).collect().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        path_and_query(requests[0].url.as_str()),
        path_and_query(&saved_url),
        "the saved link is sent exactly as the server gave it"
    );
    assert_eq!(prefer(&requests[0]), Some("odata.maxpagesize=1"), "no track-changes preference on a delta link");
    assert_eq!(changes.len(), 3);
    assert_eq!(
        changes[0],
        Change::Upserted(Account {
            name: "Monte Orton Ltd".into(),
            accountnumber: Some("A-1".into()),
            accountid: id("60c4e274-0d87-e711-80e5-00155db19e6d"),
        })
    );
    let Change::Deleted(deleted) = &changes[1] else { panic!("{:?}", changes[1]) };
    assert_eq!((deleted.id(), deleted.reason()), (id("2e451703-c686-e711-80e5-00155db19e6d"), &RemovedReason::Deleted));
    let Change::Deleted(removed) = &changes[2] else { panic!("{:?}", changes[2]) };
    assert_eq!((removed.id(), removed.reason()), (id("7eb682f1-ca75-e511-80d4-00155d2a68d1"), &RemovedReason::Changed));
    assert!(next.url().contains("$deltatoken=919058"), "{next:?}");
    assert_eq!(next.prefer(), Some("odata.maxpagesize=1"));

    // Nothing changed since: the answer has no new link, so the one followed stays valid.
    let (none, same) = client.changes_since::<Account>(next.clone()).collect().await.unwrap();
    assert!(none.is_empty());
    assert_eq!(same, next);
}

#[tokio::test]
async fn a_table_without_change_tracking_gets_an_error_naming_the_track_changes_setting() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(400, &fixture("webapi/sync/not-enabled.json")))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let error = client.track_changes::<Account, _>(&Query::untyped("accounts")).collect().await.unwrap_err();

    assert!(error.is_change_tracking_not_enabled());
    assert_eq!(error.service_code(), Some("0x80072491"));
    assert!(error.hint().unwrap().contains("\"Track changes\""), "{:?}", error.hint());
    let text = error.to_string();
    assert!(
        text.contains("Entity account isn't enabled for change tracking.") && text.contains("Track changes"),
        "{text}"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(prefer(&requests[0]), Some("odata.track-changes"));
}

#[tokio::test]
async fn query_options_change_tracking_does_not_support_are_refused_before_sending() {
    let server = MockServer::start().await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let error = client.track_changes::<Account, _>(&Query::untyped("accounts").top(5)).collect().await.unwrap_err();

    assert!(error.to_string().contains("\"$top\" query option isn't supported with change tracking"), "{error}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_answer_without_a_delta_link_says_change_tracking_was_not_applied() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/accounts")))
        .respond_with(json_response(200, r#"{"value":[]}"#))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    let error = client.track_changes::<Account, _>(&Query::untyped("accounts")).collect().await.unwrap_err();

    assert!(
        error.to_string().contains("no @odata.deltaLink") && error.to_string().contains("Track changes"),
        "{error}"
    );
}

#[tokio::test]
async fn a_table_definition_says_whether_change_tracking_is_on() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/EntityDefinitions(LogicalName='account')")))
        .and(wiremock::matchers::query_param("$select", "ChangeTrackingEnabled"))
        .respond_with(json_response(200, &answer(&server, "entity-definition.json")))
        .mount(&server)
        .await;
    fail_unmatched(&server).await;
    let (client, _, _) = webapi_client(&server);

    assert!(client.is_change_tracking_enabled("account").await.unwrap());
    assert!(client.is_change_tracking_enabled("bad name").await.is_err(), "refused before sending");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
