//! orbflow's Redis pieces.
//!
//! - [`lease`]: leases with fencing tokens ([`Leases`], [`Lease`]): acquire
//!   (`SET NX PX` + token), compare-and-extend renew, compare-and-delete
//!   release; the rules are in the module docs.
//! - `scripts` (private): every Lua script, loaded in one place, one file
//!   per script under `src/lua/` with its KEYS/ARGV header.
//! - `error`: [`Error`] and [`Result`].
//!
//! The Redis step queue (apalis-redis) arrives with the fleet.

pub mod lease;

mod error;
mod scripts;

pub use error::{Error, Result};
pub use lease::{Lease, Leases};
