//! Runbooks: what a run executes, which alerts it answers, and how risky it is. The six
//! built-ins are defined here; custom runbooks come from the store with the same shape.

use serde::{Deserialize, Serialize};

use super::guard::CommandGuard;

/// How much a runbook may do on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Runs at once (within the quotas).
    Auto,
    /// Waits for a person's approval.
    Confirm,
    /// Never runs; the run records why.
    Block,
}

impl RiskLevel {
    pub const NAMES: &'static str = "'auto', 'confirm' or 'block'";

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(Self::Auto),
            "confirm" => Some(Self::Confirm),
            "block" => Some(Self::Block),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Confirm => "confirm",
            Self::Block => "block",
        }
    }
}

/// One command of a runbook. `{service}`, `{hostname}` and `{host_id}` in a command are
/// replaced by the alert's values, shell-quoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub command: String,
    pub timeout_sec: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_command: Option<String>,
}

/// A runbook, built-in or custom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runbook {
    /// Custom runbooks have their store id; built-ins have none.
    pub id: Option<i64>,
    pub name: String,
    pub description: String,
    /// Alert types it answers: a rule type (`metric`, `host_offline`, `service_down`,
    /// `log_keyword`, `db_metric`), an external source (`alertmanager`) or, for metric
    /// rules, the metric (`disk_percent`).
    pub match_alert_types: Vec<String>,
    /// Words of the alert's title or message (any one, case-insensitive).
    pub trigger_keywords: Vec<String>,
    pub risk_level: RiskLevel,
    /// `require_label:<key>`: the host must carry that tag (or `key:value` tag).
    pub safety_checks: Vec<String>,
    pub steps: Vec<Step>,
    pub verify_steps: Vec<Step>,
}

/// What a runbook is matched against, read from the alert.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFacts {
    pub alert_id: i64,
    pub host_id: Option<i64>,
    pub hostname: Option<String>,
    pub host_tags: Vec<String>,
    pub service: Option<String>,
    /// The rule type, or the source of an external alert.
    pub alert_type: String,
    pub metric: Option<String>,
    pub title: String,
    pub message: String,
    pub severity: String,
    pub status: String,
}

/// Timeouts a step may have, in seconds.
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;
/// The safety checks a runbook may list.
pub const SAFETY_CHECK_PREFIX: &str = "require_label:";

impl Runbook {
    /// Whether the alert is one this runbook answers: its type or metric is listed, or
    /// one of the keywords is in its title or message. An empty list never matches.
    pub fn matches(&self, alert: &AlertFacts) -> bool {
        let typed = self
            .match_alert_types
            .iter()
            .any(|t| t == &alert.alert_type || alert.metric.as_deref().is_some_and(|m| m == t));
        let text = format!("{} {}", alert.title, alert.message).to_lowercase();
        let worded = self
            .trigger_keywords
            .iter()
            .any(|k| !k.trim().is_empty() && text.contains(&k.trim().to_lowercase()));
        typed || worded
    }

    /// Every command it may run, with where it sits (for validation messages).
    pub fn commands(&self) -> impl Iterator<Item = (String, &str)> {
        let steps = self.steps.iter().enumerate().flat_map(|(i, s)| {
            let main = std::iter::once((format!("steps[{i}].command"), s.command.as_str()));
            let rollback =
                s.rollback_command.as_deref().map(|c| (format!("steps[{i}].rollback_command"), c));
            main.chain(rollback)
        });
        let verify = self
            .verify_steps
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("verify_steps[{i}].command"), s.command.as_str()));
        steps.chain(verify)
    }

    /// The labels `require_label:` checks ask the host for.
    pub fn required_labels(&self) -> impl Iterator<Item = &str> {
        self.safety_checks.iter().filter_map(|c| c.strip_prefix(SAFETY_CHECK_PREFIX))
    }
}

