//! Where the outgoing requests that users configure may go: webhook and chat contact methods,
//! outgoing webhooks.
//!
//! Anyone who can add a contact method could otherwise make Klaxon post to its own loopback,
//! the private network or a cloud metadata service, and read the outcome back. So those
//! destinations are refused unless an admin allows them (`outgoing.allow`). The check is made on
//! the addresses the connection actually uses: names are resolved by [`Guarded`], which hands
//! the HTTP client only addresses it has checked, so a name that resolves (or re-resolves) to
//! 127.0.0.1 cannot slip through between check and connect. Address literals never reach a
//! resolver, so [`Outgoing::post`] checks them first.
//!
//! Requests the operator configures (the SMS gateway, SMTP) are not checked: they are trusted.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::{Deserialize, Serialize};

use crate::shared::error::ApiError;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutgoingSettings {
    /// Networks (`10.20.0.0/16`, `fd00::/8`), addresses (`192.168.1.7`) and host names
    /// (`hooks.internal`) that user-configured requests may reach although they are internal.
    /// Empty (the default): public addresses only.
    pub allow: Vec<String>,
}

/// The admin's exceptions, parsed.
#[derive(Debug, Default, Clone)]
pub struct Rules {
    nets: Vec<IpNet>,
    hosts: Vec<String>,
}

impl Rules {
    pub fn new(settings: &OutgoingSettings) -> Result<Self, String> {
        let mut rules = Rules::default();
        for entry in &settings.allow {
            let entry = entry.trim();
            if let Ok(net) = entry.parse::<IpNet>() {
                rules.nets.push(net);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                rules.nets.push(IpNet::from(ip));
            } else if is_host_name(entry) {
                rules.hosts.push(normal_host(entry));
            } else {
                return Err(format!(
                    "outgoing.allow: {entry:?} is not a network (10.0.0.0/8), an address or a host name"
                ));
            }
        }
        Ok(rules)
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.contains(&host)
    }

    /// Why `ip` may not be reached, or `None` when it may.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        let why = internal(ip)?;
        (!self.nets.iter().any(|n| n.contains(&ip))).then_some(why)
    }

    /// Checks a URL's host when it is an address literal (`http://127.1/`, `http://[::1]/`,
    /// `http://2130706433/` all parse to an address), or the name `localhost`. Other names are
    /// checked when they are resolved, at connect time.
    pub fn check_url(&self, url: &str) -> Result<(), Refused> {
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return Ok(()); // the client reports a bad URL itself
        };
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            // Always loopback (RFC 6761), whatever a resolver says; other names are checked
            // when they are resolved.
            Some(url::Host::Domain(d))
                if (normal_host(d) == "localhost" || normal_host(d).ends_with(".localhost"))
                    && !self.allows_host(d) =>
            {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
            Some(url::Host::Domain(_)) | None => return Ok(()),
        };
        match self.refuses(ip) {
            Some(why) => Err(Refused {
                host,
                address: None,
                why,
            }),
            None => Ok(()),
        }
    }
}

/// A destination refused: says which and why, never more of the URL than its host.
#[derive(Debug, Clone)]
pub struct Refused {
    host: String,
    /// What the name resolved to, when it is a name.
    address: Option<IpAddr>,
    why: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.address {
            Some(a) => write!(f, "{} resolves to {a}, {}", self.host, self.why)?,
            None => write!(f, "{} is {}", self.host, self.why)?,
        }
        f.write_str(
            "; requests set up by users do not go to internal networks unless an admin allows \
             it (outgoing.allow)",
        )
    }
}

impl std::error::Error for Refused {}

/// The HTTP client for user-configured destinations, with the rules it enforces.
#[derive(Clone)]
pub struct Outgoing {
    rules: Arc<Rules>,
    client: reqwest::Client,
}

impl Outgoing {
    pub fn new(rules: Rules, connect_timeout: Duration) -> Self {
        let rules = Arc::new(rules);
        let client = reqwest::Client::builder()
            // A page goes where it was configured to, and a redirect could lead inside.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would be resolved and connected to instead of the destination.
            .no_proxy()
            .dns_resolver(Guarded(rules.clone()))
            .connect_timeout(connect_timeout)
            .build()
            .expect("an HTTP client with the built-in TLS roots");
        Self { rules, client }
    }

    /// Refuses at once, as a bad `field`, an address that could never be reached.
    pub fn check_field(&self, field: &str, url: &str) -> Result<(), ApiError> {
        self.rules
            .check_url(url)
            .map_err(|r| ApiError::invalid(field, r.to_string()))
    }

    /// A request to `url` (a runbook's HTTP step), or why it may not be made.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        self.rules.check_url(url)?;
        Ok(self.client.request(method, url))
    }

    /// A POST to `url`, or why it may not be made.
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        self.rules.check_url(url)?;
        Ok(self.client.post(url))
    }
}

/// The refusal inside a client error, when the resolver refused the destination.
pub fn refusal(e: &reqwest::Error) -> Option<&Refused> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r);
        }
        source = s.source();
    }
    None
}

