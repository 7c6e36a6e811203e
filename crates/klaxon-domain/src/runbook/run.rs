//! A run of a runbook on an incident, as a state machine: which step is current, what each
//! step is waiting for, and what a person or the engine may do next. Pure: the store keeps a
//! run's rows, the server asks [`Run::apply`] what an action does to them and writes the
//! answer (with its timeline events) in one transaction.
//!
//! Nothing runs twice: a step that is handed to the engine (HTTP) or a runner (command) goes
//! `queued → running` once, by a claim; a step found `running` whose worker is gone becomes
//! `unknown` and is never started again by itself. Only a person's `retry` queues it again.
use serde::Serialize;

use super::{Runbook, StepKind};
use crate::{Invalid, named_enum};

named_enum! {
    /// Where a run is.
    pub enum RunState (field = "state", schema = "RunState") {
        /// A step is current and will move on by itself or when someone acts on it.
        Active = "active",
        /// Someone paused it: the current step is not started (one already running finishes).
        Paused = "paused",
        /// The current step failed (or its outcome is unknown): someone retries it, skips it
        /// or aborts the run.
        Stopped = "stopped",
        Succeeded = "succeeded",
        Aborted = "aborted",
    }
}

named_enum! {
    /// Where one step of a run is.
    pub enum StepState (field = "state", schema = "RunStepState") {
        /// Not reached yet.
        Pending = "pending",
        /// A manual step waiting for someone to do it and tick it.
        Waiting = "waiting",
        /// An approval step waiting for its approver.
        AwaitingApproval = "awaiting_approval",
        /// Handed over (HTTP: to the engine; command: to a runner with its labels), not begun.
        Queued = "queued",
        /// Begun by the engine or a runner, not finished.
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Begun, but whoever ran it vanished before saying how it ended: it may or may not
        /// have happened. Never started again by itself.
        Unknown = "unknown",
        Skipped = "skipped",
        /// Not done: the run was aborted before it.
        Cancelled = "cancelled",
    }
}

impl StepState {
    pub fn is_done(self) -> bool {
        matches!(
            self,
            StepState::Succeeded | StepState::Skipped | StepState::Cancelled
        )
    }
}

/// A run's state and its steps' states, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub state: RunState,
    /// The current step (from 0); the number of steps once the run succeeded.
    pub current: usize,
    pub steps: Vec<StepState>,
}

/// What someone (or the engine) does to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ticks the current manual step.
    Complete,
    /// The current approval step's approver agrees.
    Approve,
    /// The current approval step's approver refuses: the run stops there.
    Reject,
    /// The engine or a runner begins the current queued step.
    Begin,
    /// How the current running step ended.
    Finish {
        ok: bool,
    },
    /// Its worker vanished mid-step (a restart, a runner gone silent).
    Lost,
    /// Queues a stopped (failed or unknown) step again, or re-asks a rejected approval.
    Retry,
    /// Leaves the current step undone and goes on.
    Skip,
    Pause,
    Resume,
    Abort,
}

/// Why an action does not apply now, in words for a 409.
fn refuse(why: &str) -> Invalid {
    Invalid::new("state", why)
}

/// What a step waits for when it becomes current.
fn arrive(kind: &StepKind) -> StepState {
    match kind {
        StepKind::Manual => StepState::Waiting,
        StepKind::Approval(_) => StepState::AwaitingApproval,
        StepKind::Http(_) | StepKind::Command(_) => StepState::Queued,
    }
}

impl Run {
    /// A new run of `rb`: its first step current (or succeeded at once without steps).
    pub fn start(rb: &Runbook) -> Run {
        let mut run = Run {
            state: RunState::Active,
            current: 0,
            steps: vec![StepState::Pending; rb.steps.len()],
        };
        run.arrive(rb);
        run
    }

    /// Makes the current step wait for what it needs, or ends the run after the last.
    fn arrive(&mut self, rb: &Runbook) {
        match rb.steps.get(self.current) {
            Some(s) => self.steps[self.current] = arrive(&s.kind),
            None => self.state = RunState::Succeeded,
        }
    }

    fn advance(&mut self, rb: &Runbook) {
        self.current += 1;
        if self.state == RunState::Active {
            self.arrive(rb);
        } else if self.current >= self.steps.len() {
            self.state = RunState::Succeeded;
        }
    }

    pub fn is_over(&self) -> bool {
        matches!(self.state, RunState::Succeeded | RunState::Aborted)
    }

    /// The current step's state, if a step is current.
    pub fn step(&self) -> Option<StepState> {
        self.steps.get(self.current).copied()
    }

