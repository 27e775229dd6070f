//! The progress bar of long reads: records so far and the rate, on stderr, drawn only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::io::Io;

/// Counts records on stderr.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A counter labelled `message`; hidden unless the run's stderr is a terminal.
    pub(crate) fn records(io: &Io, message: &str) -> Self {
        let target = if io.stderr_is_terminal() && io.is_process() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {human_pos} records, {rate} [{elapsed}]") {
            bar.set_style(style.with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0} records/s", state.per_sec());
            }));
        }
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Self { bar }
    }

    /// A bar towards `total` records, labelled `message`; hidden unless the run's stderr is a terminal.
    pub(crate) fn counted(io: &Io, message: &str, total: u64) -> Self {
        let progress = Self::records(io, message);
        progress.bar.set_length(total);
        let template = "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} records, {rate} [{elapsed}]";
        if let Ok(style) = ProgressStyle::with_template(template) {
            progress.bar.set_style(style.progress_chars("=> ").with_key(
                "rate",
                |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{:.0} records/s", state.per_sec());
                },
            ));
        }
        progress
    }

    /// Starts the count at `n` (a resumed export), or moves it to `n`.
    pub(crate) fn set(&self, n: u64) {
        self.bar.set_position(n);
    }

    /// Adds `n` records.
    pub(crate) fn add(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
