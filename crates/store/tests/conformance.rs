//! The engine's storage contract (`orbflow_engine::store`), run against
//! every implementation: SeaStore on SQLite and on Postgres.

use chrono::{Duration, Utc};
use orbflow_engine::store::{DueReason, Expect, LogRecord, RunLock, RunRecord, StepOutput, StepRecord, Store};
use orbflow_model::{RunStatus, StepStatus};
use orbflow_store::SeaStore;
use orbflow_store::testing::TestDb;
use serde_json::json;
use uuid::Uuid;

async fn store(db: &TestDb) -> std::sync::Arc<SeaStore> {
    SeaStore::new(orbflow_store::connect(&db.url).await.unwrap())
}

fn run_record(v: &orbflow_engine::store::VersionRecord) -> RunRecord {
    RunRecord {
        id: Uuid::now_v7(),
        workspace_id: v.workspace_id,
        workflow_id: v.workflow_id,
        version_id: v.id,
        version_number: v.number,
        status: RunStatus::Pending,
        trigger_type: "manual".into(),
        trigger_data: Some(json!({"k": 1})),
        input: json!({"text": "hi"}),
        output: None,
        error: None,
        total_steps: 2,
        finished_steps: 0,
        created_at: orbflow_store::now(),
        started_at: None,
        ended_at: None,
        deadline_at: None,
        trace: Some(orbflow_engine::trace::RunTrace::start(
            orbflow_engine::trace::TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        )),
    }
}

