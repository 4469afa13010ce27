//! A call's life as a state machine whose transitions are checked: the only
//! way to change a [`Lifecycle`]'s state is [`Lifecycle::advance`], which
//! refuses every step [`CallState::may_go_to`] does not list.
//!
//! ```text
//! received ─► validated ─► running ─► completed | failed
//!                             │  ▲
//!                             ▼  │ (the tool goes on)
//!                           asked ─► allowed
//!                             │
//!                             └────► denied          (also running ─► denied: a rule)
//! any state that is not final ─► cancelled | timed_out | lost
//! received | validated ─► failed (unknown tool, invalid input)
//! asked ─► suspended   (sol's core protocol: the client must re-run the call)
//! ```
//!
//! Permissions are asked by a tool while it runs, so `asked` comes after
//! `running`, and a call asks as often as its tool needs.

use serde::{Deserialize, Serialize};

/// Where a call is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CallState {
    /// The orchestrator sent the call.
    Received,
    /// The executor checked the tool and the input.
    Validated,
    /// The tool runs.
    Running,
    /// The tool asked a person for a permission.
    Asked,
    /// A person allowed what the tool asked.
    Allowed,
    /// A rule or a person refused; the call ends here.
    Denied,
    /// The tool answered.
    Completed,
    /// The call failed: unknown tool, invalid input, a tool error.
    Failed,
    /// The caller cancelled it.
    Cancelled,
    /// It ran out of time.
    TimedOut,
    /// The connection (or the sandbox) went away before the answer.
    Lost,
    /// The call ended waiting for a permission or an answer that a client
    /// of sol's core protocol supplies by calling again.
    Suspended,
}

impl CallState {
    /// The state's name in the journal and on the CLI.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the call's life is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Denied
                | Self::Completed
                | Self::Failed
                | Self::Cancelled
                | Self::TimedOut
                | Self::Lost
                | Self::Suspended
        )
    }

    /// Every state, in the order of a call's life.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// Whether a call in this state may go to `next`; the table of the
    /// module's diagram, and the only one.
    pub fn may_go_to(self, next: Self) -> bool {
        use CallState::{
            Allowed, Asked, Cancelled, Completed, Denied, Failed, Lost, Received, Running,
            Suspended, TimedOut, Validated,
        };
        if self.is_final() {
            return false;
        }
        if matches!(next, Cancelled | TimedOut | Lost) {
            return true;
        }
        matches!(
            (self, next),
            (Received, Validated | Failed)
                | (Validated, Running | Failed)
                | (Running, Asked | Denied | Completed | Failed)
                | (Asked, Allowed | Denied | Suspended)
                | (Allowed, Running)
        )
    }
}

impl std::fmt::Display for CallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step [`CallState::may_go_to`] does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal call transition {from} -> {to}")]
pub struct IllegalTransition {
    /// The state the call was in.
    pub from: CallState,
    /// The state it was asked to go to.
    pub to: CallState,
}

/// One step of a call's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The state entered.
    pub state: CallState,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Not seen but implied by a later observation (a successful answer
    /// implies the call was validated and ran); `at_ms` is then the time of
    /// that observation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
}

/// A call's state and every step that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    transitions: Vec<Transition>,
}

impl Lifecycle {
    /// A call received at `at_ms`.
    pub fn received(at_ms: i64) -> Self {
        Self {
            transitions: vec![Transition {
                state: CallState::Received,
                at_ms,
                inferred: false,
            }],
        }
    }

    /// The current state.
    pub fn state(&self) -> CallState {
        self.transitions
            .last()
            .map_or(CallState::Received, |t| t.state)
    }

    /// Every step so far, the first being `received`.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// Goes to `next`.
    ///
    /// # Errors
    /// [`IllegalTransition`], and the state stays, when the table does not
    /// allow the step.
    pub fn advance(&mut self, next: CallState, at_ms: i64) -> Result<(), IllegalTransition> {
        self.step(next, at_ms, false)
    }

    /// Goes to `next` through the states it implies, marked inferred: an
    /// answer implies the call was validated and ran (`received` →
    /// `completed` passes `validated` and `running`), and a tool that was
    /// allowed went on running. A step already taken (the state is `next`)
    /// is a no-op, so two observers of one event record it once.
    ///
    /// # Errors
    /// [`IllegalTransition`] from the current state, and the record stays,
    /// when `next` cannot be reached that way.
    pub fn advance_implied(
        &mut self,
        next: CallState,
        at_ms: i64,
    ) -> Result<(), IllegalTransition> {
        let from = self.state();
        if from == next {
            return Ok(());
        }
        let mut snapshot = self.clone();
        while !snapshot.state().may_go_to(next) {
            let implied = match snapshot.state() {
                CallState::Received => CallState::Validated,
                CallState::Validated | CallState::Allowed => CallState::Running,
                _ => return Err(IllegalTransition { from, to: next }),
            };
            snapshot.step(implied, at_ms, true)?;
        }
        snapshot.step(next, at_ms, false)?;
        *self = snapshot;
        Ok(())
    }

