//! Tokens of the caller's workspace: list, issue (the secret is shown
//! once), revoke. A token can only issue permissions it holds itself.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use uuid::Uuid;

use crate::auth::{PERMISSIONS, Principal, grants, issue_token};
use crate::dto::{NewTokenOut, TokenIn, TokenList, TokenOut};
use crate::extract::{Path, json_body, read_body};
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

fn known(p: &str) -> bool {
    p == "*"
        || PERMISSIONS.contains(&p)
        || (p.len() <= 64
            && p.split_once(':').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.chars().all(|c| c.is_ascii_lowercase())
                    && (b == "*" || b.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            }))
}

/// Issues a token in the caller's workspace.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens",
    request_body = TokenIn,
    responses(
        (status = 201, description = "Issued: the secret is in this response only", body = NewTokenOut),
        (status = 422, description = "A malformed permission or name", body = crate::error::Problem, content_type = "application/problem+json"),
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
    let req: TokenIn = json_body(&bytes, None)?;
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(Error::Unprocessable {
            code: "invalid-token",
            detail: "name must have 1 to 100 characters".into(),
        });
    }
    let permissions: Vec<String> = req.permissions.into_iter().map(|p| p.0).collect();
    if let Some(bad) = permissions.iter().find(|p| !known(p)) {
        return Err(Error::Unprocessable {
            code: "invalid-token",
            detail: format!("`{bad}` is not a permission (`area:action`, `area:*` or `*`)"),
        });
    }
    // no escalation: every permission granted must be held by the caller
    let missing: Vec<String> = permissions
        .iter()
        .filter(|p| !grants(&who.token.permissions, p))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Error::Forbidden { missing });
    }
    let (record, secret) = issue_token(state.admin(), who.workspace_id(), req.name.trim(), &permissions).await?;
    Ok(json(
        StatusCode::CREATED,
        &NewTokenOut {
            secret,
            token: TokenOut::from(&record),
        },
    ))
}

/// Revokes a token: it authenticates nothing from now on.
#[utoipa::path(
    delete, path = "/v1/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    responses((status = 204, description = "Revoked")),
    security(("bearer" = []))
)]
pub(crate) async fn revoke(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    who.require(&["tokens:write"])?;
    if state.admin().revoke_token(who.workspace_id(), id, Utc::now()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotFound(format!("token {id}")))
    }
}
