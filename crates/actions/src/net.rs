//! Outgoing HTTP that refuses to reach non-public addresses.
//!
//! A workflow author controls the URLs an action calls, so without a guard a
//! workflow could probe the worker's own network: loopback services, the
//! cloud metadata endpoint (169.254.169.254), databases on private subnets.
//! Unless [`HttpPolicy::allow_private`] is set (`ORBFLOW_HTTP_ALLOW_PRIVATE`),
//! the [`client`] built here:
//!
//! - resolves names with a resolver that drops every address for which
//!   [`is_disallowed`] holds and fails when none remains, so the connection
//!   goes to an address that was checked (a DNS answer that changes between
//!   a check and the connect, "DNS rebinding", cannot reach a private
//!   address: there is no separate check);
//! - refuses `localhost` and `*.localhost` names (any case, trailing dot or
//!   not) before any lookup, in the resolver and in [`check_url`];
//! - is paired with [`check_url`], which callers run before sending to
//!   refuse literal-IP hosts (those never reach a resolver) and local names;
//! - re-checks every redirect target the same way and follows at most
//!   [`MAX_REDIRECTS`] redirects;
//! - uses no proxy (a proxy would resolve names on our behalf) and sends no
//!   `Referer` (it could carry a previous URL's query string).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// The environment variable that allows private addresses.
pub const ALLOW_PRIVATE_ENV: &str = "ORBFLOW_HTTP_ALLOW_PRIVATE";

/// Redirects followed at most per request.
pub const MAX_REDIRECTS: usize = 5;

/// Rules for outgoing HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Allow loopback, private, link-local and other non-public addresses
    /// (tests and local stubs). Default: false.
    pub allow_private: bool,
}

impl HttpPolicy {
    /// Reads `ORBFLOW_HTTP_ALLOW_PRIVATE`: `true`, `1` or `yes` (any case)
    /// allows private addresses; anything else, or unset, refuses them.
    pub fn from_env() -> Self {
        let allow_private = std::env::var(ALLOW_PRIVATE_ENV).is_ok_and(|v| parse_flag(&v));
        Self { allow_private }
    }
}

fn parse_flag(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

/// Whether outgoing HTTP must not connect to `ip` (unless private addresses
/// are allowed): loopback, unspecified, private (10/8, 172.16/12,
/// 192.168/16), link-local (169.254/16 with the cloud metadata endpoint,
/// fe80::/10), shared/CGNAT (100.64/10), multicast, broadcast and reserved,
/// documentation and benchmarking ranges, unique-local (fc00::/7) and
/// site-local IPv6, every IPv6 form that embeds one of those IPv4
/// addresses (IPv4-mapped, IPv4-compatible, IPv4-translated/SIIT, NAT64,
/// 6to4), local-use NAT64 and all of Teredo (2001::/32).
pub fn is_disallowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_disallowed(v4),
        IpAddr::V6(v6) => v6_disallowed(v6),
    }
}

fn v4_disallowed(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0                                    // "this network", incl. unspecified
        || a == 10                            // private
        || a == 127                           // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)             // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)     // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)     // documentation (TEST-NET-1)
        || (a == 192 && b == 88 && c == 99)   // 6to4 relay anycast
        || (a == 192 && b == 168)             // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100)  // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113)   // documentation (TEST-NET-3)
        || a >= 224 // multicast (224/4), reserved (240/4), broadcast
}

fn v6_disallowed(ip: Ipv6Addr) -> bool {
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    let s = ip.segments();
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible
    // (::a.b.c.d) forms.
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return v4_disallowed(embedded_v4(s[6], s[7]));
    }
    // IPv4-translated (SIIT, ::ffff:0:a.b.c.d, ::ffff:0:0/96).
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return v4_disallowed(embedded_v4(s[6], s[7]));
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_disallowed(embedded_v4(s[6], s[7]));
    }
    // Local-use NAT64 (64:ff9b:1::/48) is private by definition.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return true;
    }
    // 6to4 (2002::/16) embeds an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return v4_disallowed(embedded_v4(s[1], s[2]));
    }
    // Teredo (2001::/32) tunnels to an IPv4 address hidden in the last 32
    // bits (inverted) behind a relay; nothing a webhook should call lives
    // there, so the whole prefix is refused whatever it embeds.
    if s[0] == 0x2001 && s[1] == 0 {
        return true;
    }
    (s[0] & 0xfe00) == 0xfc00          // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80   // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0   // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00   // multicast ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x3fff && s[1] < 0x1000)  // documentation 3fff::/20
        || s[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
}

