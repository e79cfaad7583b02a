//! Postgres only: the run lock's two modes (`RunLock::Shared` holders run
//! in parallel, `Exclusive` waits for them), `try_lock_steps` skipping rows
//! another transaction holds, and a deadlock reported as a race. SQLite has
//! one writer, which serializes every transaction.

use orbflow_engine::store::{RunLock, StepRecord, Store};

use crate::fixtures::{Db, run_record};

/// Postgres: the run lock's two modes, and a deadlock reported as a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_run_locks() {
    use std::time::Duration as Std;
    let Some(db) = Db::postgres().await else { return };
    let s = db.store();
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
