//! The queries over runs: `Store::{run_by_key, run_view, unfinished_runs,
//! overdue_runs, backlog}` and `Admin::runs`.

use std::collections::BTreeSet;

use chrono::Duration;
use orbflow_engine::admin::{Admin, Page};
use orbflow_engine::store::{Backlog, Store};
use orbflow_model::{RunStatus, StepStatus};
use uuid::Uuid;

use crate::fixtures::{insert_run, inserted_run, run_filter, run_record, step, version};

conformance!(run_by_key, |s| {
    let v = version(&s, "ws", "wf").await;
    let other = version(&s, "ws", "other").await;
    let run = run_record(&v);
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run, Some("key-1")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.run_by_key(v.workflow_id, "key-1").await.unwrap(), Some(run.id));
    assert_eq!(s.run_by_key(v.workflow_id, "key-2").await.unwrap(), None);
    assert_eq!(
        s.run_by_key(other.workflow_id, "key-1").await.unwrap(),
        None,
        "a key belongs to its workflow"
    );
    assert_eq!(s.run_by_key(Uuid::now_v7(), "key-1").await.unwrap(), None);
});

conformance!(run_view, |s| {
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let mut tx = s.begin().await.unwrap();
    let rows = [
        step(run.id, "b", "b"),
        step(run.id, "a", "a"),
        step(run.id, "l[0].x", "x"),
    ];
    tx.insert_steps(&rows).await.unwrap();
    tx.commit().await.unwrap();
    let other = run_record(&v);
    insert_run(&s, &other, &[step(other.id, "a", "a")]).await;
    let (got, mut steps) = s.run_view(run.id).await.unwrap().expect("found");
    assert_eq!(got, run);
    steps.sort_by(|a, b| a.path.cmp(&b.path));
    let mut want = rows.to_vec();
    want.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(steps, want, "every step execution of the run, and only its own");
    assert!(s.run_view(Uuid::now_v7()).await.unwrap().is_none());
});

conformance!(unfinished_runs, |s| {
    let v = version(&s, "ws", "wf").await;
    assert!(s.unfinished_runs().await.unwrap().is_empty());
    let mut want = BTreeSet::new();
    for status in [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ] {
        let mut run = run_record(&v);
        run.status = status;
        insert_run(&s, &run, &[]).await;
        if !status.is_terminal() {
            want.insert(run.id);
        }
    }
    let got: BTreeSet<Uuid> = s.unfinished_runs().await.unwrap().into_iter().collect();
    assert_eq!(got, want, "PENDING and RUNNING runs only");
});

conformance!(overdue_runs, |s| {
    let v = version(&s, "ws", "wf").await;
    let now = orbflow_store::now();
    let mut ids = Vec::new();
    for (status, deadline) in [
        (RunStatus::Pending, Some(now - Duration::seconds(10))),
        (RunStatus::Running, Some(now - Duration::seconds(20))),
        (RunStatus::Completed, Some(now - Duration::seconds(30))),
        (RunStatus::Failed, Some(now - Duration::seconds(30))),
        (RunStatus::Pending, Some(now + Duration::hours(1))),
        (RunStatus::Running, None),
    ] {
        let mut run = run_record(&v);
        run.status = status;
        run.deadline_at = deadline;
        insert_run(&s, &run, &[]).await;
        ids.push(run.id);
    }
    let got: BTreeSet<Uuid> = s.overdue_runs(now, 10).await.unwrap().into_iter().collect();
    assert_eq!(
        got,
        BTreeSet::from([ids[0], ids[1]]),
        "unfinished and past their deadline"
    );
    let one = s.overdue_runs(now, 1).await.unwrap();
    assert_eq!(one.len(), 1, "bounded by limit");
    assert!(got.contains(&one[0]));
    let later: BTreeSet<Uuid> = s
        .overdue_runs(now + Duration::hours(2), 10)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(later, BTreeSet::from([ids[0], ids[1], ids[4]]));
    assert!(s.overdue_runs(now - Duration::minutes(1), 10).await.unwrap().is_empty());
});

