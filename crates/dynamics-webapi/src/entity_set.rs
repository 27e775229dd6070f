//! Create, retrieve, update, upsert and delete on one entity set, typed or untyped.

use std::borrow::Cow;
use std::marker::PhantomData;

use bytes::Bytes;
use http::header::{HeaderName, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::client::Client;
use crate::entity::Entity;
use crate::error::{Error, Precondition, Result};
use crate::key::{RecordKey, id_from_entity_url};
use crate::options::RequestOptions;
use crate::query::{Query, Untyped};
use crate::response::decode_json;
use crate::retry::Repeat;
use crate::transport::{ApiRequest, JSON_CONTENT_TYPE, Target};

pub(crate) const PREFER: HeaderName = HeaderName::from_static("prefer");
const RETURN_REPRESENTATION: &str = "return=representation";

/// The records of one entity set. Get one with [`Client::entity_set`] (untyped) or [`Client::entities`] (typed).
///
/// ```no_run
/// use dynamics_webapi::{Client, RecordKey};
/// use serde_json::json;
///
/// # async fn run(client: Client) -> dynamics_webapi::Result<()> {
/// let accounts = client.entity_set("accounts");
/// let id = accounts.create(&json!({"name": "Contoso"})).send().await?;
/// accounts.update(id, &json!({"telephone1": "555-0100"})).send().await?;
/// accounts.upsert(RecordKey::alternate([("accountnumber", "A-1")]), &json!({"name": "Fabrikam"})).send().await?;
/// accounts.delete(id).send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EntitySet<E = Untyped> {
    client: Client,
    name: Cow<'static, str>,
    entity: PhantomData<fn() -> E>,
}

impl<E> Clone for EntitySet<E> {
    fn clone(&self) -> Self {
        Self { client: self.client.clone(), name: self.name.clone(), entity: PhantomData }
    }
}

impl Client {
    /// The entity set `name` (such as `accounts`), untyped: bodies and records are any serde types.
    pub fn entity_set(&self, name: impl Into<Cow<'static, str>>) -> EntitySet<Untyped> {
        EntitySet { client: self.clone(), name: name.into(), entity: PhantomData }
    }

    /// The entity set of `E`, typed.
    pub fn entities<E: Entity>(&self) -> EntitySet<E> {
        EntitySet { client: self.clone(), name: Cow::Borrowed(E::ENTITY_SET), entity: PhantomData }
    }
}

