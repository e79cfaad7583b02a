//! Webhook intake: `POST /hooks/{workspace}/{workflow}/{key}`, and the short
//! `POST /hooks/{workflow}/{key}` held by the one workflow that claimed it at
//! publish. The delivery is verified with the trigger's scheme (constant-time
//! compare, timestamp tolerance), de-duplicated by a replay key the
//! signature covers (one run per delivery) and answered 202 with the run id.
//! A rejected delivery starts nothing and tells the sender why, so it keeps
//! (and can resend) its data. An unknown workspace, workflow or key is one
//! uniform 404 that names nothing.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json as j};

use orbflow_engine::admin::WebhookRecord;

use crate::dto::HookOut;
use crate::extract::{Path, read_body};
use crate::routes::json;
use crate::routes::runs::{Start, start_run};
use crate::state::AppState;
use crate::verify::{self, DEFAULT_HMAC_HEADER, Scheme, VerifyError};
use crate::{Error, Result};

/// The only request headers copied into the trigger data: the media type,
/// the sender's name, and the providers' delivery and event headers. Never a
/// credential or a signature (`authorization`, `cookie`, `x-api-key`,
/// `webhook-signature`, `x-hub-signature-256`, `stripe-signature`, a
/// trigger's own `header`, …): anything not listed here stays out.
pub(crate) const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    // Standard Webhooks
    "webhook-id",
    "webhook-timestamp",
    // GitHub
    "x-github-delivery",
    "x-github-event",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    // GitLab
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitlab-webhook-uuid",
    // Shopify
    "x-shopify-topic",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    // generic delivery ids
    "idempotency-key",
    "x-request-id",
    "x-webhook-id",
];

/// Default timestamp tolerance.
const DEFAULT_TOLERANCE_SECS: i64 = 300;

fn scheme_of(scheme: orbflow_model::VerifyScheme, header: Option<&str>, timestamp_header: Option<&str>) -> Scheme {
    use orbflow_model::VerifyScheme as V;
    match scheme {
        V::StandardWebhooks => Scheme::StandardWebhooks,
        V::Github => Scheme::Github,
        V::Stripe => Scheme::Stripe,
        V::HmacSha256 => Scheme::HmacSha256 {
            header: header.unwrap_or(DEFAULT_HMAC_HEADER).to_owned(),
            timestamp_header: timestamp_header.map(str::to_owned),
        },
        V::None => Scheme::None,
    }
}

fn rejected(e: &VerifyError) -> Error {
    let code = match e {
        VerifyError::MissingHeader(_) => "signature-missing",
        VerifyError::Malformed(_) => "signature-malformed",
        VerifyError::BadSignature => "signature-invalid",
        VerifyError::StaleTimestamp { .. } => "timestamp-out-of-tolerance",
    };
    Error::Unauthorized {
        code,
        detail: format!("delivery rejected: {e}"),
    }
}

/// The allowlisted headers of a delivery ([`KEPT_HEADERS`]), first value each.
fn kept_headers(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in KEPT_HEADERS {
        if let Some(v) = headers.get(*name).and_then(|v| v.to_str().ok()) {
            out.insert((*name).to_owned(), Value::String(v.to_owned()));
        }
    }
    Value::Object(out)
}

/// The one answer for a webhook that does not exist (unknown workspace,
/// workflow or key, archived, or a short URL nobody holds): it names nothing.
fn no_such_webhook() -> Error {
    Error::NotFound("webhook".into())
}

