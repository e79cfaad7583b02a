//! Recording outcomes in batches (`Engine::record_batch`): one transaction
//! records many outcomes and claims the pure steps they made ready; a failing
//! action, a stale write-back or a poison row in a batch does not hold back
//! its batch-mates.

use crate::common;

use common::{TestDb, engine_only, register, start_manual};
use orbflow_actions::{ActionError, Outcome, Registry};
use orbflow_engine::store::Store;
use orbflow_engine::{Claimed, Done, EngineConfig, Job, NextClaims};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

/// root → ten TRANSFORMs (f3 may fail) and one webhook → join.
fn fan() -> String {
    let mut y =
        String::from("schemaVersion: 1\nname: fan\nsteps:\n  - {key: root, action: TRANSFORM, config: {value: 0}}\n");
    for i in 0..10 {
        let on_error = if i == 3 { ", onError: continue" } else { "" };
        y.push_str(&format!(
            "  - {{key: f{i}, dependsOn: [root], action: TRANSFORM{on_error}, config: {{value: {i}}}}}\n"
        ));
    }
    y.push_str("  - {key: hook, dependsOn: [root], action: TRIGGER_WEBHOOK, config: {url: 'http://127.0.0.1:9/'}}\n");
    let deps: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    y.push_str(&format!(
        "  - {{key: join, dependsOn: [{}, hook], action: TRANSFORM, config: {{value: done}}}}\n",
        deps.join(", ")
    ));
    y
}

fn done(c: &Claimed, result: Result<Outcome, ActionError>) -> Done {
    Done {
        claimed: c.clone(),
        result,
        logs: Vec::new(),
    }
}

async fn setup(
    db: &TestDb,
) -> (
    std::sync::Arc<orbflow_engine::Engine>,
    std::sync::Arc<orbflow_store::SeaStore>,
    Claimed,
) {
    let (engine, store) = engine_only(db, EngineConfig::default()).await;
    let version = register(&store, "default", "fan", &fan()).await;
    let (id, effects) = start_manual(&engine, version, json!({})).await;
    let root = Job {
        run_id: id,
        path: "root".into(),
    };
    assert_eq!(effects.jobs, vec![root.clone()]);
    let (claimed, _) = engine.claim(&root, "w").await.unwrap();
    (engine, store, claimed.expect("root claimed"))
}

