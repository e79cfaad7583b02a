//! Runs: start (input checked against `inputs`; `Idempotency-Key` returns
//! the same run for the same key), list, get (with `stepExecutions`), logs,
//! cancel, and retry from the failed step.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use orbflow_engine::StartRun;
use orbflow_engine::admin::{Page, RunFilter};
use orbflow_engine::store::RunRecord;
use orbflow_model::RunStatus;
use serde::Deserialize;
use serde_json::{Value, json as j};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Principal;
use crate::dto::{LogOut, LogPage, PageQuery, RunOut, RunPage, StartRunIn};
use crate::extract::{Path, Query, json_request, next_cursor, page_size, read_body, uuid_cursor};
use crate::routes::{find_workflow, json, with_header};
use crate::state::AppState;
use crate::{Error, Result};

/// Longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 255;

/// What a trigger asks for: a run of the workflow's active version.
pub(crate) struct Start {
    /// Its active version.
    pub(crate) version_id: Uuid,
    /// Run input.
    pub(crate) input: Value,
    /// What started it.
    pub(crate) trigger_type: orbflow_model::TriggerType,
    /// What the trigger delivered.
    pub(crate) trigger_data: Value,
    /// At most one run per key and workflow.
    pub(crate) idempotency_key: Option<String>,
}

/// Starts a run (or finds the one its idempotency key started): the run id
/// and whether it already existed.
pub(crate) async fn start_run(state: &AppState, s: Start) -> Result<(Uuid, bool)> {
    let version = state
        .engine()
        .store()
        .version_record(s.version_id)
        .await?
        .ok_or_else(|| Error::NotFound("version".into()))?;
    let (id, existed, effects) = state
        .engine()
        .start_run_once(StartRun {
            version,
            input: s.input,
            trigger_type: s.trigger_type,
            trigger_data: Some(s.trigger_data),
            idempotency_key: s.idempotency_key,
            trace_parent: crate::observe::request_trace(),
        })
        .await?;
    state.dispatch(effects).await;
    Ok((id, existed))
}

async fn run_of(
    state: &AppState,
    who: &Principal,
    id: Uuid,
) -> Result<(RunRecord, Vec<orbflow_engine::store::StepRecord>)> {
    state
        .engine()
        .store()
        .run_view(id)
        .await?
        .filter(|(r, _)| r.workspace_id == who.workspace_id())
        .ok_or_else(|| Error::NotFound(format!("run {id}")))
}

/// Starts a run of the workflow's active version.
#[utoipa::path(
    post, path = "/v1/workflows/{workflow}/runs", tag = "runs",
    params(
        ("workflow" = String, Path, description = "Slug or id"),
        ("Idempotency-Key" = Option<String>, Header, description = "At most one run per key and workflow (up to 255 characters)"),
    ),
    request_body(content = StartRunIn, description = "Run input (an empty body is no input)", content_type = "application/json"),
    responses(
        (status = 201, description = "Started", body = RunOut),
        (status = 200, description = "The run this Idempotency-Key started before", body = RunOut),
        (status = 400, description = "The body is not a JSON object", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The workflow has no active version (never published, or archived)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not `application/json`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The input is not an object, or does not satisfy the workflow's inputs schema", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn start(
    State(state): State<AppState>,
    who: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["runs:write"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let key = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v.to_str().map_err(|_| Error::BadRequest {
                code: "invalid-header",
                detail: "Idempotency-Key is not text".into(),
            })?;
            if k.is_empty() || k.len() > MAX_KEY_LEN {
                return Err(Error::BadRequest {
                    code: "invalid-header",
                    detail: format!("Idempotency-Key must have 1 to {MAX_KEY_LEN} characters"),
                });
            }
            Some(format!("api:{k}"))
        }
        None => None,
    };
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let req: StartRunIn = json_request(&headers, &bytes, Some(StartRunIn::default()))?;
    let (Some(number), orbflow_model::WorkflowStatus::Active) = (wf.active_version, wf.status) else {
        return Err(Error::Conflict {
            code: "not-active",
            detail: format!("workflow `{}` has no active version: publish it first", wf.slug),
        });
    };
    // a run's input is an object (`input.x` in expressions); `null` is none
    let input = match req.input {
        None | Some(Value::Null) => j!({}),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(Error::Unprocessable {
                code: "invalid-input",
                detail: "`input` must be a JSON object".into(),
            });
        }
    };
    let version = state
        .admin()
        .version_info(wf.id, number)
        .await?
        .ok_or_else(|| Error::NotFound("active version".into()))?;
    let (id, existed) = start_run(
        &state,
        Start {
            version_id: version.id,
            input,
            trigger_type: orbflow_model::TriggerType::Manual,
            trigger_data: j!({ "via": "api", "token": who.token.prefix }),
            idempotency_key: key,
        },
    )
    .await?;
    let (run, _) = run_of(&state, &who, id).await?;
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok(with_header(
        json(status, &RunOut::summary(&run)),
        header::LOCATION,
        &format!("/v1/runs/{id}"),
    ))
}

