//! Schedules: `Store::{due_schedules, advance_schedule}` and
//! `Admin::{schedules, schedule, set_schedule_enabled}`.

use std::collections::BTreeSet;

use chrono::Duration;
use orbflow_engine::admin::{Admin, ScheduleInfo};
use orbflow_engine::store::{Store, VersionRecord};
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{Db, doc, schedule_trigger, with_nanos};

/// Workflow `wf` of `ws` published with two schedule triggers (around a
/// manual one): its version and its schedules, by trigger index.
async fn scheduled(s: &Db, ws: &str, wf: &str) -> (VersionRecord, Vec<ScheduleInfo>) {
    let triggers = json!([schedule_trigger("0 9 * * *"), {"type": "manual"}, schedule_trigger("*/5 * * * *")]);
    let v = s.ensure_version(ws, wf, "Workflow", &doc(1, triggers)).await.unwrap();
    let mut list = s.schedules(v.workspace_id, Some(v.workflow_id)).await.unwrap();
    list.sort_by_key(|x| x.trigger_index);
    (v, list)
}

conformance!(schedules, |s| {
    let now = orbflow_store::now();
    let (v, list) = scheduled(&s, "ws", "wf").await;
    let (v2, _) = scheduled(&s, "ws", "second").await;
    let (theirs, their_list) = scheduled(&s, "elsewhere", "wf").await;
    assert_eq!(list.len(), 2, "one per schedule trigger");
    let first = &list[0];
    assert_eq!(
        (first.workflow_id, first.version_id, first.trigger_index),
        (v.workflow_id, v.id, 0)
    );
    assert_eq!(list[1].trigger_index, 2);
    assert_eq!(
        (first.cron.as_str(), first.timezone.as_str()),
        ("0 9 * * *", "Europe/Paris")
    );
    assert_eq!(first.input, Some(json!({"from": "cron"})));
    assert_eq!(
        (first.catch_up.as_str(), first.enabled, first.last_fired_at),
        ("latest", true, None)
    );
    assert!(
        first.next_fire_at.is_some_and(|t| t > now),
        "the next tick after publishing"
    );
    // the workspace's, optionally of one workflow
    let all: BTreeSet<Uuid> = s
        .schedules(v.workspace_id, None)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(all.len(), 4);
    assert!(
        their_list.iter().all(|x| !all.contains(&x.id)),
        "another workspace's are not listed"
    );
    let second: Vec<Uuid> = s
        .schedules(v.workspace_id, Some(v2.workflow_id))
        .await
        .unwrap()
        .iter()
        .map(|x| x.workflow_id)
        .collect();
    assert_eq!(second, [v2.workflow_id, v2.workflow_id]);
    assert!(
        s.schedules(v.workspace_id, Some(theirs.workflow_id))
            .await
            .unwrap()
            .is_empty(),
        "another workspace's workflow is not reachable through the filter"
    );
    assert!(s.schedules(Uuid::now_v7(), None).await.unwrap().is_empty());
});

conformance!(schedule, |s| {
    let (v, list) = scheduled(&s, "ws", "wf").await;
    let (theirs, _) = scheduled(&s, "elsewhere", "wf").await;
    assert_eq!(
        s.schedule(v.workspace_id, list[1].id).await.unwrap().as_ref(),
        Some(&list[1])
    );
    assert!(
        s.schedule(theirs.workspace_id, list[1].id).await.unwrap().is_none(),
        "another workspace's schedule is not visible"
    );
    assert!(s.schedule(v.workspace_id, Uuid::now_v7()).await.unwrap().is_none());
});

conformance!(set_schedule_enabled, |s| {
    let (v, list) = scheduled(&s, "ws", "wf").await;
    let (a, b) = (&list[0], &list[1]);
    s.set_schedule_enabled(a.id, false, None).await.unwrap();
    let got = s.schedule(v.workspace_id, a.id).await.unwrap().unwrap();
    assert_eq!((got.enabled, got.next_fire_at), (false, None));
    assert_eq!(
        s.schedule(v.workspace_id, b.id).await.unwrap().as_ref(),
        Some(b),
        "only that one"
    );
    let past = orbflow_store::now() - Duration::seconds(5);
    s.set_schedule_enabled(a.id, true, Some(with_nanos(past)))
        .await
        .unwrap();
    let got = s.schedule(v.workspace_id, a.id).await.unwrap().unwrap();
    assert_eq!((got.enabled, got.next_fire_at), (true, Some(past)));
    let due: Vec<Uuid> = s
        .due_schedules(orbflow_store::now(), 10)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(due, [a.id], "enabled with a tick due: it fires");
    // disabled with a tick due: it does not
    s.set_schedule_enabled(a.id, false, Some(past)).await.unwrap();
    assert!(s.due_schedules(orbflow_store::now(), 10).await.unwrap().is_empty());
    // no such schedule: nothing happens
    s.set_schedule_enabled(Uuid::now_v7(), true, Some(past)).await.unwrap();
});

