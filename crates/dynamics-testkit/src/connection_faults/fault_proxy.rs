//! The fault proxy: a loopback TCP listener that relays HTTP/1.1 requests to an upstream server,
//! breaking some of them at the connection level as its plan says.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use url::Url;

use super::message::{self, Framing, Message};
use super::plan::Decider;
use super::{ConnectionFault, ConnectionFaults, FaultCounts, ProxiedRequest};
use crate::faults;
use crate::reply::Reply;
use crate::{Error, Result};

/// An HTTP/1.1 proxy on `127.0.0.1` in front of another loopback server, injecting [`ConnectionFaults`]:
/// dropped connections (before or after the server handled the request), `503`s, `429`s and answers that never come,
/// each at a seeded rate or on the `n`th request. It records every request it relays ([`requests`](Self::requests)).
///
/// It takes requests in origin form (`GET /path`, when a client uses [`uri`](Self::uri) as its base URL) and in
/// absolute form (`GET http://127.0.0.1:…/path`, when a client uses it as its HTTP proxy, such as
/// `dynamics_webapi::ClientBuilder::proxy`); the first go to the upstream given to [`start`](Self::start),
/// the second to the loopback address they name. Connections are kept alive on both sides.
///
/// It serves from its own thread and runtime, so it works under any runtime (or none) and in blocking tests;
/// it stops, closing every connection, when the last clone is dropped.
///
/// An [`Emulator`](crate::Emulator) built with
/// [`EmulatorBuilder::connection_faults`](crate::EmulatorBuilder::connection_faults) starts one in front of its org.
///
/// ```no_run
/// # async fn demo() -> dynamics_testkit::Result<()> {
/// use dynamics_testkit::{ConnectionFaults, FaultProxy};
///
/// let server = wiremock::MockServer::start().await; // any HTTP/1.1 server on a loopback address
/// let proxy = FaultProxy::start(&server.uri(), ConnectionFaults::seeded(42).closed_after_commit(0.1))?;
/// // … send requests to proxy.uri() …
/// for request in proxy.requests() {
///     println!("{} {} -> {:?}", request.method(), request.path(), request.fault());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FaultProxy {
    inner: Arc<Inner>,
}

struct Inner {
    address: SocketAddr,
    upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    /// Dropping it (with the last clone) stops the accept loop, and so the runtime and every connection.
    _shutdown: oneshot::Sender<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("FaultProxy")
            .field("address", &self.inner.address)
            .field("upstream", &self.inner.upstream)
            .field("faults", state.decider.faults())
            .field("counts", &state.counts)
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy on a free port of `127.0.0.1`, relaying to `upstream` (`http://<loopback address>:<port>`,
    /// such as a wiremock server's `uri()`; a path is ignored).
    ///
    /// # Errors
    /// [`Error::Config`] for an upstream that is not a plain-`http` loopback URL or for rates and counts
    /// [`ConnectionFaults`] cannot use (a rate outside 0 to 1, rates adding up to more than 1, a count of 0);
    /// [`Error::Loopback`] when no port can be bound or the proxy's thread cannot start.
    pub fn start(upstream: &str, faults: ConnectionFaults) -> Result<FaultProxy> {
        faults.check()?;
        let upstream = loopback_upstream(upstream)?;
        let loopback = |what| move |source| Error::Loopback { what, source };
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(loopback("binding a port"))?;
        listener.set_nonblocking(true).map_err(loopback("configuring the listener"))?;
        let address = listener.local_addr().map_err(loopback("reading the bound address"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(loopback("building the proxy's runtime"))?;
        let state = Arc::new(Mutex::new(ProxyState::new(faults)));
        let (shutdown, stopped) = oneshot::channel();
        let serving = Arc::clone(&state);
        std::thread::Builder::new()
            .name(format!("fault-proxy-{}", address.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    // Inside the runtime, so the listener registers with its reactor.
                    if let Ok(listener) = TcpListener::from_std(listener) {
                        accept(listener, upstream, serving, stopped).await;
                    }
                });
            })
            .map_err(loopback("starting the proxy's thread"))?;
        Ok(FaultProxy { inner: Arc::new(Inner { address, upstream, state, _shutdown: shutdown }) })
    }

    /// The proxy's URL without a trailing slash, such as `http://127.0.0.1:40125`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.inner.address)
    }

    /// The address the proxy listens on.
    pub fn address(&self) -> SocketAddr {
        self.inner.address
    }

