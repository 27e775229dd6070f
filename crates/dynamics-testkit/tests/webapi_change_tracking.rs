//! Emulated change tracking through the real `dynamics-webapi` sync: a first sync with its delta link, then
//! exactly the changes made in the org since, resumed from a saved link; paging; tables without it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

mod support;

use std::collections::{BTreeMap, HashSet};

use futures_util::TryStreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

use dynamics_testkit::{Emulator, EntitySetSpec};
use dynamics_webapi::change_tracking::{Change, DeltaLink, RemovedReason, SyncEvent};
use dynamics_webapi::query::Query;
use support::{bearer, client};

const CONTOSO: &str = "a0000001-0000-4000-8000-000000000001";
const FABRIKAM: &str = "a0000001-0000-4000-8000-000000000002";

fn id(text: &str) -> Uuid {
    text.parse().unwrap()
}

/// The changes as (upserted ids with their names, deleted ids).
fn split(changes: &[Change<Value>]) -> (BTreeMap<Uuid, Value>, Vec<Uuid>) {
    let mut upserted = BTreeMap::new();
    let mut deleted = Vec::new();
    for change in changes {
        match change {
            Change::Upserted(row) => {
                let id = row["accountid"].as_str().unwrap().parse().unwrap();
                assert!(upserted.insert(id, row["name"].clone()).is_none(), "a row came twice: {row}");
            }
            Change::Deleted(gone) => {
                assert_eq!(gone.reason(), &RemovedReason::Deleted);
                deleted.push(gone.id());
            }
            other => panic!("unexpected change {other:?}"),
        }
    }
    (upserted, deleted)
}

#[tokio::test]
async fn a_first_sync_then_exactly_the_changes_since_resumed_from_a_saved_delta_link() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    let query = Query::untyped("accounts").select(["name", "accountnumber"]);
    let (first, link) = client.track_changes::<Value, _>(&query).collect().await.unwrap();
    let (rows, deleted) = split(&first);
    assert_eq!(rows.len(), 5);
    assert!(deleted.is_empty());
    assert!(link.url().contains("$select=name,accountnumber"), "{}", link.url());
    assert!(link.url().contains("$deltatoken="), "{}", link.url());
    let saved = serde_json::to_string(&link).unwrap();

    // Changes in the org: one created through the API, one updated and one deleted by "someone else".
    let created = client.entity_set("accounts").create(&json!({"name": "Tailspin Toys"})).send().await.unwrap();
    assert!(emulator.update("accounts", id(CONTOSO), json!({"name": "Contoso Pharmaceuticals"})).unwrap());
    assert!(emulator.delete("accounts", id(FABRIKAM)));
    // A change elsewhere is not a change of accounts.
    let contact = emulator.records("contacts")[0]["contactid"].as_str().unwrap().parse().unwrap();
    assert!(emulator.update("contacts", contact, json!({"jobtitle": "Buyer"})).unwrap());

    let resumed: DeltaLink = serde_json::from_str(&saved).unwrap();
    let (changes, next) = client.changes_since::<Value>(resumed).collect().await.unwrap();
    let (rows, deleted) = split(&changes);
    assert_eq!(
        rows,
        BTreeMap::from([(created, json!("Tailspin Toys")), (id(CONTOSO), json!("Contoso Pharmaceuticals"))])
    );
    assert_eq!(deleted, [id(FABRIKAM)]);
    assert_ne!(next.url(), link.url());

    // Nothing changed since: an empty delta, and a link to go on from.
    let (none, after) = client.changes_since::<Value>(next.clone()).collect().await.unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert!(after.url().contains("$deltatoken="));

    // Changing the same record twice yields it once, as it is now.
    emulator.update("accounts", id(CONTOSO), json!({"name": "Contoso, first"})).unwrap();
    emulator.update("accounts", id(CONTOSO), json!({"name": "Contoso, second"})).unwrap();
    let (twice, _) = client.changes_since::<Value>(after).collect().await.unwrap();
    assert_eq!(split(&twice).0, BTreeMap::from([(id(CONTOSO), json!("Contoso, second"))]));
}

