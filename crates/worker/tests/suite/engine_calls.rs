//! The engine's calls as a worker makes them, made by the test (no worker
//! runs): snoozes, an action that stops on its own, timers and
//! cancellations that arrive late or twice, the reconciler firing a timer
//! whose wake-up was lost, the connection an attempt uses, and a store that
//! cannot give the workspace's secrets. Each runs on SQLite and Postgres.

use crate::common;

use std::sync::Arc;

use chrono::Utc;
use common::{TestDb, register, start_manual};
use orbflow_actions::{ActionError, Outcome};
use orbflow_engine::admin::{Admin, ConnectionRecord};
use orbflow_engine::store::Store;
use orbflow_engine::{Claimed, Engine, EngineConfig, Error, Job};
use orbflow_model::{RunStatus, StepStatus};
use orbflow_store::SeaStore;
use orbflow_store::sealing::SecretKeys;
use sea_orm::ConnectionTrait;
use serde_json::json;
use uuid::Uuid;

const ONE_STEP: &str = "schemaVersion: 1\nname: s\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n";

/// An engine over `db` whose store seals workspace secrets, with
/// `config`.
async fn keyed_engine(db: &TestDb, config: EngineConfig) -> (Arc<Engine>, Arc<SeaStore>) {
    let keys = SecretKeys::new(&SecretKeys::generate(), &[]).unwrap();
    let store = SeaStore::with_secret_keys(orbflow_store::connect(&db.url).await.unwrap(), Some(keys));
    (Arc::new(Engine::new(store.clone(), config)), store)
}

/// Starts a run of `yaml` and claims its first job.
async fn claim_first(engine: &Engine, store: &SeaStore, yaml: &str) -> Claimed {
    let version = register(store, "default", "s", yaml).await;
    let (_, effects) = start_manual(engine, version, json!({})).await;
    let (claimed, _) = engine.claim(&effects.jobs[0], "w").await.unwrap();
    claimed.expect("a fresh job is claimed")
}

async fn step(store: &SeaStore, run: Uuid, path: &str) -> orbflow_engine::store::StepRecord {
    let (_, steps) = store.run_view(run).await.unwrap().unwrap();
    steps.into_iter().find(|s| s.path == path).expect("the step")
}