impl<E> EntitySet<E> {
    /// The entity set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn check_name(&self) -> Result<()> {
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::config(format!("`{}` is not an entity set name", self.name)));
        }
        Ok(())
    }

    fn record_path(&self, key: &RecordKey) -> Result<String> {
        self.check_name()?;
        Ok(format!("{}{}", self.name, key.to_path()?))
    }

    /// Creates a record from `body` (`POST`); `send()` returns its id.
    pub fn create(&self, body: &impl Serialize) -> CreateRequest<E> {
        CreateRequest {
            set: self.clone(),
            body: serde_json::to_vec(body).map_err(|e| format!("the record cannot be serialised as JSON: {e}")),
            id: None,
            query: None,
            prefer: None,
            options: None,
        }
    }

    /// Retrieves one record by id or alternate key.
    pub fn retrieve<T: DeserializeOwned>(&self, key: impl Into<RecordKey>) -> RetrieveRequest<E, T> {
        RetrieveRequest {
            set: self.clone(),
            key: key.into(),
            query: None,
            prefer: None,
            options: None,
            output: PhantomData,
        }
    }

    /// Updates an existing record (`PATCH` with `If-Match: *`: never creates). Only the columns in `body` change.
    pub fn update(&self, key: impl Into<RecordKey>, body: &impl Serialize) -> WriteRequest<E> {
        self.write(key.into(), body, Some(Precondition::IfMatchAny))
    }

    /// Updates the record, or creates it when it does not exist (`PATCH` without a precondition).
    pub fn upsert(&self, key: impl Into<RecordKey>, body: &impl Serialize) -> WriteRequest<E> {
        self.write(key.into(), body, None)
    }

    /// Creates the record with this key, failing with [`Error::is_already_exists`] if it exists
    /// (`PATCH` with `If-None-Match: *`). Repeated after a lost answer like a create with its own key:
    /// a repeat that finds the record counts as created.
    pub fn create_only(&self, key: impl Into<RecordKey>, body: &impl Serialize) -> WriteRequest<E> {
        self.write(key.into(), body, Some(Precondition::IfNoneMatchAny))
    }

    fn write(&self, key: RecordKey, body: &impl Serialize, precondition: Option<Precondition>) -> WriteRequest<E> {
        WriteRequest {
            set: self.clone(),
            key,
            body: serde_json::to_vec(body).map_err(|e| format!("the record cannot be serialised as JSON: {e}")),
            precondition,
            etag: None,
            query: None,
            prefer: None,
            options: None,
        }
    }

    /// Deletes a record.
    pub fn delete(&self, key: impl Into<RecordKey>) -> DeleteRequest<E> {
        DeleteRequest { set: self.clone(), key: key.into(), etag: None, options: None }
    }

    /// Clears a single-valued lookup (`DELETE <record>/<navigation property>/$ref`).
    ///
    /// # Errors
    /// As any request.
    pub async fn clear_lookup(&self, key: impl Into<RecordKey>, navigation_property: &str) -> Result<()> {
        check_identifier(navigation_property)?;
        let path = format!("{}/{navigation_property}/$ref", self.record_path(&key.into())?);
        self.client.execute(ApiRequest::new(Method::DELETE, path)).await.map(drop)
    }

    /// Points a single-valued lookup at `target` (`PUT <record>/<navigation property>/$ref` with `@odata.id`).
    /// In a create or update body, [`bind`](crate::bind) does the same.
    ///
    /// # Errors
    /// As any request.
    pub async fn set_lookup(
        &self,
        key: impl Into<RecordKey>,
        navigation_property: &str,
        target_set: &str,
        target: impl Into<RecordKey>,
    ) -> Result<()> {
        let path = format!("{}/{navigation_property}/$ref", self.record_path(&key.into())?);
        self.reference(Method::PUT, path, navigation_property, target_set, target.into()).await
    }

    async fn reference(
        &self,
        method: Method,
        path: String,
        navigation_property: &str,
        target_set: &str,
        target: RecordKey,
    ) -> Result<()> {
        check_identifier(navigation_property)?;
        check_identifier(target_set)?;
        let target_url = self.client.inner.service_root.join(&format!("{target_set}{}", target.to_path()?));
        let target_url = target_url.map_err(|e| Error::config(format!("cannot form the target URL: {e}")))?;
        let request = ApiRequest::new(method, path)
            .json_body(&serde_json::json!({ "@odata.id": target_url.as_str() }))?
            .repeat(Repeat::Safe);
        self.client.execute(request).await.map(drop)
    }

    /// Links `target` to the record through a collection-valued navigation property
    /// (`POST <record>/<navigation property>/$ref` with `@odata.id`).
    ///
    /// # Errors
    /// As any request.
    pub async fn associate(
        &self,
        key: impl Into<RecordKey>,
        navigation_property: &str,
        target_set: &str,
        target: impl Into<RecordKey>,
    ) -> Result<()> {
        let path = format!("{}/{navigation_property}/$ref", self.record_path(&key.into())?);
        self.reference(Method::POST, path, navigation_property, target_set, target.into()).await
    }

    /// Unlinks `target_id` from the record's collection-valued navigation property
    /// (`DELETE <record>/<navigation property>(<target id>)/$ref`).
    ///
    /// # Errors
    /// As any request.
    pub async fn disassociate(
        &self,
        key: impl Into<RecordKey>,
        navigation_property: &str,
        target_id: Uuid,
    ) -> Result<()> {
        check_identifier(navigation_property)?;
        let path = format!("{}/{navigation_property}({target_id})/$ref", self.record_path(&key.into())?);
        self.client.execute(ApiRequest::new(Method::DELETE, path)).await.map(drop)
    }
}

pub(crate) fn check_identifier(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        return Err(Error::config(format!("`{name}` is not a valid name")));
    }
    Ok(())
}

/// A create, finished by [`send`](Self::send) or [`send_returning`](Self::send_returning).
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct CreateRequest<E> {
    set: EntitySet<E>,
    /// The serialised record, kept as bytes so that Money and Decimal values go out exactly as written
    /// (a trip through `serde_json::Value` would round them through `f64`).
    body: std::result::Result<Vec<u8>, String>,
    id: Option<(String, Uuid)>,
    query: Option<std::result::Result<String, Error>>,
    prefer: Option<String>,
    options: Option<RequestOptions>,
}

