//! [`Traced`]: reports the spans of finished runs, then hands the effects on.

use std::sync::Arc;

use orbflow_engine::{Effects, queue::Dispatch};

/// A [`Dispatch`] that reports the span of every run its effects finished
/// (see [`run_ended`](crate::run_ended)) before handing them to the one it
/// wraps. The API and the scheduler use it; a worker reports its own.
pub struct Traced(pub Arc<dyn Dispatch>);

#[async_trait::async_trait]
impl Dispatch for Traced {
    async fn apply(&self, effects: Effects) {
        for f in &effects.finished {
            crate::run_ended(f);
        }
        self.0.apply(effects).await;
    }
}
