//! The step reads and inserts of `Tx`: `insert_steps`, `step`, `lock_step`,
//! `lock_steps`, `try_lock_steps`, `lock_steps_of_key`, `steps`,
//! `steps_with_prefix`, `outputs_of_key`. Paths hold `_`, which `LIKE`
//! treats as a wildcard: prefix reads must be exact.

use orbflow_engine::store::{StepOutput, StepRecord, Store};
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{Db, insert_run, inserted_run, run_record, step};

/// A run with three rows (`a_b`, `axb[0].c`, `a_b[0].c`) and another run of
/// the same version with rows at the same paths: (run id, its rows).
async fn rows(s: &Db) -> (Uuid, [StepRecord; 3]) {
    let (v, run) = inserted_run(s, "ws", "wf").await;
    let mut a = step(run.id, "a_b", "a_b");
    a.pending_deps = 1;
    let b = step(run.id, "axb[0].c", "c");
    let mut c = step(run.id, "a_b[0].c", "c");
    c.loop_index = Some(0);
    c.parent_path = Some("a_b[0]".into());
    c.output = Some(json!({"n": [1, "x"], "null": null}));
    let mut tx = s.begin().await.unwrap();
    tx.insert_steps(&[a.clone(), b.clone(), c.clone()]).await.unwrap();
    tx.commit().await.unwrap();
    let other = run_record(&v);
    let theirs: Vec<StepRecord> = ["a_b", "axb[0].c", "a_b[0].c", "zzz"]
        .iter()
        .map(|p| {
            let mut r = step(other.id, p, if p.ends_with(".c") { "c" } else { p });
            r.output = Some(json!("other run"));
            r
        })
        .collect();
    insert_run(s, &other, &theirs).await;
    (run.id, [a, b, c])
}

fn paths(rows: Vec<StepRecord>) -> Vec<String> {
    rows.into_iter().map(|r| r.path).collect()
}