impl<E> CreateRequest<E> {
    /// Gives the record its primary key up front (`<primary id column>` in the body).
    /// A create with its own key is safe to repeat after a timeout: if the first attempt went through,
    /// the repeat's "already exists" is recognised as that success.
    pub fn with_id_column(mut self, primary_id_column: impl Into<String>, id: Uuid) -> Self {
        self.id = Some((primary_id_column.into(), id));
        self
    }

    /// Request options (impersonation, plug-in bypass, …).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Which columns (`$select`) and related records (`$expand`) [`send_returning`](Self::send_returning) returns,
    /// with the annotations the query asks for.
    pub fn query(mut self, query: &Query<E>) -> Self {
        self.query = Some(single_record_query(query));
        self.prefer = annotations_preference(query);
        self
    }

    fn request(self, returning: bool) -> Result<(EntitySet<E>, ApiRequest, Option<Uuid>)> {
        self.set.check_name()?;
        let mut body = self.body.map_err(Error::config)?;
        let mut repeat = Repeat::OnlyIfRefused;
        let mut known_id = None;
        if let Some((column, id)) = &self.id {
            body = with_primary_id(&body, column, *id)?;
            repeat = Repeat::KeyedCreate;
            known_id = Some(*id);
        }
        let query = if returning { self.query.transpose()? } else { None };
        let mut request = ApiRequest::new(Method::POST, self.set.name.to_string())
            .query(query)
            .raw_body(Bytes::from(body), HeaderValue::from_static(JSON_CONTENT_TYPE))
            .repeat(repeat)
            .options(self.options);
        if returning {
            request = request.header(PREFER, &returning_prefer(self.prefer.as_deref()))?;
        }
        Ok((self.set, request, known_id))
    }

    /// Sends the create and returns the new record's id (from `OData-EntityId`).
    ///
    /// # Errors
    /// As any request; [`Error::Decode`] when the answer names no id.
    pub async fn send(self) -> Result<Uuid> {
        let (set, request, known_id) = self.request(false)?;
        let response = set.client.execute(request).await?;
        if let Some(id) = known_id.filter(|_| response.repeated_create) {
            return Ok(id);
        }
        match created_id(&response.headers).or(known_id) {
            Some(id) => Ok(id),
            None => Err(Error::decode("the create's answer has no OData-EntityId with the new id", None)),
        }
    }

    /// Sends the create with `Prefer: return=representation` and returns the created record.
    ///
    /// # Errors
    /// As any request; [`Error::Decode`] when the record cannot be read as `T`.
    pub async fn send_returning<T: DeserializeOwned>(self) -> Result<T> {
        let (set, request, known_id) = self.request(true)?;
        let query = match &request.target {
            Target::Relative { query, .. } => query.clone(),
            Target::Absolute(_) => None,
        };
        let options = request.options.clone();
        let response = set.client.execute(request).await?;
        match known_id.filter(|_| response.repeated_create) {
            Some(id) => read_back(&set.client, format!("{}({id})", set.name), query, options).await,
            None => decode_json(&response),
        }
    }
}

/// The query string of a request about one record, which Dataverse lets take only `$select` and `$expand`.
/// Any other option is refused before sending, rather than dropped or left for the server to refuse.
fn single_record_query<E>(query: &Query<E>) -> Result<String> {
    let pairs = query.query_pairs()?;
    if let Some((option, _)) = pairs.iter().find(|(option, _)| !matches!(*option, "$select" | "$expand")) {
        return Err(Error::config(format!(
            "a request about one record takes only $select and $expand, not {option}: query the entity set instead"
        )));
    }
    Ok(query.to_query_string()?)
}

/// The annotations a query asks for, as a preference (paging preferences mean nothing for one record).
fn annotations_preference<E>(query: &Query<E>) -> Option<String> {
    query.preferences().into_iter().find(|preference| preference.starts_with("odata.include-annotations"))
}

/// `Prefer: return=representation`, with the annotations asked for beside it.
fn returning_prefer(annotations: Option<&str>) -> String {
    match annotations {
        Some(annotations) => format!("{RETURN_REPRESENTATION}, {annotations}"),
        None => RETURN_REPRESENTATION.to_owned(),
    }
}

