//! `Store::begin` and the run operations of `Tx`: insert, lock, update,
//! start, count finished steps.

use chrono::Duration;
use orbflow_engine::Error;
use orbflow_engine::store::{RunLock, Store};
use orbflow_model::RunStatus;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{insert_run, inserted_run, run_record, step, version, with_nanos};

conformance!(begin, |s| {
    let v = version(&s, "ws", "wf").await;
    // committed: visible to the next transaction
    let run = run_record(&v);
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run, None).await.unwrap();
    tx.insert_steps(&[step(run.id, "a", "a")]).await.unwrap();
    tx.commit().await.unwrap();
    let (got, steps) = s.run_view(run.id).await.unwrap().expect("committed");
    assert_eq!(got.id, run.id);
    assert_eq!(steps.len(), 1);
    // dropped without commit: rolled back, run and steps alike
    let other = run_record(&v);
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&other, None).await.unwrap();
    tx.insert_steps(&[step(other.id, "a", "a")]).await.unwrap();
    assert!(
        tx.lock_run(other.id, RunLock::Shared).await.unwrap().is_some(),
        "seen inside"
    );
    drop(tx);
    assert!(s.run_view(other.id).await.unwrap().is_none(), "rolled back");
    // a rolled-back update leaves the row as it was
    let mut tx = s.begin().await.unwrap();
    let mut done = run.clone();
    done.status = RunStatus::Completed;
    done.finished_steps = 1;
    tx.update_run(&done).await.unwrap();
    drop(tx);
    let (after, _) = s.run_view(run.id).await.unwrap().unwrap();
    assert_eq!((after.status, after.finished_steps), (RunStatus::Pending, 0));
});

conformance!(insert_run, |s| {
    let v = version(&s, "ws", "wf").await;
    let mut run = run_record(&v);
    run.deadline_at = Some(orbflow_store::now() + Duration::minutes(5));
    run.output = Some(json!({"n": [1, "x", null]}));
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run, Some("idem-1")).await.unwrap();
    tx.commit().await.unwrap();
    let (got, _) = s.run_view(run.id).await.unwrap().unwrap();
    assert_eq!(
        got, run,
        "every field round-trips, the trace context and its parent span too"
    );
    assert_eq!(s.run_by_key(v.workflow_id, "idem-1").await.unwrap(), Some(run.id));

    // the idempotency key is unique per workflow
    let mut tx = s.begin().await.unwrap();
    assert!(
        tx.insert_run(&run_record(&v), Some("idem-1")).await.is_err(),
        "idempotency key is unique per workflow"
    );
    drop(tx);
    let w2 = version(&s, "ws", "other").await;
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run_record(&w2), Some("idem-1")).await.unwrap();
    tx.commit().await.unwrap();
    // runs without a key do not collide
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run_record(&v), None).await.unwrap();
    tx.insert_run(&run_record(&v), None).await.unwrap();
    tx.commit().await.unwrap();
    // the same id twice is refused
    let mut tx = s.begin().await.unwrap();
    assert!(tx.insert_run(&run, None).await.is_err(), "a run id is unique");
    drop(tx);
    // a run without a trace stays without one
    let mut plain = run_record(&v);
    plain.trace = None;
    insert_run(&s, &plain, &[]).await;
    assert_eq!(s.run_view(plain.id).await.unwrap().unwrap().0.trace, None);
});

conformance!(lock_run, |s| {
    let (_, run) = inserted_run(&s, "ws", "wf").await;
    let mut tx = s.begin().await.unwrap();
    let shared = tx.lock_run(run.id, RunLock::Shared).await.unwrap().expect("found");
    assert_eq!(shared, run);
    let exclusive = tx.lock_run(run.id, RunLock::Exclusive).await.unwrap().expect("upgrade");
    assert_eq!(exclusive, run);
    assert_eq!(exclusive.input, run.input);
    assert_eq!(exclusive.trigger_data, run.trigger_data);
    assert_eq!(exclusive.created_at, run.created_at);
    assert_eq!(
        exclusive.trace, run.trace,
        "the run's trace context and its parent span round-trip"
    );
    assert!(tx.lock_run(Uuid::now_v7(), RunLock::Shared).await.unwrap().is_none());
    assert!(tx.lock_run(Uuid::now_v7(), RunLock::Exclusive).await.unwrap().is_none());
    tx.commit().await.unwrap();
});