/// Whether a host name is reserved for the local machine (RFC 6761):
/// `localhost` and every name under `.localhost`, in any case, with or
/// without the trailing dot. Such names are refused before any lookup: the
/// system resolver answers them from `/etc/hosts` or by itself, and what
/// it answers is not ours to trust.
pub fn is_local_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    let name = name.as_bytes();
    let tail = b"localhost";
    name.len() >= tail.len()
        && name[name.len() - tail.len()..].eq_ignore_ascii_case(tail)
        && (name.len() == tail.len() || name[name.len() - tail.len() - 1] == b'.')
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// The error of a connection refused by the policy. It travels inside
/// `reqwest::Error`'s source chain; find it with [`refusal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedAddress {
    message: String,
}

impl RefusedAddress {
    fn new(target: &str, what: &str) -> Self {
        Self {
            message: format!(
                "refused to connect to {target}: {what} a loopback, private, link-local or \
                 otherwise non-public address (set {ALLOW_PRIVATE_ENV}=true to allow that)"
            ),
        }
    }

    /// The explanation, naming `ORBFLOW_HTTP_ALLOW_PRIVATE`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for RefusedAddress {}

/// The redirect limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRedirects;

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many redirects (at most {MAX_REDIRECTS} are followed)")
    }
}

impl StdError for TooManyRedirects {}

/// A redirect to a URL that is not http or https, or has no host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadRedirect(String);

impl fmt::Display for BadRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect refused: {}", self.0)
    }
}

impl StdError for BadRedirect {}

/// Finds a policy refusal in an error's source chain.
pub fn refusal<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a RefusedAddress> {
    find_in_chain(err)
}

/// Whether an error's source chain holds [`TooManyRedirects`].
pub fn is_too_many_redirects(err: &(dyn StdError + 'static)) -> bool {
    find_in_chain::<TooManyRedirects>(err).is_some()
}

fn find_in_chain<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

enum UrlProblem {
    Refused(RefusedAddress),
    Invalid(String),
}

impl UrlProblem {
    fn message(self) -> String {
        match self {
            Self::Refused(r) => r.message,
            Self::Invalid(m) => m,
        }
    }
}

fn check(policy: &HttpPolicy, url: &Url) -> Result<(), UrlProblem> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(UrlProblem::Invalid(format!(
                "unsupported URL scheme `{other}` (only http and https)"
            )));
        }
    }
    let ip = match url.host() {
        None => return Err(UrlProblem::Invalid("the URL has no host".to_owned())),
        Some(Host::Domain(d)) => {
            if !policy.allow_private && is_local_name(d) {
                return Err(UrlProblem::Refused(RefusedAddress::new(&format!("`{d}`"), "it names")));
            }
            return Ok(());
        }
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    if !policy.allow_private && is_disallowed(ip) {
        return Err(UrlProblem::Refused(RefusedAddress::new(&ip.to_string(), "it is")));
    }
    Ok(())
}

/// Checks a URL before it is requested: the scheme must be http or https,
/// and (unless private addresses are allowed) a literal-IP host must be
/// public and a host name must not be `localhost` or under `.localhost`
/// ([`is_local_name`]). Other host names are checked by the client's
/// resolver at connect time.
pub fn check_url(policy: &HttpPolicy, url: &Url) -> Result<(), String> {
    check(policy, url).map_err(UrlProblem::message)
}

/// The resolver that drops disallowed addresses.
#[derive(Debug, Clone)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if !allow_private && is_local_name(&host) {
                return Err(Box::new(RefusedAddress::new(&format!("`{host}`"), "it names")) as _);
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.is_empty() {
                return Err(format!("`{host}` resolved to no address").into());
            }
            let kept: Vec<SocketAddr> = if allow_private {
                found
            } else {
                found.into_iter().filter(|a| !is_disallowed(a.ip())).collect()
            };
            if kept.is_empty() {
                return Err(Box::new(RefusedAddress::new(&format!("`{host}`"), "it resolves only to")) as _);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

fn redirect_policy(policy: &HttpPolicy) -> reqwest::redirect::Policy {
    let policy = policy.clone();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        match check(&policy, attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(UrlProblem::Refused(r)) => attempt.error(r),
            Err(UrlProblem::Invalid(m)) => attempt.error(BadRedirect(m)),
        }
    })
}

