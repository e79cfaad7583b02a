//! `orbflow run FILE [--input JSON|@file] [--db PATH] [--output json]`:
//! runs one workflow to the end on the embedded default (SQLite, in-process
//! worker) and waits. Progress on stderr; exit 0 COMPLETED, 1 FAILED or
//! CANCELLED, 2 invalid workflow or input.
//!
//! With `--database-url … --redis-url …` the run is submitted to the fleet
//! instead. Either way SIGINT (Ctrl-C) or SIGTERM while waiting cancels the
//! run through the engine and hands the cancellation on (to the in-process
//! worker, or broadcast to the fleet's workers as the API does), then the
//! final CANCELLED record is printed and the exit code is 1.
//!
//! While it waits, `watch` shows the run on stderr (a status line on a
//! terminal, one line per notable transition, every log line with
//! `--verbose`); at the end `summary` says how it went.

pub(crate) mod summary;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use orbflow_engine::queue::{Dispatch as _, QueueDispatch};
use orbflow_engine::store::{RunRecord, StepRecord, Store};
use orbflow_engine::{Engine, EngineConfig, StartRun};
use orbflow_model::RunStatus;
use orbflow_worker::{LocalQueue, Worker, WorkerConfig};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::output;

/// What stdout carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RunOutput {
    /// A summary for people.
    Text,
    /// The run record as JSON.
    Json,
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Workflow file.
    file: String,
    /// Run input: JSON, or @FILE to read it from a file.
    #[arg(long)]
    input: Option<String>,
    /// SQLite database to keep the run in (default: a temporary one).
    #[arg(long, env = "ORBFLOW_DB")]
    db: Option<PathBuf>,
    /// Output format of stdout.
    #[arg(long, value_enum, default_value_t = RunOutput::Text)]
    output: RunOutput,
    /// Stream the run log to stderr as it happens: every attempt, retry,
    /// action log line and failure.
    #[arg(short, long)]
    verbose: bool,
    /// Attempts executed at once (embedded default).
    #[arg(long, default_value_t = 8, env = "ORBFLOW_CONCURRENCY")]
    concurrency: usize,
    /// Submit to the fleet instead: its database and Redis.
    #[command(flatten)]
    fleet: crate::cmd::fleet::FleetArgs,
}

fn read_input(arg: Option<&str>) -> Result<Value, String> {
    let Some(raw) = arg else { return Ok(json!({})) };
    let text = match raw.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("--input {raw}: cannot read: {e}"))?,
        None => raw.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| format!("--input is not valid JSON: {e}"))
}

fn slug(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() { "workflow".into() } else { s }
}

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let parsed = match output::load(&args.file) {
        Ok(p) => p,
        Err(d) => {
            output::print_human(&args.file, &d);
            return Ok(2);
        }
    };
    let input = match read_input(args.input.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("orbflow: {e}");
            return Ok(2);
        }
    };
    if let Err(e) = Engine::check_input(&parsed.workflow, &input) {
        eprintln!("orbflow: {e}");
        return Ok(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(args, parsed.workflow, input))
}

/// Where the run's steps execute.
enum Mode {
    /// In this process, on SQLite.
    Embedded {
        handle: orbflow_worker::Handle,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<()>,
        _tmp: Option<TempDb>,
    },
    /// On the fleet's workers: this process only submits and waits; jobs go
    /// to Redis and cancellations are broadcast to the workers.
    Fleet { dispatch: orbflow_telemetry::Traced },
}

impl Mode {
    async fn apply(&self, effects: orbflow_engine::Effects) {
        match self {
            Mode::Embedded { handle, .. } => handle.apply(effects).await,
            Mode::Fleet { dispatch } => dispatch.apply(effects).await,
        }
    }

    fn is_fleet(&self) -> bool {
        matches!(self, Mode::Fleet { .. })
    }

    async fn stop(self) {
        if let Mode::Embedded { shutdown, task, .. } = self {
            shutdown.cancel();
            let _ = task.await;
        }
    }
}

