//! The crate's [`Error`]: what went wrong reading metadata or generating code, and where.

use std::path::{Path, PathBuf};

/// A failure to read metadata, a configuration or existing output.
///
/// Every variant names the input it came from, so the message tells what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The CSDL document is not well-formed XML, or an element lacks a required attribute.
    #[error("{0}")]
    Csdl(CsdlError),
    /// The CSDL document has no `EntityContainer`, so no entity set names are known.
    #[error(
        "{}: the document has no <EntityContainer>: it is not a complete $metadata document \
         (save the whole answer of GET /api/data/v9.2/$metadata)",
        .0.source_name.display()
    )]
    MissingEntityContainer(InputError),
    /// A requested entity is not an entity type of the document, or has no entity set.
    #[error("{0}")]
    UnknownEntity(UnknownEntityError),
    /// Option-set metadata JSON is not JSON, or not of the metadata API's shape, or contradicts the CSDL.
    #[error("{0}")]
    OptionSets(InputError),
    /// The generator configuration (`gen-entities.toml`) is not valid, or an input's checksum changed.
    #[error("{0}")]
    Config(InputError),
    /// A file could not be read or written.
    #[error(transparent)]
    Io(IoError),
}

impl Error {
    pub(crate) fn csdl(source_name: &Path, line: usize, element: &str, message: impl Into<String>) -> Self {
        Self::Csdl(CsdlError {
            source_name: source_name.to_path_buf(),
            line,
            element: element.to_owned(),
            message: message.into(),
        })
    }

    pub(crate) fn missing_entity_container(source_name: &Path) -> Self {
        Self::MissingEntityContainer(InputError {
            source_name: source_name.to_path_buf(),
            message: "the document has no <EntityContainer>".to_owned(),
        })
    }

    pub(crate) fn unknown_entity(name: &str, reason: impl Into<String>, suggestion: Option<String>) -> Self {
        Self::UnknownEntity(UnknownEntityError { name: name.to_owned(), reason: reason.into(), suggestion })
    }

    pub(crate) fn option_sets(source_name: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::OptionSets(InputError { source_name: source_name.into(), message: message.into() })
    }

    pub(crate) fn config(source_name: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Config(InputError { source_name: source_name.into(), message: message.into() })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io(IoError { path: path.into(), source })
    }

    /// The input the error is about (the document, JSON file, configuration or file), when there is one.
    pub fn source_name(&self) -> Option<&Path> {
        match self {
            Self::Csdl(e) => Some(&e.source_name),
            Self::MissingEntityContainer(e) | Self::OptionSets(e) | Self::Config(e) => Some(&e.source_name),
            Self::Io(e) => Some(&e.path),
            Self::UnknownEntity(_) => None,
        }
    }
}

/// Where a CSDL document is malformed: file, line and element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: in <{element}>: {message}", source_name.display())]
pub struct CsdlError {
    source_name: PathBuf,
    line: usize,
    element: String,
    message: String,
}

impl CsdlError {
    /// The document (a path, or a name such as `$metadata`).
    pub fn source_name(&self) -> &Path {
        &self.source_name
    }

    /// The 1-based line of the problem.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The element being read (`EntityType`, `Property`, ...), or `document`.
    pub fn element(&self) -> &str {
        &self.element
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// What was wrong with an input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", source_name.display())]
pub struct InputError {
    source_name: PathBuf,
    message: String,
}

impl InputError {
    /// The input.
    pub fn source_name(&self) -> &Path {
        &self.source_name
    }

    /// What was wrong, with the JSON path or checksum where it helps.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A requested entity the document cannot give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entity `{name}` {reason}{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct UnknownEntityError {
    name: String,
    reason: String,
    suggestion: Option<String>,
}

impl UnknownEntityError {
    /// The requested logical name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A close logical name from the document.
    pub fn suggestion(&self) -> Option<&str> {
        self.suggestion.as_deref()
    }
}

/// A file that could not be read or written; the cause is its `source()`.
#[derive(Debug, thiserror::Error)]
#[error("cannot read or write {}", path.display())]
pub struct IoError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl IoError {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Something the generator worked around and the user should know about, such as an unknown Edm type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub(crate) message: String,
}

impl Warning {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// The warning's text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
