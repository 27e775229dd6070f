//! The rule that keeps secrets off plain HTTP.

use std::net::Ipv4Addr;

use url::{Host, Url};

/// Refuses plain `http://` URLs unless the host is loopback (`localhost`, `127.0.0.0/8`, `::1`).
/// Every URL a secret, an assertion or a token is sent to goes through here.
///
/// # Errors
/// A sentence saying why the URL is refused.
pub(crate) fn check_plain_http(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "refusing to send credentials over plain http:// to {}; use https:// (plain http is allowed only to a loopback host)",
            url.host_str().unwrap_or("(no host)")
        )),
        other => Err(format!("unsupported URL scheme `{other}`; use https://")),
    }
}

/// True when the URL's host is this machine.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        None => false,
    }
}

/// True for the link-local address of Azure's instance metadata service.
pub(crate) fn is_instance_metadata(url: &Url) -> bool {
    matches!(url.host(), Some(Host::Ipv4(ip)) if ip == Ipv4Addr::new(169, 254, 169, 254))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_gets_plain_http() {
        let cases = [
            ("https://login.microsoftonline.com/", true),
            ("http://localhost:8080/", true),
            ("http://LOCALHOST/", true),
            ("http://127.0.0.1/", true),
            ("http://127.8.9.10/", true),
            ("http://[::1]/", true),
            ("http://[::ffff:127.0.0.1]/", true),
            ("http://10.0.0.1/", false),
            ("http://localhost.example.com/", false),
            ("http://169.254.169.254/", false),
            ("ftp://localhost/", false),
        ];
        for (url, allowed) in cases {
            let url = Url::parse(url).unwrap();
            assert_eq!(check_plain_http(&url).is_ok(), allowed, "{url}");
        }
    }
}
