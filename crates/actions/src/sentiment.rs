//! sentiment (being written)
use std::sync::Arc;
pub(crate) fn action() -> (crate::ActionSpec, Arc<dyn crate::Action>) { todo!() }