conformance!(due_schedules, |s| {
    let now = orbflow_store::now();
    assert!(s.due_schedules(now, 10).await.unwrap().is_empty());
    let (_, list) = scheduled(&s, "ws", "wf").await;
    let (_, their_list) = scheduled(&s, "elsewhere", "wf").await;
    assert!(
        s.due_schedules(now, 10).await.unwrap().is_empty(),
        "first ticks are in the future"
    );
    s.set_schedule_enabled(list[0].id, true, Some(now - Duration::seconds(10)))
        .await
        .unwrap();
    s.set_schedule_enabled(list[1].id, true, Some(now + Duration::seconds(10)))
        .await
        .unwrap();
    s.set_schedule_enabled(their_list[0].id, true, Some(now - Duration::seconds(20)))
        .await
        .unwrap();
    s.set_schedule_enabled(their_list[1].id, false, Some(now - Duration::seconds(20)))
        .await
        .unwrap();
    let due = s.due_schedules(now, 10).await.unwrap();
    let ids: BTreeSet<Uuid> = due.iter().map(|x| x.id).collect();
    assert_eq!(
        ids,
        BTreeSet::from([list[0].id, their_list[0].id]),
        "enabled, due at `now`, every workspace's"
    );
    let mine = due.iter().find(|x| x.id == list[0].id).unwrap();
    assert_eq!(
        (
            mine.workflow_id,
            mine.version_id,
            mine.cron.as_str(),
            mine.timezone.as_str()
        ),
        (list[0].workflow_id, list[0].version_id, "0 9 * * *", "Europe/Paris")
    );
    assert_eq!(
        (mine.input.clone(), mine.catch_up.as_str()),
        (Some(json!({"from": "cron"})), "latest")
    );
    assert_eq!(mine.next_fire_at, Some(now - Duration::seconds(10)));
    assert_eq!(s.due_schedules(now, 1).await.unwrap().len(), 1, "bounded by limit");
    assert_eq!(
        s.due_schedules(now + Duration::seconds(10), 10).await.unwrap().len(),
        3,
        "due at `now` included"
    );
});

conformance!(advance_schedule, |s| {
    let now = orbflow_store::now();
    let (v, list) = scheduled(&s, "ws", "wf").await;
    let id = list[0].id;
    s.set_schedule_enabled(id, true, Some(now - Duration::seconds(10)))
        .await
        .unwrap();
    let fired = now - Duration::seconds(10);
    let next = now + Duration::hours(1);
    s.advance_schedule(id, Some(with_nanos(next)), with_nanos(fired))
        .await
        .unwrap();
    let got = s.schedule(v.workspace_id, id).await.unwrap().unwrap();
    assert_eq!((got.next_fire_at, got.last_fired_at), (Some(next), Some(fired)));
    assert!(
        s.due_schedules(now, 10).await.unwrap().is_empty(),
        "moved on: no longer due"
    );
    assert_eq!(
        s.schedule(v.workspace_id, list[1].id).await.unwrap().as_ref(),
        Some(&list[1]),
        "only that one"
    );
    // only forward: an older tick (a slower replica) does not move it back
    s.advance_schedule(id, Some(now - Duration::minutes(5)), fired - Duration::minutes(5))
        .await
        .unwrap();
    s.advance_schedule(id, Some(now - Duration::minutes(5)), fired)
        .await
        .unwrap();
    let got = s.schedule(v.workspace_id, id).await.unwrap().unwrap();
    assert_eq!((got.next_fire_at, got.last_fired_at), (Some(next), Some(fired)));
    // no next tick: it never fires again
    s.advance_schedule(id, None, next).await.unwrap();
    let got = s.schedule(v.workspace_id, id).await.unwrap().unwrap();
    assert_eq!((got.next_fire_at, got.last_fired_at), (None, Some(next)));
    assert!(
        s.due_schedules(now + Duration::days(400), 10)
            .await
            .unwrap()
            .iter()
            .all(|x| x.id != id)
    );
});
