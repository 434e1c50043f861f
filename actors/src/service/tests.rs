//! The service state machine with explicit times.

use chrono::{DateTime, TimeZone, Utc};

use super::state::{ServiceEffect, ServiceState};
use crate::ids::{HostId, ServiceId};
use crate::model::{ServiceRecord, ServiceStatus};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).single().expect("valid time")
}

fn record() -> ServiceRecord {
    ServiceRecord {
        id: ServiceId(1),
        host_id: HostId(1),
        name: "api".into(),
        check_interval_secs: 60,
        status: ServiceStatus::Unknown,
        kind: "http".into(),
        target: "http://localhost/health".into(),
        timeout_secs: 5,
    }
}

fn gen(fx: &[ServiceEffect]) -> u64 {
    fx.iter()
        .find_map(|e| match e {
            ServiceEffect::ScheduleDeadline { generation, .. } => Some(*generation),
            _ => None,
        })
        .expect("a deadline is scheduled")
}

fn change(fx: &[ServiceEffect]) -> Option<(ServiceStatus, Option<String>)> {
    fx.iter().find_map(|e| match e {
        ServiceEffect::StatusChanged { status, error, .. } => Some((*status, error.clone())),
        _ => None,
    })
}

#[test]
fn check_results_drive_up_and_down_with_one_event_per_change() {
    let (mut s, _) = ServiceState::restore(&record(), t(0));
    assert_eq!(change(&s.on_check(ServiceStatus::Up, None, t(1))), Some((ServiceStatus::Up, None)));
    assert_eq!(change(&s.on_check(ServiceStatus::Up, None, t(61))), None);
    assert_eq!(
        change(&s.on_check(ServiceStatus::Down, Some("refused".into()), t(121))),
        Some((ServiceStatus::Down, Some("refused".into())))
    );
    assert_eq!(
        change(&s.on_check(ServiceStatus::Up, None, t(181))),
        Some((ServiceStatus::Up, None))
    );
}

#[test]
fn a_silent_service_goes_down_after_three_intervals_when_the_host_is_online() {
    let (mut s, fx) = ServiceState::restore(&record(), t(0));
    let g = gen(&fx);
    s.on_check(ServiceStatus::Up, None, t(10));
    // The restore timer fires at 180 s; the check at 10 s moved the due time to 190 s.
    let fx = s.on_deadline(g, t(180), true);
    assert_eq!(change(&fx), None);
    let fx = s.on_deadline(gen(&fx), t(190), true);
    assert_eq!(change(&fx), Some((ServiceStatus::Down, Some("no check result for 180 s".into()))));
    assert_eq!(s.status, ServiceStatus::Down);
}

#[test]
fn a_silent_service_on_an_offline_host_is_not_judged() {
    let (mut s, fx) = ServiceState::restore(&record(), t(0));
    s.on_check(ServiceStatus::Up, None, t(0));
    let fx = s.on_deadline(gen(&fx), t(180), false);
    assert_eq!(change(&fx), None);
    assert_eq!(s.status, ServiceStatus::Up);
    // A full new window starts; if the host is back and still silent, it goes down.
    let fx = s.on_deadline(gen(&fx), t(360), true);
    assert_eq!(change(&fx).map(|c| c.0), Some(ServiceStatus::Down));
}

#[test]
fn stale_deadlines_and_unknown_results_change_nothing() {
    let (mut s, fx) = ServiceState::restore(&record(), t(0));
    let old = gen(&fx);
    let fx = s.apply_interval(10, t(5));
    assert!(s.on_deadline(old, t(1000), true).is_empty());
    assert!(s.on_check(ServiceStatus::Unknown, None, t(6)).is_empty());
    assert_eq!(
        change(&s.on_deadline(gen(&fx), t(35), true)).map(|c| c.0),
        Some(ServiceStatus::Down)
    );
}
