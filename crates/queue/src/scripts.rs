//! Every Lua script, loaded in one place. Each multi-key Redis mutation is
//! one script, with its KEYS/ARGV contract in the file's header.

use std::sync::OnceLock;

use redis::Script;

/// `lua/acquire.lua`: SET NX PX with a new fencing token.
pub(crate) fn acquire() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(include_str!("lua/acquire.lua")))
}

/// `lua/renew.lua`: compare-and-extend.
pub(crate) fn renew() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(include_str!("lua/renew.lua")))
}

/// `lua/release.lua`: compare-and-delete.
pub(crate) fn release() -> &'static Script {
    static S: OnceLock<Script> = OnceLock::new();
    S.get_or_init(|| Script::new(include_str!("lua/release.lua")))
}