#[tokio::test]
async fn the_answers_have_the_documented_shapes() {
    let emulator = Emulator::start().await;
    let http = reqwest::Client::new();
    let bearer = bearer(&emulator).await;
    let first = http
        .get(format!("{}accounts?$select=name", emulator.service_root()))
        .header("Authorization", &bearer)
        .header("Prefer", "odata.track-changes")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["preference-applied"], "odata.track-changes");
    let body: Value = serde_json::from_str(&first.text().await.unwrap()).unwrap();
    let link = body["@odata.deltaLink"].as_str().unwrap().to_owned();
    let token = link.split("$deltatoken=").nth(1).unwrap();
    // `<version>!<MM/dd/yyyy HH:mm:ss>`, percent-encoded in lower case as Dataverse's.
    assert!(token.contains("%21") && token.contains("%2f") && token.contains("%3a"), "{token}");
    assert_eq!(body["value"].as_array().unwrap().len(), 5);

    emulator.delete("accounts", id(FABRIKAM));
    let delta = http.get(&link).header("Authorization", &bearer).send().await.unwrap();
    let body: Value = serde_json::from_str(&delta.text().await.unwrap()).unwrap();
    assert!(body["@odata.context"].as_str().unwrap().ends_with("$metadata#accounts(name)/$delta"));
    assert_eq!(
        body["value"],
        json!([{
            "@odata.context": format!("{}$metadata#accounts/$deletedEntity", emulator.service_root()),
            "id": FABRIKAM,
            "reason": "deleted",
        }])
    );
    assert!(
        body["@odata.deltaLink"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}accounts?$select=name&$deltatoken=", emulator.service_root()))
    );

    // Change tracking takes no $filter, $orderby, $top or $expand.
    let filtered = http
        .get(format!("{}accounts?$filter=name%20eq%20'x'", emulator.service_root()))
        .header("Authorization", &bearer)
        .header("Prefer", "odata.track-changes")
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.status(), 400);
}

#[tokio::test]
async fn paged_syncs_read_every_row_once_even_when_rows_change_between_pages() {
    let emulator = Emulator::builder().seed_generated("accounts", 20).start().await.unwrap();
    let client = client(&emulator);
    let query = Query::untyped("accounts").select(["name"]).max_page_size(4);
    let mut events = std::pin::pin!(client.track_changes::<Value, _>(&query).events());
    let mut seen = Vec::new();
    let mut link = None;
    let mut changed_while_paging = None;
    while let Some(event) = events.try_next().await.unwrap() {
        match event {
            SyncEvent::Change(change) => {
                seen.push(change);
                if seen.len() == 6 {
                    // A row already read changes, and a new one appears, while the client pages.
                    let Change::Upserted(row) = &seen[0] else { panic!() };
                    let first: Uuid = row["accountid"].as_str().unwrap().parse().unwrap();
                    emulator.update("accounts", first, json!({"name": "Changed while paging"})).unwrap();
                    changed_while_paging =
                        Some((first, emulator.insert("accounts", json!({"name": "New while paging"}))));
                }
            }
            SyncEvent::Completed(next) => link = Some(next),
            _ => {}
        }
    }
    let (rows, _) = split(&seen);
    assert_eq!(rows.len(), 25, "every row of the start, once");
    let pages = emulator.journal().matching("GET", "/api/data/v9.2/accounts");
    assert_eq!(pages.len(), 7, "25 rows in pages of 4");
    assert!(pages.iter().all(|page| page.header("prefer").unwrap().contains("odata.track-changes")));

    // What changed while paging is in the next delta.
    let (updated, inserted) = changed_while_paging.unwrap();
    let (changes, _) = client.changes_since::<Value>(link.unwrap()).collect().await.unwrap();
    let (rows, deleted) = split(&changes);
    assert_eq!(rows.keys().copied().collect::<HashSet<_>>(), HashSet::from([updated, inserted]));
    assert_eq!(rows[&updated], "Changed while paging");
    assert!(deleted.is_empty());
}

