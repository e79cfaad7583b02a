//! `Tx::update_step` and `Tx::update_steps`: compare-and-set writes fenced
//! by the expected status, attempt and lease token.

use chrono::Duration;
use orbflow_engine::store::{Expect, StepRecord, Store};
use orbflow_model::StepStatus;
use serde_json::json;

use crate::fixtures::{Db, inserted_run, step};

/// A run with PENDING rows at `paths`.
async fn pending(s: &Db, paths: &[&str]) -> Vec<StepRecord> {
    let (_, run) = inserted_run(s, "ws", "wf").await;
    let rows: Vec<StepRecord> = paths.iter().map(|p| step(run.id, p, p)).collect();
    let mut tx = s.begin().await.unwrap();
    tx.insert_steps(&rows).await.unwrap();
    tx.commit().await.unwrap();
    rows
}

conformance!(update_step, |s| {
    let rows = pending(&s, &["a", "b"]).await;
    let (mut row, b) = (rows[0].clone(), rows[1].clone());
    let now = orbflow_store::now();
    let mut tx = s.begin().await.unwrap();
    let expect = Expect::of(&row);
    row.status = StepStatus::Queued;
    row.queued_at = Some(now);
    assert!(
        tx.update_step(&row, &expect).await.unwrap(),
        "the expected state: written"
    );
    assert!(
        !tx.update_step(&row, &expect).await.unwrap(),
        "a stale expectation writes nothing"
    );
    // a lease: status, attempt and token change together
    let held = Expect::of(&row);
    row.status = StepStatus::Running;
    row.attempt = 1;
    row.lease_token = Some(2);
    row.lease_owner = Some("w".into());
    row.lease_expires_at = Some(now - Duration::seconds(1));
    row.started_at = Some(now);
    assert!(tx.update_step(&row, &held).await.unwrap());
    assert_eq!(
        tx.step(row.run_id, "a").await.unwrap(),
        Some(row.clone()),
        "every field as written"
    );
    // fenced: another token, another attempt, another status, no token
    let current = Expect::of(&row);
    let mut late = row.clone();
    late.status = StepStatus::Completed;
    late.output = Some(json!("late"));
    for stale in [
        Expect {
            lease_token: Some(1),
            ..current.clone()
        },
        Expect {
            attempt: 2,
            ..current.clone()
        },
        Expect {
            status: StepStatus::Queued,
            ..current.clone()
        },
        Expect {
            lease_token: None,
            ..current.clone()
        },
    ] {
        assert!(!tx.update_step(&late, &stale).await.unwrap(), "fenced off: {stale:?}");
    }
    assert_eq!(
        tx.step(row.run_id, "a").await.unwrap(),
        Some(row.clone()),
        "left as it was"
    );
    // the holder finishes it; nulls are written too
    late.lease_token = None;
    late.lease_owner = None;
    late.lease_expires_at = None;
    late.ended_at = Some(now + Duration::milliseconds(3));
    assert!(tx.update_step(&late, &current).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = s.begin().await.unwrap();
    assert_eq!(tx.step(row.run_id, "a").await.unwrap(), Some(late));
    assert_eq!(tx.step(row.run_id, "b").await.unwrap(), Some(b), "only that step");
});

conformance!(update_steps, |s| {
    let rows = pending(&s, &["axb[0].c", "a_b[0].c", "z"]).await;
    let (mut b, mut c, z) = (rows[0].clone(), rows[1].clone(), rows[2].clone());
    let run = b.run_id;
    let now = orbflow_store::now();
    let mut tx = s.begin().await.unwrap();
    assert_eq!(tx.update_steps(&[]).await.unwrap(), 0);
    // many at once, each its own compare-and-set
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
        tx.step(run, "axb[0].c").await.unwrap().unwrap(),
        b,
        "every field as written"
    );
    assert_eq!(tx.step(run, "a_b[0].c").await.unwrap().unwrap(), rows[1]);
    // tokens fence: a write expecting another token, or none, is refused
    let mut fenced = b.clone();
    fenced.output = None;
    let wrong = Expect {
        lease_token: Some(8),
        ..Expect::of(&b)
    };
    let none = Expect {
        lease_token: None,
        ..Expect::of(&b)
    };
    assert_eq!(
        tx.update_steps(&[(fenced.clone(), wrong), (fenced, none)])
            .await
            .unwrap(),
        0
    );
    // nulls written too
    let eb2 = Expect::of(&b);
    b.lease_token = None;
    b.output = None;
    c.wait_output = Some(serde_json::Value::Null);
    assert_eq!(tx.update_steps(&[(b.clone(), eb2), (c.clone(), ec)]).await.unwrap(), 2);
    let (got_b, got_c) = (
        tx.step(run, "axb[0].c").await.unwrap().unwrap(),
        tx.step(run, "a_b[0].c").await.unwrap().unwrap(),
    );
    assert_eq!((got_b, got_c), (b, c), "nulls written too");
    tx.commit().await.unwrap();
    // more rows than one statement's worth, committed
    let mut tx = s.begin().await.unwrap();
    let many: Vec<StepRecord> = (0..600).map(|i| step(run, &format!("l[{i}]"), "l")).collect();
    tx.insert_steps(&many).await.unwrap();
    let writes: Vec<(StepRecord, Expect)> = many
        .iter()
        .map(|r| {
            let e = Expect::of(r);
            let mut r = r.clone();
            r.status = StepStatus::Skipped;
            (r, e)
        })
        .collect();
    assert_eq!(tx.update_steps(&writes).await.unwrap(), 600);
    tx.commit().await.unwrap();
    let mut tx = s.begin().await.unwrap();
    let skipped = tx.steps_with_prefix(run, "l[").await.unwrap();
    assert!(skipped.iter().all(|r| r.status == StepStatus::Skipped) && skipped.len() == 600);
    assert_eq!(tx.step(run, "z").await.unwrap(), Some(z), "only the rows named");
});
