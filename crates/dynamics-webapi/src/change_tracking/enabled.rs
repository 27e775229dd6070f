//! Asking a table's definition whether change tracking is on, before a sync needs it.

use http::Method;
use serde::Deserialize;

use crate::client::Client;
use crate::entity_set::check_identifier;
use crate::error::Result;
use crate::key::RecordKey;
use crate::response::decode_json;
use crate::transport::ApiRequest;

#[derive(Deserialize)]
struct Definition {
    #[serde(rename = "ChangeTrackingEnabled")]
    enabled: bool,
}

impl Client {
    /// Whether the table with this logical name (such as `account`) has change tracking (**Track changes**) on:
    /// `GET EntityDefinitions(LogicalName='account')?$select=ChangeTrackingEnabled`.
    ///
    /// ```no_run
    /// # async fn run(client: dynamics_webapi::Client) -> dynamics_webapi::Result<()> {
    /// if !client.is_change_tracking_enabled("account").await? {
    ///     eprintln!("turn on Track changes for the account table first");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for a name that is not a logical name;
    /// [`Error::is_not_found`](crate::Error::is_not_found) when there is no such table; otherwise as any request.
    pub async fn is_change_tracking_enabled(&self, logical_name: &str) -> Result<bool> {
        check_identifier(logical_name)?;
        let path = format!("EntityDefinitions{}", RecordKey::alternate([("LogicalName", logical_name)]).to_path()?);
        let request = ApiRequest::new(Method::GET, path).query(Some("$select=ChangeTrackingEnabled".to_owned()));
        let definition: Definition = decode_json(&self.execute(request).await?)?;
        Ok(definition.enabled)
    }
}
