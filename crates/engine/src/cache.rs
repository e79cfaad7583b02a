//! A write-behind cache over a [`Tx`]: the rows a transaction holds locked
//! are kept in memory, read from there, and written once, at commit.
//!
//! A row is *held* once this transaction has locked it ([`Tx::lock_step`],
//! [`Tx::lock_steps`], [`Tx::try_lock_steps`], [`Tx::lock_steps_of_key`]),
//! inserted it, or changed it with a successful
//! compare-and-set: on Postgres the row lock lasts until commit, and SQLite
//! transactions begin IMMEDIATE (one writer), so no other transaction can
//! change a held row before this one ends. For held rows the cache is
//! therefore the truth:
//!
//! - reading a held row costs no statement, and a read of many rows
//!   overlays the held ones on what the database returns;
//! - a compare-and-set on a held row is checked against the cached row and
//!   only marks it dirty; every dirty row is written once, at commit, all in
//!   one statement ([`Tx::update_steps`]), each a compare-and-set against
//!   what the database holds (which cannot fail
//!   unless the invariant above is broken; it is then a [`Error::Conflict`]);
//! - a run locked again in a mode the transaction already holds is not read
//!   again (while it holds the run, no other transaction can end it);
//! - the run's finished count: after the first [`Tx::add_finished`] of a
//!   run (whose `UPDATE` holds the run row until commit), later additions
//!   are counted here and written as one addition at commit.
//!
//! So a join that 1,000 siblings decrement in one transaction is read once
//! and written once, and a step claimed, run inline and completed in the
//! same transaction is written once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbflow_model::RunStatus;
use uuid::Uuid;

use crate::store::{Expect, LogRecord, RunLock, RunRecord, StepOutput, StepRecord, Tx, VersionRecord};
use crate::{Error, Result};

/// A held row: as this transaction sees it, and as the database has it.
struct Held {
    row: StepRecord,
    /// What the database holds (the compare-and-set of the write at commit).
    stored: Expect,
    dirty: bool,
}

/// The finished count of a run whose row this transaction holds.
struct Finished {
    finished: i32,
    total: i32,
    /// Added here and not yet written.
    pending: i32,
}

/// `Ok` when all `wanted` compare-and-set writes of a transaction that
/// holds their rows (or their run, exclusively) took; otherwise the
/// invariant that no one else moves them is broken: [`Error::Conflict`]
/// naming how many of `what` did not.
pub(crate) fn all_written(written: usize, wanted: usize, what: &str) -> Result<()> {
    if written == wanted {
        return Ok(());
    }
    Err(Error::Conflict(format!(
        "{} of {wanted} {what} not written",
        wanted.saturating_sub(written)
    )))
}

/// See the module documentation.
pub(crate) struct CachedTx {
    inner: Box<dyn Tx>,
    held: HashMap<(Uuid, String), Held>,
    finished: HashMap<Uuid, Finished>,
    /// Runs this transaction holds, in the strongest mode taken.
    runs: HashMap<Uuid, (RunLock, RunRecord)>,
}

impl CachedTx {
    pub(crate) fn new(inner: Box<dyn Tx>) -> Self {
        Self {
            inner,
            held: HashMap::new(),
            finished: HashMap::new(),
            runs: HashMap::new(),
        }
    }

    fn hold(&mut self, row: StepRecord) {
        let stored = Expect::of(&row);
        self.held.insert(
            (row.run_id, row.path.clone()),
            Held {
                row,
                stored,
                dirty: false,
            },
        );
    }

    /// The paths of `paths` this transaction does not hold.
    fn not_held(&self, run_id: Uuid, paths: &[String]) -> Vec<String> {
        paths
            .iter()
            .filter(|p| !self.held.contains_key(&(run_id, (*p).clone())))
            .cloned()
            .collect()
    }

    /// The held rows among `paths`, in path order, once each.
    fn held_rows(&self, run_id: Uuid, paths: &[String]) -> Vec<StepRecord> {
        let mut out: Vec<StepRecord> = paths
            .iter()
            .filter_map(|p| self.held.get(&(run_id, p.clone())).map(|h| h.row.clone()))
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        out
    }

    /// The held version of each row where there is one.
    fn overlay(&self, rows: Vec<StepRecord>) -> Vec<StepRecord> {
        rows.into_iter()
            .map(|r| match self.held.get(&(r.run_id, r.path.clone())) {
                Some(h) => h.row.clone(),
                None => r,
            })
            .collect()
    }

