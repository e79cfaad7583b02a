//! The workspace's stored email templates (SEND_EMAIL's `templateId`): a
//! subject and text and/or HTML bodies whose `{{ }}` templates read the
//! step's `data`. Set (checked: the templates must parse), list, read,
//! delete.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use orbflow_engine::admin::EmailTemplateRecord;
use orbflow_model::expr::template::Template;

use crate::auth::Principal;
use crate::dto::{EmailTemplateIn, EmailTemplateList, EmailTemplateOut};
use crate::extract::{Path, json_request, read_body};
use crate::routes::{NameRule, json};
use crate::state::AppState;
use crate::{Error, Result};

/// What a name in this route's path may be (400 `invalid-path` otherwise).
const TEMPLATE_NAME: NameRule = NameRule {
    max: 63,
    first: |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
    rest: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_',
    says: "an email template's name is lower-case letters, digits, `-` and `_` (at most 63)",
};

fn invalid(detail: String) -> Error {
    Error::Unprocessable {
        code: "invalid-template",
        detail,
    }
}

/// 422 unless every part parses and there is a body.
fn check(t: &EmailTemplateIn) -> Result<()> {
    if t.text.is_none() && t.html.is_none() {
        return Err(invalid("a template needs `text`, `html` or both".into()));
    }
    for (what, part) in [
        ("subject", Some(&t.subject)),
        ("text", t.text.as_ref()),
        ("html", t.html.as_ref()),
    ] {
        if let Some(p) = part
            && let Err(e) = Template::parse(p)
        {
            return Err(invalid(format!("{what}: {e}")));
        }
    }
    Ok(())
}

async fn find(state: &AppState, who: &Principal, name: &str) -> Result<Option<EmailTemplateRecord>> {
    let rows = state.admin().email_templates(who.workspace_id()).await?;
    Ok(rows.into_iter().find(|t| t.name == name))
}

/// The workspace's email templates.
#[utoipa::path(
    get, path = "/v1/email-templates", tag = "email-templates",
    responses((status = 200, description = "Templates by name", body = EmailTemplateList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>, who: Principal) -> Result<Response> {
    who.require(&["templates:read"])?;
    let rows = state.admin().email_templates(who.workspace_id()).await?;
    Ok(json(
        StatusCode::OK,
        &EmailTemplateList {
            items: rows.iter().map(EmailTemplateOut::from).collect(),
        },
    ))
}

/// One email template.
#[utoipa::path(
    get, path = "/v1/email-templates/{name}", tag = "email-templates",
    params(("name" = String, Path, description = "Template name")),
    responses(
        (status = 200, description = "The template", body = EmailTemplateOut),
        (status = 404, description = "No such template in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, who: Principal, Path(name): Path<String>) -> Result<Response> {
    who.require(&["templates:read"])?;
    TEMPLATE_NAME.check(&name)?;
    let t = find(&state, &who, &name)
        .await?
        .ok_or_else(|| Error::NotFound("email template".into()))?;
    Ok(json(StatusCode::OK, &EmailTemplateOut::from(&t)))
}

/// Sets an email template: 201 when new, 200 when replaced.
#[utoipa::path(
    put, path = "/v1/email-templates/{name}", tag = "email-templates",
    params(("name" = String, Path, description = "Template name")),
    request_body = EmailTemplateIn,
    responses(
        (status = 201, description = "Created", body = EmailTemplateOut),
        (status = 200, description = "Replaced", body = EmailTemplateOut),
        (status = 422, description = "No body, or a part whose `{{ }}` does not parse", body = crate::error::Problem, content_type = "application/problem+json"),
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
    who.require(&["templates:write"])?;
    TEMPLATE_NAME.check(&name)?;
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let req: EmailTemplateIn = json_request(&headers, &bytes, None)?;
    check(&req)?;
    let record = EmailTemplateRecord {
        name: name.clone(),
        subject: req.subject,
        text: req.text,
        html: req.html,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    let created = state.admin().put_email_template(who.workspace_id(), &record).await?;
    let t = find(&state, &who, &name)
        .await?
        .ok_or_else(|| Error::Internal(format!("email template {name} missing after it was set")))?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(status, &EmailTemplateOut::from(&t)))
}

/// Deletes an email template.
#[utoipa::path(
    delete, path = "/v1/email-templates/{name}", tag = "email-templates",
    params(("name" = String, Path, description = "Template name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such template in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Response> {
    who.require(&["templates:write"])?;
    TEMPLATE_NAME.check(&name)?;
    if state.admin().delete_email_template(who.workspace_id(), &name).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotFound("email template".into()))
    }
}
