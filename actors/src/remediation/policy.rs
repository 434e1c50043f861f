//! Whether a run may execute on its own, must wait for a person, or must never run.
//!
//! The order follows the incidents issue so both API families apply one guard: what is
//! never allowed blocks (risk `block`, a refused or forbidden command, a placeholder
//! the alert cannot fill); then what needs a person asks for approval (a failed
//! `require_label` check, an open circuit breaker, a spent hourly quota or per-host
//! limit, risk `confirm`); everything else runs.

use super::guard::CommandGuard;
use super::runbook::{RiskLevel, Runbook};

/// The limits the settings set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Automatic executions across Warden in a rolling hour.
    pub hourly_quota: u32,
    /// Automatic executions on one host in a rolling hour.
    pub per_host_hour: u32,
    /// Consecutive failed runs on a host that stop automatic execution there.
    pub breaker_failures: u32,
}

/// What the store counted for the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub auto_executions_last_hour: u32,
    pub host_executions_last_hour: u32,
    pub host_consecutive_failures: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Execute,
    AskApproval(String),
    Block(String),
}

/// Decides for a runbook whose commands have been rendered for the alert.
pub fn decide(
    runbook: &Runbook,
    rendered: &[String],
    guard: &CommandGuard,
    host_tags: &[String],
    usage: Usage,
    limits: Limits,
) -> Decision {
    if runbook.risk_level == RiskLevel::Block {
        return Decision::Block(format!("runbook '{}' has risk level block", runbook.name));
    }
    for command in rendered {
        if let Err(refusal) = guard.check(command) {
            return Decision::Block(format!("command refused by the safety check: {refusal}"));
        }
        if let Some(placeholder) = unfilled_placeholder(command) {
            return Decision::Block(format!(
                "the alert has no value for {placeholder} in '{command}'"
            ));
        }
    }
    for label in runbook.required_labels() {
        let present = host_tags
            .iter()
            .any(|t| t == label || t.split_once(':').is_some_and(|(k, _)| k == label));
        if !present {
            return Decision::AskApproval(format!(
                "safety check require_label:{label} failed: the host has no '{label}' label"
            ));
        }
    }
    if usage.host_consecutive_failures >= limits.breaker_failures {
        return Decision::AskApproval(format!(
            "circuit breaker open: the last {} runs on this host failed",
            usage.host_consecutive_failures
        ));
    }
    if usage.auto_executions_last_hour >= limits.hourly_quota {
        return Decision::AskApproval(format!(
            "hourly quota spent: {} automatic executions in the last hour (quota {})",
            usage.auto_executions_last_hour, limits.hourly_quota
        ));
    }
    if usage.host_executions_last_hour >= limits.per_host_hour {
        return Decision::AskApproval(format!(
            "per-host limit reached: {} automatic executions on this host in the last hour (limit {})",
            usage.host_executions_last_hour, limits.per_host_hour
        ));
    }
    match runbook.risk_level {
        RiskLevel::Confirm => {
            Decision::AskApproval(format!("runbook '{}' has risk level confirm", runbook.name))
        }
        _ => Decision::Execute,
    }
}

/// A `{service}`, `{hostname}` or `{host_id}` left in a rendered command.
fn unfilled_placeholder(command: &str) -> Option<&'static str> {
    ["{service}", "{hostname}", "{host_id}"].into_iter().find(|p| command.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::runbook::builtins;

    const LIMITS: Limits = Limits { hourly_quota: 10, per_host_hour: 3, breaker_failures: 3 };

    fn runbook(name: &str) -> Runbook {
        builtins().into_iter().find(|r| r.name == name).expect("built-in")
    }

    fn rendered(r: &Runbook) -> Vec<String> {
        r.commands().map(|(_, c)| c.replace("{service}", "'nginx'")).collect()
    }

    fn decide_for(r: &Runbook, tags: &[&str], usage: Usage) -> Decision {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        decide(r, &rendered(r), &CommandGuard::new(&["drop table".into()]), &tags, usage, LIMITS)
    }

    #[test]
    fn risk_levels_decide_when_nothing_else_does() {
        assert_eq!(decide_for(&runbook("disk_cleanup"), &[], Usage::default()), Decision::Execute);
        assert!(matches!(
            decide_for(&runbook("service_restart"), &[], Usage::default()),
            Decision::AskApproval(r) if r.contains("confirm")
        ));
        let mut blocked = runbook("disk_cleanup");
        blocked.risk_level = RiskLevel::Block;
        assert!(matches!(decide_for(&blocked, &[], Usage::default()), Decision::Block(_)));
    }

    #[test]
    fn forbidden_commands_and_unfilled_placeholders_block_before_anything_else() {
        let mut r = runbook("disk_cleanup");
        r.steps[0].command = "psql -c 'DROP TABLE users'".into();
        let busy = Usage { auto_executions_last_hour: 99, ..Usage::default() };
        assert!(matches!(decide_for(&r, &[], busy), Decision::Block(m) if m.contains("refused")));
        let r = runbook("service_restart");
        let raw: Vec<String> = r.commands().map(|(_, c)| c.to_string()).collect();
        let d = decide(&r, &raw, &CommandGuard::new(&[]), &[], Usage::default(), LIMITS);
        assert!(matches!(d, Decision::Block(m) if m.contains("{service}")));
    }

    #[test]
    fn quotas_breaker_and_labels_ask_for_approval() {
        let r = runbook("disk_cleanup");
        let quota = Usage { auto_executions_last_hour: 10, ..Usage::default() };
        assert!(
            matches!(decide_for(&r, &[], quota), Decision::AskApproval(m) if m.contains("hourly quota"))
        );
        let host = Usage { host_executions_last_hour: 3, ..Usage::default() };
        assert!(
            matches!(decide_for(&r, &[], host), Decision::AskApproval(m) if m.contains("per-host"))
        );
        let failing = Usage { host_consecutive_failures: 3, ..Usage::default() };
        assert!(
            matches!(decide_for(&r, &[], failing), Decision::AskApproval(m) if m.contains("circuit breaker"))
        );
        let mut labelled = r.clone();
        labelled.safety_checks = vec!["require_label:service".into()];
        assert!(
            matches!(decide_for(&labelled, &["env:prod"], Usage::default()), Decision::AskApproval(m) if m.contains("require_label:service"))
        );
        assert_eq!(decide_for(&labelled, &["service:web"], Usage::default()), Decision::Execute);
        assert_eq!(decide_for(&labelled, &["service"], Usage::default()), Decision::Execute);
    }
}
