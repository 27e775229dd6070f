//! A request to any path below the service root, through the same transport as every other request.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::options::RequestOptions;
use crate::response::decode_json;
use crate::retry::Repeat;
use crate::transport::{ApiRequest, ApiResponse, JSON_CONTENT_TYPE};

impl Client {
    /// A request the typed API does not cover, sent as written to `path_and_query` below the service root
    /// (already percent-encoded, such as `accounts(<id>)/name` or `EntityDefinitions?$select=LogicalName`),
    /// with the client's authentication, pacing, retries and typed errors.
    ///
    /// GET, PUT, PATCH and DELETE are repeated after a lost answer as reads and idempotent writes are;
    /// a POST only after a refusal, unless [`RawRequest::idempotent`] says it is safe.
    ///
    /// ```no_run
    /// # async fn run(client: dynamics_webapi::Client) -> dynamics_webapi::Result<()> {
    /// let answer = client
    ///     .raw(http::Method::GET, "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName")
    ///     .header("Consistency", "Strong")
    ///     .send()
    ///     .await?;
    /// let attributes: serde_json::Value = answer.json()?;
    /// # let _ = attributes;
    /// # Ok(()) }
    /// ```
    pub fn raw(&self, method: Method, path_and_query: impl Into<String>) -> RawRequest {
        RawRequest {
            client: self.clone(),
            method,
            path_and_query: path_and_query.into(),
            headers: Ok(HeaderMap::new()),
            body: None,
            idempotent: false,
            options: None,
        }
    }
}

/// A request built by [`Client::raw`].
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RawRequest {
    client: Client,
    method: Method,
    path_and_query: String,
    headers: Result<HeaderMap>,
    body: Option<Result<(Bytes, HeaderValue)>>,
    idempotent: bool,
    options: Option<RequestOptions>,
}

impl RawRequest {
    /// Adds a header (it replaces the client's own header of that name, such as `Accept`).
    /// A name or value that is not valid header text is reported by [`send`](Self::send).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers = self.headers.and_then(|mut headers| {
            let name = HeaderName::try_from(name)
                .map_err(|_| Error::config(format!("`{name}` is not a valid header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::config(format!("the value of the {name} header is not valid header text")))?;
            headers.insert(name, value);
            Ok(headers)
        });
        self
    }

    /// A JSON body, serialised once.
    pub fn json(mut self, body: &impl Serialize) -> Self {
        let bytes = serde_json::to_vec(body)
            .map(|bytes| (Bytes::from(bytes), HeaderValue::from_static(JSON_CONTENT_TYPE)))
            .map_err(|e| Error::config(format!("the request body cannot be serialised as JSON: {e}")));
        self.body = Some(bytes);
        self
    }

    /// A body of any content type.
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &str) -> Self {
        let content_type = HeaderValue::from_str(content_type)
            .map_err(|_| Error::config(format!("`{content_type}` is not a valid content type")));
        self.body = Some(content_type.map(|content_type| (body.into(), content_type)));
        self
    }

    /// Says that this POST may be sent again after a lost answer (such as an action that only reads).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Request options (impersonation, plug-in bypass, …), over the client's defaults.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Sends the request.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad header, body or a path that leaves the service root (nothing is sent);
    /// otherwise as any request: an error status is an [`Error::Service`].
    pub async fn send(self) -> Result<RawResponse> {
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (self.path_and_query.clone(), None),
        };
        let repeat = if self.method != Method::POST || self.idempotent { Repeat::Safe } else { Repeat::OnlyIfRefused };
        let mut request = ApiRequest::new(self.method, path).query(query).repeat(repeat).options(self.options);
        request.headers = self.headers?;
        if let Some(body) = self.body {
            let (body, content_type) = body?;
            request = request.raw_body(body, content_type);
        }
        let ApiResponse { status, headers, body, .. } = self.client.execute(request).await?;
        Ok(RawResponse { status, headers, body })
    }
}

/// The success answer to a [`RawRequest`] (2xx or 304).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The answer's body.
    pub body: Bytes,
}

impl RawResponse {
    /// The body read as JSON.
    ///
    /// # Errors
    /// [`Error::Decode`] when the body is empty or not `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        decode_json(&ApiResponse {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
            repeated_create: false,
        })
    }

    /// The body as text (`/$value`, `/$count`), with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
