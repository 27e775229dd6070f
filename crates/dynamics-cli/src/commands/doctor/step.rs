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

impl Step {
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
