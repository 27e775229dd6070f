//! `--verbose`: each HTTP request and its status, as tracing events on stderr.
//!
//! Only the spans and events of this workspace's crates are shown. They carry methods, entity sets, statuses,
//! attempts, tenants and client ids; the libraries never put a secret or a token in them.

use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, fmt};

use crate::io::Io;

/// A subscriber writing to the run's stderr.
pub(crate) fn dispatch(io: &Io) -> tracing::Dispatch {
    let layer =
        fmt::layer().with_writer(io.shared_stderr()).with_target(false).with_span_events(FmtSpan::CLOSE).with_filter(
            filter_fn(|metadata| {
                let target = metadata.target();
                target.starts_with("aad_auth") || target.starts_with("dynamics")
            }),
        );
    tracing::Dispatch::new(tracing_subscriber::registry().with(layer))
}
