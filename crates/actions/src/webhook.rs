//! webhook (being written)
use std::sync::Arc;
pub(crate) fn action(_p: &crate::net::HttpPolicy) -> crate::Result<(crate::ActionSpec, Arc<dyn crate::Action>)> { todo!() }
