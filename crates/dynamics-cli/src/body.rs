//! Reading a JSON body for create, update and upsert from a file or standard input.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::Io;

/// The JSON object in `file`, or on standard input when `file` is `None` or `-`, exactly as written (a decimal
/// keeps every digit; a `serde_json::Value` would round it to an `f64`).
pub(crate) fn read_body(file: Option<&Path>, io: &mut Io) -> Result<Box<serde_json::value::RawValue>> {
    let (bytes, origin) = match file {
        Some(path) if path != Path::new("-") => (
            std::fs::read(path)
                .map_err(|e| Error::io(format!("the body file {} cannot be read", path.display()), e))?,
            path.display().to_string(),
        ),
        _ => (io.read_stdin("the JSON body")?, "standard input".to_owned()),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::input(format!("the body from {origin} is not UTF-8")))?;
    let value: Box<serde_json::value::RawValue> =
        serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(text))
            .map_err(|e| Error::input(format!("the body from {origin} is not JSON: {e}")))?;
    if !value.get().starts_with('{') {
        return Err(Error::input(format!("the body from {origin} is not a JSON object ({{\"column\": value, ...}})")));
    }
    Ok(value)
}
