//! `orbflow worker`: a fleet worker. Claims step jobs from Redis under
//! leases, executes, records in the database, advances runs, and runs the
//! reconciler. SIGTERM/SIGINT stop claiming and let in-flight attempts
//! finish and record.

use std::sync::Arc;

use anyhow::Context as _;
use orbflow_engine::{Engine, EngineConfig};
use orbflow_worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

use crate::cmd::fleet::{FleetArgs, redact};

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
}

pub(crate) fn run(args: &WorkerArgs) -> anyhow::Result<i32> {
    let (Some(db_url), Some(redis_url)) = (&args.fleet.database_url, &args.fleet.redis_url) else {
        eprintln!("orbflow: worker needs --database-url and --redis-url (ORBFLOW_DATABASE_URL, ORBFLOW_REDIS_URL)");
        return Ok(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let conn = orbflow_store::connect(db_url)
            .await
            .with_context(|| format!("opening {}", redact(db_url)))?;
        let store = orbflow_store::SeaStore::new(conn);
        let health_db = store.connection().clone();
        let queue = orbflow_queue::RedisQueue::connect(redis_url, &args.fleet.redis_prefix)
            .await
            .with_context(|| format!("connecting to {}", redact(redis_url)))?;
        let queue = Arc::new(queue);
        if let Some(addr) = &args.health_listen {
            crate::health::serve(addr, crate::health::check(health_db, queue.clone())).await?;
        }
        let engine = Arc::new(Engine::new(
            store,
            EngineConfig {
                lease: chrono::Duration::seconds(i64::from(args.lease_secs.max(1))),
                secrets: EngineConfig::secrets_from_env(),
                ..EngineConfig::default()
            },
        ));
        let registry = Arc::new(orbflow_actions::Registry::builtin(
            &orbflow_actions::CatalogConfig::from_env(),
        )?);
        let config = WorkerConfig {
            concurrency: args.concurrency.max(1),
            queued_grace: std::time::Duration::from_secs(u64::from(args.queued_grace_secs)),
            ..WorkerConfig::default()
        };
        let name = config.name.clone();
        let worker = Worker::new(engine, registry, queue, config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(worker.run(shutdown.clone()));
        eprintln!(
            "orbflow worker {name}: {} attempts at once, queue {}queue",
            args.concurrency, args.fleet.redis_prefix
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("orbflow worker {name}: draining");
        shutdown.cancel();
        let _ = task.await;
        eprintln!("orbflow worker {name}: stopped");
        Ok(0)
    })
}
