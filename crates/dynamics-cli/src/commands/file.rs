//! `dynamics file upload|download|delete`: the file in a file or image column of one record, through
//! [`Client::file_column`](dynamics_webapi::Client::file_column).
//!
//! An upload streams from the file in the chunks the server asks for; a download streams range by range, to
//! `<out>.partial`, renamed to `<out>` only when complete (so an interrupted download never leaves a truncated file
//! under the final name), or to stdout. Neither holds the whole file in memory.

use std::path::{Path, PathBuf};
use std::pin::pin;

use dynamics_webapi::RecordKey;
use dynamics_webapi::file_column::FileColumn;
use futures_util::TryStreamExt as _;

use crate::args::{FileColumnArgs, FileCommand, FileDownloadArgs, FileUploadArgs};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::key::parse_key;
use crate::read_options::check_entity_set;
use crate::settings::connection::Connection;

pub(crate) async fn run(connection: &Connection, command: FileCommand, io: &mut Io) -> Result<()> {
    match command {
        FileCommand::Upload(args) => upload(connection, args, io).await,
        FileCommand::Download(args) => download(connection, args, io).await,
        FileCommand::Delete(args) => delete(connection, &args, io).await,
    }
}

/// The column the arguments name, and how to print it (`accounts(<key>)/<column>`).
fn column(connection: &Connection, target: &FileColumnArgs) -> Result<(FileColumn, String)> {
    check_entity_set(&target.entity_set)?;
    let key: RecordKey = parse_key(&target.key)?;
    let shown = format!("{}{}/{}", target.entity_set, key, target.column);
    Ok((connection.client.file_column(&target.entity_set, key, &target.column), shown))
}

async fn upload(connection: &Connection, args: FileUploadArgs, io: &mut Io) -> Result<()> {
    let (column, shown) = column(connection, &args.target)?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args.file.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    if name.trim().is_empty() {
        return Err(Error::usage_with_hint(
            format!("{} has no file name to give the column", args.file.display()),
            "name the file with --name NAME",
        ));
    }
    let cannot_read = |e| Error::io(format!("{} cannot be read", args.file.display()), e);
    let file = tokio::fs::File::open(&args.file).await.map_err(cannot_read)?;
    let metadata = file.metadata().await.map_err(cannot_read)?;
    if !metadata.is_file() {
        return Err(Error::usage(format!("{} is not a file", args.file.display())));
    }
    let size = metadata.len();
    let mut request = column.upload(&name, size, file);
    if let Some(chunk) = args.chunk_size {
        request = request.max_chunk_size(chunk);
    }
    request.send().await?;
    io.eprintln(format!("uploaded {} ({size} bytes) to {shown} as {name}", args.file.display()));
    Ok(())
}

async fn download(connection: &Connection, args: FileDownloadArgs, io: &mut Io) -> Result<()> {
    let (column, shown) = column(connection, &args.target)?;
    let mut request = column.download();
    if let Some(chunk) = args.chunk_size {
        request = request.chunk_size(chunk);
    }
    if args.full_size {
        request = request.full_size_image();
    }
    let Some(out) = args.out.file() else {
        let mut chunks = pin!(request.chunks());
        let mut written: u64 = 0;
        while let Some(chunk) = chunks.try_next().await? {
            io.stdout().write_all(&chunk).map_err(|e| Error::io("writing the file to standard output", e))?;
            written += chunk.len() as u64;
        }
        io.stdout().flush().map_err(|e| Error::io("writing the file to standard output", e))?;
        io.eprintln(format!("downloaded {shown} ({written} bytes) to standard output"));
        return Ok(());
    };
    let partial = partial_path(out);
    let cannot_write = |e| Error::io(format!("{} cannot be written", partial.display()), e);
    let mut file = tokio::fs::File::create(&partial).await.map_err(cannot_write)?;
    let info = match request.to_writer(&mut file).await {
        Ok(info) => info,
        Err(error) => {
            drop(file);
            // Nothing usable was received; a later run starts from scratch anyway.
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error.into());
        }
    };
    file.sync_all().await.map_err(cannot_write)?;
    drop(file);
    tokio::fs::rename(&partial, out)
        .await
        .map_err(|e| Error::io(format!("{} cannot be renamed to {}", partial.display(), out.display()), e))?;
    let name = info.name().map(|name| format!(" ({name})")).unwrap_or_default();
    io.eprintln(format!("downloaded {shown}{name}: {} bytes to {}", info.size(), out.display()));
    Ok(())
}

async fn delete(connection: &Connection, args: &FileColumnArgs, io: &mut Io) -> Result<()> {
    let (column, shown) = column(connection, args)?;
    column.delete().await?;
    io.eprintln(format!("deleted the file in {shown}"));
    Ok(())
}

/// `<out>.partial`: where a download goes until it is complete.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_file_sits_beside_the_output() {
        assert_eq!(partial_path(Path::new("dir/report.pdf")), PathBuf::from("dir/report.pdf.partial"));
        assert_eq!(partial_path(Path::new("noext")), PathBuf::from("noext.partial"));
    }
}
