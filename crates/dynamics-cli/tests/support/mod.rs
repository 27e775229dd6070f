//! Helpers shared by the CLI's integration tests: run the CLI in-process or as the real binary.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use dynamics_cli::{Env, Io};

/// What a run printed, and its exit code.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Fails with everything printed unless the run succeeded.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "the run failed:\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Fails unless the run failed with `code`.
    #[track_caller]
    pub fn failure(self, code: u8) -> Self {
        assert_eq!(self.code, code, "unexpected exit code:\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `dynamics <args>` in-process with `env` and `stdin`.
pub async fn run(args: &[&str], env: &Env, stdin: &str) -> Output {
    let (mut io, captured) = Io::captured(stdin);
    let mut full = vec!["dynamics"];
    full.extend_from_slice(args);
    let code = dynamics_cli::run_code(full, env, &mut io).await;
    Output { code, stdout: captured.stdout(), stderr: captured.stderr() }
}

/// Runs the real `dynamics` binary with only `vars` in its environment (plus PATH).
pub fn run_binary(args: &[&str], vars: &[(String, String)], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynamics"));
    command.args(args).env_clear().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.env("HOME", temp_dir("home"));
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the dynamics binary starts");
    child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes()).expect("stdin is written");
    let output = child.wait_with_output().expect("the dynamics binary finishes");
    Output {
        code: output.status.code().map_or(255, |c| c as u8),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A fresh, empty folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("dynamics-cli")
        .join(format!("{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("the temporary folder is created");
    dir
}

/// An environment from name-value pairs.
pub fn env_of(vars: &[(String, String)]) -> Env {
    vars.iter().cloned().collect()
}

/// Runs the real `dynamics` binary as the first command of a pipe whose reader takes one line and goes away
/// (`dynamics ... | head -1`): the line read, and what the binary then printed to stderr and its exit code.
pub fn run_binary_into_head(args: &[&str], vars: &[(String, String)]) -> (String, Output) {
    use std::io::BufRead as _;
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynamics"));
    command.args(args).env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.env("HOME", temp_dir("home"));
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the dynamics binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut first = String::new();
    std::io::BufReader::new(stdout).read_line(&mut first).expect("a line is read");
    // The reader is dropped here: the pipe closes, as when `head -1` exits.
    let output = child.wait_with_output().expect("the dynamics binary finishes");
    let out = Output {
        code: output.status.code().map_or(255, |c| c as u8),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (first, out)
}
