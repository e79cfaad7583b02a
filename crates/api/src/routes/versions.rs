//! Published versions: publish the draft (strict validation, and the
//! publishing token must hold every permission its actions require), list,
//! get, diff, export, and rollback (version n + 1 with version k's document;
//! history is never rewritten).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use orbflow_engine::admin::{Page, VersionInfo, WorkflowRecord};
use orbflow_model::Workflow;
use orbflow_model::dsl::located::Locations;
use orbflow_model::dsl::{self, Format};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::dto::{DiffOut, PageQuery, VersionOut, VersionPage};
use crate::error::DiagnosticOut;
use crate::extract::{Path, Query, next_cursor, page_size};
use crate::routes::{find_workflow, json, with_header};
use crate::state::AppState;
use crate::{Error, Result};

/// Catalog names of every action the workflow uses.
fn actions_used(wf: &Workflow) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for row in orbflow_model::plan::flatten(&wf.steps) {
        if row.step_type == orbflow_model::StepType::Action {
            out.insert(row.action);
        }
    }
    out
}

/// 403 unless `who` holds every permission the workflow's actions require.
fn check_action_permissions(state: &AppState, who: &Principal, wf: &Workflow) -> Result<()> {
    let needed: BTreeSet<&str> = actions_used(wf)
        .iter()
        .filter_map(|a| state.registry().spec(a))
        .flat_map(|s| s.required_permissions.iter().copied())
        .collect();
    let needed: Vec<&str> = needed.into_iter().collect();
    who.require(&needed)
}

/// One problem of [`check_references`], placed in the source when it can be.
fn problem(locations: Option<&Locations>, path: String, code: &str, message: String) -> DiagnosticOut {
    let pos = locations.and_then(|l| l.value(&path));
    DiagnosticOut {
        line: pos.map(|p| p.line),
        column: pos.map(|p| p.column),
        code: code.into(),
        message,
        path,
    }
}

