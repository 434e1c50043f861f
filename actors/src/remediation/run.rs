//! The lifecycle of a remediation run:
//!
//! ```text
//! pending ─┬─> blocked
//!          ├─> pending_approval ─┬─> approved ─> executing ─┬─> success
//!          │                     ├─> rejected               └─> failed
//!          │                     └─> expired
//!          └─> approved ─> executing …
//! pending | approved | executing ──interrupted──> failed
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pending,
    Blocked,
    PendingApproval,
    Approved,
    Rejected,
    Expired,
    Executing,
    Success,
    Failed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 9] = [
        Self::Pending,
        Self::Blocked,
        Self::PendingApproval,
        Self::Approved,
        Self::Rejected,
        Self::Expired,
        Self::Executing,
        Self::Success,
        Self::Failed,
    ];
    /// Runs that keep their alert "in progress" (a second trigger is refused).
    pub const ACTIVE: [RunStatus; 4] =
        [Self::Pending, Self::PendingApproval, Self::Approved, Self::Executing];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Blocked => "blocked",
            Self::PendingApproval => "pending_approval",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Executing => "executing",
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Blocked | Self::Rejected | Self::Expired | Self::Success | Self::Failed
        )
    }
}

/// What moves a run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    Block,
    AskApproval,
    /// Approved by the policy (automatic) or a person.
    Approve,
    Reject,
    Expire,
    Start,
    Finish {
        success: bool,
    },
    /// The process or actor died while the run was under way.
    Interrupt,
}

/// A transition the lifecycle does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {} run cannot {event:?}", from.as_str())]
pub struct InvalidTransition {
    pub from: RunStatus,
    pub event: RunEvent,
}

/// The status after `event`, or why it does not apply.
pub fn next(from: RunStatus, event: RunEvent) -> Result<RunStatus, InvalidTransition> {
    use RunEvent as E;
    use RunStatus as S;
    let to = match (from, event) {
        (S::Pending, E::Block) => S::Blocked,
        (S::Pending, E::AskApproval) => S::PendingApproval,
        (S::Pending | S::PendingApproval, E::Approve) => S::Approved,
        (S::PendingApproval, E::Reject) => S::Rejected,
        (S::PendingApproval, E::Expire) => S::Expired,
        (S::Approved, E::Start) => S::Executing,
        (S::Executing, E::Finish { success: true }) => S::Success,
        (S::Executing, E::Finish { success: false }) => S::Failed,
        (S::Pending | S::Approved | S::Executing, E::Interrupt) => S::Failed,
        _ => return Err(InvalidTransition { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_paths() {
        let auto = [RunEvent::Approve, RunEvent::Start, RunEvent::Finish { success: true }];
        let end = auto.iter().try_fold(RunStatus::Pending, |s, e| next(s, *e));
        assert_eq!(end, Ok(RunStatus::Success));
        let confirm = [RunEvent::AskApproval, RunEvent::Approve, RunEvent::Start];
        let end = confirm.iter().try_fold(RunStatus::Pending, |s, e| next(s, *e));
        assert_eq!(end, Ok(RunStatus::Executing));
    }

    #[test]
    fn only_pending_approval_is_decided_by_people() {
        for status in RunStatus::ALL {
            let rejectable = next(status, RunEvent::Reject).is_ok();
            assert_eq!(rejectable, status == RunStatus::PendingApproval, "{status:?}");
            assert_eq!(
                next(status, RunEvent::Expire).is_ok(),
                status == RunStatus::PendingApproval
            );
        }
        let err = next(RunStatus::Success, RunEvent::Approve).unwrap_err();
        assert_eq!(err.to_string(), "a success run cannot Approve");
    }

    #[test]
    fn terminal_runs_never_move_and_interrupts_fail_live_ones() {
        let events = [
            RunEvent::Block,
            RunEvent::AskApproval,
            RunEvent::Approve,
            RunEvent::Reject,
            RunEvent::Expire,
            RunEvent::Start,
            RunEvent::Finish { success: true },
            RunEvent::Interrupt,
        ];
        for status in RunStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for event in events {
                assert!(next(status, event).is_err(), "{status:?} {event:?}");
            }
        }
        for status in [RunStatus::Pending, RunStatus::Approved, RunStatus::Executing] {
            assert_eq!(next(status, RunEvent::Interrupt), Ok(RunStatus::Failed));
        }
        assert!(next(RunStatus::PendingApproval, RunEvent::Interrupt).is_err());
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(status));
        }
    }
}
