//! Connections of the caller's workspace: the providers its steps use (an
//! SMTP server, a Slack bot or webhook), each a kind and settings checked
//! against the kind's schema, credentials only as `{{ secrets.NAME }}`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use orbflow_actions::connections::{self, ConnectionKind};
use orbflow_engine::admin::ConnectionRecord;
use orbflow_model::Diagnostics;
use serde_json::Value;

use crate::auth::Principal;
use crate::dto::{ConnectionIn, ConnectionList, ConnectionOut};
use crate::extract::{Path, json_request, read_body};
use crate::routes::{NameRule, json};
use crate::state::AppState;
use crate::{Error, Result};

/// What a name in this route's path may be (400 `invalid-path` otherwise).
const CONNECTION_NAME: NameRule = NameRule {
    max: 63,
    first: |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
    rest: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
    says: "a connection's name is lower-case letters, digits and `-` (at most 63), starting with a letter or digit",
};

fn invalid(detail: String) -> Error {
    Error::Unprocessable {
        code: "invalid-connection",
        detail,
    }
}

/// 422 unless `settings` fit `kind`: its schema, and credentials written as
/// one `{{ secrets.NAME }}` each.
fn check_settings(kind: &ConnectionKind, settings: &Value) -> Result<()> {
    let mut d = Diagnostics::default();
    orbflow_model::validate::config::check_config(settings, &kind.schema, "settings", &mut d);
    let mut problems: Vec<String> = d.0.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    for field in kind.credentials {
        match settings.get(*field) {
            None => {}
            Some(Value::String(s)) if connections::is_secret_reference(s) => {}
            Some(_) => problems.push(format!(
                "settings.{field}: a credential is written as {{{{ secrets.NAME }}}} (set the value with `orbflow secrets set NAME`), never in the clear"
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid(problems.join("; ")))
    }
}

/// The workspace's connections.
#[utoipa::path(
    get, path = "/v1/connections", tag = "connections",
    responses((status = 200, description = "Connections by name", body = ConnectionList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, who: Principal) -> Result<Response> {
    who.require(&["connections:read"])?;
    let rows = state.admin().connections(who.workspace_id()).await?;
    Ok(json(
        StatusCode::OK,
        &ConnectionList {
            items: rows.iter().map(ConnectionOut::from).collect(),
        },
    ))
}

async fn find(state: &AppState, who: &Principal, name: &str) -> Result<Option<ConnectionRecord>> {
    let rows = state.admin().connections(who.workspace_id()).await?;
    Ok(rows.into_iter().find(|r| r.name == name))
}

/// One connection.
#[utoipa::path(
    get, path = "/v1/connections/{name}", tag = "connections",
    params(("name" = String, Path, description = "Connection name")),
    responses(
        (status = 200, description = "The connection", body = ConnectionOut),
        (status = 404, description = "No such connection in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, who: Principal, Path(name): Path<String>) -> Result<Response> {
    who.require(&["connections:read"])?;
    CONNECTION_NAME.check(&name)?;
    let c = find(&state, &who, &name)
        .await?
        .ok_or_else(|| Error::NotFound("connection".into()))?;
    Ok(json(StatusCode::OK, &ConnectionOut::from(&c)))
}

/// Sets a connection: 201 when new, 200 when replaced.
#[utoipa::path(
    put, path = "/v1/connections/{name}", tag = "connections",
    params(("name" = String, Path, description = "Connection name: lower-case letters, digits and `-`")),
    request_body = ConnectionIn,
    responses(
        (status = 201, description = "Created", body = ConnectionOut),
        (status = 200, description = "Replaced", body = ConnectionOut),
        (status = 422, description = "An unknown kind, settings that do not fit it, or a credential in the clear", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["connections:write"])?;
    CONNECTION_NAME.check(&name)?;
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let req: ConnectionIn = json_request(&headers, &bytes, None)?;
    let Some(kind) = connections::kind(&req.kind) else {
        let known: Vec<&str> = connections::kinds().iter().map(|k| k.name).collect();
        return Err(invalid(format!(
            "unknown kind `{}` (kinds: {})",
            req.kind,
            known.join(", ")
        )));
    };
    check_settings(&kind, &req.settings)?;
    let record = ConnectionRecord {
        name: name.clone(),
        kind: req.kind,
        settings: req.settings,
        is_default: req.default,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    let created = state.admin().put_connection(who.workspace_id(), &record).await?;
    let c = find(&state, &who, &name)
        .await?
        .ok_or_else(|| Error::Internal(format!("connection {name} missing after it was set")))?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(status, &ConnectionOut::from(&c)))
}

/// Deletes a connection.
#[utoipa::path(
    delete, path = "/v1/connections/{name}", tag = "connections",
    params(("name" = String, Path, description = "Connection name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such connection in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Response> {
    who.require(&["connections:write"])?;
    CONNECTION_NAME.check(&name)?;
    if state.admin().delete_connection(who.workspace_id(), &name).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotFound("connection".into()))
    }
}
