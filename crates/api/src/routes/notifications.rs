//! The workspace's in-app inbox (what CREATE_NOTIFICATION writes): list by
//! recipient and read state, newest first, with cursor paging; read one;
//! mark it read or unread.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use orbflow_engine::admin::{NotificationFilter, Page};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Principal;
use crate::dto::{NotificationOut, NotificationPage, PageQuery};
use crate::extract::{Path, Query, next_cursor, page_size, uuid_cursor};
use crate::routes::json;
use crate::state::AppState;
use crate::{Error, Result};

/// Query of a listing of notifications.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NotificationsQuery {
    /// Only this recipient's.
    recipient: Option<String>,
    /// `true`: only unread ones.
    unread: Option<bool>,
}

/// Lists the workspace's notifications, newest first.
#[utoipa::path(
    get, path = "/v1/notifications", tag = "notifications",
    params(NotificationsQuery, PageQuery),
    responses((status = 200, description = "A page of notifications", body = NotificationPage)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<NotificationsQuery>,
    Query(p): Query<PageQuery>,
) -> Result<Response> {
    who.require(&["notifications:read"])?;
    let limit = page_size(p.limit);
    let after = uuid_cursor(p.cursor.as_deref())?;
    let filter = NotificationFilter {
        recipient: q.recipient,
        unread_only: q.unread.unwrap_or(false),
    };
    let rows = state
        .admin()
        .notifications(who.workspace_id(), &filter, Page { after, limit })
        .await?;
    let next_cursor = next_cursor(&rows, limit, |r| r.id.to_string());
    Ok(json(
        StatusCode::OK,
        &NotificationPage {
            items: rows.iter().map(NotificationOut::from).collect(),
            next_cursor,
        },
    ))
}

/// One notification.
#[utoipa::path(
    get, path = "/v1/notifications/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Notification id")),
    responses(
        (status = 200, description = "The notification", body = NotificationOut),
        (status = 404, description = "No such notification in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    who.require(&["notifications:read"])?;
    let n = state
        .admin()
        .notification(who.workspace_id(), id)
        .await?
        .ok_or_else(|| Error::NotFound("notification".into()))?;
    Ok(json(StatusCode::OK, &NotificationOut::from(&n)))
}

async fn mark(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    read: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Response> {
    who.require(&["notifications:write"])?;
    let n = state
        .admin()
        .mark_notification(who.workspace_id(), id, read)
        .await?
        .ok_or_else(|| Error::NotFound("notification".into()))?;
    Ok(json(StatusCode::OK, &NotificationOut::from(&n)))
}

/// Marks a notification read (a second time keeps the first `readAt`).
#[utoipa::path(
    post, path = "/v1/notifications/{id}/read", tag = "notifications",
    params(("id" = Uuid, Path, description = "Notification id")),
    responses(
        (status = 200, description = "Read", body = NotificationOut),
        (status = 404, description = "No such notification in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn read(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    mark(&state, &who, id, Some(chrono::Utc::now())).await
}

/// Marks a notification unread.
#[utoipa::path(
    post, path = "/v1/notifications/{id}/unread", tag = "notifications",
    params(("id" = Uuid, Path, description = "Notification id")),
    responses(
        (status = 200, description = "Unread", body = NotificationOut),
        (status = 404, description = "No such notification in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn unread(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    mark(&state, &who, id, None).await
}
