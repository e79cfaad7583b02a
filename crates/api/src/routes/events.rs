//! Events: every ACTIVE workflow of the workspace subscribed to the type
//! whose CEL filter holds starts one run (trigger data = the event). An
//! event id is accepted once: publishing it again starts nothing and
//! returns the runs it started the first time. Filters are evaluated on the
//! blocking pool (`spawn_blocking`), never on the runtime's worker threads;
//! a filter that fails on the event's data rejects the event for that
//! subscription only (listed in `rejected`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use orbflow_model::expr::{EvalContext, compile};
use serde_json::{Value, json as j};

use crate::auth::Principal;
use crate::dto::{EventIn, EventOut, RejectedOut};
use crate::extract::{json_request, read_body};
use crate::routes::json;
use crate::routes::runs::{Start, start_run};
use crate::state::AppState;
use crate::{Error, Result};

fn check_type(t: &str) -> Result<()> {
    let ok = !t.is_empty() && t.len() <= 128 && t.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Unprocessable {
            code: "invalid-event",
            detail: "type must be 1 to 128 letters, digits or . _ - : /".into(),
        })
    }
}

/// Evaluates an event filter off the async runtime: CEL over an event's data
/// can take long (a nested comprehension over a large list), and it must not
/// hold a worker thread that every other request needs. `Err` names why the
/// filter could not decide (it does not compile, fails on this data, runs
/// over its budget, or the evaluation panicked).
async fn filter_holds(filter: String, event: Value) -> Result<bool, String> {
    tokio::task::spawn_blocking(move || {
        compile(&filter)
            .and_then(|c| c.eval_bool(&EvalContext::new().with("event", event)))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the evaluation did not finish ({e})"))?
}

/// The answer to an event id accepted before.
fn duplicate(id: String, runs: Vec<uuid::Uuid>) -> Response {
    json(
        StatusCode::OK,
        &EventOut {
            id,
            duplicate: true,
            runs,
            rejected: Vec::new(),
        },
    )
}

/// Publishes an event.
#[utoipa::path(
    post, path = "/v1/events", tag = "events",
    request_body = EventIn,
    responses(
        (status = 202, description = "Accepted: the runs it started", body = EventOut),
        (status = 200, description = "This event id was accepted before: nothing new started", body = EventOut),
        (status = 422, description = "Invalid event type or id", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn publish(
    State(state): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["events:write"])?;
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let ev: EventIn = json_request(&headers, &bytes, None)?;
    check_type(&ev.kind)?;
    let id = ev.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    if id.is_empty() || id.len() > 200 {
        return Err(Error::Unprocessable {
            code: "invalid-event",
            detail: "id must have 1 to 200 characters".into(),
        });
    }
    let ws = who.workspace_id();
    if let Some(runs) = state.admin().event_runs(ws, &id).await? {
        return Ok(duplicate(id, runs));
    }
    let event = j!({ "id": id, "type": ev.kind, "data": ev.data });
    let mut runs = Vec::new();
    let mut rejected = Vec::new();
    for sub in state.admin().subscriptions(ws, &ev.kind).await? {
        if let Some(filter) = &sub.filter {
            match filter_holds(filter.clone(), event.clone()).await {
                Ok(true) => {}
                Ok(false) => continue,
                // a filter that fails (or runs out of budget) on this event's
                // data rejects it for this subscription only
                Err(reason) => {
                    tracing::warn!(workflow = %sub.workflow_id, event = %id, "event filter failed: {reason}");
                    rejected.push(RejectedOut {
                        workflow_id: sub.workflow_id,
                        reason: format!("filter failed: {reason}"),
                    });
                    continue;
                }
            }
        }
        let input = match &ev.data {
            Value::Object(_) => ev.data.clone(),
            _ => j!({}),
        };
        // runs first, each idempotent by the event id: a crash before the
        // event is recorded is repaired by publishing the event again
        match start_run(
            &state,
            Start {
                version_id: sub.version_id,
                input,
                trigger_type: orbflow_model::TriggerType::Event,
                trigger_data: event.clone(),
                idempotency_key: Some(format!("event:{id}")),
            },
        )
        .await
        {
            Ok((run, _)) => runs.push(run),
            Err(Error::Unprocessable { detail, .. }) => {
                tracing::warn!(workflow = %sub.workflow_id, event = %id, "event data rejected by the workflow's inputs: {detail}");
                rejected.push(RejectedOut {
                    workflow_id: sub.workflow_id,
                    reason: detail,
                });
            }
            Err(e) => return Err(e),
        }
    }
    if !state.admin().record_event(ws, &id, &event, &runs).await? {
        // published concurrently: the first record wins
        let runs = state.admin().event_runs(ws, &id).await?.unwrap_or_default();
        return Ok(duplicate(id, runs));
    }
    Ok(json(
        StatusCode::ACCEPTED,
        &EventOut {
            id,
            duplicate: false,
            runs,
            rejected,
        },
    ))
}
