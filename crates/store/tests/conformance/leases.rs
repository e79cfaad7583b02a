//! The reconciler's and recovery's step queries: `Store::due_steps`,
//! `Store::renew_leases`, `Store::active_steps`.

use std::collections::BTreeSet;

use chrono::Duration;
use orbflow_engine::store::{DueReason, LeaseRef, StepRecord, Store};
use orbflow_model::StepStatus;

use crate::fixtures::{insert_run, inserted_run, run_record, step, with_nanos};

fn reason(r: DueReason) -> u8 {
    match r {
        DueReason::Queued => 0,
        DueReason::LeaseExpired => 1,
        DueReason::TimerDue => 2,
    }
}

conformance!(due_steps, |s| {
    let (_, run) = inserted_run(&s, "ws", "wf").await;
    let now = orbflow_store::now();
    let ago = |secs| Some(now - Duration::seconds(secs));
    let mut rows = Vec::new();
    let mut row = |path: &str, status, f: &dyn Fn(&mut StepRecord)| {
        let mut r = step(run.id, path, path);
        r.status = status;
        f(&mut r);
        rows.push(r);
    };
    row("q_older", StepStatus::Queued, &|r| r.queued_at = ago(90));
    row("q_old", StepStatus::Queued, &|r| r.queued_at = ago(60));
    row("q_new", StepStatus::Queued, &|r| r.queued_at = ago(5));
    row("r_expired", StepStatus::Running, &|r| r.lease_expires_at = ago(1));
    row("r_live", StepStatus::Running, &|r| r.lease_expires_at = ago(-60));
    row("w_due", StepStatus::Waiting, &|r| r.next_attempt_at = ago(1));
    row("w_later", StepStatus::Waiting, &|r| r.next_attempt_at = ago(-60));
    row("done", StepStatus::Completed, &|r| {
        r.queued_at = ago(90);
        r.lease_expires_at = ago(90);
        r.next_attempt_at = ago(90);
    });
    row("pending", StepStatus::Pending, &|_| {});
    let mut tx = s.begin().await.unwrap();
    tx.insert_steps(&rows).await.unwrap();
    tx.commit().await.unwrap();

    let due = s.due_steps(now, Duration::seconds(30), 100).await.unwrap();
    assert!(due.iter().all(|d| d.run_id == run.id));
    let got: BTreeSet<(String, u8)> = due.into_iter().map(|d| (d.path, reason(d.reason))).collect();
    let want: BTreeSet<(String, u8)> = [
        ("q_older", DueReason::Queued),
        ("q_old", DueReason::Queued),
        ("r_expired", DueReason::LeaseExpired),
        ("w_due", DueReason::TimerDue),
    ]
    .into_iter()
    .map(|(p, r)| (p.to_owned(), reason(r)))
    .collect();
    assert_eq!(got, want, "queued past the grace, expired leases, timers due");
    // no grace: every queued step is due
    let due = s.due_steps(now, Duration::seconds(0), 100).await.unwrap();
    assert_eq!(due.iter().filter(|d| d.reason == DueReason::Queued).count(), 3);
    // bounded by `limit`: SeaStore bounds each reason by it (see the report),
    // the oldest first
    let due = s.due_steps(now, Duration::seconds(30), 1).await.unwrap();
    let queued: Vec<&str> = due
        .iter()
        .filter(|d| d.reason == DueReason::Queued)
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(queued, ["q_older"]);
    assert!(due.len() <= 3, "{due:?}");
    assert!(
        s.due_steps(now - Duration::minutes(5), Duration::seconds(0), 100)
            .await
            .unwrap()
            .is_empty()
    );
});

conformance!(renew_leases, |s| {
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let now = orbflow_store::now();
    let lease = |path: &str, attempt, token| LeaseRef {
        run_id: run.id,
        path: path.into(),
        attempt,
        lease_token: token,
    };
    let mut rows = Vec::new();
    for (path, status) in [
        ("a", StepStatus::Running),
        ("b", StepStatus::Running),
        ("c", StepStatus::Waiting),
    ] {
        let mut r = step(run.id, path, path);
        r.status = status;
        r.attempt = 1;
        r.lease_token = Some(5);
        r.lease_owner = Some("w1".into());
        r.lease_expires_at = Some(now);
        rows.push(r);
    }
    let mut tx = s.begin().await.unwrap();
    tx.insert_steps(&rows).await.unwrap();
    tx.commit().await.unwrap();
    // another run's step at the same path, with the same token
    let other = run_record(&v);
    let mut theirs = rows[0].clone();
    theirs.id = uuid::Uuid::now_v7();
    theirs.run_id = other.id;
    insert_run(&s, &other, &[theirs]).await;

    let later = now + Duration::seconds(30);
    let asked = [
        lease("a", 1, 5),    // held
        lease("b", 1, 6),    // another token
        lease("b", 2, 5),    // another attempt
        lease("c", 1, 5),    // not RUNNING
        lease("nope", 1, 5), // no such step
    ];
    assert_eq!(
        s.renew_leases(&asked, with_nanos(later)).await.unwrap(),
        [lease("a", 1, 5)],
        "the ones still held"
    );
    let (_, steps) = s.run_view(run.id).await.unwrap().unwrap();
    for r in steps {
        let want = if r.path == "a" { later } else { now };
        assert_eq!(r.lease_expires_at, Some(want), "{}", r.path);
    }
    let (_, steps) = s.run_view(other.id).await.unwrap().unwrap();
    assert_eq!(
        steps[0].lease_expires_at,
        Some(now),
        "another run's step is not renewed"
    );
    assert!(s.renew_leases(&[], later).await.unwrap().is_empty());
    // many leases (more than one statement's worth)
    let many: Vec<LeaseRef> = (0..450)
        .map(|i| lease(&format!("x{i}"), 1, 5))
        .chain([lease("a", 1, 5)])
        .collect();
    assert_eq!(s.renew_leases(&many, later).await.unwrap().len(), 1);
});

conformance!(active_steps, |s| {
    let (_, run) = inserted_run(&s, "ws", "wf").await;
    assert!(s.active_steps(10).await.unwrap().is_empty());
    let mut rows = Vec::new();
    for (i, status) in [
        StepStatus::Pending,
        StepStatus::Queued,
        StepStatus::Running,
        StepStatus::Waiting,
        StepStatus::Completed,
        StepStatus::Failed,
        StepStatus::Skipped,
        StepStatus::Cancelled,
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = step(run.id, &format!("s{i}"), "s");
        r.status = status;
        rows.push(r);
    }
    let mut tx = s.begin().await.unwrap();
    tx.insert_steps(&rows).await.unwrap();
    tx.commit().await.unwrap();
    let mut active = s.active_steps(10).await.unwrap();
    active.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(active, rows[1..4], "QUEUED, RUNNING and WAITING rows, whole");
    assert_eq!(s.active_steps(2).await.unwrap().len(), 2, "bounded by limit");
});