    /// The address requests in origin form are relayed to.
    pub fn upstream(&self) -> SocketAddr {
        self.inner.upstream
    }

    /// Replaces the faults; their counting and drawing start again from the next request
    /// (so a test can set data up without faults, then turn them on).
    ///
    /// # Errors
    /// [`Error::Config`] for rates or counts that cannot be used (then the faults in force stay).
    pub fn set_faults(&self, faults: ConnectionFaults) -> Result<()> {
        faults.check()?;
        lock(&self.inner.state).decider = Decider::new(faults);
        Ok(())
    }

    /// Every request read since the start (or the last [`clear`](Self::clear)), in the order read.
    /// A request whose exchange is still under way has no status yet.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        lock(&self.inner.state).journal.clone()
    }

    /// The requests with this method whose decoded path starts with `path_prefix`, as
    /// [`Journal::matching`](crate::Journal::matching) selects.
    pub fn matching(&self, method: &str, path_prefix: &str) -> Vec<ProxiedRequest> {
        lock(&self.inner.state)
            .journal
            .iter()
            .filter(|request| {
                request.method.eq_ignore_ascii_case(method) && request.decoded_path().starts_with(path_prefix)
            })
            .cloned()
            .collect()
    }

    /// The running totals.
    pub fn counts(&self) -> FaultCounts {
        lock(&self.inner.state).counts
    }

    /// Forgets the recorded requests and resets the totals (the faults in force keep counting).
    pub fn clear(&self) {
        let mut state = lock(&self.inner.state);
        state.cleared += state.journal.len() as u64;
        state.journal.clear();
        state.counts = FaultCounts::default();
    }
}

/// What the proxy's connections share.
#[derive(Debug)]
struct ProxyState {
    decider: Decider,
    journal: Vec<ProxiedRequest>,
    /// How many requests were forgotten by `clear`: the journal holds indexes from here on.
    cleared: u64,
    counts: FaultCounts,
    connections: u64,
}

impl ProxyState {
    fn new(faults: ConnectionFaults) -> Self {
        Self {
            decider: Decider::new(faults),
            journal: Vec::new(),
            cleared: 0,
            counts: FaultCounts::default(),
            connections: 0,
        }
    }

    fn entry(&mut self, index: u64) -> Option<&mut ProxiedRequest> {
        let at = usize::try_from(index.checked_sub(self.cleared)?).ok()?;
        self.journal.get_mut(at)
    }
}

