//! A loopback Dataverse Web API on hyper, plain or over TLS, under the [service protection model](crate::service_protection).
//!
//! Unlike the [`Emulator`](crate::Emulator), it keeps no records: it answers the shapes that benchmarks and load tests
//! send, as fast as the machine allows, and lets the model refuse them the way Dataverse would.
//!
//! - `POST /api/data/v9.2/<set>`: `204` with `OData-EntityId`;
//! - `POST …/<set>/Microsoft.Dynamics.CRM.CreateMultiple`: `200` with `{"Ids":[…]}`, or Dataverse's
//!   "Message size exceeded" (`400 0x80040216`) for more targets than [`LoopbackBuilder::max_targets`];
//! - `POST …/$batch`: a `multipart/mixed` answer, part by part (creates `204` with `OData-EntityId`, reads by id `200`);
//! - `GET …/<set>`: [`LoopbackBuilder::rows`] generated rows, paged by `Prefer: odata.maxpagesize` (default 5,000)
//!   with `@odata.nextLink`; `GET …/<set>(<id>)`: one generated row; `GET …/WhoAmI`.
//!
//! Any bearer token is accepted (a request without one gets `401`). A batch or a bulk action is one request to the
//! model, whose latency grows with its records ([`Budget::latency_per_record`](crate::service_protection::Budget::latency_per_record)).
//!
//! It runs on its own thread and runtime, so several clients (and `#[tokio::test]`s of any flavour) can use it at once;
//! it stops when the handle is dropped.
//!
//! ```no_run
//! use std::time::Duration;
//! use dynamics_testkit::loopback::LoopbackServer;
//! use dynamics_testkit::service_protection::{Budget, ServiceProtection};
//!
//! # fn main() -> Result<(), dynamics_testkit::Error> {
//! let budget = Budget::unlimited().requests(600, Duration::from_secs(2)).latency(Duration::from_millis(20));
//! let server = LoopbackServer::builder().tls(true).protection(ServiceProtection::new(budget)).start()?;
//! // Give the client `server.url()` and trust `server.ca_certificate_pem()`; afterwards:
//! println!("{} ({} served)", server.http_versions(), server.protection().total().served);
//! # Ok(()) }
//! ```

mod connection;
mod dataverse;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::service_protection::{ProtectionCounters, ServiceProtection};
use connection::Shared;
use dataverse::Org;

/// Configures a [`LoopbackServer`].
#[derive(Debug)]
#[must_use]
pub struct LoopbackBuilder {
    tls: bool,
    http1: bool,
    http2: bool,
    protection: ServiceProtection,
    max_targets: usize,
    rows: usize,
    key_column: Option<String>,
    dop_hint: Option<usize>,
}

impl LoopbackBuilder {
    /// Serve TLS with the test certificate of `fixtures/tls/` (default: plain HTTP).
    /// ALPN offers `h2` then `http/1.1`; plain HTTP detects HTTP/2 by its preface.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Which protocols TLS offers in ALPN (default both). A server that offers only `http/1.1` makes
    /// even an HTTP/2-capable client fall back, as some proxies do.
    pub fn alpn(mut self, http1: bool, http2: bool) -> Self {
        self.http1 = http1;
        self.http2 = http2;
        self
    }

    /// The service protection every request goes through (default: one unlimited web server).
    pub fn protection(mut self, protection: ServiceProtection) -> Self {
        self.protection = protection;
        self
    }

    /// The most targets a `CreateMultiple` takes (default 1,000, as Dataverse recommends at most).
    pub fn max_targets(mut self, max: usize) -> Self {
        self.max_targets = max;
        self
    }

    /// How many rows a read of any entity set pages through (default 0); changeable with [`LoopbackServer::set_rows`].
    pub fn rows(mut self, rows: usize) -> Self {
        self.rows = rows;
        self
    }

    /// Tally created records by the value of this column, so a test can check none was lost or written twice
    /// ([`LoopbackServer::writes`]).
    pub fn key_column(mut self, column: impl Into<String>) -> Self {
        self.key_column = Some(column.into());
        self
    }

    /// Send `x-ms-dop-hint` (the recommended degree of parallelism) on every served answer.
    pub fn dop_hint(mut self, hint: usize) -> Self {
        self.dop_hint = Some(hint);
        self
    }

    /// Binds `127.0.0.1` on a free port and starts serving on a thread of its own.
    ///
    /// # Errors
    /// [`Error::Config`] when no port can be bound, no runtime can be started, or the test certificate is unusable.
    pub fn start(self) -> Result<LoopbackServer> {
        let config = |setting: &'static str| move |e: std::io::Error| Error::Config { setting, reason: e.to_string() };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(config("address"))?;
        listener.set_nonblocking(true).map_err(config("address"))?;
        let address = listener.local_addr().map_err(config("address"))?;
        let url = format!("{}://{address}", if self.tls { "https" } else { "http" });
        let acceptor = if self.tls {
            let mut alpn: Vec<&[u8]> = Vec::new();
            if self.http2 {
                alpn.push(b"h2");
            }
            if self.http1 {
                alpn.push(b"http/1.1");
            }
            Some(tokio_rustls::TlsAcceptor::from(tls::server_config(&alpn)?))
        } else {
            None
        };
        let org = Org {
            base: url.clone(),
            max_targets: self.max_targets,
            key_column: self.key_column,
            rows: AtomicUsize::new(self.rows),
            next_id: AtomicU64::new(0),
            writes: Mutex::new(HashMap::new()),
        };
        let shared = Arc::new(Shared::new(org, self.protection, self.dop_hint));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(config("runtime"))?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("loopback-{}", address.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => connection::accept(listener, acceptor, serving, stopped).await,
                        Err(_) => drop(stopped),
                    }
                });
            })
            .map_err(config("runtime"))?;
        Ok(LoopbackServer { url, tls: self.tls, shared, stop: Some(stop), thread: Some(thread) })
    }
}