    /// The run after `action`, or why it does not apply (the run as it is stays).
    pub fn apply(&self, rb: &Runbook, action: Action) -> Result<Run, Invalid> {
        if self.is_over() {
            // A request or command in flight when the run was aborted still says how it ended.
            return match (self.state, action, self.step()) {
                (RunState::Aborted, Action::Finish { ok }, Some(StepState::Running)) => {
                    let mut r = self.clone();
                    r.steps[r.current] = if ok {
                        StepState::Succeeded
                    } else {
                        StepState::Failed
                    };
                    Ok(r)
                }
                (RunState::Aborted, Action::Lost, Some(StepState::Running)) => {
                    let mut r = self.clone();
                    r.steps[r.current] = StepState::Unknown;
                    Ok(r)
                }
                _ => Err(refuse("the run is over")),
            };
        }
        let mut r = self.clone();
        let step = r.step();
        match (action, step) {
            (Action::Complete, Some(StepState::Waiting)) => {
                r.steps[r.current] = StepState::Succeeded;
                r.advance(rb);
            }
            (Action::Approve, Some(StepState::AwaitingApproval)) => {
                r.steps[r.current] = StepState::Succeeded;
                r.advance(rb);
            }
            (Action::Reject, Some(StepState::AwaitingApproval)) => {
                r.steps[r.current] = StepState::Failed;
                r.state = RunState::Stopped;
            }
            (Action::Begin, Some(StepState::Queued)) if r.state == RunState::Active => {
                r.steps[r.current] = StepState::Running;
            }
            (Action::Finish { ok: true }, Some(StepState::Running)) => {
                r.steps[r.current] = StepState::Succeeded;
                r.advance(rb);
            }
            (Action::Finish { ok: false }, Some(StepState::Running)) => {
                r.steps[r.current] = StepState::Failed;
                r.state = RunState::Stopped;
            }
            (Action::Lost, Some(StepState::Running)) => {
                r.steps[r.current] = StepState::Unknown;
                r.state = RunState::Stopped;
            }
            (Action::Retry, Some(StepState::Failed | StepState::Unknown)) => {
                r.state = RunState::Active;
                r.arrive(rb);
            }
            (Action::Skip, Some(s)) if s != StepState::Running => {
                r.steps[r.current] = StepState::Skipped;
                if r.state == RunState::Stopped {
                    r.state = RunState::Active;
                }
                r.advance(rb);
            }
            (Action::Pause, _) if r.state == RunState::Active => r.state = RunState::Paused,
            (Action::Resume, _) if r.state == RunState::Paused => {
                r.state = RunState::Active;
                // A step reached while paused is made to wait for what it needs now.
                if r.step() == Some(StepState::Pending) {
                    r.arrive(rb);
                }
            }
            (Action::Abort, _) => {
                r.state = RunState::Aborted;
                // What did not happen is cancelled; what failed, may have happened or is still
                // running keeps saying so.
                for s in r.steps.iter_mut().skip(r.current) {
                    if matches!(
                        s,
                        StepState::Pending
                            | StepState::Waiting
                            | StepState::AwaitingApproval
                            | StepState::Queued
                    ) {
                        *s = StepState::Cancelled;
                    }
                }
            }
            (Action::Skip, _) => {
                return Err(refuse("a running step cannot be skipped; abort the run"));
            }
            (Action::Pause, _) => return Err(refuse("only an active run can be paused")),
            (Action::Resume, _) => return Err(refuse("only a paused run can be resumed")),
            (a, s) => {
                return Err(refuse(&format!(
                    "{} does not apply while the current step is {}",
                    action_name(a),
                    s.map_or("none", StepState::as_str)
                )));
            }
        }
        Ok(r)
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Complete => "completing",
        Action::Approve => "approving",
        Action::Reject => "rejecting",
        Action::Begin => "beginning",
        Action::Finish { .. } => "finishing",
        Action::Lost => "losing",
        Action::Retry => "retrying",
        Action::Skip => "skipping",
        Action::Pause => "pausing",
        Action::Resume => "resuming",
        Action::Abort => "aborting",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::parse;

    fn rb() -> Runbook {
        parse(
            "---\nname: r\n---\n## Look\n## Approve\n```klaxon-approval\nrole: commander\n```\n## Call\n```klaxon-http\nurl: https://x\n```\n",
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_run_goes_step_by_step_to_the_end() {
        let rb = rb();
        let r = Run::start(&rb);
        assert_eq!(r.steps[0], StepState::Waiting);
        assert!(r.apply(&rb, Action::Approve).is_err());
        let r = r.apply(&rb, Action::Complete).unwrap();
        assert_eq!(
            (r.current, r.step()),
            (1, Some(StepState::AwaitingApproval))
        );
        let r = r.apply(&rb, Action::Approve).unwrap();
        assert_eq!(r.step(), Some(StepState::Queued));
        let r = r.apply(&rb, Action::Begin).unwrap();
        // Begun once: a second claim is refused.
        assert!(r.apply(&rb, Action::Begin).is_err());
        let r = r.apply(&rb, Action::Finish { ok: true }).unwrap();
        assert_eq!(r.state, RunState::Succeeded);
        assert_eq!(r.current, 3);
        assert!(r.apply(&rb, Action::Abort).is_err());
    }

    #[test]
    fn failures_stop_the_run_until_someone_retries_or_skips() {
        let rb = rb();
        let at_call = Run {
            state: RunState::Active,
            current: 2,
            steps: vec![
                StepState::Succeeded,
                StepState::Succeeded,
                StepState::Queued,
            ],
        };
        let running = at_call.apply(&rb, Action::Begin).unwrap();
        let failed = running.apply(&rb, Action::Finish { ok: false }).unwrap();
        assert_eq!(
            (failed.state, failed.step()),
            (RunState::Stopped, Some(StepState::Failed))
        );
        // Not begun again by itself; a retry queues it.
        assert!(failed.apply(&rb, Action::Begin).is_err());
        let again = failed.apply(&rb, Action::Retry).unwrap();
        assert_eq!(
            (again.state, again.step()),
            (RunState::Active, Some(StepState::Queued))
        );
        // A lost worker: unknown, stopped; skipping goes on (here: to the end).
        let lost = running.apply(&rb, Action::Lost).unwrap();
        assert_eq!(lost.step(), Some(StepState::Unknown));
        let skipped = lost.apply(&rb, Action::Skip).unwrap();
        assert_eq!(skipped.state, RunState::Succeeded);
        assert_eq!(skipped.steps[2], StepState::Skipped);
        // A rejected approval stops the run; a retry asks again.
        let r = Run::start(&rb).apply(&rb, Action::Complete).unwrap();
        let no = r.apply(&rb, Action::Reject).unwrap();
        assert_eq!(no.state, RunState::Stopped);
        assert_eq!(
            no.apply(&rb, Action::Retry).unwrap().step(),
            Some(StepState::AwaitingApproval)
        );
    }

    #[test]
    fn pausing_holds_queued_steps_and_aborting_cancels_the_rest() {
        let rb = rb();
        let queued = Run {
            state: RunState::Active,
            current: 2,
            steps: vec![
                StepState::Succeeded,
                StepState::Succeeded,
                StepState::Queued,
            ],
        };
        let paused = queued.apply(&rb, Action::Pause).unwrap();
        assert!(paused.apply(&rb, Action::Begin).is_err());
        assert!(paused.apply(&rb, Action::Pause).is_err());
        let resumed = paused.apply(&rb, Action::Resume).unwrap();
        assert_eq!(resumed, queued);
        // A step already running when the run is paused still finishes, and the run waits.
        let running = queued.apply(&rb, Action::Begin).unwrap();
        let p = running.apply(&rb, Action::Pause).unwrap();
        let done = p.apply(&rb, Action::Finish { ok: true }).unwrap();
        assert_eq!(done.state, RunState::Succeeded);
        let aborted = Run::start(&rb).apply(&rb, Action::Abort).unwrap();
        assert_eq!(aborted.state, RunState::Aborted);
        assert!(aborted.steps.iter().all(|s| *s == StepState::Cancelled));
        assert!(running.apply(&rb, Action::Skip).is_err());
        // Aborted mid-request: the request still says how it ended; the run stays aborted.
        let cut = running.apply(&rb, Action::Abort).unwrap();
        assert_eq!(cut.steps[2], StepState::Running);
        let ended = cut.apply(&rb, Action::Finish { ok: true }).unwrap();
        assert_eq!(
            (ended.state, ended.steps[2]),
            (RunState::Aborted, StepState::Succeeded)
        );
        assert!(ended.apply(&rb, Action::Finish { ok: true }).is_err());
        // A failed step keeps saying so when the run is aborted.
        let failed = running.apply(&rb, Action::Finish { ok: false }).unwrap();
        let gave_up = failed.apply(&rb, Action::Abort).unwrap();
        assert_eq!(gave_up.steps[2], StepState::Failed);
        // A manual step ticked while paused: the next one waits for the resume.
        let p = Run::start(&rb).apply(&rb, Action::Pause).unwrap();
        let ticked = p.apply(&rb, Action::Complete).unwrap();
        assert_eq!(ticked.step(), Some(StepState::Pending));
        let on = ticked.apply(&rb, Action::Resume).unwrap();
        assert_eq!(on.step(), Some(StepState::AwaitingApproval));
    }
}
