//! `dynamics completions <shell>` and `dynamics man`: the shell completion script and the man page, both
//! generated from the command line's own definition (so they never drift from `--help`), printed to stdout.
//!
//! They are subcommands rather than an xtask so that an installed binary (`cargo install`, a release archive)
//! can produce them for the shell it runs in, with no checkout.

use clap::CommandFactory as _;

use crate::args::Cli;
use crate::error::{Error, Result};
use crate::io::Io;

/// Prints the completion script for `shell`.
pub(crate) fn completions(shell: clap_complete::Shell, io: &mut Io) -> Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "dynamics", &mut script);
    io.stdout()
        .write_all(&script)
        .and_then(|()| io.stdout().flush())
        .map_err(|e| Error::io("writing the completions", e))
}

/// Prints the man page, in roff.
pub(crate) fn man(io: &mut Io) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page).map_err(|e| Error::io("rendering the man page", e))?;
    io.stdout().write_all(&page).and_then(|()| io.stdout().flush()).map_err(|e| Error::io("writing the man page", e))
}
