//! `dynamics metadata --out FILE`: save the org's `$metadata` (CSDL), read through the client
//! ([`Client::metadata_document`](dynamics_webapi::Client::metadata_document): retries, `--verbose` logs).

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::Io;
use crate::settings::connection::Connection;

pub(crate) async fn run(connection: &Connection, out: &Path, io: &mut Io) -> Result<()> {
    let csdl = connection.client.metadata_document().await?;
    std::fs::write(out, csdl.as_bytes()).map_err(|e| Error::io(format!("{} cannot be written", out.display()), e))?;
    io.eprintln(format!("wrote {} bytes of CSDL to {}", csdl.len(), out.display()));
    Ok(())
}
