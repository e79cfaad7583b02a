//! Names stored as strings (a run's trigger type, a workflow's status, a log
//! line's level) read back as their enums, and a row holding a name the
//! enum does not know is reported as corrupt, naming the value, never
//! taken for a default.

use orbflow_engine::Error;
use orbflow_engine::admin::Admin;
use orbflow_engine::store::Store;
use orbflow_model::{LogLevel, TriggerType, WorkflowStatus};
use sea_orm::ConnectionTrait;

use crate::fixtures::{inserted_run, log_line, new_workflow, workspace};

conformance!(stored_names, |s| {
    let ws = workspace(&s, "ws").await;
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let mut tx = s.begin().await.unwrap();
    let mut line = log_line(run.id, 1, orbflow_store::now());
    line.level = LogLevel::Warn;
    tx.log(line).await.unwrap();
    tx.commit().await.unwrap();
    let (got, _) = s.run_view(run.id).await.unwrap().unwrap();
    assert_eq!(got.trigger_type, TriggerType::Manual);
    assert_eq!(s.logs(run.id).await.unwrap()[0].level, LogLevel::Warn);
    let draft = s.create_workflow(&new_workflow(ws.id, "draft")).await.unwrap();
    assert_eq!(draft.status, WorkflowStatus::Draft);
    let published = s.workflow(ws.id, "wf").await.unwrap().unwrap();
    assert_eq!(
        (published.id, published.status),
        (v.workflow_id, WorkflowStatus::Active)
    );

    // rows written by something else, with names no enum has
    let db = s.connection();
    for sql in [
        "UPDATE workflow_runs SET trigger_type = 'cron'",
        "UPDATE workflows SET status = 'LIVE' WHERE slug = 'draft'",
        "UPDATE workflow_run_logs SET level = 'fatal'",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    let corrupt = |e: Error| match e {
        Error::Corrupt(m) => m,
        other => panic!("expected a corrupt row, got {other:?}"),
    };
    assert_eq!(
        corrupt(s.run_view(run.id).await.unwrap_err()),
        "unknown trigger type `cron`"
    );
    assert_eq!(
        corrupt(s.workflow(ws.id, "draft").await.unwrap_err()),
        "unknown workflow status `LIVE`"
    );
    assert_eq!(corrupt(s.logs(run.id).await.unwrap_err()), "unknown log level `fatal`");
    // the other rows still read
    assert!(s.workflow(ws.id, "wf").await.unwrap().is_some());
});
