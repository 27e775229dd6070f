//! What a run prints: records (printer, table), progress bars, and the `--verbose` log, all through [`crate::io::Io`].

pub(crate) mod printer;
pub(crate) mod progress;
pub(crate) mod table;
pub(crate) mod verbose;
