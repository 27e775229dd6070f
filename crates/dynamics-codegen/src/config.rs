//! `gen-entities.toml`: which CSDL (pinned by checksum) and option sets to read, and which entities to emit.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The generator configuration kept beside the generated crate.
///
/// ```toml
/// # Paths are relative to this file.
/// csdl = "../../fixtures/csdl/dataverse/metadata.xml"
/// csdl_sha256 = "<sha256 of the file>"
/// optionsets = "../../fixtures/csdl/dataverse/optionsets.json"
/// optionsets_sha256 = "<sha256 of the file>"
/// out = "src/generated"
/// entities = ["account", "contact"]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenConfig {
    /// The CSDL document, relative to the configuration file.
    pub csdl: PathBuf,
    /// Its SHA-256, in lower-case hex: a changed input is noticed, not silently regenerated from.
    pub csdl_sha256: String,
    /// The option-set JSON file, relative to the configuration file.
    #[serde(default)]
    pub optionsets: Option<PathBuf>,
    /// The option-set file's SHA-256.
    #[serde(default)]
    pub optionsets_sha256: Option<String>,
    /// The output folder, relative to the configuration file.
    pub out: PathBuf,
    /// The logical names of the entities to generate.
    pub entities: Vec<String>,
    #[serde(skip)]
    dir: PathBuf,
}

impl GenConfig {
    /// Reads a configuration file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::Config`] when it is not valid.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut config: GenConfig = toml::from_str(&text).map_err(|e| Error::config(path, e.to_string()))?;
        config.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    /// A path of the configuration made absolute (relative to the configuration file's folder).
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        self.dir.join(relative)
    }

    /// Checks that `bytes` (the CSDL's) have the pinned checksum.
    ///
    /// # Errors
    /// [`Error::Config`] naming both checksums, when they differ.
    pub fn verify_csdl(&self, bytes: &[u8]) -> Result<()> {
        verify(&self.csdl, &self.csdl_sha256, bytes)
    }

    /// Checks the option sets' checksum, when one is pinned.
    ///
    /// # Errors
    /// [`Error::Config`] naming both checksums, when they differ.
    pub fn verify_optionsets(&self, bytes: &[u8]) -> Result<()> {
        match (&self.optionsets, &self.optionsets_sha256) {
            (Some(path), Some(expected)) => verify(path, expected, bytes),
            _ => Ok(()),
        }
    }
}

fn verify(path: &Path, expected: &str, bytes: &[u8]) -> Result<()> {
    let actual = sha256_hex(bytes);
    if actual.eq_ignore_ascii_case(expected.trim()) {
        Ok(())
    } else {
        Err(Error::config(
            path,
            format!(
                "the input changed: its SHA-256 is {actual}, gen-entities.toml pins {expected}; \
                 if the change is intended, update the checksum and regenerate"
            ),
        ))
    }
}

/// SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
