//! [`Admin`] on SeaORM: workspaces, tokens, workflows with drafts and
//! versions, trigger lookups and keyset-paginated listings for the HTTP API.

use chrono::{DateTime, Utc};
use orbflow_engine::admin::{
    Actor, Admin, NewWorkflow, Page, RunFilter, ScheduleInfo, SubscriptionRecord, TokenRecord, VersionInfo,
    WebhookRecord, WorkflowRecord, WorkspaceRecord,
};
use orbflow_engine::store::{LogRecord, RunRecord};
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::SeaStore;
use crate::entity::{
    api_tokens as tokens, workflow_event_subscriptions as subs, workflow_events as events, workflow_run_logs as logs,
    workflow_runs as runs, workflow_schedules as schedules, workflow_versions as versions, workflow_webhooks as hooks,
    workflows, workspaces,
};
use crate::repo::{db, log_from, publish_in, run_from, status, write_tx};
use orbflow_model::WorkflowStatus;

fn workspace_from(m: workspaces::Model) -> WorkspaceRecord {
    WorkspaceRecord {
        id: m.id,
        slug: m.slug,
        name: m.name,
        created_at: m.created_at,
    }
}

fn token_from(m: tokens::Model) -> TokenRecord {
    TokenRecord {
        id: m.id,
        workspace_id: m.workspace_id,
        name: m.name,
        prefix: m.token_prefix,
        permissions: serde_json::from_value(m.permissions).unwrap_or_default(),
        created_at: m.created_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    }
}

