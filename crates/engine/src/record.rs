//! Recording outcomes: [`Engine::record`] and [`Engine::record_batch`] (one
//! transaction for many outcomes, the steps they readied claimed in it), and
//! the run-ahead, where pure steps run inside that transaction
//! ([`NextClaims::run`], [`RunInline`]) and commit with it.

use std::collections::HashMap;

use orbflow_actions::{ActionError, LogLine, Outcome};
use orbflow_model::{LogLevel, StepStatus};
use uuid::Uuid;

use crate::Result;
use crate::advance::Advance;
use crate::engine::{Claimed, Effects, Engine};
use crate::plan::Plan;
use crate::race::retry_races;
use crate::store::{Expect, RunLock, RunRecord, StepRecord, Tx};

/// What `Engine::claim_ready` claims from: a run, its plan, and the rows
/// the transaction made QUEUED, as written.
struct Ready<'a> {
    run: &'a RunRecord,
    plan: &'a Plan,
    rows: &'a mut HashMap<String, StepRecord>,
}

/// Most rows a transaction running pure steps ahead locks in advance at once.
const READ_AHEAD: usize = 32;

/// What the rounds of one record transaction gather.
#[derive(Default)]
struct Gathered {
    effects: Effects,
    claims: Vec<Claimed>,
    /// Rows locked ahead, or tried ([`Engine::read_ahead`]).
    read_ahead: std::collections::HashSet<(Uuid, String)>,
}

/// A finished attempt to record ([`Engine::record_batch`]).
#[derive(Debug, Clone)]
pub struct Done {
    /// The attempt.
    pub claimed: Claimed,
    /// What the action returned.
    pub result: std::result::Result<Outcome, ActionError>,
    /// The lines the action logged (LOG_EVENT's, and any other's), written
    /// to the run log with the outcome, in the same transaction.
    pub logs: Vec<LogLine>,
}

/// Which steps [`Engine::record_batch`] may claim for its caller.
pub struct NextClaims<'a> {
    /// The claiming worker.
    pub worker: &'a str,
    /// At most this many per transaction (claimed for the caller, and run
    /// inline by `run`, together).
    pub max: usize,
    /// Beyond the first, only steps whose action this accepts (the pure
    /// actions the caller runs inline).
    pub inline: &'a (dyn Fn(&str, Option<&serde_json::Value>) -> bool + Sync),
    /// Runs pure steps inside the recording transaction: while every step
    /// the outcomes readied and the transaction claimed is one `inline`
    /// accepts, they are run by this and recorded in the same transaction
    /// (one commit for the lot; a crash before it runs them again, which is
    /// harmless for pure steps): the first round always, further rounds
    /// while less than `window` has passed since the first began. `None`:
    /// the claimed steps go back to the caller.
    pub run: Option<&'a dyn RunInline>,
    /// How long one transaction may keep running further rounds of pure
    /// steps inline.
    pub window: std::time::Duration,
}

impl NextClaims<'_> {
    /// Claim nothing.
    pub fn none() -> NextClaims<'static> {
        NextClaims {
            worker: "",
            max: 0,
            inline: &|_, _| false,
            run: None,
            window: std::time::Duration::ZERO,
        }
    }
}

impl std::fmt::Debug for NextClaims<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextClaims")
            .field("worker", &self.worker)
            .field("max", &self.max)
            .field("run", &self.run.is_some())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Runs a claimed attempt of a pure step (TRANSFORM, LOG_EVENT, …) inside
/// the transaction that claimed it ([`NextClaims::run`]): render its
/// config, execute the action, within the step's `timeout`.
#[async_trait::async_trait]
pub trait RunInline: Sync {
    /// The attempt, run: its result and the lines its action logged.
    async fn run(&self, claimed: Claimed) -> Done;
}

impl Engine {
    /// Records the outcome of a claimed attempt (compare-and-set on the step,
    /// attempt and lease token; a stale write changes nothing).
    pub async fn record(
        &self,
        claimed: &Claimed,
        result: std::result::Result<Outcome, ActionError>,
    ) -> Result<Effects> {
        let done = [Done {
            claimed: claimed.clone(),
            result,
            logs: Vec::new(),
        }];
        let (effects, _) = self.record_batch(&done, &NextClaims::none()).await?;
        Ok(effects)
    }