/// The lock is never held across an await; a panic while holding it leaves nothing half-changed worth refusing.
fn lock(state: &Mutex<ProxyState>) -> MutexGuard<'_, ProxyState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The upstream address of `http://<loopback>:<port>`.
fn loopback_upstream(text: &str) -> Result<SocketAddr> {
    let refuse = |reason: String| Error::Config { setting: "upstream", reason };
    let url = Url::parse(text).map_err(|e| refuse(format!("`{text}` is not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(refuse(format!("`{text}` is not an http:// URL (the proxy relays plain HTTP/1.1)")));
    }
    loopback_address(&url).ok_or_else(|| refuse(format!("`{text}` is not on a loopback address with a port")))
}

/// The socket address of a URL whose host is a loopback address or `localhost`.
fn loopback_address(url: &Url) -> Option<SocketAddr> {
    let port = url.port_or_known_default()?;
    let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback().then_some(SocketAddr::new(ip, port));
    }
    if !host.eq_ignore_ascii_case("localhost") {
        return None;
    }
    (host, port).to_socket_addrs().ok()?.find(|address| address.ip().is_loopback())
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let id = {
                        let mut state = lock(&state);
                        state.counts.connections += 1;
                        state.connections += 1;
                        state.connections - 1
                    };
                    let connection = Connection { id, default_upstream: upstream, state: Arc::clone(&state), upstream: None };
                    tokio::spawn(connection.serve(stream));
                }
                // Out of file descriptors, or a connection reset while queued: wait a little and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

/// Where a request goes, and what the journal says about it.
struct Route {
    upstream: SocketAddr,
    path: String,
    query: Option<String>,
    /// The request as it is sent on: as received, but in origin form.
    raw: Vec<u8>,
}

/// One client connection, with the upstream connection it keeps alive.
struct Connection {
    id: u64,
    default_upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    upstream: Option<(SocketAddr, BufReader<TcpStream>)>,
}

/// What became of the client's connection after one request.
enum Next {
    KeepAlive,
    Close,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        // Best effort: small answers go out at once.
        let _ = stream.set_nodelay(true);
        let mut client = BufReader::new(stream);
        loop {
            let Ok(Some((request, _))) = message::read_message(&mut client, Framing::of_request).await else { return };
            let Ok((method, _, version)) = request.head.request_line() else { return };
            let (method, client_closes) = (method.to_owned(), request.head.closes(version));
            let route = match self.route(&request) {
                Ok(route) => route,
                Err(reason) => {
                    let _ = client.get_mut().write_all(&message::encode(&bad_gateway(&reason))).await;
                    return;
                }
            };
            let (index, fault) = self.decide(&method, &route, &request);
            let next = match fault {
                None => self.pass(&mut client, index, &method, &route).await,
                Some(ConnectionFault::ClosedBeforeRead) => return reset(client),
                Some(ConnectionFault::ClosedAfterCommit) => {
                    match self.exchange(&method, &route).await {
                        Ok((_, answer)) => self.finish(index, answer.head.status().ok(), None),
                        Err(_) => self.upstream_failed(index, None),
                    }
                    let mut stream = client.into_inner();
                    let _ = stream.shutdown().await;
                    return;
                }
                Some(ConnectionFault::Hang) => return hold(client).await,
                Some(ConnectionFault::ServiceUnavailable) => {
                    let reply = faults::unavailable_reply("connection fault: service_unavailable");
                    self.answer(&mut client, index, &reply).await
                }
                Some(ConnectionFault::Throttled { retry_after, kind }) => {
                    self.answer(&mut client, index, &kind.reply(retry_after)).await
                }
            };
            if matches!(next, Next::Close) || client_closes {
                let mut stream = client.into_inner();
                let _ = stream.shutdown().await;
                return;
            }
        }
    }

    /// The upstream, path and bytes to send of a request in origin or absolute form.
    fn route(&self, request: &Message) -> Result<Route, String> {
        let (method, target, version) = request.head.request_line().map_err(|e| e.to_string())?;
        if target.starts_with('/') {
            let (path, query) = split_target(target);
            return Ok(Route { upstream: self.default_upstream, path, query, raw: request.raw.clone() });
        }
        let url =
            Url::parse(target).map_err(|_| format!("the request target `{target}` is neither a path nor a URL"))?;
        let upstream = loopback_address(&url).filter(|_| url.scheme() == "http").ok_or_else(|| {
            format!("the fault proxy relays only to plain-http loopback addresses, not to `{target}`")
        })?;
        let origin = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let (path, query) = split_target(&origin);
        let line_end = request.raw.iter().position(|&byte| byte == b'\n').map_or(request.raw.len(), |at| at + 1);
        let mut raw = format!("{method} {origin} {version}\r\n").into_bytes();
        raw.extend_from_slice(&request.raw[line_end..]);
        Ok(Route { upstream, path, query, raw })
    }

    /// Records the request and decides its fault.
    fn decide(&self, method: &str, route: &Route, request: &Message) -> (u64, Option<ConnectionFault>) {
        let decoded = percent_encoding::percent_decode_str(&route.path).decode_utf8_lossy().into_owned();
        let is_file = request
            .head
            .header("content-type")
            .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("application/octet-stream"));
        let mut state = lock(&self.state);
        let fault = state.decider.decide(method, &decoded);
        let index = state.cleared + state.journal.len() as u64;
        state.counts.requests += 1;
        state.counts.count(fault);
        state.journal.push(ProxiedRequest {
            index,
            connection: self.id,
            method: method.to_owned(),
            path: route.path.clone(),
            query: route.query.clone(),
            body: if is_file { Vec::new() } else { request.body.clone() },
            fault,
            upstream_status: None,
            status: None,
        });
        (index, fault)
    }

    fn finish(&self, index: u64, upstream_status: Option<u16>, status: Option<u16>) {
        if let Some(entry) = lock(&self.state).entry(index) {
            entry.upstream_status = upstream_status;
            entry.status = status;
        }
    }

    fn upstream_failed(&self, index: u64, status: Option<u16>) {
        let mut state = lock(&self.state);
        state.counts.upstream_failures += 1;
        let passed = state.entry(index).map(|entry| {
            entry.status = status;
            entry.fault.is_none()
        });
        if passed == Some(true) {
            state.counts.passed -= 1;
        }
    }

    /// Sends the proxy's own answer; the connection stays open.
    async fn answer(&self, client: &mut BufReader<TcpStream>, index: u64, reply: &Reply) -> Next {
        self.finish(index, None, Some(reply.status));
        match client.get_mut().write_all(&message::encode(reply)).await {
            Ok(()) => Next::KeepAlive,
            Err(_) => Next::Close,
        }
    }

    /// Relays the request and its answer unchanged; `502` when the upstream fails.
    async fn pass(&mut self, client: &mut BufReader<TcpStream>, index: u64, method: &str, route: &Route) -> Next {
        let (interim, answer) = match self.exchange(method, route).await {
            Ok(exchange) => exchange,
            Err(error) => {
                let reply = bad_gateway(&format!("the fault proxy's upstream {} failed: {error}", route.upstream));
                self.upstream_failed(index, Some(reply.status));
                let _ = client.get_mut().write_all(&message::encode(&reply)).await;
                return Next::Close;
            }
        };
        let status = answer.head.status().ok();
        self.finish(index, status, status);
        let stream = client.get_mut();
        for message in interim.iter().chain([&answer]) {
            if stream.write_all(&message.raw).await.is_err() {
                return Next::Close;
            }
        }
        if self.upstream.is_none() { Next::Close } else { Next::KeepAlive }
    }

    /// Sends the request upstream and reads its answer (after any `1xx` interim answers).
    /// The upstream connection is kept for the next request unless the answer ends it.
    async fn exchange(&mut self, method: &str, route: &Route) -> io::Result<(Vec<Message>, Message)> {
        let result = self.try_exchange(method, route).await;
        if result.is_err() {
            self.upstream = None;
        }
        result
    }

    async fn try_exchange(&mut self, method: &str, route: &Route) -> io::Result<(Vec<Message>, Message)> {
        let reusable =
            self.upstream.as_ref().is_some_and(|(address, stream)| *address == route.upstream && is_idle(stream));
        if !reusable {
            let stream = TcpStream::connect(route.upstream).await?;
            let _ = stream.set_nodelay(true);
            self.upstream = Some((route.upstream, BufReader::new(stream)));
        }
        let Some((_, upstream)) = self.upstream.as_mut() else { return Err(io::ErrorKind::NotConnected.into()) };
        upstream.get_mut().write_all(&route.raw).await?;
        let mut interim = Vec::new();
        loop {
            let read =
                message::read_message(upstream, |head| Framing::of_response(head, method, head.status()?)).await?;
            let Some((answer, framing)) = read else {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the upstream closed without answering"));
            };
            let status = answer.head.status()?;
            if (100..200).contains(&status) && status != 101 {
                interim.push(answer);
                continue;
            }
            let version = answer.head.start_line.split(' ').next().unwrap_or_default().to_owned();
            if status == 101 || framing == Framing::UntilClose || answer.head.closes(&version) {
                self.upstream = None;
            }
            return Ok((interim, answer));
        }
    }
}

