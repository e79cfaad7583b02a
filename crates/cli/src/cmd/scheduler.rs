//! `orbflow scheduler`: fires cron schedules of active versions exactly once
//! per tick across replicas, and runs the reconciler. It never executes
//! actions. SIGTERM/SIGINT release the leader lease and stop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use orbflow_engine::{Engine, EngineConfig};
use orbflow_scheduler::{Scheduler, SchedulerConfig};
use tokio_util::sync::CancellationToken;

use crate::cmd::fleet::{FleetArgs, redact, shutdown_listener};

/// Arguments of `scheduler`.
#[derive(Debug, clap::Args)]
pub(crate) struct SchedulerArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Serve /healthz and /readyz on this address (e.g. 0.0.0.0:9090).
    #[arg(long, env = "ORBFLOW_HEALTH_LISTEN")]
    health_listen: Option<String>,
    /// Leader lease, in seconds: a dead leader is replaced within it.
    #[arg(long, env = "ORBFLOW_LEADER_LEASE_SECS", default_value_t = 5)]
    leader_lease_secs: u32,
}

/// How often the backlog gauges are read from the database.
pub(crate) const BACKLOG_EVERY: Duration = Duration::from_secs(10);

pub(crate) fn run(args: &SchedulerArgs) -> anyhow::Result<i32> {
    let Some(urls) = args.fleet.urls("scheduler") else {
        return Ok(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        // health after the engine exists, so that it can serve its metrics
        let fleet = args.fleet.connect(urls, None).await?;
        let ready = crate::health::check(fleet.store.connection().clone(), fleet.queue.clone());
        let store: Arc<dyn orbflow_engine::store::Store> = fleet.store.clone();
        let lease = Duration::from_secs(u64::from(args.leader_lease_secs.max(1)));
        let leases = orbflow_queue::Leases::connect(urls.1, args.fleet.redis_prefix.clone(), lease / 5)
            .await
            .with_context(|| format!("connecting to {}", redact(urls.1)))?;
        let engine = Arc::new(Engine::new(fleet.store, EngineConfig::default()));
        let shutdown = CancellationToken::new();
        if let Some(addr) = args.health_listen.as_deref() {
            let e = engine.clone();
            let render = move || orbflow_telemetry::metrics::render(Some(e.stats()));
            crate::health::serve(addr, ready, Some(Arc::new(render))).await?;
            tokio::spawn(orbflow_telemetry::metrics::refresh(
                store,
                BACKLOG_EVERY,
                shutdown.clone(),
            ));
        }
        let config = SchedulerConfig {
            lease,
            ..SchedulerConfig::default()
        };
        let name = config.name.clone();
        let scheduler = Scheduler::new(engine, fleet.queue, leases, config);
        let task = tokio::spawn(scheduler.run(shutdown.clone()));
        let stop = shutdown_listener()?;
        eprintln!("orbflow scheduler {name}: started");
        stop.await;
        shutdown.cancel();
        let _ = task.await;
        eprintln!("orbflow scheduler {name}: stopped");
        Ok(0)
    })
}