/// A snooze puts the step back to WAITING until the given time without
/// counting the attempt, and says why in the run log; its timer firing
/// early, late, twice or for something else changes nothing; the attempt
/// after it is attempt 1 again.
async fn a_snooze_waits_without_spending_an_attempt(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let claimed = claim_first(&engine, &store, ONE_STEP).await;
    let run = claimed.job.run_id;
    let until = Utc::now() + chrono::Duration::milliseconds(300);
    let snooze = Outcome::Snooze {
        until,
        reason: "the platform publishes at 09:00".into(),
    };
    let e = engine.record(&claimed, Ok(snooze)).await.unwrap();
    assert!(e.jobs.is_empty() && e.finished.is_empty(), "{e:?}");
    assert_eq!(e.wakes.len(), 1, "{e:?}");
    let s = step(&store, run, "a").await;
    assert_eq!((s.status, s.attempt, s.error.clone()), (StepStatus::Waiting, 0, None));
    assert_eq!(
        s.next_attempt_at.map(|t| t.timestamp_millis()),
        Some(until.timestamp_millis())
    );
    let logs = store.logs(run).await.unwrap();
    assert!(
        logs.iter().any(
            |l| l.message.starts_with("snoozed until ") && l.message.ends_with(": the platform publishes at 09:00")
        ),
        "{logs:?}"
    );
    // too early: nothing happens
    assert_eq!(engine.fire_timer(&claimed.job).await.unwrap(), Default::default());
    assert_eq!(step(&store, run, "a").await.status, StepStatus::Waiting);
    // timers for what is not there
    for job in [
        Job {
            run_id: Uuid::now_v7(),
            path: "a".into(),
        },
        Job {
            run_id: run,
            path: "nope".into(),
        },
    ] {
        assert_eq!(engine.fire_timer(&job).await.unwrap(), Default::default(), "{job:?}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let e = engine.fire_timer(&claimed.job).await.unwrap();
    assert_eq!(e.jobs, vec![claimed.job.clone()]);
    // fired twice (the runner's timer and the reconciler's): once
    assert_eq!(engine.fire_timer(&claimed.job).await.unwrap(), Default::default());
    let (again, _) = engine.claim(&claimed.job, "w").await.unwrap();
    let again = again.expect("claimed after the snooze");
    assert_eq!(again.attempt, 1, "the snoozed attempt was not counted");
    let e = engine.record(&again, Ok(Outcome::Completed(json!(2)))).await.unwrap();
    assert_eq!(e.finished.len(), 1);
    assert_eq!(e.finished[0].status, RunStatus::Completed);
}

/// A snooze into the past waits for now, not for then.
async fn a_snooze_into_the_past_runs_again_at_once(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let claimed = claim_first(&engine, &store, ONE_STEP).await;
    let before = Utc::now();
    let snooze = Outcome::Snooze {
        until: before - chrono::Duration::hours(1),
        reason: "late".into(),
    };
    engine.record(&claimed, Ok(snooze)).await.unwrap();
    let s = step(&store, claimed.job.run_id, "a").await;
    assert_eq!(s.status, StepStatus::Waiting);
    assert!(
        s.next_attempt_at
            .is_some_and(|t| t >= before - chrono::Duration::milliseconds(1)),
        "{s:?}"
    );
    assert_eq!(
        engine.fire_timer(&claimed.job).await.unwrap().jobs,
        vec![claimed.job.clone()]
    );
}

/// An action that stops on its own (its cancellation token fired while
/// the run goes on) fails its step, and the run, saying so.
async fn an_action_that_reports_cancelled_fails_its_step(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let claimed = claim_first(&engine, &store, ONE_STEP).await;
    let e = engine.record(&claimed, Err(ActionError::Cancelled)).await.unwrap();
    assert_eq!(e.finished.len(), 1, "{e:?}");
    assert_eq!(e.finished[0].status, RunStatus::Failed);
    let s = step(&store, claimed.job.run_id, "a").await;
    assert_eq!(s.status, StepStatus::Failed);
    let error = s.error.expect("the step's error");
    assert_eq!(error["message"], "the action was cancelled", "{error}");
    assert_eq!(error["attempts"], 1, "{error}");
}

/// An action that fails with no message still gives its step a reason.
async fn a_failure_without_a_message_gets_one(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let claimed = claim_first(&engine, &store, ONE_STEP).await;
    let e = engine.record(&claimed, Err(ActionError::fatal(""))).await.unwrap();
    assert_eq!(e.finished.len(), 1, "{e:?}");
    let s = step(&store, claimed.job.run_id, "a").await;
    let error = s.error.expect("the step's error");
    assert_eq!(error["message"], "the action failed and gave no reason", "{error}");
    let logs = store.logs(claimed.job.run_id).await.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.message == "step failed: the action failed and gave no reason"),
        "{logs:?}"
    );
}

