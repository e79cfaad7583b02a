//! Pure steps run inside the transaction that records the outcome which
//! made them ready (`NextClaims::run`): a chain or a fan-out of TRANSFORM
//! steps commits once, each step keeps its own row, joins still start
//! exactly once, an effectful step stops the run-ahead, and the rows a
//! transaction holds are written once (counted on the connection).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use common::{TestDb, register, start_manual};
use orbflow_actions::{ActionContext, ActionError, CatalogConfig, Outcome, Registry, TracingLogger, net::HttpPolicy};
use orbflow_engine::store::Store;
use orbflow_engine::{Claimed, Done, Engine, EngineConfig, Job, NextClaims, RunInline};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Runs pure steps as the worker does (render, then the real action), and
/// counts them; fails the step named `fail` if any.
struct Runner {
    engine: Arc<Engine>,
    registry: Registry,
    ran: AtomicUsize,
    fail: Option<&'static str>,
}

#[async_trait::async_trait]
impl RunInline for Runner {
    async fn run(&self, c: Claimed) -> Done {
        let result = self.result(&c).await;
        Done {
            claimed: c,
            result,
            logs: Vec::new(),
        }
    }
}

impl Runner {
    async fn result(&self, c: &Claimed) -> Result<Outcome, ActionError> {
        self.ran.fetch_add(1, Ordering::SeqCst);
        if self.fail == Some(c.job.path.as_str()) {
            return Err(ActionError::fatal("inline step failed"));
        }
        let config = self.engine.render(c).await?;
        let ctx = ActionContext {
            config,
            idempotency_key: c.idempotency_key.clone(),
            attempt: 1,
            cancel: CancellationToken::new(),
            logger: Arc::new(TracingLogger),
            now: chrono::Utc::now(),
            calls: None,
            connection: None,
            inbox: None,
            records: None,
            email_templates: None,
        };
        self.registry.execute(&c.action, ctx).await
    }
}

/// Statements the connection sent while `on`.
#[derive(Default)]
struct Statements {
    on: std::sync::atomic::AtomicBool,
    n: AtomicU64,
}

struct Setup {
    engine: Arc<Engine>,
    store: Arc<orbflow_store::SeaStore>,
    statements: Arc<Statements>,
    _db: TestDb,
}

async fn setup(db: TestDb) -> Setup {
    let statements = Arc::new(Statements::default());
    let mut conn = orbflow_store::connect(&db.url).await.unwrap();
    let s = statements.clone();
    conn.set_metric_callback(move |_| {
        if s.on.load(Ordering::SeqCst) {
            s.n.fetch_add(1, Ordering::SeqCst);
        }
    });
    let store = orbflow_store::SeaStore::new(conn);
    let engine = Arc::new(Engine::new(store.clone(), EngineConfig::default()));
    Setup {
        engine,
        store,
        statements,
        _db: db,
    }
}

fn runner(engine: &Arc<Engine>, fail: Option<&'static str>) -> Runner {
    Runner {
        engine: engine.clone(),
        registry: Registry::builtin(&CatalogConfig {
            http: HttpPolicy { allow_private: true },
        })
        .unwrap(),
        ran: AtomicUsize::new(0),
        fail,
    }
}

fn pure(a: &str, config: Option<&serde_json::Value>) -> bool {
    static CATALOG: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    CATALOG
        .get_or_init(|| Registry::specs_only().unwrap())
        .is_pure_step(a, config)
}

/// Claims for worker `w`, at most `max` per transaction, run ahead by `r`
/// for up to a minute.
fn ahead(r: &Runner, max: usize) -> NextClaims<'_> {
    NextClaims {
        worker: "w",
        max,
        inline: &pure,
        run: Some(r),
        window: Duration::from_secs(60),
    }
}

/// The attempt `c` completed with `v`.
fn completed(c: &Claimed, v: serde_json::Value) -> [Done; 1] {
    [Done {
        claimed: c.clone(),
        result: Ok(Outcome::Completed(v)),
        logs: Vec::new(),
    }]
}

/// Starts `yaml` and claims its first step; returns the claim.
async fn start(s: &Setup, yaml: &str) -> Claimed {
    let version = register(&s.store, "default", "ahead", yaml).await;
    let (id, effects) = start_manual(&s.engine, version, json!({})).await;
    let first = Job {
        run_id: id,
        path: effects.jobs[0].path.clone(),
    };
    let (claimed, _) = s.engine.claim(&first, "w").await.unwrap();
    claimed.expect("first step claimed")
}

