//! The host state machine with explicit times, and the actor under paused tokio time.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::state::{HostEffect, HostState};
use crate::ids::HostId;
use crate::model::{HostRecord, HostStatus};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).single().expect("valid time")
}

fn record(status: HostStatus, last: Option<DateTime<Utc>>) -> HostRecord {
    HostRecord {
        id: HostId(1),
        hostname: "web-01".into(),
        status,
        last_heartbeat: last,
        group_name: None,
        tags: Vec::new(),
    }
}

fn deadline(effects: &[HostEffect]) -> Option<(std::time::Duration, u64)> {
    effects.iter().find_map(|e| match e {
        HostEffect::ScheduleDeadline { after, generation } => Some((*after, *generation)),
        _ => None,
    })
}

fn status_change(effects: &[HostEffect]) -> Option<HostStatus> {
    effects.iter().find_map(|e| match e {
        HostEffect::StatusChanged { status, .. } => Some(*status),
        _ => None,
    })
}

#[test]
fn goes_offline_exactly_at_the_deadline_and_not_before() {
    let (mut s, fx) =
        HostState::restore(&record(HostStatus::Offline, None), Duration::seconds(120), t(0));
    assert!(fx.is_empty(), "an offline host needs no timer");
    let fx = s.on_heartbeat(t(10));
    assert_eq!(status_change(&fx), Some(HostStatus::Online));
    let (after, gen) = deadline(&fx).expect("deadline armed");
    assert_eq!(after, std::time::Duration::from_secs(120));

    // A heartbeat at 100 s moves the window; the timer set for 130 s fires early.
    assert!(s
        .on_heartbeat(t(100))
        .iter()
        .all(|e| !matches!(e, HostEffect::ScheduleDeadline { .. })));
    let fx = s.on_deadline(gen, t(130));
    assert_eq!(status_change(&fx), None);
    let (after, gen) = deadline(&fx).expect("re-armed for the rest of the window");
    assert_eq!(after, std::time::Duration::from_secs(90));

    let fx = s.on_deadline(gen, t(219));
    assert_eq!(status_change(&fx), None, "one second early is not offline");
    let (_, gen) = deadline(&fx).unwrap();
    let fx = s.on_deadline(gen, t(220));
    assert_eq!(status_change(&fx), Some(HostStatus::Offline));
    assert_eq!(s.status, HostStatus::Offline);
}

#[test]
fn next_heartbeat_after_offline_brings_host_back_online_once() {
    let (mut s, _) =
        HostState::restore(&record(HostStatus::Offline, Some(t(0))), Duration::seconds(60), t(0));
    let fx = s.on_heartbeat(t(500));
    assert_eq!(status_change(&fx), Some(HostStatus::Online));
    assert!(deadline(&fx).is_some());
    let fx = s.on_heartbeat(t(501));
    assert_eq!(status_change(&fx), None, "no duplicate online event");
}

#[test]
fn stale_timers_are_ignored() {
    let (mut s, _) =
        HostState::restore(&record(HostStatus::Offline, None), Duration::seconds(60), t(0));
    let (_, old) = deadline(&s.on_heartbeat(t(0))).unwrap();
    let (_, new) = deadline(&s.apply_timeout(Duration::seconds(30), t(5))).unwrap();
    assert_ne!(old, new);
    assert!(s.on_deadline(old, t(100)).is_empty(), "the old generation does nothing");
    assert_eq!(s.status, HostStatus::Online);
    assert_eq!(status_change(&s.on_deadline(new, t(30))), Some(HostStatus::Offline));
}

#[test]
fn changing_the_timeout_rearms_with_the_new_window() {
    let (mut s, _) =
        HostState::restore(&record(HostStatus::Offline, None), Duration::seconds(120), t(0));
    s.on_heartbeat(t(0));
    let (after, _) = deadline(&s.apply_timeout(Duration::seconds(30), t(10))).unwrap();
    assert_eq!(after, std::time::Duration::from_secs(20));
    let (after, _) = deadline(&s.apply_timeout(Duration::seconds(5), t(10))).unwrap();
    assert_eq!(after, std::time::Duration::ZERO, "already overdue: fire at once");
}

