//! Accepting connections (plain or TLS), serving HTTP/1.1 and HTTP/2 on them, and putting every request through
//! the service protection model before the org answers it.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::dataverse::{Org, Shape};
use crate::reply::Reply;
use crate::service_protection::{Admission, Arrival, Served, ServiceProtection};
use crate::webapi::odata::request::ApiRequest;

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) org: Org,
    pub(crate) protection: Mutex<ServiceProtection>,
    pub(crate) dop_hint: Option<usize>,
    pub(crate) versions: VersionCounters,
    pub(crate) requests: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    connections: AtomicU64,
}

/// How connections were negotiated.
#[derive(Debug, Default)]
pub(crate) struct VersionCounters {
    pub(crate) alpn_h2: AtomicU64,
    pub(crate) alpn_http1: AtomicU64,
    pub(crate) alpn_none: AtomicU64,
    pub(crate) http1: AtomicU64,
    pub(crate) http2: AtomicU64,
}

impl Shared {
    pub(crate) fn new(org: Org, protection: ServiceProtection, dop_hint: Option<usize>) -> Self {
        Self {
            org,
            protection: Mutex::new(protection),
            dop_hint,
            versions: VersionCounters::default(),
            requests: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        }
    }
}

/// Accepts connections until `shutdown` fires.
pub(crate) async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((socket, _)) = accepted else { continue };
        if socket.set_nodelay(true).is_err() {
            continue;
        }
        let connection = shared.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(serve(socket, tls.clone(), Arc::clone(&shared), connection));
    }
}

async fn serve(socket: TcpStream, tls: Option<TlsAcceptor>, shared: Arc<Shared>, connection: u64) {
    let recorded = Arc::new(AtomicBool::new(false));
    let for_requests = Arc::clone(&shared);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        if !recorded.swap(true, Ordering::Relaxed) {
            let counter = match request.version() {
                Version::HTTP_2 => &for_requests.versions.http2,
                _ => &for_requests.versions.http1,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        handle(request, Arc::clone(&for_requests), connection)
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    match tls {
        Some(acceptor) => {
            let Ok(stream) = acceptor.accept(socket).await else { return };
            let counter = match stream.get_ref().1.alpn_protocol() {
                Some(b"h2") => &shared.versions.alpn_h2,
                Some(_) => &shared.versions.alpn_http1,
                None => &shared.versions.alpn_none,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        }
        None => {
            let _ = builder.serve_connection(TokioIo::new(socket), service).await;
        }
    }
}

/// Frees the request's concurrency slot however its future ends (answered, or dropped with its connection).
struct InFlight<'a> {
    shared: &'a Shared,
    served: Option<Served>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(served) = self.served.take()
            && let Ok(mut protection) = self.shared.protection.lock()
        {
            protection.finish(served);
        }
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    connection: u64,
) -> Result<Response<Full<Bytes>>, Infallible> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(into_response(Reply::empty(400))),
    };
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer "));
    if !bearer {
        shared.unauthorized.fetch_add(1, Ordering::Relaxed);
        let reply = Reply::empty(401).header(
            "WWW-Authenticate",
            "Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize",
        );
        return Ok(into_response(reply));
    }
    let Some(path) = parts.uri.path().strip_prefix("/api/data/v9.2/") else {
        return Ok(into_response(Reply::empty(404)));
    };
    let api = ApiRequest {
        method: parts.method.as_str().to_owned(),
        path: path.to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    let shape: Shape = match shared.org.shape(&api) {
        Ok(shape) => shape,
        Err(reply) => return Ok(into_response(reply)),
    };
    let arrival = Arrival::new().connection(connection).records(shape.records());
    let admission = match shared.protection.lock() {
        Ok(mut protection) => protection.admit_request(Instant::now(), arrival),
        Err(_) => return Ok(into_response(Reply::empty(500))),
    };
    let served = match admission {
        Admission::Serve(served) => served,
        Admission::Refuse(refusal) => {
            let reply = Reply::empty(429)
                .header("Retry-After", refusal.retry_after_header())
                .with_body(refusal.body().into_bytes(), "application/json; odata.metadata=minimal");
            return Ok(into_response(reply));
        }
    };
    let latency = served.latency();
    let headers = served.headers();
    let in_flight = InFlight { shared: &shared, served: Some(served) };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut reply = shared.org.answer(shape);
    drop(in_flight);
    for (name, value) in headers.map(|headers| headers.to_headers()).unwrap_or_default() {
        reply = reply.header(name, value);
    }
    if let Some(hint) = shared.dop_hint {
        reply = reply.header("x-ms-dop-hint", hint.to_string());
    }
    Ok(into_response(reply))
}

fn into_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(reply.status).header("OData-Version", "4.0");
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match reply.body {
        Some((body, content_type)) => {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
            Bytes::from(body)
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).unwrap_or_else(|_| {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}