conformance!(backlog, |s| {
    assert_eq!(s.backlog().await.unwrap(), Backlog::default(), "an empty database");
    let v = version(&s, "ws", "backlog").await;
    let t0 = orbflow_store::now() - Duration::seconds(30);
    let mut tx = s.begin().await.unwrap();
    let mut runs = Vec::new();
    for status in [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Running,
        RunStatus::Completed,
    ] {
        let mut run = run_record(&v);
        run.status = status;
        tx.insert_run(&run, None).await.unwrap();
        runs.push(run);
    }
    let run = &runs[1];
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
        let mut st = step(run.id, &format!("s{i}"), &format!("s{i}"));
        st.status = status;
        st.queued_at = (status != StepStatus::Pending).then(|| t0 + Duration::seconds(i as i64));
        steps.push(st);
    }
    tx.insert_steps(&steps).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.backlog().await.unwrap(),
        Backlog {
            queued_steps: 2,
            oldest_queued_at: Some(t0),
            pending_runs: 1,
            running_runs: 2,
        }
    );
});

conformance!(runs, |s| {
    let v = version(&s, "ws", "wf").await;
    let other_wf = version(&s, "ws", "other").await;
    let foreign = version(&s, "elsewhere", "wf").await;
    let t0 = orbflow_store::now() - Duration::minutes(1);
    let mut mine = Vec::new();
    for i in 0..5 {
        let mut run = run_record(&v);
        run.created_at = t0 + Duration::seconds(i);
        if i == 1 {
            run.status = RunStatus::Completed;
        }
        if i == 3 {
            run.trigger_type = orbflow_model::TriggerType::Webhook;
        }
        insert_run(&s, &run, &[]).await;
        mine.push(run);
    }
    let mut last = run_record(&other_wf);
    last.created_at = t0 + Duration::seconds(10);
    insert_run(&s, &last, &[]).await;
    let theirs = run_record(&foreign);
    insert_run(&s, &theirs, &[]).await;

    let ids = |rs: Vec<orbflow_engine::store::RunRecord>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let page = |after, limit| Page { after, limit };
    let all = s.runs(v.workspace_id, &run_filter(), page(None, 100)).await.unwrap();
    assert_eq!(all[0], last, "runs read back whole");
    let newest_first = vec![last.id, mine[4].id, mine[3].id, mine[2].id, mine[1].id, mine[0].id];
    assert_eq!(ids(all), newest_first, "the workspace's runs, newest first");
    assert_eq!(
        ids(s
            .runs(foreign.workspace_id, &run_filter(), page(None, 100))
            .await
            .unwrap()),
        [theirs.id],
        "another workspace's runs are not listed"
    );
    // keyset pages
    let p1 = ids(s.runs(v.workspace_id, &run_filter(), page(None, 2)).await.unwrap());
    assert_eq!(p1, newest_first[..2]);
    let p2 = ids(s
        .runs(v.workspace_id, &run_filter(), page(Some(p1[1]), 2))
        .await
        .unwrap());
    assert_eq!(p2, newest_first[2..4]);
    let p3 = ids(s
        .runs(v.workspace_id, &run_filter(), page(Some(p2[1]), 10))
        .await
        .unwrap());
    assert_eq!(p3, newest_first[4..]);
    assert!(
        s.runs(v.workspace_id, &run_filter(), page(Some(mine[0].id), 10))
            .await
            .unwrap()
            .is_empty()
    );
    // filters
    let mut f = run_filter();
    f.workflow_id = Some(v.workflow_id);
    assert_eq!(
        ids(s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap()),
        newest_first[1..]
    );
    f.workflow_id = Some(foreign.workflow_id);
    assert!(
        s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap().is_empty(),
        "another workspace's workflow is not reachable through the filter"
    );
    let mut f = run_filter();
    f.status = Some(RunStatus::Completed);
    assert_eq!(
        ids(s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap()),
        [mine[1].id]
    );
    let mut f = run_filter();
    f.since = Some(t0 + Duration::seconds(2));
    assert_eq!(
        ids(s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap()),
        newest_first[..4],
        "since: created at or after"
    );
    let mut f = run_filter();
    f.until = Some(t0 + Duration::seconds(2));
    assert_eq!(
        ids(s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap()),
        [mine[1].id, mine[0].id],
        "until: created before"
    );
    let mut f = run_filter();
    f.trigger_type = Some(orbflow_model::TriggerType::Webhook);
    assert_eq!(
        ids(s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap()),
        [mine[3].id]
    );
    f.trigger_type = Some(orbflow_model::TriggerType::Schedule);
    assert!(s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap().is_empty());
    let mut f = run_filter();
    f.until = Some(t0 + Duration::seconds(2));
    f.since = Some(t0 + Duration::seconds(1));
    f.status = Some(RunStatus::Pending);
    assert!(
        s.runs(v.workspace_id, &f, page(None, 100)).await.unwrap().is_empty(),
        "filters combine"
    );
});