#[test]
fn restored_online_host_gets_a_full_window_from_the_restart() {
    let (s, fx) = HostState::restore(
        &record(HostStatus::Online, Some(t(0))),
        Duration::seconds(120),
        t(1000),
    );
    assert_eq!(s.status, HostStatus::Online);
    let (after, _) = deadline(&fx).expect("armed");
    assert_eq!(after, std::time::Duration::from_secs(120));
}

#[test]
fn last_seen_is_persisted_at_most_once_a_minute() {
    let (mut s, _) =
        HostState::restore(&record(HostStatus::Offline, None), Duration::seconds(120), t(0));
    let persisted =
        |fx: &[HostEffect]| fx.iter().any(|e| matches!(e, HostEffect::PersistLastSeen(_)));
    assert!(persisted(&s.on_heartbeat(t(0))));
    assert!(!persisted(&s.on_heartbeat(t(30))));
    assert!(!persisted(&s.on_heartbeat(t(59))));
    assert!(persisted(&s.on_heartbeat(t(60))));
}

#[cfg(feature = "testkit")]
mod actor {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use crate::clock::Clock;
    use crate::ids::{HostId, ServiceId};
    use crate::model::{HostRecord, HostStatus, LiveEvent, ServiceRecord, ServiceStatus};
    use crate::ports::{ActorStore, StoreError};
    use crate::root::Runtime;

    /// An in-memory store that records every status write.
    #[derive(Default)]
    pub struct MemStore {
        pub hosts: Mutex<HashMap<HostId, HostRecord>>,
        pub writes: Mutex<Vec<(HostId, HostStatus)>>,
    }

    #[async_trait]
    impl ActorStore for MemStore {
        async fn load_host(&self, id: HostId) -> Result<Option<HostRecord>, StoreError> {
            Ok(self.hosts.lock().unwrap().get(&id).cloned())
        }
        async fn set_host_status(
            &self,
            id: HostId,
            status: HostStatus,
            _at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            self.writes.lock().unwrap().push((id, status));
            if let Some(h) = self.hosts.lock().unwrap().get_mut(&id) {
                h.status = status;
            }
            Ok(())
        }
        fn record_last_seen(&self, id: HostId, at: DateTime<Utc>) {
            if let Some(h) = self.hosts.lock().unwrap().get_mut(&id) {
                h.last_heartbeat = Some(at);
            }
        }
        fn record_partitions(&self, _id: HostId, _json: Arc<str>) {}
        async fn sla_snapshot(
            &self,
            _id: ServiceId,
            _now: DateTime<Utc>,
        ) -> Result<Option<crate::ports::SlaSnapshot>, StoreError> {
            Ok(None)
        }
        async fn record_sla(
            &self,
            _id: ServiceId,
            _effect: &crate::sla::SlaEffect,
            _description: &str,
            _now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            Ok(())
        }
        async fn load_service(&self, _id: ServiceId) -> Result<Option<ServiceRecord>, StoreError> {
            Ok(None)
        }
        async fn record_check(
            &self,
            _id: ServiceId,
            _s: ServiceStatus,
            _ms: Option<f64>,
            _code: Option<i64>,
            _e: Option<&str>,
            _at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            Ok(())
        }
        async fn set_service_status(
            &self,
            _id: ServiceId,
            _s: ServiceStatus,
            _e: Option<&str>,
            _at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            Ok(())
        }
    }

    type OpenEntry = (crate::ids::RuleId, String, crate::ids::AlertId, DateTime<Utc>);

    /// Alerts kept in memory (the host test does not exercise rules).
    #[derive(Default)]
    pub struct MemAlerts {
        open: Mutex<Vec<OpenEntry>>,
    }