    fn step(
        &mut self,
        next: CallState,
        at_ms: i64,
        inferred: bool,
    ) -> Result<(), IllegalTransition> {
        let from = self.state();
        if !from.may_go_to(next) {
            return Err(IllegalTransition { from, to: next });
        }
        self.transitions.push(Transition {
            state: next,
            at_ms,
            inferred,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::CallState::*;
    use super::*;

    /// The legal steps, written out once more by hand: the table in
    /// `may_go_to` must say exactly this.
    const LEGAL: &[(CallState, CallState)] = &[
        (Received, Validated),
        (Received, Failed),
        (Validated, Running),
        (Validated, Failed),
        (Running, Asked),
        (Running, Denied),
        (Running, Completed),
        (Running, Failed),
        (Asked, Allowed),
        (Asked, Denied),
        (Asked, Suspended),
        (Allowed, Running),
    ];

    fn legal(from: CallState, to: CallState) -> bool {
        LEGAL.contains(&(from, to))
            || (!from.is_final() && matches!(to, Cancelled | TimedOut | Lost))
    }

    /// A lifecycle standing in `state`, reached by legal steps.
    fn standing_in(state: CallState) -> Lifecycle {
        let path: &[CallState] = match state {
            Received => &[],
            Validated => &[Validated],
            Running => &[Validated, Running],
            Asked => &[Validated, Running, Asked],
            Allowed => &[Validated, Running, Asked, Allowed],
            Denied => &[Validated, Running, Denied],
            Completed => &[Validated, Running, Completed],
            Failed => &[Failed],
            Cancelled => &[Cancelled],
            TimedOut => &[TimedOut],
            Lost => &[Lost],
            Suspended => &[Validated, Running, Asked, Suspended],
        };
        let mut life = Lifecycle::received(0);
        for (at, &next) in path.iter().enumerate() {
            life.advance(next, at as i64 + 1).expect("a legal path");
        }
        assert_eq!(life.state(), state);
        life
    }

    #[test]
    fn every_illegal_transition_is_refused_and_every_legal_one_taken() {
        let mut refused = 0;
        for from in CallState::all() {
            for to in CallState::all() {
                let mut life = standing_in(from);
                let before = life.clone();
                let result = life.advance(to, 100);
                if legal(from, to) {
                    assert_eq!(result, Ok(()), "{from} -> {to} should be legal");
                    assert_eq!(life.state(), to);
                } else {
                    assert_eq!(
                        result,
                        Err(IllegalTransition { from, to }),
                        "{from} -> {to} should be refused"
                    );
                    assert_eq!(life, before, "a refused step leaves the record as it was");
                    refused += 1;
                }
            }
        }
        // 12 states squared, minus the 12 hand-listed steps and the 3 stops
        // from each of the 5 states that are not final.
        assert_eq!(refused, 144 - 12 - 15);
    }

    #[test]
    fn final_states_are_final() {
        for state in CallState::all().filter(|s| s.is_final()) {
            assert!(
                CallState::all().all(|next| !state.may_go_to(next)),
                "{state}"
            );
        }
    }

    #[test]
    fn an_answer_implies_the_steps_before_it_and_marks_them() {
        let mut life = Lifecycle::received(10);
        life.advance_implied(Completed, 20).expect("implied path");
        let steps: Vec<(CallState, bool)> = life
            .transitions()
            .iter()
            .map(|t| (t.state, t.inferred))
            .collect();
        assert_eq!(
            steps,
            [
                (Received, false),
                (Validated, true),
                (Running, true),
                (Completed, false)
            ]
        );
        // An allowed tool went on running.
        let mut allowed = standing_in(Allowed);
        allowed.advance_implied(Asked, 30).expect("a second ask");
        let tail: Vec<CallState> = allowed.transitions()[4..].iter().map(|t| t.state).collect();
        assert_eq!(tail, [Allowed, Running, Asked]);
        // Nothing is implied backwards, and a refused implied step changes nothing.
        let mut done = standing_in(Completed);
        assert!(done.advance_implied(Running, 30).is_err());
        assert_eq!(done, standing_in(Completed));
        let mut asked = standing_in(Asked);
        assert_eq!(
            asked.advance_implied(Completed, 30),
            Err(IllegalTransition {
                from: Asked,
                to: Completed
            })
        );
    }

    #[test]
    fn names_round_trip() {
        for state in CallState::all() {
            assert_eq!(state.as_str().parse::<CallState>(), Ok(state));
        }
        assert_eq!(TimedOut.as_str(), "timed_out");
    }
}
