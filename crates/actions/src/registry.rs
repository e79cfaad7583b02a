//! The registry: every action's spec and implementation, by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::action::{Action, ActionContext, ActionError, Outcome};
use crate::net::HttpPolicy;
use crate::spec::ActionSpec;
use crate::{ai, control, data, database, email, notifications, slack, social, webhook};

/// Settings the built-in actions take from the environment.
#[derive(Debug, Clone, Default)]
pub struct CatalogConfig {
    /// Rules for outgoing HTTP.
    pub http: HttpPolicy,
}

impl CatalogConfig {
    /// Reads `ORBFLOW_HTTP_ALLOW_PRIVATE` (true/1/yes allows loopback and
    /// private addresses; default false).
    pub fn from_env() -> Self {
        Self {
            http: HttpPolicy::from_env(),
        }
    }
}

struct Entry {
    spec: ActionSpec,
    action: Arc<dyn Action>,
}

/// Every action type, by catalog name.
pub struct Registry {
    entries: BTreeMap<&'static str, Entry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

impl Registry {
    /// The built-in catalog with `config`.
    pub fn builtin(config: &CatalogConfig) -> crate::Result<Self> {
        let mut r = Self {
            entries: BTreeMap::new(),
        };
        for (spec, action) in social::actions(&config.http)
            .into_iter()
            .chain(ai::actions(&config.http))
            .chain(data::actions())
            .chain(control::actions())
        {
            r.insert(spec, action);
        }
        let (spec, action) = webhook::action(&config.http)?;
        r.insert(spec, action);
        let (spec, action) = slack::action(&config.http);
        r.insert(spec, action);
        let (spec, action) = email::action(&config.http);
        r.insert(spec, action);
        let (spec, action) = database::action();
        r.insert(spec, action);
        let (spec, action) = notifications::action(&config.http);
        r.insert(spec, action);
        Ok(r)
    }

    /// The catalog's specs only (no HTTP client is built); for validation
    /// and docs.
    pub fn specs_only() -> crate::Result<Self> {
        Self::builtin(&CatalogConfig::default())
    }

    fn insert(&mut self, spec: ActionSpec, action: Arc<dyn Action>) {
        self.entries.insert(spec.name, Entry { spec, action });
    }

    /// The spec of `name`.
    pub fn spec(&self, name: &str) -> Option<&ActionSpec> {
        self.entries.get(name).map(|e| &e.spec)
    }

    /// Every spec, by name.
    pub fn specs(&self) -> impl Iterator<Item = &ActionSpec> {
        self.entries.values().map(|e| &e.spec)
    }

    /// The implementation of `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Action>> {
        self.entries.get(name).map(|e| e.action.clone())
    }

    /// Whether `name` is pure: it computes from its config alone, touches
    /// nothing outside the run and finishes in microseconds (TRANSFORM,
    /// LOG_EVENT, DELAY, the offline ANALYZE_SENTIMENT). A worker runs such
    /// steps inline, with no queue hop, and records them in its next batch;
    /// running one twice after a crash is harmless.
    pub fn is_pure(&self, name: &str) -> bool {
        PURE.contains(&name) && self.entries.contains_key(name)
    }

    /// Whether a step of `name` with `config` (as written, templates
    /// unresolved) is pure: [`Registry::is_pure`], unless that config needs
    /// a connection (ANALYZE_SENTIMENT with `provider: llm`): a step that
    /// reaches a provider calls out, so it goes through the queue like any
    /// other call.
    pub fn is_pure_step(&self, name: &str, config: Option<&Value>) -> bool {
        self.is_pure(name)
            && self
                .spec(name)
                .and_then(|s| s.connection)
                .is_none_or(|u| u.kind_for(config).is_none())
    }

    /// Runs one attempt of `name`.
    pub async fn execute(&self, name: &str, ctx: ActionContext) -> Result<Outcome, ActionError> {
        match self.get(name) {
            Some(a) => a.execute(ctx).await,
            None => Err(ActionError::fatal(format!("unknown action `{name}`"))),
        }
    }
}

