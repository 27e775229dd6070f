//! [`ChangeTracking`]: the requests of one sync and the stream of what they return.

use std::marker::PhantomData;

use futures_util::stream::{self, Stream, TryStreamExt};
use http::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::change::{Change, parse_entry};
use super::delta_link::DeltaLink;
use super::not_enabled::{TURN_ON, name_the_setting};
use crate::client::Client;
use crate::entity_set::{PREFER, check_identifier};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::response::decode_json;
use crate::transport::ApiRequest;

const TRACK_CHANGES: &str = "odata.track-changes";
const UNSUPPORTED_OPTIONS: [&str; 4] = ["$filter", "$orderby", "$expand", "$top"];

/// What a sync yields: changes, then (last) the link to resume from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SyncEvent<T> {
    /// A row created, changed or removed.
    Change(Change<T>),
    /// The sync read everything; save this link and pass it to
    /// [`Client::changes_since`](crate::Client::changes_since) next time.
    Completed(DeltaLink),
}

/// One sync of a tracked table, finished by [`events`](Self::events).
#[derive(Debug)]
#[must_use = "a sync does nothing until its events are read"]
pub struct ChangeTracking<T> {
    client: Client,
    start: std::result::Result<Step, Error>,
    output: PhantomData<fn() -> T>,
}

/// The next request of a sync.
#[derive(Debug, Clone)]
struct Step {
    request: Where,
    /// The `Prefer` header of this request.
    prefer: Option<String>,
    /// The `Prefer` header to save with the next delta link (the query's preferences, without track-changes).
    keep: Option<String>,
    /// The link being followed, kept when an answer brings no new one.
    following: Option<DeltaLink>,
}

#[derive(Debug, Clone)]
enum Where {
    Query { entity_set: String, query: String },
    Link(String),
}

impl Client {
    /// Starts tracking the rows `query` selects: the first sync returns every row, then the delta link.
    ///
    /// `$select` and the page size (`max_page_size`) apply; `$filter`, `$orderby`, `$expand` and `$top`
    /// are not supported by Dataverse's change tracking and are refused before sending.
    pub fn track_changes<T: DeserializeOwned, E>(&self, query: &Query<E>) -> ChangeTracking<T> {
        let start = initial_step(query);
        ChangeTracking { client: self.clone(), start, output: PhantomData }
    }

    /// Reads what changed since `link` was saved: new and changed rows, removed ids, then the next link.
    pub fn changes_since<T: DeserializeOwned>(&self, link: DeltaLink) -> ChangeTracking<T> {
        let step = Step {
            request: Where::Link(link.url().to_owned()),
            prefer: link.prefer().map(str::to_owned),
            keep: link.prefer().map(str::to_owned),
            following: Some(link),
        };
        ChangeTracking { client: self.clone(), start: Ok(step), output: PhantomData }
    }
}

fn initial_step<E>(query: &Query<E>) -> Result<Step> {
    check_identifier(query.entity_set())?;
    let pairs = query.query_pairs()?;
    if let Some((name, _)) = pairs.iter().find(|(name, _)| UNSUPPORTED_OPTIONS.contains(name)) {
        return Err(Error::config(format!(
            "the \"{name}\" query option isn't supported with change tracking; select columns only \
             (and filter the changes after reading them)"
        )));
    }
    let preferences = query.preferences();
    let keep = (!preferences.is_empty()).then(|| preferences.join(", "));
    let prefer = std::iter::once(TRACK_CHANGES.to_owned()).chain(preferences).collect::<Vec<_>>().join(", ");
    Ok(Step {
        request: Where::Query { entity_set: query.entity_set().to_owned(), query: query.to_query_string()? },
        prefer: Some(prefer),
        keep,
        following: None,
    })
}

#[derive(Deserialize)]
struct DeltaPage {
    #[serde(default)]
    value: Vec<Box<RawValue>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
}

impl<T: DeserializeOwned + Send + 'static> ChangeTracking<T> {
    /// The changes, page by page as they are read, ending with [`SyncEvent::Completed`].
    ///
    /// Save the delta link only once it arrives: a sync that stops early resumes from the previous link,
    /// and reads again what it had already read (changes are idempotent to apply).
    pub fn events(self) -> impl Stream<Item = Result<SyncEvent<T>>> + Send + 'static {
        let client = self.client;
        stream::try_unfold((client, Some(self.start)), |(client, step)| async move {
            let Some(step) = step else {
                return Ok(None);
            };
            let (events, next) = fetch::<T>(&client, step?).await?;
            Ok::<_, Error>(Some((events, (client, next.map(Ok)))))
        })
        .map_ok(|events| stream::iter(events.into_iter().map(Ok)))
        .try_flatten()
    }

    /// Reads the whole sync: the changes in order, and the link to save.
    ///
    /// # Errors
    /// As any request; [`Error::is_change_tracking_not_enabled`] for a table without change tracking.
    pub async fn collect(self) -> Result<(Vec<Change<T>>, DeltaLink)> {
        let mut changes = Vec::new();
        let mut link = None;
        let mut events = std::pin::pin!(self.events());
        while let Some(event) = events.try_next().await? {
            match event {
                SyncEvent::Change(change) => changes.push(change),
                SyncEvent::Completed(next) => link = Some(next),
            }
        }
        link.map(|link| (changes, link)).ok_or_else(|| Error::decode("the sync ended without a delta link", None))
    }
}

/// Reads one page; returns its events and the step after it (`None` after the last page).
async fn fetch<T: DeserializeOwned>(client: &Client, step: Step) -> Result<(Vec<SyncEvent<T>>, Option<Step>)> {
    let mut request = match &step.request {
        Where::Query { entity_set, query } => {
            ApiRequest::new(Method::GET, entity_set.clone()).query(Some(query.clone()))
        }
        Where::Link(url) => ApiRequest::absolute(Method::GET, url.clone()),
    };
    if let Some(prefer) = &step.prefer {
        request = request.header(PREFER, prefer)?;
    }
    let response = client.execute(request).await.map_err(name_the_setting)?;
    let page: DeltaPage = decode_json(&response)?;
    let mut events =
        page.value.iter().map(|entry| parse_entry(entry).map(SyncEvent::Change)).collect::<Result<Vec<_>>>()?;
    if let Some(next) = page.next_link {
        let following = step.following.clone();
        return Ok((events, Some(Step { request: Where::Link(next), following, ..step })));
    }
    let link = match (page.delta_link, step.following) {
        (Some(url), _) => DeltaLink::with_prefer(url, step.keep),
        (None, Some(previous)) => previous,
        (None, None) => {
            return Err(Error::decode(
                format!("the answer has no @odata.deltaLink, so change tracking was not applied ({TURN_ON})"),
                None,
            ));
        }
    };
    events.push(SyncEvent::Completed(link));
    Ok((events, None))
}
