//! TLS and the HTTP version against the testkit's TLS loopback server: an extra root certificate is trusted for the
//! handshake, a client without it is refused, and ALPN negotiates the version the builder chose.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::sync::Arc;
use std::time::Duration;

use aad_auth::SystemClock;
use aad_auth::test_util::StaticTokenProvider;
use dynamics_testkit::loopback::LoopbackServer;
use dynamics_webapi::{Client, HttpVersion, RetryPolicy};

fn client(server: &LoopbackServer, version: Option<HttpVersion>, trust: bool) -> Client {
    let tokens = Arc::new(StaticTokenProvider::new(Duration::from_secs(3600), Arc::new(SystemClock)));
    let mut builder = Client::builder(server.url(), tokens).retry_policy(RetryPolicy::none());
    if trust {
        builder = builder.add_root_certificate(server.ca_certificate_pem());
    }
    if let Some(version) = version {
        builder = builder.http_version(version);
    }
    builder.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_negotiates_the_http_version_the_builder_chose() {
    for (version, h2) in [(None, false), (Some(HttpVersion::Http1), false), (Some(HttpVersion::Negotiate), true)] {
        let server = LoopbackServer::builder().tls(true).start().unwrap();
        let client = client(&server, version, true);

        client.who_am_i().await.unwrap();
        client.who_am_i().await.unwrap();

        let negotiated = server.http_versions();
        if h2 {
            assert_eq!((negotiated.alpn_h2(), negotiated.http2_connections()), (1, 1), "{version:?}: {negotiated:?}");
            assert_eq!(negotiated.http1_connections(), 0, "{negotiated:?}");
        } else {
            assert_eq!(negotiated.alpn_h2(), 0, "{version:?} never offers h2: {negotiated:?}");
            assert_eq!(negotiated.http2_connections(), 0, "{negotiated:?}");
            assert_eq!(negotiated.http1_connections(), 1, "one kept-alive connection: {negotiated:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_needs_the_extra_root_certificate() {
    let server = LoopbackServer::builder().tls(true).start().unwrap();

    let refused = client(&server, None, false).who_am_i().await.unwrap_err();
    client(&server, None, true).who_am_i().await.unwrap();

    assert!(matches!(refused, dynamics_webapi::Error::Transport(_)), "{refused:?}");
    assert!(refused.to_string().contains("was not sent"), "a failed handshake sends nothing: {refused}");
}
