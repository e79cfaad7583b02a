//! The scheduler service: `Config` → `run(shutdown)`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use orbflow_engine::queue::{Dispatch as _, Queue, QueueDispatch};
use orbflow_engine::store::ScheduleRecord;
use orbflow_engine::{Engine, StartRun};
use orbflow_model::cron::Schedule;
use orbflow_queue::{Lease, Leases};
use orbflow_telemetry::Traced;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ticks;

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Unique name of this replica.
    pub name: String,
    /// Leader lease time to live.
    pub lease: Duration,
    /// How often the loop looks for due ticks (and renews the lease).
    pub tick: Duration,
    /// A tick older than this was missed (see [`crate::ticks`]).
    pub grace: chrono::Duration,
    /// How long a step may sit QUEUED before the reconciler enqueues it again.
    pub queued_grace: chrono::Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            name: format!(
                "scheduler-{}-{}",
                std::process::id(),
                &uuid::Uuid::now_v7().simple().to_string()[24..]
            ),
            lease: Duration::from_secs(5),
            tick: Duration::from_millis(250),
            grace: chrono::Duration::seconds(60),
            queued_grace: chrono::Duration::seconds(10),
        }
    }
}

/// The scheduler.
pub struct Scheduler {
    engine: Arc<Engine>,
    /// Ready steps to the queue; the spans of runs it ends (timeouts) reported.
    dispatch: Traced,
    /// The leader lease in Redis; `None` when this process owns the
    /// database alone (`orbflow dev`) and is always the leader.
    leases: Option<Leases>,
    config: SchedulerConfig,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

const LEADER: &str = "scheduler-leader";

impl Scheduler {
    /// A scheduler of the fleet: it fires ticks while it holds the leader
    /// lease in Redis.
    pub fn new(engine: Arc<Engine>, queue: Arc<dyn Queue>, leases: Leases, config: SchedulerConfig) -> Self {
        Self {
            engine,
            dispatch: Traced(Arc::new(QueueDispatch(queue))),
            leases: Some(leases),
            config,
        }
    }

    /// The scheduler of a process that owns its database alone (the
    /// embedded default): always the leader, no Redis. The run's unique
    /// idempotency key still makes each tick start one run.
    pub fn exclusive(engine: Arc<Engine>, queue: Arc<dyn Queue>, config: SchedulerConfig) -> Self {
        Self {
            engine,
            dispatch: Traced(Arc::new(QueueDispatch(queue))),
            leases: None,
            config,
        }
    }

    /// Runs until `shutdown`; releases the leader lease on the way out.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut lease: Option<Lease> = None;
        loop {
            let leading = match &self.leases {
                None => true,
                Some(leases) => {
                    lease = self.lead(leases, lease).await;
                    lease.as_ref().is_some_and(Lease::is_trusted)
                }
            };
            if leading {
                if let Err(e) = self.fire_due().await {
                    tracing::warn!(error = %e, "firing schedules failed");
                }
                match self.engine.reconcile(self.config.queued_grace, 500).await {
                    Ok(effects) => self.dispatch.apply(effects).await,
                    Err(e) => tracing::warn!(error = %e, "reconcile failed"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.config.tick) => {}
            }
        }
        if let (Some(l), Some(leases)) = (lease, &self.leases) {
            let _ = leases.release(l).await;
        }
    }

    /// Keeps or takes the leader lease.
    async fn lead(&self, leases: &Leases, lease: Option<Lease>) -> Option<Lease> {
        match lease {
            Some(mut l) => match leases.renew(&mut l).await {
                Ok(true) => Some(l),
                Ok(false) => {
                    tracing::warn!(name = %self.config.name, "leader lease lost");
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lease renew failed");
                    // keep it while it is still trusted; Redis may come back
                    l.is_trusted().then_some(l)
                }
            },
            None => match leases.acquire(LEADER, &self.config.name, self.config.lease).await {
                Ok(Some(l)) => {
                    tracing::info!(name = %self.config.name, token = l.token, "became the scheduler leader");
                    Some(l)
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "lease acquire failed");
                    None
                }
            },
        }
    }

    async fn fire_due(&self) -> orbflow_engine::Result<()> {
        let now = Utc::now();
        for s in self.engine.store().due_schedules(now, 100).await? {
            self.fire(&s, now).await?;
        }
        Ok(())
    }

    async fn fire(&self, s: &ScheduleRecord, now: chrono::DateTime<Utc>) -> orbflow_engine::Result<()> {
        let Some(first) = s.next_fire_at else { return Ok(()) };
        let Ok(schedule) = Schedule::parse(&s.cron, Some(&s.timezone)) else {
            return Ok(());
        };
        let (fire, next) = ticks::due(&schedule, first, now, s.catch_up, self.config.grace);
        let Some(version) = self.engine.store().version_record(s.version_id).await? else {
            return Ok(());
        };
        for tick in &fire {
            let start = StartRun {
                version: version.clone(),
                input: s.input.clone().unwrap_or_else(|| json!({})),
                trigger_type: orbflow_model::TriggerType::Schedule,
                trigger_data: Some(
                    json!({ "scheduleId": s.id.to_string(), "cron": s.cron, "firedAt": tick.to_rfc3339() }),
                ),
                idempotency_key: Some(format!("schedule:{}:{}", s.id, tick.to_rfc3339())),
                trace_parent: None,
            };
            // a tick another replica fired already starts nothing
            let (_, existed, effects) = self.engine.start_run_once(start).await?;
            if !existed {
                let lag = (Utc::now() - *tick).to_std().unwrap_or_default();
                orbflow_telemetry::metrics::schedule_fired(lag);
            }
            self.dispatch.apply(effects).await;
        }
        let last = fire.last().copied().unwrap_or(first);
        self.engine.store().advance_schedule(s.id, next, last.max(first)).await
    }
}
