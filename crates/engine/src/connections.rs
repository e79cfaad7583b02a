//! The workspace connection an attempt uses: found by name or as the
//! workspace's default of the action's kind, its `{{ secrets.NAME }}`
//! credentials resolved like a config's (the run's workspace first, then
//! the operator-wide fallback), with no database lock held.

use orbflow_actions::ActionError;
use orbflow_model::expr::EvalContext;
use orbflow_model::expr::template::render_value_with;
use serde_json::{Value, json};

use crate::engine::{Claimed, Engine, off_runtime};

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
        let Some(record) = found else {
            return match name {
                Some(n) => Err(ActionError::fatal(format!(
                    "connection `{n}` of kind `{kind}` does not exist in the workspace: set it with `orbflow connections set {n} --kind {kind}` (PUT /v1/connections/{n})"
                ))),
                None => Ok(None),
            };
        };
        let mentions = orbflow_model::secrets::names_in(&record.settings);
        if mentions.is_empty() {
            return Ok(Some(ResolvedConnection {
                name: record.name,
                settings: record.settings,
                secrets: Vec::new(),
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
                record.name
            )));
        }
        let mut values: Vec<String> = mentions
            .iter()
            .filter_map(|n| secrets.get(n))
            .filter(|v| !v.is_empty())
            .cloned()
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let ctx = EvalContext::new().with("secrets", json!(secrets));
        let limits = self.config.expressions.capped(claimed.timeout);
        let settings = record.settings;
        let rendered = off_runtime(false, move || render_value_with(&settings, &ctx, &limits)).await;
        match rendered {
            Some(Ok(settings)) => Ok(Some(ResolvedConnection {
                name: record.name,
                settings,
                secrets: values,
            })),
            Some(Err(e)) => Err(ActionError::fatal(format!(
                "connection `{}`: its settings failed to render: {e}",
                record.name
            ))),
            None => Err(ActionError::fatal(format!(
                "connection `{}`: rendering its settings crashed",
                record.name
            ))),
        }
    }
}
