//! Rule evaluation and the per-target state machine, with explicit times.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};

use super::eval::{Operator, SilenceWindow};
use super::state::{Notice, RuleEffect, RulePolicy, TargetPhase, TargetState};

/// 2026-11-22 00:00:00 UTC plus `secs`.
fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).single().expect("valid time")
        + Duration::seconds(secs)
}

fn policy(duration: i64, cooldown: i64, continuous: bool) -> RulePolicy {
    RulePolicy {
        duration: Duration::seconds(duration),
        cooldown: Duration::seconds(cooldown),
        continuous,
        silence: None,
    }
}

fn opened(fx: &[RuleEffect]) -> bool {
    fx.iter().any(|e| matches!(e, RuleEffect::OpenAlert { .. }))
}

fn notices(fx: &[RuleEffect]) -> Vec<Notice> {
    fx.iter()
        .filter_map(|e| match e {
            RuleEffect::Notify(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[test]
fn operators_compare_as_written() {
    let cases = [
        (">", 91.0, true),
        (">", 90.0, false),
        (">=", 90.0, true),
        ("<", 5.0, true),
        ("<=", 90.0, true),
        ("==", 90.0, true),
        ("!=", 90.0, false),
        ("!=", 1.0, true),
    ];
    for (op, v, expect) in cases {
        let op: Operator = op.parse().unwrap();
        assert_eq!(op.breached(v, 90.0), expect, "{v} {op} 90");
    }
    assert!("=>".parse::<Operator>().is_err());
    assert!(Operator::Eq.breached(0.1 + 0.2, 0.3), "float rounding is tolerated");
}

#[test]
fn silence_windows_may_span_midnight() {
    let night = SilenceWindow::parse("22:00", "06:00").unwrap();
    let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    assert!(night.contains(at(23, 30)) && night.contains(at(0, 0)) && night.contains(at(5, 59)));
    assert!(!night.contains(at(6, 0)) && !night.contains(at(12, 0)) && !night.contains(at(21, 59)));
    let lunch = SilenceWindow::parse("12:00", "13:00").unwrap();
    assert!(lunch.contains(at(12, 30)) && !lunch.contains(at(13, 0)));
    assert!(SilenceWindow::parse("25:00", "06:00").is_err());
    assert!(SilenceWindow::parse("06:00", "06:00").is_err());
    assert!(SilenceWindow::parse("6pm", "06:00").is_err());
}

#[test]
fn zero_duration_fires_at_once_and_only_once() {
    let p = policy(0, 300, false);
    let mut s = TargetState::default();
    let fx = s.observe(true, 95.0, t(0), &p);
    assert!(opened(&fx));
    assert_eq!(notices(&fx), [Notice::Fired]);
    for i in 1..10 {
        assert!(s.observe(true, 96.0, t(i * 10), &p).is_empty(), "no duplicate alert while firing");
    }
}

#[test]
fn a_breach_must_hold_for_the_duration() {
    let p = policy(60, 300, false);
    let mut s = TargetState::default();
    let fx = s.observe(true, 95.0, t(0), &p);
    assert_eq!(fx, [RuleEffect::ScheduleCheck { after: std::time::Duration::from_secs(60) }]);
    assert!(s.observe(true, 95.0, t(30), &p).is_empty());
    assert!(s.observe(false, 50.0, t(45), &p).is_empty(), "recovery before the duration cancels");
    assert_eq!(s.phase, TargetPhase::Ok);
    s.observe(true, 95.0, t(50), &p);
    assert!(opened(&s.observe(true, 97.0, t(110), &p)));
}

#[test]
fn a_pending_breach_fires_on_the_timer_without_new_samples() {
    let p = policy(60, 300, false);
    let mut s = TargetState::default();
    s.observe(true, 95.0, t(0), &p);
    assert_eq!(
        s.tick(t(30), &p),
        [RuleEffect::ScheduleCheck { after: std::time::Duration::from_secs(30) }]
    );
    let fx = s.tick(t(60), &p);
    assert!(fx.contains(&RuleEffect::OpenAlert { value: 95.0, at: t(60) }));
    assert!(s.tick(t(120), &p).is_empty());
}

#[test]
fn recovery_resolves_and_notifies_once() {
    let p = policy(0, 300, false);
    let mut s = TargetState::default();
    s.observe(true, 95.0, t(0), &p);
    let fx = s.observe(false, 40.0, t(10), &p);
    assert!(fx.contains(&RuleEffect::ResolveAlert { at: t(10) }));
    assert_eq!(notices(&fx), [Notice::Resolved]);
    assert!(s.observe(false, 40.0, t(20), &p).is_empty());
}

#[test]
fn cooldown_suppresses_a_quick_refire_notification_but_not_the_alert() {
    let p = policy(0, 300, false);
    let mut s = TargetState::default();
    s.observe(true, 95.0, t(0), &p);
    s.observe(false, 40.0, t(10), &p);
    let fx = s.observe(true, 95.0, t(20), &p);
    assert!(opened(&fx), "the alert is recorded");
    assert!(notices(&fx).is_empty(), "but nobody is paged again within the cooldown");
    s.observe(false, 40.0, t(30), &p);
    assert_eq!(notices(&s.observe(true, 95.0, t(400), &p)), [Notice::Fired]);
}

#[test]
fn continuous_alerts_renotify_at_most_once_per_cooldown() {
    let p = policy(0, 120, true);
    let mut s = TargetState::default();
    s.observe(true, 95.0, t(0), &p);
    assert!(notices(&s.observe(true, 95.0, t(60), &p)).is_empty());
    assert_eq!(notices(&s.observe(true, 95.0, t(120), &p)), [Notice::StillFiring]);
    assert!(notices(&s.observe(true, 95.0, t(200), &p)).is_empty());
    assert_eq!(notices(&s.observe(true, 95.0, t(240), &p)), [Notice::StillFiring]);
}

#[test]
fn silence_windows_mute_notifications_but_alerts_are_recorded() {
    let mut p = policy(0, 0, false);
    p.silence = Some(SilenceWindow::parse("00:00", "01:00").unwrap());
    let mut s = TargetState::default();
    let fx = s.observe(true, 95.0, t(60), &p);
    assert!(opened(&fx));
    assert!(notices(&fx).is_empty());
    let fx = s.observe(false, 10.0, t(120), &p);
    assert!(fx.contains(&RuleEffect::ResolveAlert { at: t(120) }));
    assert!(notices(&fx).is_empty());
    assert_eq!(notices(&s.observe(true, 95.0, t(3600), &p)), [Notice::Fired], "outside the window");
}

#[test]
fn a_restored_firing_target_neither_refires_nor_renotifies() {
    let p = policy(0, 300, true);
    let mut s = TargetState::restore_firing(t(0));
    assert!(
        s.observe(true, 95.0, t(10), &p).is_empty(),
        "no duplicate alert or page after a restart"
    );
    assert_eq!(notices(&s.observe(true, 95.0, t(300), &p)), [Notice::StillFiring]);
    assert!(s.observe(false, 10.0, t(310), &p).contains(&RuleEffect::ResolveAlert { at: t(310) }));
}
