//! The run log and the end of a transaction: `Tx::log`, `Tx::commit`,
//! `Store::logs`, `Admin::log_page`.

use orbflow_engine::admin::{Admin, Page};
use orbflow_engine::store::{LogRecord, Store};
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{insert_run, inserted_run, log_line, run_record, with_nanos};

conformance!(log, |s| {
    let (_, run) = inserted_run(&s, "ws", "wf").await;
    let now = orbflow_store::now();
    let first = LogRecord {
        run_id: run.id,
        step_path: Some("a_b".into()),
        attempt: Some(1),
        level: orbflow_model::LogLevel::Info,
        message: "hello".into(),
        data: Some(json!({"x": [1, 2]})),
        created_at: now,
    };
    let mut tx = s.begin().await.unwrap();
    tx.log(LogRecord {
        created_at: with_nanos(now),
        ..first.clone()
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.logs(run.id).await.unwrap(), std::slice::from_ref(&first));
    // many lines in one transaction keep their order and their nulls
    let lines: Vec<LogRecord> = (0..700).map(|i| log_line(run.id, i, now)).collect();
    let mut tx = s.begin().await.unwrap();
    for l in &lines {
        tx.log(l.clone()).await.unwrap();
    }
    tx.commit().await.unwrap();
    let logs = s.logs(run.id).await.unwrap();
    assert_eq!(logs.len(), 701);
    assert_eq!(logs[0], first);
    assert_eq!(&logs[1..], &lines[..], "every line as logged, in order");
    // lines of a transaction that does not commit are not written
    let mut tx = s.begin().await.unwrap();
    tx.log(log_line(run.id, 1, now)).await.unwrap();
    drop(tx);
    assert_eq!(s.logs(run.id).await.unwrap().len(), 701);
});

conformance!(commit, |s| {
    let v = crate::fixtures::version(&s, "ws", "wf").await;
    let run = run_record(&v);
    let now = orbflow_store::now();
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&run, None).await.unwrap();
    tx.log(log_line(run.id, 2, now)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(s.run_view(run.id).await.unwrap().is_some(), "the writes are durable");
    assert_eq!(
        s.logs(run.id).await.unwrap(),
        [log_line(run.id, 2, now)],
        "the log is written at commit"
    );
    // a commit that fails (a line of a run that does not exist) writes nothing
    let other = run_record(&v);
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(&other, None).await.unwrap();
    tx.log(log_line(Uuid::now_v7(), 1, now)).await.unwrap();
    assert!(tx.commit().await.is_err(), "a log line must belong to a run");
    assert!(
        s.run_view(other.id).await.unwrap().is_none(),
        "nothing of it is written"
    );
});

conformance!(logs, |s| {
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let other = run_record(&v);
    insert_run(&s, &other, &[]).await;
    assert!(s.logs(run.id).await.unwrap().is_empty());
    let now = orbflow_store::now();
    let mut tx = s.begin().await.unwrap();
    for i in 0..4 {
        tx.log(log_line(run.id, i, now)).await.unwrap();
        tx.log(log_line(other.id, 10 + i, now)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mine: Vec<LogRecord> = (0..4).map(|i| log_line(run.id, i, now)).collect();
    assert_eq!(s.logs(run.id).await.unwrap(), mine, "the run's own lines, in order");
    assert!(s.logs(Uuid::now_v7()).await.unwrap().is_empty());
});

conformance!(log_page, |s| {
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let other = run_record(&v);
    insert_run(&s, &other, &[]).await;
    let now = orbflow_store::now();
    let mut tx = s.begin().await.unwrap();
    for i in 0..5 {
        tx.log(log_line(run.id, i, now)).await.unwrap();
        tx.log(log_line(other.id, 10 + i, now)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let page = |after, limit| Page { after, limit };
    let all = s.log_page(run.id, page(None, 100)).await.unwrap();
    let lines: Vec<LogRecord> = all.iter().map(|(_, l)| l.clone()).collect();
    let want: Vec<LogRecord> = (0..5).map(|i| log_line(run.id, i, now)).collect();
    assert_eq!(lines, want, "the run's lines only, oldest first");
    let ids: Vec<i64> = all.iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");
    // keyset pages
    let p1 = s.log_page(run.id, page(None, 2)).await.unwrap();
    assert_eq!(p1, all[..2]);
    let p2 = s.log_page(run.id, page(Some(p1[1].0), 2)).await.unwrap();
    assert_eq!(p2, all[2..4]);
    let p3 = s.log_page(run.id, page(Some(p2[1].0), 10)).await.unwrap();
    assert_eq!(p3, all[4..]);
    assert!(s.log_page(run.id, page(Some(ids[4]), 10)).await.unwrap().is_empty());
    assert!(s.log_page(Uuid::now_v7(), page(None, 10)).await.unwrap().is_empty());
});