async fn batch_records_all_and_claims_pure_steps(db: TestDb) {
    let (engine, store, root) = setup(&db).await;
    let registry = Registry::specs_only().unwrap();
    let inline = |a: &str, c: Option<&serde_json::Value>| registry.is_pure_step(a, c);
    let next = NextClaims {
        worker: "w",
        max: 32,
        inline: &inline,
        run: None,
        window: std::time::Duration::ZERO,
    };
    let (effects, claims) = engine
        .record_batch(&[done(&root, Ok(Outcome::Completed(json!(0))))], &next)
        .await
        .unwrap();
    // the ten TRANSFORMs are claimed in the same transaction; the webhook goes to the queue
    let claimed: Vec<&str> = claims.iter().map(|c| c.job.path.as_str()).collect();
    assert_eq!(claimed, (0..10).map(|i| format!("f{i}")).collect::<Vec<_>>());
    assert!(claims.iter().all(|c| c.action == "TRANSFORM" && c.attempt == 1));
    assert_eq!(
        effects.jobs.iter().map(|j| j.path.as_str()).collect::<Vec<_>>(),
        ["hook"]
    );
    // no more than asked for
    let run_id = root.job.run_id;

    // one batch: f3 fails (onError: continue), one stale write-back, the rest complete
    let mut stale = claims[0].clone();
    stale.lease_token += 100;
    let mut batch: Vec<Done> = claims
        .iter()
        .map(|c| {
            if c.job.path == "f3" {
                done(c, Err(ActionError::fatal("boom")))
            } else {
                done(c, Ok(Outcome::Completed(json!(c.job.path.clone()))))
            }
        })
        .collect();
    batch.insert(0, done(&stale, Ok(Outcome::Completed(json!("stale")))));
    let none = NextClaims::none();
    let (effects, more) = engine.record_batch(&batch, &none).await.unwrap();
    assert!(more.is_empty(), "NextClaims::none claims nothing");
    assert!(effects.jobs.is_empty(), "the join still waits for the webhook");
    let (run, steps) = store.run_view(run_id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "RUNNING");
    for s in &steps {
        let want = match s.path.as_str() {
            "f3" => "FAILED",
            "hook" => "QUEUED",
            "join" => "PENDING",
            _ => "COMPLETED",
        };
        assert_eq!(s.status.as_str(), want, "{}", s.path);
    }
    let f0 = steps.iter().find(|s| s.path == "f0").unwrap();
    assert_eq!(f0.output, Some(json!("f0")), "the stale write-back changed nothing");
    let join = steps.iter().find(|s| s.path == "join").unwrap();
    assert_eq!(join.pending_deps, 1, "ten of eleven dependencies counted, each once");
    let logs = store.logs(run_id).await.unwrap();
    assert!(logs.iter().any(|l| l.message.contains("stale write-back rejected")));

    // the webhook's outcome readies the join exactly once, and the join is claimed inline
    let hook = Job {
        run_id,
        path: "hook".into(),
    };
    let (h, _) = engine.claim(&hook, "w").await.unwrap();
    let h = h.unwrap();
    let (effects, claims) = engine
        .record_batch(&[done(&h, Ok(Outcome::Completed(json!({}))))], &next)
        .await
        .unwrap();
    assert!(effects.jobs.is_empty());
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].job.path, "join");
    let (effects, _) = engine
        .record_batch(&[done(&claims[0], Ok(Outcome::Completed(json!("end"))))], &none)
        .await
        .unwrap();
    assert_eq!(effects.finished.len(), 1);
    let (run, _) = store.run_view(run_id).await.unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.finished_steps), ("COMPLETED", 13));
}

on_both!(batch_records_all_and_claims_pure_steps);

async fn a_poison_row_does_not_block_its_batch_mates(db: TestDb) {
    use orbflow_store::entity::step_executions as se;
    let (engine, store, root) = setup(&db).await;
    let registry = Registry::specs_only().unwrap();
    let inline = |a: &str, c: Option<&serde_json::Value>| registry.is_pure_step(a, c);
    let next = NextClaims {
        worker: "w",
        max: 3,
        inline: &inline,
        run: None,
        window: std::time::Duration::ZERO,
    };
    let (_, claims) = engine
        .record_batch(&[done(&root, Ok(Outcome::Completed(json!(0))))], &next)
        .await
        .unwrap();
    assert_eq!(claims.len(), 3, "at most `max` claims");
    let run_id = root.job.run_id;
    // f1's row is corrupt: its key is not in the version
    se::Entity::update_many()
        .col_expr(se::Column::StepKey, Expr::value("ghost"))
        .filter(se::Column::RunId.eq(run_id))
        .filter(se::Column::Path.eq("f1"))
        .exec(store.connection())
        .await
        .unwrap();
    let batch: Vec<Done> = claims
        .iter()
        .map(|c| done(c, Ok(Outcome::Completed(json!(c.job.path.clone())))))
        .collect();
    let (effects, _) = engine
        .record_batch(&batch, &NextClaims::none())
        .await
        .expect("the batch-mates were recorded");
    assert!(effects.jobs.is_empty());
    let (_, steps) = store.run_view(run_id).await.unwrap().unwrap();
    let status = |p: &str| steps.iter().find(|s| s.path == p).unwrap().status.as_str();
    assert_eq!((status("f0"), status("f2")), ("COMPLETED", "COMPLETED"));
    assert_eq!(status("f1"), "RUNNING", "the poison row is left to its lease");
    // a batch of only the poison row reports its error
    let alone = [done(&claims[1], Ok(Outcome::Completed(json!(1))))];
    assert!(engine.record_batch(&alone, &NextClaims::none()).await.is_err());
}

on_both!(a_poison_row_does_not_block_its_batch_mates);
