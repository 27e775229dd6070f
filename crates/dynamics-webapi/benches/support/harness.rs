//! What every benchmark shares: the testkit's TLS loopback server, the two clients compared on it (the library and
//! hand-written reqwest) on the same HTTP version, scenario selection by name, and interleaved rounds reported as
//! ratios with their spread.
//!
//! Arguments: any word that does not start with `--` and is not a number selects the scenarios whose name contains it (all when none);
//! `--rounds N` sets the rounds of every scenario. Scenario names end in `/h1` or `/h2`, the HTTP version both sides use.

#![allow(dead_code, reason = "each bench uses a part of the harness")]

use std::sync::Arc;
use std::time::Duration;

use aad_auth::test_util::StaticTokenProvider;
use dynamics_testkit::loopback::{HttpVersions, LoopbackServer};
use dynamics_webapi::{Client, ClientBuilder};

/// The HTTP version both sides of a comparison use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Version {
    /// HTTP/1.1: the client offers only `http/1.1` in ALPN.
    Http1,
    /// HTTP/2, negotiated by ALPN over TLS.
    Http2,
}

impl Version {
    pub(crate) const ALL: [Self; 2] = [Self::Http1, Self::Http2];

    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::Http1 => "h1",
            Self::Http2 => "h2",
        }
    }
}

/// Which scenarios run, and how many rounds.
pub(crate) struct Args {
    filters: Vec<String>,
    rounds: Option<usize>,
}

impl Args {
    pub(crate) fn parse() -> Self {
        let mut filters = Vec::new();
        let mut rounds = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--rounds" {
                rounds = args.next().and_then(|n| n.parse().ok());
            } else if !arg.starts_with("--") && arg.parse::<f64>().is_err() {
                // A number is the value of a flag meant for another harness (`cargo xtask bench -- --warm-up-time 1`).
                filters.push(arg);
            }
        }
        Self { filters, rounds }
    }

    /// Whether the scenario `name` (such as `create_8/h2`) runs.
    pub(crate) fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|filter| name.contains(filter.as_str()))
    }

    /// The rounds to run: `--rounds`, else the scenario's default.
    pub(crate) fn rounds(&self, default: usize) -> usize {
        self.rounds.unwrap_or(default).max(1)
    }
}

/// The runtime both clients run on: two workers, as many as the machine has cores.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// The hand-written side: reqwest trusting the test CA, offering only `http/1.1` for [`Version::Http1`].
pub(crate) fn reqwest_client(server: &LoopbackServer, version: Version) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_certificate_pem().as_bytes()).expect("the test CA");
    let builder = reqwest::Client::builder().add_root_certificate(ca);
    let builder = match version {
        Version::Http1 => builder.http1_only(),
        Version::Http2 => builder,
    };
    builder.build().expect("a reqwest client")
}

/// The library side: a client for the server with a static token, the test CA passed through
/// `add_root_certificate`, and `configure` for the rest (concurrency, retries).
pub(crate) fn library_client(
    server: &LoopbackServer,
    version: Version,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Client {
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(aad_auth::SystemClock)));
    let builder = Client::builder(server.url(), tokens).add_root_certificate(server.ca_certificate_pem());
    // The one place the library's HTTP version is chosen.
    let builder = builder.http_version(match version {
        Version::Http1 => dynamics_webapi::HttpVersion::Http1,
        Version::Http2 => dynamics_webapi::HttpVersion::Negotiate,
    });
    configure(builder).build().expect("a library client")
}

/// The TLS loopback server with the given settings.
pub(crate) fn tls_server(
    configure: impl FnOnce(dynamics_testkit::loopback::LoopbackBuilder) -> dynamics_testkit::loopback::LoopbackBuilder,
) -> LoopbackServer {
    configure(LoopbackServer::builder().tls(true)).start().expect("a loopback server")
}

/// Runs `rounds` interleaved rounds of every side (`run(side)` returns its time, or `None` when it did not finish),
/// rotating which side goes first so none always gets the warmer machine. Returns the times per side.
pub(crate) async fn interleave(
    sides: usize,
    rounds: usize,
    mut run: impl AsyncFnMut(usize) -> Option<Duration>,
) -> Vec<Vec<Option<Duration>>> {
    let mut times = vec![Vec::with_capacity(rounds); sides];
    for round in 0..rounds {
        for offset in 0..sides {
            let side = (round + offset) % sides;
            let time = run(side).await;
            times[side].push(time);
        }
    }
    times
}

/// Prints side 0 (the library) against every other side: the ratio of their times per round (median, min, max),
/// each side's median time, and how the connections were negotiated.
pub(crate) fn report(scenario: &str, names: &[&str], times: &[Vec<Option<Duration>>], negotiated: HttpVersions) {
    let rounds = times.first().map_or(0, Vec::len);
    eprintln!("[{scenario}] {rounds} rounds; negotiated: {negotiated}");
    for (name, side) in names.iter().zip(times) {
        let finished: Vec<Duration> = side.iter().flatten().copied().collect();
        if finished.is_empty() {
            eprintln!("[{scenario}]   {name}: did not finish in any round");
            continue;
        }
        let (min, median, max) = spread(finished.iter().map(Duration::as_secs_f64).collect());
        let unfinished = side.len() - finished.len();
        let note = if unfinished > 0 { format!(" ({unfinished} rounds did not finish)") } else { String::new() };
        eprintln!("[{scenario}]   {name}: median {median:.3} s (min {min:.3}, max {max:.3}){note}");
    }
    for (index, name) in names.iter().enumerate().skip(1) {
        let ratios: Vec<f64> = times[0]
            .iter()
            .zip(&times[index])
            .filter_map(|(ours, theirs)| Some(ours.as_ref()?.as_secs_f64() / theirs.as_ref()?.as_secs_f64()))
            .collect();
        if ratios.is_empty() {
            eprintln!("[{scenario}]   {} / {name}: no round where both finished", names[0]);
            continue;
        }
        let (min, median, max) = spread(ratios);
        eprintln!("[{scenario}]   {} / {name}: median {median:.3} (min {min:.3}, max {max:.3})", names[0]);
    }
}

/// `(min, median, max)`.
pub(crate) fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[0], values[values.len() / 2], values[values.len() - 1])
}

/// `Retry-After` in seconds (fractions allowed, as the loopback server's scaled-down budgets send), else 1 s.
pub(crate) fn retry_after(response: &reqwest::Response) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<f64>().ok())
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .unwrap_or(Duration::from_secs(1))
}

/// The OData headers a hand-written request sends.
pub(crate) fn odata(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("OData-MaxVersion", "4.0")
        .header("OData-Version", "4.0")
        .header("Accept", "application/json")
        .bearer_auth("token-1")
}
