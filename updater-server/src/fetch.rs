//! Downloading externally hosted artifacts at publish time. A publish token
//! names the URL, so the fetch must not become a way into the service's own
//! network: addresses that are not public (loopback, private, link-local —
//! cloud metadata lives there —, unique-local, CGNAT, multicast, unspecified)
//! are refused whether they come from the URL, from DNS or from a redirect,
//! and redirects may not leave the URL's host except for configured hosts
//! (GitHub Releases, for one, redirects to `objects.githubusercontent.com`).
//! The resolver filters the addresses the connection is made to, so a name
//! cannot pass a check and then resolve elsewhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use crate::config::ExternalArtifactsConfig;

/// Why a URL or a redirect was refused (kept apart from transport errors).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(
        "{0} is not a public address (set external_artifacts.allow_private_hosts to allow it)"
    )]
    PrivateAddress(IpAddr),
    #[error("{0} resolves to no public address (set external_artifacts.allow_private_hosts to allow it)")]
    PrivateName(String),
    #[error("redirect to another host {0:?} (allowed: the URL's own host and external_artifacts.redirect_hosts)")]
    ForeignRedirect(String),
    #[error("redirect to {0:?}: only http(s), and never from https to http")]
    InsecureRedirect(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("not an absolute http(s) URL with a host")]
    NotHttp,
}

const MAX_REDIRECTS: usize = 5;

/// Whether connections to `ip` stay out of the service's own networks.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // CGNAT 100.64.0.0/10, benchmarking 198.18.0.0/15, reserved 240.0.0.0/4
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Resolves with the system resolver and keeps only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(Refused::PrivateName(host)) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Checks the parts of a URL that can be judged without a connection.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::NotHttp);
    }
    let host = url.host_str().ok_or(Refused::NotHttp)?;
    // IP literals are connected to directly, without the resolver's filter.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) if !allow_private && !is_public(ip) => Err(Refused::PrivateAddress(ip)),
        _ => Ok(()),
    }
}

/// The HTTP client for external artifacts.
pub fn client(config: &ExternalArtifactsConfig) -> reqwest::Result<reqwest::Client> {
    let allow_private = config.allow_private_hosts;
    let redirect_hosts: Arc<Vec<String>> = Arc::new(
        config
            .redirect_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
    );
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(Refused::TooManyRedirects);
        }
        let (from, to) = (&attempt.previous()[0], attempt.url());
        let verdict = (|| {
            if !matches!(to.scheme(), "http" | "https")
                || (from.scheme() == "https" && to.scheme() == "http")
            {
                return Err(Refused::InsecureRedirect(to.to_string()));
            }
            let host = to.host_str().unwrap_or_default().to_ascii_lowercase();
            let own = from
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&host));
            if !own && !redirect_hosts.contains(&host) {
                return Err(Refused::ForeignRedirect(host));
            }
            check_url(to, allow_private)
        })();
        match verdict {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e),
        }
    });
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // A stalled host fails the publish instead of holding it open.
        .read_timeout(Duration::from_secs(60))
        .timeout(config.timeout)
        // A proxy would resolve names itself, around the address check.
        .no_proxy()
        .redirect(policy);
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build()
}

/// The refusal inside a transport error, if it was one.
pub fn refusal(e: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r);
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "140.82.112.3",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_naming_private_addresses_are_refused_unless_allowed() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&u("http://127.0.0.1:9/a"), false).is_err());
        assert!(check_url(&u("http://[::1]/a"), false).is_err());
        assert!(check_url(&u("http://169.254.169.254/latest"), false).is_err());
        assert!(check_url(&u("http://127.0.0.1:9/a"), true).is_ok());
        assert!(check_url(&u("https://github.com/a"), false).is_ok());
        assert!(check_url(&u("ftp://github.com/a"), true).is_err());
    }
}