conformance!(update_run, |s| {
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let bystander = run_record(&v);
    insert_run(&s, &bystander, &[]).await;
    let now = orbflow_store::now();
    let mut done = run.clone();
    done.status = RunStatus::Failed;
    done.output = Some(json!({"out": [1, null]}));
    done.error = Some(json!({"message": "boom"}));
    done.finished_steps = 2;
    done.started_at = Some(now);
    done.ended_at = Some(now + Duration::milliseconds(5));
    done.deadline_at = Some(now + Duration::minutes(1));
    let mut tx = s.begin().await.unwrap();
    tx.lock_run(run.id, RunLock::Exclusive).await.unwrap().unwrap();
    tx.update_run(&done).await.unwrap();
    tx.commit().await.unwrap();
    let (got, _) = s.run_view(run.id).await.unwrap().unwrap();
    assert_eq!(got, done, "every mutable field written");
    // only its mutable fields: what identifies the run is not rewritten
    let mut forged = done.clone();
    forged.input = json!({"forged": true});
    forged.total_steps = 99;
    forged.trigger_type = orbflow_model::TriggerType::Webhook;
    forged.output = None;
    forged.ended_at = None;
    let mut tx = s.begin().await.unwrap();
    tx.update_run(&forged).await.unwrap();
    tx.commit().await.unwrap();
    let (got, _) = s.run_view(run.id).await.unwrap().unwrap();
    assert_eq!(
        (got.input, got.total_steps, got.trigger_type),
        (run.input.clone(), 2, orbflow_model::TriggerType::Manual)
    );
    assert_eq!((got.output, got.ended_at), (None, None), "nulls are written too");
    // and only that run
    assert_eq!(s.run_view(bystander.id).await.unwrap().unwrap().0, bystander);
});

conformance!(mark_run_running, |s| {
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let now = orbflow_store::now();
    let mut tx = s.begin().await.unwrap();
    tx.lock_run(run.id, RunLock::Shared).await.unwrap().unwrap();
    tx.mark_run_running(run.id, with_nanos(now)).await.unwrap();
    let started = tx.lock_run(run.id, RunLock::Shared).await.unwrap().unwrap();
    assert_eq!((started.status, started.started_at), (RunStatus::Running, Some(now)));
    tx.mark_run_running(run.id, now + Duration::seconds(5)).await.unwrap();
    let again = tx.lock_run(run.id, RunLock::Shared).await.unwrap().unwrap();
    assert_eq!(again.started_at, Some(now), "a running run keeps its start time");
    tx.commit().await.unwrap();
    // a finished run is not started again
    let mut finished = run_record(&v);
    finished.status = RunStatus::Cancelled;
    insert_run(&s, &finished, &[]).await;
    let mut tx = s.begin().await.unwrap();
    tx.mark_run_running(finished.id, now).await.unwrap();
    tx.commit().await.unwrap();
    let (got, _) = s.run_view(finished.id).await.unwrap().unwrap();
    assert_eq!((got.status, got.started_at), (RunStatus::Cancelled, None));
    // no such run: nothing happens
    let mut tx = s.begin().await.unwrap();
    tx.mark_run_running(Uuid::now_v7(), now).await.unwrap();
    tx.commit().await.unwrap();
});

conformance!(add_finished, |s| {
    let (_, run) = inserted_run(&s, "ws", "wf").await;
    let mut tx = s.begin().await.unwrap();
    assert_eq!(tx.add_finished(run.id, 1).await.unwrap(), (1, 2));
    assert_eq!(tx.add_finished(run.id, 1).await.unwrap(), (2, 2));
    assert_err!(tx.add_finished(Uuid::now_v7(), 1).await, Error::NotFound(_));
    drop(tx);
    let mut tx = s.begin().await.unwrap();
    assert_eq!(
        tx.add_finished(run.id, 2).await.unwrap(),
        (2, 2),
        "the rolled-back additions are gone"
    );
    tx.commit().await.unwrap();
    assert_eq!(s.run_view(run.id).await.unwrap().unwrap().0.finished_steps, 2);
});