#[tokio::test]
async fn deltas_are_paged_with_the_saved_page_size() {
    let emulator = Emulator::start().await;
    let client = client(&emulator);
    let query = Query::untyped("contacts").select(["lastname"]).max_page_size(2);
    let (_, link) = client.track_changes::<Value, _>(&query).collect().await.unwrap();
    assert!(link.prefer().unwrap().contains("odata.maxpagesize=2"));
    let ids: Vec<Uuid> =
        emulator.records("contacts").iter().map(|r| r["contactid"].as_str().unwrap().parse().unwrap()).collect();
    for (n, contact) in ids.iter().enumerate().take(4) {
        emulator.update("contacts", *contact, json!({"lastname": format!("Renamed {n}")})).unwrap();
    }
    emulator.delete("contacts", ids[4]);
    emulator.journal().clear();
    let (changes, _) = client.changes_since::<Value>(link).collect().await.unwrap();
    assert_eq!(changes.len(), 5);
    let renamed: HashSet<String> = changes
        .iter()
        .filter_map(|change| match change {
            Change::Upserted(row) => row["lastname"].as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(renamed.len(), 4);
    assert!(matches!(&changes[4], Change::Deleted(gone) if gone.id() == ids[4]));
    assert_eq!(emulator.journal().web_api().len(), 3, "5 changes in pages of 2");
}

#[tokio::test]
async fn a_table_without_change_tracking_is_refused_as_dataverse_refuses_it() {
    let emulator = Emulator::builder()
        .entity_set(EntitySetSpec::new("new_widgets", "new_widget", "new_widgetid").change_tracking(true))
        .seed("new_widgets", [json!({"new_name": "Sprocket"})])
        .start()
        .await
        .unwrap();
    let client = client(&emulator);
    let error = client.track_changes::<Value, _>(&Query::untyped("tasks")).collect().await.unwrap_err();
    assert!(error.is_change_tracking_not_enabled(), "{error}");
    assert_eq!(error.service_error().unwrap().message(), "Entity task isn't enabled for change tracking.");
    assert!(error.hint().unwrap().contains("Track changes"));

    assert!(client.is_change_tracking_enabled("account").await.unwrap());
    assert!(client.is_change_tracking_enabled("new_widget").await.unwrap());
    assert!(!client.is_change_tracking_enabled("task").await.unwrap());
    assert!(client.is_change_tracking_enabled("new_nothing").await.unwrap_err().is_not_found());

    let (widgets, _) = client.track_changes::<Value, _>(&Query::untyped("new_widgets")).collect().await.unwrap();
    assert!(matches!(&widgets[..], [Change::Upserted(row)] if row["new_name"] == "Sprocket"));
}

/// A document of the Web API docs' change-tracking example, as `dynamics-webapi`'s fixtures hold it.
fn documented(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/webapi/sync").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_delta_has_the_members_of_the_documented_example() {
    let emulator = Emulator::start().await;
    let http = reqwest::Client::new();
    let bearer = bearer(&emulator).await;
    let get = |url: String, track: bool| {
        let request = http.get(url).header("Authorization", &bearer);
        let request = if track { request.header("Prefer", "odata.track-changes") } else { request };
        async move { serde_json::from_str::<Value>(&request.send().await.unwrap().text().await.unwrap()).unwrap() }
    };
    let first = get(format!("{}accounts?$select=name,accountnumber", emulator.service_root()), true).await;
    emulator.update("accounts", id(CONTOSO), json!({"name": "Monte Orton Ltd"})).unwrap();
    emulator.delete("accounts", id(FABRIKAM));
    let delta = get(first["@odata.deltaLink"].as_str().unwrap().to_owned(), false).await;

    let example = documented("delta.json");
    assert_eq!(keys(&delta), keys(&example));
    // The changed row and the deleted entry have the example's members (the third entry of the example is
    // OData 4.01's `@removed` form, which Dataverse does not send).
    assert_eq!(keys(&delta["value"][0]), keys(&example["value"][0]));
    assert_eq!(keys(&delta["value"][1]), keys(&example["value"][1]));
    assert_eq!(delta["value"][1]["reason"], example["value"][1]["reason"]);
    let shape = |url: &str| {
        let (base, token) = url.split_once("$deltatoken=").unwrap();
        let base = base.split_once("/api/data/v9.2/").unwrap().1.to_owned();
        let decoded = percent_encoding::percent_decode_str(token).decode_utf8().unwrap().into_owned();
        let (version, stamp) = decoded.split_once('!').unwrap();
        (base, version.chars().all(|c| c.is_ascii_digit()), stamp.len(), stamp.chars().filter(|c| *c == '/').count())
    };
    assert_eq!(
        shape(delta["@odata.deltaLink"].as_str().unwrap()),
        shape(example["@odata.deltaLink"].as_str().unwrap())
    );
    let definition = documented("entity-definition.json");
    let answer = get(
        format!("{}EntityDefinitions(LogicalName='account')?$select=ChangeTrackingEnabled", emulator.service_root()),
        false,
    )
    .await;
    assert_eq!(keys(&answer), keys(&definition));
    assert_eq!(answer["ChangeTrackingEnabled"], true);
}

#[tokio::test]
async fn direct_changes_refuse_what_they_cannot_do() {
    let emulator = Emulator::start().await;
    let error = emulator.update("accounts", id(CONTOSO), json!(["not", "an object"])).unwrap_err();
    assert!(matches!(error, dynamics_testkit::Error::Change { .. }), "{error}");
    let error = emulator.update("accounts", id(CONTOSO), json!({"accountid": Uuid::new_v4()})).unwrap_err();
    assert!(error.to_string().contains("primary id"), "{error}");
    assert!(!emulator.update("accounts", Uuid::new_v4(), json!({"name": "x"})).unwrap());
    assert!(!emulator.delete("accounts", Uuid::new_v4()));
    assert_eq!(emulator.records("accounts").len(), 5);
    let zero = Emulator::builder().max_bulk_bytes(0).start().await.unwrap_err();
    assert!(zero.to_string().contains("max_bulk_bytes"), "{zero}");
}
