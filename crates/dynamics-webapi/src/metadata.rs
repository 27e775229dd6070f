//! Raw metadata reads for code generation: the CSDL `$metadata` document and choice-column metadata.
//!
//! `dynamics-codegen` turns what these return into typed entities; `cargo xtask gen-entities --org URL` calls them.

use http::Method;
use http::header::ACCEPT;
use serde_json::Value;

use crate::client::Client;
use crate::entity_set::check_identifier;
use crate::error::{Error, Result};
use crate::response::decode_json;
use crate::transport::ApiRequest;

/// The attribute metadata types that carry option sets, read one request each.
const CHOICE_KINDS: [(&str, &str); 4] = [
    ("PicklistAttributeMetadata", "Picklist"),
    ("StateAttributeMetadata", "State"),
    ("StatusAttributeMetadata", "Status"),
    ("MultiSelectPicklistAttributeMetadata", "MultiSelectPicklist"),
];

impl Client {
    /// The org's CSDL document (`GET $metadata`), as XML text: several MB for a real org.
    ///
    /// ```no_run
    /// # async fn run(client: dynamics_webapi::Client) -> dynamics_webapi::Result<()> {
    /// let csdl = client.metadata_document().await?;
    /// std::fs::write("metadata.xml", csdl).expect("writable");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As any request; [`Error::Decode`] when the answer is not UTF-8 text.
    pub async fn metadata_document(&self) -> Result<String> {
        let request = ApiRequest::new(Method::GET, "$metadata").header(ACCEPT, "application/xml")?;
        let response = self.execute(request).await?;
        String::from_utf8(response.body.to_vec())
            .map_err(|_| Error::decode("the $metadata answer is not UTF-8 text", None))
    }

    /// The choice columns of one table with their options, as one JSON document of the shape of a
    /// `RetrieveMetadataChanges` answer (`{"EntityMetadata": [{"LogicalName": ..., "Attributes": [...]}]}`).
    ///
    /// It reads `EntityDefinitions(LogicalName='<entity>')/Attributes/Microsoft.Dynamics.CRM.<kind>` with
    /// `$select=LogicalName&$expand=OptionSet,GlobalOptionSet` for the picklist, state, status and
    /// multi-select picklist kinds, and marks each attribute with its `AttributeType`.
    ///
    /// ```no_run
    /// # async fn run(client: dynamics_webapi::Client) -> dynamics_webapi::Result<()> {
    /// let json = client.option_set_metadata("account").await?;
    /// assert!(json["EntityMetadata"][0]["Attributes"].is_array());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] when `entity` is not a logical name; as any request otherwise;
    /// [`Error::Decode`] when an answer is not a collection.
    pub async fn option_set_metadata(&self, entity: &str) -> Result<Value> {
        check_identifier(entity)?;
        let mut attributes = Vec::new();
        for (kind, attribute_type) in CHOICE_KINDS {
            let path = format!("EntityDefinitions(LogicalName='{entity}')/Attributes/Microsoft.Dynamics.CRM.{kind}");
            let request = ApiRequest::new(Method::GET, path)
                .query(Some("$select=LogicalName&$expand=OptionSet,GlobalOptionSet".to_owned()));
            let answer: Value = decode_json(&self.execute(request).await?)?;
            let Some(items) = answer.get("value").and_then(Value::as_array) else {
                return Err(Error::decode(format!("the {kind} metadata of `{entity}` is not a collection"), None));
            };
            for item in items {
                let mut item = item.clone();
                if let Some(object) = item.as_object_mut() {
                    object.entry("AttributeType").or_insert_with(|| Value::String(attribute_type.to_owned()));
                }
                attributes.push(item);
            }
        }
        Ok(serde_json::json!({
            "EntityMetadata": [{ "LogicalName": entity, "Attributes": attributes }]
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use aad_auth::test_util::{ManualClock, StaticTokenProvider};

    use crate::Client;

    fn client(uri: &str) -> Client {
        let clock = ManualClock::starting_now();
        let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(clock.clone())));
        Client::builder(uri, tokens).clock(Arc::new(clock)).build().unwrap()
    }

    #[test]
    fn a_bad_entity_name_is_refused_before_sending() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let error = runtime.block_on(client("http://127.0.0.1:9").option_set_metadata("account')/x")).unwrap_err();
        assert!(error.to_string().contains("is not a valid name"), "{error}");
    }
}