/// A running loopback server; stops when dropped. See the [module](self) for what it serves.
#[derive(Debug)]
pub struct LoopbackServer {
    url: String,
    tls: bool,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackServer {
    /// Starts configuring a server: plain HTTP, no limits, no rows.
    pub fn builder() -> LoopbackBuilder {
        LoopbackBuilder {
            tls: false,
            http1: true,
            http2: true,
            protection: ServiceProtection::default(),
            max_targets: 1000,
            rows: 0,
            key_column: None,
            dop_hint: None,
        }
    }

    /// Starts a plain-HTTP server with no limits.
    ///
    /// # Errors
    /// As [`LoopbackBuilder::start`].
    pub fn start() -> Result<Self> {
        Self::builder().start()
    }

    /// The org URL, such as `https://127.0.0.1:40123` (the Web API is under `/api/data/v9.2/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether it serves TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The test CA's certificate (PEM) to give a client as its root, such as
    /// `dynamics_webapi::ClientBuilder::add_root_certificate` or reqwest's `Certificate::from_pem`.
    pub fn ca_certificate_pem(&self) -> &'static str {
        tls::CA_PEM
    }

    /// The service protection counters, per web server and in total.
    pub fn protection(&self) -> ProtectionCounters {
        self.shared.protection.lock().map(|protection| protection.counters()).unwrap_or_default()
    }

    /// Replaces the service protection model (and so its counters), for the next requests.
    pub fn set_protection(&self, protection: ServiceProtection) {
        if let Ok(mut current) = self.shared.protection.lock() {
            *current = protection;
        }
    }

    /// How many rows a read pages through from now on.
    pub fn set_rows(&self, rows: usize) {
        self.shared.org.rows.store(rows, Ordering::Relaxed);
    }

    /// How connections were negotiated so far.
    pub fn http_versions(&self) -> HttpVersions {
        let versions = &self.shared.versions;
        HttpVersions {
            tls: self.tls,
            alpn_h2: versions.alpn_h2.load(Ordering::Relaxed),
            alpn_http1: versions.alpn_http1.load(Ordering::Relaxed),
            alpn_none: versions.alpn_none.load(Ordering::Relaxed),
            http1: versions.http1.load(Ordering::Relaxed),
            http2: versions.http2.load(Ordering::Relaxed),
        }
    }

    /// Every request that reached the server (refused ones and `401`s included).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The tally of created records by [`LoopbackBuilder::key_column`].
    pub fn writes(&self) -> Writes {
        let writes = self.shared.org.writes.lock().map(|writes| writes.clone()).unwrap_or_default();
        Writes { counts: writes }
    }

    /// Forgets the tally of created records.
    pub fn clear_writes(&self) {
        if let Ok(mut writes) = self.shared.org.writes.lock() {
            writes.clear();
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How the connections to a [`LoopbackServer`] were negotiated: by ALPN (TLS), and which HTTP version
/// each connection's first request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpVersions {
    tls: bool,
    alpn_h2: u64,
    alpn_http1: u64,
    alpn_none: u64,
    http1: u64,
    http2: u64,
}

impl HttpVersions {
    /// Connections whose requests were HTTP/1.1.
    pub fn http1_connections(&self) -> u64 {
        self.http1
    }

    /// Connections whose requests were HTTP/2.
    pub fn http2_connections(&self) -> u64 {
        self.http2
    }

    /// TLS connections that chose `h2` in ALPN.
    pub fn alpn_h2(&self) -> u64 {
        self.alpn_h2
    }

    /// TLS connections that chose `http/1.1` in ALPN.
    pub fn alpn_http1(&self) -> u64 {
        self.alpn_http1
    }

    /// TLS connections whose client offered no ALPN protocol the server has.
    pub fn alpn_none(&self) -> u64 {
        self.alpn_none
    }

    /// What changed between `earlier` and this reading (for one round of a benchmark).
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            tls: self.tls,
            alpn_h2: self.alpn_h2 - earlier.alpn_h2.min(self.alpn_h2),
            alpn_http1: self.alpn_http1 - earlier.alpn_http1.min(self.alpn_http1),
            alpn_none: self.alpn_none - earlier.alpn_none.min(self.alpn_none),
            http1: self.http1 - earlier.http1.min(self.http1),
            http2: self.http2 - earlier.http2.min(self.http2),
        }
    }
}

impl fmt::Display for HttpVersions {
    /// Such as `HTTP/2 on 1 connection, HTTP/1.1 on 0 (TLS, ALPN h2 1, http/1.1 0, none 0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.http2 == 1 { "" } else { "s" };
        write!(f, "HTTP/2 on {} connection{plural}, HTTP/1.1 on {}", self.http2, self.http1)?;
        if self.tls {
            write!(f, " (TLS, ALPN h2 {}, http/1.1 {}, none {})", self.alpn_h2, self.alpn_http1, self.alpn_none)
        } else {
            write!(f, " (plain HTTP, no ALPN)")
        }
    }
}

/// How many times each key was created ([`LoopbackBuilder::key_column`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    counts: HashMap<String, u32>,
}

impl Writes {
    /// How many distinct keys were created.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// How many creates there were in all.
    pub fn total(&self) -> u64 {
        self.counts.values().map(|count| u64::from(*count)).sum()
    }

    /// How many keys were created more than once.
    pub fn duplicated(&self) -> usize {
        self.counts.values().filter(|count| **count > 1).count()
    }

    /// How many times this key was created.
    pub fn count(&self, key: &str) -> u32 {
        self.counts.get(key).copied().unwrap_or(0)
    }
}