/// Records that `first` completed with 0, running ahead with `r`, with the
/// statements counted.
async fn record_counted(s: &Setup, first: &Claimed, r: &Runner) -> (orbflow_engine::Effects, Vec<Claimed>) {
    s.statements.on.store(true, Ordering::SeqCst);
    let done = completed(first, json!(0));
    let out = s.engine.record_batch(&done, &ahead(r, 1024)).await.unwrap();
    s.statements.on.store(false, Ordering::SeqCst);
    out
}

/// s0 … s19 in sequence, each adding one to the last; then a webhook and a
/// TRANSFORM after it.
fn chain() -> String {
    let mut y =
        String::from("schemaVersion: 1\nname: chain\nsteps:\n  - {key: s0, action: TRANSFORM, config: {value: 0}}\n");
    for i in 1..20 {
        y.push_str(&format!(
            "  - {{key: s{i}, action: TRANSFORM, config: {{value: '{{{{ steps.s{}.output + 1 }}}}'}}}}\n",
            i - 1
        ));
    }
    y.push_str("  - {key: hook, action: TRIGGER_WEBHOOK, config: {url: 'http://127.0.0.1:9/'}}\n");
    y.push_str("  - {key: after, action: TRANSFORM, config: {value: end}}\n");
    y
}

async fn a_chain_of_pure_steps_runs_in_one_transaction(db: TestDb) {
    let s = setup(db).await;
    let first = start(&s, &chain()).await;
    let run_id = first.job.run_id;
    let r = runner(&s.engine, None);
    let (effects, claims) = record_counted(&s, &first, &r).await;
    assert_eq!(r.ran.load(Ordering::SeqCst), 19, "s1 … s19 ran inline");
    // the webhook is effectful: claimed for the caller, not run here
    assert_eq!(claims.iter().map(|c| c.job.path.as_str()).collect::<Vec<_>>(), ["hook"]);
    assert!(
        effects.jobs.is_empty(),
        "nothing left for the queue: {:?}",
        effects.jobs
    );
    // every step has its own row, with what it computed from the last one
    let (run, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "RUNNING");
    assert_eq!(run.finished_steps, 20, "the finished count added up once per step");
    for i in 0..20 {
        let row = steps.iter().find(|x| x.path == format!("s{i}")).unwrap();
        assert_eq!(row.status.as_str(), "COMPLETED", "s{i}");
        assert_eq!(row.output, Some(json!(i)), "s{i}");
        assert_eq!(row.attempt, 1, "s{i}");
        assert!(row.queued_at.is_some() && row.started_at <= row.ended_at, "s{i}");
    }
    let hook = steps.iter().find(|x| x.path == "hook").unwrap();
    assert_eq!((hook.status.as_str(), hook.attempt), ("RUNNING", 1));
    assert!(hook.lease_expires_at.is_some(), "the hook's lease is committed");
    let logs = s.store.logs(run_id).await.unwrap();
    let lines = logs.iter().filter(|l| l.message == "step completed").count();
    assert_eq!(lines, 20, "one line per step");
    // 20 steps recorded (19 claimed, 20 readied) in one transaction: the
    // rows ahead locked in one statement, all rows written in one at commit,
    // and a few per transaction (8 when this test was written; 27 with a
    // lock per readied step, about eight a step one transaction each)
    let n = s.statements.n.load(Ordering::SeqCst);
    assert!(n <= 12, "{n} statements for 20 steps");

    // the webhook's outcome: `after` runs inline and the run completes
    let done = completed(&claims[0], json!({}));
    let (effects, claims) = s.engine.record_batch(&done, &ahead(&r, 1024)).await.unwrap();
    assert!(claims.is_empty());
    assert_eq!(effects.finished.len(), 1);
    let (run, _) = s.store.run_view(run_id).await.unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.finished_steps), ("COMPLETED", 22));
    // the run's output lists the steps in the workflow's order (the last
    // transaction held only some of the rows it read)
    let keys: Vec<String> = run.output.unwrap().as_object().unwrap().keys().cloned().collect();
    let mut want: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    want.extend(["hook".into(), "after".into()]);
    assert_eq!(keys, want);
}

on_both!(a_chain_of_pure_steps_runs_in_one_transaction);

/// root → 50 TRANSFORMs → a join that sums them.
fn fan() -> String {
    let mut y =
        String::from("schemaVersion: 1\nname: fan\nsteps:\n  - {key: root, action: TRANSFORM, config: {value: 0}}\n");
    let n: usize = std::env::var("FAN").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    for i in 0..n {
        y.push_str(&format!(
            "  - {{key: f{i}, dependsOn: [root], action: TRANSFORM, config: {{value: {i}}}}}\n"
        ));
    }
    let deps: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    let sum: Vec<String> = (0..n.min(50)).map(|i| format!("steps.f{i}.output")).collect();
    y.push_str(&format!(
        "  - {{key: join, dependsOn: [{}], action: TRANSFORM, config: {{value: '{{{{ {} }}}}'}}}}\n",
        deps.join(", "),
        sum.join(" + ")
    ));
    y
}