/// A client error in words, naming the destination by scheme and host only: the rest of a chat
/// or webhook URL is often its secret, and errors are stored and shown to others.
pub fn describe(e: reqwest::Error) -> String {
    if let Some(r) = refusal(&e) {
        return r.to_string();
    }
    let place = e.url().map(origin).unwrap_or_default();
    let e = e.without_url();
    // reqwest's own message hides the cause ("connection refused") in its sources.
    let mut why = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        why.push_str(&format!(": {s}"));
        source = s.source();
    }
    if place.is_empty() {
        why
    } else {
        format!("{why} ({place})")
    }
}

/// `https://hooks.slack.com/services/T/B/secret` → `https://hooks.slack.com`.
pub fn origin(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", url.scheme()),
        (Some(h), None) => format!("{}://{h}", url.scheme()),
        _ => url.scheme().to_owned(),
    }
}

/// Resolves names and passes on only addresses the rules allow. A name with any refused
/// address is refused whole: a name that mixes public and internal answers is not trusted.
struct Guarded(Arc<Rules>);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !rules.allows_host(&host) {
                for a in &addrs {
                    if let Some(why) = rules.refuses(a.ip()) {
                        let refused = Refused {
                            host: host.clone(),
                            address: Some(a.ip()),
                            why,
                        };
                        return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
                    }
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn normal_host(h: &str) -> String {
    h.trim_end_matches('.').to_ascii_lowercase()
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// What kind of internal address `ip` is, or `None` for a public one.
fn internal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private address",
        // 169.254.169.254 is where cloud metadata services answer.
        _ if ip.is_link_local() => "a link-local address (where cloud metadata services are)",
        _ if ip.is_multicast() => "a multicast address",
        (0, _, _) => "an unspecified address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (192, 0, 0) => "a reserved address",
        (198, 18..=19, _) => "a benchmarking address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // Addresses that carry an IPv4 address: judge that one (::ffff:127.0.0.1, NAT64, 6to4).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return internal_v4(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])));
    }
    if s[0] == 0x2002 {
        return internal_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    Some(match s[0] {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unspecified() => "an unspecified address",
        // ::a.b.c.d, the deprecated IPv4-compatible form.
        0 if s[1..6] == [0; 5] => "a reserved address",
        x if x & 0xfe00 == 0xfc00 => "a unique-local address",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        x if x & 0xffc0 == 0xfec0 => "a site-local address",
        x if x & 0xff00 == 0xff00 => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str]) -> Rules {
        Rules::new(&OutgoingSettings {
            allow: allow.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn internal_destinations_are_refused_in_every_spelling() {
        let r = rules(&[]);
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:a00:1::]/",
            "http://localhost:8080/",
            "http://LocalHost./",
            "http://app.localhost/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[::]/",
        ] {
            assert!(r.check_url(url).is_err(), "{url} must be refused");
        }
        for url in [
            "https://hooks.slack.com/services/T/B/x",
            "http://93.184.215.14/",
            "http://[2606:4700::1111]/",
            "http://172.32.0.1/",
            "http://metadata.google.internal/", // a name: refused when it resolves
        ] {
            assert!(r.check_url(url).is_ok(), "{url} is allowed");
        }
    }

    #[test]
    fn an_admin_can_allow_networks_and_hosts() {
        let r = rules(&["10.20.0.0/16", "127.0.0.1", "hooks.internal", "fd00::/8"]);
        assert!(r.check_url("http://10.20.3.4/").is_ok());
        assert!(r.check_url("http://10.21.3.4/").is_err());
        assert!(r.check_url("http://127.0.0.1:9000/").is_ok());
        assert!(r.check_url("http://127.0.0.2/").is_err());
        assert!(r.check_url("http://[fd00::1]/").is_ok());
        assert!(r.allows_host("Hooks.Internal."));
        assert!(
            Rules::new(&OutgoingSettings {
                allow: vec!["not a network!".into()]
            })
            .is_err()
        );
    }

    #[tokio::test]
    async fn names_are_checked_on_the_addresses_they_resolve_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        let url = format!("http://localhost:{port}/hook/secret");
        // The client itself, past the literal check: the resolver must refuse.
        let refused = Outgoing::new(rules(&[]), Duration::from_secs(2));
        let e = refused.client.post(&url).send().await.unwrap_err();
        let r = refusal(&e).expect("refused by the resolver");
        assert!(r.to_string().contains("resolves to 127.0.0.1"), "{r}");
        assert!(!describe(e).contains("secret"));
        // Allowed by network or by name, it goes through.
        for allow in ["127.0.0.0/8", "localhost"] {
            let allowed = Outgoing::new(rules(&[allow]), Duration::from_secs(2));
            let r = allowed.post(&url).unwrap().send().await.unwrap();
            assert_eq!(r.status(), 204, "allowed by {allow}");
        }
    }

    #[test]
    fn errors_name_the_host_not_the_secret_path() {
        let url = reqwest::Url::parse("https://hooks.slack.com/services/T0/B0/s3cr3t").unwrap();
        assert_eq!(origin(&url), "https://hooks.slack.com");
        let url = reqwest::Url::parse("http://user:pw@10.0.0.1:8080/hook?token=x").unwrap();
        assert_eq!(origin(&url), "http://10.0.0.1:8080");
        let refused = rules(&[]).check_url("http://127.1/secret").unwrap_err();
        assert!(!refused.to_string().contains("secret"), "{refused}");
    }
}