/// A problem with a runbook as submitted; `field` is a path such as `steps[1].command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookProblem {
    pub field: String,
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> RunbookProblem {
    RunbookProblem { field: field.into(), message: message.into() }
}

/// Checks a runbook before it is saved: a name, at least one step, named steps with
/// commands and timeouts of 1–3600 s, known safety checks, and every command (rollbacks
/// and verify steps included) allowed by the guard.
pub fn validate(runbook: &Runbook, guard: &CommandGuard) -> Vec<RunbookProblem> {
    let mut problems = Vec::new();
    if runbook.name.trim().is_empty() {
        problems.push(problem("name", "must not be empty"));
    }
    if runbook.steps.is_empty() {
        problems.push(problem("steps", "a runbook needs at least one step"));
    }
    let all = runbook.steps.iter().map(|s| ("steps", s));
    let verify = runbook.verify_steps.iter().map(|s| ("verify_steps", s));
    let mut index = std::collections::HashMap::new();
    for (list, step) in all.chain(verify) {
        let i = index.entry(list).or_insert(0usize);
        let at = format!("{list}[{i}]");
        *i += 1;
        if step.name.trim().is_empty() {
            problems.push(problem(format!("{at}.name"), "must not be empty"));
        }
        if step.command.trim().is_empty() {
            problems.push(problem(format!("{at}.command"), "must not be empty"));
        }
        if !TIMEOUT_RANGE.contains(&step.timeout_sec) {
            problems.push(problem(
                format!("{at}.timeout_sec"),
                format!("must be between 1 and 3600 seconds, got {}", step.timeout_sec),
            ));
        }
    }
    for (i, check) in runbook.safety_checks.iter().enumerate() {
        let label = check.strip_prefix(SAFETY_CHECK_PREFIX).map(str::trim);
        if label.is_none_or(str::is_empty) {
            problems.push(problem(
                format!("safety_checks[{i}]"),
                format!("unknown safety check '{check}' (expected require_label:<key>)"),
            ));
        }
    }
    for (field, command) in runbook.commands() {
        if command.trim().is_empty() {
            continue;
        }
        if let Err(refusal) = guard.check(command) {
            let step = step_name(runbook, &field);
            problems.push(problem(
                field,
                format!("step '{step}' is refused by the safety check: {refusal}"),
            ));
        }
    }
    problems
}

fn step_name<'a>(runbook: &'a Runbook, field: &str) -> &'a str {
    let (list, rest) = field.split_once('[').unwrap_or((field, ""));
    let index: usize = rest.split(']').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let steps = if list == "verify_steps" { &runbook.verify_steps } else { &runbook.steps };
    steps.get(index).map_or("", |s| s.name.as_str())
}

/// Quotes a value for a POSIX shell: single quotes, with embedded ones escaped.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The command with `{service}`, `{hostname}` and `{host_id}` replaced (quoted); a
/// placeholder whose value is unknown stays, so the guard and the executor see it.
pub fn render(command: &str, alert: &AlertFacts) -> String {
    let mut out = command.to_string();
    if let Some(service) = &alert.service {
        out = out.replace("{service}", &shell_quote(service));
    }
    if let Some(hostname) = &alert.hostname {
        out = out.replace("{hostname}", &shell_quote(hostname));
    }
    if let Some(id) = alert.host_id {
        out = out.replace("{host_id}", &id.to_string());
    }
    out
}

/// Picks the first runbook of `runbooks` that answers the alert; callers list custom
/// runbooks before the built-ins, since they are the operator's own choice.
pub fn select<'a>(runbooks: &'a [Runbook], alert: &AlertFacts) -> Option<&'a Runbook> {
    runbooks.iter().find(|r| r.matches(alert))
}

