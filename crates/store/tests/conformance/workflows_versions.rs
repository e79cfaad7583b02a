//! Workflows and versions: `Store::{ensure_version, version_record}`,
//! `Tx::version` and `Admin::{create_workflow, workflow, workflows,
//! save_draft, archive_workflow, publish, versions, version_info}`.

use orbflow_engine::Error;
use orbflow_engine::admin::{Admin, Page};
use orbflow_engine::store::Store;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{actor, doc, new_workflow, plain_doc, schedule_trigger, version, workspace};

conformance!(ensure_version, |s| {
    // the same document is the same version; a new one is n+1
    let doc1 = r#"{"schemaVersion":1,"name":"wf","triggers":[{"type":"schedule","cron":"0 9 * * *"}],"steps":[{"key":"a","action":"TRANSFORM","config":{"value":1}},{"key":"c","type":"condition","if":"true","then":[{"key":"t","action":"TRANSFORM","config":{"value":2}}]}]}"#;
    let doc2 = r#"{"schemaVersion":1,"name":"wf","steps":[{"key":"a","action":"TRANSFORM","config":{"value":2}}]}"#;
    let v1 = s.ensure_version("ws", "wf", "Workflow", doc1).await.unwrap();
    let again = s.ensure_version("ws", "wf", "Workflow", doc1).await.unwrap();
    assert_eq!(v1, again);
    assert_eq!((v1.number, v1.document.as_str()), (1, doc1));
    // the workspace and the workflow were made, the version is the active one
    let ws = s.workspace_by_slug("ws").await.unwrap().expect("workspace created");
    assert_eq!(v1.workspace_id, ws.id);
    let wf = s.workflow(ws.id, "wf").await.unwrap().expect("workflow created");
    assert_eq!(
        (wf.id, wf.name.as_str(), wf.status.as_str()),
        (v1.workflow_id, "Workflow", "ACTIVE")
    );
    assert_eq!(wf.active_version, Some(1));
    // the version's steps are materialized in their relational shape, its schedule synced
    {
        use orbflow_store::entity::{workflow_schedules, workflow_steps};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let rows = workflow_steps::Entity::find()
            .filter(workflow_steps::Column::VersionId.eq(v1.id))
            .order_by_asc(workflow_steps::Column::Sequence)
            .all(s.connection())
            .await
            .unwrap();
        let shape: Vec<_> = rows
            .iter()
            .map(|r| (r.key.as_str(), r.parent_key.as_deref(), r.branch_type.as_deref()))
            .collect();
        assert_eq!(
            shape,
            [("a", None, None), ("c", None, None), ("t", Some("c"), Some("IF_TRUE"))]
        );
        assert_eq!(rows[1].dependencies, json!(["a"]));
        let schedules = workflow_schedules::Entity::find().all(s.connection()).await.unwrap();
        assert_eq!(schedules.len(), 1);
        assert!(schedules[0].next_fire_at.is_some());
    }
    assert!(
        s.ensure_version("ws", "wf", "Workflow", "{\"a\":1}").await.is_err(),
        "a document that is not a workflow is refused"
    );
    let v2 = s.ensure_version("ws", "wf", "Workflow", doc2).await.unwrap();
    assert!(
        s.schedules(ws.id, None).await.unwrap().is_empty(),
        "the new version has no schedule trigger: the old schedule is gone"
    );
    assert_eq!((v1.number, v2.number), (1, 2));
    assert_eq!(v2.workflow_id, v1.workflow_id);
    assert_eq!(s.workflow(ws.id, "wf").await.unwrap().unwrap().active_version, Some(2));
    // the first document again is still version 1 (found, not re-published)
    assert_eq!(s.ensure_version("ws", "wf", "Workflow", doc1).await.unwrap(), v1);
    // the same slugs in another workspace are another workflow
    let theirs = s.ensure_version("elsewhere", "wf", "Workflow", doc1).await.unwrap();
    assert_ne!(theirs.workspace_id, v1.workspace_id);
    assert_ne!(theirs.workflow_id, v1.workflow_id);
    assert_eq!(theirs.number, 1);
});

conformance!(version_record, |s| {
    let v = version(&s, "ws", "wf").await;
    assert_eq!(
        s.version_record(v.id).await.unwrap(),
        Some(v.clone()),
        "with its workspace"
    );
    assert!(s.version_record(Uuid::now_v7()).await.unwrap().is_none());
    assert!(
        s.version_record(v.workflow_id).await.unwrap().is_none(),
        "a workflow id is not a version id"
    );
});

