//! Generator cases: each `fixtures/csdl/<case>/case.toml` names an input and the expected output beside it
//! in `expected/`. `BLESS=1 cargo test -p dynamics-codegen --test cases` rewrites the expected output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::path::{Path, PathBuf};

use dynamics_codegen::{CsdlDocument, Generator, OptionSets};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    csdl: PathBuf,
    #[serde(default)]
    optionsets: Option<PathBuf>,
    #[serde(default)]
    entities: Option<Vec<String>>,
    #[serde(default = "yes")]
    descriptions: bool,
    #[serde(default)]
    features: bool,
}

fn yes() -> bool {
    true
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The input's path relative to the workspace root, worked out from the names alone (never by resolving links),
/// so the header is the same wherever the checkout and `../shared` are and however they are mounted.
fn label(path: &Path) -> String {
    let relative = path.strip_prefix(root()).unwrap_or(path);
    let mut parts: Vec<String> = Vec::new();
    for component in relative.components() {
        match component {
            std::path::Component::ParentDir if parts.last().is_some_and(|last| last != "..") => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

fn run_case(dir: &Path) -> Vec<String> {
    let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
    let csdl = dir.join(&case.csdl);
    assert!(csdl.is_file(), "{}: the input {} is missing", dir.display(), csdl.display());
    let bytes = std::fs::read(&csdl).unwrap();
    let document = CsdlDocument::parse(&bytes, label(&csdl)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let option_sets = case.optionsets.as_ref().map(|p| OptionSets::read(dir.join(p)).unwrap()).unwrap_or_default();
    let mut generator = Generator::new(&document)
        .option_sets(option_sets)
        .command("BLESS=1 cargo test -p dynamics-codegen --test cases")
        .source_label(label(&csdl))
        .descriptions(case.descriptions)
        .features(case.features);
    if let Some(entities) = &case.entities {
        generator = generator.entities(entities.clone());
    }
    let output = generator.generate().unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let warnings: String = output.warnings().iter().map(|w| format!("{w}\n")).collect();
    let expected = dir.join("expected");
    let mut differing = Vec::new();
    if std::env::var_os("BLESS").is_some() {
        output.write_to(&expected).unwrap();
        std::fs::write(expected.join("warnings.txt"), &warnings).unwrap();
        return differing;
    }
    for path in output.check(&expected).unwrap() {
        differing.push(path.display().to_string());
    }
    if std::fs::read_to_string(expected.join("warnings.txt")).ok().as_deref() != Some(warnings.as_str()) {
        differing.push(expected.join("warnings.txt").display().to_string());
    }
    differing
}

#[test]
fn every_case_generates_its_expected_output() {
    let cases = root().join("fixtures/csdl");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.toml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "expected the generator cases in {}", cases.display());
    let differing: Vec<String> = dirs.iter().flat_map(|dir| run_case(dir)).collect();
    assert!(
        differing.is_empty(),
        "generator output differs from the expected files:\n{}\nif the change is intended, run \
         `BLESS=1 cargo test -p dynamics-codegen --test cases` and review the diff",
        differing.join("\n")
    );
}