async fn a_fan_in_run_inline_starts_its_join_once(db: TestDb) {
    let s = setup(db).await;
    let first = start(&s, &fan()).await;
    let run_id = first.job.run_id;
    let r = runner(&s.engine, None);
    let (effects, claims) = record_counted(&s, &first, &r).await;
    assert!(claims.is_empty() && effects.jobs.is_empty());
    assert_eq!(r.ran.load(Ordering::SeqCst), 51, "50 siblings and the join, each once");
    assert_eq!(effects.finished.len(), 1, "the run completed in that transaction");
    let (run, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.finished_steps), ("COMPLETED", 52));
    let join = steps.iter().find(|x| x.path == "join").unwrap();
    assert_eq!(join.output, Some(json!((0..50).sum::<i32>())));
    assert_eq!((join.attempt, join.pending_deps, join.satisfied_deps), (1, 0, 50));
    // the join's counters were read once and written once, not 50 times:
    let n = s.statements.n.load(Ordering::SeqCst);
    // one lock for the siblings, one write for all rows at commit, and a
    // few per transaction (11 when this test was written)
    assert!(n <= 15, "{n} statements for 52 steps");
}

on_both!(a_fan_in_run_inline_starts_its_join_once);

/// The window bounds further rounds, not the first: a recording that
/// outlasts it still runs what it readied (a fan-out's siblings) in the same
/// transaction, instead of committing them RUNNING to be written again.
async fn the_first_round_runs_ahead_however_short_the_window(db: TestDb) {
    let s = setup(db).await;
    let first = start(&s, &fan()).await;
    let run_id = first.job.run_id;
    let r = runner(&s.engine, None);
    let tiny = NextClaims {
        window: Duration::from_nanos(1),
        ..ahead(&r, 1024)
    };
    let (effects, claims) = s
        .engine
        .record_batch(&completed(&first, json!(0)), &tiny)
        .await
        .unwrap();
    assert_eq!(
        r.ran.load(Ordering::SeqCst),
        50,
        "the 50 siblings ran in the first round"
    );
    assert!(effects.jobs.is_empty());
    // the window was over by then: the join is claimed for the caller
    assert_eq!(claims.iter().map(|c| c.job.path.as_str()).collect::<Vec<_>>(), ["join"]);
    let (_, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    let siblings: Vec<_> = steps.iter().filter(|x| x.path.starts_with('f')).collect();
    assert_eq!(siblings.len(), 50);
    for x in siblings {
        assert_eq!((x.status.as_str(), x.attempt), ("COMPLETED", 1), "{}", x.path);
    }
}

on_both!(the_first_round_runs_ahead_however_short_the_window);

async fn outcomes_brought_back_are_recorded_with_one_read_and_one_write(db: TestDb) {
    let s = setup(db).await;
    let first = start(&s, &fan()).await;
    let run_id = first.job.run_id;
    // no run-ahead: the 50 siblings are claimed for the caller, who runs them
    let plain = NextClaims {
        worker: "w",
        max: 1024,
        inline: &pure,
        run: None,
        window: Duration::ZERO,
    };
    let done = completed(&first, json!(0));
    let (_, claims) = s.engine.record_batch(&done, &plain).await.unwrap();
    assert_eq!(claims.len(), 50);
    let batch: Vec<Done> = claims
        .iter()
        .map(|c| Done {
            claimed: c.clone(),
            result: Ok(Outcome::Completed(json!(1))),
            logs: Vec::new(),
        })
        .collect();
    s.statements.on.store(true, Ordering::SeqCst);
    let (_, next) = s.engine.record_batch(&batch, &plain).await.unwrap();
    s.statements.on.store(false, Ordering::SeqCst);
    assert_eq!(next.iter().map(|c| c.job.path.as_str()).collect::<Vec<_>>(), ["join"]);
    let (run, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    assert_eq!(run.finished_steps, 51);
    assert!(
        steps
            .iter()
            .filter(|x| x.path.starts_with('f'))
            .all(|x| x.status.as_str() == "COMPLETED")
    );
    // the 50 rows are read in one statement and written in one, with the
    // join's claim (7 when this test was written; 106 with a read and a
    // write per outcome)
    let n = s.statements.n.load(Ordering::SeqCst);
    assert!(n <= 12, "{n} statements for 50 outcomes");
}

on_both!(outcomes_brought_back_are_recorded_with_one_read_and_one_write);

async fn limits_and_a_failing_inline_step(db: TestDb) {
    let s = setup(db).await;
    // `max` bounds what one transaction runs: the rest is claimed for the caller
    let first = start(&s, &chain()).await;
    let run_id = first.job.run_id;
    let r = runner(&s.engine, None);
    let next = ahead(&r, 5);
    let done = completed(&first, json!(0));
    let (effects, claims) = s.engine.record_batch(&done, &next).await.unwrap();
    assert_eq!(r.ran.load(Ordering::SeqCst), 5, "s1 … s5 run inline");
    assert!(claims.is_empty(), "no sixth claim");
    let s6 = Job {
        run_id,
        path: "s6".into(),
    };
    assert_eq!(effects.jobs, vec![s6.clone()], "the sixth goes to the queue");
    let (_, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    let status = |p: &str| steps.iter().find(|x| x.path == p).unwrap().status.as_str().to_owned();
    assert_eq!(
        (status("s5"), status("s6"), status("s7")),
        ("COMPLETED".into(), "QUEUED".into(), "PENDING".into())
    );
    let (c6, _) = s.engine.claim(&s6, "w").await.unwrap();
    let claims = [c6.expect("s6 claimed")];

    // a zero window runs nothing inline
    let r0 = runner(&s.engine, None);
    let zero = NextClaims {
        window: Duration::ZERO,
        run: Some(&r0),
        ..next
    };
    let done = completed(&claims[0], json!(6));
    let (_, claims) = s.engine.record_batch(&done, &zero).await.unwrap();
    assert_eq!(r0.ran.load(Ordering::SeqCst), 0);
    assert_eq!(claims.iter().map(|c| c.job.path.as_str()).collect::<Vec<_>>(), ["s7"]);

    // a step that fails inline fails the run in the same transaction
    let rf = runner(&s.engine, Some("s9"));
    let failing = NextClaims {
        max: 1024,
        run: Some(&rf),
        ..next
    };
    let done = completed(&claims[0], json!(7));
    let (effects, claims) = s.engine.record_batch(&done, &failing).await.unwrap();
    assert!(claims.is_empty());
    assert_eq!(effects.finished.len(), 1);
    let (run, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "FAILED");
    let status = |p: &str| steps.iter().find(|x| x.path == p).unwrap().status.as_str().to_owned();
    assert_eq!(status("s8"), "COMPLETED");
    assert_eq!(status("s9"), "FAILED");
    assert_eq!(status("s10"), "CANCELLED");
    assert_eq!(rf.ran.load(Ordering::SeqCst), 2, "s8 and s9; nothing after the failure");
}

on_both!(limits_and_a_failing_inline_step);

async fn an_engine_error_while_running_ahead_still_records_the_outcome(db: TestDb) {
    use orbflow_store::entity::step_executions as se;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let s = setup(db).await;
    let first = start(&s, &chain()).await;
    let run_id = first.job.run_id;
    // s3's row is corrupt (its key is not in the version): readying it fails
    se::Entity::update_many()
        .col_expr(se::Column::StepKey, Expr::value("ghost"))
        .filter(se::Column::RunId.eq(run_id))
        .filter(se::Column::Path.eq("s3"))
        .exec(s.store.connection())
        .await
        .unwrap();
    let r = runner(&s.engine, None);
    let next = ahead(&r, 1024);
    let done = completed(&first, json!(0));
    let (_, claims) = s.engine.record_batch(&done, &next).await.expect("s0 recorded");
    assert_eq!(
        r.ran.load(Ordering::SeqCst),
        2,
        "s1 and s2 ran, then s3 could not be readied"
    );
    // the run-ahead was rolled back; s0's outcome is recorded without it
    assert_eq!(claims.iter().map(|c| c.job.path.as_str()).collect::<Vec<_>>(), ["s1"]);
    let (_, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    let status = |p: &str| steps.iter().find(|x| x.path == p).unwrap().status.as_str().to_owned();
    assert_eq!(
        (status("s0"), status("s1"), status("s2")),
        ("COMPLETED".into(), "RUNNING".into(), "PENDING".into())
    );
}

on_both!(an_engine_error_while_running_ahead_still_records_the_outcome);

async fn effectful_steps_are_not_read_ahead(db: TestDb) {
    let s = setup(db).await;
    let mut y = String::from("schemaVersion: 1\nname: hooks\nsteps:\n");
    for i in 0..6 {
        y.push_str(&format!(
            "  - {{key: h{i}, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:9/'}}}}\n"
        ));
    }
    let first = start(&s, &y).await;
    let r = runner(&s.engine, None);
    s.statements.on.store(true, Ordering::SeqCst);
    let done = completed(&first, json!({}));
    let (_, claims) = s.engine.record_batch(&done, &ahead(&r, 1024)).await.unwrap();
    s.statements.on.store(false, Ordering::SeqCst);
    assert_eq!(claims.iter().map(|c| c.job.path.as_str()).collect::<Vec<_>>(), ["h1"]);
    assert_eq!(
        r.ran.load(Ordering::SeqCst),
        0,
        "a webhook never runs inside the transaction"
    );
    // h1 runs outside the transaction: nothing after it is locked ahead
    // (6 statements when this test was written; 7 with a read-ahead)
    let n = s.statements.n.load(Ordering::SeqCst);
    assert!(n <= 6, "{n} statements");
}

on_both!(effectful_steps_are_not_read_ahead);

/// Panics when asked to run `after` (a worker dying mid-transaction).
struct Dies;

#[async_trait::async_trait]
impl RunInline for Dies {
    async fn run(&self, c: Claimed) -> Done {
        panic!("the worker died running {}", c.job.path);
    }
}

async fn a_side_effect_is_committed_before_pure_steps_run_ahead(db: TestDb) {
    let s = setup(db).await;
    let first = start(&s, &chain()).await;
    let run_id = first.job.run_id;
    let r = runner(&s.engine, None);
    let (_, claims) = record_counted(&s, &first, &r).await;
    assert_eq!(claims[0].job.path, "hook");
    // the webhook's outcome is recorded; the worker dies running `after`
    let engine = s.engine.clone();
    let hook = claims[0].clone();
    let died = tokio::spawn(async move {
        let next = NextClaims {
            worker: "w",
            max: 1024,
            inline: &pure,
            run: Some(&Dies),
            window: Duration::from_secs(60),
        };
        engine
            .record_batch(&completed(&hook, json!({"sent": true})), &next)
            .await
    })
    .await;
    assert!(died.is_err(), "the task panicked");
    let (run, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    let row = |p: &str| steps.iter().find(|x| x.path == p).unwrap();
    // the side effect's record survived: the webhook will not be called again
    assert_eq!(row("hook").status.as_str(), "COMPLETED");
    assert_eq!(row("hook").output, Some(json!({"sent": true})));
    // the pure step was claimed (committed) and is left to its lease
    assert_eq!((row("after").status.as_str(), row("after").attempt), ("RUNNING", 1));
    assert_eq!(run.status.as_str(), "RUNNING");
}

on_both!(a_side_effect_is_committed_before_pure_steps_run_ahead);

/// Corrupts the row of the step it runs (its key no longer in the
/// version), so that recording it fails.
struct Corrupts {
    store: Arc<orbflow_store::SeaStore>,
}

#[async_trait::async_trait]
impl RunInline for Corrupts {
    async fn run(&self, c: Claimed) -> Done {
        use orbflow_store::entity::step_executions as se;
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        se::Entity::update_many()
            .col_expr(se::Column::StepKey, Expr::value("ghost"))
            .filter(se::Column::RunId.eq(c.job.run_id))
            .filter(se::Column::Path.eq(c.job.path.clone()))
            .exec(self.store.connection())
            .await
            .unwrap();
        Done {
            claimed: c,
            result: Ok(Outcome::Completed(json!("done"))),
            logs: Vec::new(),
        }
    }
}

async fn a_failure_recording_inline_steps_keeps_the_side_effect(db: TestDb) {
    let s = setup(db).await;
    let first = start(&s, &chain()).await;
    let run_id = first.job.run_id;
    let r = runner(&s.engine, None);
    let (_, claims) = record_counted(&s, &first, &r).await;
    let corrupts = Corrupts { store: s.store.clone() };
    let next = NextClaims {
        run: Some(&corrupts),
        ..ahead(&r, 1024)
    };
    let (effects, more) = s
        .engine
        .record_batch(&completed(&claims[0], json!({"sent": true})), &next)
        .await
        .expect("the webhook's outcome is recorded");
    assert!(more.is_empty() && effects.finished.is_empty());
    let (_, steps) = s.store.run_view(run_id).await.unwrap().unwrap();
    let row = |p: &str| steps.iter().find(|x| x.path == p).unwrap();
    assert_eq!(row("hook").status.as_str(), "COMPLETED");
    assert_eq!(row("after").status.as_str(), "RUNNING", "left to its lease");
}

on_both!(a_failure_recording_inline_steps_keeps_the_side_effect);
