//! Reading many records: one page, or all of them as a lazy stream that follows `@odata.nextLink`
//! (or FetchXML paging cookies), with a position that can be saved and resumed.

use std::fmt;
use std::task::Poll;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, Stream};
use http::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::entity_set::PREFER;
use crate::error::{Error, Result};
use crate::fetch_xml::{FetchXmlCursor, PagingCookie};
use crate::options::RequestOptions;
use crate::query::Query;
use crate::response::decode_json;
use crate::transport::ApiRequest;

/// One page of records.
#[derive(Debug, Clone)]
pub struct Page<T> {
    records: Vec<T>,
    next: Option<PagePosition>,
    count: Option<i64>,
}

impl<T> Page<T> {
    /// The page's records.
    pub fn records(&self) -> &[T] {
        &self.records
    }

    /// The page's records, owned.
    pub fn into_records(self) -> Vec<T> {
        self.records
    }

    /// Where the next page starts; `None` on the last page. Save it to resume later.
    pub fn next_position(&self) -> Option<&PagePosition> {
        self.next.as_ref()
    }

    /// The total count, when `$count=true` was asked (Dataverse counts at most 5,000).
    pub fn count(&self) -> Option<i64> {
        self.count
    }
}

/// Where the next page of a paged read starts: a next link or a FetchXML paging cookie,
/// with the `Prefer` header that must be sent again.
///
/// It serialises (serde), so a long export can store it and [`Client::resume`] where it stopped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePosition {
    #[serde(flatten)]
    step: Step,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prefer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Step {
    /// An `@odata.nextLink` URL.
    NextLink { url: String },
    /// A FetchXML query at a page, with the cookie of the page before.
    FetchXml(FetchXmlCursor),
}

impl PagePosition {
    /// A position from a next link, such as an expanded collection's `<nav>@odata.nextLink`.
    pub fn from_next_link(url: impl Into<String>) -> Self {
        Self { step: Step::NextLink { url: url.into() }, prefer: None }
    }

    /// The same position, sending this `Prefer` header (page size, annotations) with each page.
    #[must_use]
    pub fn with_prefer(mut self, prefer: Option<String>) -> Self {
        self.prefer = prefer;
        self
    }

    pub(crate) fn fetch_xml(cursor: FetchXmlCursor, prefer: Option<String>) -> Self {
        Self { step: Step::FetchXml(cursor), prefer }
    }
}

impl fmt::Debug for PagePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagePosition").field("step", &self.step).field("prefer", &self.prefer).finish()
    }
}

/// The envelope of a collection answer.
#[derive(Deserialize)]
struct Envelope<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.count", default)]
    count: Option<i64>,
    #[serde(rename = "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie", default)]
    paging_cookie: Option<String>,
    #[serde(rename = "@Microsoft.Dynamics.CRM.morerecords", default)]
    more_records: Option<bool>,
}

/// A paged read, finished by [`first_page`](Self::first_page), [`pages`](Self::pages) or [`records`](Self::records).
///
/// ```no_run
/// use futures_util::TryStreamExt;
/// use dynamics_webapi::{Client, Record};
/// use dynamics_webapi::query::Query;
///
/// # async fn run(client: Client) -> dynamics_webapi::Result<()> {
/// let query = Query::untyped("accounts").max_page_size(5000);
/// let mut records = std::pin::pin!(client.query::<Record, _>(&query).records());
/// while let Some(account) = records.try_next().await? {
///     println!("{:?}", account.string("name")?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a read does nothing until it is sent"]
pub struct PagedRead<T> {
    client: Client,
    start: std::result::Result<Start, Error>,
    options: Option<RequestOptions>,
    output: std::marker::PhantomData<fn() -> T>,
}

#[derive(Debug, Clone)]
enum Start {
    Query { entity_set: String, query: String, prefer: Option<String> },
    Position(PagePosition),
}

impl Client {
    /// Reads the records `query` selects, page by page.
    pub fn query<T: DeserializeOwned, E>(&self, query: &Query<E>) -> PagedRead<T> {
        let start = query.to_query_string().map_err(Error::from).map(|text| Start::Query {
            entity_set: query.entity_set().to_owned(),
            query: text,
            prefer: query.prefer_header(),
        });
        PagedRead { client: self.clone(), start, options: None, output: std::marker::PhantomData }
    }

    /// Continues a paged read from a saved position.
    pub fn resume<T: DeserializeOwned>(&self, position: PagePosition) -> PagedRead<T> {
        PagedRead {
            client: self.clone(),
            start: Ok(Start::Position(position)),
            options: None,
            output: std::marker::PhantomData,
        }
    }

    pub(crate) fn paged<T>(&self, position: PagePosition) -> PagedRead<T> {
        PagedRead {
            client: self.clone(),
            start: Ok(Start::Position(position)),
            options: None,
            output: std::marker::PhantomData,
        }
    }