/// A step row whose key its version lacks (a corrupt row) is an error
/// naming it when claimed, not a panic, and changes nothing.
async fn a_corrupt_step_row_is_an_error_naming_it(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let version = register(&store, "default", "s", ONE_STEP).await;
    let (run, effects) = start_manual(&engine, version, json!({})).await;
    store
        .connection()
        .execute_unprepared("UPDATE step_executions SET step_key = 'gone'")
        .await
        .unwrap();
    match engine.claim(&effects.jobs[0], "w").await {
        Err(Error::Corrupt(m)) => assert_eq!(m, "step `gone` is not in its version"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let s = step(&store, run, "a").await;
    assert_eq!((s.status, s.attempt), (StepStatus::Queued, 0), "{s:?}");
}

/// Cancelling a run that is not there is NotFound; cancelling an ended run
/// changes nothing; a timer of an ended run fires nothing; retrying a run
/// that is not there is NotFound.
async fn late_and_unknown_calls_change_nothing(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let snoozy = "schemaVersion: 1\nname: s\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n  - {key: b, action: TRANSFORM, config: {value: 2}}\n";
    let claimed = claim_first(&engine, &store, snoozy).await;
    let run = claimed.job.run_id;
    let snooze = Outcome::Snooze {
        until: Utc::now(),
        reason: "r".into(),
    };
    engine.record(&claimed, Ok(snooze)).await.unwrap();
    assert!(matches!(
        engine.cancel(Uuid::now_v7()).await,
        Err(Error::NotFound("run"))
    ));
    assert!(matches!(
        engine.retry_run(Uuid::now_v7()).await,
        Err(Error::NotFound("run"))
    ));
    let e = engine.cancel(run).await.unwrap();
    assert_eq!(e.finished.len(), 1, "{e:?}");
    assert_eq!(e.finished[0].status, RunStatus::Cancelled);
    let logs = store.logs(run).await.unwrap().len();
    assert_eq!(engine.cancel(run).await.unwrap(), Default::default(), "cancelled once");
    assert_eq!(engine.fire_timer(&claimed.job).await.unwrap(), Default::default());
    let (view, steps) = store.run_view(run).await.unwrap().unwrap();
    assert_eq!(view.status, RunStatus::Cancelled);
    assert!(steps.iter().all(|s| s.status == StepStatus::Cancelled), "{steps:?}");
    assert_eq!(store.logs(run).await.unwrap().len(), logs, "nothing written");
}

/// A WAITING step whose wake-up was lost (the process that armed it died)
/// is found by the reconciler once due, and queued once.
async fn the_reconciler_fires_a_lost_timer(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let claimed = claim_first(&engine, &store, ONE_STEP).await;
    let snooze = Outcome::Snooze {
        until: Utc::now() + chrono::Duration::milliseconds(200),
        reason: "r".into(),
    };
    engine.record(&claimed, Ok(snooze)).await.unwrap();
    let grace = chrono::Duration::minutes(5);
    assert!(
        engine.reconcile(grace, 100).await.unwrap().jobs.is_empty(),
        "not due yet"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let e = engine.reconcile(grace, 100).await.unwrap();
    assert_eq!(e.jobs, vec![claimed.job.clone()]);
    assert_eq!(step(&store, claimed.job.run_id, "a").await.status, StepStatus::Queued);
    assert!(
        engine.reconcile(grace, 100).await.unwrap().jobs.is_empty(),
        "queued once"
    );
}

fn smtp(name: &str, settings: serde_json::Value) -> ConnectionRecord {
    ConnectionRecord {
        name: name.into(),
        kind: "smtp".into(),
        settings,
        is_default: false,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

/// The connection an attempt names: missing, naming a secret that is not
/// set, or whose settings cannot be rendered, each a fatal error naming
/// the connection and saying how to fix it; resolved, its credentials are
/// rendered and handed back to be hidden.
async fn connections_resolve_or_say_what_is_missing(db: TestDb) {
    let config = EngineConfig {
        secrets: [("SMTP_PASS".to_owned(), "hunter2-operator".to_owned())].into(),
        ..EngineConfig::default()
    };
    let (engine, store) = keyed_engine(&db, config).await;
    let claimed = claim_first(&engine, &store, ONE_STEP).await;
    let ws = claimed.workspace_id;
    let e = engine.connection_for(&claimed, "smtp", Some("mail")).await.unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "connection `mail` of kind `smtp` does not exist in the workspace: set it with `orbflow connections set mail --kind smtp` (PUT /v1/connections/mail)"
    );
    store
        .put_connection(
            ws,
            &smtp(
                "mail",
                json!({"host": "mail.test", "password": "{{ secrets.SMTP_PASS }}"}),
            ),
        )
        .await
        .unwrap();
    store
        .put_connection(
            ws,
            &smtp(
                "unset",
                json!({"host": "mail.test", "password": "{{ secrets.NOT_SET }}"}),
            ),
        )
        .await
        .unwrap();
    store
        .put_connection(ws, &smtp("broken", json!({"host": "{{ secrets.SMTP_PASS + 1 }}"})))
        .await
        .unwrap();
    let ok = engine
        .connection_for(&claimed, "smtp", Some("mail"))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(ok.settings["password"], "hunter2-operator");
    assert_eq!(ok.secrets, vec!["hunter2-operator".to_owned()]);
    let e = engine
        .connection_for(&claimed, "smtp", Some("unset"))
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "connection `unset`: secret `NOT_SET` is not set: set it for the workspace (`orbflow secrets set NOT_SET`, PUT /v1/secrets/NOT_SET)"
    );
    let e = engine
        .connection_for(&claimed, "smtp", Some("broken"))
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("connection `broken`: its settings failed to render: "),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "no secret in the error: {text}");
    // no name and no default: the action decides
    assert!(engine.connection_for(&claimed, "slack", None).await.unwrap().is_none());
}

/// A store that cannot give the workspace's secrets (here: its table is
/// gone) makes the render retryable, not a failure of the step; a config
/// that names no secret does not read them.
async fn unreadable_secrets_make_the_render_retryable(db: TestDb) {
    let (engine, store) = keyed_engine(&db, EngineConfig::default()).await;
    let yaml = "schemaVersion: 1\nname: s\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: \"{{ secrets.TOKEN }}\"}}\n  - {key: b, action: TRANSFORM, config: {value: \"{{ steps.a.output }}\"}}\n";
    let claimed = claim_first(&engine, &store, yaml).await;
    store
        .connection()
        .execute_unprepared("DROP TABLE workspace_secrets")
        .await
        .unwrap();
    let e = engine.render(&claimed).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(
        e.to_string().starts_with("reading the workspace's secrets failed: "),
        "{e}"
    );
    let e = engine.connection_for(&claimed, "smtp", None).await;
    assert!(
        e.as_ref().is_ok_and(Option::is_none),
        "no connection of the kind: {e:?}"
    );
    // the step after it renders without them
    let e = engine
        .record(&claimed, Ok(Outcome::Completed(json!("v"))))
        .await
        .unwrap();
    let (next, _) = engine.claim(&e.jobs[0], "w").await.unwrap();
    let next = next.expect("b");
    assert_eq!(engine.render(&next).await.unwrap(), json!({"value": "v"}));
}

/// What a claimed attempt prints for debugging names the job and the
/// attempt, never the values its templates read; the engine and a trace
/// context print as what they are.
async fn debug_output_hides_what_templates_read(db: TestDb) {
    let (engine, store) = common::engine_only(&db, EngineConfig::default()).await;
    let yaml = "schemaVersion: 1\nname: s\ninputs: {type: object}\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: \"{{ input.card }}\"}}\n";
    let version = register(&store, "default", "s", yaml).await;
    let (_, effects) = start_manual(&engine, version, json!({"card": "4111-1111-1111-1111"})).await;
    let (claimed, _) = engine.claim(&effects.jobs[0], "w").await.unwrap();
    let claimed = claimed.unwrap();
    let text = format!("{claimed:?}");
    assert!(
        text.contains("TRANSFORM") && text.contains("ConfigTemplate { .. }"),
        "{text}"
    );
    assert!(!text.contains("4111"), "{text}");
    assert_eq!(format!("{engine:?}"), "Engine { .. }");
    let trace = claimed.trace.expect("a run has a trace").span;
    assert_eq!(format!("{trace:?}"), trace.traceparent());
    let next = orbflow_engine::NextClaims::none();
    let text = format!("{next:?}");
    assert!(
        text.starts_with("NextClaims { worker: \"\", max: 0, run: false"),
        "{text}"
    );
}

orbflow_testkit::on_both!(a_snooze_waits_without_spending_an_attempt);
orbflow_testkit::on_both!(a_snooze_into_the_past_runs_again_at_once);
orbflow_testkit::on_both!(an_action_that_reports_cancelled_fails_its_step);
orbflow_testkit::on_both!(a_failure_without_a_message_gets_one);
orbflow_testkit::on_both!(late_and_unknown_calls_change_nothing);
orbflow_testkit::on_both!(a_corrupt_step_row_is_an_error_naming_it);
orbflow_testkit::on_both!(the_reconciler_fires_a_lost_timer);
orbflow_testkit::on_both!(connections_resolve_or_say_what_is_missing);
orbflow_testkit::on_both!(unreadable_secrets_make_the_render_retryable);
orbflow_testkit::on_both!(debug_output_hides_what_templates_read);
