//! Reading a JSON body for create, update and upsert from a file or standard input.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::Io;

/// The JSON object in `file`, or on standard input when `file` is `None` or `-`.
pub(crate) fn read_body(file: Option<&Path>, io: &mut Io) -> Result<serde_json::Value> {
    let (bytes, origin) = match file {
        Some(path) if path != Path::new("-") => (
            std::fs::read(path)
                .map_err(|e| Error::io(format!("the body file {} cannot be read", path.display()), e))?,
            path.display().to_string(),
        ),
        _ => (io.read_stdin("the JSON body")?, "standard input".to_owned()),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::input(format!("the body from {origin} is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Error::input(format!("the body from {origin} is not a JSON object ({{\"column\": value, ...}})")));
    }
    Ok(value)
}