conformance!(version, |s| {
    let v = version(&s, "ws", "wf").await;
    let mut tx = s.begin().await.unwrap();
    assert_eq!(tx.version(v.id).await.unwrap(), Some(v.clone()));
    assert!(tx.version(Uuid::now_v7()).await.unwrap().is_none());
    tx.commit().await.unwrap();
});

conformance!(create_workflow, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    let nw = new_workflow(ws.id, "hello");
    let wf = s.create_workflow(&nw).await.unwrap();
    assert_eq!(
        (wf.workspace_id, wf.slug.as_str(), wf.name.as_str()),
        (ws.id, "hello", nw.name.as_str())
    );
    assert_eq!(
        (wf.status.as_str(), wf.active_version, wf.draft_revision),
        ("DRAFT", None, 1)
    );
    assert_eq!(
        (wf.draft_document.as_str(), wf.draft_format.as_str()),
        ("name: wf\n", "yaml")
    );
    assert_eq!(wf.description.as_deref(), Some("About hello"));
    assert_eq!(
        (wf.created_by.as_deref(), wf.updated_by.as_deref()),
        (Some("token-creator"), Some("token-creator")),
        "the actor created it and wrote its draft"
    );
    assert_eq!(s.workflow(ws.id, "hello").await.unwrap(), Some(wf.clone()), "as stored");
    assert_err!(s.create_workflow(&nw).await, Error::Duplicate(_));
    let theirs = s.create_workflow(&new_workflow(other.id, "hello")).await.unwrap();
    assert_ne!(theirs.id, wf.id, "slugs are unique per workspace");
});

conformance!(workflow, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    let wf = s.create_workflow(&new_workflow(ws.id, "hello")).await.unwrap();
    assert_eq!(s.workflow(ws.id, "hello").await.unwrap().as_ref(), Some(&wf), "by slug");
    assert_eq!(
        s.workflow(ws.id, &wf.id.to_string()).await.unwrap().as_ref(),
        Some(&wf),
        "by id"
    );
    assert!(s.workflow(ws.id, "nope").await.unwrap().is_none());
    assert!(
        s.workflow(other.id, "hello").await.unwrap().is_none(),
        "not another workspace's, by slug"
    );
    assert!(
        s.workflow(other.id, &wf.id.to_string()).await.unwrap().is_none(),
        "nor by id"
    );
});

conformance!(workflows, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    let mut made = Vec::new();
    for slug in ["w0", "w1", "w2", "w3"] {
        made.push(s.create_workflow(&new_workflow(ws.id, slug)).await.unwrap().id);
    }
    s.create_workflow(&new_workflow(other.id, "w9")).await.unwrap();
    s.publish(made[1], &plain_doc(1), None).await.unwrap();
    let ids = |v: Vec<orbflow_engine::admin::WorkflowRecord>| v.into_iter().map(|w| w.id).collect::<Vec<_>>();
    let page = |after, limit| Page { after, limit };
    let newest_first: Vec<Uuid> = made.iter().rev().copied().collect();
    assert_eq!(
        ids(s.workflows(ws.id, None, page(None, 100)).await.unwrap()),
        newest_first
    );
    let p1 = ids(s.workflows(ws.id, None, page(None, 3)).await.unwrap());
    assert_eq!(p1, newest_first[..3]);
    let p2 = ids(s.workflows(ws.id, None, page(Some(p1[2]), 3)).await.unwrap());
    assert_eq!(p2, newest_first[3..]);
    assert_eq!(
        ids(s
            .workflows(ws.id, Some(orbflow_model::WorkflowStatus::Active), page(None, 100))
            .await
            .unwrap()),
        [made[1]]
    );
    assert_eq!(
        ids(s
            .workflows(ws.id, Some(orbflow_model::WorkflowStatus::Draft), page(None, 100))
            .await
            .unwrap()),
        [made[3], made[2], made[0]]
    );
    assert_eq!(
        ids(s.workflows(other.id, None, page(None, 100)).await.unwrap()).len(),
        1
    );
    assert!(
        s.workflows(Uuid::now_v7(), None, page(None, 100))
            .await
            .unwrap()
            .is_empty()
    );
});

