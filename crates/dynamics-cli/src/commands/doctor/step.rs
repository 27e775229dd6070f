//! One line of the doctor's checklist.

use std::fmt;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// It works.
    Pass,
    /// It works, but something is worth changing.
    Warn,
    /// It does not work: the fix says what to do.
    Fail,
    /// Not checked, because a step it needs failed.
    Skip,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        })
    }
}

/// A check's outcome: what was found, and the fix when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) status: Status,
    pub(crate) title: &'static str,
    pub(crate) detail: String,
    pub(crate) fix: Option<String>,
}

/// The exit code of a failed step, by check: `dynamics doctor` exits with the code of the first step that failed,
/// so a CI job can tell which part of the setup is wrong (0: every check passed; 2: the command line).
pub(crate) fn exit_code(title: &str) -> u8 {
    match title {
        "org URL" => 10,
        "tenant id" => 11,
        "client id" => 12,
        "credential" => 13,
        "authority host" => 14,
        "tenant from the org's challenge" => 20,
        "authority reachable" => 21,
        "token acquired" => 30,
        "token audience" => 31,
        "WhoAmI" => 40,
        "read a common table" => 41,
        _ => crate::error::EXIT_FAILURE,
    }
}

impl Step {
    /// The step as JSON, for `--format json`: number, title, status, cause, fix and its exit code.
    pub(crate) fn json(&self, number: usize) -> serde_json::Value {
        serde_json::json!({
            "number": number,
            "title": self.title,
            "status": self.status.to_string().to_ascii_lowercase(),
            "cause": self.detail,
            "fix": self.fix,
            "exit_code": (self.status == Status::Fail).then(|| exit_code(self.title)),
        })
    }

    pub(crate) fn pass(title: &'static str, detail: impl Into<String>) -> Self {
        Self { status: Status::Pass, title, detail: detail.into(), fix: None }
    }

    pub(crate) fn warn(title: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { status: Status::Warn, title, detail: detail.into(), fix: Some(fix.into()) }
    }

    pub(crate) fn fail(title: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { status: Status::Fail, title, detail: detail.into(), fix: Some(fix.into()) }
    }

    pub(crate) fn skip(title: &'static str, because: impl Into<String>) -> Self {
        Self { status: Status::Skip, title, detail: because.into(), fix: None }
    }

    /// The step as printed: `[pass] 3. title: detail`, then `       fix: ...`.
    pub(crate) fn lines(&self, number: usize) -> Vec<String> {
        let mut lines = vec![format!("[{}] {number}. {}: {}", self.status, self.title, self.detail)];
        if let Some(fix) = &self.fix {
            lines.push(format!("       fix: {fix}"));
        }
        lines
    }
}