async fn conformance(db: TestDb) {
    let s = store(&db).await;
    // versions: the same document is the same version; a new one is n+1
    let doc1 = r#"{"schemaVersion":1,"name":"wf","triggers":[{"type":"schedule","cron":"0 9 * * *"}],"steps":[{"key":"a","action":"TRANSFORM","config":{"value":1}},{"key":"c","type":"condition","if":"true","then":[{"key":"t","action":"TRANSFORM","config":{"value":2}}]}]}"#;
    let doc2 = r#"{"schemaVersion":1,"name":"wf","steps":[{"key":"a","action":"TRANSFORM","config":{"value":2}}]}"#;
    let v1 = s.ensure_version("ws", "wf", "Workflow", doc1).await.unwrap();
    let again = s.ensure_version("ws", "wf", "Workflow", doc1).await.unwrap();
    assert_eq!(v1, again);
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
    {
        use orbflow_store::entity::workflow_schedules;
        use sea_orm::EntityTrait;
        let schedules = workflow_schedules::Entity::find().all(s.connection()).await.unwrap();
        assert!(
            schedules.is_empty(),
            "the new version has no schedule trigger: the old schedule is gone"
        );
    }
    assert_eq!((v1.number, v2.number), (1, 2));
    assert_eq!(v2.workflow_id, v1.workflow_id);

    // a run and its steps round-trip through a transaction
    let run = run_record(&v1);
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run, Some("idem-1")).await.unwrap();
    let now = orbflow_store::now();
    let mut a = StepRecord::new(run.id, "a_b".into(), "a_b".into(), now);
    a.pending_deps = 1;
    let b = StepRecord::new(run.id, "axb[0].c".into(), "c".into(), now);
    let mut c = StepRecord::new(run.id, "a_b[0].c".into(), "c".into(), now);
    c.loop_index = Some(0);
    c.output = Some(json!({"n": [1, "x"], "null": null}));
    tx.insert_steps(&[a.clone(), b.clone(), c.clone()]).await.unwrap();
    tx.log(LogRecord {
        run_id: run.id,
        step_path: Some("a_b".into()),
        attempt: Some(1),
        level: "info".into(),
        message: "hello".into(),
        data: Some(json!({"x": [1, 2]})),
        created_at: now,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // a second run with the same idempotency key is refused
    let mut tx = s.begin().await.unwrap();
    let mut dup = run_record(&v1);
    dup.id = Uuid::now_v7();
    assert!(
        tx.insert_run(&dup, Some("idem-1")).await.is_err(),
        "idempotency key is unique per workflow"
    );
    drop(tx);

    let mut tx = s.begin().await.unwrap();
    let got = tx.lock_run(run.id, RunLock::Exclusive).await.unwrap().unwrap();
    assert_eq!(got.input, run.input);
    assert_eq!(got.trigger_data, run.trigger_data);
    assert_eq!(got.created_at, run.created_at);
    assert_eq!(
        got.trace, run.trace,
        "the run's trace context and its parent span round-trip"
    );
    assert!(tx.lock_run(Uuid::now_v7(), RunLock::Shared).await.unwrap().is_none());
    // prefix reads are exact even though LIKE treats `_` as a wildcard
    let under: Vec<String> = tx
        .steps_with_prefix(run.id, "a_b[")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(under, ["a_b[0].c"]);
    assert_eq!(tx.steps_with_prefix(run.id, "").await.unwrap().len(), 3);
    let two = tx
        .steps(run.id, &["a_b".into(), "a_b[0].c".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(two.len(), 2);
    // locked reads see the same rows; by key, exact under the prefix, in path order
    assert_eq!(tx.lock_step(run.id, "a_b").await.unwrap(), Some(a.clone()));
    assert!(tx.lock_step(run.id, "nope").await.unwrap().is_none());
    let of_c: Vec<String> = tx
        .lock_steps_of_key(run.id, "", "c")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(of_c, ["a_b[0].c", "axb[0].c"]);
    let of_c: Vec<String> = tx
        .lock_steps_of_key(run.id, "a_b[", "c")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(of_c, ["a_b[0].c"]);
    // a key's outputs alone: exact under the prefix, in path order, JSON intact
    let outs = tx.outputs_of_key(run.id, "", "c").await.unwrap();
    assert_eq!(
        outs,
        [
            StepOutput {
                path: "a_b[0].c".into(),
                loop_index: Some(0),
                output: c.output.clone(),
            },
            StepOutput {
                path: "axb[0].c".into(),
                loop_index: None,
                output: None,
            },
        ]
    );
    let outs = tx.outputs_of_key(run.id, "a_b[", "c").await.unwrap();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].path, "a_b[0].c");
    assert!(tx.outputs_of_key(run.id, "a_b[", "a_b").await.unwrap().is_empty());
    // many by path, locked, in path order, the missing left out
    let many: Vec<String> = tx
        .lock_steps(run.id, &["axb[0].c".into(), "nope".into(), "a_b".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(many, ["a_b", "axb[0].c"]);
    assert!(tx.lock_steps(run.id, &[]).await.unwrap().is_empty());
    let ahead: Vec<String> = tx
        .try_lock_steps(run.id, &["axb[0].c".into(), "nope".into(), "a_b".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(ahead, ["a_b", "axb[0].c"], "nothing else holds them");
    // the run's clock starts once; its finished count is an atomic addition
    tx.mark_run_running(run.id, now).await.unwrap();
    let started = tx.lock_run(run.id, RunLock::Shared).await.unwrap().unwrap();
    assert_eq!((started.status, started.started_at), (RunStatus::Running, Some(now)));
    tx.mark_run_running(run.id, now + Duration::seconds(5)).await.unwrap();
    let again = tx.lock_run(run.id, RunLock::Shared).await.unwrap().unwrap();
    assert_eq!(again.started_at, Some(now), "a running run keeps its start time");
    assert_eq!(tx.add_finished(run.id, 1).await.unwrap(), (1, 2));
    assert_eq!(tx.add_finished(run.id, 1).await.unwrap(), (2, 2));
    assert!(tx.add_finished(Uuid::now_v7(), 1).await.is_err(), "no such run");

    // compare-and-set: only the expected status/attempt/token writes
    let mut row = tx.step(run.id, "a_b").await.unwrap().unwrap();
    assert_eq!(row, a, "a step row round-trips unchanged");
    let expect = Expect::of(&row);
    row.status = StepStatus::Queued;
    row.queued_at = Some(now);
    assert!(tx.update_step(&row, &expect).await.unwrap());
    assert!(
        !tx.update_step(&row, &expect).await.unwrap(),
        "a stale expectation writes nothing"
    );
    let (t1, t2) = (1, 2);
    let held = Expect::of(&row);
    row.status = StepStatus::Running;
    row.attempt = 1;
    row.lease_token = Some(t2);
    row.lease_owner = Some("w".into());
    row.lease_expires_at = Some(now - Duration::seconds(1));
    assert!(tx.update_step(&row, &held).await.unwrap());
    let wrong_token = Expect {
        status: StepStatus::Running,
        attempt: 1,
        lease_token: Some(t1),
    };
    assert!(
        !tx.update_step(&row, &wrong_token).await.unwrap(),
        "a write with another lease token is fenced off"
    );
    // many at once, each its own compare-and-set
    assert_eq!(tx.update_steps(&[]).await.unwrap(), 0);
    let mut b = tx.step(run.id, "axb[0].c").await.unwrap().unwrap();
    let mut c = tx.step(run.id, "a_b[0].c").await.unwrap().unwrap();
    let (eb, ec) = (Expect::of(&b), Expect::of(&c));
    b.status = StepStatus::Completed;
    b.attempt = 1;
    b.output = Some(json!({"n": [1, "two", null]}));
    b.started_at = Some(now);
    b.ended_at = Some(now + Duration::milliseconds(3));
    b.lease_token = Some(7);
    b.pending_deps = 0;
    c.pending_deps = 5;
    c.error = Some(json!("not written"));
    let stale_c = Expect {
        attempt: ec.attempt + 1,
        ..ec.clone()
    };
    assert_eq!(
        tx.update_steps(&[(b.clone(), eb.clone()), (c.clone(), stale_c)])
            .await
            .unwrap(),
        1,
        "the row with a stale expectation is left as it was"
    );
    assert_eq!(
        tx.step(run.id, "axb[0].c").await.unwrap().unwrap(),
        b,
        "every field as written"
    );
    assert_ne!(tx.step(run.id, "a_b[0].c").await.unwrap().unwrap(), c);
    let eb2 = Expect::of(&b);
    b.lease_token = None;
    b.output = None;
    c.wait_output = Some(serde_json::Value::Null);
    assert_eq!(tx.update_steps(&[(b.clone(), eb2), (c.clone(), ec)]).await.unwrap(), 2);
    let (got_b, got_c) = (
        tx.step(run.id, "axb[0].c").await.unwrap().unwrap(),
        tx.step(run.id, "a_b[0].c").await.unwrap().unwrap(),
    );
    assert_eq!((got_b, got_c), (b, c), "nulls written too");
    tx.commit().await.unwrap();

    // the reconciler's queries
    let due = s.due_steps(Utc::now(), Duration::seconds(0), 100).await.unwrap();
    assert!(
        due.iter()
            .any(|d| d.path == "a_b" && d.reason == DueReason::LeaseExpired),
        "{due:?}"
    );
    let active = s.active_steps(10).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(s.unfinished_runs().await.unwrap(), vec![run.id]);

    // a rolled-back transaction leaves nothing
    let mut tx = s.begin().await.unwrap();
    let mut r2 = run.clone();
    r2.status = RunStatus::Completed;
    r2.finished_steps = 1;
    tx.update_run(&r2).await.unwrap();
    drop(tx);
    let (after, steps) = s.run_view(run.id).await.unwrap().unwrap();
    assert_eq!(after.status, RunStatus::Running);
    assert_eq!(after.finished_steps, 2);
    assert_eq!(steps.len(), 3);
    let logs = s.logs(run.id).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].data, Some(json!({"x": [1, 2]})));

    // many lines in one transaction keep their order and their nulls
    let mut tx = s.begin().await.unwrap();
    let lines: Vec<LogRecord> = (0..700)
        .map(|i| LogRecord {
            run_id: run.id,
            step_path: (i % 2 == 0).then(|| format!("s{i}")),
            attempt: (i % 3 == 0).then_some(i),
            level: "info".into(),
            message: format!("line {i} \u{e9}'\""),
            data: match i % 3 {
                0 => None,
                1 => Some(serde_json::Value::Null),
                _ => Some(json!({"i": i})),
            },
            created_at: now + Duration::microseconds(i64::from(i)),
        })
        .collect();
    for l in &lines {
        tx.log(l.clone()).await.unwrap();
    }
    tx.commit().await.unwrap();
    let logs = s.logs(run.id).await.unwrap();
    assert_eq!(logs.len(), 701);
    assert_eq!(&logs[1..], &lines[..], "every line as logged, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    conformance(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(db) = TestDb::postgres().await {
        conformance(db).await;
    }
}

/// Postgres: the run lock's two modes, and a deadlock reported as a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_run_locks() {
    use std::time::Duration as Std;
    let Some(db) = TestDb::postgres().await else { return };
    let s = store(&db).await;
    let doc = r#"{"schemaVersion":1,"name":"wf","steps":[{"key":"a","action":"TRANSFORM","config":{"value":1}}]}"#;
    let v = s.ensure_version("ws", "locks", "Workflow", doc).await.unwrap();
    let run = run_record(&v);
    let now = orbflow_store::now();
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run, None).await.unwrap();
    let a = StepRecord::new(run.id, "a".into(), "a".into(), now);
    let b = StepRecord::new(run.id, "b".into(), "b".into(), now);
    tx.insert_steps(&[a, b]).await.unwrap();
    tx.commit().await.unwrap();

    // shared holders do not wait for each other
    let mut t1 = s.begin().await.unwrap();
    t1.lock_run(run.id, RunLock::Shared).await.unwrap().unwrap();
    let mut t2 = s.begin().await.unwrap();
    tokio::time::timeout(Std::from_secs(5), t2.lock_run(run.id, RunLock::Shared))
        .await
        .expect("a second shared holder does not wait")
        .unwrap();
    // an exclusive holder waits for every shared one
    let s2 = s.clone();
    let id = run.id;
    let exclusive = tokio::spawn(async move {
        let mut t3 = s2.begin().await.unwrap();
        t3.lock_run(id, RunLock::Exclusive).await.unwrap().unwrap();
        t3.commit().await.unwrap();
    });
    tokio::time::sleep(Std::from_millis(300)).await;
    assert!(
        !exclusive.is_finished(),
        "exclusive waits while shared holders are open"
    );
    // an atomic addition and a conditional start under the shared lock do not wait either
    tokio::time::timeout(Std::from_secs(5), t1.add_finished(run.id, 1))
        .await
        .expect("the counter is not blocked by shared holders")
        .unwrap();
    t1.commit().await.unwrap();
    tokio::time::sleep(Std::from_millis(200)).await;
    assert!(!exclusive.is_finished(), "one shared holder is still open");
    t2.commit().await.unwrap();
    tokio::time::timeout(Std::from_secs(5), exclusive)
        .await
        .expect("exclusive proceeds once the shared holders committed")
        .unwrap();

    // reading ahead skips what another transaction holds, without waiting
    let mut t1 = s.begin().await.unwrap();
    t1.lock_step(run.id, "a").await.unwrap().unwrap();
    let mut t2 = s.begin().await.unwrap();
    let ahead: Vec<String> =
        tokio::time::timeout(Std::from_secs(5), t2.try_lock_steps(run.id, &["b".into(), "a".into()]))
            .await
            .expect("try_lock_steps does not wait")
            .unwrap()
            .into_iter()
            .map(|r| r.path)
            .collect();
    assert_eq!(ahead, ["b"], "the row t1 holds is left out");
    drop(t2);
    drop(t1);

    // two transactions locking two steps in opposite order: one is told it lost a race
    let mut t1 = s.begin().await.unwrap();
    let mut t2 = s.begin().await.unwrap();
    t1.lock_step(run.id, "a").await.unwrap().unwrap();
    t2.lock_step(run.id, "b").await.unwrap().unwrap();
    let first = tokio::spawn(async move {
        let r = t1.lock_step(id, "b").await.map(|_| ());
        (r, t1)
    });
    let second = t2.lock_step(id, "a").await.map(|_| ());
    let outcomes = match second {
        Ok(()) => {
            drop(t2);
            vec![first.await.unwrap().0]
        }
        Err(e) => {
            drop(t2);
            let (r, _t1) = first.await.unwrap();
            assert!(r.is_ok(), "the survivor proceeds: {r:?}");
            vec![Err(e)]
        }
    };
    let lost = outcomes.into_iter().find_map(Result::err).expect("one of them lost");
    assert!(
        matches!(lost, orbflow_engine::Error::Race(_)),
        "a deadlock is a race: {lost:?}"
    );
}

/// `backlog`: queued steps (count and oldest), PENDING and RUNNING runs.
async fn backlog(db: TestDb) {
    use orbflow_engine::store::Backlog;
    let s = store(&db).await;
    assert_eq!(s.backlog().await.unwrap(), Backlog::default(), "an empty database");
    let doc = r#"{"schemaVersion":1,"name":"wf","steps":[{"key":"a","action":"TRANSFORM","config":{"value":1}}]}"#;
    let v = s.ensure_version("ws", "backlog", "Workflow", doc).await.unwrap();
    let t0 = orbflow_store::now() - chrono::Duration::seconds(30);
    let mut tx = s.begin().await.unwrap();
    let mut statuses = Vec::new();
    for status in [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Running,
        RunStatus::Completed,
    ] {
        let mut run = run_record(&v);
        run.status = status;
        tx.insert_run(&run, None).await.unwrap();
        statuses.push(run);
    }
    let run = &statuses[1];
    let mut steps = Vec::new();
    for (i, status) in [
        StepStatus::Queued,
        StepStatus::Queued,
        StepStatus::Running,
        StepStatus::Pending,
    ]
    .into_iter()
    .enumerate()
    {
        let mut st = StepRecord::new(run.id, format!("s{i}"), format!("s{i}"), t0);
        st.status = status;
        st.queued_at = (status != StepStatus::Pending).then(|| t0 + chrono::Duration::seconds(i as i64));
        steps.push(st);
    }
    tx.insert_steps(&steps).await.unwrap();
    tx.commit().await.unwrap();
    let b = s.backlog().await.unwrap();
    assert_eq!(
        b,
        Backlog {
            queued_steps: 2,
            oldest_queued_at: Some(t0),
            pending_runs: 1,
            running_runs: 2,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_sqlite() {
    backlog(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_postgres() {
    if let Some(db) = TestDb::postgres().await {
        backlog(db).await;
    }
}