async fn run_async(args: &RunArgs, wf: orbflow_model::Workflow, input: Value) -> anyhow::Result<i32> {
    // Listen before anything starts, so that a signal that arrives while
    // the run is being set up is kept and cancels it once it exists.
    let mut stop = Interrupts::listen()?;
    let fleet = args.fleet.database_url.is_some();
    let (url, tmp) = match (&args.fleet.database_url, &args.db) {
        (Some(u), _) => (u.clone(), None),
        (None, Some(p)) => (format!("sqlite://{}?mode=rwc", p.display()), None),
        (None, None) => {
            let t = TempDb::new()?;
            (format!("sqlite://{}?mode=rwc", t.path.display()), Some(t))
        }
    };
    let conn = orbflow_store::connect(&url)
        .await
        .with_context(|| format!("opening the database {}", crate::cmd::fleet::redact(&url)))?;
    let keys = orbflow_store::sealing::SecretKeys::from_env()?;
    let store = orbflow_store::SeaStore::with_secret_keys(conn, keys);
    store.check_secret_keys().await?;
    let document = match orbflow_model::dsl::canonical_json(&wf) {
        Ok(d) => d,
        Err(e @ orbflow_model::Error::TooLarge { .. }) => {
            eprintln!("{}: {e}", args.file);
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    let version = store
        .ensure_version("default", &slug(&wf.name), &wf.name, &document)
        .await?;
    let engine = Arc::new(Engine::new(
        store.clone(),
        EngineConfig {
            secrets: EngineConfig::secrets_from_env(),
            connections: EngineConfig::connections_from_env().map_err(anyhow::Error::msg)?,
            ..EngineConfig::default()
        },
    ));
    let mode = if fleet {
        let Some(redis) = &args.fleet.redis_url else {
            eprintln!("orbflow: --database-url needs --redis-url (ORBFLOW_REDIS_URL) to reach the fleet");
            return Ok(2);
        };
        let queue = orbflow_queue::RedisQueue::connect(redis, &args.fleet.redis_prefix)
            .await
            .with_context(|| format!("connecting to Redis {}", crate::cmd::fleet::redact(redis)))?;
        Mode::Fleet {
            dispatch: orbflow_telemetry::Traced(Arc::new(QueueDispatch(Arc::new(queue)))),
        }
    } else {
        let registry = Arc::new(orbflow_actions::Registry::builtin(
            &orbflow_actions::CatalogConfig::from_env(),
        )?);
        let worker = Worker::new(
            engine.clone(),
            registry,
            Arc::new(LocalQueue::new()),
            WorkerConfig {
                concurrency: args.concurrency.max(1),
                ..WorkerConfig::default()
            },
        );
        let handle = worker.handle();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(worker.run(shutdown.clone()));
        Mode::Embedded {
            handle,
            shutdown,
            task,
            _tmp: tmp,
        }
    };
    let (run_id, effects) = match engine
        .start_run(StartRun {
            version,
            input,
            trigger_type: "manual".into(),
            trigger_data: None,
            idempotency_key: None,
            trace_parent: None,
        })
        .await
    {
        Ok(x) => x,
        Err(orbflow_engine::Error::InvalidInput(e)) => {
            eprintln!("orbflow: invalid input: {e}");
            mode.stop().await;
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    mode.apply(effects).await;
    let shape = watch::Shape::of(&wf);
    let waited = wait(args, &store, &engine, &mode, run_id, shape, &mut stop).await;
    mode.stop().await;
    let (run, steps) = waited?;
    let record = run_record(&run, &steps);
    match args.output {
        RunOutput::Json => println!("{}", serde_json::to_string_pretty(&record)?),
        RunOutput::Text => {
            if let Some(o) = &run.output {
                println!("{}", serde_json::to_string_pretty(o)?);
            }
        }
    }
    Ok(if run.status == RunStatus::Completed { 0 } else { 1 })
}

/// Waits for the run to end, showing it on stderr, cancelling it on a
/// signal; prints the summary; returns the final run and steps.
async fn wait(
    args: &RunArgs,
    store: &orbflow_store::SeaStore,
    engine: &Engine,
    mode: &Mode,
    run_id: uuid::Uuid,
    shape: watch::Shape,
    stop: &mut Interrupts,
) -> anyhow::Result<(RunRecord, Vec<StepRecord>)> {
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let Some((first, _)) = store.run_view(run_id).await? else {
        anyhow::bail!("run {run_id} disappeared");
    };
    // the trace id takes an operator from this run to its spans
    let trace = first.trace.map(|t| format!(", trace {}", t.span.trace_id_hex()));
    eprintln!(
        "run {run_id} started ({}{}{})",
        args.file,
        if mode.is_fleet() { ", on the fleet" } else { "" },
        trace.unwrap_or_default()
    );
    let mut watcher = watch::Watcher::new(shape, args.verbose, tty, first.created_at);
    let mut cancelled = false;
    let (run, steps, logs) = loop {
        let Some((run, steps)) = store.run_view(run_id).await? else {
            anyhow::bail!("run {run_id} disappeared");
        };
        let logs = store.logs(run_id).await?;
        let lines = watcher.poll(&steps, &logs);
        watcher.show(&lines, &steps, started.elapsed());
        if run.status.is_terminal() {
            break (run, steps, logs);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            signal = stop.next(), if !cancelled => {
                watcher.clear();
                eprintln!("{signal}: cancelling run {run_id}");
                // The run is CANCELLED when this commits; the effects stop
                // its running attempts wherever they run.
                let effects = engine.cancel(run_id).await?;
                mode.apply(effects).await;
                cancelled = true;
            }
        }
    };
    watcher.clear();
    eprintln!(
        "run {run_id} {} in {:.2}s",
        run.status.as_str(),
        started.elapsed().as_secs_f64()
    );
    for line in summary::lines(&steps, &logs, watcher.shape()) {
        eprintln!("{line}");
    }
    if let Some(v) = summary::verdict(&run) {
        eprintln!("{v}");
    }
    Ok((run, steps))
}

/// SIGINT and SIGTERM, listened to for the whole command.
struct Interrupts {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    /// Waits for the next signal; returns what it was, for the message.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            Some(()) = self.int.recv() => "interrupted",
            Some(()) = self.term.recv() => "terminated",
            else => std::future::pending().await,
        }
    }
}

/// The run record of DESIGN.md §6.
pub(crate) fn run_record(run: &RunRecord, steps: &[StepRecord]) -> Value {
    let mut map = Map::new();
    for s in steps.iter().filter(|s| !s.path.ends_with(']')) {
        map.insert(s.path.clone(), orbflow_engine::engine::step_view(s));
    }
    json!({
        "id": run.id.to_string(),
        "status": run.status.as_str(),
        "output": run.output.clone().unwrap_or(Value::Null),
        "error": run.error.clone().unwrap_or(Value::Null),
        "steps": Value::Object(map),
    })
}

/// A temporary database file, removed on drop.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("orbflow-run-{}-{}.db", std::process::id(), uuid_suffix()));
        Ok(Self { path })
    }
}

fn uuid_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", self.path.display()));
        }
    }
}
