//! Intake: `Admin::{webhook, webhook_claim, subscriptions, record_event,
//! event_runs}`.

use orbflow_engine::admin::{Admin, SubscriptionRecord, WebhookRecord};
use orbflow_engine::store::Store;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{Db, doc, event_trigger, new_workflow, webhook_trigger, workspace};

/// Publishes `wf` in `ws` with these triggers; its version.
async fn publish(
    s: &Db,
    ws: &str,
    wf: &str,
    triggers: serde_json::Value,
    value: i64,
) -> orbflow_engine::store::VersionRecord {
    s.ensure_version(ws, wf, "Workflow", &doc(value, triggers))
        .await
        .unwrap()
}

conformance!(webhook, |s| {
    let v = publish(&s, "ws", "hooks", json!([webhook_trigger("k")]), 1).await;
    let got = s
        .webhook("ws", "hooks", "k")
        .await
        .unwrap()
        .expect("the active workflow's webhook");
    assert_eq!(
        got,
        WebhookRecord {
            workflow_id: v.workflow_id,
            version_id: v.id,
            key: "k".into(),
            scheme: orbflow_model::VerifyScheme::HmacSha256,
            secret_name: Some("HOOK_KEY".into()),
            tolerance_ms: Some(30_000),
            header: Some("X-Sig".into()),
            timestamp_header: Some("X-Ts".into()),
        }
    );
    assert!(s.webhook("ws", "hooks", "other").await.unwrap().is_none());
    assert!(s.webhook("ws", "nope", "k").await.unwrap().is_none());
    assert!(
        s.webhook("elsewhere", "hooks", "k").await.unwrap().is_none(),
        "not through another workspace"
    );
    workspace(&s, "elsewhere").await;
    assert!(s.webhook("elsewhere", "hooks", "k").await.unwrap().is_none());
    // a draft has no live webhook
    let ws = workspace(&s, "ws").await;
    s.create_workflow(&new_workflow(ws.id, "draft")).await.unwrap();
    assert!(s.webhook("ws", "draft", "k").await.unwrap().is_none());
    // a new version moves it; a version without it removes it
    let v2 = publish(
        &s,
        "ws",
        "hooks",
        json!([webhook_trigger("k"), webhook_trigger("k2")]),
        2,
    )
    .await;
    assert_eq!(s.webhook("ws", "hooks", "k").await.unwrap().unwrap().version_id, v2.id);
    assert!(s.webhook("ws", "hooks", "k2").await.unwrap().is_some());
    publish(&s, "ws", "hooks", json!([webhook_trigger("k2")]), 3).await;
    assert!(s.webhook("ws", "hooks", "k").await.unwrap().is_none());
    s.archive_workflow(v.workflow_id, None).await.unwrap();
    assert!(
        s.webhook("ws", "hooks", "k2").await.unwrap().is_none(),
        "archived: none"
    );
});

conformance!(webhook_claim, |s| {
    let mine = publish(&s, "ws", "hooks", json!([webhook_trigger("k")]), 1).await;
    let claim = s
        .webhook_claim("hooks", "k")
        .await
        .unwrap()
        .expect("claimed at publish");
    assert_eq!(Some(claim), s.webhook("ws", "hooks", "k").await.unwrap());
    assert!(s.webhook_claim("hooks", "other").await.unwrap().is_none());
    assert!(s.webhook_claim("nope", "k").await.unwrap().is_none());
    // another workspace's workflow of the same slug: published, served at its
    // full URL, but the short one stays with the first claimant
    let theirs = publish(&s, "elsewhere", "hooks", json!([webhook_trigger("k")]), 1).await;
    assert!(s.webhook("elsewhere", "hooks", "k").await.unwrap().is_some());
    assert_eq!(
        s.webhook_claim("hooks", "k").await.unwrap().unwrap().workflow_id,
        mine.workflow_id
    );
    // re-publishing keeps the claim
    publish(&s, "ws", "hooks", json!([webhook_trigger("k")]), 2).await;
    assert_eq!(
        s.webhook_claim("hooks", "k").await.unwrap().unwrap().workflow_id,
        mine.workflow_id
    );
    // a version without the webhook releases it; it does not move by itself
    publish(&s, "ws", "hooks", json!([]), 3).await;
    assert!(s.webhook_claim("hooks", "k").await.unwrap().is_none());
    let again = publish(&s, "elsewhere", "hooks", json!([webhook_trigger("k")]), 2).await;
    let claim = s.webhook_claim("hooks", "k").await.unwrap().expect("taken at publish");
    assert_eq!((claim.workflow_id, claim.version_id), (theirs.workflow_id, again.id));
    // archiving releases it
    s.archive_workflow(theirs.workflow_id, None).await.unwrap();
    assert!(s.webhook_claim("hooks", "k").await.unwrap().is_none());
    let back = publish(&s, "ws", "hooks", json!([webhook_trigger("k")]), 4).await;
    assert_eq!(
        s.webhook_claim("hooks", "k").await.unwrap().unwrap().version_id,
        back.id
    );
});

