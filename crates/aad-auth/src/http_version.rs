//! The HTTP version a client speaks.

/// Which HTTP version a client speaks: the token providers here (default [`HttpVersion::Negotiate`]) and the
/// Web API client of `dynamics-webapi` (its own default is HTTP/1.1).
///
/// ```
/// # #[cfg(feature = "client-credentials")] {
/// use aad_auth::{ClientCredential, ClientCredentialsProvider, HttpVersion, SecretString};
///
/// let provider = ClientCredentialsProvider::builder(
///     "contoso.onmicrosoft.com",
///     "11111111-2222-3333-4444-555555555555",
///     ClientCredential::secret(SecretString::from("abc8Q~example")),
/// )
/// .http_version(HttpVersion::Http1)
/// .build()?;
/// # let _ = provider;
/// # }
/// # Ok::<(), aad_auth::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/2 when the server offers it in the TLS handshake (ALPN), HTTP/1.1 otherwise.
    #[default]
    Negotiate,
    /// HTTP/1.1 only, for proxies and gateways that mishandle HTTP/2.
    Http1,
    /// HTTP/2 only, without negotiation ("prior knowledge"), also over plain `http://`.
    Http2,
}
