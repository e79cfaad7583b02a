//! AI actions: GENERATE_CONTENT ([`crate::generate`]), ANALYZE_SENTIMENT
//! ([`crate::sentiment`], offline) and MODERATE_CONTENT
//! ([`crate::moderate`]).

use std::sync::Arc;

use crate::action::Action;
use crate::net::HttpPolicy;
use crate::spec::ActionSpec;

pub(crate) fn actions(p: &HttpPolicy) -> Vec<(ActionSpec, Arc<dyn Action>)> {
    vec![
        crate::generate::action(p),
        crate::sentiment::action(p),
        crate::moderate::action(p),
    ]
}
