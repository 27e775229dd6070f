//! `cargo xtask check-realdata`: generate every entity of the real CSDL in `../shared/realdata/`
//! into a scratch crate under the target directory and type-check it with `cargo check`.
//!
//! CI runs it as its own step after the tests, so the check shares the target directory without
//! fighting `cargo test` for its lock.

use std::path::{Path, PathBuf};
use std::time::Instant;

const CSDL: &str = "../shared/realdata/csdl/crm-online-8.1.xml";
const OPTION_SETS: &str = "../shared/realdata/optionsets";

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// The scratch crate's manifest: its own workspace, with the main workspace's dev profile so the
/// dependencies already built for the tests are reused.
fn manifest(root: &Path) -> String {
    let webapi = root.join("crates/dynamics-webapi");
    format!(
        r#"[package]
name = "realdata-entities"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
dynamics-webapi = {{ path = {webapi:?} }}
rust_decimal = {{ version = "1", default-features = false, features = ["std", "serde"] }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = {{ version = "1", features = ["raw_value"] }}
time = {{ version = "0.3", features = ["formatting", "parsing", "macros", "serde"] }}
uuid = {{ version = "1", features = ["v4", "serde"] }}

[workspace]

[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
debug = false
"#
    )
}

pub(crate) fn run(root: &Path) -> Result<(), String> {
    let csdl = root.join(CSDL);
    if !csdl.is_file() {
        return Err(format!(
            "the real CSDL is missing at {}: this check reads ../shared/realdata in place",
            csdl.display()
        ));
    }
    let target = target_dir(root);
    let scratch = target.join("realdata-entities");
    let generated = scratch.join("src/generated");
    let started = Instant::now();
    let args: Vec<String> = [
        "--metadata",
        &csdl.display().to_string(),
        "--optionsets",
        &root.join(OPTION_SETS).display().to_string(),
        "--all",
        "--no-features",
        "--out",
        &generated.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    crate::gen_entities::run(root, &args)?;
    let write = |path: PathBuf, text: &str| std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()));
    write(scratch.join("Cargo.toml"), &manifest(root))?;
    write(
        scratch.join("src/lib.rs"),
        "//! Every entity of the real CSDL, generated to be type-checked.\n#![allow(missing_docs)]\n\npub mod generated;\n",
    )?;
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    write(scratch.join("Cargo.lock"), &lock)?;
    eprintln!("check-realdata: generated into {} in {:.1?}", scratch.display(), started.elapsed());
    let manifest_path = scratch.join("Cargo.toml").display().to_string();
    let target_path = target.display().to_string();
    crate::cargo(&["check", "--manifest-path", &manifest_path, "--target-dir", &target_path, "--lib"], &[])?;
    eprintln!("check-realdata: generated and type-checked every entity in {:.1?}", started.elapsed());
    Ok(())
}
