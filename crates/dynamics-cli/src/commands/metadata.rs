//! `dynamics metadata --out FILE`: save the org's `$metadata` (CSDL), read through the client
//! ([`Client::metadata_document`](dynamics_webapi::Client::metadata_document): retries, `--verbose` logs).
//!
//! The output's folder is created (and checked) before the download, so a fresh checkout's
//! `--out metadata/contoso.xml` works and a folder that cannot be made fails before a long read;
//! the file is written beside itself and renamed, so a reader never sees half a document.

use std::path::Path;

use crate::args::Destination;
use crate::atomic_file::{ensure_parent, write_atomically};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::settings::connection::Connection;

pub(crate) async fn run(connection: &Connection, out: &Destination, io: &mut Io) -> Result<()> {
    let Some(path) = out.file() else {
        let csdl = connection.client.metadata_document().await?;
        io.stdout()
            .write_all(csdl.as_bytes())
            .and_then(|()| io.stdout().flush())
            .map_err(|e| Error::io("writing the CSDL to standard output", e))?;
        io.eprintln(format!("wrote {} bytes of CSDL to standard output", csdl.len()));
        return Ok(());
    };
    prepare(path)?;
    let csdl = connection.client.metadata_document().await?;
    write_atomically(path, csdl.as_bytes())
        .map_err(|e| Error::io(format!("{} cannot be written", path.display()), e))?;
    io.eprintln(format!("wrote {} bytes of CSDL to {}", csdl.len(), path.display()));
    Ok(())
}

/// Creates the output's folder and checks a file can be made in it, before anything is downloaded.
fn prepare(path: &Path) -> Result<()> {
    let folder =
        ensure_parent(path).map_err(|e| Error::io(format!("the folder of {} cannot be created", path.display()), e))?;
    if path.is_dir() {
        return Err(Error::usage(format!(
            "{} is a folder; give a file name, such as {}/metadata.xml",
            path.display(),
            path.display()
        )));
    }
    let probe = tempfile_in(&folder);
    std::fs::File::create(&probe)
        .and_then(|file| {
            drop(file);
            std::fs::remove_file(&probe)
        })
        .map_err(|e| Error::io(format!("{} cannot be written", folder.display()), e))
}

fn tempfile_in(folder: &Path) -> std::path::PathBuf {
    folder.join(format!(".dynamics-metadata-{}.tmp", uuid::Uuid::new_v4()))
}
