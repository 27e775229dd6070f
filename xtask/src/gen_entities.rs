//! `cargo xtask gen-entities`: a thin command over `dynamics-codegen`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dynamics_codegen::{CsdlDocument, GenConfig, Generator, OptionSets, Output};

/// The generated crate's configuration, relative to the workspace root.
pub(crate) const CONFIG: &str = "crates/dynamics-entities/gen-entities.toml";
/// The generated crate's manifest, whose `[features]` the command keeps in step.
const MANIFEST: &str = "crates/dynamics-entities/Cargo.toml";
const FEATURES_BEGIN: &str = "# @generated features: begin (cargo xtask gen-entities)\n";
const FEATURES_END: &str = "# @generated features: end\n";

pub(crate) const USAGE: &str = "\
usage: cargo xtask gen-entities [--metadata PATH | --org URL] [--optionsets PATH]
                                [--entities a,b,... | --all] [--out DIR] [--features | --no-features] [--check]

  --metadata PATH    a saved CSDL ($metadata) document (default: the one gen-entities.toml pins)
  --org URL          download $metadata (and, without --optionsets, the option sets) from the org;
                     credentials from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
  --optionsets PATH  saved metadata-API JSON: a file, or a folder of *.json (default: gen-entities.toml's)
  --entities LIST    logical names, comma-separated (default: gen-entities.toml's list)
  --all              every entity type with an entity set
  --out DIR          where to write (default: crates/dynamics-entities/src/generated)
  --features         put each entity behind a cargo feature (default only for the default --out)
  --check            generate in memory; exit non-zero listing the files that differ";

/// An error with its causes, `: `-separated.
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The parsed command line.
#[derive(Default)]
pub(crate) struct Args {
    metadata: Option<PathBuf>,
    org: Option<String>,
    optionsets: Option<PathBuf>,
    entities: Option<Vec<String>>,
    all: bool,
    out: Option<PathBuf>,
    features: Option<bool>,
    check: bool,
    /// Tokens for `--org` other than the environment's (tests).
    tokens: Option<std::sync::Arc<dyn aad_auth::TokenProvider>>,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("metadata", &self.metadata)
            .field("org", &self.org)
            .field("optionsets", &self.optionsets)
            .field("entities", &self.entities)
            .field("all", &self.all)
            .field("out", &self.out)
            .field("features", &self.features)
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl Args {
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        let mut parsed = Args::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = |name: &str| -> Result<String, String> {
                inline.clone().or_else(|| iter.next().cloned()).ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match flag {
                "--metadata" => parsed.metadata = Some(value("--metadata")?.into()),
                "--org" => parsed.org = Some(value("--org")?),
                "--optionsets" => parsed.optionsets = Some(value("--optionsets")?.into()),
                "--entities" => {
                    let list = value("--entities")?;
                    parsed.entities =
                        Some(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect());
                }
                "--all" => parsed.all = true,
                "--out" => parsed.out = Some(value("--out")?.into()),
                "--features" => parsed.features = Some(true),
                "--no-features" => parsed.features = Some(false),
                "--check" => parsed.check = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            }
        }
        if parsed.metadata.is_some() && parsed.org.is_some() {
            return Err(format!("give --metadata or --org, not both\n{USAGE}"));
        }
        if parsed.all && parsed.entities.is_some() {
            return Err(format!("give --entities or --all, not both\n{USAGE}"));
        }
        Ok(parsed)
    }
}

/// What to generate, resolved from the arguments and gen-entities.toml.
pub(crate) struct Job {
    pub(crate) output: Output,
    pub(crate) out: PathBuf,
    /// The manifest whose features follow the output, when generating the workspace's own crate.
    pub(crate) manifest: Option<PathBuf>,
}

fn relative_label(root: &Path, path: &Path) -> String {
    let absolute =
        if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let clean: PathBuf = absolute.components().fold(PathBuf::new(), |mut acc, c| {
        match c {
            std::path::Component::ParentDir => {
                acc.pop();
            }
            std::path::Component::CurDir => {}
            other => acc.push(other),
        }
        acc
    });
    clean.strip_prefix(root).map_or_else(|_| path.display().to_string(), |p| p.display().to_string().replace('\\', "/"))
}

/// Reads the inputs and generates in memory.
pub(crate) fn prepare(root: &Path, args: &Args) -> Result<Job, String> {
    let root = &root.canonicalize().map_err(|e| format!("{}: {e}", root.display()))?;
    let config_path = root.join(CONFIG);
    let config = GenConfig::read(&config_path).map_err(|e| describe(&e))?;
    let started = Instant::now();

    let org = match (&args.org, &args.tokens) {
        (Some(url), Some(tokens)) => Some(crate::live::Org::with_tokens(url, tokens.clone())?),
        (Some(url), None) => Some(crate::live::Org::from_env(url)?),
        (None, _) => None,
    };
    let (bytes, label) = if let Some(org) = &org {
        (org.metadata()?.into_bytes(), org.metadata_label())
    } else if let Some(path) = &args.metadata {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        (bytes, relative_label(root, path))
    } else {
        let path = config.resolve(&config.csdl);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        config.verify_csdl(&bytes).map_err(|e| describe(&e))?;
        (bytes, relative_label(root, &path))
    };
    eprintln!("gen-entities: read {label} ({} KB) in {:.0?}", bytes.len() / 1024, started.elapsed());

    let parse_started = Instant::now();
    let document = CsdlDocument::parse(&bytes, &label).map_err(|e| describe(&e))?;
    eprintln!(
        "gen-entities: parsed {} entity types, {} entity sets in {:.0?}",
        document.entity_type_names().count(),
        document.entity_names().count(),
        parse_started.elapsed()
    );

    let requested: Option<Vec<String>> =
        if args.all { None } else { Some(args.entities.clone().unwrap_or_else(|| config.entities.clone())) };
    let option_sets = if let Some(path) = &args.optionsets {
        OptionSets::read(path).map_err(|e| describe(&e))?
    } else if let Some(org) = &org {
        org.option_sets(&document, requested.as_deref())?
    } else if args.metadata.is_none() {
        match &config.optionsets {
            Some(path) => {
                let path = config.resolve(path);
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                config.verify_optionsets(&bytes).map_err(|e| describe(&e))?;
                OptionSets::read(&path).map_err(|e| describe(&e))?
            }
            None => OptionSets::new(),
        }
    } else {
        OptionSets::new()
    };

    let default_out = config.resolve(&config.out);
    let out = args.out.clone().unwrap_or_else(|| default_out.clone());
    let is_default_out = args.out.is_none();
    let features = args.features.unwrap_or(is_default_out);
    let mut generator = Generator::new(&document).option_sets(option_sets).source_label(&label).features(features);
    generator = match requested {
        None => generator.all_entities(),
        Some(names) => generator.entities(names),
    };
    let generate_started = Instant::now();
    let output = generator.generate().map_err(|e| describe(&e))?;
    for warning in output.warnings() {
        eprintln!("gen-entities: warning: {warning}");
    }
    eprintln!(
        "gen-entities: generated {} entities ({} files, {} KB) in {:.0?}",
        output.entities().len(),
        output.files().count(),
        output.files().map(|(_, text)| text.len()).sum::<usize>() / 1024,
        generate_started.elapsed()
    );
    let manifest = is_default_out.then(|| root.join(MANIFEST));
    Ok(Job { output, out, manifest })
}

/// The manifest text with its features section replaced by the output's.
fn manifest_with_features(manifest: &str, output: &Output) -> Result<String, String> {
    let start =
        manifest.find(FEATURES_BEGIN).ok_or_else(|| format!("{MANIFEST} has no `{}` line", FEATURES_BEGIN.trim()))?;
    let end = manifest.find(FEATURES_END).ok_or_else(|| format!("{MANIFEST} has no `{}` line", FEATURES_END.trim()))?;
    Ok(format!("{}{FEATURES_BEGIN}{}{}", &manifest[..start], output.cargo_features(), &manifest[end..]))
}

/// The paths that differ from what the job would write.
pub(crate) fn differences(job: &Job) -> Result<Vec<PathBuf>, String> {
    let mut differing = job.output.check(&job.out).map_err(|e| describe(&e))?;
    if let Some(manifest) = &job.manifest {
        let text = std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        if manifest_with_features(&text, &job.output)? != text {
            differing.push(manifest.clone());
        }
    }
    Ok(differing)
}

/// Runs the command.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let args = Args::parse(args)?;
    let job = prepare(root, &args)?;
    if args.check {
        let differing = differences(&job)?;
        if differing.is_empty() {
            eprintln!("gen-entities: {} is up to date", job.out.display());
            return Ok(());
        }
        let list: Vec<String> = differing.iter().map(|p| format!("  {}", p.display())).collect();
        return Err(format!(
            "generated code is stale; these files differ:\n{}\nrun `cargo xtask gen-entities` to regenerate",
            list.join("\n")
        ));
    }
    let changed = job.output.write_to(&job.out).map_err(|e| describe(&e))?;
    if let Some(manifest) = &job.manifest {
        let text = std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let updated = manifest_with_features(&text, &job.output)?;
        if updated != text {
            std::fs::write(manifest, updated).map_err(|e| format!("{}: {e}", manifest.display()))?;
            eprintln!("gen-entities: updated the features of {}", manifest.display());
        }
    }
    eprintln!("gen-entities: wrote {} changed files into {}", changed.len(), job.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn generated_entities_are_up_to_date() {
        let job = prepare(&root(), &Args::default()).unwrap();
        let differing = differences(&job).unwrap();
        assert!(
            differing.is_empty(),
            "the generated entities are stale ({differing:?}): run `cargo xtask gen-entities` and commit the result"
        );
    }

    #[test]
    fn arguments_parse_and_conflicts_are_refused() {
        let args: Vec<String> =
            ["--metadata", "a.xml", "--entities=account, contact", "--check"].map(String::from).to_vec();
        let parsed = Args::parse(&args).unwrap();
        assert_eq!(parsed.entities.as_deref(), Some(&["account".to_owned(), "contact".to_owned()][..]));
        assert!(parsed.check);
        let both: Vec<String> = ["--entities", "a", "--all"].map(String::from).to_vec();
        assert!(Args::parse(&both).unwrap_err().contains("not both"));
        assert!(Args::parse(&["--bogus".to_owned()]).unwrap_err().contains("unknown argument `--bogus`"));
        assert!(Args::parse(&["--out".to_owned()]).unwrap_err().contains("--out needs a value"));
    }

    #[test]
    fn org_reads_metadata_and_option_sets_live_and_generates() {
        use std::sync::Arc;
        use std::time::Duration;
        use wiremock::matchers::{method, path, path_regex};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server_runtime = tokio::runtime::Runtime::new().unwrap();
        let csdl = std::fs::read_to_string(root().join("fixtures/csdl/dataverse/metadata.xml")).unwrap();
        let server = server_runtime.block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .and(path("/api/data/v9.2/$metadata"))
                .respond_with(ResponseTemplate::new(200).set_body_raw(csdl.into_bytes(), "application/xml"))
                .expect(1)
                .mount(&server)
                .await;
            let picklist = r#"{"value": [{"LogicalName": "industrycode", "OptionSet": {"Name": "account_industrycode",
                "Options": [{"Value": 1, "Label": {"UserLocalizedLabel": {"Label": "Accounting"}}}]}}]}"#;
            Mock::given(method("GET"))
                .and(path("/api/data/v9.2/EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"))
                .respond_with(ResponseTemplate::new(200).set_body_raw(picklist, "application/json"))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path_regex(r"^/api/data/v9\.2/EntityDefinitions\(LogicalName='[a-z0-9_]+'\)/Attributes/"))
                .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"value": []}"#, "application/json"))
                .with_priority(10)
                .mount(&server)
                .await;
            server
        });
        let clock = aad_auth::test_util::ManualClock::starting_now();
        let tokens = aad_auth::test_util::StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(clock));
        let args = Args {
            org: Some(server.uri()),
            entities: Some(vec!["account".to_owned(), "contact".to_owned()]),
            tokens: Some(Arc::new(tokens)),
            out: Some(std::env::temp_dir().join("xtask-org-live-not-written")),
            ..Args::default()
        };
        let job = prepare(&root(), &args).unwrap();
        assert_eq!(job.output.entities(), ["account", "contact"]);
        assert!(job.output.file("optionsets.rs").unwrap().contains("pub enum AccountIndustrycode {"));
        assert!(job.output.file("account.rs").unwrap().starts_with(&format!(
            "// @generated by `cargo xtask gen-entities` from `{}/api/data/v9.2/$metadata`.",
            server.uri()
        )));
        let requests = server_runtime.block_on(server.received_requests()).unwrap();
        assert_eq!(requests.len(), 1 + 2 * 4, "$metadata, then four choice kinds for each requested entity");
        assert!(requests.iter().all(|r| r.headers["authorization"] == "Bearer token-1"));
    }

    #[test]
    fn check_fails_listing_the_files_then_passes_after_writing() {
        let out = std::env::temp_dir().join(format!("xtask-gen-entities-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let args = |check: bool| {
            let mut args = vec!["--entities".to_owned(), "account,task".to_owned(), "--out".to_owned()];
            args.push(out.display().to_string());
            if check {
                args.push("--check".to_owned());
            }
            args
        };
        let error = run(&root(), &args(true)).unwrap_err();
        assert!(error.starts_with("generated code is stale; these files differ:"), "{error}");
        for file in ["account.rs", "mod.rs", "optionsets.rs", "task.rs"] {
            assert!(error.contains(&out.join(file).display().to_string()), "{file} is listed: {error}");
        }
        assert!(error.ends_with("run `cargo xtask gen-entities` to regenerate"), "{error}");
        run(&root(), &args(false)).unwrap();
        run(&root(), &args(true)).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn an_unknown_entity_is_refused_with_a_suggestion() {
        let args = Args { entities: Some(vec!["acount".to_owned()]), ..Args::default() };
        let error = prepare(&root(), &args).err().unwrap();
        assert!(
            error.contains("entity `acount` is not an entity type") && error.contains("did you mean `account`?"),
            "{error}"
        );
    }
}