conformance!(save_draft, |s| {
    let ws = workspace(&s, "ws").await;
    let wf = s.create_workflow(&new_workflow(ws.id, "hello")).await.unwrap();
    let mut draft = new_workflow(ws.id, "hello");
    draft.draft_document = "{\"name\":\"wf2\"}".into();
    draft.draft_format = "json".into();
    draft.name = "Renamed".into();
    draft.description = None;
    draft.actor = Some("token-editor".into());
    let saved = s
        .save_draft(wf.id, 1, &draft)
        .await
        .unwrap()
        .expect("revision 1 is current");
    assert_eq!(saved.draft_revision, 2);
    assert_eq!(
        (
            saved.draft_document.as_str(),
            saved.draft_format.as_str(),
            saved.name.as_str()
        ),
        ("{\"name\":\"wf2\"}", "json", "Renamed")
    );
    assert_eq!(
        (saved.id, saved.slug.as_str(), saved.status.as_str()),
        (wf.id, "hello", "DRAFT")
    );
    assert!(saved.updated_at >= wf.updated_at);
    assert_eq!(saved.description, None, "the new draft's description");
    assert_eq!(
        (saved.created_by.as_deref(), saved.updated_by.as_deref()),
        (Some("token-creator"), Some("token-editor")),
        "who saved it, not who created it"
    );
    assert_eq!(s.workflow(ws.id, "hello").await.unwrap(), Some(saved.clone()));
    // someone saved in between: nothing written
    let mut stale = draft.clone();
    stale.draft_document = "lost".into();
    assert!(s.save_draft(wf.id, 1, &stale).await.unwrap().is_none());
    assert_eq!(s.workflow(ws.id, "hello").await.unwrap(), Some(saved));
    assert!(
        s.save_draft(Uuid::now_v7(), 1, &draft).await.unwrap().is_none(),
        "no such workflow"
    );
});

