//! The server side of TLS: the test-only certificate of `fixtures/tls/`, ALPN offering `h2` and `http/1.1`.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// The test CA's certificate (PEM), the one root a client needs to trust the loopback server.
pub(crate) const CA_PEM: &str = include_str!("../../../../fixtures/tls/ca.pem");
const LEAF_PEM: &str = include_str!("../../../../fixtures/tls/localhost.pem");
const KEY_PEM: &str = include_str!("../../../../fixtures/tls/localhost-key.pem");

/// Which protocols the server offers in ALPN, in its order of preference.
pub(crate) fn server_config(alpn: &[&[u8]]) -> Result<Arc<ServerConfig>> {
    let invalid = |reason: String| Error::Config { setting: "tls", reason };
    let chain = CertificateDer::pem_slice_iter(LEAF_PEM.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("the test certificate cannot be read: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes())
        .map_err(|e| invalid(format!("the test key cannot be read: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("no TLS version: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("the test certificate is unusable: {e}")))?;
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}
