//! Schedules: the cron triggers of active versions. They are created and
//! removed by publishing (the document is their source); here they are
//! listed, enabled or disabled, and their next fire times previewed.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use orbflow_engine::admin::ScheduleInfo;
use orbflow_model::cron::Schedule;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Principal;
use crate::dto::{PreviewIn, PreviewOut, ScheduleList, ScheduleOut};
use crate::extract::{Path, Query, json_request, read_body};
use crate::routes::{find_workflow, json};
use crate::state::AppState;
use crate::{Error, Result};

/// Most fire times one preview returns.
const MAX_PREVIEW: u32 = 100;

/// Query of a listing of schedules.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this workflow's (slug or id).
    workflow: Option<String>,
}

/// The workspace's schedules.
#[utoipa::path(
    get, path = "/v1/schedules", tag = "schedules",
    params(ListQuery),
    responses((status = 200, description = "Schedules", body = ScheduleList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    who.require(&["schedules:read"])?;
    let wf = match &q.workflow {
        Some(w) => Some(find_workflow(&state, &who, w).await?.id),
        None => None,
    };
    let rows = state.admin().schedules(who.workspace_id(), wf).await?;
    Ok(json(
        StatusCode::OK,
        &ScheduleList {
            items: rows.iter().map(ScheduleOut::from).collect(),
        },
    ))
}

async fn find(state: &AppState, who: &Principal, id: Uuid) -> Result<ScheduleInfo> {
    state
        .admin()
        .schedule(who.workspace_id(), id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("schedule {id}")))
}

/// One schedule.
#[utoipa::path(
    get, path = "/v1/schedules/{id}", tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses((status = 200, description = "The schedule", body = ScheduleOut)),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    who.require(&["schedules:read"])?;
    Ok(json(StatusCode::OK, &ScheduleOut::from(&find(&state, &who, id).await?)))
}

async fn set_enabled(state: &AppState, who: &Principal, id: Uuid, enabled: bool) -> Result<Response> {
    who.require(&["schedules:write"])?;
    let s = find(state, who, id).await?;
    // enabling starts from the next tick after now: ticks missed while
    // disabled are not caught up
    let next = if enabled {
        Schedule::parse(&s.cron, Some(&s.timezone))
            .ok()
            .and_then(|c| c.next_after(Utc::now()))
            .map(|t| t.with_timezone(&Utc))
    } else {
        s.next_fire_at
    };
    state.admin().set_schedule_enabled(id, enabled, next).await?;
    Ok(json(StatusCode::OK, &ScheduleOut::from(&find(state, who, id).await?)))
}

/// Enables a schedule (it fires from its next tick on).
#[utoipa::path(
    post, path = "/v1/schedules/{id}/enable", tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses((status = 200, description = "Enabled", body = ScheduleOut)),
    security(("bearer" = []))
)]
pub(crate) async fn enable(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    set_enabled(&state, &who, id, true).await
}

/// Disables a schedule (until enabled again or the next publish).
#[utoipa::path(
    post, path = "/v1/schedules/{id}/disable", tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses((status = 200, description = "Disabled", body = ScheduleOut)),
    security(("bearer" = []))
)]
pub(crate) async fn disable(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    set_enabled(&state, &who, id, false).await
}

/// Query of a preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PreviewQuery {
    /// How many (1–100, default 5).
    #[param(minimum = 1, maximum = 100)]
    count: Option<u32>,
    /// Times after this instant (RFC 3339); default now.
    from: Option<DateTime<Utc>>,
}

fn upcoming(cron: &str, tz: Option<&str>, from: Option<DateTime<Utc>>, count: Option<u32>) -> Result<PreviewOut> {
    let count = count.unwrap_or(5);
    if count == 0 || count > MAX_PREVIEW {
        return Err(Error::BadRequest {
            code: "invalid-count",
            detail: format!("count must be 1 to {MAX_PREVIEW}"),
        });
    }
    let s = Schedule::parse(cron, tz).map_err(|e| Error::Unprocessable {
        code: "invalid-cron",
        detail: e.to_string(),
    })?;
    let times = s
        .upcoming(from.unwrap_or_else(Utc::now), count as usize)
        .iter()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
        .collect();
    Ok(PreviewOut { times })
}

/// The next fire times of a schedule.
#[utoipa::path(
    get, path = "/v1/schedules/{id}/preview", tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id"), PreviewQuery),
    responses((status = 200, description = "Next fire times", body = PreviewOut)),
    security(("bearer" = []))
)]
pub(crate) async fn preview(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<PreviewQuery>,
) -> Result<Response> {
    who.require(&["schedules:read"])?;
    let s = find(&state, &who, id).await?;
    Ok(json(
        StatusCode::OK,
        &upcoming(&s.cron, Some(&s.timezone), q.from, q.count)?,
    ))
}

/// The next fire times of any cron expression (DST-aware, as the scheduler fires them).
#[utoipa::path(
    post, path = "/v1/schedules/preview", tag = "schedules",
    request_body = PreviewIn,
    responses(
        (status = 200, description = "Next fire times", body = PreviewOut),
        (status = 422, description = "Invalid cron expression or time zone", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn preview_expression(
    State(state): State<AppState>,
    _who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let q: PreviewIn = json_request(&headers, &bytes, None)?;
    Ok(json(
        StatusCode::OK,
        &upcoming(&q.cron, q.timezone.as_deref(), q.from, q.count)?,
    ))
}
