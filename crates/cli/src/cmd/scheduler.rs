//! `orbflow scheduler`: fires cron schedules of active versions exactly once
//! per tick across replicas, and runs the reconciler. It never executes
//! actions. SIGTERM/SIGINT release the leader lease and stop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use orbflow_engine::{Engine, EngineConfig};
use orbflow_scheduler::{Scheduler, SchedulerConfig};
use tokio_util::sync::CancellationToken;

use crate::cmd::fleet::{FleetArgs, redact};

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

pub(crate) fn run(args: &SchedulerArgs) -> anyhow::Result<i32> {
    let (Some(db_url), Some(redis_url)) = (&args.fleet.database_url, &args.fleet.redis_url) else {
        eprintln!("orbflow: scheduler needs --database-url and --redis-url (ORBFLOW_DATABASE_URL, ORBFLOW_REDIS_URL)");
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
        let lease = Duration::from_secs(u64::from(args.leader_lease_secs.max(1)));
        let leases = orbflow_queue::Leases::connect(redis_url, args.fleet.redis_prefix.clone(), lease / 5)
            .await
            .with_context(|| format!("connecting to {}", redact(redis_url)))?;
        let engine = Arc::new(Engine::new(store, EngineConfig::default()));
        let config = SchedulerConfig {
            lease,
            ..SchedulerConfig::default()
        };
        let name = config.name.clone();
        let scheduler = Scheduler::new(engine, queue, leases, config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(scheduler.run(shutdown.clone()));
        eprintln!("orbflow scheduler {name}: started");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        shutdown.cancel();
        let _ = task.await;
        eprintln!("orbflow scheduler {name}: stopped");
        Ok(0)
    })
}