conformance!(insert_steps, |s| {
    let (run, [a, b, c]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    assert_eq!(
        tx.step(run, "a_b").await.unwrap(),
        Some(a.clone()),
        "a step row round-trips unchanged"
    );
    assert_eq!(tx.step(run, "axb[0].c").await.unwrap(), Some(b));
    assert_eq!(
        tx.step(run, "a_b[0].c").await.unwrap(),
        Some(c),
        "JSON with nulls intact"
    );
    // nothing at all is fine; a path twice in a run is refused
    tx.insert_steps(&[]).await.unwrap();
    let again = step(run, "a_b", "a_b");
    assert!(tx.insert_steps(&[again]).await.is_err(), "one row per path per run");
    drop(tx);
    // many at once (more than one statement's worth)
    let mut tx = s.begin().await.unwrap();
    let many: Vec<StepRecord> = (0..450).map(|i| step(run, &format!("l[{i}]"), "l")).collect();
    tx.insert_steps(&many).await.unwrap();
    tx.commit().await.unwrap();
    let (_, all) = s.run_view(run).await.unwrap().unwrap();
    assert_eq!(all.len(), 453);
});

conformance!(step, |s| {
    let (run, [a, ..]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    assert_eq!(tx.step(run, "a_b").await.unwrap(), Some(a));
    assert!(tx.step(run, "nope").await.unwrap().is_none());
    assert!(
        tx.step(run, "a%").await.unwrap().is_none(),
        "an exact path, not a pattern"
    );
    assert!(tx.step(Uuid::now_v7(), "a_b").await.unwrap().is_none());
});

conformance!(lock_step, |s| {
    let (run, [a, ..]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    assert_eq!(tx.lock_step(run, "a_b").await.unwrap(), Some(a.clone()));
    assert!(tx.lock_step(run, "nope").await.unwrap().is_none());
    assert!(tx.lock_step(Uuid::now_v7(), "a_b").await.unwrap().is_none());
    // locked again by its holder: no wait
    assert_eq!(tx.lock_step(run, "a_b").await.unwrap(), Some(a));
    tx.commit().await.unwrap();
});

conformance!(lock_steps, |s| {
    let (run, [a, b, _]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    let many = tx
        .lock_steps(run, &["axb[0].c".into(), "nope".into(), "a_b".into()])
        .await
        .unwrap();
    assert_eq!(
        many,
        [a, b],
        "by path, in path order, the missing left out, this run's only"
    );
    assert!(tx.lock_steps(run, &[]).await.unwrap().is_empty());
    assert!(tx.lock_steps(Uuid::now_v7(), &["a_b".into()]).await.unwrap().is_empty());
    tx.commit().await.unwrap();
});

conformance!(try_lock_steps, |s| {
    let (run, [a, b, _]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    let ahead = tx
        .try_lock_steps(run, &["axb[0].c".into(), "nope".into(), "a_b".into()])
        .await
        .unwrap();
    assert_eq!(ahead, [a, b], "nothing else holds them: all, in path order");
    assert!(tx.try_lock_steps(run, &[]).await.unwrap().is_empty());
    assert!(
        tx.try_lock_steps(Uuid::now_v7(), &["a_b".into()])
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();
});

conformance!(lock_steps_of_key, |s| {
    let (run, [_, b, c]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    let of_c = tx.lock_steps_of_key(run, "", "c").await.unwrap();
    assert_eq!(of_c, [c.clone(), b], "every execution of the key, in path order");
    let of_c = paths(tx.lock_steps_of_key(run, "a_b[", "c").await.unwrap());
    assert_eq!(of_c, ["a_b[0].c"], "exact under the prefix");
    assert!(tx.lock_steps_of_key(run, "a_b[", "a_b").await.unwrap().is_empty());
    assert!(
        tx.lock_steps_of_key(run, "", "zzz").await.unwrap().is_empty(),
        "another run's key"
    );
    tx.commit().await.unwrap();
});

conformance!(steps, |s| {
    let (run, [a, _, c]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    let mut two = tx
        .steps(run, &["a_b".into(), "a_b[0].c".into(), "nope".into()])
        .await
        .unwrap();
    two.sort_by(|x, y| x.path.cmp(&y.path));
    assert_eq!(two, [a, c], "the missing left out, this run's only");
    assert!(tx.steps(run, &[]).await.unwrap().is_empty());
    // more paths than one statement's worth
    let many: Vec<String> = (0..1200).map(|i| format!("p{i}")).chain(["a_b".into()]).collect();
    assert_eq!(tx.steps(run, &many).await.unwrap().len(), 1);
});

conformance!(steps_with_prefix, |s| {
    let (run, _) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    let mut under = paths(tx.steps_with_prefix(run, "a_b[").await.unwrap());
    under.sort();
    assert_eq!(under, ["a_b[0].c"], "`_` is not a wildcard");
    let mut all = paths(tx.steps_with_prefix(run, "").await.unwrap());
    all.sort();
    assert_eq!(
        all,
        ["a_b", "a_b[0].c", "axb[0].c"],
        "empty prefix: every row of the run"
    );
    let mut a = paths(tx.steps_with_prefix(run, "a_b").await.unwrap());
    a.sort();
    assert_eq!(a, ["a_b", "a_b[0].c"]);
    assert!(
        tx.steps_with_prefix(run, "%").await.unwrap().is_empty(),
        "`%` is not a wildcard"
    );
    assert!(tx.steps_with_prefix(Uuid::now_v7(), "").await.unwrap().is_empty());
});

conformance!(outputs_of_key, |s| {
    let (run, [_, _, c]) = rows(&s).await;
    let mut tx = s.begin().await.unwrap();
    assert_eq!(
        tx.outputs_of_key(run, "", "c").await.unwrap(),
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
        ],
        "a key's outputs alone, in path order, JSON intact"
    );
    let outs = tx.outputs_of_key(run, "a_b[", "c").await.unwrap();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].path, "a_b[0].c");
    assert!(tx.outputs_of_key(run, "a_b[", "a_b").await.unwrap().is_empty());
    assert!(tx.outputs_of_key(Uuid::now_v7(), "", "c").await.unwrap().is_empty());
});

/// Postgres: "path order" is the order of the paths' bytes (as on SQLite),
/// whatever the database's collation. Many servers are initialised with a
/// linguistic one (`en_US.UTF-8`), which orders `p_q[0].c` before
/// `p[0].c`; the column is given such a collation here to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_path_order_is_byte_order_under_a_linguistic_collation() {
    use sea_orm::ConnectionTrait;
    let Some(s) = Db::postgres().await else { return };
    let icu = s
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_collation WHERE collname = 'en-x-icu'",
        ))
        .await
        .unwrap();
    if icu.is_none() {
        println!("skipped: the server has no ICU collation en-x-icu");
        return;
    }
    s.connection()
        .execute_unprepared(r#"ALTER TABLE step_executions ALTER COLUMN path TYPE text COLLATE "en-x-icu""#)
        .await
        .unwrap();
    let (_, run) = inserted_run(&s, "ws", "wf").await;
    let written = ["p_q[0].c", "p[0].c", "p[1].c"];
    let mut tx = s.begin().await.unwrap();
    let rows: Vec<StepRecord> = written.iter().map(|p| step(run.id, p, "c")).collect();
    tx.insert_steps(&rows).await.unwrap();
    let mut want: Vec<String> = written.iter().map(|p| (*p).to_owned()).collect();
    want.sort();
    let all: Vec<String> = written.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(paths(tx.lock_steps(run.id, &all).await.unwrap()), want, "lock_steps");
    assert_eq!(
        paths(tx.try_lock_steps(run.id, &all).await.unwrap()),
        want,
        "try_lock_steps"
    );
    assert_eq!(
        paths(tx.lock_steps_of_key(run.id, "", "c").await.unwrap()),
        want,
        "lock_steps_of_key"
    );
    let outs: Vec<String> = tx
        .outputs_of_key(run.id, "", "c")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.path)
        .collect();
    assert_eq!(outs, want, "outputs_of_key");
}
