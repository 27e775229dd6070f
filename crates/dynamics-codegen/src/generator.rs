//! The [`Generator`]: a document and option sets in, the generated files out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::emit::{self, Options};
use crate::error::{Error, Result, Warning};
use crate::model::CsdlDocument;
use crate::optionset::OptionSets;
use crate::plan;

/// Generates entity modules from a [`CsdlDocument`] and, optionally, [`OptionSets`].
///
/// The output is deterministic: the same inputs give byte-identical files, sorted, without timestamps,
/// laid out as rustfmt would (`max_width = 120`).
///
/// ```
/// use dynamics_codegen::{CsdlDocument, Generator};
///
/// let xml = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
///   <edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm">
///     <EntityType Name="account"><Key><PropertyRef Name="accountid"/></Key>
///       <Property Name="accountid" Type="Edm.Guid"/><Property Name="name" Type="Edm.String"/>
///     </EntityType>
///     <EntityContainer Name="System"><EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/></EntityContainer>
///   </Schema></edmx:DataServices></edmx:Edmx>"#;
/// let document = CsdlDocument::parse(xml.as_bytes(), "metadata.xml")?;
/// let output = Generator::new(&document).entities(["account"]).generate()?;
/// assert!(output.file("account.rs").unwrap().contains("pub struct Account {"));
/// assert!(output.file("mod.rs").unwrap().contains("pub mod account;"));
/// # Ok::<(), dynamics_codegen::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Generator<'a> {
    document: &'a CsdlDocument,
    option_sets: OptionSets,
    entities: Option<Vec<String>>,
    descriptions: bool,
    options: Options,
}

impl<'a> Generator<'a> {
    /// A generator for `document`, with no entities chosen yet and no option sets.
    pub fn new(document: &'a CsdlDocument) -> Self {
        Self {
            document,
            option_sets: OptionSets::new(),
            entities: None,
            descriptions: true,
            options: Options {
                command: "cargo xtask gen-entities".to_owned(),
                source_label: document.source_name().to_owned(),
                features: false,
            },
        }
    }

    /// Choice columns become enums with these option sets; without, they stay integers.
    pub fn option_sets(mut self, option_sets: OptionSets) -> Self {
        self.option_sets = option_sets;
        self
    }

    /// Generates these entities (logical names).
    pub fn entities<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.entities = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Generates every entity type that has an entity set.
    pub fn all_entities(mut self) -> Self {
        self.entities = None;
        self
    }

    /// The command named in each file's `@generated` header (default `cargo xtask gen-entities`).
    pub fn command(mut self, command: impl Into<String>) -> Self {
        self.options.command = command.into();
        self
    }

    /// How the header names the input (default: the document's source name). Use a relative path
    /// so the output does not depend on where the repository is checked out.
    pub fn source_label(mut self, label: impl Into<String>) -> Self {
        self.options.source_label = label.into();
        self
    }

    /// Copies the CSDL's descriptions into doc comments (default); without, docs name the column only.
    pub fn descriptions(mut self, descriptions: bool) -> Self {
        self.descriptions = descriptions;
        self
    }

    /// Puts each entity module behind a cargo feature named after its logical name.
    pub fn features(mut self, features: bool) -> Self {
        self.options.features = features;
        self
    }

    /// Generates the files.
    ///
    /// # Errors
    /// [`Error::UnknownEntity`] when a requested entity is not in the document (with a suggestion),
    /// [`Error::OptionSets`] when an option set is given for a column the CSDL types otherwise.
    pub fn generate(&self) -> Result<Output> {
        let requested: Vec<String> = match &self.entities {
            Some(names) => names.clone(),
            None => self.document.entity_names().map(str::to_owned).collect(),
        };
        let mut plan = plan::plan(self.document, &self.option_sets, &requested)?;
        if !self.descriptions {
            plan.strip_descriptions();
        }
        let files = emit::files(&plan, &self.options);
        let entities = plan.entities.iter().map(|e| e.logical.clone()).collect();
        Ok(Output { files, warnings: plan.warnings, entities })
    }
}

/// The generated files, by path relative to the output folder, and the warnings.
#[derive(Debug, Clone)]
pub struct Output {
    files: BTreeMap<String, String>,
    warnings: Vec<Warning>,
    entities: Vec<String>,
}

impl Output {
    /// The files: (relative path, contents), sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(path, text)| (path.as_str(), text.as_str()))
    }

    /// One file's contents.
    pub fn file(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// What the generator worked around (unknown Edm types, option sets for missing columns).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The generated entities' logical names, sorted.
    pub fn entities(&self) -> &[String] {
        &self.entities
    }

    /// The `[features]` lines for the generated crate's `Cargo.toml`: one per entity, and `all`.
    pub fn cargo_features(&self) -> String {
        let mut text = String::new();
        text.push_str(&format!(
            "all = [{}]\n",
            self.entities.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(", ")
        ));
        for entity in &self.entities {
            text.push_str(&format!("{entity} = []\n"));
        }
        text
    }

    /// Writes the files into `dir` (created if needed) and removes generated `.rs` files there that are no
    /// longer generated. Returns the paths that changed. A file without the `@generated` header is never
    /// overwritten or removed.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be written; [`Error::Config`] when a file to replace was not generated.
    pub fn write_to(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let changed = self.check(dir)?;
        for path in &changed {
            if path.exists() && !is_generated(path)? {
                return Err(Error::config(
                    path,
                    "exists and has no `@generated` header: refusing to overwrite hand-written code \
                     (generate into a folder of its own)",
                ));
            }
        }
        for path in &changed {
            let relative = path.strip_prefix(dir).unwrap_or(path).to_string_lossy().replace('\\', "/");
            match self.files.get(&relative) {
                Some(text) => std::fs::write(path, text).map_err(|e| Error::io(path, e))?,
                None => std::fs::remove_file(path).map_err(|e| Error::io(path, e))?,
            }
        }
        Ok(changed)
    }

    /// The files in `dir` that differ from the output: changed, missing, or stale generated `.rs` files the
    /// output no longer has. Empty when `dir` is up to date.
    ///
    /// # Errors
    /// [`Error::Io`] when `dir` cannot be listed or a file cannot be read.
    pub fn check(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        let mut differing = Vec::new();
        for (relative, text) in &self.files {
            let path = dir.join(relative);
            match std::fs::read_to_string(&path) {
                Ok(existing) if existing == *text => {}
                Ok(_) => differing.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => differing.push(path),
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        if dir.is_dir() {
            for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
                let path = entry.map_err(|e| Error::io(dir, e))?.path();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.ends_with(".rs") && !self.files.contains_key(&name) && is_generated(&path)? {
                    differing.push(path);
                }
            }
        }
        differing.sort();
        Ok(differing)
    }
}

/// True when the file starts with a `// @generated` line (any generator's).
fn is_generated(path: &Path) -> Result<bool> {
    use std::io::BufRead as _;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut first = String::new();
    std::io::BufReader::new(file).read_line(&mut first).map_err(|e| Error::io(path, e))?;
    Ok(first.starts_with("// @generated"))
}
