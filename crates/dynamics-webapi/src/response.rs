//! Reading answers.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result, describe_json_error};
use crate::transport::ApiResponse;

/// Deserialises a JSON answer.
pub(crate) fn decode_json<T: DeserializeOwned>(response: &ApiResponse) -> Result<T> {
    let request_id = || crate::transport::request_id(&response.headers);
    if response.body.is_empty() {
        return Err(Error::decode(
            format!("the answer ({}) has no body where a JSON document was expected", response.status),
            None,
        )
        .with_request_id(request_id()));
    }
    serde_json::from_slice(without_bom(&response.body))
        .map_err(|e| Error::decode(describe_json_error(&e), Some(std::sync::Arc::new(e))).with_request_id(request_id()))
}

/// The body without a leading UTF-8 byte order mark, which some servers put before JSON.
pub(crate) fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}
