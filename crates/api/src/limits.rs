//! Rate limiting per token: a token bucket of `burst` requests refilled at
//! `per_minute`. A request over the limit gets 429 with `Retry-After`.

use std::collections::HashMap;
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

/// The buckets of every token seen.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `token`'s bucket.
    pub(crate) fn check(&self, token: Uuid) -> Result<()> {
        self.check_at(token, Instant::now())
    }

    fn check_at(&self, token: Uuid, now: Instant) -> Result<()> {
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
        let b = buckets.entry(token).or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
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
    fn a_burst_then_refill() {
        let l = Limiter::new(RateLimit {
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
        // one request per second refills
        l.check_at(t, now + Duration::from_millis(1010)).expect("refilled");
        assert!(l.check_at(t, now + Duration::from_millis(1020)).is_err());
    }
}
