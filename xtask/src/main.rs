//! Project tasks: `cargo xtask <task>`.
//!
//! - `tidy`: what CI checks besides the tests (format, clippy with `-D warnings`, docs with `-D warnings`).
//! - `bench`: the benchmarks (not part of CI).
//! - `check-realdata`: generate every entity of the real CSDL in `../shared/realdata` and `cargo check` it.
//! - `gen-entities`: generate `crates/dynamics-entities` from CSDL metadata (`--help` for the options).

mod gen_entities;
mod live;
mod realdata;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("tidy") => tidy(),
        Some("bench") => bench(&args[1..]),
        Some("gen-entities") => gen_entities::run(&workspace_root(), &args[1..]),
        Some("check-realdata") => realdata::run(&workspace_root()),
        _ => {
            eprintln!("usage: cargo xtask <tidy | bench [cargo bench args] | gen-entities [--help] | check-realdata>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask's parent folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn tidy() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    gen_entities::run(&workspace_root(), &["--check".to_owned()])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"], &[])?;
    cargo(&["doc", "--workspace", "--no-deps", "--all-features"], &[("RUSTDOCFLAGS", "-D warnings")])
}

fn bench(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args, &[])
}

fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo {} failed ({status})", args.join(" "))) }
}