fn workflow_from(m: workflows::Model) -> EngineResult<WorkflowRecord> {
    Ok(WorkflowRecord {
        id: m.id,
        workspace_id: m.workspace_id,
        slug: m.slug,
        name: m.name,
        status: status(&m.status)?,
        active_version: m.active_version,
        draft_document: m.draft_document,
        draft_format: m.draft_format,
        draft_revision: m.draft_revision,
        description: m.description,
        created_by: m.created_by,
        updated_by: m.updated_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn version_from(m: versions::Model) -> VersionInfo {
    VersionInfo {
        id: m.id,
        workflow_id: m.workflow_id,
        number: m.number,
        document: m.document,
        checksum: m.checksum,
        published_at: m.published_at,
        published_by: m.published_by,
    }
}

fn schedule_from(m: schedules::Model) -> EngineResult<ScheduleInfo> {
    Ok(ScheduleInfo {
        id: m.id,
        workflow_id: m.workflow_id,
        version_id: m.version_id,
        trigger_index: m.trigger_index,
        cron: m.cron,
        timezone: m.timezone,
        input: m.input,
        catch_up: status(&m.catch_up)?,
        enabled: m.enabled,
        next_fire_at: m.next_fire_at,
        last_fired_at: m.last_fired_at,
    })
}

fn webhook_from(h: hooks::Model) -> EngineResult<WebhookRecord> {
    Ok(WebhookRecord {
        workflow_id: h.workflow_id,
        version_id: h.version_id,
        key: h.key,
        scheme: status(&h.scheme)?,
        secret_name: h.secret_name,
        tolerance_ms: h.tolerance_ms,
        header: h.header,
        timestamp_header: h.timestamp_header,
    })
}

fn unique_or(e: sea_orm::DbErr, what: String) -> EngineError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => EngineError::Duplicate(what),
        _ => db(e),
    }
}

#[async_trait::async_trait]
impl Admin for SeaStore {
    async fn create_workspace(&self, slug: &str, name: &str) -> EngineResult<WorkspaceRecord> {
        let m = workspaces::Model {
            id: crate::new_id(),
            slug: slug.to_owned(),
            name: name.to_owned(),
            created_at: crate::now(),
        };
        workspaces::Entity::insert(workspaces::ActiveModel {
            id: Set(m.id),
            slug: Set(m.slug.clone()),
            name: Set(m.name.clone()),
            created_at: Set(m.created_at),
        })
        .exec_without_returning(self.connection())
        .await
        .map_err(|e| unique_or(e, format!("workspace `{slug}`")))?;
        Ok(workspace_from(m))
    }

    async fn ensure_workspace(&self, slug: &str) -> EngineResult<WorkspaceRecord> {
        workspaces::Entity::insert(workspaces::ActiveModel {
            id: Set(crate::new_id()),
            slug: Set(slug.to_owned()),
            name: Set(slug.to_owned()),
            created_at: Set(crate::now()),
        })
        .on_conflict(OnConflict::column(workspaces::Column::Slug).do_nothing().to_owned())
        .exec_without_returning(self.connection())
        .await
        .map_err(db)?;
        self.workspace_by_slug(slug)
            .await?
            .ok_or(EngineError::NotFound("workspace"))
    }

    async fn workspace_by_slug(&self, slug: &str) -> EngineResult<Option<WorkspaceRecord>> {
        Ok(workspaces::Entity::find()
            .filter(workspaces::Column::Slug.eq(slug))
            .one(self.connection())
            .await
            .map_err(db)?
            .map(workspace_from))
    }

    async fn workspace(&self, id: Uuid) -> EngineResult<Option<WorkspaceRecord>> {
        Ok(workspaces::Entity::find_by_id(id)
            .one(self.connection())
            .await
            .map_err(db)?
            .map(workspace_from))
    }

    async fn insert_token(&self, t: &TokenRecord, hash: &str) -> EngineResult<()> {
        tokens::Entity::insert(tokens::ActiveModel {
            id: Set(t.id),
            workspace_id: Set(t.workspace_id),
            name: Set(t.name.clone()),
            token_hash: Set(hash.to_owned()),
            token_prefix: Set(t.prefix.clone()),
            permissions: Set(json!(t.permissions)),
            created_at: Set(crate::truncate_to_micros(t.created_at)),
            last_used_at: Set(None),
            revoked_at: Set(None),
        })
        .exec_without_returning(self.connection())
        .await
        .map_err(|e| unique_or(e, "token".into()))?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> EngineResult<Option<TokenRecord>> {
        Ok(tokens::Entity::find()
            .filter(tokens::Column::TokenHash.eq(hash))
            .one(self.connection())
            .await
            .map_err(db)?
            .map(token_from))
    }

    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> EngineResult<()> {
        tokens::Entity::update_many()
            .col_expr(tokens::Column::LastUsedAt, Expr::value(crate::truncate_to_micros(at)))
            .filter(tokens::Column::Id.eq(id))
            .exec(self.connection())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn tokens(&self, workspace_id: Uuid) -> EngineResult<Vec<TokenRecord>> {
        Ok(tokens::Entity::find()
            .filter(tokens::Column::WorkspaceId.eq(workspace_id))
            .order_by_asc(tokens::Column::Id)
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(token_from)
            .collect())
    }

    async fn revoke_token(&self, workspace_id: Uuid, id: Uuid, at: DateTime<Utc>) -> EngineResult<bool> {
        let r = tokens::Entity::update_many()
            .col_expr(tokens::Column::RevokedAt, Expr::value(crate::truncate_to_micros(at)))
            .filter(tokens::Column::Id.eq(id))
            .filter(tokens::Column::WorkspaceId.eq(workspace_id))
            .filter(tokens::Column::RevokedAt.is_null())
            .exec(self.connection())
            .await
            .map_err(db)?;
        Ok(r.rows_affected > 0)
    }

    async fn put_secret(&self, workspace_id: Uuid, name: &str, value: &str) -> EngineResult<bool> {
        crate::secrets::put(self, workspace_id, name, value).await
    }

    async fn secrets(&self, workspace_id: Uuid) -> EngineResult<Vec<orbflow_engine::admin::SecretRecord>> {
        crate::secrets::list(self, workspace_id).await
    }

    async fn delete_secret(&self, workspace_id: Uuid, name: &str) -> EngineResult<bool> {
        crate::secrets::delete(self, workspace_id, name).await
    }

    async fn put_connection(
        &self,
        workspace_id: Uuid,
        c: &orbflow_engine::admin::ConnectionRecord,
    ) -> EngineResult<bool> {
        crate::connections::put(self, workspace_id, c).await
    }

    async fn connections(&self, workspace_id: Uuid) -> EngineResult<Vec<orbflow_engine::admin::ConnectionRecord>> {
        crate::connections::list(self, workspace_id).await
    }

    async fn delete_connection(&self, workspace_id: Uuid, name: &str) -> EngineResult<bool> {
        crate::connections::delete(self, workspace_id, name).await
    }

    async fn put_email_template(
        &self,
        workspace_id: Uuid,
        t: &orbflow_engine::admin::EmailTemplateRecord,
    ) -> EngineResult<bool> {
        crate::email_templates::put(self, workspace_id, t).await
    }

    async fn email_templates(
        &self,
        workspace_id: Uuid,
    ) -> EngineResult<Vec<orbflow_engine::admin::EmailTemplateRecord>> {
        crate::email_templates::list(self, workspace_id).await
    }

    async fn delete_email_template(&self, workspace_id: Uuid, name: &str) -> EngineResult<bool> {
        crate::email_templates::delete(self, workspace_id, name).await
    }

    async fn records(
        &self,
        workspace_id: Uuid,
        collection: &str,
        page: Page<Uuid>,
    ) -> EngineResult<Vec<orbflow_engine::admin::RecordRow>> {
        crate::records::list(self, workspace_id, collection, page).await
    }

    async fn record(
        &self,
        workspace_id: Uuid,
        collection: &str,
        id: Uuid,
    ) -> EngineResult<Option<orbflow_engine::admin::RecordRow>> {
        crate::records::get(self, workspace_id, collection, id).await
    }

    async fn replace_record(
        &self,
        workspace_id: Uuid,
        collection: &str,
        id: Uuid,
        data: &Value,
    ) -> EngineResult<Option<orbflow_engine::admin::RecordRow>> {
        crate::records::put(self, workspace_id, collection, id, data).await
    }

    async fn delete_record(&self, workspace_id: Uuid, collection: &str, id: Uuid) -> EngineResult<bool> {
        crate::records::delete(self, workspace_id, collection, id).await
    }

    async fn notifications(
        &self,
        workspace_id: Uuid,
        filter: &orbflow_engine::admin::NotificationFilter,
        page: Page<Uuid>,
    ) -> EngineResult<Vec<orbflow_engine::admin::NotificationRecord>> {
        crate::notifications::list(self, workspace_id, filter, page).await
    }

    async fn notification(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> EngineResult<Option<orbflow_engine::admin::NotificationRecord>> {
        crate::notifications::get(self, workspace_id, id).await
    }

    async fn mark_notification(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        read_at: Option<DateTime<Utc>>,
    ) -> EngineResult<Option<orbflow_engine::admin::NotificationRecord>> {
        crate::notifications::mark(self, workspace_id, id, read_at).await
    }

    async fn create_workflow(&self, wf: &NewWorkflow) -> EngineResult<WorkflowRecord> {
        let now = crate::now();
        let m = workflows::Model {
            id: crate::new_id(),
            workspace_id: wf.workspace_id,
            slug: wf.slug.clone(),
            name: wf.name.clone(),
            status: WorkflowStatus::Draft.as_str().into(),
            active_version: None,
            draft_document: wf.draft_document.clone(),
            draft_format: wf.draft_format.clone(),
            draft_revision: 1,
            description: wf.description.clone(),
            created_by: wf.actor.clone(),
            updated_by: wf.actor.clone(),
            created_at: now,
            updated_at: now,
        };
        workflows::Entity::insert(workflows::ActiveModel {
            id: Set(m.id),
            workspace_id: Set(m.workspace_id),
            slug: Set(m.slug.clone()),
            name: Set(m.name.clone()),
            status: Set(m.status.clone()),
            active_version: Set(None),
            draft_document: Set(m.draft_document.clone()),
            draft_format: Set(m.draft_format.clone()),
            draft_revision: Set(1),
            description: Set(m.description.clone()),
            created_by: Set(m.created_by.clone()),
            updated_by: Set(m.updated_by.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(self.connection())
        .await
        .map_err(|e| unique_or(e, format!("workflow `{}`", wf.slug)))?;
        workflow_from(m)
    }

    async fn workflow(&self, workspace_id: Uuid, slug_or_id: &str) -> EngineResult<Option<WorkflowRecord>> {
        let q = workflows::Entity::find().filter(workflows::Column::WorkspaceId.eq(workspace_id));
        let q = match Uuid::parse_str(slug_or_id) {
            Ok(id) => q.filter(workflows::Column::Id.eq(id)),
            Err(_) => q.filter(workflows::Column::Slug.eq(slug_or_id)),
        };
        Ok(q.one(self.connection())
            .await
            .map_err(db)?
            .map(workflow_from)
            .transpose()?)
    }

    async fn workflows(
        &self,
        workspace_id: Uuid,
        status: Option<WorkflowStatus>,
        page: Page<Uuid>,
    ) -> EngineResult<Vec<WorkflowRecord>> {
        let mut q = workflows::Entity::find().filter(workflows::Column::WorkspaceId.eq(workspace_id));
        if let Some(s) = status {
            q = q.filter(workflows::Column::Status.eq(s.as_str()));
        }
        if let Some(after) = page.after {
            q = q.filter(workflows::Column::Id.lt(after));
        }
        Ok(q.order_by_desc(workflows::Column::Id)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(workflow_from)
            .collect::<EngineResult<_>>()?)
    }

    async fn save_draft(
        &self,
        workflow_id: Uuid,
        revision: i64,
        draft: &NewWorkflow,
    ) -> EngineResult<Option<WorkflowRecord>> {
        let now = crate::now();
        let r = workflows::Entity::update_many()
            .col_expr(
                workflows::Column::DraftDocument,
                Expr::value(draft.draft_document.clone()),
            )
            .col_expr(workflows::Column::DraftFormat, Expr::value(draft.draft_format.clone()))
            .col_expr(workflows::Column::Name, Expr::value(draft.name.clone()))
            .col_expr(workflows::Column::Description, Expr::value(draft.description.clone()))
            .col_expr(workflows::Column::UpdatedBy, Expr::value(draft.actor.clone()))
            .col_expr(
                workflows::Column::DraftRevision,
                Expr::col(workflows::Column::DraftRevision).add(1),
            )
            .col_expr(workflows::Column::UpdatedAt, Expr::value(now))
            .filter(workflows::Column::Id.eq(workflow_id))
            .filter(workflows::Column::DraftRevision.eq(revision))
            .exec(self.connection())
            .await
            .map_err(db)?;
        if r.rows_affected == 0 {
            return Ok(None);
        }
        Ok(workflows::Entity::find_by_id(workflow_id)
            .one(self.connection())
            .await
            .map_err(db)?
            .map(workflow_from)
            .transpose()?)
    }

    async fn archive_workflow(&self, workflow_id: Uuid, by: Option<&Actor>) -> EngineResult<()> {
        let tx = write_tx(self.connection()).await?;
        crate::triggers::remove_all(&tx, workflow_id).await?;
        let mut update = workflows::Entity::update_many();
        if let Some(by) = by {
            update = update.col_expr(workflows::Column::UpdatedBy, Expr::value(by.id.clone()));
        }
        update
            .col_expr(
                workflows::Column::Status,
                Expr::value(WorkflowStatus::Archived.as_str()),
            )
            .col_expr(workflows::Column::UpdatedAt, Expr::value(crate::now()))
            .filter(workflows::Column::Id.eq(workflow_id))
            .exec(&tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn publish(&self, workflow_id: Uuid, document: &str, by: Option<&Actor>) -> EngineResult<VersionInfo> {
        let mut last = None;
        // two publishers racing for n + 1: the loser tries again with n + 2
        for _ in 0..8 {
            let tx = write_tx(self.connection()).await?;
            match publish_in(&tx, workflow_id, document, by).await {
                Ok(v) => {
                    tx.commit().await.map_err(db)?;
                    return Ok(version_from(v));
                }
                Err(e @ EngineError::Conflict(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(EngineError::NotFound("version")))
    }

    async fn versions(&self, workflow_id: Uuid, page: Page<i32>) -> EngineResult<Vec<VersionInfo>> {
        let mut q = versions::Entity::find().filter(versions::Column::WorkflowId.eq(workflow_id));
        if let Some(after) = page.after {
            q = q.filter(versions::Column::Number.lt(after));
        }
        Ok(q.order_by_desc(versions::Column::Number)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(version_from)
            .collect())
    }

    async fn version_info(&self, workflow_id: Uuid, number: i32) -> EngineResult<Option<VersionInfo>> {
        Ok(versions::Entity::find()
            .filter(versions::Column::WorkflowId.eq(workflow_id))
            .filter(versions::Column::Number.eq(number))
            .one(self.connection())
            .await
            .map_err(db)?
            .map(version_from))
    }

    async fn webhook(&self, workspace: &str, workflow: &str, key: &str) -> EngineResult<Option<WebhookRecord>> {
        let Some(ws) = self.workspace_by_slug(workspace).await? else {
            return Ok(None);
        };
        let Some(wf) = workflows::Entity::find()
            .filter(workflows::Column::WorkspaceId.eq(ws.id))
            .filter(workflows::Column::Slug.eq(workflow))
            .filter(workflows::Column::Status.eq(WorkflowStatus::Active.as_str()))
            .one(self.connection())
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        Ok(hooks::Entity::find()
            .filter(hooks::Column::WorkflowId.eq(wf.id))
            .filter(hooks::Column::Key.eq(key))
            .one(self.connection())
            .await
            .map_err(db)?
            .map(webhook_from)
            .transpose()?)
    }

    async fn webhook_claim(&self, workflow: &str, key: &str) -> EngineResult<Option<WebhookRecord>> {
        let Some(hook) = hooks::Entity::find()
            .filter(hooks::Column::ShortUrlSlug.eq(workflow))
            .filter(hooks::Column::Key.eq(key))
            .one(self.connection())
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        // rows exist only for active workflows (archive removes them); the
        // status is checked anyway, so a claim never outlives its workflow
        let active = workflows::Entity::find_by_id(hook.workflow_id)
            .filter(workflows::Column::Status.eq(WorkflowStatus::Active.as_str()))
            .one(self.connection())
            .await
            .map_err(db)?
            .is_some();
        active.then(|| webhook_from(hook)).transpose()
    }

    async fn subscriptions(&self, workspace_id: Uuid, event_type: &str) -> EngineResult<Vec<SubscriptionRecord>> {
        let rows = subs::Entity::find()
            .filter(subs::Column::EventType.eq(event_type))
            .all(self.connection())
            .await
            .map_err(db)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let active: std::collections::HashSet<Uuid> = workflows::Entity::find()
            .filter(workflows::Column::WorkspaceId.eq(workspace_id))
            .filter(workflows::Column::Status.eq(WorkflowStatus::Active.as_str()))
            .filter(workflows::Column::Id.is_in(rows.iter().map(|r| r.workflow_id).collect::<Vec<_>>()))
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(|w| w.id)
            .collect();
        Ok(rows
            .into_iter()
            .filter(|r| active.contains(&r.workflow_id))
            .map(|r| SubscriptionRecord {
                workflow_id: r.workflow_id,
                version_id: r.version_id,
                event_type: r.event_type,
                filter: r.filter,
            })
            .collect())
    }

    async fn record_event(
        &self,
        workspace_id: Uuid,
        event_id: &str,
        event: &Value,
        run_ids: &[Uuid],
    ) -> EngineResult<bool> {
        let n = events::Entity::insert(events::ActiveModel {
            id: Set(crate::new_id()),
            workspace_id: Set(workspace_id),
            event_id: Set(event_id.to_owned()),
            event_type: Set(event.get("type").and_then(Value::as_str).unwrap_or_default().to_owned()),
            data: Set(event.clone()),
            run_ids: Set(json!(run_ids)),
            created_at: Set(crate::now()),
        })
        .on_conflict(
            OnConflict::columns([events::Column::WorkspaceId, events::Column::EventId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(self.connection())
        .await
        .map_err(db)?;
        Ok(n > 0)
    }

    async fn event_runs(&self, workspace_id: Uuid, event_id: &str) -> EngineResult<Option<Vec<Uuid>>> {
        Ok(events::Entity::find()
            .filter(events::Column::WorkspaceId.eq(workspace_id))
            .filter(events::Column::EventId.eq(event_id))
            .one(self.connection())
            .await
            .map_err(db)?
            .map(|e| serde_json::from_value(e.run_ids).unwrap_or_default()))
    }

    async fn runs(&self, workspace_id: Uuid, filter: &RunFilter, page: Page<Uuid>) -> EngineResult<Vec<RunRecord>> {
        let mut q = runs::Entity::find().filter(runs::Column::WorkspaceId.eq(workspace_id));
        if let Some(w) = filter.workflow_id {
            q = q.filter(runs::Column::WorkflowId.eq(w));
        }
        if let Some(s) = filter.status {
            q = q.filter(runs::Column::Status.eq(s.as_str()));
        }
        if let Some(t) = filter.since {
            q = q.filter(runs::Column::CreatedAt.gte(crate::truncate_to_micros(t)));
        }
        if let Some(t) = filter.until {
            q = q.filter(runs::Column::CreatedAt.lt(crate::truncate_to_micros(t)));
        }
        if let Some(t) = filter.trigger_type {
            q = q.filter(runs::Column::TriggerType.eq(t.as_str()));
        }
        if let Some(after) = page.after {
            q = q.filter(runs::Column::Id.lt(after));
        }
        q.order_by_desc(runs::Column::Id)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(run_from)
            .collect()
    }

    async fn log_page(&self, run_id: Uuid, page: Page<i64>) -> EngineResult<Vec<(i64, LogRecord)>> {
        let mut q = logs::Entity::find().filter(logs::Column::RunId.eq(run_id));
        if let Some(after) = page.after {
            q = q.filter(logs::Column::Id.gt(after));
        }
        Ok(q.order_by_asc(logs::Column::Id)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(|l| Ok((l.id, log_from(l)?)))
            .collect::<EngineResult<_>>()?)
    }

    async fn schedules(&self, workspace_id: Uuid, workflow_id: Option<Uuid>) -> EngineResult<Vec<ScheduleInfo>> {
        // schedules have no workspace column: scope through the workflows
        let mut q = workflows::Entity::find().filter(workflows::Column::WorkspaceId.eq(workspace_id));
        if let Some(w) = workflow_id {
            q = q.filter(workflows::Column::Id.eq(w));
        }
        let scoped: Vec<Uuid> = q
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(|w| w.id)
            .collect();
        if scoped.is_empty() {
            return Ok(Vec::new());
        }
        Ok(schedules::Entity::find()
            .filter(schedules::Column::WorkflowId.is_in(scoped))
            .order_by_asc(schedules::Column::Id)
            .all(self.connection())
            .await
            .map_err(db)?
            .into_iter()
            .map(schedule_from)
            .collect::<EngineResult<_>>()?)
    }

    async fn schedule(&self, workspace_id: Uuid, id: Uuid) -> EngineResult<Option<ScheduleInfo>> {
        let Some(s) = schedules::Entity::find_by_id(id)
            .one(self.connection())
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let owned = workflows::Entity::find_by_id(s.workflow_id)
            .one(self.connection())
            .await
            .map_err(db)?
            .is_some_and(|w| w.workspace_id == workspace_id);
        owned.then(|| schedule_from(s)).transpose()
    }

    async fn set_schedule_enabled(
        &self,
        id: Uuid,
        enabled: bool,
        next_fire_at: Option<DateTime<Utc>>,
    ) -> EngineResult<()> {
        schedules::Entity::update_many()
            .col_expr(schedules::Column::Enabled, Expr::value(enabled))
            .col_expr(
                schedules::Column::NextFireAt,
                Expr::value(next_fire_at.map(crate::truncate_to_micros)),
            )
            .filter(schedules::Column::Id.eq(id))
            .exec(self.connection())
            .await
            .map_err(db)?;
        Ok(())
    }
}
