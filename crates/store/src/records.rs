//! The workspace data store on `workspace_records`: JSON-object records in
//! named collections. A write (insert, update, upsert, delete with an
//! equality `where`) runs in one transaction, once per dedup key: the
//! result is kept in `workspace_record_writes`, and a retried attempt gets
//! it back without writing again. Records are bounded in size
//! ([`MAX_RECORD_BYTES`]) and number per workspace ([`MAX_RECORDS`]).

use orbflow_engine::admin::{Page, RecordOp, RecordRow, RecordWrite};
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::SeaStore;
use crate::entity::workspace_record_writes as ww;
use crate::entity::workspace_records as wr;
use crate::repo::db;

/// The largest record, as JSON bytes.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// The most records a workspace holds, in all its collections.
pub const MAX_RECORDS: u64 = 10_000;

fn invalid(message: String) -> EngineError {
    EngineError::InvalidInput(message)
}

fn row(m: wr::Model) -> RecordRow {
    RecordRow {
        id: m.id,
        collection: m.collection,
        data: m.data,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// `data` as a JSON object within the size limit.
fn object<'a>(data: Option<&'a Value>, what: &str) -> EngineResult<&'a Map<String, Value>> {
    let Some(Value::Object(o)) = data else {
        return Err(invalid(format!("`{what}` must be a JSON object")));
    };
    Ok(o)
}

fn check_size(data: &Value) -> EngineResult<()> {
    let size = serde_json::to_vec(data).map_or(usize::MAX, |v| v.len());
    if size > MAX_RECORD_BYTES {
        return Err(invalid(format!(
            "a record is at most {MAX_RECORD_BYTES} bytes as JSON; this one is {size}"
        )));
    }
    Ok(())
}

fn matches(data: &Value, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, v)| data.get(k) == Some(v))
}

