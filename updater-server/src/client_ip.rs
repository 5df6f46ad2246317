//! The address a request comes from, for per-network limits. Behind a load
//! balancer or CDN the peer is the proxy, so `X-Forwarded-For` is read — but
//! only from configured proxies, since anyone else can write that header.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The client's address: the peer's, or — when the peer is a trusted proxy —
/// the last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let chain: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    // From the right: each trusted proxy vouches for the entry before it.
    for entry in chain.iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // Nobody trusted wrote this: stop at the last proxy.
            Err(_) => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("203.0.113.9"));
        assert_eq!(
            client_ip(ip("192.0.2.5"), &h, &proxies),
            ip("192.0.2.5"),
            "untrusted peer"
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &proxies),
            ip("10.0.0.1")
        );
        let mut junk = HeaderMap::new();
        junk.insert(
            "x-forwarded-for",
            "198.51.100.1, not-an-ip".parse().unwrap(),
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &junk, &proxies), ip("10.0.0.1"));
    }
}
