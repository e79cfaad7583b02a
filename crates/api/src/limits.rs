//! Rate limiting: a token bucket of `burst` requests refilled at
//! `per_minute`, per key (a token, a workflow's webhooks, a client address
//! that failed to authenticate). A request over the limit gets 429 with
//! `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

use uuid::Uuid;

use crate::{Error, Result};

/// Limits of one token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests that may arrive at once.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_minute: 1200,
            burst: 200,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every key seen.
#[derive(Debug)]
pub(crate) struct Limiter<K = Uuid> {
    limit: RateLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// The key of a client address: an IPv4 address, or the /64 of an IPv6 one
/// (a single host is usually given a whole /64, so counting addresses inside
/// it would let it rotate past the limit). IPv4-mapped IPv6 is IPv4.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl<K: Hash + Eq> Limiter<K> {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket.
    pub(crate) fn check(&self, key: K) -> Result<()> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: K, now: Instant) -> Result<()> {
        self.take_at(key, now, 1.0)
    }

    fn take_at(&self, key: K, now: Instant, cost: f64) -> Result<()> {
        let rate = f64::from(self.limit.per_minute.max(1)) / 60.0;
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| Error::Internal("rate limiter lock poisoned".into()))?;
        if buckets.len() > 100_000 {
            // bounded memory: forget full buckets
            buckets.retain(|_, b| b.tokens < burst);
        }
        let b = buckets.entry(key).or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= cost;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / rate).ceil();
            // at least 1 s, and representable
            let retry_after = if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            };
            Err(Error::RateLimited { retry_after })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn client_keys_group_an_ipv6_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_ne!(
            client_key("192.0.2.7".parse().unwrap()),
            client_key("192.0.2.8".parse().unwrap())
        );
    }

    #[test]
    fn a_burst_then_refill() {
        let l: Limiter = Limiter::new(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        let t = Uuid::now_v7();
        let other = Uuid::now_v7();
        let now = Instant::now();
        for _ in 0..3 {
            l.check_at(t, now).expect("within the burst");
        }
        match l.check_at(t, now) {
            Err(Error::RateLimited { retry_after }) => assert_eq!(retry_after, 1),
            other => panic!("expected 429, got {other:?}"),
        }
        // another token has its own bucket
        l.check_at(other, now).expect("separate bucket");
        l.check_at(other, now).expect("two left");
        // one request per second refills
        l.check_at(t, now + Duration::from_millis(1010)).expect("refilled");
        assert!(l.check_at(t, now + Duration::from_millis(1020)).is_err());
    }
}
