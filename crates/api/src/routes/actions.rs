//! The action catalog with its schemas.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use orbflow_actions::spec::ActionSpec;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::dto::ActionOut;
use crate::extract::Path;
use crate::routes::json;
use crate::state::AppState;
use crate::{Error, Result};

/// The catalog.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActionList {
    /// Every action and block, by name.
    items: Vec<ActionOut>,
}

fn out(s: &ActionSpec) -> ActionOut {
    ActionOut {
        name: s.name.into(),
        description: s.description.into(),
        category: s.category.as_str().into(),
        config_schema: s.config_schema.clone(),
        example: s.example.clone(),
        required_permissions: s.required_permissions.iter().map(|p| (*p).to_owned()).collect(),
        output: s.output.into(),
        block: s.block,
        implemented: s.implemented,
        connection: s.connection.map(|c| c.kind.to_owned()),
    }
}

/// Every action in the catalog.
#[utoipa::path(
    get, path = "/v1/actions", tag = "actions",
    responses((status = 200, description = "The catalog", body = ActionList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, _who: Principal) -> Result<Response> {
    let mut items: Vec<ActionOut> = state.registry().specs().map(out).collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(json(StatusCode::OK, &ActionList { items }))
}

/// One action.
#[utoipa::path(
    get, path = "/v1/actions/{name}", tag = "actions",
    params(("name" = String, Path, description = "Catalog name, e.g. TRIGGER_WEBHOOK")),
    responses((status = 200, description = "The action", body = ActionOut)),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, _who: Principal, Path(name): Path<String>) -> Result<Response> {
    let spec = state
        .registry()
        .spec(&name)
        .ok_or_else(|| Error::NotFound(format!("action `{name}`")))?;
    Ok(json(StatusCode::OK, &out(spec)))
}
