//! `orbflow worker`: a fleet worker. Claims step jobs from Redis under
//! leases, executes, records in the database, advances runs, and runs the
//! reconciler. SIGTERM/SIGINT stop claiming and let in-flight attempts
//! finish and record.

use std::sync::Arc;

use orbflow_engine::{Engine, EngineConfig};
use orbflow_worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

use crate::cmd::fleet::{FleetArgs, shutdown_listener};

/// Arguments of `worker`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Serve /healthz and /readyz on this address (e.g. 0.0.0.0:9090).
    #[arg(long, env = "ORBFLOW_HEALTH_LISTEN")]
    health_listen: Option<String>,
    /// Attempts executed at once.
    #[arg(long, env = "ORBFLOW_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Lease of a claimed step, in seconds (a dead worker's step is
    /// re-delivered after it).
    #[arg(long, env = "ORBFLOW_LEASE_SECS", default_value_t = 30)]
    lease_secs: u32,
    /// How long a step may sit QUEUED before the reconciler enqueues it
    /// again (a job lost by Redis), in seconds.
    #[arg(long, env = "ORBFLOW_QUEUED_GRACE_SECS", default_value_t = 10)]
    queued_grace_secs: u32,
    /// How long one transaction may keep running further rounds of the pure
    /// steps (TRANSFORM, LOG_EVENT, …) its outcomes make ready before it
    /// commits, in milliseconds (the first round always runs); 0 records
    /// every pure step in a transaction of its own.
    #[arg(long, env = "ORBFLOW_INLINE_WINDOW_MS", default_value_t = 10)]
    inline_window_ms: u64,
    /// Most pure steps one attempt slot claims and runs inline after an
    /// outcome (at least 1).
    #[arg(long, env = "ORBFLOW_INLINE_BATCH", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    inline_batch: u32,
}

pub(crate) fn run(args: &WorkerArgs) -> anyhow::Result<i32> {
    let Some(urls) = args.fleet.urls("worker") else {
        return Ok(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        // health after the worker exists, so that it can serve its metrics
        let fleet = args.fleet.connect(urls, None).await?;
        let ready = crate::health::check(fleet.store.connection().clone(), fleet.queue.clone());
        let engine = Arc::new(Engine::new(
            fleet.store,
            EngineConfig {
                lease: chrono::Duration::seconds(i64::from(args.lease_secs.max(1))),
                secrets: EngineConfig::secrets_from_env(),
                connections: EngineConfig::connections_from_env().map_err(anyhow::Error::msg)?,
                ..EngineConfig::default()
            },
        ));
        let registry = Arc::new(orbflow_actions::Registry::builtin(
            &orbflow_actions::CatalogConfig::from_env(),
        )?);
        let config = WorkerConfig {
            concurrency: args.concurrency.max(1),
            queued_grace: std::time::Duration::from_secs(u64::from(args.queued_grace_secs)),
            inline_window: std::time::Duration::from_millis(args.inline_window_ms),
            inline_batch: usize::try_from(args.inline_batch).unwrap_or(usize::MAX),
            ..WorkerConfig::default()
        };
        let name = config.name.clone();
        let worker = Worker::new(engine.clone(), registry, fleet.queue, config);
        if let Some(addr) = args.health_listen.as_deref() {
            let metrics = worker.metrics();
            let render = move || metrics.render() + &orbflow_telemetry::metrics::render(Some(engine.stats()));
            crate::health::serve(addr, ready, Some(Arc::new(render))).await?;
        }
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(worker.run(shutdown.clone()));
        let stop = shutdown_listener()?;
        eprintln!(
            "orbflow worker {name}: {} attempts at once, queue {}queue",
            args.concurrency, args.fleet.redis_prefix
        );
        stop.await;
        eprintln!("orbflow worker {name}: draining");
        shutdown.cancel();
        let _ = task.await;
        eprintln!("orbflow worker {name}: stopped");
        Ok(0)
    })
}