conformance!(subscriptions, |s| {
    let filtered = publish(
        &s,
        "ws",
        "a",
        json!([event_trigger("order.created", Some("event.data.total > 10"))]),
        1,
    )
    .await;
    let plain = publish(
        &s,
        "ws",
        "b",
        json!([event_trigger("order.created", None), event_trigger("order.paid", None)]),
        1,
    )
    .await;
    publish(&s, "elsewhere", "a", json!([event_trigger("order.created", None)]), 1).await;
    let mut got = s.subscriptions(filtered.workspace_id, "order.created").await.unwrap();
    got.sort_by_key(|x| x.workflow_id);
    assert_eq!(
        got,
        [
            SubscriptionRecord {
                workflow_id: filtered.workflow_id,
                version_id: filtered.id,
                event_type: "order.created".into(),
                filter: Some("event.data.total > 10".into()),
            },
            SubscriptionRecord {
                workflow_id: plain.workflow_id,
                version_id: plain.id,
                event_type: "order.created".into(),
                filter: None,
            },
        ],
        "this workspace's, of this type"
    );
    assert_eq!(
        s.subscriptions(plain.workspace_id, "order.paid").await.unwrap().len(),
        1
    );
    assert!(
        s.subscriptions(plain.workspace_id, "order").await.unwrap().is_empty(),
        "exact type"
    );
    assert!(
        s.subscriptions(Uuid::now_v7(), "order.created")
            .await
            .unwrap()
            .is_empty()
    );
    // ACTIVE workflows only; a version without the trigger drops it
    s.archive_workflow(filtered.workflow_id, None).await.unwrap();
    publish(&s, "ws", "b", json!([event_trigger("order.paid", None)]), 2).await;
    assert!(
        s.subscriptions(plain.workspace_id, "order.created")
            .await
            .unwrap()
            .is_empty()
    );
});

conformance!(record_event, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let event = json!({"type": "order.created", "data": {"total": 12}});
    let runs = [Uuid::now_v7(), Uuid::now_v7()];
    assert!(s.record_event(ws, "evt-1", &event, &runs).await.unwrap(), "accepted");
    assert!(
        !s.record_event(ws, "evt-1", &event, &[]).await.unwrap(),
        "accepted before"
    );
    assert_eq!(
        s.event_runs(ws, "evt-1").await.unwrap(),
        Some(runs.to_vec()),
        "the first acceptance stays"
    );
    assert!(
        s.record_event(other, "evt-1", &event, &[]).await.unwrap(),
        "ids are per workspace"
    );
    assert!(s.record_event(ws, "evt-2", &json!({"no": "type"}), &[]).await.unwrap());
});

conformance!(event_runs, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let runs = [Uuid::now_v7()];
    s.record_event(ws, "evt-1", &json!({"type": "x"}), &runs).await.unwrap();
    s.record_event(ws, "evt-none", &json!({"type": "x"}), &[])
        .await
        .unwrap();
    assert_eq!(s.event_runs(ws, "evt-1").await.unwrap(), Some(runs.to_vec()));
    assert_eq!(
        s.event_runs(ws, "evt-none").await.unwrap(),
        Some(vec![]),
        "accepted, no run"
    );
    assert_eq!(s.event_runs(ws, "evt-2").await.unwrap(), None, "not accepted");
    assert_eq!(
        s.event_runs(other, "evt-1").await.unwrap(),
        None,
        "not another workspace's"
    );
});
