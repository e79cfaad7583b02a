//! Workflows and their drafts: create (the DSL as YAML or JSON, by
//! Content-Type), list, get, archive, the draft with optimistic concurrency
//! (ETag / If-Match), and validation without saving.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orbflow_engine::admin::{NewWorkflow, Page};
use orbflow_model::dsl::{self, Format};
use orbflow_model::workflow::slugify;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Principal;
use crate::dto::{PageQuery, ValidationOut, WorkflowOut, WorkflowPage};
use crate::error::DiagnosticOut;
use crate::extract::{Path, Query, content_type, next_cursor, page_size, read_body, uuid_cursor};
use crate::routes::{find_workflow, json, with_header};
use crate::state::AppState;
use crate::{Error, Result};

/// Slugs that would shadow a route.
const RESERVED: &[&str] = &["validate"];

/// The document format a Content-Type names.
pub(crate) fn format_of(headers: &HeaderMap) -> Result<Format> {
    match content_type(headers).as_str() {
        "application/json" => Ok(Format::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Ok(Format::Yaml),
        other => Err(Error::UnsupportedMediaType(format!(
            "{other}` (send the workflow as application/yaml or application/json"
        ))),
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Json => "json",
        Format::Yaml => "yaml",
    }
}

/// A document read from a request body.
struct Document {
    /// The text, as sent.
    text: String,
    /// Its format.
    format: Format,
    /// Its `name`.
    name: String,
    /// Its `description`.
    description: Option<String>,
}

/// Reads a document body: text within the document limit, parsed (shape
/// and types; semantic rules are for publish).
async fn read_document(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Document> {
    let format = format_of(headers)?;
    let bytes = read_body(headers, body, state.config().max_document_bytes).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| Error::BadRequest {
        code: "invalid-body",
        detail: "the workflow document is not UTF-8".into(),
    })?;
    let parsed = dsl::parse(&text, format).map_err(|d| Error::InvalidWorkflow(d.iter().map(Into::into).collect()))?;
    Ok(Document {
        text,
        format,
        name: parsed.workflow.name,
        description: parsed.workflow.description,
    })
}

fn check_slug(slug: &str) -> Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(Error::Unprocessable {
            code: "invalid-slug",
            detail: format!("slug `{slug}` must match [a-z0-9][a-z0-9_-]* (at most 63 characters)"),
        });
    }
    if RESERVED.contains(&slug) || Uuid::parse_str(slug).is_ok() {
        return Err(Error::Unprocessable {
            code: "invalid-slug",
            detail: format!("slug `{slug}` is reserved"),
        });
    }
    Ok(())
}

fn etag(revision: i64) -> String {
    format!("\"{revision}\"")
}

fn with_etag(res: Response, revision: i64) -> Response {
    with_header(res, header::ETAG, &etag(revision))
}

/// Query of a create.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CreateQuery {
    /// Slug of the new workflow; default: derived from its `name`.
    slug: Option<String>,
}

/// Creates a workflow from a draft document.
#[utoipa::path(
    post, path = "/v1/workflows", tag = "workflows",
    params(CreateQuery),
    request_body(description = "The workflow document (DSL)", content(
        (Object = "application/yaml"), (Object = "application/json")
    )),
    responses(
        (status = 201, description = "Created; the ETag is the draft's revision", body = WorkflowOut),
        (status = 409, description = "The slug is taken", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<CreateQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["workflows:write"])?;
    let doc = read_document(&state, &headers, body).await?;
    let slug = q.slug.unwrap_or_else(|| slugify(&doc.name));
    check_slug(&slug)?;
    let wf = state
        .admin()
        .create_workflow(&NewWorkflow {
            workspace_id: who.workspace_id(),
            slug,
            name: doc.name,
            draft_document: doc.text,
            draft_format: format_name(doc.format).into(),
            description: doc.description,
            actor: Some(who.actor()),
        })
        .await?;
    let res = json(StatusCode::CREATED, &WorkflowOut::from(&wf));
    let res = with_header(res, header::LOCATION, &format!("/v1/workflows/{}", wf.slug));
    Ok(with_etag(res, wf.draft_revision))
}

/// Query of a listing of workflows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this status.
    #[param(inline)]
    status: Option<crate::dto::WorkflowStatusQ>,
}

/// Lists the workspace's workflows, newest first.
#[utoipa::path(
    get, path = "/v1/workflows", tag = "workflows",
    params(ListQuery, PageQuery),
    responses((status = 200, description = "A page of workflows", body = WorkflowPage)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
    Query(p): Query<PageQuery>,
) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let after = uuid_cursor(p.cursor.as_deref())?;
    let limit = page_size(p.limit);
    let rows = state
        .admin()
        .workflows(who.workspace_id(), q.status.map(Into::into), Page { after, limit })
        .await?;
    let next_cursor = next_cursor(&rows, limit, |w| w.id.to_string());
    Ok(json(
        StatusCode::OK,
        &WorkflowPage {
            items: rows.iter().map(WorkflowOut::from).collect(),
            next_cursor,
        },
    ))
}

