#![doc = include_str!("../README.md")]

mod args;
mod atomic_file;
mod body;
mod claims;
mod commands;
mod error;
mod io;
mod key;
mod output;
mod read_options;
mod settings;
mod table_names;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser as _;
use tracing::instrument::WithSubscriber as _;

pub use error::{EXIT_FAILURE, EXIT_USAGE, Error, Result};
pub use io::{Captured, Io};
pub use settings::env::{DATAVERSE_URL, DYNAMICS_CONFIG, DYNAMICS_PROFILE, DYNAMICS_TOKEN_ENDPOINT, Env};

/// Runs the `dynamics` command line: `args` starts with the program name, `env` is the environment to read,
/// `io` the streams to use. Data goes to stdout, everything else to stderr.
///
/// ```no_run
/// use dynamics_cli::{Env, Io};
///
/// # async fn demo() {
/// let (mut io, captured) = Io::captured("");
/// let env = Env::new().with("DATAVERSE_URL", "https://contoso.crm.dynamics.com");
/// let code = dynamics_cli::run(["dynamics", "whoami"], &env, &mut io).await;
/// println!("{code:?} {}", captured.stdout());
/// # }
/// ```
pub async fn run<I, T>(args: I, env: &Env, io: &mut Io) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    ExitCode::from(run_code(args, env, io).await)
}

/// As [`run`], returning the exit code as a number.
pub async fn run_code<I, T>(args: I, env: &Env, io: &mut Io) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let text = error.render().to_string();
            return if error.use_stderr() {
                io.eprintln(text.trim_end());
                EXIT_USAGE
            } else {
                io.println(text.trim_end());
                0
            };
        }
    };
    let outcome = if cli.global.verbose {
        let dispatch = output::verbose::dispatch(io);
        if io.is_process() {
            // The process's own run: set it globally, so that spawned tasks (token refreshes) log too.
            let _ = tracing::dispatcher::set_global_default(dispatch.clone());
        }
        commands::dispatch(cli, env, io).with_subscriber(dispatch).await
    } else {
        commands::dispatch(cli, env, io).await
    };
    match outcome {
        Ok(code) => code,
        // The reader of stdout (`| head -1`) has all it wanted: end quietly, as `cat` and `grep` do.
        Err(error) if error.is_broken_pipe() => 0,
        Err(error) => {
            report(&error, io);
            EXIT_FAILURE
        }
    }
}

/// Prints an error as one line, then its hint.
pub(crate) fn report(error: &Error, io: &mut Io) {
    let line = error.line();
    io.eprintln(format!("error: {line}"));
    if let Some(hint) = error.hint().filter(|hint| !line.contains(hint.as_str())) {
        io.eprintln(format!("hint: {hint}"));
    }
}