/// The record `body` (a JSON object) with `column` set to `id`, every other value kept byte for byte.
fn with_primary_id(body: &[u8], column: &str, id: Uuid) -> Result<Vec<u8>> {
    let not_an_object = || Error::config("a create with its own id needs a JSON object body");
    let mut record: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_slice(body).map_err(|_| not_an_object())?;
    let id = serde_json::value::to_raw_value(&id.to_string()).map_err(|_| not_an_object())?;
    record.insert(column.to_owned(), id);
    serde_json::to_vec(&record).map_err(|_| not_an_object())
}

impl<E: Entity> CreateRequest<E> {
    /// Gives the record its primary key (`E::PRIMARY_ID`) up front; see [`with_id_column`](Self::with_id_column).
    pub fn with_id(self, id: Uuid) -> Self {
        self.with_id_column(E::PRIMARY_ID, id)
    }
}

/// A retrieve of one record, finished by [`send`](Self::send).
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RetrieveRequest<E, T> {
    set: EntitySet<E>,
    key: RecordKey,
    query: Option<std::result::Result<String, Error>>,
    prefer: Option<String>,
    options: Option<RequestOptions>,
    output: PhantomData<fn() -> T>,
}

impl<E, T: DeserializeOwned> RetrieveRequest<E, T> {
    /// Takes `$select` and `$expand` from a query, and its annotations (`Prefer`).
    pub fn query(mut self, query: &Query<E>) -> Self {
        self.query = Some(single_record_query(query));
        self.prefer = annotations_preference(query);
        self
    }

    /// Request options.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Sends the retrieve.
    ///
    /// # Errors
    /// [`Error::is_not_found`] when there is no such record; otherwise as any request.
    pub async fn send(self) -> Result<T> {
        let (client, request) = self.request()?;
        decode_json(&client.execute(request).await?)
    }

    /// Sends the retrieve only in case the record changed since it had `etag` (from `@odata.etag`), with
    /// `If-None-Match`: `Ok(None)` when the server answers `304 Not Modified`.
    ///
    /// ```no_run
    /// # async fn run(client: dynamics_webapi::Client, id: uuid::Uuid, etag: String) -> dynamics_webapi::Result<()> {
    /// let changed = client.entity_set("accounts").retrieve::<dynamics_webapi::Record>(id).send_if_changed(&etag).await?;
    /// if changed.is_none() {
    ///     println!("still as read");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`send`](Self::send); [`Error::Config`] when `etag` is not valid header text.
    pub async fn send_if_changed(self, etag: &str) -> Result<Option<T>> {
        let (client, request) = self.request()?;
        let response = client.execute(request.header(IF_NONE_MATCH, etag)?).await?;
        if response.status == 304 {
            return Ok(None);
        }
        decode_json(&response).map(Some)
    }

    fn request(self) -> Result<(Client, ApiRequest)> {
        let path = self.set.record_path(&self.key)?;
        let query = self.query.transpose()?;
        let mut request = ApiRequest::new(Method::GET, path).query(query).options(self.options);
        if let Some(prefer) = &self.prefer {
            request = request.header(PREFER, prefer)?;
        }
        Ok((self.set.client, request))
    }
}

/// An update, upsert or create-only write, finished by [`send`](Self::send).
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct WriteRequest<E> {
    set: EntitySet<E>,
    key: RecordKey,
    body: std::result::Result<Vec<u8>, String>,
    precondition: Option<Precondition>,
    etag: Option<String>,
    query: Option<std::result::Result<String, Error>>,
    prefer: Option<String>,
    options: Option<RequestOptions>,
}

impl<E> WriteRequest<E> {
    /// Which columns [`send_returning`](Self::send_returning) returns (`$select`), with the annotations the
    /// query asks for.
    pub fn query(mut self, query: &Query<E>) -> Self {
        self.query = Some(single_record_query(query));
        self.prefer = annotations_preference(query);
        self
    }