/// Query of a listing of runs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// Only runs of this workflow (slug or id).
    workflow: Option<String>,
    /// Only this status.
    #[param(inline)]
    status: Option<crate::dto::RunStatusQ>,
    /// Created at or after (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Only runs started by this kind of trigger.
    #[serde(rename = "triggerType")]
    #[param(inline)]
    trigger_type: Option<crate::dto::TriggerTypeQ>,
}

/// Lists the workspace's runs, newest first.
#[utoipa::path(
    get, path = "/v1/runs", tag = "runs",
    params(RunsQuery, PageQuery),
    responses((status = 200, description = "A page of runs", body = RunPage)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<RunsQuery>,
    Query(p): Query<PageQuery>,
) -> Result<Response> {
    who.require(&["runs:read"])?;
    let status = q.status.map(RunStatus::from);
    let workflow_id = match &q.workflow {
        Some(w) => Some(find_workflow(&state, &who, w).await?.id),
        None => None,
    };
    let limit = page_size(p.limit);
    let after = uuid_cursor(p.cursor.as_deref())?;
    let rows = state
        .admin()
        .runs(
            who.workspace_id(),
            &RunFilter {
                workflow_id,
                status,
                since: q.since,
                until: q.until,
                trigger_type: q.trigger_type.map(Into::into),
            },
            Page { after, limit },
        )
        .await?;
    let next_cursor = next_cursor(&rows, limit, |r| r.id.to_string());
    Ok(json(
        StatusCode::OK,
        &RunPage {
            items: rows.iter().map(RunOut::summary).collect(),
            next_cursor,
        },
    ))
}

/// One run with its step executions.
#[utoipa::path(
    get, path = "/v1/runs/{id}", tag = "runs",
    params(("id" = Uuid, Path, description = "Run id")),
    responses((status = 200, description = "The run", body = RunOut)),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    who.require(&["runs:read"])?;
    let (run, steps) = run_of(&state, &who, id).await?;
    Ok(json(StatusCode::OK, &RunOut::full(&run, &steps)))
}

/// Query of a log page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    /// Lines after this position (the `nextCursor` of the previous page).
    after: Option<i64>,
    /// Page size (default 50; values above 200 are capped to 200).
    #[param(minimum = 0)]
    limit: Option<u64>,
}

/// A run's log, oldest first.
#[utoipa::path(
    get, path = "/v1/runs/{id}/logs", tag = "runs",
    params(("id" = Uuid, Path, description = "Run id"), LogsQuery),
    responses((status = 200, description = "A page of log lines", body = LogPage)),
    security(("bearer" = []))
)]
pub(crate) async fn logs(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<LogsQuery>,
) -> Result<Response> {
    who.require(&["runs:read"])?;
    let (run, _) = run_of(&state, &who, id).await?;
    let limit = page_size(q.limit);
    let rows = state.admin().log_page(id, Page { after: q.after, limit }).await?;
    // A running run writes more lines: the cursor stays, to follow it. A
    // finished run's last page ends the log (a null cursor); read before the
    // page, the status cannot hide lines written as the run ended.
    let last_page = run.status.is_terminal() && (rows.len() as u64) < limit;
    let next_cursor = if last_page {
        None
    } else {
        rows.last()
            .map(|(i, _)| i.to_string())
            .or_else(|| q.after.map(|a| a.to_string()))
    };
    Ok(json(
        StatusCode::OK,
        &LogPage {
            items: rows.iter().map(|(i, l)| LogOut::new(*i, l)).collect(),
            next_cursor,
        },
    ))
}

/// Cancels a run: no further step starts; running steps are told to stop.
#[utoipa::path(
    post, path = "/v1/runs/{id}/cancel", tag = "runs",
    params(("id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 202, description = "Cancelled", body = RunOut),
        (status = 409, description = "The run has already finished", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cancel(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    who.require(&["runs:write"])?;
    let (run, _) = run_of(&state, &who, id).await?;
    if run.status.is_terminal() {
        return Err(Error::Conflict {
            code: "invalid-state",
            detail: format!("run {id} is already {}", run.status),
        });
    }
    let effects = state.engine().cancel(id).await?;
    state.dispatch(effects).await;
    let (run, steps) = run_of(&state, &who, id).await?;
    Ok(json(StatusCode::ACCEPTED, &RunOut::full(&run, &steps)))
}

/// Retries a FAILED run from the step that failed it: a new attempt of that
/// step and what follows, in the same run (the run is pinned to its version).
#[utoipa::path(
    post, path = "/v1/runs/{id}/retry", tag = "runs",
    params(("id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 202, description = "Running again", body = RunOut),
        (status = 409, description = "The run is not FAILED, or its failure cannot be retried", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn retry(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response> {
    who.require(&["runs:write"])?;
    run_of(&state, &who, id).await?;
    let effects = state.engine().retry_run(id).await?;
    state.dispatch(effects).await;
    let (run, steps) = run_of(&state, &who, id).await?;
    Ok(json(StatusCode::ACCEPTED, &RunOut::full(&run, &steps)))
}
