//! The command line's error type: one line to print, and the hint that says what to do.

use std::fmt::Write as _;

/// The exit code of a failed command (a `doctor` step that fails exits with its own code, 10 and up).
pub const EXIT_FAILURE: u8 = 1;
/// The exit code of a command line that cannot be parsed.
pub const EXIT_USAGE: u8 = 2;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a command failed. No variant holds a secret or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line or the configuration cannot work; nothing was sent.
    #[error("{what}")]
    Usage {
        /// What was wrong.
        what: String,
        /// What to do instead.
        hint: Option<String>,
    },
    /// Azure AD refused or could not be reached.
    #[error(transparent)]
    Auth(#[from] aad_auth::Error),
    /// The Web API request failed.
    #[error(transparent)]
    Api(#[from] dynamics_webapi::Error),
    /// A file or stream could not be read or written.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Input that is not what the command takes (a body that is not JSON, a bad key).
    #[error("{what}")]
    Input {
        /// What was wrong.
        what: String,
    },
    /// Part of the work failed (the failed records are listed above the error); the rest was done.
    #[error("{what}")]
    Partial {
        /// What failed.
        what: String,
        /// What to do about it.
        hint: String,
    },
}

impl Error {
    pub(crate) fn usage(what: impl Into<String>) -> Self {
        Error::Usage { what: what.into(), hint: None }
    }

    pub(crate) fn usage_with_hint(what: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage { what: what.into(), hint: Some(hint.into()) }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }

    pub(crate) fn input(what: impl Into<String>) -> Self {
        Error::Input { what: what.into() }
    }

    /// What to do about it, when known.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } => hint.clone(),
            Error::Partial { hint, .. } => Some(hint.clone()),
            Error::Auth(error) => error.hint().map(str::to_owned),
            Error::Api(error) => error.hint().map(str::to_owned).or_else(|| api_hint(error)),
            Error::Io { .. } | Error::Input { .. } => None,
        }
    }

    /// True when the reader of standard output went away (`dynamics query ... | head -1`): not a failure,
    /// the output simply ends there.
    pub fn is_broken_pipe(&self) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = source {
            if let Some(io) = error.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return true;
            }
            source = error.source();
        }
        false
    }

    /// The error and its causes on one line.
    pub fn line(&self) -> String {
        let mut line = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !line.contains(&text) {
                let _ = write!(line, ": {text}");
            }
            source = cause.source();
        }
        line
    }
}

/// Hints for Web API errors the library has none for.
fn api_hint(error: &dynamics_webapi::Error) -> Option<String> {
    if error.is_not_found() {
        return Some("check the entity set name (plural, such as accounts) and the id or key".to_owned());
    }
    if error.is_throttled() {
        return Some("service protection limits: wait for Retry-After and send fewer requests at once".to_owned());
    }
    if error.is_concurrency_conflict() {
        return Some("the record changed since it was read: read it again for the current ETag".to_owned());
    }
    if let dynamics_webapi::Error::Transport(_) | dynamics_webapi::Error::Timeout(_) = error {
        return Some("check the org URL (DATAVERSE_URL or --url), the network and any proxy".to_owned());
    }
    None
}