fn step(name: &str, command: &str, timeout_sec: u64) -> Step {
    Step { name: name.into(), command: command.into(), timeout_sec, rollback_command: None }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The six built-in runbooks (README documents each command and why it is safe).
pub fn builtins() -> Vec<Runbook> {
    let runbook = |name: &str, description: &str, types: &[&str], words: &[&str], risk| Runbook {
        id: None,
        name: name.into(),
        description: description.into(),
        match_alert_types: strings(types),
        trigger_keywords: strings(words),
        risk_level: risk,
        safety_checks: Vec::new(),
        steps: Vec::new(),
        verify_steps: Vec::new(),
    };
    vec![
        Runbook {
            steps: vec![
                step("Show usage", "df -h", 10),
                step("Vacuum the journal", "journalctl --vacuum-size=500M", 60),
                step("Remove week-old temp files", "find /tmp -xdev -type f -atime +7 -delete", 120),
                step(
                    "Remove old compressed logs",
                    "find /var/log -xdev -type f -name '*.gz' -mtime +14 -delete",
                    120,
                ),
            ],
            verify_steps: vec![step(
                "Root below 90 %",
                "test $(df --output=pcent / | tail -n 1 | tr -dc 0-9) -lt 90",
                10,
            )],
            ..runbook(
                "disk_cleanup",
                "Frees disk space: vacuums the systemd journal to 500 MB, removes temp files untouched for 7 days and compressed logs older than 14 days.",
                &["disk_percent"],
                &["disk full", "disk usage", "no space left", "磁盘"],
                RiskLevel::Auto,
            )
        },
        Runbook {
            steps: vec![
                step("Show memory", "free -m", 10),
                step("Top consumers", "ps -eo pid,comm,rss --sort=-rss | head -n 15", 10),
                step("Flush dirty pages", "sync", 60),
                step("Drop the page cache", "sysctl -w vm.drop_caches=1", 30),
            ],
            verify_steps: vec![step(
                "Memory below 90 %",
                "test $(free | awk '/^Mem:/ {printf \"%d\", $3*100/$2}') -lt 90",
                10,
            )],
            ..runbook(
                "memory_pressure",
                "Relieves memory pressure: lists the top consumers, flushes dirty pages and drops the clean page cache (never kills a process).",
                &["memory_percent"],
                &["out of memory", "oom", "memory pressure", "内存"],
                RiskLevel::Confirm,
            )
        },
        Runbook {
            steps: vec![
                step("Current state", "systemctl show -p ActiveState {service}", 10),
                Step {
                    rollback_command: Some("systemctl start {service}".into()),
                    ..step("Restart", "systemctl restart {service}", 60)
                },
            ],
            verify_steps: vec![step("Active again", "systemctl is-active {service}", 15)],
            ..runbook(
                "service_restart",
                "Restarts the service the alert names with systemd and checks it is active again.",
                &["service_down"],
                &["service down", "服务异常", "服务不可用"],
                RiskLevel::Confirm,
            )
        },
        Runbook {
            steps: vec![
                step("Log volume", "du -sh /var/log", 30),
                step("Force rotation", "logrotate -f /etc/logrotate.conf", 300),
            ],
            verify_steps: vec![step("Log volume after", "du -sh /var/log", 30)],
            ..runbook(
                "log_rotation",
                "Forces logrotate's own configuration to rotate now, so large logs are compressed and old ones removed by their policy.",
                &[],
                &["log file too large", "log size", "日志过大", "日志文件"],
                RiskLevel::Auto,
            )
        },
        Runbook {
            steps: vec![
                step("List zombies", "ps -eo pid,ppid,stat,comm | awk '$3 ~ /^Z/'", 10),
                step(
                    "Ask parents to reap",
                    "ps -eo ppid=,stat= | awk '$2 ~ /^Z/ {print $1}' | sort -u | xargs -r kill -s SIGCHLD",
                    30,
                ),
            ],
            verify_steps: vec![step("No zombies left", "test $(ps -eo stat= | grep -c '^Z') -eq 0", 10)],
            ..runbook(
                "zombie_killer",
                "Sends SIGCHLD to the parents of zombie processes so they reap them (kills nothing).",
                &[],
                &["zombie", "僵尸进程"],
                RiskLevel::Confirm,
            )
        },
        Runbook {
            steps: vec![
                step("Socket summary", "ss -s", 10),
                step("CLOSE-WAIT count", "ss -tan state close-wait | wc -l", 10),
                step("Close CLOSE-WAIT sockets", "ss -K state close-wait", 30),
            ],
            verify_steps: vec![step(
                "Fewer than 100 left",
                "test $(ss -tan state close-wait | tail -n +2 | wc -l) -lt 100",
                10,
            )],
            ..runbook(
                "connection_reset",
                "Closes sockets stuck in CLOSE-WAIT (their peer has gone) with ss -K.",
                &[],
                &["close_wait", "close-wait", "too many connections", "connection leak", "连接数"],
                RiskLevel::Confirm,
            )
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(alert_type: &str, metric: Option<&str>, title: &str) -> AlertFacts {
        AlertFacts {
            alert_type: alert_type.into(),
            metric: metric.map(str::to_string),
            title: title.into(),
            ..AlertFacts::default()
        }
    }

    fn builtin(name: &str) -> Runbook {
        builtins().into_iter().find(|r| r.name == name).expect("built-in")
    }

    #[test]
    fn six_builtins_with_steps_and_verification_all_pass_the_guard() {
        let all = builtins();
        let names: Vec<_> = all.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "disk_cleanup",
                "memory_pressure",
                "service_restart",
                "log_rotation",
                "zombie_killer",
                "connection_reset"
            ]
        );
        let guard = CommandGuard::new(&[]);
        for runbook in &all {
            assert!(!runbook.verify_steps.is_empty(), "{}", runbook.name);
            assert_eq!(validate(runbook, &guard), [], "{}", runbook.name);
        }
    }

    #[test]
    fn matching_by_metric_type_and_keyword() {
        let all = builtins();
        let disk = alert("metric", Some("disk_percent"), "Disk usage high");
        assert_eq!(select(&all, &disk).map(|r| r.name.as_str()), Some("disk_cleanup"));
        let down = alert("service_down", None, "nginx is down");
        assert_eq!(select(&all, &down).map(|r| r.name.as_str()), Some("service_restart"));
        let zombies = alert("log_keyword", None, "Too many ZOMBIE processes");
        assert_eq!(select(&all, &zombies).map(|r| r.name.as_str()), Some("zombie_killer"));
        let cpu = alert("metric", Some("cpu_percent"), "CPU high");
        assert_eq!(select(&all, &cpu), None);
    }

    #[test]
    fn render_quotes_alert_values() {
        let facts = AlertFacts {
            service: Some("my app's svc".into()),
            host_id: Some(7),
            ..AlertFacts::default()
        };
        assert_eq!(
            render("systemctl restart {service} # {host_id} {hostname}", &facts),
            r"systemctl restart 'my app'\''s svc' # 7 {hostname}"
        );
    }

    #[test]
    fn validation_names_each_problem() {
        let guard = CommandGuard::new(&["drop table".to_string()]);
        let mut bad = builtin("service_restart");
        bad.steps[0].timeout_sec = 0;
        bad.steps[1].command = "rm -rf /".into();
        bad.verify_steps[0].timeout_sec = 3601;
        bad.safety_checks = vec!["require_label:".into(), "be careful".into()];
        let fields: Vec<_> = validate(&bad, &guard).into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "steps[0].timeout_sec",
                "verify_steps[0].timeout_sec",
                "safety_checks[0]",
                "safety_checks[1]",
                "steps[1].command"
            ]
        );
        let refused = validate(&bad, &guard).pop().expect("a problem");
        assert!(refused.message.contains("step 'Restart'"), "{}", refused.message);
        bad.steps.clear();
        bad.verify_steps.clear();
        bad.safety_checks.clear();
        let empty = validate(&bad, &guard);
        assert_eq!(empty[0].field, "steps");
    }
}
