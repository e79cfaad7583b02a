//! Leases in Redis with fencing tokens.
//!
//! Rules (after River's leadership module and Kleppmann's fencing tokens):
//!
//! - **Acquire** is `SET NX PX` done by a Lua script that also takes the next
//!   value of a deployment-wide counter: the *fencing token*. Tokens only
//!   grow, so a newer holder always carries a larger token.
//! - **Trust window**: a holder may act as the holder only until
//!   `acquired + ttl − safety margin` (clocks drift, pauses happen). After
//!   that it must renew first.
//! - **Renew** and **release** act only on the exact value the holder put
//!   there (`owner|token`): a holder whose lease expired and was taken can
//!   neither extend nor delete the new holder's lease.
//! - Redis alone is not enough for correctness: every database write a lease
//!   protects carries the token and is a compare-and-set on it (the engine's
//!   step write-backs do this), so a paused process that wakes up after its
//!   lease moved on is fenced off by the database, not by Redis.
//!
//! Keys live under a configurable prefix so several deployments or tests
//! share one server: `{prefix}lease:{name}` and `{prefix}lease-token`.

use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::{Result, scripts};

/// A held lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Lease name (e.g. `scheduler-leader`).
    pub name: String,
    /// Holder.
    pub owner: String,
    /// Fencing token.
    pub token: i64,
    ttl: Duration,
    margin: Duration,
    renewed_at: Instant,
}

impl Lease {
    /// Until when the holder may act without renewing.
    pub fn trusted_until(&self) -> Instant {
        self.renewed_at + self.ttl.saturating_sub(self.margin)
    }

    /// Whether the holder may still act.
    pub fn is_trusted(&self) -> bool {
        Instant::now() < self.trusted_until()
    }

    fn value(&self) -> String {
        format!("{}|{}", self.owner, self.token)
    }
}

/// Acquires, renews and releases leases.
#[derive(Clone)]
pub struct Leases {
    conn: ConnectionManager,
    prefix: String,
    margin: Duration,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Leases {
    /// Leases on `conn` under `prefix`; holders stop trusting a lease
    /// `safety_margin` before it expires.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>, safety_margin: Duration) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            margin: safety_margin,
        }
    }

    /// Connects to `url` (`redis://…`).
    pub async fn connect(url: &str, prefix: impl Into<String>, safety_margin: Duration) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client).await?;
        Ok(Self::new(conn, prefix, safety_margin))
    }

    fn key(&self, name: &str) -> String {
        format!("{}lease:{name}", self.prefix)
    }

    fn counter(&self) -> String {
        format!("{}lease-token", self.prefix)
    }

    /// Takes `name` for `ttl` if nobody holds it.
    pub async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        let renewed_at = Instant::now();
        let token: Option<i64> = scripts::acquire()
            .key(self.key(name))
            .key(self.counter())
            .arg(owner)
            .arg(millis(ttl))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(token.map(|token| Lease {
            name: name.to_owned(),
            owner: owner.to_owned(),
            token,
            ttl,
            margin: self.margin,
            renewed_at,
        }))
    }

    /// Extends a held lease; `false` when it was lost (the holder must stop).
    pub async fn renew(&self, lease: &mut Lease) -> Result<bool> {
        let at = Instant::now();
        let ok: i64 = scripts::renew()
            .key(self.key(&lease.name))
            .arg(lease.value())
            .arg(millis(lease.ttl))
            .invoke_async(&mut self.conn.clone())
            .await?;
        if ok == 1 {
            lease.renewed_at = at;
        }
        Ok(ok == 1)
    }

    /// Gives a lease up; `false` when it was no longer held.
    pub async fn release(&self, lease: Lease) -> Result<bool> {
        let ok: i64 = scripts::release()
            .key(self.key(&lease.name))
            .arg(lease.value())
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(ok == 1)
    }

    /// Remaining time to live of `name` in Redis, if held.
    pub async fn ttl(&self, name: &str) -> Result<Option<Duration>> {
        let ms: i64 = redis::cmd("PTTL")
            .arg(self.key(name))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }
}
