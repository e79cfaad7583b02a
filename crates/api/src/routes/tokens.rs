//! Tokens of the caller's workspace: list, issue (the secret is shown
//! once), revoke. A token can only issue permissions it holds itself.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use uuid::Uuid;

use crate::auth::{Principal, check_permission, grants, issue_token, known_permissions};
use crate::dto::{NewTokenOut, TokenIn, TokenList, TokenOut};
use crate::extract::{Path, json_request, read_body};
use crate::routes::json;
use crate::state::AppState;
use crate::{Error, Result};

/// The workspace's tokens.
#[utoipa::path(
    get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, description = "Tokens (never their secrets)", body = TokenList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, who: Principal) -> Result<Response> {
    who.require(&["tokens:read"])?;
    let rows = state.admin().tokens(who.workspace_id()).await?;
    Ok(json(
        StatusCode::OK,
        &TokenList {
            items: rows.iter().map(TokenOut::from).collect(),
        },
    ))
}

/// 403 naming what is missing unless the caller holds every one of
/// `permissions` (a token can only issue or revoke what it holds itself).
fn holds_all(who: &Principal, permissions: &[String]) -> Result<()> {
    let missing: Vec<String> = permissions
        .iter()
        .filter(|p| !grants(&who.token.permissions, p))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Forbidden { missing })
    }
}

/// Issues a token in the caller's workspace.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens",
    request_body = TokenIn,
    responses(
        (status = 201, description = "Issued: the secret is in this response only", body = NewTokenOut),
        (status = 400, description = "A permission this server does not know (`area:action`, `area:*` or `*`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller lacks a permission it tried to grant", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name that is empty or too long", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["tokens:write"])?;
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let req: TokenIn = json_request(&headers, &bytes, None)?;
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(Error::Unprocessable {
            code: "invalid-token",
            detail: "name must have 1 to 100 characters".into(),
        });
    }
    let permissions: Vec<String> = req.permissions.into_iter().map(|p| p.0).collect();
    let known = known_permissions(state.registry());
    for p in &permissions {
        check_permission(p, &known).map_err(|detail| Error::BadRequest {
            code: "invalid-permission",
            detail,
        })?;
    }
    // no escalation: every permission granted must be held by the caller
    holds_all(&who, &permissions)?;
    let (record, secret) = issue_token(state.admin(), who.workspace_id(), req.name.trim(), &permissions).await?;
    Ok(json(
        StatusCode::CREATED,
        &NewTokenOut {
            secret,
            token: TokenOut::from(&record),
        },
    ))
}

/// Revokes a token: it authenticates nothing from now on. The caller must
/// hold every permission of the token it revokes.
#[utoipa::path(
    delete, path = "/v1/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The token holds a permission the caller lacks", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such token in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    who.require(&["tokens:write"])?;
    let target = state
        .admin()
        .tokens(who.workspace_id())
        .await?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .ok_or_else(|| Error::NotFound(format!("token {id}")))?;
    // no escalation by removal: a `tokens:write` token cannot revoke a `*` one
    holds_all(&who, &target.permissions)?;
    if state.admin().revoke_token(who.workspace_id(), id, Utc::now()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotFound(format!("token {id}")))
    }
}