conformance!(archive_workflow, |s| {
    let triggers = json!([
        schedule_trigger("0 9 * * *"),
        crate::fixtures::webhook_trigger("k"),
        crate::fixtures::event_trigger("order.created", None),
    ]);
    let v = s
        .ensure_version("ws", "wf", "Workflow", &doc(1, triggers.clone()))
        .await
        .unwrap();
    let kept = s
        .ensure_version("ws", "kept", "Workflow", &doc(1, triggers))
        .await
        .unwrap();
    assert!(s.webhook_claim("wf", "k").await.unwrap().is_some());
    s.archive_workflow(v.workflow_id, Some(&actor("carol"))).await.unwrap();
    let wf = s.workflow(v.workspace_id, "wf").await.unwrap().unwrap();
    assert_eq!(wf.status, orbflow_model::WorkflowStatus::Archived);
    assert_eq!(
        wf.updated_by.as_deref(),
        Some("id-carol"),
        "the archiver updated it last"
    );
    // without an actor (orbflow dev/run) the last API author stays
    s.archive_workflow(v.workflow_id, None).await.unwrap();
    let wf = s.workflow(v.workspace_id, "wf").await.unwrap().unwrap();
    assert_eq!(wf.updated_by.as_deref(), Some("id-carol"));
    // its triggers stop
    assert!(
        s.schedules(v.workspace_id, Some(v.workflow_id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.webhook("ws", "wf", "k").await.unwrap().is_none());
    assert!(
        s.webhook_claim("wf", "k").await.unwrap().is_none(),
        "the claim is released"
    );
    let subs = s.subscriptions(v.workspace_id, "order.created").await.unwrap();
    assert_eq!(
        subs.iter().map(|x| x.workflow_id).collect::<Vec<_>>(),
        [kept.workflow_id]
    );
    // another workflow's triggers stay
    assert_eq!(s.schedules(v.workspace_id, None).await.unwrap().len(), 1);
    assert!(s.webhook("ws", "kept", "k").await.unwrap().is_some());
});

conformance!(publish, |s| {
    let ws = workspace(&s, "ws").await;
    let wf = s.create_workflow(&new_workflow(ws.id, "hello")).await.unwrap();
    let d1 = doc(1, json!([schedule_trigger("0 9 * * *")]));
    let v1 = s.publish(wf.id, &d1, Some(&actor("alice"))).await.unwrap();
    assert_eq!(
        (v1.workflow_id, v1.number, v1.document.as_str()),
        (wf.id, 1, d1.as_str())
    );
    assert_eq!(v1.published_by.as_deref(), Some("label-alice"));
    assert!(
        v1.checksum.len() == 64 && v1.checksum.chars().all(|c| c.is_ascii_hexdigit()),
        "SHA-256 hex"
    );
    let now = s.workflow(ws.id, "hello").await.unwrap().unwrap();
    assert_eq!((now.status.as_str(), now.active_version), ("ACTIVE", Some(1)));
    assert_eq!(
        now.updated_by.as_deref(),
        Some("id-alice"),
        "the publisher updated it last"
    );
    assert_eq!(now.created_by.as_deref(), Some("token-creator"));
    let sched = s.schedules(ws.id, Some(wf.id)).await.unwrap();
    assert_eq!(
        sched.iter().map(|x| x.version_id).collect::<Vec<_>>(),
        [v1.id],
        "triggers synced"
    );
    // n + 1, the same document included; triggers re-synced from it
    let v2 = s.publish(wf.id, &plain_doc(2), None).await.unwrap();
    assert_eq!((v2.number, v2.published_by), (2, None));
    assert_ne!(v2.checksum, v1.checksum);
    assert!(
        s.schedules(ws.id, Some(wf.id)).await.unwrap().is_empty(),
        "the old schedule is gone"
    );
    let v3 = s.publish(wf.id, &d1, None).await.unwrap();
    assert_eq!((v3.number, v3.checksum.as_str()), (3, v1.checksum.as_str()));
    assert_eq!(
        s.workflow(ws.id, "hello").await.unwrap().unwrap().active_version,
        Some(3)
    );
    assert_eq!(
        s.version_record(v3.id).await.unwrap().map(|v| v.workspace_id),
        Some(ws.id)
    );
    // not a workflow: refused, nothing published
    assert_err!(s.publish(wf.id, "{\"a\":1}", None).await, Error::InvalidWorkflow(_));
    assert!(s.version_info(wf.id, 4).await.unwrap().is_none());
});

conformance!(versions, |s| {
    let ws = workspace(&s, "ws").await;
    let wf = s.create_workflow(&new_workflow(ws.id, "hello")).await.unwrap();
    let other = s.create_workflow(&new_workflow(ws.id, "other")).await.unwrap();
    let mut made = Vec::new();
    for i in 0..4 {
        made.push(s.publish(wf.id, &plain_doc(i), None).await.unwrap());
    }
    s.publish(other.id, &plain_doc(9), None).await.unwrap();
    let page = |after, limit| Page { after, limit };
    let nums = |v: Vec<orbflow_engine::admin::VersionInfo>| v.into_iter().map(|x| x.number).collect::<Vec<_>>();
    let all = s.versions(wf.id, page(None, 100)).await.unwrap();
    assert_eq!(all[0], made[3], "read back whole");
    assert_eq!(nums(all), [4, 3, 2, 1], "newest first, this workflow's only");
    assert_eq!(nums(s.versions(wf.id, page(None, 3)).await.unwrap()), [4, 3, 2]);
    assert_eq!(nums(s.versions(wf.id, page(Some(2), 3)).await.unwrap()), [1]);
    assert!(s.versions(wf.id, page(Some(1), 3)).await.unwrap().is_empty());
    assert!(s.versions(Uuid::now_v7(), page(None, 3)).await.unwrap().is_empty());
});

conformance!(version_info, |s| {
    let ws = workspace(&s, "ws").await;
    let wf = s.create_workflow(&new_workflow(ws.id, "hello")).await.unwrap();
    let other = s.create_workflow(&new_workflow(ws.id, "other")).await.unwrap();
    let v1 = s.publish(wf.id, &plain_doc(1), Some(&actor("bob"))).await.unwrap();
    let v2 = s.publish(wf.id, &plain_doc(2), None).await.unwrap();
    assert_eq!(s.version_info(wf.id, 1).await.unwrap(), Some(v1));
    assert_eq!(s.version_info(wf.id, 2).await.unwrap(), Some(v2));
    assert!(s.version_info(wf.id, 3).await.unwrap().is_none());
    assert!(
        s.version_info(other.id, 1).await.unwrap().is_none(),
        "another workflow's numbers"
    );
});
