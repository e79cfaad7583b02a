//! orbflow's Redis pieces.
//!
//! - [`lease`]: leases with fencing tokens ([`Leases`], [`Lease`]): acquire
//!   (`SET NX PX` + token), compare-and-extend renew, compare-and-delete
//!   release; the rules are in the module docs.
//! - `scripts` (private): every Lua script, loaded in one place, one file
//!   per script under `src/lua/` with its KEYS/ARGV header.
//! - `error`: [`Error`] and [`Result`].
//!
//! - [`queue`]: [`RedisQueue`], the fleet's step queue (batched `LPUSH` /
//!   blocking `BLMPOP`).

pub mod lease;
pub mod queue;

mod error;
mod scripts;

pub use error::{Error, Result};
pub use lease::{Lease, Leases};
pub use queue::{QUEUE_KEY, RedisQueue};
