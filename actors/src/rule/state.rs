//! The per-target alert state machine of a rule.
//!
//! ```text
//!        breach               breach held for `duration`
//!   Ok ──────────▶ Pending ────────────────────────────▶ Firing
//!   ▲               │ value back in range                  │ value back in range
//!   └───────────────┴──────────────────────────────────────┘ (alert resolved)
//! ```
//!
//! One open alert per (rule, target): while `Firing`, further breaches never open
//! another. Notifications are a separate decision: the first when the alert fires (unless
//! silenced or inside the cooldown after the previous one), repeats while firing only
//! with `continuous` and at most once per cooldown, and one when it resolves.

use chrono::{DateTime, Duration, Utc};

use super::eval::SilenceWindow;

/// What a rule says about timing and notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RulePolicy {
    /// How long a breach must hold before the alert fires (0 = at once).
    pub duration: Duration,
    /// Minimum time between two notifications for the same target.
    pub cooldown: Duration,
    /// Re-notify while firing (at most once per cooldown).
    pub continuous: bool,
    /// Daily window without notifications.
    pub silence: Option<SilenceWindow>,
}

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Fired,
    StillFiring,
    Resolved,
}

/// What the rule actor must do after a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleEffect {
    /// Record a new open alert for the target.
    OpenAlert { value: f64, at: DateTime<Utc> },
    /// Resolve the target's open alert.
    ResolveAlert { at: DateTime<Utc> },
    /// Send a notification about the target's alert.
    Notify(Notice),
    /// Re-evaluate this target after `after` (a pending breach may come due).
    ScheduleCheck { after: std::time::Duration },
}

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetPhase {
    Ok,
    Pending { since: DateTime<Utc>, value: f64 },
    Firing { since: DateTime<Utc> },
}

/// One target's state under one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetState {
    pub phase: TargetPhase,
    last_notified: Option<DateTime<Utc>>,
}

impl Default for TargetState {
    fn default() -> Self {
        TargetState { phase: TargetPhase::Ok, last_notified: None }
    }
}

impl TargetState {
    /// A target that has an open alert in the store (after a restart): firing, with the
    /// alert's time as the last notification so the restart does not notify again.
    pub fn restore_firing(fired_at: DateTime<Utc>) -> Self {
        TargetState {
            phase: TargetPhase::Firing { since: fired_at },
            last_notified: Some(fired_at),
        }
    }

    fn may_notify(&self, now: DateTime<Utc>, p: &RulePolicy) -> bool {
        let silenced = p.silence.is_some_and(|w| w.contains(now.time()));
        let cooling = self.last_notified.is_some_and(|t| now - t < p.cooldown);
        !silenced && !cooling
    }

    fn fire(&mut self, value: f64, now: DateTime<Utc>, p: &RulePolicy) -> Vec<RuleEffect> {
        self.phase = TargetPhase::Firing { since: now };
        let mut fx = vec![RuleEffect::OpenAlert { value, at: now }];
        if self.may_notify(now, p) {
            self.last_notified = Some(now);
            fx.push(RuleEffect::Notify(Notice::Fired));
        }
        fx
    }

    /// A new observation of the target: `breached` with the observed `value`.
    pub fn observe(
        &mut self,
        breached: bool,
        value: f64,
        now: DateTime<Utc>,
        p: &RulePolicy,
    ) -> Vec<RuleEffect> {
        match (self.phase, breached) {
            (TargetPhase::Ok, false) => Vec::new(),
            (TargetPhase::Ok, true) if p.duration <= Duration::zero() => self.fire(value, now, p),
            (TargetPhase::Ok, true) => {
                self.phase = TargetPhase::Pending { since: now, value };
                let after = p.duration.to_std().unwrap_or_default();
                vec![RuleEffect::ScheduleCheck { after }]
            }
            (TargetPhase::Pending { .. }, false) => {
                self.phase = TargetPhase::Ok;
                Vec::new()
            }
            (TargetPhase::Pending { since, .. }, true) => {
                if now - since >= p.duration {
                    self.fire(value, now, p)
                } else {
                    self.phase = TargetPhase::Pending { since, value };
                    Vec::new()
                }
            }
            (TargetPhase::Firing { .. }, true) => {
                if p.continuous && self.may_notify(now, p) {
                    self.last_notified = Some(now);
                    vec![RuleEffect::Notify(Notice::StillFiring)]
                } else {
                    Vec::new()
                }
            }
            (TargetPhase::Firing { .. }, false) => {
                self.phase = TargetPhase::Ok;
                let mut fx = vec![RuleEffect::ResolveAlert { at: now }];
                // A recovery is always worth saying unless silenced.
                if !p.silence.is_some_and(|w| w.contains(now.time())) {
                    fx.push(RuleEffect::Notify(Notice::Resolved));
                }
                fx
            }
        }
    }

    /// Time passed without a new observation: a pending breach that has held for the
    /// rule's duration fires now (the last value stands for the whole period).
    pub fn tick(&mut self, now: DateTime<Utc>, p: &RulePolicy) -> Vec<RuleEffect> {
        match self.phase {
            TargetPhase::Pending { since, value } if now - since >= p.duration => {
                self.fire(value, now, p)
            }
            TargetPhase::Pending { since, .. } => {
                let after = (since + p.duration - now).to_std().unwrap_or_default();
                vec![RuleEffect::ScheduleCheck { after }]
            }
            _ => Vec::new(),
        }
    }
}