    async fn flush_finished(&mut self, run_id: Uuid) -> Result<()> {
        if let Some(f) = self.finished.get_mut(&run_id)
            && f.pending != 0
        {
            let n = std::mem::take(&mut f.pending);
            let (finished, total) = self.inner.add_finished(run_id, n).await?;
            f.finished = finished;
            f.total = total;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        let mut dirty: Vec<&mut Held> = self.held.values_mut().filter(|h| h.dirty).collect();
        dirty.sort_by_key(|h| h.row.id);
        let writes: Vec<(StepRecord, Expect)> = dirty.iter().map(|h| (h.row.clone(), h.stored.clone())).collect();
        match writes.as_slice() {
            [] => {}
            [(row, expect)] => {
                if !self.inner.update_step(row, expect).await? {
                    return Err(Error::Conflict(row.path.clone()));
                }
            }
            _ => {
                let n = self.inner.update_steps(&writes).await?;
                all_written(n, writes.len(), "rows held by the transaction")?;
            }
        }
        for h in dirty {
            h.stored = Expect::of(&h.row);
            h.dirty = false;
        }
        let runs: Vec<Uuid> = self.finished.keys().copied().collect();
        for r in runs {
            self.flush_finished(r).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Tx for CachedTx {
    async fn lock_run(&mut self, run_id: Uuid, mode: RunLock) -> Result<Option<RunRecord>> {
        let run = match self.runs.get(&run_id) {
            Some((held, run)) if *held == RunLock::Exclusive || mode == RunLock::Shared => Some(run.clone()),
            _ => {
                let run = self.inner.lock_run(run_id, mode).await?;
                if let Some(r) = &run {
                    self.runs.insert(run_id, (mode, r.clone()));
                }
                run
            }
        };
        Ok(run.map(|mut r| {
            if let Some(f) = self.finished.get(&run_id) {
                r.finished_steps = f.finished + f.pending;
            }
            r
        }))
    }

    async fn insert_run(&mut self, run: &RunRecord, idempotency_key: Option<&str>) -> Result<()> {
        self.inner.insert_run(run, idempotency_key).await
    }

    async fn update_run(&mut self, run: &RunRecord) -> Result<()> {
        // the run's row carries the count it writes: what is pending goes first
        self.flush_finished(run.id).await?;
        self.inner.update_run(run).await?;
        if let Some(f) = self.finished.get_mut(&run.id) {
            f.finished = run.finished_steps;
        }
        if let Some((_, held)) = self.runs.get_mut(&run.id) {
            *held = run.clone();
        }
        Ok(())
    }

    async fn mark_run_running(&mut self, run_id: Uuid, at: DateTime<Utc>) -> Result<()> {
        self.inner.mark_run_running(run_id, at).await?;
        if let Some((_, held)) = self.runs.get_mut(&run_id)
            && held.status == RunStatus::Pending
        {
            held.status = held.status.transition(RunStatus::Running)?;
            held.started_at = Some(at);
        }
        Ok(())
    }

    async fn add_finished(&mut self, run_id: Uuid, n: i32) -> Result<(i32, i32)> {
        if let Some(f) = self.finished.get_mut(&run_id) {
            f.pending += n;
            return Ok((f.finished + f.pending, f.total));
        }
        let (finished, total) = self.inner.add_finished(run_id, n).await?;
        self.finished.insert(
            run_id,
            Finished {
                finished,
                total,
                pending: 0,
            },
        );
        Ok((finished, total))
    }

    async fn step(&mut self, run_id: Uuid, path: &str) -> Result<Option<StepRecord>> {
        if let Some(h) = self.held.get(&(run_id, path.to_owned())) {
            return Ok(Some(h.row.clone()));
        }
        self.inner.step(run_id, path).await
    }

    async fn lock_step(&mut self, run_id: Uuid, path: &str) -> Result<Option<StepRecord>> {
        if let Some(h) = self.held.get(&(run_id, path.to_owned())) {
            return Ok(Some(h.row.clone()));
        }
        let row = self.inner.lock_step(run_id, path).await?;
        if let Some(r) = &row {
            self.hold(r.clone());
        }
        Ok(row)
    }

    async fn lock_steps(&mut self, run_id: Uuid, paths: &[String]) -> Result<Vec<StepRecord>> {
        let missing = self.not_held(run_id, paths);
        if !missing.is_empty() {
            for r in self.inner.lock_steps(run_id, &missing).await? {
                self.hold(r);
            }
        }
        Ok(self.held_rows(run_id, paths))
    }

    async fn try_lock_steps(&mut self, run_id: Uuid, paths: &[String]) -> Result<Vec<StepRecord>> {
        let missing = self.not_held(run_id, paths);
        if !missing.is_empty() {
            for r in self.inner.try_lock_steps(run_id, &missing).await? {
                self.hold(r);
            }
        }
        Ok(self.held_rows(run_id, paths))
    }

    async fn lock_steps_of_key(&mut self, run_id: Uuid, prefix: &str, key: &str) -> Result<Vec<StepRecord>> {
        let rows = self.inner.lock_steps_of_key(run_id, prefix, key).await?;
        for r in &rows {
            if !self.held.contains_key(&(r.run_id, r.path.clone())) {
                self.hold(r.clone());
            }
        }
        Ok(self.overlay(rows))
    }

    async fn steps(&mut self, run_id: Uuid, paths: &[String]) -> Result<Vec<StepRecord>> {
        let (mut out, mut missing) = (Vec::with_capacity(paths.len()), Vec::new());
        for p in paths {
            match self.held.get(&(run_id, p.clone())) {
                Some(h) => out.push(h.row.clone()),
                None => missing.push(p.clone()),
            }
        }
        if !missing.is_empty() {
            out.extend(self.inner.steps(run_id, &missing).await?);
        }
        Ok(out)
    }

    async fn steps_with_prefix(&mut self, run_id: Uuid, prefix: &str) -> Result<Vec<StepRecord>> {
        // every held row is in the database too (read or inserted here)
        let rows = self.inner.steps_with_prefix(run_id, prefix).await?;
        Ok(self.overlay(rows))
    }

    async fn outputs_of_key(&mut self, run_id: Uuid, prefix: &str, key: &str) -> Result<Vec<StepOutput>> {
        // every held row is in the database too; a held one's output may be
        // newer than the database's
        let mut rows = self.inner.outputs_of_key(run_id, prefix, key).await?;
        for r in &mut rows {
            if let Some(h) = self.held.get(&(run_id, r.path.clone())) {
                r.output.clone_from(&h.row.output);
            }
        }
        Ok(rows)
    }

    async fn insert_steps(&mut self, steps: &[StepRecord]) -> Result<()> {
        self.inner.insert_steps(steps).await?;
        for s in steps {
            self.hold(s.clone());
        }
        Ok(())
    }

    async fn update_step(&mut self, step: &StepRecord, expect: &Expect) -> Result<bool> {
        if let Some(h) = self.held.get_mut(&(step.run_id, step.path.clone())) {
            if Expect::of(&h.row) != *expect {
                return Ok(false);
            }
            h.row = step.clone();
            h.dirty = true;
            return Ok(true);
        }
        if !self.inner.update_step(step, expect).await? {
            return Ok(false);
        }
        // the update holds the row until commit
        self.hold(step.clone());
        Ok(true)
    }

    async fn update_steps(&mut self, steps: &[(StepRecord, Expect)]) -> Result<usize> {
        // held rows are checked here and written at commit; the others in
        // one statement (a cancelled run's thousands of rows in a few)
        let mut n = 0;
        let mut rest = Vec::new();
        for (step, expect) in steps {
            match self.held.get_mut(&(step.run_id, step.path.clone())) {
                Some(h) if Expect::of(&h.row) == *expect => {
                    h.row = step.clone();
                    h.dirty = true;
                    n += 1;
                }
                Some(_) => {}
                None => rest.push((step.clone(), expect.clone())),
            }
        }
        if rest.is_empty() {
            return Ok(n);
        }
        let written = self.inner.update_steps(&rest).await?;
        if written == rest.len() {
            // every update holds its row until commit
            for (step, _) in rest {
                self.hold(step);
            }
        }
        Ok(n + written)
    }

    async fn log(&mut self, entry: LogRecord) -> Result<()> {
        self.inner.log(entry).await
    }

    async fn version(&mut self, version_id: Uuid) -> Result<Option<VersionRecord>> {
        self.inner.version(version_id).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.flush().await?;
        self.inner.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_that_did_not_all_take_are_a_conflict_saying_how_many() {
        assert!(all_written(3, 3, "rows").is_ok());
        assert!(all_written(0, 0, "rows").is_ok());
        match all_written(1, 3, "cancelled steps") {
            Err(Error::Conflict(m)) => assert_eq!(m, "2 of 3 cancelled steps not written"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
}