    /// Records the outcomes of several attempts in one transaction (one
    /// commit, whatever their runs) and, in the same transaction, claims up
    /// to `next.max` steps of their runs that the outcomes made ready — the
    /// first of any action, the others only if `next.inline` accepts their
    /// action (pure actions the caller runs at once, with no queue hop). A
    /// stale outcome (lease lost, step moved on) is refused and logged, and
    /// does not hold back the others. If the batch fails for another reason
    /// than a lost race, every outcome is recorded on its own, so one poison
    /// row cannot block the rest.
    ///
    /// Outcomes of effectful steps (an HTTP call, a message sent) are
    /// committed before any pure step runs ahead: the run-ahead's
    /// transaction then starts afresh, so a crash while it runs can only
    /// lose pure work, never the record of a side effect (whose loss would
    /// run it again).
    pub async fn record_batch(&self, done: &[Done], next: &NextClaims<'_>) -> Result<(Effects, Vec<Claimed>)> {
        let Some(runner) = next.run else {
            return self.record_batch_plain(done, next).await;
        };
        if done
            .iter()
            .all(|d| (next.inline)(&d.claimed.action, d.claimed.raw_config()))
        {
            return self.record_batch_plain(done, next).await;
        }
        let plain = NextClaims {
            run: None,
            window: std::time::Duration::ZERO,
            ..*next
        };
        let (mut effects, claims) = self.record_batch_plain(done, &plain).await?;
        if claims.is_empty()
            || !claims.iter().all(|c| (next.inline)(&c.action, c.raw_config()))
            || next.window.is_zero()
        {
            return Ok((effects, claims));
        }
        // the claims are committed: run them, then record them running ahead
        let mut round = Vec::with_capacity(claims.len());
        for c in claims {
            round.push(runner.run(c).await);
        }
        let rest = NextClaims {
            max: next.max.saturating_sub(round.len()),
            ..*next
        };
        match self.record_batch_plain(&round, &rest).await {
            Ok((more, claims)) => {
                effects.merge(more);
                Ok((effects, claims))
            }
            Err(e) => {
                // what the first transaction readied still goes out; the
                // pure steps' leases expire and they run again
                tracing::warn!(error = %e, n = round.len(), "recording steps run inline failed; their leases will expire");
                Ok((effects, Vec::new()))
            }
        }
    }