/// Receives a webhook delivery.
#[utoipa::path(
    post, path = "/hooks/{workspace}/{workflow}/{key}", tag = "webhooks",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("workflow" = String, Path, description = "Workflow slug"),
        ("key" = String, Path, description = "The trigger's key"),
    ),
    request_body(description = "The delivery, as the provider sends it (JSON bodies become the run input)", content(("application/json"), ("text/plain"))),
    responses(
        (status = 202, description = "Accepted: the run it started", body = HookOut),
        (status = 200, description = "This delivery id started a run before", body = HookOut),
        (status = 401, description = "Signature missing, malformed, wrong, or timestamp out of tolerance", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active workflow with this webhook", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than the webhook limit", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body does not satisfy the workflow's inputs", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many deliveries to this workflow; see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The webhook's secret is not configured on the server", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn deliver(
    State(state): State<AppState>,
    Path((workspace, workflow, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let hook = state
        .admin()
        .webhook(&workspace, &workflow, &key)
        .await?
        .ok_or_else(no_such_webhook)?;
    receive(&state, hook, &headers, body).await
}

/// Receives a webhook delivery by the short URL of DESIGN.md: the
/// workflow's slug and the key, served by the one active workflow that
/// claimed `/hooks/{slug}/{key}` when it was published (the first workspace
/// to publish it; others are refused at publish).
#[utoipa::path(
    post, path = "/hooks/{workflow}/{key}", tag = "webhooks",
    params(
        ("workflow" = String, Path, description = "Workflow slug of the workflow holding this short URL"),
        ("key" = String, Path, description = "The trigger's key"),
    ),
    request_body(description = "The delivery, as the provider sends it (JSON bodies become the run input)", content(("application/json"), ("text/plain"))),
    responses(
        (status = 202, description = "Accepted: the run it started", body = HookOut),
        (status = 200, description = "This delivery id started a run before", body = HookOut),
        (status = 401, description = "Signature missing, malformed, wrong, or timestamp out of tolerance", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active workflow holds this short URL", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than the webhook limit", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body does not satisfy the workflow's inputs", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many deliveries to this workflow; see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The webhook's secret is not configured on the server", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn deliver_short(
    State(state): State<AppState>,
    Path((workflow, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let hook = state
        .admin()
        .webhook_claim(&workflow, &key)
        .await?
        .ok_or_else(no_such_webhook)?;
    receive(&state, hook, &headers, body).await
}

/// A webhook's signing secret: the workflow's workspace's secret of that
/// name, else the operator-wide `ORBFLOW_SECRET_NAME`; 503 (without the
/// name) when neither is set.
async fn signing_secret(state: &AppState, hook: &WebhookRecord, name: &str) -> Result<String> {
    if let Some(version) = state.engine().store().version_record(hook.version_id).await?
        && let Some(own) = state
            .engine()
            .store()
            .workspace_secrets(version.workspace_id)
            .await?
            .remove(name)
    {
        return Ok(own);
    }
    state.secret(name).map(str::to_owned).ok_or_else(|| {
        Error::Unavailable(format!(
            "secret `{name}` of webhook `{}` of workflow {} is not set",
            hook.key, hook.workflow_id
        ))
    })
}

async fn receive(state: &AppState, hook: WebhookRecord, headers: &HeaderMap, body: Body) -> Result<Response> {
    let key = hook.key.clone();
    // deliveries carry no token: they are limited per workflow, before the body is read
    state.hook_limiter().check(hook.workflow_id)?;
    let body = read_body(headers, body, state.config().max_webhook_bytes).await?;
    let scheme = scheme_of(hook.scheme, hook.header.as_deref(), hook.timestamp_header.as_deref());
    let secret = match (&scheme, hook.secret_name.as_deref()) {
        (Scheme::None, _) => String::new(),
        (_, Some(name)) => signing_secret(state, &hook, name).await?,
        (_, None) => return Err(Error::Internal("signed webhook without a secret name".into())),
    };
    let tolerance = hook
        .tolerance_ms
        .map_or(DEFAULT_TOLERANCE_SECS, |ms| (ms / 1000).max(1));
    let verified = verify::verify(
        &scheme,
        &verify::Delivery {
            secret: &secret,
            headers,
            body: &body,
        },
        chrono::Utc::now().timestamp(),
        tolerance,
    )
    .map_err(|e| rejected(&e))?;
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let input = match &parsed {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => j!({}),
    };
    let trigger_data = j!({
        "key": key,
        "deliveryId": verified.delivery_id,
        "headers": kept_headers(headers),
        "body": parsed.unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
    });
    let (run_id, duplicate) = start_run(
        state,
        Start {
            version_id: hook.version_id,
            input,
            trigger_type: orbflow_model::TriggerType::Webhook,
            trigger_data,
            // from signed content only: an unsigned id header cannot make a replay new
            idempotency_key: verified.replay_key.map(|r| format!("webhook:{key}:{r}")),
        },
    )
    .await?;
    let status = if duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(json(status, &HookOut { run_id, duplicate }))
}
