//! One module per subcommand.

pub(crate) mod actions;
pub(crate) mod api;
pub(crate) mod client;
pub(crate) mod connections;
pub(crate) mod cron;
pub(crate) mod dev;
pub(crate) mod fleet;
pub(crate) mod fmt;
pub(crate) mod graph;
pub(crate) mod migrate;
pub(crate) mod run;
pub(crate) mod runs_view;
pub(crate) mod scheduler;
pub(crate) mod schema;
pub(crate) mod secrets;
pub(crate) mod token;
pub(crate) mod validate;
pub(crate) mod worker;