    #[async_trait]
    impl crate::ports::AlertStore for MemAlerts {
        async fn open_alert(
            &self,
            a: &crate::ports::NewAlert,
        ) -> Result<Option<crate::ids::AlertId>, StoreError> {
            let mut open = self.open.lock().unwrap();
            if open.iter().any(|(r, t, _, _)| *r == a.rule_id && *t == a.target) {
                return Ok(None);
            }
            let id = crate::ids::AlertId(open.len() as i64 + 1);
            open.push((a.rule_id, a.target.clone(), id, a.fired_at));
            Ok(Some(id))
        }
        async fn resolve_alert(
            &self,
            rule: crate::ids::RuleId,
            target: &str,
            _at: DateTime<Utc>,
        ) -> Result<Option<crate::ids::AlertId>, StoreError> {
            let mut open = self.open.lock().unwrap();
            let pos = open.iter().position(|(r, t, _, _)| *r == rule && t == target);
            Ok(pos.map(|i| open.remove(i).2))
        }
        async fn open_alerts(
            &self,
            rule: crate::ids::RuleId,
        ) -> Result<Vec<crate::ports::OpenAlert>, StoreError> {
            let open = self.open.lock().unwrap();
            Ok(open
                .iter()
                .filter(|(r, ..)| *r == rule)
                .map(|(_, t, id, at)| crate::ports::OpenAlert {
                    id: *id,
                    target: t.clone(),
                    fired_at: *at,
                })
                .collect())
        }
    }

    /// A clock that follows tokio's (paused) time, so timers and `now` agree.
    struct TokioClock {
        base: DateTime<Utc>,
        start: tokio::time::Instant,
    }

    impl Clock for TokioClock {
        fn now(&self) -> DateTime<Utc> {
            self.base + chrono::Duration::from_std(self.start.elapsed()).unwrap()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashed_host_actor_is_restarted_and_still_detects_offline_once() {
        let store = Arc::new(MemStore::default());
        let record = HostRecord {
            id: HostId(7),
            hostname: "db-01".into(),
            group_name: None,
            tags: Vec::new(),
            status: HostStatus::Offline,
            last_heartbeat: None,
        };
        store.hosts.lock().unwrap().insert(HostId(7), record.clone());
        let clock = Arc::new(TokioClock { base: super::t(0), start: tokio::time::Instant::now() });
        let rt = Runtime::start(
            crate::deps::RuntimePorts {
                store: store.clone(),
                alerts: Arc::new(MemAlerts::default()),
                clock: clock.clone(),
                prober: None,
                shared_cache: None,
            },
            10,
            false,
            60,
        )
        .await
        .unwrap();
        let mut events = rt.events.subscribe();
        rt.start_all(vec![(record, Some(1))], vec![]).await.unwrap();

        let entry = rt.registry.host(HostId(7)).unwrap();
        entry.actor.cast(crate::host::HostMsg::RecordHeartbeat { at: clock.now() }).unwrap();
        let ev = events.recv().await.unwrap();
        assert!(matches!(ev, LiveEvent::HostStatusChanged { status: HostStatus::Online, .. }));

        entry.actor.cast(crate::host::HostMsg::Crash).unwrap();
        // Wait for the supervisor to swap in a new actor.
        for _ in 0..100 {
            if rt.registry.host(HostId(7)).unwrap().actor.get_id() != entry.actor.get_id() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let restarted = rt.registry.host(HostId(7)).unwrap();
        assert_ne!(restarted.actor.get_id(), entry.actor.get_id(), "a new actor took over");
        assert_eq!(restarted.live.status(), HostStatus::Online);

        // No heartbeats: exactly one offline event, one full window after the restart.
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
        let ev = events.recv().await.unwrap();
        assert!(
            matches!(ev, LiveEvent::HostStatusChanged { status: HostStatus::Offline, .. }),
            "{ev:?}"
        );
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        assert!(events.try_recv().is_err(), "no duplicate events");
        assert_eq!(
            *store.writes.lock().unwrap(),
            vec![(HostId(7), HostStatus::Online), (HostId(7), HostStatus::Offline)]
        );

        // And it comes back online with the next heartbeat.
        restarted.actor.cast(crate::host::HostMsg::RecordHeartbeat { at: clock.now() }).unwrap();
        let ev = events.recv().await.unwrap();
        assert!(matches!(ev, LiveEvent::HostStatusChanged { status: HostStatus::Online, .. }));
        rt.stop().await;
    }
}