/// Installs the ring crypto provider as the process default unless one is
/// installed already (reqwest is built without a provider of its own).
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A client builder with the policy applied (resolver, redirect policy, no
/// proxy, no `Referer`). Callers may add settings before building; the
/// policy only holds if they keep the resolver and redirect policy.
pub fn client_builder(policy: &HttpPolicy) -> reqwest::ClientBuilder {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: policy.allow_private,
        }))
        .redirect(redirect_policy(policy))
        .no_proxy()
        .referer(false)
        .user_agent(concat!("orbflow/", env!("CARGO_PKG_VERSION")))
}

/// An HTTP client that obeys `policy`. Pair every request with
/// [`check_url`].
pub fn client(policy: &HttpPolicy) -> crate::Result<reqwest::Client> {
    client_builder(policy)
        .build()
        .map_err(|e| crate::Error::HttpClient(e.to_string()))
}

/// An action's HTTP client, built on first use (a catalog that only
/// validates never builds one), with the policy it obeys.
pub struct LazyClient {
    policy: HttpPolicy,
    cell: std::sync::OnceLock<Result<reqwest::Client, String>>,
}

impl fmt::Debug for LazyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl LazyClient {
    /// A client obeying `policy`, built on first use.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            policy: policy.clone(),
            cell: std::sync::OnceLock::new(),
        }
    }

    /// `client` itself, which should come from [`client_builder`] with the
    /// same `policy`.
    pub fn with_client(policy: &HttpPolicy, client: reqwest::Client) -> Self {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(Ok(client));
        Self {
            policy: policy.clone(),
            cell,
        }
    }

    /// The policy (to [`check_url`] a request's URL).
    pub fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    /// The client, or why it could not be built.
    pub fn get(&self) -> Result<&reqwest::Client, String> {
        self.cell
            .get_or_init(|| client(&self.policy).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> bool {
        is_disallowed(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn ipv4_classification() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.99",
            "198.18.0.1",
            "192.0.0.8",
        ] {
            assert!(v4(ip), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "192.169.0.1",
            "11.0.0.1",
            "126.255.255.255",
            "223.255.255.255",
            "198.20.0.1",
        ] {
            assert!(!v4(ip), "{ip} is public");
        }
    }

    #[test]
    fn ipv6_classification() {
        for ip in [
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "64:ff9b:1::1",
        ] {
            assert!(v4(ip), "{ip} must be refused");
        }
        for ip in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001:80b::200e",
        ] {
            assert!(!v4(ip), "{ip} is public");
        }
    }

    #[test]
    fn ipv6_embedding_ipv4_is_classified_by_the_ipv4_address() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
        ] {
            assert!(v4(ip), "{ip} must be refused");
        }
        for ip in ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"] {
            assert!(!v4(ip), "{ip} is public");
        }
    }

    #[test]
    fn siit_translated_addresses_are_classified_by_their_ipv4_address() {
        for ip in [
            "::ffff:0:127.0.0.1",
            "::ffff:0:7f00:1",
            "::ffff:0:10.0.0.1",
            "::ffff:0:169.254.169.254",
            "::ffff:0:192.168.1.1",
            "::ffff:0:0.0.0.0",
        ] {
            assert!(v4(ip), "{ip} must be refused");
        }
        assert!(!v4("::ffff:0:8.8.8.8"), "a public IPv4 address stays public");
    }

    #[test]
    fn nat64_and_6to4_with_private_ipv4_are_refused() {
        for ip in [
            "64:ff9b::127.0.0.1",
            "64:ff9b::192.168.0.1",
            "64:ff9b::172.16.0.1",
            "64:ff9b::100.64.0.1",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::",
            "2002:ac10:1::1",
            "2002:0:0::1",
        ] {
            assert!(v4(ip), "{ip} must be refused");
        }
        for ip in ["64:ff9b::1.1.1.1", "2002:101:101::1"] {
            assert!(!v4(ip), "{ip} is public");
        }
    }

    #[test]
    fn teredo_is_refused_whatever_it_embeds() {
        // server 65.54.227.120, client 192.168.1.1 and 8.8.8.8 (inverted)
        for ip in [
            "2001:0:4136:e378:8000:63bf:3f57:fefe",
            "2001:0:4136:e378::f7f7:f7f7",
            "2001::1",
        ] {
            assert!(v4(ip), "{ip} must be refused");
        }
        for ip in ["2001:1::1", "2001:4860::1", "2001:470:1::1"] {
            assert!(!v4(ip), "{ip} is not Teredo");
        }
    }

    #[test]
    fn local_names() {
        for h in [
            "localhost",
            "localhost.",
            "LOCALHOST",
            "LocalHost.",
            "a.localhost",
            "x.y.localhost.",
            "API.LOCALHOST",
        ] {
            assert!(is_local_name(h), "{h}");
        }
        for h in [
            "example.com",
            "localhost.com",
            "notlocalhost",
            "mylocalhost.",
            "localhost.example",
            "",
        ] {
            assert!(!is_local_name(h), "{h}");
        }
    }

    #[test]
    fn urls_naming_localhost_are_refused_without_a_lookup() {
        let deny = HttpPolicy::default();
        let allow = HttpPolicy { allow_private: true };
        for s in [
            "http://localhost/",
            "http://localhost./",
            "http://LOCALHOST:8080/",
            "http://evil.localhost/x",
            "http://Evil.LocalHost./x",
        ] {
            let url = Url::parse(s).unwrap();
            let e = check_url(&deny, &url).unwrap_err();
            assert!(e.contains("it names") && e.contains(ALLOW_PRIVATE_ENV), "{s}: {e}");
            assert!(check_url(&allow, &url).is_ok(), "{s}");
        }
        assert!(check_url(&deny, &Url::parse("http://localhost.example.com/").unwrap()).is_ok());
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_hosts() {
        let deny = HttpPolicy::default();
        let allow = HttpPolicy { allow_private: true };
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&deny, &u("https://example.com/x")).is_ok());
        assert!(check_url(&deny, &u("http://8.8.8.8:8080/")).is_ok());
        for s in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:7f00:1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://10.1/",
        ] {
            let e = check_url(&deny, &u(s)).unwrap_err();
            assert!(e.contains(ALLOW_PRIVATE_ENV), "{s}: {e}");
            assert!(check_url(&allow, &u(s)).is_ok(), "{s}");
        }
        let e = check_url(&allow, &u("ftp://example.com/")).unwrap_err();
        assert!(e.contains("scheme `ftp`"), "{e}");
        assert!(check_url(&allow, &u("file:///etc/passwd")).is_err());
    }

    #[test]
    fn flag_parsing() {
        for v in ["true", "TRUE", "1", "yes", " Yes "] {
            assert!(parse_flag(v), "{v}");
        }
        for v in ["", "false", "0", "no", "on", "y"] {
            assert!(!parse_flag(v), "{v}");
        }
    }

    #[tokio::test]
    async fn resolver_drops_private_addresses() {
        let deny = GuardedResolver { allow_private: false };
        let e = match deny.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(e) => e,
        };
        let r = refusal(e.as_ref()).expect("a refusal");
        assert!(r.message().contains("`localhost`"), "{r}");
        assert!(r.message().contains(ALLOW_PRIVATE_ENV), "{r}");
        // refused by name, before any lookup: a name no resolver knows
        // would otherwise fail as a lookup error, not as a refusal
        for name in ["no-such-host-zz9.localhost.", "LOCALHOST.", "Api.LocalHost"] {
            let e = match deny.resolve(name.parse().unwrap()).await {
                Ok(a) => panic!("{name} must be refused, got {:?}", a.collect::<Vec<_>>()),
                Err(e) => e,
            };
            let r = refusal(e.as_ref()).unwrap_or_else(|| panic!("{name}: not a refusal: {e}"));
            assert!(r.message().contains("it names"), "{name}: {r}");
        }
        let allow = GuardedResolver { allow_private: true };
        let addrs: Vec<_> = match allow.resolve("localhost".parse().unwrap()).await {
            Ok(a) => a.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    #[test]
    fn client_builds() {
        client(&HttpPolicy::default()).unwrap();
        client(&HttpPolicy { allow_private: true }).unwrap();
    }
}
