//! A tiny HTTP/1.1 server on loopback for the benchmarks: keep-alive, `GET` only, answers computed from the
//! request target by a function. It runs on its own thread and runtime, so the client and the hand-written loop it
//! is compared with see the same server.
//!
//! [`serve_with`] is the accept loop alone, for a bench that parses its requests itself (such as `bulk`, which
//! reads `POST` bodies).

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Writes the JSON body for a request target (`/api/data/v9.2/...?...`) into the buffer it is given.
/// Each connection reuses its buffer, so after the first answers the server allocates nothing per request.
pub(crate) type Responder = Arc<dyn Fn(&str, &mut Vec<u8>) + Send + Sync>;

/// Starts the server and returns its base URL, such as `http://127.0.0.1:40123`.
pub(crate) fn start(responder: Responder) -> String {
    serve_with(move |socket| serve(socket, Arc::clone(&responder)))
}

/// Binds a loopback port and, on its own thread and runtime, hands every accepted connection (with `TCP_NODELAY`
/// set) to `connection`, each on its own task; returns the base URL, such as `http://127.0.0.1:40123`.
pub(crate) fn serve_with<C, F>(connection: C) -> String
where
    C: Fn(TcpStream) -> F + Send + 'static,
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking listener");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("server runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                if socket.set_nodelay(true).is_err() {
                    continue;
                }
                let served = connection(socket);
                tokio::spawn(async move {
                    let _ = served.await;
                });
            }
        });
    });
    base
}

async fn serve(mut socket: TcpStream, responder: Responder) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = [0_u8; 8192];
    let mut body = Vec::new();
    let mut header = String::with_capacity(256);
    loop {
        let end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let read = socket.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end);
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        body.clear();
        responder(&target, &mut body);
        header.clear();
        header.push_str(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json; odata.metadata=minimal\r\nodata-version: 4.0\r\n",
        );
        header.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        socket.write_all(header.as_bytes()).await?;
        socket.write_all(&body).await?;
    }
}
