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
use orbflow_engine::store::{RunRecord, StepRecord, Store, VersionRecord};
use orbflow_engine::{Engine, EngineConfig, StartRun};
use orbflow_model::RunStatus;
use orbflow_worker::Embedded;
use serde_json::{Map, Value, json};

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
    /// In this process (on SQLite): store, engine and worker.
    Embedded(Embedded),
    /// On the fleet's workers: this process only submits and waits.
    Fleet(Fleet),
}

/// The fleet as `orbflow run` reaches it: its database, an engine on it,
/// and the dispatch the API uses too (jobs to Redis, cancellations
/// broadcast to the workers).
struct Fleet {
    store: Arc<orbflow_store::SeaStore>,
    engine: Arc<Engine>,
    dispatch: orbflow_telemetry::Traced,
}

impl Mode {
    /// The fleet when `--database-url` is given, else the embedded default;
    /// `None` (after saying why) when the fleet misses its Redis URL.
    async fn open(args: &RunArgs) -> anyhow::Result<Option<Self>> {
        let engine = EngineConfig {
            secrets: EngineConfig::secrets_from_env(),
            connections: EngineConfig::connections_from_env().map_err(anyhow::Error::msg)?,
            ..EngineConfig::default()
        };
        match (&args.fleet.database_url, &args.fleet.redis_url) {
            (Some(db), Some(redis)) => {
                let fleet = args.fleet.connect((db, redis), None).await?;
                Ok(Some(Mode::Fleet(Fleet {
                    engine: Arc::new(Engine::new(fleet.store.clone(), engine)),
                    store: fleet.store,
                    dispatch: orbflow_telemetry::Traced(Arc::new(QueueDispatch(fleet.queue))),
                })))
            }
            (Some(_), None) => {
                eprintln!("orbflow: --database-url needs --redis-url (ORBFLOW_REDIS_URL) to reach the fleet");
                Ok(None)
            }
            (None, _) => {
                let mut builder = Embedded::builder()
                    .secret_keys(orbflow_store::sealing::SecretKeys::from_env()?)
                    .engine(engine)
                    .catalog(orbflow_actions::CatalogConfig::from_env())
                    .concurrency(args.concurrency);
                if let Some(path) = &args.db {
                    builder = builder.sqlite(path);
                }
                Ok(Some(Mode::Embedded(builder.build().await?)))
            }
        }
    }

    fn store(&self) -> &orbflow_store::SeaStore {
        match self {
            Mode::Embedded(e) => e.store(),
            Mode::Fleet(f) => &f.store,
        }
    }

    fn engine(&self) -> &Engine {
        match self {
            Mode::Embedded(e) => e.engine(),
            Mode::Fleet(f) => &f.engine,
        }
    }

    /// Hands on what a committed engine call asks for: to the in-process
    /// worker, or jobs to Redis and cancellations to every worker.
    async fn apply(&self, effects: orbflow_engine::Effects) {
        match self {
            Mode::Embedded(e) => e.worker().apply(effects).await,
            Mode::Fleet(f) => f.dispatch.apply(effects).await,
        }
    }

    fn is_fleet(&self) -> bool {
        matches!(self, Mode::Fleet(_))
    }

    /// Stops the in-process worker (its attempts record first).
    async fn stop(self) {
        if let Mode::Embedded(e) = self {
            e.shutdown().await;
        }
    }
}

async fn run_async(args: &RunArgs, wf: orbflow_model::Workflow, input: Value) -> anyhow::Result<i32> {
    // Listen before anything starts, so that a signal that arrives while
    // the run is being set up is kept and cancels it once it exists.
    let mut stop = Interrupts::listen()?;
    let document = match orbflow_model::dsl::canonical_json(&wf) {
        Ok(d) => d,
        Err(e @ orbflow_model::Error::TooLarge { .. }) => {
            eprintln!("{}: {e}", args.file);
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(mode) = Mode::open(args).await? else {
        return Ok(2);
    };
    let version = mode
        .store()
        .ensure_version("default", &slug(&wf.name), &wf.name, &document)
        .await?;
    let Some(run_id) = start(&mode, version, input).await? else {
        mode.stop().await;
        return Ok(2);
    };
    let watched = Watched {
        run_id,
        shape: watch::Shape::of(&wf),
    };
    let waited = wait(args, &mode, watched, &mut stop).await;
    mode.stop().await;
    let (run, steps) = waited?;
    print_result(args.output, &run, &steps)?;
    Ok(if run.status == RunStatus::Completed { 0 } else { 1 })
}

/// Starts the run and hands its first steps on; `None` (after saying why)
/// when the engine refuses the input.
async fn start(mode: &Mode, version: VersionRecord, input: Value) -> anyhow::Result<Option<uuid::Uuid>> {
    let started = mode
        .engine()
        .start_run(StartRun {
            version,
            input,
            trigger_type: orbflow_model::TriggerType::Manual,
            trigger_data: None,
            idempotency_key: None,
            trace_parent: None,
        })
        .await;
    match started {
        Ok((run_id, effects)) => {
            mode.apply(effects).await;
            Ok(Some(run_id))
        }
        Err(orbflow_engine::Error::InvalidInput(e)) => {
            eprintln!("orbflow: invalid input: {e}");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// stdout at the end: the run record (`--output json`), or the run's output.
fn print_result(output: RunOutput, run: &RunRecord, steps: &[StepRecord]) -> anyhow::Result<()> {
    match output {
        RunOutput::Json => println!("{}", serde_json::to_string_pretty(&run_record(run, steps))?),
        RunOutput::Text => {
            if let Some(o) = &run.output {
                println!("{}", serde_json::to_string_pretty(o)?);
            }
        }
    }
    Ok(())
}

/// The run being waited for.
struct Watched {
    run_id: uuid::Uuid,
    shape: watch::Shape,
}

/// Waits for the run to end, showing it on stderr, cancelling it on a
/// signal; prints the summary; returns the final run and steps.
async fn wait(
    args: &RunArgs,
    mode: &Mode,
    watched: Watched,
    stop: &mut Interrupts,
) -> anyhow::Result<(RunRecord, Vec<StepRecord>)> {
    let Watched { run_id, shape } = watched;
    let store = mode.store();
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
                let effects = mode.engine().cancel(run_id).await?;
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
    for s in steps
        .iter()
        .filter(|s| !orbflow_model::path::StepPath::new(&s.path).is_iteration())
    {
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