    /// A read that fails with `error` when it is started, before anything is sent.
    pub(crate) fn paged_error<T>(&self, error: Error) -> PagedRead<T> {
        PagedRead { client: self.clone(), start: Err(error), options: None, output: std::marker::PhantomData }
    }
}

impl<T> PagedRead<T> {
    /// Request options (impersonation, `Consistency: Strong`, a header of the caller's, …) for every page.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> PagedRead<T> {
    /// Reads the first page only.
    ///
    /// # Errors
    /// As any request; [`Error::Decode`] when a record cannot be read as `T`.
    pub async fn first_page(self) -> Result<Page<T>> {
        let start = self.start?;
        fetch_page(&self.client, start, self.options).await
    }

    /// All pages, lazily: a page is requested when the one before has been taken.
    pub fn pages(self) -> impl Stream<Item = Result<Page<T>>> + Send + 'static {
        let client = self.client;
        let options = self.options;
        stream::try_unfold((client, Some(self.start)), move |(client, start)| {
            let options = options.clone();
            async move {
                let Some(start) = start else {
                    return Ok(None);
                };
                let page = fetch_page::<T>(&client, start?, options).await?;
                let next = page.next.clone().map(|position| Ok(Start::Position(position)));
                Ok(Some((page, (client, next))))
            }
        })
    }

    /// All records, lazily; memory holds one page at a time.
    ///
    /// The stream is `Unpin`. After an error it ends.
    pub fn records(self) -> impl Stream<Item = Result<T>> + Send + Unpin + 'static {
        // Hand-rolled rather than `pages().try_flatten()`: a record already in memory is handed out
        // without going through layers of stream adapters, which shows at thousands of records a page.
        let client = self.client;
        let options = self.options;
        let mut start = Some(self.start);
        let mut current = Vec::new().into_iter();
        let mut fetching: Option<BoxFuture<'static, Result<Page<T>>>> = None;
        stream::poll_fn(move |cx| {
            loop {
                if let Some(record) = current.next() {
                    return Poll::Ready(Some(Ok(record)));
                }
                // Give the finished page's buffer back before the next page arrives.
                current = Vec::new().into_iter();
                if let Some(page) = fetching.as_mut() {
                    let page = std::task::ready!(page.as_mut().poll(cx));
                    fetching = None;
                    match page {
                        Ok(page) => {
                            start = page.next.map(|position| Ok(Start::Position(position)));
                            current = page.records.into_iter();
                            continue;
                        }
                        Err(error) => {
                            start = None;
                            return Poll::Ready(Some(Err(error)));
                        }
                    }
                }
                match start.take() {
                    None => return Poll::Ready(None),
                    Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                    Some(Ok(next)) => {
                        let (client, options) = (client.clone(), options.clone());
                        fetching = Some(Box::pin(async move { fetch_page::<T>(&client, next, options).await }));
                    }
                }
            }
        })
    }
}

async fn fetch_page<T: DeserializeOwned>(
    client: &Client,
    start: Start,
    options: Option<RequestOptions>,
) -> Result<Page<T>> {
    let mut current_link = None;
    let (request, prefer, cursor) = match start {
        Start::Query { entity_set, query, prefer } => {
            crate::entity_set::check_identifier(&entity_set)?;
            (ApiRequest::new(Method::GET, entity_set).query(Some(query)), prefer, None)
        }
        Start::Position(PagePosition { step: Step::NextLink { url }, prefer }) => {
            current_link = Some(url.clone());
            (ApiRequest::absolute(Method::GET, url), prefer, None)
        }
        Start::Position(PagePosition { step: Step::FetchXml(cursor), prefer }) => {
            (cursor.request()?, prefer, Some(cursor))
        }
    };
    let request = match &prefer {
        Some(prefer) => request.header(PREFER, prefer)?,
        None => request,
    }
    .options(options);
    let envelope: Envelope<T> = decode_json(&client.execute(request).await?)?;
    if envelope.next_link.is_some() && envelope.next_link == current_link {
        // Following it would read the same page forever.
        return Err(Error::decode("the server's @odata.nextLink points at the page it is on", None));
    }
    let next = match cursor {
        Some(cursor) if envelope.more_records == Some(true) => {
            let cookie = envelope.paging_cookie.as_deref().map(PagingCookie::parse).transpose()?;
            Some(PagePosition::fetch_xml(cursor.next(cookie)?, prefer.clone()))
        }
        Some(_) => None,
        None => envelope.next_link.map(|url| PagePosition { step: Step::NextLink { url }, prefer: prefer.clone() }),
    };
    Ok(Page { records: envelope.value, next, count: envelope.count })
}
