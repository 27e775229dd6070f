//! Functions and actions: `WhoAmI`, and any bound or unbound function or action.

use bytes::Bytes;
use http::{HeaderValue, Method};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::Client;
use crate::entity_set::check_identifier;
use crate::error::{Error, Result};
use crate::key::RecordKey;
use crate::options::RequestOptions;
use crate::query::{Literal, encode_query_value};
use crate::response::decode_json;
use crate::transport::{ApiRequest, JSON_CONTENT_TYPE};

/// The answer of `WhoAmI`: who the client acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WhoAmI {
    /// The caller's business unit.
    #[serde(rename = "BusinessUnitId")]
    pub business_unit_id: Uuid,
    /// The caller's `systemuserid` (for an app, its application user).
    #[serde(rename = "UserId")]
    pub user_id: Uuid,
    /// The organization's id.
    #[serde(rename = "OrganizationId")]
    pub organization_id: Uuid,
}

impl Client {
    /// Calls `WhoAmI`: the simplest check that the token, the application user and its role all work.
    ///
    /// # Errors
    /// As any request; a 401 or 403 whose cause is the org setup carries a [`hint`](Error::hint).
    pub async fn who_am_i(&self) -> Result<WhoAmI> {
        decode_json(&self.execute(ApiRequest::new(Method::GET, "WhoAmI")).await?)
    }

    /// A function call, such as `RetrieveTotalRecordCount` or a bound `Microsoft.Dynamics.CRM.CalculateRollupField`.
    /// Parameters are passed as aliases (`Name(a=@p1)?@p1=…`), so values are quoted and encoded once.
    ///
    /// ```no_run
    /// # async fn run(client: dynamics_webapi::Client) -> dynamics_webapi::Result<()> {
    /// let zone: serde_json::Value = client
    ///     .function("GetTimeZoneCodeByLocalizedName")
    ///     .param("LocalizedStandardName", "Pacific Standard Time")
    ///     .param("LocaleId", 1033)
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn function(&self, name: &str) -> FunctionCall {
        FunctionCall { client: self.clone(), name: name.to_owned(), bound: None, params: Vec::new(), options: None }
    }

    /// An action call (`POST`), such as `WinOpportunity` or a bound `Microsoft.Dynamics.CRM.X`.
    pub fn action(&self, name: &str) -> ActionCall {
        ActionCall { client: self.clone(), name: name.to_owned(), bound: None, body: Ok(None), options: None }
    }
}

/// A function call, finished by [`send`](Self::send).
#[derive(Debug)]
#[must_use = "a call does nothing until it is sent"]
pub struct FunctionCall {
    client: Client,
    name: String,
    bound: Option<(String, RecordKey)>,
    params: Vec<(String, String)>,
    options: Option<RequestOptions>,
}

impl FunctionCall {
    /// Binds the function to a record (`<set>(<key>)/Microsoft.Dynamics.CRM.<name>`).
    pub fn bound_to(mut self, entity_set: &str, key: impl Into<RecordKey>) -> Self {
        self.bound = Some((entity_set.to_owned(), key.into()));
        self
    }

    /// A parameter with a literal value (quoted and encoded per its type).
    pub fn param(mut self, name: &str, value: impl Into<Literal>) -> Self {
        self.params.push((name.to_owned(), value.into().to_string()));
        self
    }

    /// A parameter given as raw OData text, such as an enum `Microsoft.Dynamics.CRM.EntityFilters'Entity'`
    /// or a JSON object for a complex type.
    pub fn param_raw(mut self, name: &str, text: impl Into<String>) -> Self {
        self.params.push((name.to_owned(), text.into()));
        self
    }

    /// Request options.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Calls the function.
    ///
    /// # Errors
    /// As any request; [`Error::Decode`] when the answer is not a `T`.
    pub async fn send<T: DeserializeOwned>(self) -> Result<T> {
        let operation = qualified(&self.name, self.bound.is_some())?;
        let mut aliases = Vec::new();
        let mut query = Vec::new();
        for (index, (name, value)) in self.params.iter().enumerate() {
            check_identifier(name)?;
            aliases.push(format!("{name}=@p{}", index + 1));
            query.push(format!("@p{}={}", index + 1, encode_query_value(value)));
        }
        let call = format!("{operation}({})", aliases.join(","));
        let path = match &self.bound {
            Some((set, key)) => {
                check_identifier(set)?;
                format!("{set}{}/{call}", key.to_path()?)
            }
            None => call,
        };
        let request = ApiRequest::new(Method::GET, path).query(Some(query.join("&"))).options(self.options);
        decode_json(&self.client.execute(request).await?)
    }
}

/// An action call, finished by [`send`](Self::send) or [`send_returning`](Self::send_returning).
#[derive(Debug)]
#[must_use = "a call does nothing until it is sent"]
pub struct ActionCall {
    client: Client,
    name: String,
    bound: Option<(String, RecordKey)>,
    /// The serialised parameters, kept as bytes so that Money and Decimal values go out exactly.
    body: std::result::Result<Option<Vec<u8>>, String>,
    options: Option<RequestOptions>,
}

impl ActionCall {
    /// Binds the action to a record, or to an entity set with `key` `None` (`<set>/Microsoft.Dynamics.CRM.<name>`).
    pub fn bound_to(mut self, entity_set: &str, key: Option<RecordKey>) -> Self {
        self.bound = Some((entity_set.to_owned(), key.unwrap_or(RecordKey::Alternate(Vec::new()))));
        self
    }

    /// The action's parameters, as a JSON object.
    pub fn body(mut self, body: &impl Serialize) -> Self {
        self.body = serde_json::to_vec(body).map(Some).map_err(|e| format!("the parameters cannot be serialised: {e}"));
        self
    }

    /// Request options.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = Some(options);
        self
    }

    fn request(self) -> Result<(Client, ApiRequest)> {
        let operation = qualified(&self.name, self.bound.is_some())?;
        let path = match &self.bound {
            Some((set, RecordKey::Alternate(parts))) if parts.is_empty() => {
                check_identifier(set)?;
                format!("{set}/{operation}")
            }
            Some((set, key)) => {
                check_identifier(set)?;
                format!("{set}{}/{operation}", key.to_path()?)
            }
            None => operation,
        };
        let body = self.body.map_err(Error::config)?.unwrap_or_else(|| b"{}".to_vec());
        let request = ApiRequest::new(Method::POST, path)
            .raw_body(Bytes::from(body), HeaderValue::from_static(JSON_CONTENT_TYPE))
            .options(self.options);
        Ok((self.client, request))
    }

    /// Calls the action, ignoring any answer body.
    ///
    /// # Errors
    /// As any request.
    pub async fn send(self) -> Result<()> {
        let (client, request) = self.request()?;
        client.execute(request).await.map(drop)
    }

    /// Calls the action and reads its answer as `T`.
    ///
    /// # Errors
    /// As any request; [`Error::Decode`] when the answer is not a `T`.
    pub async fn send_returning<T: DeserializeOwned>(self) -> Result<T> {
        let (client, request) = self.request()?;
        decode_json(&client.execute(request).await?)
    }
}

/// Bound operations need the namespace; unbound ones are called by their bare name.
fn qualified(name: &str, bound: bool) -> Result<String> {
    check_identifier(name)?;
    Ok(if bound && !name.contains('.') { format!("Microsoft.Dynamics.CRM.{name}") } else { name.to_owned() })
}
