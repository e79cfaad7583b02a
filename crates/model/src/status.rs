//! Run and step lifecycles (DESIGN.md §4, drawn in docs/state_machine.md).
//!
//! Each machine has exactly one [`transition`](RunStatus::transition)
//! function; it is the only place a status may change. Statuses are persisted
//! as the stable strings of `as_str`.

/// A status change the machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal {machine} transition {from} -> {to}")]
pub struct IllegalTransition {
    /// `run` or `step`.
    pub machine: &'static str,
    /// Status before.
    pub from: &'static str,
    /// Status asked for.
    pub to: &'static str,
}

crate::kinds::name_enum!(
    /// Status of a run.
    RunStatus("run status", "SCREAMING_SNAKE_CASE") {
        /// Created; no step has started yet.
        Pending => "PENDING",
        /// At least one step started; not finished.
        Running => "RUNNING",
        /// Every step is terminal and none failed the run.
        Completed => "COMPLETED",
        /// A step failed for good (or input was rejected).
        Failed => "FAILED",
        /// Cancelled by a user.
        Cancelled => "CANCELLED",
    }
);

crate::kinds::name_enum!(
    /// Status of one step execution.
    StepStatus("step status", "SCREAMING_SNAKE_CASE") {
        /// Waiting for its dependencies.
        Pending => "PENDING",
        /// Ready and handed to the queue.
        Queued => "QUEUED",
        /// Claimed by a worker under a lease.
        Running => "RUNNING",
        /// Waiting for a timer: a delay or a retry backoff.
        Waiting => "WAITING",
        /// Finished successfully.
        Completed => "COMPLETED",
        /// Failed for good (retries exhausted or a fatal error).
        Failed => "FAILED",
        /// Not run: its branch was not taken or all its dependencies were skipped.
        Skipped => "SKIPPED",
        /// Not run or stopped: the run was cancelled.
        Cancelled => "CANCELLED",
    }
);

impl RunStatus {
    /// Whether the run is finished.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The only way a run's status changes.
    ///
    /// `FAILED -> RUNNING` is a retry from the failed step.
    pub fn transition(self, to: RunStatus) -> Result<RunStatus, IllegalTransition> {
        use RunStatus::*;
        let ok = matches!(
            (self, to),
            (Pending, Running)
                | (Pending, Failed)
                | (Pending, Cancelled)
                | (Running, Completed)
                | (Running, Failed)
                | (Running, Cancelled)
                | (Failed, Running)
        );
        if ok {
            Ok(to)
        } else {
            Err(IllegalTransition {
                machine: "run",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

impl StepStatus {
    /// Whether the step is finished (for this run attempt).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Skipped | Self::Cancelled)
    }

    /// The only way a step's status changes.
    ///
    /// - `PENDING -> RUNNING` is a block (condition, switch, loop) starting
    ///   in the engine without the queue;
    /// - `RUNNING -> QUEUED` is a released or expired lease re-delivered;
    /// - `RUNNING -> WAITING` is a retry backoff or a delay timer;
    /// - `FAILED -> QUEUED` is a retry of the failed step requested by a user;
    /// - `CANCELLED -> PENDING | QUEUED | RUNNING | WAITING` restores, in that
    ///   same retry, a step the failure cancelled to where it stood.
    pub fn transition(self, to: StepStatus) -> Result<StepStatus, IllegalTransition> {
        use StepStatus::*;
        let ok = matches!(
            (self, to),
            (Pending, Queued)
                | (Pending, Running)
                | (Pending, Skipped)
                | (Pending, Cancelled)
                | (Queued, Running)
                | (Queued, Skipped)
                | (Queued, Cancelled)
                | (Running, Completed)
                | (Running, Failed)
                | (Running, Waiting)
                | (Running, Queued)
                | (Running, Cancelled)
                | (Waiting, Queued)
                | (Waiting, Cancelled)
                | (Failed, Queued)
                | (Cancelled, Pending)
                | (Cancelled, Queued)
                | (Cancelled, Running)
                | (Cancelled, Waiting)
        );
        if ok {
            Ok(to)
        } else {
            Err(IllegalTransition {
                machine: "step",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of run statuses, legal or not, checked against the table.
    #[test]
    fn run_transitions_table() {
        use RunStatus::*;
        let legal = [
            (Pending, Running),
            (Pending, Failed),
            (Pending, Cancelled),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
            (Failed, Running),
        ];
        let mut checked = 0;
        for &from in RunStatus::ALL {
            for &to in RunStatus::ALL {
                let got = from.transition(to);
                if legal.contains(&(from, to)) {
                    assert_eq!(got, Ok(to), "{from} -> {to} must be legal");
                } else {
                    let e = got.expect_err("must be illegal");
                    assert_eq!(e.to_string(), format!("illegal run transition {from} -> {to}"));
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
    }

    /// Every pair of step statuses, legal or not, checked against the table.
    #[test]
    fn step_transitions_table() {
        use StepStatus::*;
        let legal = [
            (Pending, Queued),
            (Pending, Running),
            (Pending, Skipped),
            (Pending, Cancelled),
            (Queued, Running),
            (Queued, Skipped),
            (Queued, Cancelled),
            (Running, Completed),
            (Running, Failed),
            (Running, Waiting),
            (Running, Queued),
            (Running, Cancelled),
            (Waiting, Queued),
            (Waiting, Cancelled),
            (Failed, Queued),
            (Cancelled, Pending),
            (Cancelled, Queued),
            (Cancelled, Running),
            (Cancelled, Waiting),
        ];
        let mut illegal = 0;
        for &from in StepStatus::ALL {
            for &to in StepStatus::ALL {
                match from.transition(to) {
                    Ok(s) => {
                        assert!(legal.contains(&(from, to)), "{from} -> {to} must be illegal");
                        assert_eq!(s, to);
                    }
                    Err(e) => {
                        assert!(!legal.contains(&(from, to)), "{from} -> {to} must be legal");
                        assert_eq!(e.machine, "step");
                        illegal += 1;
                    }
                }
            }
        }
        assert_eq!(illegal, 64 - legal.len());
    }

    #[test]
    fn terminal_statuses_have_no_way_out_except_retry() {
        for &s in StepStatus::ALL.iter().filter(|s| s.is_terminal()) {
            let exits: Vec<_> = StepStatus::ALL.iter().filter(|&&t| s.transition(t).is_ok()).collect();
            if s == StepStatus::Failed {
                assert_eq!(exits, [&StepStatus::Queued]);
            } else if s == StepStatus::Cancelled {
                // restored by the retry of a failed run
                assert_eq!(
                    exits,
                    [
                        &StepStatus::Pending,
                        &StepStatus::Queued,
                        &StepStatus::Running,
                        &StepStatus::Waiting
                    ]
                );
            } else {
                assert!(exits.is_empty(), "{s} has exits {exits:?}");
            }
        }
        assert!(RunStatus::Completed.transition(RunStatus::Running).is_err());
        assert!(RunStatus::Cancelled.transition(RunStatus::Running).is_err());
    }

    #[test]
    fn strings_round_trip() {
        for &s in StepStatus::ALL {
            assert_eq!(s.as_str().parse::<StepStatus>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for &s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
        }
        let e = "running".parse::<RunStatus>().unwrap_err();
        assert_eq!(e.to_string(), "unknown run status `running`");
        assert_eq!("DONE".parse::<StepStatus>().unwrap_err().kind, "step status");
    }
}