/// 422 naming every place that reads what the workspace lacks: a
/// `{{ secrets.NAME }}` neither the workspace nor the operator-wide
/// fallback (`ORBFLOW_SECRET_NAME` on this process) has, a connection that
/// does not exist or is of another kind, a step that needs a connection
/// when its kind has no default, a connection that reads a secret nobody set.
async fn check_references(
    state: &AppState,
    who: &Principal,
    workflow: &Workflow,
    locations: Option<&Locations>,
) -> Result<()> {
    let uses = workflow.secret_uses();
    let needing: Vec<_> = workflow
        .action_steps()
        .into_iter()
        .filter_map(|a| {
            let spec = state.registry().spec(a.action)?;
            spec.connection.map(|u| (a, u))
        })
        .collect();
    if uses.is_empty() && needing.is_empty() {
        return Ok(());
    }
    let set: BTreeSet<String> = state
        .admin()
        .secrets(who.workspace_id())
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let has_secret = |n: &str| set.contains(n) || state.secret(n).is_some();
    let mut problems: Vec<DiagnosticOut> = uses
        .into_iter()
        .filter(|u| !has_secret(&u.name))
        .map(|u| {
            let message = format!(
                "secret `{}` is not set in this workspace (set it with `orbflow secrets set {}` or PUT /v1/secrets/{})",
                u.name, u.name, u.name
            );
            problem(locations, u.path, "unknown-secret", message)
        })
        .collect();
    let connections = if needing.is_empty() {
        Vec::new()
    } else {
        state.admin().connections(who.workspace_id()).await?
    };
    for (step, usage) in needing {
        // a config whose kind has no connection (a platform we do not
        // post to) is refused by its schema, not here
        let Some(kind) = usage.kind_for(step.config) else {
            continue;
        };
        let named = usage.name_in(step.config);
        let (found, at) = match named {
            Some(serde_json::Value::String(n)) if !n.contains("{{") => {
                let at = format!("{}.config.{}", step.path, usage.name_field);
                match connections.iter().find(|c| &c.name == n) {
                    // the operator's connection of the kind and name
                    // (ORBFLOW_CONNECTION_<KIND>__<NAME>)
                    None if state.engine().fallback_named(kind, n).is_some() => continue,
                    None => {
                        let message = format!(
                            "connection `{n}` does not exist in this workspace (set it with `orbflow connections set {n} --kind {kind}` or PUT /v1/connections/{n})"
                        );
                        problems.push(problem(locations, at, "unknown-connection", message));
                        continue;
                    }
                    Some(c) if c.kind != kind => {
                        let message = format!(
                            "connection `{n}` is a `{}` connection; {} needs a `{kind}` one",
                            c.kind, step.action
                        );
                        problems.push(problem(locations, at, "unknown-connection", message));
                        continue;
                    }
                    Some(c) => (c, at),
                }
            }
            // a template or another type: it is checked when the step runs
            Some(_) => continue,
            None if !usage.needed_by(step.config) => continue,
            None => {
                let at = format!("{}.config", step.path);
                match connections.iter().find(|c| c.kind == kind && c.is_default) {
                    Some(c) => (c, at),
                    // the operator's connection of the kind (ORBFLOW_CONNECTION_<KIND>)
                    None if state.engine().fallback_connection(kind).is_some() => continue,
                    None => {
                        let message = format!(
                            "{} needs a `{kind}` connection: name one in `{}`, or make one the workspace's default (`orbflow connections set NAME --kind {kind} --default`)",
                            step.action, usage.name_field
                        );
                        problems.push(problem(locations, at, "unknown-connection", message));
                        continue;
                    }
                }
            }
        };
        for name in orbflow_model::secrets::names_in(&found.settings) {
            if !has_secret(&name) {
                let message = format!(
                    "connection `{}` reads secret `{name}`, which is not set in this workspace (`orbflow secrets set {name}`)",
                    found.name
                );
                problems.push(problem(locations, at.clone(), "unknown-secret", message));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidWorkflow(problems))
    }
}

async fn publish_document(
    state: &AppState,
    who: &Principal,
    wf: &WorkflowRecord,
    workflow: &Workflow,
    locations: Option<&Locations>,
) -> Result<(StatusCode, VersionInfo)> {
    check_action_permissions(state, who, workflow)?;
    check_references(state, who, workflow, locations).await?;
    let document = dsl::canonical_json(workflow).map_err(|e| match e {
        orbflow_model::Error::TooLarge { .. } => Error::Unprocessable {
            code: "document-too-large",
            detail: e.to_string(),
        },
        other => Error::Internal(format!("canonical document: {other}")),
    })?;
    let v = state.admin().publish(wf.id, &document, Some(&who.author())).await?;
    Ok((StatusCode::CREATED, v))
}

fn version_response(status: StatusCode, v: &VersionInfo, wf: &WorkflowRecord) -> Response {
    let res = json(status, &VersionOut::full(v));
    with_header(
        res,
        header::LOCATION,
        &format!("/v1/workflows/{}/versions/{}", wf.slug, v.number),
    )
}

/// Publishes the draft as the next version and makes it active (its
/// triggers replace the previous version's). Publishing a draft identical
/// to the active version creates nothing and returns that version (200).
#[utoipa::path(
    post, path = "/v1/workflows/{workflow}/versions", tag = "versions",
    params(("workflow" = String, Path, description = "Slug or id")),
    responses(
        (status = 201, description = "Published as a new version", body = VersionOut),
        (status = 200, description = "The draft equals the active version: nothing new", body = VersionOut),
        (status = 422, description = "The draft is invalid, or reads a secret or connection the workspace does not have: every problem with its path, line and column", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks workflows:publish or a permission an action requires", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn publish(
    State(state): State<AppState>,
    who: Principal,
    Path(slug): Path<String>,
) -> Result<Response> {
    who.require(&["workflows:publish"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let format = if wf.draft_format == "json" {
        Format::Json
    } else {
        Format::Yaml
    };
    let parsed = dsl::load(&wf.draft_document, format, state.registry())
        .map_err(|d| Error::InvalidWorkflow(d.iter().map(Into::into).collect()))?;
    if let Some(n) = wf.active_version
        && wf.status == orbflow_model::WorkflowStatus::Active
        && let Some(active) = state.admin().version_info(wf.id, n).await?
        && serde_json::from_str::<Workflow>(&active.document).ok().as_ref() == Some(&parsed.workflow)
    {
        check_action_permissions(&state, &who, &parsed.workflow)?;
        return Ok(version_response(StatusCode::OK, &active, &wf));
    }
    let (status, v) = publish_document(&state, &who, &wf, &parsed.workflow, Some(&parsed.locations)).await?;
    Ok(version_response(status, &v, &wf))
}

fn cursor_number(c: Option<&str>) -> Result<Option<i32>> {
    c.map(|c| {
        c.parse::<i32>().map_err(|_| Error::BadRequest {
            code: "invalid-cursor",
            detail: "cursor is not one this API returned".into(),
        })
    })
    .transpose()
}

/// Lists published versions, newest first.
#[utoipa::path(
    get, path = "/v1/workflows/{workflow}/versions", tag = "versions",
    params(("workflow" = String, Path, description = "Slug or id"), PageQuery),
    responses((status = 200, description = "A page of versions", body = VersionPage)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(slug): Path<String>,
    Query(p): Query<PageQuery>,
) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let limit = page_size(p.limit);
    let after = cursor_number(p.cursor.as_deref())?;
    let rows = state.admin().versions(wf.id, Page { after, limit }).await?;
    let next_cursor = next_cursor(&rows, limit, |v| v.number.to_string());
    Ok(json(
        StatusCode::OK,
        &VersionPage {
            items: rows.iter().map(VersionOut::summary).collect(),
            next_cursor,
        },
    ))
}

async fn find_version(state: &AppState, wf: &WorkflowRecord, number: i32) -> Result<VersionInfo> {
    state
        .admin()
        .version_info(wf.id, number)
        .await?
        .ok_or_else(|| Error::NotFound(format!("version {number} of `{}`", wf.slug)))
}

fn parse_version(v: &VersionInfo) -> Result<Workflow> {
    serde_json::from_str(&v.document).map_err(|e| Error::Internal(format!("stored version document: {e}")))
}

/// One version with its canonical document.
#[utoipa::path(
    get, path = "/v1/workflows/{workflow}/versions/{number}", tag = "versions",
    params(("workflow" = String, Path, description = "Slug or id"), ("number" = i32, Path, description = "Version number")),
    responses((status = 200, description = "The version", body = VersionOut)),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path((slug, number)): Path<(String, i32)>,
) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let v = find_version(&state, &wf, number).await?;
    Ok(json(StatusCode::OK, &VersionOut::full(&v)))
}

/// Query of an export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// Document format (default yaml).
    #[param(inline)]
    format: Option<crate::dto::ExportFormat>,
}