    /// Optimistic concurrency: write only if the record still has this ETag (from `@odata.etag`).
    /// A mismatch fails with [`Error::is_concurrency_conflict`]. A create-only write cannot also carry
    /// `If-Match` (the two preconditions contradict each other): `send` refuses it.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        if self.precondition == Some(Precondition::IfNoneMatchAny) {
            self.body = Err("a create-only write (If-None-Match: *) cannot also require If-Match; \
                             use update(..).if_match(..) to change an existing record"
                .to_owned());
            return self;
        }
        self.etag = Some(etag.into());
        self.precondition = Some(Precondition::IfMatchEtag);
        self
    }

    /// Request options.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    fn request(self, returning: bool) -> Result<(EntitySet<E>, ApiRequest)> {
        let path = self.set.record_path(&self.key)?;
        let body = self.body.map_err(Error::config)?;
        let query = if returning { self.query.transpose()? } else { None };
        let mut request = ApiRequest::new(Method::PATCH, path)
            .query(query)
            .raw_body(Bytes::from(body), HeaderValue::from_static(JSON_CONTENT_TYPE))
            .precondition(self.precondition)
            .options(self.options);
        request = match (self.precondition, &self.etag) {
            (Some(Precondition::IfMatchEtag), Some(etag)) => request.header(IF_MATCH, etag)?,
            (Some(Precondition::IfMatchAny), _) => request.header(IF_MATCH, "*")?,
            // Like a create with its own key: if a repeat finds the record, the first attempt created it.
            (Some(Precondition::IfNoneMatchAny), _) => request.header(IF_NONE_MATCH, "*")?.repeat(Repeat::KeyedCreate),
            _ => request,
        };
        if returning {
            request = request.header(PREFER, &returning_prefer(self.prefer.as_deref()))?;
        }
        Ok((self.set, request))
    }

    /// Sends the write. Returns the record's id when Dataverse names it (`OData-EntityId`).
    ///
    /// # Errors
    /// [`Error::is_not_found`] for an update of a missing record, [`Error::is_concurrency_conflict`]
    /// for a stale ETag, [`Error::is_already_exists`] for a create-only write; otherwise as any request.
    pub async fn send(self) -> Result<Option<Uuid>> {
        let (set, request) = self.request(false)?;
        let response = set.client.execute(request).await?;
        Ok(created_id(&response.headers))
    }

    /// Sends the write with `Prefer: return=representation` and returns the record as written.
    ///
    /// # Errors
    /// As [`send`](Self::send); [`Error::Decode`] when the record cannot be read as `T`.
    pub async fn send_returning<T: DeserializeOwned>(self) -> Result<T> {
        let (set, request) = self.request(true)?;
        let (path, query) = match &request.target {
            Target::Relative { path, query } => (path.clone(), query.clone()),
            Target::Absolute(url) => (url.clone(), None),
        };
        let options = request.options.clone();
        let response = set.client.execute(request).await?;
        if response.repeated_create {
            return read_back(&set.client, path, query, options).await;
        }
        decode_json(&response)
    }
}

/// Reads a record back after a repeated create found it: the repeat's answer carries no representation.
async fn read_back<T: DeserializeOwned>(
    client: &Client,
    path: String,
    query: Option<String>,
    options: Option<RequestOptions>,
) -> Result<T> {
    let request = ApiRequest::new(Method::GET, path).query(query).options(options);
    decode_json(&client.execute(request).await?)
}

/// A delete, finished by [`send`](Self::send).
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct DeleteRequest<E> {
    set: EntitySet<E>,
    key: RecordKey,
    etag: Option<String>,
    options: Option<RequestOptions>,
}

impl<E> DeleteRequest<E> {
    /// Deletes only if the record still has this ETag.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }

    /// Request options.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Sends the delete.
    ///
    /// # Errors
    /// [`Error::is_not_found`] when there is no such record; [`Error::is_concurrency_conflict`] for a stale ETag.
    pub async fn send(self) -> Result<()> {
        let path = self.set.record_path(&self.key)?;
        let mut request = ApiRequest::new(Method::DELETE, path).options(self.options);
        if let Some(etag) = &self.etag {
            request = request.header(IF_MATCH, etag)?.precondition(Some(Precondition::IfMatchEtag));
        }
        self.set.client.execute(request).await.map(drop)
    }
}

/// The id of a created or written record: from `OData-EntityId` (Dataverse), or else from `Location`
/// (what other OData servers send with a `201 Created`).
fn created_id(headers: &http::HeaderMap) -> Option<Uuid> {
    ["odata-entityid", "location"]
        .iter()
        .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()).and_then(id_from_entity_url))
}
