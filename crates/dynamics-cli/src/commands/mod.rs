//! One module per subcommand; [`dispatch`] picks one.

#[cfg(feature = "demo")]
mod demo;
mod discover;
mod doctor;
mod export;
mod fetchxml;
mod file;
mod import;
mod metadata;
mod query;
mod record;
mod sync;
mod token;
mod whoami;

use crate::args::{Cli, Command};
use crate::error::Result;
use crate::io::Io;
use crate::settings::config::Settings;
use crate::settings::connection::Connection;
use crate::settings::env::Env;

pub(crate) use query::print_read;

/// Runs the parsed command; `Ok` holds the exit code (a `doctor` with failed steps exits non-zero).
pub(crate) async fn dispatch(cli: Cli, env: &Env, io: &mut Io) -> Result<u8> {
    if let Command::Demo(args) = &cli.command {
        #[cfg(feature = "demo")]
        return demo::run(args, &cli.global, env, io).await;
        #[cfg(not(feature = "demo"))]
        return Err(crate::error::Error::usage_with_hint(
            format!("this build has no demo (asked for {} records)", args.records),
            "build with the default `demo` feature: cargo run -p dynamics-cli -- demo",
        ));
    }
    match &cli.command {
        Command::Completions { shell } => return discover::completions(*shell, io).map(|()| 0),
        Command::Man => return discover::man(io).map(|()| 0),
        _ => {}
    }
    let settings = Settings::resolve(&cli.global, env, io)?;
    if let Command::Doctor { format } = &cli.command {
        return doctor::run(&settings, *format, io).await;
    }
    let connection = Connection::open(&settings)?;
    run_with(cli.command, &connection, io).await.map(|()| 0)
}

/// Runs a command that needs a connection (the demo runs them against its emulator too).
pub(crate) async fn run_with(command: Command, connection: &Connection, io: &mut Io) -> Result<()> {
    match command {
        Command::Token { raw } => token::run(connection, raw, io).await,
        Command::Whoami { format } => whoami::run(connection, format, io).await,
        Command::Query(args) => query::run(connection, args, io).await,
        Command::Get(args) => record::get(connection, args, io).await,
        Command::Create(args) => record::create(connection, args, io).await,
        Command::Update(args) => record::update(connection, args, false, io).await,
        Command::Upsert(args) => record::update(connection, args, true, io).await,
        Command::Delete(args) => record::delete(connection, args, io).await,
        Command::Fetchxml(args) => fetchxml::run(connection, args, io).await,
        Command::Metadata { out } => metadata::run(connection, &out, io).await,
        Command::Export(args) => export::run(connection, args, io).await,
        Command::Sync(args) => sync::run(connection, args, io).await,
        Command::Import(args) => import::run(connection, args, io).await,
        Command::File(command) => file::run(connection, command, io).await,
        // Handled by `dispatch` before a connection is opened.
        Command::Doctor { .. } | Command::Demo(_) | Command::Completions { .. } | Command::Man => Ok(()),
    }
}
