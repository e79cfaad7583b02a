//! The workspace data store: JSON records in named collections, the ones
//! UPDATE_DATABASE writes. List (oldest first, cursor paging), insert, read,
//! replace and delete a record.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orbflow_engine::admin::{Page, RecordOp, RecordWrite};
use uuid::Uuid;

use crate::auth::Principal;
use crate::dto::{PageQuery, RecordIn, RecordOut, RecordPage};
use crate::extract::{Path, Query, json_request, next_cursor, page_size, read_body, uuid_cursor};
use crate::routes::{NameRule, json, with_header};
use crate::state::AppState;
use crate::{Error, Result};

/// What a name in this route's path may be (400 `invalid-path` otherwise).
const COLLECTION_NAME: NameRule = NameRule {
    max: 63,
    first: |c| c.is_ascii_lowercase(),
    rest: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
    says: "a collection's name is a lower-case letter, then lower-case letters, digits or `_` (at most 63)",
};

/// A collection's records, oldest first.
#[utoipa::path(
    get, path = "/v1/collections/{name}/records", tag = "records",
    params(("name" = String, Path, description = "Collection"), PageQuery),
    responses((status = 200, description = "A page of records", body = RecordPage)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Query(p): Query<PageQuery>,
) -> Result<Response> {
    who.require(&["data:read"])?;
    COLLECTION_NAME.check(&name)?;
    let limit = page_size(p.limit);
    let after = uuid_cursor(p.cursor.as_deref())?;
    let rows = state
        .admin()
        .records(who.workspace_id(), &name, Page { after, limit })
        .await?;
    let next_cursor = next_cursor(&rows, limit, |r| r.id.to_string());
    Ok(json(
        StatusCode::OK,
        &RecordPage {
            items: rows.iter().map(RecordOut::from).collect(),
            next_cursor,
        },
    ))
}

/// Inserts a record.
#[utoipa::path(
    post, path = "/v1/collections/{name}/records", tag = "records",
    params(("name" = String, Path, description = "Collection")),
    request_body = RecordIn,
    responses(
        (status = 201, description = "Inserted", body = RecordOut),
        (status = 422, description = "Not an object, over 64 KiB, or the workspace is full", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn insert(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["data:write"])?;
    COLLECTION_NAME.check(&name)?;
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let req: RecordIn = json_request(&headers, &bytes, None)?;
    let write = RecordWrite {
        collection: name.clone(),
        op: RecordOp::Insert,
        data: Some(req.data),
        filter: None,
        dedup_key: None,
    };
    let out = state.engine().store().write_records(who.workspace_id(), &write).await?;
    let id = out["records"][0]["id"]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok())
        .ok_or_else(|| Error::Internal("insert returned no record".into()))?;
    let r = state
        .admin()
        .record(who.workspace_id(), &name, id)
        .await?
        .ok_or_else(|| Error::Internal(format!("record {id} missing after insert")))?;
    Ok(with_header(
        json(StatusCode::CREATED, &RecordOut::from(&r)),
        header::LOCATION,
        &format!("/v1/collections/{name}/records/{id}"),
    ))
}

/// One record.
#[utoipa::path(
    get, path = "/v1/collections/{name}/records/{id}", tag = "records",
    params(("name" = String, Path, description = "Collection"), ("id" = Uuid, Path, description = "Record id")),
    responses(
        (status = 200, description = "The record", body = RecordOut),
        (status = 404, description = "No such record in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path((name, id)): Path<(String, Uuid)>,
) -> Result<Response> {
    who.require(&["data:read"])?;
    COLLECTION_NAME.check(&name)?;
    let r = state
        .admin()
        .record(who.workspace_id(), &name, id)
        .await?
        .ok_or_else(|| Error::NotFound("record".into()))?;
    Ok(json(StatusCode::OK, &RecordOut::from(&r)))
}

/// Replaces a record's data.
#[utoipa::path(
    put, path = "/v1/collections/{name}/records/{id}", tag = "records",
    params(("name" = String, Path, description = "Collection"), ("id" = Uuid, Path, description = "Record id")),
    request_body = RecordIn,
    responses(
        (status = 200, description = "Replaced", body = RecordOut),
        (status = 404, description = "No such record in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an object, or over 64 KiB", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn replace(
    State(state): State<AppState>,
    who: Principal,
    Path((name, id)): Path<(String, Uuid)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    who.require(&["data:write"])?;
    COLLECTION_NAME.check(&name)?;
    let bytes = read_body(&headers, body, state.config().max_input_bytes).await?;
    let req: RecordIn = json_request(&headers, &bytes, None)?;
    let r = state
        .admin()
        .replace_record(who.workspace_id(), &name, id, &req.data)
        .await?
        .ok_or_else(|| Error::NotFound("record".into()))?;
    Ok(json(StatusCode::OK, &RecordOut::from(&r)))
}

/// Deletes a record.
#[utoipa::path(
    delete, path = "/v1/collections/{name}/records/{id}", tag = "records",
    params(("name" = String, Path, description = "Collection"), ("id" = Uuid, Path, description = "Record id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such record in the caller's workspace", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path((name, id)): Path<(String, Uuid)>,
) -> Result<Response> {
    who.require(&["data:write"])?;
    COLLECTION_NAME.check(&name)?;
    if state.admin().delete_record(who.workspace_id(), &name, id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotFound("record".into()))
    }
}