/// A version's document in canonical YAML or JSON.
#[utoipa::path(
    get, path = "/v1/workflows/{workflow}/versions/{number}/export", tag = "versions",
    params(("workflow" = String, Path, description = "Slug or id"), ("number" = i32, Path, description = "Version number"), ExportQuery),
    responses((status = 200, description = "The document", content(
        (Object = "application/yaml"), (Object = "application/json")
    ))),
    security(("bearer" = []))
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    who: Principal,
    Path((slug, number)): Path<(String, i32)>,
    Query(q): Query<ExportQuery>,
) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let v = find_version(&state, &wf, number).await?;
    let doc = parse_version(&v)?;
    let (ct, text) = match q.format.unwrap_or_default() {
        crate::dto::ExportFormat::Yaml => ("application/yaml", dsl::to_yaml(&doc)),
        crate::dto::ExportFormat::Json => ("application/json", dsl::to_json(&doc)),
    };
    let text = text.map_err(|e| Error::Internal(e.to_string()))?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, ct)], text).into_response())
}

/// Query of a diff.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffQuery {
    /// The version to compare with.
    to: i32,
}

/// What changed from version `number` to version `to`.
#[utoipa::path(
    get, path = "/v1/workflows/{workflow}/versions/{number}/diff", tag = "versions",
    params(("workflow" = String, Path, description = "Slug or id"), ("number" = i32, Path, description = "Version number"), DiffQuery),
    responses((status = 200, description = "Differences, path by path", body = DiffOut)),
    security(("bearer" = []))
)]
pub(crate) async fn diff(
    State(state): State<AppState>,
    who: Principal,
    Path((slug, number)): Path<(String, i32)>,
    Query(q): Query<DiffQuery>,
) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let a = find_version(&state, &wf, number).await?;
    let b = find_version(&state, &wf, q.to).await?;
    let da: serde_json::Value = serde_json::from_str(&a.document).map_err(|e| Error::Internal(e.to_string()))?;
    let db: serde_json::Value = serde_json::from_str(&b.document).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(json(
        StatusCode::OK,
        &DiffOut {
            from: number,
            to: q.to,
            changes: crate::diff::diff(&da, &db),
        },
    ))
}

/// Rolls back to version `number`: publishes its document as version n + 1
/// (the draft is left as it is).
#[utoipa::path(
    post, path = "/v1/workflows/{workflow}/versions/{number}/rollback", tag = "versions",
    params(("workflow" = String, Path, description = "Slug or id"), ("number" = i32, Path, description = "Version to restore")),
    responses(
        (status = 201, description = "Published as version n + 1", body = VersionOut),
        (status = 403, description = "The token lacks workflows:publish or a permission an action requires", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    who: Principal,
    Path((slug, number)): Path<(String, i32)>,
) -> Result<Response> {
    who.require(&["workflows:publish"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let v = find_version(&state, &wf, number).await?;
    let doc = parse_version(&v)?;
    // a document that was valid then must still be valid with this catalog
    orbflow_model::dsl::check(&doc, state.registry()).map_err(|e| match e {
        orbflow_model::Error::Invalid(d) => Error::InvalidWorkflow(d.iter().map(Into::into).collect()),
        other => Error::Internal(other.to_string()),
    })?;
    let (status, v) = publish_document(&state, &who, &wf, &doc, None).await?;
    Ok(version_response(status, &v, &wf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_collected_from_every_block() {
        let text = r#"
schemaVersion: 1
name: t
triggers: [ { type: manual } ]
steps:
  - key: a
    action: TRANSFORM
    config: { value: 1 }
  - key: c
    type: condition
    if: "true"
    then:
      - { key: s, action: SEND_SLACK_MESSAGE, config: { webhookUrl: "https://x.invalid/h", text: "t" } }
"#;
        let p = dsl::parse(text, Format::Yaml).expect("parses");
        let used: Vec<String> = actions_used(&p.workflow).into_iter().collect();
        assert_eq!(used, ["SEND_SLACK_MESSAGE", "TRANSFORM"]);
    }
}