async fn insert(
    c: &impl ConnectionTrait,
    workspace_id: Uuid,
    collection: &str,
    data: Value,
) -> EngineResult<RecordRow> {
    check_size(&data)?;
    let count = wr::Entity::find()
        .filter(wr::Column::WorkspaceId.eq(workspace_id))
        .count(c)
        .await
        .map_err(db)?;
    if count >= MAX_RECORDS {
        return Err(invalid(format!(
            "the workspace holds {count} records, the most it may ({MAX_RECORDS}): delete some first"
        )));
    }
    let now = crate::now();
    let m = wr::Model {
        id: crate::new_id(),
        workspace_id,
        collection: collection.to_owned(),
        data,
        created_at: now,
        updated_at: now,
    };
    wr::Entity::insert(wr::ActiveModel {
        id: Set(m.id),
        workspace_id: Set(m.workspace_id),
        collection: Set(m.collection.clone()),
        data: Set(m.data.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(c)
    .await
    .map_err(db)?;
    Ok(row(m))
}

async fn replace(c: &impl ConnectionTrait, mut r: RecordRow, data: Value) -> EngineResult<RecordRow> {
    check_size(&data)?;
    let now = crate::now();
    wr::Entity::update_many()
        .col_expr(wr::Column::Data, Expr::value(data.clone()))
        .col_expr(wr::Column::UpdatedAt, Expr::value(now))
        .filter(wr::Column::Id.eq(r.id))
        .exec(c)
        .await
        .map_err(db)?;
    r.data = data;
    r.updated_at = now;
    Ok(r)
}

fn merged(base: &Value, patch: &Map<String, Value>) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    for (k, v) in patch {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

pub(crate) async fn write(s: &SeaStore, workspace_id: Uuid, w: &RecordWrite) -> EngineResult<Value> {
    let tx = crate::repo::write_tx(s.connection()).await?;
    if tx.get_database_backend() == DbBackend::Postgres {
        // a workspace's writes take turns, so that an upsert's match, the
        // record limit and the dedup key hold under concurrent writers
        // (SQLite's IMMEDIATE transaction already serializes them)
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("orbflow:records:{workspace_id}").into()],
        ))
        .await
        .map_err(db)?;
    }
    if let Some(key) = &w.dedup_key {
        let done: Option<Value> = ww::Entity::find()
            .select_only()
            .column(ww::Column::Result)
            .filter(ww::Column::WorkspaceId.eq(workspace_id))
            .filter(ww::Column::DedupKey.eq(key))
            .into_tuple()
            .one(&tx)
            .await
            .map_err(db)?;
        if let Some(result) = done {
            return Ok(result);
        }
    }
    let filter = match w.op {
        RecordOp::Insert => None,
        _ => Some(object(w.filter.as_ref(), "where")?),
    };
    let matching: Vec<RecordRow> = match filter {
        None => Vec::new(),
        Some(f) => wr::Entity::find()
            .filter(wr::Column::WorkspaceId.eq(workspace_id))
            .filter(wr::Column::Collection.eq(&w.collection))
            .order_by_asc(wr::Column::Id)
            .all(&tx)
            .await
            .map_err(db)?
            .into_iter()
            .map(row)
            .filter(|r| matches(&r.data, f))
            .collect(),
    };
    let mut written = Vec::new();
    match w.op {
        RecordOp::Insert => {
            let data = object(w.data.as_ref(), "data")?;
            written.push(insert(&tx, workspace_id, &w.collection, Value::Object(data.clone())).await?);
        }
        RecordOp::Update | RecordOp::Upsert => {
            let data = object(w.data.as_ref(), "data")?;
            if matching.is_empty() && w.op == RecordOp::Upsert {
                let mut fields = filter.cloned().unwrap_or_default();
                fields.extend(data.clone());
                written.push(insert(&tx, workspace_id, &w.collection, Value::Object(fields)).await?);
            }
            for r in matching {
                let next = merged(&r.data, data);
                written.push(replace(&tx, r, next).await?);
            }
        }
        RecordOp::Delete => {
            let ids: Vec<Uuid> = matching.iter().map(|r| r.id).collect();
            if !ids.is_empty() {
                wr::Entity::delete_many()
                    .filter(wr::Column::Id.is_in(ids))
                    .exec(&tx)
                    .await
                    .map_err(db)?;
            }
            written = matching;
        }
    }
    let result = json!({
        "affected": written.len(),
        "records": written.iter().map(|r| json!({ "id": r.id, "data": r.data })).collect::<Vec<_>>(),
    });
    if let Some(key) = &w.dedup_key {
        ww::Entity::insert(ww::ActiveModel {
            id: Set(crate::new_id()),
            workspace_id: Set(workspace_id),
            dedup_key: Set(key.clone()),
            result: Set(result.clone()),
            created_at: Set(crate::now()),
        })
        .exec_without_returning(&tx)
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(result)
}

pub(crate) async fn list(
    s: &SeaStore,
    workspace_id: Uuid,
    collection: &str,
    page: Page<Uuid>,
) -> EngineResult<Vec<RecordRow>> {
    let mut q = wr::Entity::find()
        .filter(wr::Column::WorkspaceId.eq(workspace_id))
        .filter(wr::Column::Collection.eq(collection));
    if let Some(after) = page.after {
        q = q.filter(wr::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(wr::Column::Id)
        .limit(page.limit)
        .all(s.connection())
        .await
        .map_err(db)?;
    Ok(rows.into_iter().map(row).collect())
}

pub(crate) async fn get(
    s: &SeaStore,
    workspace_id: Uuid,
    collection: &str,
    id: Uuid,
) -> EngineResult<Option<RecordRow>> {
    let r = wr::Entity::find_by_id(id)
        .filter(wr::Column::WorkspaceId.eq(workspace_id))
        .filter(wr::Column::Collection.eq(collection))
        .one(s.connection())
        .await
        .map_err(db)?;
    Ok(r.map(row))
}

pub(crate) async fn put(
    s: &SeaStore,
    workspace_id: Uuid,
    collection: &str,
    id: Uuid,
    data: &Value,
) -> EngineResult<Option<RecordRow>> {
    object(Some(data), "data")?;
    let Some(r) = get(s, workspace_id, collection, id).await? else {
        return Ok(None);
    };
    replace(s.connection(), r, data.clone()).await.map(Some)
}

pub(crate) async fn delete(s: &SeaStore, workspace_id: Uuid, collection: &str, id: Uuid) -> EngineResult<bool> {
    let r = wr::Entity::delete_many()
        .filter(wr::Column::WorkspaceId.eq(workspace_id))
        .filter(wr::Column::Collection.eq(collection))
        .filter(wr::Column::Id.eq(id))
        .exec(s.connection())
        .await
        .map_err(db)?;
    Ok(r.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_top_level_fields_by_json_equality() {
        let data = json!({"status": "new", "score": 3, "tags": ["a"]});
        let f = |v: Value| matches(&data, v.as_object().unwrap());
        assert!(f(json!({})));
        assert!(f(json!({"status": "new", "score": 3})));
        assert!(f(json!({"tags": ["a"]})));
        assert!(!f(json!({"score": "3"})), "types differ");
        assert!(!f(json!({"missing": null})), "absent is not null");
    }

    #[test]
    fn updates_merge_top_level_fields() {
        let out = merged(
            &json!({"a": 1, "b": {"x": 1}}),
            json!({"b": {"y": 2}, "c": 3}).as_object().unwrap(),
        );
        assert_eq!(out, json!({"a": 1, "b": {"y": 2}, "c": 3}));
    }
}