/// Whether a kept-alive upstream connection is still open and has nothing unread.
fn is_idle(stream: &BufReader<TcpStream>) -> bool {
    let mut probe = [0; 1];
    stream.buffer().is_empty()
        && matches!(stream.get_ref().try_read(&mut probe), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

/// Closes the client's connection with a TCP reset: `SO_LINGER` 0, then close.
fn reset(client: BufReader<TcpStream>) {
    let stream = client.into_inner();
    // Without the option the close is a FIN, which the client sees as a closed connection: still a transport error.
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Keeps a connection open without answering until the client closes it (or the proxy stops).
async fn hold(mut client: BufReader<TcpStream>) {
    let mut sink = [0; 1024];
    while let Ok(1..) = client.read(&mut sink).await {}
}

fn split_target(target: &str) -> (String, Option<String>) {
    match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (target.to_owned(), None),
    }
}

fn bad_gateway(reason: &str) -> Reply {
    Reply::empty(502).header("Connection", "close").with_body(reason.as_bytes().to_vec(), "text/plain; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_loopback_upstreams_are_taken() {
        assert_eq!(loopback_upstream("http://127.0.0.1:8080/").unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(loopback_upstream("http://[::1]:81").unwrap(), "[::1]:81".parse().unwrap());
        assert!(loopback_upstream("http://localhost:8080").unwrap().ip().is_loopback());
        for bad in ["https://127.0.0.1:1", "http://10.0.0.1:80", "http://contoso.crm.dynamics.com", "127.0.0.1:80"] {
            assert!(matches!(loopback_upstream(bad), Err(Error::Config { setting: "upstream", .. })), "{bad}");
        }
    }
}