impl orbflow_model::ActionSchemas for Registry {
    fn config_schema(&self, action: &str) -> Option<&Value> {
        self.spec(action).map(|s| &s.config_schema)
    }

    fn is_block(&self, action: &str) -> bool {
        self.spec(action).is_some_and(|s| s.block)
    }

    fn names(&self) -> Vec<&str> {
        self.entries.keys().copied().collect()
    }
}

/// The pure actions ([`Registry::is_pure`]).
pub(crate) const PURE: [&str; 4] = ["TRANSFORM", "LOG_EVENT", "DELAY", "ANALYZE_SENTIMENT"];

#[cfg(test)]
mod tests {
    use super::*;
    use orbflow_model::ActionSchemas;

    #[test]
    fn catalog_has_the_sixteen_action_types() {
        let r = Registry::specs_only().unwrap();
        let names = r.names();
        for n in [
            "POST_TO_SOCIAL",
            "SCHEDULE_POST",
            "REPLY_TO_COMMENT",
            "SEND_EMAIL",
            "SEND_SLACK_MESSAGE",
            "CREATE_NOTIFICATION",
            "GENERATE_CONTENT",
            "ANALYZE_SENTIMENT",
            "MODERATE_CONTENT",
            "UPDATE_DATABASE",
            "LOG_EVENT",
            "TRIGGER_WEBHOOK",
            "DELAY",
            "CONDITIONAL_BRANCH",
            "LOOP",
            "TRANSFORM",
        ] {
            assert!(names.contains(&n), "{n} missing");
        }
        assert_eq!(names.len(), 16);
    }

    #[test]
    fn every_example_validates_against_its_schema() {
        let r = Registry::specs_only().unwrap();
        for s in r.specs() {
            jsonschema::validator_for(&s.config_schema).unwrap_or_else(|e| panic!("{}: bad schema: {e}", s.name));
            // the validator's own check, with the catalog's formats asserted
            let mut d = orbflow_model::Diagnostics::default();
            orbflow_model::validate::config::check_config(&s.example, &s.config_schema, "config", &mut d);
            assert!(d.is_empty(), "{}: example invalid: {d:?}", s.name);
            assert!(!s.description.is_empty() && !s.output.is_empty(), "{}", s.name);
        }
    }

    #[test]
    fn only_computing_actions_run_inline() {
        let r = Registry::specs_only().unwrap();
        for n in ["TRANSFORM", "LOG_EVENT", "DELAY", "ANALYZE_SENTIMENT"] {
            assert!(r.is_pure(n), "{n}");
        }
        // a sentiment step that asks the model calls out: not inline
        let offline = serde_json::json!({"text": "x"});
        let model = serde_json::json!({"text": "x", "provider": "llm"});
        assert!(r.is_pure_step("ANALYZE_SENTIMENT", Some(&offline)));
        assert!(!r.is_pure_step("ANALYZE_SENTIMENT", Some(&model)));
        assert!(
            r.is_pure_step("TRANSFORM", Some(&model)),
            "only sentiment reads `provider`"
        );
        assert!(!r.is_pure_step("TRIGGER_WEBHOOK", None));
        for n in [
            "TRIGGER_WEBHOOK",
            "SEND_EMAIL",
            "UPDATE_DATABASE",
            "GENERATE_CONTENT",
            "LOOP",
            "NOPE",
        ] {
            assert!(!r.is_pure(n), "{n} has effects (or is no action)");
        }
    }

    #[tokio::test]
    async fn unknown_actions_fail_fatally() {
        let r = Registry::specs_only().unwrap();
        assert!(r.specs().all(|s| s.implemented), "every action executes");
        let (ctx, _) = ActionContext::for_test(serde_json::json!({}));
        let err = r.execute("NOPE", ctx).await.unwrap_err();
        assert_eq!(err, ActionError::fatal("unknown action `NOPE`"));
    }
}
