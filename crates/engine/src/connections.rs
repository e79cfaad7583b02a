//! The workspace connection an attempt uses: found by name or as the
//! workspace's default of the action's kind, else the operator-wide one of
//! the kind (`ORBFLOW_CONNECTION_<KIND>`); its `{{ secrets.NAME }}`
//! credentials resolved like a config's (the run's workspace first, then
//! the operator-wide fallback), with no database lock held.

use std::collections::HashMap;

use orbflow_actions::ActionError;
use orbflow_model::expr::EvalContext;
use orbflow_model::expr::template::render_value_with;
use serde_json::{Value, json};

use crate::engine::{Claimed, Engine, EngineConfig, off_runtime};

/// The prefix of the operator-wide connections' variables.
pub const CONNECTION_ENV_PREFIX: &str = "ORBFLOW_CONNECTION_";

impl EngineConfig {
    /// Operator-wide connections from `ORBFLOW_CONNECTION_<KIND>` variables
    /// (`ORBFLOW_CONNECTION_SMTP='{"host": …, "from": …}'`: the kind's
    /// default) and `ORBFLOW_CONNECTION_<KIND>__<NAME>` (a named one, for
    /// steps that name theirs: `ORBFLOW_CONNECTION_MASTODON__BRAND` is
    /// `accountId: brand`), each checked against its kind's schema: an
    /// unknown kind or bad settings is an error naming the variable. Keys:
    /// `kind`, and `kind/name` for named ones.
    pub fn connections_from_env() -> Result<HashMap<String, Value>, String> {
        let mut out = HashMap::new();
        for (var, text) in std::env::vars() {
            let Some(rest) = var.strip_prefix(CONNECTION_ENV_PREFIX) else {
                continue;
            };
            let (kind, name) = match rest.split_once("__") {
                Some((k, n)) if !n.is_empty() => (k.to_ascii_lowercase(), Some(env_name(n))),
                _ => (rest.to_ascii_lowercase(), None),
            };
            let Some(spec) = orbflow_actions::connections::kind(&kind) else {
                let known: Vec<&str> = orbflow_actions::connections::kinds().iter().map(|k| k.name).collect();
                return Err(format!(
                    "{var}: no connection kind `{kind}` (kinds: {})",
                    known.join(", ")
                ));
            };
            let settings: Value = serde_json::from_str(&text).map_err(|e| format!("{var} is not JSON: {e}"))?;
            let mut d = orbflow_model::Diagnostics::default();
            orbflow_model::validate::config::check_config(&settings, &spec.schema, "", &mut d);
            if let Some(p) = d.0.first() {
                return Err(format!(
                    "{var}: {}{}",
                    if p.path.is_empty() {
                        String::new()
                    } else {
                        format!("{}: ", p.path)
                    },
                    p.message
                ));
            }
            match name {
                Some(n) => out.insert(format!("{kind}/{n}"), settings),
                None => out.insert(kind, settings),
            };
        }
        Ok(out)
    }
}

/// A connection name as its variable spells it, and as a step names it:
/// lower case, `_` and `-` alike.
fn env_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

impl Engine {
    /// The operator-wide connection of `kind`, if one is configured.
    pub fn fallback_connection(&self, kind: &str) -> Option<&Value> {
        self.config.connections.get(kind)
    }

    /// The operator-wide connection of `kind` named `name`
    /// (`ORBFLOW_CONNECTION_<KIND>__<NAME>`), if one is configured.
    pub fn fallback_named(&self, kind: &str, name: &str) -> Option<&Value> {
        self.config.connections.get(&format!("{kind}/{}", env_name(name)))
    }
}

/// A connection ready for an attempt.
#[derive(Debug)]
pub struct ResolvedConnection {
    /// Its name.
    pub name: String,
    /// Its settings with every credential resolved.
    pub settings: Value,
    /// The secret values it holds (to hide from what the attempt returns).
    pub secrets: Vec<String>,
}

impl Engine {
    /// The connection of `kind` an attempt uses: `name` (a missing one is a
    /// fatal error naming it), else the workspace's default of `kind`
    /// (`None` when there is none: the action decides whether it needs one).
    pub async fn connection_for(
        &self,
        claimed: &Claimed,
        kind: &str,
        name: Option<&str>,
    ) -> Result<Option<ResolvedConnection>, ActionError> {
        let found = self
            .store
            .connection(claimed.workspace_id, kind, name)
            .await
            .map_err(|e| ActionError::retryable(format!("reading the workspace's connections failed: {e}")))?;
        let fallback = match name {
            Some(n) => self.fallback_named(kind, n).map(|s| {
                let var = format!(
                    "{CONNECTION_ENV_PREFIX}{}__{}",
                    kind.to_ascii_uppercase(),
                    env_name(n).to_ascii_uppercase().replace('-', "_")
                );
                (var, s)
            }),
            None => self
                .fallback_connection(kind)
                .map(|s| (format!("{CONNECTION_ENV_PREFIX}{}", kind.to_ascii_uppercase()), s)),
        };
        let (record_name, settings, mut hidden) = match (found, name) {
            (Some(r), _) => (r.name, r.settings, Vec::new()),
            (None, Some(n)) if fallback.is_none() => {
                return Err(ActionError::fatal(format!(
                    "connection `{n}` of kind `{kind}` does not exist in the workspace: set it with `orbflow connections set {n} --kind {kind}` (PUT /v1/connections/{n})"
                )));
            }
            (None, _) => match fallback {
                // the operator's: its credential fields may hold values, hidden like secrets
                Some((var, s)) => {
                    let credentials = orbflow_actions::connections::kind(kind).map_or(&[][..], |k| k.credentials);
                    let hidden = credentials
                        .iter()
                        .filter_map(|f| s.get(*f).and_then(Value::as_str))
                        .filter(|v| !v.is_empty() && !v.contains("{{"))
                        .map(str::to_owned)
                        .collect();
                    (var, s.clone(), hidden)
                }
                None => return Ok(None),
            },
        };
        let mentions = orbflow_model::secrets::names_in(&settings);
        if mentions.is_empty() {
            return Ok(Some(ResolvedConnection {
                name: record_name,
                settings,
                secrets: hidden,
            }));
        }
        let mut secrets = self.config.secrets.clone();
        let own = self
            .store
            .workspace_secrets(claimed.workspace_id)
            .await
            .map_err(|e| ActionError::retryable(format!("reading the workspace's secrets failed: {e}")))?;
        secrets.extend(own);
        if let Some(missing) = mentions.iter().find(|n| !secrets.contains_key(*n)) {
            return Err(ActionError::fatal(format!(
                "connection `{}`: secret `{missing}` is not set: set it for the workspace (`orbflow secrets set {missing}`, PUT /v1/secrets/{missing})",
                record_name
            )));
        }
        hidden.extend(
            mentions
                .iter()
                .filter_map(|n| secrets.get(n))
                .filter(|v| !v.is_empty())
                .cloned(),
        );
        hidden.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let ctx = EvalContext::new().with("secrets", json!(secrets));
        let limits = self.config.expressions.capped(claimed.timeout);
        let rendered = off_runtime(false, move || render_value_with(&settings, &ctx, &limits)).await;
        match rendered {
            Some(Ok(settings)) => Ok(Some(ResolvedConnection {
                name: record_name,
                settings,
                secrets: hidden,
            })),
            Some(Err(e)) => Err(ActionError::fatal(format!(
                "connection `{}`: its settings failed to render: {e}",
                record_name
            ))),
            None => Err(ActionError::fatal(format!(
                "connection `{}`: rendering its settings crashed",
                record_name
            ))),
        }
    }
}