/// One workflow, by slug or id.
#[utoipa::path(
    get, path = "/v1/workflows/{workflow}", tag = "workflows",
    params(("workflow" = String, Path, description = "Slug or id")),
    responses((status = 200, description = "The workflow", body = WorkflowOut)),
    security(("bearer" = []))
)]
pub(crate) async fn get(State(state): State<AppState>, who: Principal, Path(slug): Path<String>) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    Ok(with_etag(
        json(StatusCode::OK, &WorkflowOut::from(&wf)),
        wf.draft_revision,
    ))
}

/// Archives a workflow: its schedules, webhooks and event triggers stop.
/// Publishing again makes it ACTIVE.
#[utoipa::path(
    post, path = "/v1/workflows/{workflow}/archive", tag = "workflows",
    params(("workflow" = String, Path, description = "Slug or id")),
    responses((status = 200, description = "Archived", body = WorkflowOut)),
    security(("bearer" = []))
)]
pub(crate) async fn archive(
    State(state): State<AppState>,
    who: Principal,
    Path(slug): Path<String>,
) -> Result<Response> {
    who.require(&["workflows:write"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    state.admin().archive_workflow(wf.id, Some(&who.author())).await?;
    let wf = find_workflow(&state, &who, &wf.id.to_string()).await?;
    Ok(json(StatusCode::OK, &WorkflowOut::from(&wf)))
}

/// The draft as written (YAML or JSON), with its revision as ETag.
#[utoipa::path(
    get, path = "/v1/workflows/{workflow}/draft", tag = "workflows",
    params(("workflow" = String, Path, description = "Slug or id")),
    responses((status = 200, description = "The draft text; ETag: its revision", content(
        (Object = "application/yaml"), (Object = "application/json")
    ))),
    security(("bearer" = []))
)]
pub(crate) async fn get_draft(
    State(state): State<AppState>,
    who: Principal,
    Path(slug): Path<String>,
) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let ct = if wf.draft_format == "json" {
        "application/json"
    } else {
        "application/yaml"
    };
    let res = (StatusCode::OK, [(header::CONTENT_TYPE, ct)], wf.draft_document.clone()).into_response();
    Ok(with_etag(res, wf.draft_revision))
}

/// One entity tag of an `If-Match` list (RFC 9110 §8.8.3).
#[derive(Debug, PartialEq)]
struct EntityTag {
    weak: bool,
    opaque: String,
}

/// Parses `If-Match` strictly (RFC 9110 §13.1.1): `*` or a comma-separated
/// list of entity tags `"…"` / `W/"…"`. 428 when absent, 400 when malformed
/// (an unbalanced quote, a bare token), 412 for `*` (a draft write must name
/// the revision it read).
fn if_match(headers: &HeaderMap) -> Result<Vec<EntityTag>> {
    let mut values = headers.get_all(header::IF_MATCH).iter().peekable();
    if values.peek().is_none() {
        return Err(Error::PreconditionRequired);
    }
    let bad = |why: &str| Error::BadRequest {
        code: "invalid-header",
        detail: format!("If-Match is malformed: {why}"),
    };
    let mut tags = Vec::new();
    for v in values {
        let text = v.to_str().map_err(|_| bad("not visible ASCII"))?;
        for item in split_list(text).ok_or_else(|| bad("an entity tag is not a quoted string"))? {
            if item == "*" {
                return Err(Error::PreconditionFailed(
                    "`If-Match: *` is not accepted here: send the ETag of the draft you read".into(),
                ));
            }
            let (weak, rest) = match item.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            let opaque = rest
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .filter(|o| o.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)))
                .ok_or_else(|| bad("an entity tag is not a quoted string"))?;
            tags.push(EntityTag {
                weak,
                opaque: opaque.to_owned(),
            });
        }
    }
    if tags.is_empty() {
        return Err(bad("no entity tag"));
    }
    Ok(tags)
}

/// Splits a header list on the commas outside quoted strings; `None` when a
/// quote is unbalanced.
fn split_list(text: &str) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    items.push(text[start..].trim());
    // empty list elements are allowed and ignored (RFC 9110 §5.6.1)
    Some(items.into_iter().filter(|i| !i.is_empty()).collect())
}

/// The draft revision to write over: `current` when `If-Match` lists its
/// ETag with a strong comparison (weak tags never match, RFC 9110 §13.1.1),
/// otherwise 412.
fn matched_revision(tags: &[EntityTag], current: i64) -> Result<i64> {
    let current_tag = current.to_string();
    if tags.iter().any(|t| !t.weak && t.opaque == current_tag) {
        return Ok(current);
    }
    let strong: Vec<&str> = tags.iter().filter(|t| !t.weak).map(|t| t.opaque.as_str()).collect();
    Err(Error::PreconditionFailed(match strong.as_slice() {
        [] => "a weak entity tag (`W/\"…\"`) never matches If-Match: send the ETag as it was returned".into(),
        [one] => format!("the draft changed since revision {one} was read"),
        _ => "the draft changed since the revisions in If-Match were read".into(),
    }))
}

