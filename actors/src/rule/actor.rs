//! The alert rule actor: one per rule, holding each target's state machine. It is sent
//! only verdicts that can change something (a breach, or news about a target that is
//! not `Ok`), so quiet metrics cost the rule nothing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::config::{RuleConfig, RuleKind, TargetKey, Verdict};
use super::state::{Notice, RuleEffect, TargetPhase, TargetState};
use crate::broadcast::Broadcaster;
use crate::clock::Clock;
use crate::ids::AlertId;
use crate::model::{AlertEvent, AlertEventKind, LiveEvent};
use crate::ports::{AlertStore, NewAlert};

/// Targets of a rule that are not `Ok`; shared with the supervisor's fan-out.
pub type ActiveTargets = Arc<RwLock<HashMap<TargetKey, Activity>>>;

/// Why a target's quiet samples must still reach its rule actor: the target is not `Ok`,
/// or breaches forwarded by the supervisor are still queued for the actor (a quiet sample
/// right behind a breach must not be filtered out before the breach is judged).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub in_flight: u32,
    pub live: bool,
}

/// Records the actor's view of `key`; drops the entry once nothing keeps it relevant.
fn set_live(active: &mut HashMap<TargetKey, Activity>, key: TargetKey, live: bool) {
    let entry = active.entry(key).or_default();
    entry.live = live;
    if !entry.live && entry.in_flight == 0 {
        active.remove(&key);
    }
}

/// Messages of a rule actor.
pub enum RuleMsg {
    /// Verdicts about some targets (from the supervisor's fan-out; cast).
    Judge(Vec<Verdict>),
    /// The rule was edited; the new configuration applies from now on.
    ApplyConfig(Arc<RuleConfig>),
    /// A pending target may have come due (timer; may be stale).
    CheckTarget { target: String },
    /// Periodic re-evaluation (every `alert_check_interval`): quiet log rules resolve.
    Periodic,
    /// The `alert_check_interval` setting changed.
    ApplyCheckInterval { secs: u64 },
    /// Makes the actor fail, to exercise supervision (test builds only).
    #[cfg(feature = "testkit")]
    Crash,
}

pub struct RuleActor;

#[derive(Clone)]
pub struct RuleArgs {
    pub config: Arc<RuleConfig>,
    pub store: Arc<dyn AlertStore>,
    pub events: Broadcaster,
    pub clock: Arc<dyn Clock>,
    pub active: ActiveTargets,
    pub check_interval_secs: u64,
}

pub struct RuleState {
    args: RuleArgs,
    targets: HashMap<String, TargetState>,
    last: HashMap<String, Verdict>,
    alert_ids: HashMap<String, AlertId>,
    last_match: HashMap<String, DateTime<Utc>>,
    periodic: Option<tokio::task::JoinHandle<()>>,
}

impl RuleState {
    fn event(&self, kind: AlertEventKind, target: &str, at: DateTime<Utc>) -> Option<LiveEvent> {
        let alert_id = *self.alert_ids.get(target)?;
        let v = self.last.get(target);
        let c = &self.args.config;
        Some(LiveEvent::Alert(AlertEvent {
            alert_id,
            rule_id: Some(c.id),
            kind,
            severity: c.severity.clone(),
            title: v.map_or_else(|| c.name.clone(), |v| format!("{}: {}", c.name, v.subject)),
            message: v.map(|v| v.subject.clone()),
            host_id: v.and_then(|v| v.host_id),
            metric_value: v.map(|v| v.value),
            at,
        }))
    }
}