    /// [`Engine::record_batch`] in one transaction (running ahead if asked).
    async fn record_batch_plain(&self, done: &[Done], next: &NextClaims<'_>) -> Result<(Effects, Vec<Claimed>)> {
        let first = retry_races(|| self.record_batch_once(done, next)).await;
        let first = match first {
            // a step run inline failed to record: record the outcomes given, without running ahead
            Err(e) if next.run.is_some() && !e.is_race() => {
                tracing::warn!(error = %e, "recording with steps run inline failed; recording without");
                let plain = NextClaims {
                    run: None,
                    window: std::time::Duration::ZERO,
                    ..*next
                };
                retry_races(|| self.record_batch_once(done, &plain)).await
            }
            other => other,
        };
        match first {
            Err(e) if done.len() > 1 && !e.is_race() => {
                tracing::warn!(error = %e, n = done.len(), "recording a batch failed; recording its outcomes one by one");
                let mut effects = Effects::default();
                let (mut recorded, mut first) = (0, None);
                for d in done {
                    let none = NextClaims::none();
                    let one = retry_races(|| self.record_batch_once(std::slice::from_ref(d), &none));
                    match one.await {
                        Ok((e, _)) => {
                            recorded += 1;
                            effects.merge(e);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, run = %d.claimed.job.run_id, path = %d.claimed.job.path, trace_id = %crate::trace::TraceIdOf(d.claimed.trace), "record failed; the lease will expire and the step re-run");
                            first.get_or_insert(e);
                        }
                    }
                }
                match first {
                    Some(e) if recorded == 0 => Err(e),
                    _ => Ok((effects, Vec::new())),
                }
            }
            other => other,
        }
    }

    async fn record_batch_once(&self, done: &[Done], next: &NextClaims<'_>) -> Result<(Effects, Vec<Claimed>)> {
        let mut tx = self.begin().await?;
        let mut g = Gathered::default();
        tx = self.record_in(tx, done, next, &mut g).await?;
        // run ahead: pure steps the outcomes readied run here, in this
        // transaction. The window counts from here, so the first round always
        // runs: a fan-out whose recording alone outlasts the window still
        // runs its siblings with it, instead of committing them RUNNING and
        // writing each row twice. A zero window runs nothing ahead.
        let began = std::time::Instant::now();
        let mut ran = 0;
        while let Some(runner) = next.run
            && !g.claims.is_empty()
            && ran + g.claims.len() <= next.max
            && !next.window.is_zero()
            && (ran == 0 || began.elapsed() < next.window)
            && g.claims.iter().all(|c| (next.inline)(&c.action, c.raw_config()))
        {
            let mut round = Vec::with_capacity(g.claims.len());
            for c in std::mem::take(&mut g.claims) {
                round.push(runner.run(c).await);
            }
            ran += round.len();
            let rest = NextClaims {
                max: next.max - ran,
                ..*next
            };
            tx = self.record_in(tx, &round, &rest, &mut g).await?;
        }
        tx.commit().await?;
        Ok((g.effects, g.claims))
    }

    /// Locks ahead, without waiting for other holders, the rows the steps
    /// claimed in `g` for `run` will make ready if they complete: up to
    /// [`READ_AHEAD`] of their same-level dependents and theirs, once per
    /// transaction, so that a chain run ahead reads its next rows in one
    /// statement instead of one each.
    async fn read_ahead(&self, tx: &mut dyn Tx, run: &RunRecord, plan: &Plan, g: &mut Gathered) -> Result<()> {
        let mut frontier: Vec<(String, crate::plan::Ix)> = Vec::new();
        for c in g.claims.iter().filter(|c| c.job.run_id == run.id) {
            let prefix = orbflow_model::path::StepPath::new(&c.job.path).prefix();
            if let Some(&ix) = plan.by_key.get(&c.job.path[prefix.len()..]) {
                frontier.push((prefix.to_owned(), ix));
            }
        }
        let level = |ix: crate::plan::Ix, prefix: &str| -> Vec<(String, crate::plan::Ix)> {
            plan.dependents[ix]
                .iter()
                .filter(|&&d| plan.depth(d) == plan.depth(ix))
                .map(|&d| (format!("{prefix}{}", plan.rows[d].key), d))
                .collect()
        };
        let next: Vec<String> = frontier
            .iter()
            .flat_map(|(prefix, ix)| level(*ix, prefix).into_iter().map(|(p, _)| p))
            .collect();
        if next.iter().all(|p| g.read_ahead.contains(&(run.id, p.clone()))) {
            return Ok(());
        }
        let mut want = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut queue: std::collections::VecDeque<_> = frontier.into();
        while let Some((prefix, ix)) = queue.pop_front()
            && want.len() < READ_AHEAD
        {
            for (path, d) in level(ix, &prefix) {
                if seen.insert(path.clone()) {
                    want.push(path);
                    queue.push_back((prefix.clone(), d));
                }
            }
        }
        want.retain(|p| g.read_ahead.insert((run.id, p.clone())));
        if !want.is_empty() {
            tx.try_lock_steps(run.id, &want).await?;
        }
        Ok(())
    }

    /// Records `done` in `tx` and claims what [`Engine::record_batch`]
    /// says into `claims`; hands the transaction back.
    async fn record_in(
        &self,
        mut tx: Box<dyn Tx>,
        done: &[Done],
        next: &NextClaims<'_>,
        g: &mut Gathered,
    ) -> Result<Box<dyn Tx>> {
        let mut runs: Vec<Uuid> = Vec::new();
        for d in done {
            if !runs.contains(&d.claimed.job.run_id) {
                runs.push(d.claimed.job.run_id);
            }
        }
        for run_id in runs {
            let Some(run) = tx.lock_run(run_id, RunLock::Shared).await? else {
                continue;
            };
            let plan = self.plan(tx.as_mut(), run.version_id).await?;
            // the attempts' rows, locked in one statement (held from here on:
            // read from memory, written with the others at commit)
            let paths: Vec<String> = done
                .iter()
                .filter(|d| d.claimed.job.run_id == run_id)
                .map(|d| d.claimed.job.path.clone())
                .collect();
            tx.lock_steps(run_id, &paths).await?;
            let mut adv = Advance::new(self, tx, plan.clone(), run);
            for d in done.iter().filter(|d| d.claimed.job.run_id == run_id) {
                let c = &d.claimed;
                let expect = Expect {
                    status: StepStatus::Running,
                    attempt: c.attempt,
                    lease_token: Some(c.lease_token),
                };
                match adv.tx().step(run_id, &c.job.path).await? {
                    Some(step) if Expect::of(&step) == expect => {
                        for l in &d.logs {
                            let line = (l.level, l.message.clone());
                            adv.log(Some(&c.job.path), Some(c.attempt), line, l.data.clone())
                                .await?;
                        }
                        adv.outcome(step, &expect, d.result.clone()).await?;
                    }
                    Some(_) => {
                        tracing::warn!(run = %run_id, path = %c.job.path, attempt = c.attempt, trace_id = %crate::trace::TraceIdOf(c.trace), "stale write-back rejected (lease lost or step moved on)");
                        let line = (
                            LogLevel::Warn,
                            "stale write-back rejected: the lease was lost".to_owned(),
                        );
                        // counted per try of the transaction (a race retried
                        // counts it again)
                        self.stats
                            .stale_write_backs
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        adv.log(Some(&c.job.path), Some(c.attempt), line, None).await?;
                    }
                    None => {}
                }
            }
            let (t, mut eff, run, mut readied) = adv.finish_readied().await?;
            tx = t;
            if !run.status.is_terminal() {
                let ready = Ready {
                    run: &run,
                    plan: &plan,
                    rows: &mut readied,
                };
                self.claim_ready(tx.as_mut(), ready, &mut eff, (next, &mut g.claims))
                    .await?;
                // only when the claims will run here (an effectful one ends the run-ahead)
                if next.run.is_some() && g.claims.iter().all(|c| (next.inline)(&c.action, c.raw_config())) {
                    self.read_ahead(tx.as_mut(), &run, &plan, g).await?;
                }
            }
            g.effects.merge(eff);
        }
        Ok(tx)
    }

    /// Claims, inside `tx`, steps of `run` that `eff` made ready, as
    /// [`Engine::record_batch`] describes; the claimed ones leave `eff.jobs`.
    async fn claim_ready(
        &self,
        tx: &mut dyn Tx,
        Ready { run, plan, rows }: Ready<'_>,
        eff: &mut Effects,
        (next, claims): (&NextClaims<'_>, &mut Vec<Claimed>),
    ) -> Result<()> {
        let mut i = 0;
        // `eff` is this run's advance's (every job is of `run`)
        while i < eff.jobs.len() && claims.len() < next.max {
            let job = &eff.jobs[i];
            // every job of `eff` is a row this transaction made QUEUED, as
            // it wrote it
            let step = rows
                .remove(&job.path)
                .ok_or_else(|| crate::Error::Corrupt(format!("readied row `{}` not kept", job.path)))?;
            let accepted = claims.is_empty()
                || plan
                    .by_key
                    .get(&step.step_key)
                    .is_some_and(|&ix| (next.inline)(&plan.rows[ix].action, plan.rows[ix].config.as_ref()));
            if step.status == StepStatus::Queued
                && step.wait_output.is_none()
                && accepted
                && let Some(c) = self.claim_in(tx, run, plan, step, next.worker).await?
            {
                eff.jobs.remove(i);
                claims.push(c);
            } else {
                i += 1;
            }
        }
        Ok(())
    }
}