/// Replaces the draft. `If-Match` must carry the ETag that was read: a
/// stale revision is refused with 412 and nothing is written.
#[utoipa::path(
    put, path = "/v1/workflows/{workflow}/draft", tag = "workflows",
    params(
        ("workflow" = String, Path, description = "Slug or id"),
        ("If-Match" = String, Header, description = "ETag of the draft revision being replaced"),
    ),
    request_body(description = "The new draft", content(
        (Object = "application/yaml"), (Object = "application/json")
    )),
    responses(
        (status = 200, description = "Saved; the ETag is the new revision", body = WorkflowOut),
        (status = 412, description = "The draft changed since that revision", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn put_draft(
    State(state): State<AppState>,
    who: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["workflows:write"])?;
    let wf = find_workflow(&state, &who, &slug).await?;
    let revision = matched_revision(&if_match(&headers)?, wf.draft_revision)?;
    let doc = read_document(&state, &headers, body).await?;
    let saved = state
        .admin()
        .save_draft(
            wf.id,
            revision,
            &NewWorkflow {
                workspace_id: wf.workspace_id,
                slug: wf.slug.clone(),
                name: doc.name,
                draft_document: doc.text,
                draft_format: format_name(doc.format).into(),
                description: doc.description,
                actor: Some(who.actor()),
            },
        )
        .await?
        .ok_or_else(|| Error::PreconditionFailed(format!("the draft changed since revision {revision} was read")))?;
    Ok(with_etag(
        json(StatusCode::OK, &WorkflowOut::from(&saved)),
        saved.draft_revision,
    ))
}

/// Validates a document strictly (as publish does) without saving it.
#[utoipa::path(
    post, path = "/v1/workflows/validate", tag = "workflows",
    request_body(description = "A workflow document", content(
        (Object = "application/yaml"), (Object = "application/json")
    )),
    responses((status = 200, description = "Whether it is valid, with every problem", body = ValidationOut)),
    security(("bearer" = []))
)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["workflows:read"])?;
    let format = format_of(&headers)?;
    let bytes = read_body(&headers, body, state.config().max_document_bytes).await?;
    let text = String::from_utf8_lossy(&bytes);
    let errors: Vec<DiagnosticOut> = match dsl::load(&text, format, state.registry()) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(Into::into).collect(),
    };
    Ok(json(
        StatusCode::OK,
        &ValidationOut {
            valid: errors.is_empty(),
            errors,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Mention triage!"), "mention-triage");
        assert_eq!(slugify("  Hello   World  "), "hello-world");
        assert!(check_slug("validate").is_err());
        assert!(check_slug("ok-1").is_ok());
        assert!(check_slug("-x").is_err());
        assert!(check_slug("").is_err());
    }

    #[test]
    fn if_match_forms() {
        let mut h = HeaderMap::new();
        assert!(matches!(if_match(&h), Err(Error::PreconditionRequired)));
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_MATCH, v.parse().unwrap());
            if_match(&h)
        };
        let strong = |o: &str| EntityTag {
            weak: false,
            opaque: o.into(),
        };
        assert_eq!(with("\"3\"").unwrap(), vec![strong("3")]);
        assert_eq!(matched_revision(&with("\"3\"").unwrap(), 3).unwrap(), 3);
        assert_eq!(
            matched_revision(&with("\"2\", \"3\",").unwrap(), 3).unwrap(),
            3,
            "a list matches when one strong tag does"
        );
        // weak tags never match for If-Match
        let weak = with("W/\"4\"").unwrap();
        assert!(weak[0].weak);
        assert!(matches!(matched_revision(&weak, 4), Err(Error::PreconditionFailed(_))));
        assert!(matches!(
            matched_revision(&with("\"3\"").unwrap(), 4),
            Err(Error::PreconditionFailed(_))
        ));
        assert!(matches!(with("*"), Err(Error::PreconditionFailed(_))));
        for malformed in [
            "\"1",
            "1",
            "1\"",
            "W/1",
            "\"a\"b\"",
            "\"a b\"",
            "w/\"1\"",
            ",",
            "\"1\" \"2\"",
        ] {
            assert!(
                matches!(
                    with(malformed),
                    Err(Error::BadRequest {
                        code: "invalid-header",
                        ..
                    })
                ),
                "{malformed}: {:?}",
                with(malformed)
            );
        }
        h.insert(header::IF_MATCH, "\"1\"".parse().unwrap());
        h.append(header::IF_MATCH, "\"5\"".parse().unwrap());
        assert_eq!(if_match(&h).unwrap(), vec![strong("1"), strong("5")]);
    }
}