impl RuleActor {
    async fn apply(
        &self,
        myself: &ActorRef<RuleMsg>,
        st: &mut RuleState,
        target: &str,
        effects: Vec<RuleEffect>,
    ) {
        for effect in effects {
            match effect {
                RuleEffect::OpenAlert { value, at } => {
                    let Some(v) = st.last.get(target).cloned() else { continue };
                    let c = Arc::clone(&st.args.config);
                    let alert = NewAlert {
                        rule_id: c.id,
                        target: target.to_string(),
                        host_id: v.host_id,
                        service_id: v.service_id,
                        database_id: v.database_id,
                        severity: c.severity.clone(),
                        title: format!("{}: {}", c.name, v.subject),
                        message: v.subject.clone(),
                        metric_value: Some(value),
                        threshold: matches!(
                            c.kind,
                            RuleKind::Metric { .. } | RuleKind::DbMetric { .. }
                        )
                        .then_some(c.threshold),
                        fired_at: at,
                    };
                    match st.args.store.open_alert(&alert).await {
                        Ok(Some(id)) => {
                            st.alert_ids.insert(target.to_string(), id);
                            tracing::info!(rule_id = %c.id, alert_id = %id, target, "alert fired");
                            if let Some(ev) = st.event(AlertEventKind::Fired, target, at) {
                                st.args.events.emit(ev);
                            }
                        }
                        Ok(None) => tracing::debug!(rule_id = %c.id, target, "alert already open"),
                        Err(e) => {
                            tracing::error!(rule_id = %c.id, target, error = %e, "could not record alert")
                        }
                    }
                }
                RuleEffect::ResolveAlert { at } => {
                    let rule = st.args.config.id;
                    match st.args.store.resolve_alert(rule, target, at).await {
                        Ok(Some(id)) => {
                            st.alert_ids.insert(target.to_string(), id);
                            tracing::info!(rule_id = %rule, alert_id = %id, target, "alert resolved");
                            if let Some(ev) = st.event(AlertEventKind::Resolved, target, at) {
                                st.args.events.emit(ev);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(rule_id = %rule, target, error = %e, "could not resolve alert")
                        }
                    }
                }
                RuleEffect::Notify(notice) => {
                    let kind = match notice {
                        Notice::Fired => AlertEventKind::NotifyFired,
                        Notice::StillFiring => AlertEventKind::NotifyRepeat,
                        Notice::Resolved => AlertEventKind::NotifyResolved,
                    };
                    if let Some(ev) = st.event(kind, target, st.args.clock.now()) {
                        st.args.events.emit(ev);
                    }
                    if notice == Notice::Resolved {
                        st.alert_ids.remove(target);
                    }
                }
                RuleEffect::ScheduleCheck { after } => {
                    let target = target.to_string();
                    drop(myself.send_after(after, move || RuleMsg::CheckTarget { target }));
                }
            }
        }
        let phase = st.targets.get(target).map(|t| t.phase);
        let Ok(key) = target.parse::<TargetKey>() else { return };
        let mut active = st.args.active.write().expect("active targets lock is never poisoned");
        set_live(&mut active, key, !matches!(phase, Some(TargetPhase::Ok) | None));
    }
}

impl Actor for RuleActor {
    type Msg = RuleMsg;
    type State = RuleState;
    type Arguments = RuleArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RuleMsg>,
        args: RuleArgs,
    ) -> Result<RuleState, ActorProcessingErr> {
        // Open alerts in the store are the truth about what is firing: rebuilding from
        // them means a restart neither re-fires nor re-notifies.
        let open = args.store.open_alerts(args.config.id).await?;
        let mut st = RuleState {
            targets: HashMap::new(),
            last: HashMap::new(),
            alert_ids: HashMap::new(),
            last_match: HashMap::new(),
            periodic: None,
            args,
        };
        {
            let mut active = st.args.active.write().expect("active targets lock is never poisoned");
            active.clear();
            for a in open {
                st.targets.insert(a.target.clone(), TargetState::restore_firing(a.fired_at));
                st.alert_ids.insert(a.target.clone(), a.id);
                st.last_match.insert(a.target.clone(), a.fired_at);
                if let Ok(key) = a.target.parse::<TargetKey>() {
                    set_live(&mut active, key, true);
                }
            }
        }
        let every = std::time::Duration::from_secs(st.args.check_interval_secs.max(1));
        st.periodic = Some(myself.send_interval(every, || RuleMsg::Periodic));
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<RuleMsg>,
        msg: RuleMsg,
        st: &mut RuleState,
    ) -> Result<(), ActorProcessingErr> {
        let now = st.args.clock.now();
        match msg {
            RuleMsg::Judge(verdicts) => {
                if !st.args.config.enabled {
                    return Ok(());
                }
                let policy = st.args.config.policy;
                for v in verdicts {
                    let target = v.target.clone();
                    if v.breached {
                        st.last_match.insert(target.clone(), now);
                        let mut active =
                            st.args.active.write().expect("active targets lock is never poisoned");
                        if let Some(entry) = active.get_mut(&v.key) {
                            entry.in_flight = entry.in_flight.saturating_sub(1);
                        }
                    }
                    let (breached, value) = (v.breached, v.value);
                    st.last.insert(target.clone(), v);
                    let effects = st
                        .targets
                        .entry(target.clone())
                        .or_default()
                        .observe(breached, value, now, &policy);
                    self.apply(&myself, st, &target, effects).await;
                }
            }
            RuleMsg::ApplyConfig(config) => {
                if !config.enabled {
                    // A disabled rule's alerts are resolved by whoever disabled it; start
                    // from a clean slate when it is enabled again.
                    st.targets.clear();
                    st.alert_ids.clear();
                    st.last_match.clear();
                    st.args.active.write().expect("active targets lock is never poisoned").clear();
                }
                st.args.config = config;
            }
            RuleMsg::ApplyCheckInterval { secs } => {
                st.args.check_interval_secs = secs;
                if let Some(old) = st.periodic.take() {
                    old.abort();
                }
                let every = std::time::Duration::from_secs(secs.max(1));
                st.periodic = Some(myself.send_interval(every, || RuleMsg::Periodic));
            }
            RuleMsg::CheckTarget { target } => {
                let policy = st.args.config.policy;
                if let Some(t) = st.targets.get_mut(&target) {
                    let effects = t.tick(now, &policy);
                    self.apply(&myself, st, &target, effects).await;
                }
            }
            RuleMsg::Periodic => {
                if let RuleKind::LogKeyword { .. } = st.args.config.kind {
                    // A log alert resolves once no matching line arrived for the cooldown
                    // (at least one check interval).
                    let policy = st.args.config.policy;
                    let quiet = policy
                        .cooldown
                        .max(chrono::Duration::seconds(st.args.check_interval_secs as i64));
                    let due: Vec<String> = st
                        .last_match
                        .iter()
                        .filter(|(_, at)| now - **at >= quiet)
                        .map(|(t, _)| t.clone())
                        .collect();
                    for target in due {
                        st.last_match.remove(&target);
                        let effects = st
                            .targets
                            .entry(target.clone())
                            .or_default()
                            .observe(false, 0.0, now, &policy);
                        self.apply(&myself, st, &target, effects).await;
                    }
                }
            }
            #[cfg(feature = "testkit")]
            RuleMsg::Crash => {
                return Err(format!("rule {} was told to crash", st.args.config.id).into())
            }
        }
        Ok(())
    }
}
