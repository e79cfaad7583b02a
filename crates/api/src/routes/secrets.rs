//! Secrets of the caller's workspace: set (sealed by the store under the
//! operator's key), list and read their names and times, delete. A value
//! never leaves the server.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::dto::{SecretIn, SecretList, SecretOut};
use crate::extract::{Path, json_request, read_body};
use crate::routes::{NameRule, json};
use crate::state::AppState;
use crate::{Error, Result};

/// The largest value, in bytes.
const MAX_VALUE: usize = 64 * 1024;

/// What a name in this route's path may be (400 `invalid-path` otherwise).
const SECRET_NAME: NameRule = NameRule {
    max: 128,
    first: |c| c.is_ascii_alphabetic() || c == '_',
    rest: |c| c.is_ascii_alphanumeric() || c == '_',
    says: "a secret's name is a letter or `_`, then letters, digits or `_` (at most 128), as `secrets.NAME` reads it",
};

/// The workspace's secrets (names and times, never values).
#[utoipa::path(
    get, path = "/v1/secrets", tag = "secrets",
    responses((status = 200, description = "Secrets by name, without their values", body = SecretList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, who: Principal) -> Result<Response> {
    who.require(&["secrets:read"])?;
    let rows = state.admin().secrets(who.workspace_id()).await?;
    Ok(json(
        StatusCode::OK,
        &SecretList {
            items: rows.iter().map(SecretOut::from).collect(),
        },
    ))
}

/// One secret's name and times (never its value).
#[utoipa::path(
    get, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    responses(
        (status = 200, description = "The secret, without its value", body = SecretOut),
        (status = 404, description = "No such secret in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, who: Principal, Path(name): Path<String>) -> Result<Response> {
    who.require(&["secrets:read"])?;
    SECRET_NAME.check(&name)?;
    let rows = state.admin().secrets(who.workspace_id()).await?;
    let s = rows
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::NotFound("secret".into()))?;
    Ok(json(StatusCode::OK, &SecretOut::from(s)))
}

/// Sets a secret: 201 when new, 200 when replaced.
#[utoipa::path(
    put, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name: a letter or `_`, then letters, digits or `_`")),
    request_body = SecretIn,
    responses(
        (status = 201, description = "Created", body = SecretOut),
        (status = 200, description = "Replaced", body = SecretOut),
        (status = 409, description = "The server has no secrets key (ORBFLOW_SECRETS_KEY)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value over 64 KiB", body = crate::error::Problem, content_type = "application/problem+json"),
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
    who.require(&["secrets:write"])?;
    SECRET_NAME.check(&name)?;
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let req: SecretIn = json_request(&headers, &bytes, None)?;
    if req.value.len() > MAX_VALUE {
        return Err(Error::Unprocessable {
            code: "invalid-secret",
            detail: format!("a secret's value is at most {MAX_VALUE} bytes"),
        });
    }
    let created = state.admin().put_secret(who.workspace_id(), &name, &req.value).await?;
    let rows = state.admin().secrets(who.workspace_id()).await?;
    let s = rows
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::Internal(format!("secret {name} missing after it was set")))?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(status, &SecretOut::from(s)))
}

/// Deletes a secret.
#[utoipa::path(
    delete, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such secret in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Response> {
    who.require(&["secrets:write"])?;
    SECRET_NAME.check(&name)?;
    if state.admin().delete_secret(who.workspace_id(), &name).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotFound("secret".into()))
    }
}
