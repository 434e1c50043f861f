//! The questions the rules engine can answer in chat, recognised by keywords (English
//! and Chinese), and the answers rendered from the data the caller fetched for them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::logs::{self, LogEntry};
use super::text::{ago, join, mentions, pct, plural, truncate};
use super::Lang;

/// How many hosts a top-N question lists when it names no number, and at most.
const DEFAULT_LIMIT: usize = 5;
const MAX_LIMIT: usize = 20;
/// Lists of alerts and approvals stop after this many, with a count of the rest.
const MAX_LISTED: usize = 10;
/// Recent errors are shown as this many clusters.
const TOP_ERROR_CLUSTERS: usize = 5;

/// What a question asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intent {
    OfflineHosts,
    TopCpu {
        limit: usize,
    },
    TopMemory {
        limit: usize,
    },
    /// `subject` is a host or service name mentioned in the question.
    RecentErrors {
        subject: Option<String>,
    },
    OpenAlerts,
    PendingApprovals,
    SystemOverview,
    Unknown,
}

const APPROVALS: (&[&str], &[&str]) = (&[], &["approv", "审批", "批准", "待审", "审核"]);
const ALERTS: (&[&str], &[&str]) = (
    &["alert", "alerts", "alerting", "alarm", "alarms", "firing", "incident", "incidents"],
    &["告警", "报警", "警报", "预警"],
);
const OFFLINE: (&[&str], &[&str]) = (
    &["offline", "down", "unreachable", "dead", "disconnected", "not responding"],
    &["离线", "宕机", "掉线", "下线", "失联", "挂了", "不在线"],
);
const CPU: (&[&str], &[&str]) = (&["cpu", "cpus", "load", "processor"], &["处理器", "负载"]);
const MEMORY: (&[&str], &[&str]) = (&["memory", "mem", "ram", "swap"], &["内存"]);
const ERRORS: (&[&str], &[&str]) = (
    &[
        "error",
        "errors",
        "exception",
        "exceptions",
        "failure",
        "failures",
        "failed",
        "failing",
        "log",
        "logs",
        "traceback",
        "panic",
        "panics",
    ],
    &["错误", "报错", "异常", "日志", "失败"],
);
const PENDING: (&[&str], &[&str]) = (&["pending", "waiting", "awaiting"], &[]);
const OVERVIEW: (&[&str], &[&str]) = (
    &[
        "overview",
        "status",
        "health",
        "healthy",
        "summary",
        "how is",
        "how are",
        "how's",
        "doing",
        "going on",
        "state",
        "dashboard",
    ],
    &["状态", "概况", "概览", "总览", "整体", "健康", "状况", "怎么样", "如何", "情况"],
);
const SERVICES: (&[&str], &[&str]) = (&["service", "services"], &["服务"]);
const HOSTS: (&[&str], &[&str]) = (
    &["host", "hosts", "server", "servers", "machine", "machines", "node", "nodes"],
    &["主机", "机器", "服务器", "节点"],
);

/// What `question` asks. `known_names` are the hostnames and service names a question
/// about recent errors may be narrowed to.
pub fn intent(question: &str, known_names: &[String]) -> Intent {
    let q = question.to_lowercase();
    let asks = |(words, fragments): (&[&str], &[&str])| mentions(&q, words, fragments);
    // Checked from the most specific subject to the most generic: "alerts on offline
    // hosts" is about alerts, "CPU 异常" about CPU.
    if asks(APPROVALS) {
        Intent::PendingApprovals
    } else if asks(ALERTS) {
        Intent::OpenAlerts
    } else if asks(OFFLINE) {
        // "Which services are down?" is answered by the overview, which lists them.
        if asks(SERVICES) && !asks(HOSTS) {
            Intent::SystemOverview
        } else {
            Intent::OfflineHosts
        }
    } else if asks(CPU) {
        Intent::TopCpu { limit: limit(&q) }
    } else if asks(MEMORY) {
        Intent::TopMemory { limit: limit(&q) }
    } else if asks(ERRORS) {
        Intent::RecentErrors { subject: subject(&q, known_names) }
    } else if asks(PENDING) {
        Intent::PendingApprovals
    } else if asks(OVERVIEW) {
        Intent::SystemOverview
    } else {
        Intent::Unknown
    }
}

/// The N of "top 3", "top3", "前3", "前三", "3 台", "3 hosts"; 5 when none, at most 20.
fn limit(q: &str) -> usize {
    let chars: Vec<char> = q.chars().collect();
    let skip_blank = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == '-') {
            i += 1;
        }
        i
    };
    let number_at = |i: usize| -> Option<usize> {
        let digits: String =
            chars[i.min(chars.len())..].iter().take_while(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() {
            return Some(digits.parse::<usize>().unwrap_or(MAX_LIMIT));
        }
        chinese_numeral(chars.get(i).copied()?, chars.get(i + 1).copied())
    };
    for i in 0..chars.len() {
        let after_top = chars[i..].starts_with(&['t', 'o', 'p'])
            && (i == 0 || !chars[i - 1].is_ascii_alphanumeric());
        let n = if after_top {
            number_at(skip_blank(i + 3))
        } else if chars[i] == '前' {
            number_at(skip_blank(i + 1))
        } else if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit()) {
            // "3 台" / "3 hosts": a count followed by what is counted.
            let end = i + chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let rest: String = chars[skip_blank(end)..].iter().take(8).collect();
            let counted = ["台", "个", "host", "server", "machine", "node"]
                .iter()
                .any(|w| rest.starts_with(w));
            if counted {
                number_at(i)
            } else {
                None
            }
        } else {
            None
        };
        if let Some(n) = n {
            return n.clamp(1, MAX_LIMIT);
        }
    }
    DEFAULT_LIMIT
}

/// One to ten in Chinese, plus the tens ("十五" is 15, "二十" 20).
fn chinese_numeral(c: char, next: Option<char>) -> Option<usize> {
    let digit = |c: char| {
        "一二三四五六七八九"
            .chars()
            .position(|d| d == c)
            .map(|p| p + 1)
            .or((c == '两').then_some(2))
    };
    if c == '十' {
        return Some(10 + next.and_then(digit).unwrap_or(0));
    }
    let n = digit(c)?;
    Some(if next == Some('十') { n * 10 } else { n })
}

/// The longest known name that appears in `q` as a whole name (case-insensitive); ties
/// go to the name first in alphabetical order, so the answer never depends on list order.
fn subject(q: &str, known_names: &[String]) -> Option<String> {
    let glued =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let appears = |name: &str| {
        q.match_indices(name).any(|(at, _)| {
            !glued(q[..at].chars().next_back()) && !glued(q[at + name.len()..].chars().next())
        })
    };
    known_names
        .iter()
        .filter(|name| !name.trim().is_empty() && appears(&name.trim().to_lowercase()))
        .max_by(|a, b| a.chars().count().cmp(&b.chars().count()).then_with(|| b.cmp(a)))
        .map(|name| name.trim().to_string())
}

/// A host as the answers need it.
#[derive(Debug, Clone)]
pub struct HostFact {
    pub id: i64,
    pub hostname: String,
    pub status: String,
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub last_heartbeat: Option<DateTime<Utc>>,
}

/// An open alert.
#[derive(Debug, Clone)]
pub struct AlertFact {
    pub id: i64,
    pub title: String,
    pub severity: String,
    pub hostname: Option<String>,
    pub fired_at: DateTime<Utc>,
}

/// A remediation run waiting for approval.
#[derive(Debug, Clone)]
pub struct ApprovalFact {
    pub id: i64,
    pub runbook: String,
    pub hostname: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A recent ERROR-or-worse log line.
#[derive(Debug, Clone)]
pub struct ErrorFact {
    pub hostname: String,
    pub service: String,
    pub level: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// The data an answer is rendered from; the caller fills what the intent needs.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub hosts: Vec<HostFact>,
    pub alerts: Vec<AlertFact>,
    pub approvals: Vec<ApprovalFact>,
    pub errors: Vec<ErrorFact>,
    pub services_total: usize,
    pub services_down: Vec<String>,
}

/// A rendered answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub answer: String,
    /// Which of `hosts`, `metrics`, `alerts`, `remediations`, `logs`, `services` were used.
    pub sources: Vec<String>,
    /// False when the rules engine did not understand the question.
    pub recognised: bool,
}

impl Answer {
    fn new(answer: String, sources: &[&str]) -> Answer {
        Answer {
            answer,
            sources: sources.iter().map(|s| (*s).to_string()).collect(),
            recognised: true,
        }
    }
}

/// The answer to `intent` from `facts`, as of `now`.
pub fn answer(intent: &Intent, facts: &Facts, now: DateTime<Utc>, lang: Lang) -> Answer {
    match intent {
        Intent::OfflineHosts => Answer::new(offline_hosts(facts, now, lang), &["hosts"]),
        Intent::TopCpu { limit } => {
            Answer::new(top_hosts(facts, Metric::Cpu, *limit, lang), &["hosts", "metrics"])
        }
        Intent::TopMemory { limit } => {
            Answer::new(top_hosts(facts, Metric::Memory, *limit, lang), &["hosts", "metrics"])
        }
        Intent::RecentErrors { subject } => {
            Answer::new(recent_errors(facts, subject.as_deref(), now, lang), &["logs"])
        }
        Intent::OpenAlerts => Answer::new(open_alerts(facts, now, lang), &["alerts"]),
        Intent::PendingApprovals => {
            Answer::new(pending_approvals(facts, now, lang), &["remediations"])
        }
        Intent::SystemOverview => overview(facts, lang),
        Intent::Unknown => Answer { answer: unknown(lang), sources: Vec::new(), recognised: false },
    }
}

fn is_offline(host: &HostFact) -> bool {
    host.status.trim().eq_ignore_ascii_case("offline")
}

fn offline_hosts(facts: &Facts, now: DateTime<Utc>, lang: Lang) -> String {
    let mut offline: Vec<&HostFact> = facts.hosts.iter().filter(|h| is_offline(h)).collect();
    offline.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    if offline.is_empty() {
        return lang.pick("当前没有离线主机。", "No host is offline.").to_string();
    }
    let items: Vec<String> = offline
        .iter()
        .map(|h| match (h.last_heartbeat, lang) {
            (Some(at), Lang::Zh) => format!("{}（最后心跳 {}）", h.hostname, ago(at, now, lang)),
            (Some(at), Lang::En) => {
                format!("{} (last heartbeat {})", h.hostname, ago(at, now, lang))
            }
            (None, Lang::Zh) => format!("{}（从未上报心跳）", h.hostname),
            (None, Lang::En) => format!("{} (never sent a heartbeat)", h.hostname),
        })
        .collect();
    let (n, list) = (offline.len(), join(&items, lang));
    match lang {
        Lang::Zh => format!("当前有 {n} 台主机离线：{list}。"),
        Lang::En if n == 1 => format!("1 host is offline: {list}."),
        Lang::En => format!("{n} hosts are offline: {list}."),
    }
}

#[derive(Clone, Copy)]
enum Metric {
    Cpu,
    Memory,
}

fn top_hosts(facts: &Facts, metric: Metric, limit: usize, lang: Lang) -> String {
    let value = |h: &HostFact| match metric {
        Metric::Cpu => h.cpu_percent,
        Metric::Memory => h.memory_percent,
    };
    let mut ranked: Vec<(&HostFact, f64)> = facts
        .hosts
        .iter()
        .filter_map(|h| value(h).filter(|v| v.is_finite()).map(|v| (h, v)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.hostname.cmp(&b.0.hostname)));
    ranked.truncate(limit.max(1));
    let (name_zh, name_en) = match metric {
        Metric::Cpu => ("CPU", "CPU"),
        Metric::Memory => ("内存", "memory"),
    };
    if ranked.is_empty() {
        return match lang {
            Lang::Zh => format!("还没有主机上报{name_zh}指标。"),
            Lang::En => format!("No host has reported {name_en} metrics yet."),
        };
    }
    let items: Vec<String> = ranked
        .iter()
        .map(|(h, v)| {
            let stale = match (is_offline(h), lang) {
                (false, _) => "",
                (true, Lang::Zh) => "（离线，数据可能过期）",
                (true, Lang::En) => " (offline, may be stale)",
            };
            format!("{} {}{stale}", h.hostname, pct(*v))
        })
        .collect();
    let (n, list) = (ranked.len(), join(&items, lang));
    match lang {
        Lang::Zh => format!("{name_zh}使用率最高的 {n} 台主机：{list}。"),
        Lang::En if n == 1 => format!("Host with the highest {name_en} usage: {list}."),
        Lang::En => format!("Top {n} hosts by {name_en} usage: {list}."),
    }
}

fn recent_errors(facts: &Facts, subject: Option<&str>, now: DateTime<Utc>, lang: Lang) -> String {
    let about = |e: &&ErrorFact| {
        subject
            .is_none_or(|s| e.hostname.eq_ignore_ascii_case(s) || e.service.eq_ignore_ascii_case(s))
    };
    let entries: Vec<LogEntry> = facts
        .errors
        .iter()
        .filter(about)
        .map(|e| LogEntry {
            hostname: e.hostname.clone(),
            service: e.service.clone(),
            level: e.level.clone(),
            message: e.message.clone(),
            timestamp: e.timestamp,
        })
        .collect();
    if entries.is_empty() {
        return match (subject, lang) {
            (Some(s), Lang::Zh) => format!("{s} 最近没有错误日志。"),
            (Some(s), Lang::En) => format!("No recent errors for {s}."),
            (None, Lang::Zh) => "最近没有错误日志。".to_string(),
            (None, Lang::En) => "No recent errors.".to_string(),
        };
    }
    let clusters = logs::cluster(&entries);
    let (total, kinds) = (entries.len(), clusters.len());
    let mut out = match (subject, lang) {
        (Some(s), Lang::Zh) => format!("{s} 最近有 {total} 条错误日志，共 {kinds} 类："),
        (Some(s), Lang::En) => format!("Recent errors for {s}: {total} lines in {kinds} kinds:"),
        (None, Lang::Zh) => format!("最近有 {total} 条错误日志，共 {kinds} 类："),
        (None, Lang::En) => format!("Recent errors: {total} lines in {kinds} kinds:"),
    };
    for (rank, c) in clusters.iter().take(TOP_ERROR_CLUSTERS).enumerate() {
        let where_ = join(&c.hosts, lang);
        let (rank, count, level, when) = (rank + 1, c.count, &c.level, ago(c.last_seen, now, lang));
        let sample = truncate(&c.sample, 160);
        out.push('\n');
        out.push_str(&match lang {
            Lang::Zh => {
                format!("{rank}. [{level}] {sample}（{count} 次，主机 {where_}，最近一次 {when}）")
            }
            Lang::En => format!("{rank}. [{level}] {sample} ({count}×, on {where_}, last {when})"),
        });
    }
    if kinds > TOP_ERROR_CLUSTERS {
        let rest = kinds - TOP_ERROR_CLUSTERS;
        out.push('\n');
        out.push_str(&match lang {
            Lang::Zh => format!("另有 {rest} 类未列出。"),
            Lang::En => format!("{rest} more kinds not shown."),
        });
    }
    out
}

fn severity_rank(severity: &str) -> u8 {
    match severity.trim().to_ascii_lowercase().as_str() {
        "critical" | "fatal" | "emergency" | "p0" | "p1" => 3,
        "warning" | "warn" | "major" | "p2" => 2,
        "info" | "minor" | "p3" => 1,
        _ => 0,
    }
}

/// " and 3 more" / "，另有 3 个" when a list was cut.
fn more(total: usize, lang: Lang) -> String {
    match total.checked_sub(MAX_LISTED).filter(|n| *n > 0) {
        None => String::new(),
        Some(n) => match lang {
            Lang::Zh => format!("，另有 {n} 个未列出"),
            Lang::En => format!(", and {n} more"),
        },
    }
}

fn on_host(hostname: Option<&str>, lang: Lang) -> String {
    match (hostname.filter(|h| !h.trim().is_empty()), lang) {
        (None, _) => String::new(),
        (Some(h), Lang::Zh) => format!("，主机 {h}"),
        (Some(h), Lang::En) => format!(" on {h}"),
    }
}

fn open_alerts(facts: &Facts, now: DateTime<Utc>, lang: Lang) -> String {
    if facts.alerts.is_empty() {
        return lang.pick("当前没有未处理的告警。", "No alert is open.").to_string();
    }
    let mut alerts: Vec<&AlertFact> = facts.alerts.iter().collect();
    alerts.sort_by(|a, b| {
        severity_rank(&b.severity)
            .cmp(&severity_rank(&a.severity))
            .then(b.fired_at.cmp(&a.fired_at))
            .then(a.id.cmp(&b.id))
    });
    let items: Vec<String> = alerts
        .iter()
        .take(MAX_LISTED)
        .map(|a| {
            let (severity, title) = (&a.severity, &a.title);
            let host = on_host(a.hostname.as_deref(), lang);
            let when = ago(a.fired_at, now, lang);
            match lang {
                Lang::Zh => format!("[{severity}] {title}（{when}触发{host}）"),
                Lang::En => format!("[{severity}] {title}{host} (fired {when})"),
            }
        })
        .collect();
    let n = alerts.len();
    let (list, more) = (join(&items, lang), more(n, lang));
    match lang {
        Lang::Zh => format!("当前有 {n} 个未处理的告警：{list}{more}。"),
        Lang::En if n == 1 => format!("1 alert is open: {list}."),
        Lang::En => format!("{n} alerts are open: {list}{more}."),
    }
}

fn pending_approvals(facts: &Facts, now: DateTime<Utc>, lang: Lang) -> String {
    if facts.approvals.is_empty() {
        return lang
            .pick("当前没有待审批的修复操作。", "No remediation is waiting for approval.")
            .to_string();
    }
    // Oldest first: they have waited longest.
    let mut approvals: Vec<&ApprovalFact> = facts.approvals.iter().collect();
    approvals.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let items: Vec<String> = approvals
        .iter()
        .take(MAX_LISTED)
        .map(|a| {
            let (id, runbook) = (a.id, &a.runbook);
            let host = on_host(a.hostname.as_deref(), lang);
            let when = ago(a.created_at, now, lang);
            match lang {
                Lang::Zh => format!("#{id} {runbook}（{when}提交{host}）"),
                Lang::En => format!("#{id} {runbook}{host} (requested {when})"),
            }
        })
        .collect();
    let n = approvals.len();
    let (list, more) = (join(&items, lang), more(n, lang));
    match lang {
        Lang::Zh => format!("当前有 {n} 个修复操作等待审批：{list}{more}。"),
        Lang::En if n == 1 => format!("1 remediation is waiting for approval: {list}."),
        Lang::En => format!("{n} remediations are waiting for approval: {list}{more}."),
    }
}

fn overview(facts: &Facts, lang: Lang) -> Answer {
    let mut sources = vec!["hosts", "alerts", "remediations", "services"];
    let mut parts: Vec<String> = Vec::new();

    let total = facts.hosts.len();
    let mut offline: Vec<String> =
        facts.hosts.iter().filter(|h| is_offline(h)).map(|h| h.hostname.clone()).collect();
    offline.sort();
    let online = total - offline.len();
    parts.push(match (total, offline.is_empty(), lang) {
        (0, _, Lang::Zh) => "还没有主机".to_string(),
        (0, _, Lang::En) => "no hosts yet".to_string(),
        (_, true, Lang::Zh) => format!("共 {total} 台主机，全部在线"),
        (_, true, Lang::En) => format!("{total} {}, all online", plural(total, "host", "hosts")),
        (_, false, Lang::Zh) => format!(
            "共 {total} 台主机，{online} 台在线，{} 台离线（{}）",
            offline.len(),
            join(&offline, lang)
        ),
        (_, false, Lang::En) => format!(
            "{total} {}: {online} online, {} offline ({})",
            plural(total, "host", "hosts"),
            offline.len(),
            join(&offline, lang)
        ),
    });

    let alerts = facts.alerts.len();
    let critical = facts.alerts.iter().filter(|a| severity_rank(&a.severity) == 3).count();
    parts.push(match (alerts, lang) {
        (0, Lang::Zh) => "没有未处理的告警".to_string(),
        (0, Lang::En) => "no open alerts".to_string(),
        (_, Lang::Zh) => format!("{alerts} 个未处理告警（其中 {critical} 个严重）"),
        (_, Lang::En) => {
            format!("{alerts} open {} ({critical} critical)", plural(alerts, "alert", "alerts"))
        }
    });

    let mut down = facts.services_down.clone();
    down.sort();
    let services = facts.services_total.max(down.len());
    parts.push(match (services, down.is_empty(), lang) {
        (0, _, Lang::Zh) => "没有受监控的服务".to_string(),
        (0, _, Lang::En) => "no monitored services".to_string(),
        (_, true, Lang::Zh) => format!("{services} 个服务全部正常"),
        (_, true, Lang::En) => {
            format!("{services} {} all up", plural(services, "service", "services"))
        }
        (_, false, Lang::Zh) => {
            format!("{services} 个服务中 {} 个异常（{}）", down.len(), join(&down, lang))
        }
        (_, false, Lang::En) => {
            format!("{} of {services} services down ({})", down.len(), join(&down, lang))
        }
    });

    let approvals = facts.approvals.len();
    parts.push(match (approvals, lang) {
        (0, Lang::Zh) => "没有待审批的修复操作".to_string(),
        (0, Lang::En) => "no remediation awaiting approval".to_string(),
        (_, Lang::Zh) => format!("{approvals} 个修复操作待审批"),
        (_, Lang::En) => format!(
            "{approvals} {} awaiting approval",
            plural(approvals, "remediation", "remediations")
        ),
    });

    if !facts.errors.is_empty() {
        sources.push("logs");
        let n = facts.errors.len();
        parts.push(match lang {
            Lang::Zh => format!("最近有 {n} 条错误日志"),
            Lang::En => format!("{n} recent error log {}", plural(n, "line", "lines")),
        });
    }

    let busiest = facts
        .hosts
        .iter()
        .filter_map(|h| h.cpu_percent.filter(|v| v.is_finite()).map(|v| (h, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.hostname.cmp(&a.0.hostname)));
    let mut answer = match lang {
        Lang::Zh => format!("{}。", parts.join("；")),
        Lang::En => {
            let text = parts.join("; ");
            let mut chars = text.chars();
            let capitalised: String =
                chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            format!("{capitalised}.")
        }
    };
    if let Some((host, cpu)) = busiest {
        sources.insert(1, "metrics");
        answer.push_str(&match lang {
            Lang::Zh => format!("CPU 最高的是 {}（{}）。", host.hostname, pct(cpu)),
            Lang::En => format!(" Highest CPU: {} ({}).", host.hostname, pct(cpu)),
        });
    }
    Answer::new(answer, &sources)
}

fn unknown(lang: Lang) -> String {
    match lang {
        Lang::Zh => "未配置大模型，规则引擎无法回答这个问题。目前可以回答：\
                     哪些主机离线；CPU 或内存使用率最高的主机（如“CPU 最高的前 3 台”）；\
                     最近的错误日志（可指定主机或服务，如“nginx 最近的错误”）；\
                     未处理的告警；待审批的修复操作；系统整体状态。"
            .to_string(),
        Lang::En => "No LLM is configured, and the rules engine cannot answer that question. \
                     It can answer: which hosts are offline; the hosts with the highest CPU or \
                     memory usage (e.g. \"top 3 cpu\"); recent errors, optionally for a host or \
                     service (e.g. \"recent errors for nginx\"); open alerts; remediations \
                     waiting for approval; and an overview of the system."
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    fn minutes_ago(m: i64) -> DateTime<Utc> {
        now() - Duration::minutes(m)
    }

    fn names() -> Vec<String> {
        ["api", "api-gw", "nginx", "web-1", "db-1"].iter().map(|s| s.to_string()).collect()
    }

    fn host(id: i64, name: &str, status: &str, cpu: Option<f64>, mem: Option<f64>) -> HostFact {
        HostFact {
            id,
            hostname: name.to_string(),
            status: status.to_string(),
            cpu_percent: cpu,
            memory_percent: mem,
            last_heartbeat: Some(minutes_ago(id * 7)),
        }
    }

    fn error(host: &str, service: &str, message: &str, m: i64) -> ErrorFact {
        ErrorFact {
            hostname: host.to_string(),
            service: service.to_string(),
            level: "ERROR".to_string(),
            message: message.to_string(),
            timestamp: minutes_ago(m),
        }
    }

    #[test]
    fn recognises_english_and_chinese_phrasings() {
        let errors =
            |subject: Option<&str>| Intent::RecentErrors { subject: subject.map(str::to_string) };
        let cases = [
            ("Which hosts are offline?", Intent::OfflineHosts),
            ("any servers down right now", Intent::OfflineHosts),
            ("哪些主机离线了", Intent::OfflineHosts),
            ("有没有宕机的机器", Intent::OfflineHosts),
            ("top cpu", Intent::TopCpu { limit: 5 }),
            ("Top 3 hosts by CPU", Intent::TopCpu { limit: 3 }),
            ("which host has the highest cpu", Intent::TopCpu { limit: 5 }),
            ("CPU 最高的前3台主机", Intent::TopCpu { limit: 3 }),
            ("哪些机器CPU偏高", Intent::TopCpu { limit: 5 }),
            ("内存占用前十的主机", Intent::TopMemory { limit: 10 }),
            ("top10 memory", Intent::TopMemory { limit: 10 }),
            ("show the 2 hosts with most RAM", Intent::TopMemory { limit: 2 }),
            ("top 100 cpu", Intent::TopCpu { limit: 20 }),
            ("top 0 cpu", Intent::TopCpu { limit: 1 }),
            ("recent errors for api-gw", errors(Some("api-gw"))),
            ("nginx 最近的错误", errors(Some("nginx"))),
            ("Any exceptions in the logs of WEB-1?", errors(Some("web-1"))),
            ("最近有什么报错", errors(None)),
            ("show error logs", errors(None)),
            ("what alerts are firing", Intent::OpenAlerts),
            ("有哪些未处理的告警", Intent::OpenAlerts),
            ("alerts on offline hosts", Intent::OpenAlerts),
            ("pending approvals", Intent::PendingApprovals),
            ("what is waiting?", Intent::PendingApprovals),
            ("有待批准的操作吗", Intent::PendingApprovals),
            ("哪些修复需要审批", Intent::PendingApprovals),
            ("How is the system?", Intent::SystemOverview),
            ("系统状态", Intent::SystemOverview),
            ("给我一个概况", Intent::SystemOverview),
            ("which services are down", Intent::SystemOverview),
            ("tell me a joke", Intent::Unknown),
            ("", Intent::Unknown),
            ("shutdown the download", Intent::Unknown),
        ];
        for (question, expected) in cases {
            assert_eq!(intent(question, &names()), expected, "{question}");
        }
    }

    #[test]
    fn subject_is_the_longest_whole_name() {
        let subject = |q: &str| match intent(q, &names()) {
            Intent::RecentErrors { subject } => subject,
            other => panic!("{other:?}"),
        };
        assert_eq!(subject("errors on api-gw"), Some("api-gw".to_string()));
        assert_eq!(subject("errors on api"), Some("api".to_string()));
        // "api" inside "rapid" or "api-gateway" is not the name.
        assert_eq!(subject("rapid errors"), None);
        assert_eq!(subject("errors on api-gateway"), None);
        assert_eq!(subject("db-1的错误日志"), Some("db-1".to_string()));
        assert_eq!(
            intent("errors", &[String::new(), " ".to_string()]),
            Intent::RecentErrors { subject: None }
        );
    }

    #[test]
    fn offline_hosts_are_listed_with_their_last_heartbeat() {
        let mut facts = Facts {
            hosts: vec![
                host(2, "web-2", "offline", None, None),
                host(1, "db-1", "OFFLINE", None, None),
                host(3, "web-1", "online", Some(10.0), None),
            ],
            ..Facts::default()
        };
        facts.hosts[1].last_heartbeat = None;
        let en = answer(&Intent::OfflineHosts, &facts, now(), Lang::En);
        assert_eq!(en.answer, "2 hosts are offline: db-1 (never sent a heartbeat), web-2 (last heartbeat 14 min ago).");
        assert_eq!(en.sources, ["hosts"]);
        assert!(en.recognised);
        let zh = answer(&Intent::OfflineHosts, &facts, now(), Lang::Zh);
        assert_eq!(
            zh.answer,
            "当前有 2 台主机离线：db-1（从未上报心跳）、web-2（最后心跳 14 分钟前）。"
        );
        facts.hosts.truncate(0);
        assert_eq!(
            answer(&Intent::OfflineHosts, &facts, now(), Lang::En).answer,
            "No host is offline."
        );
        assert_eq!(
            answer(&Intent::OfflineHosts, &facts, now(), Lang::Zh).answer,
            "当前没有离线主机。"
        );
    }

    #[test]
    fn top_cpu_is_sorted_and_skips_hosts_without_metrics() {
        let facts = Facts {
            hosts: vec![
                host(1, "a", "online", Some(12.34), Some(50.0)),
                host(2, "b", "online", Some(92.5), Some(20.0)),
                host(3, "c", "online", None, Some(90.0)),
                host(4, "d", "offline", Some(40.0), None),
                host(5, "e", "online", Some(f64::NAN), None),
            ],
            ..Facts::default()
        };
        let en = answer(&Intent::TopCpu { limit: 2 }, &facts, now(), Lang::En);
        assert_eq!(
            en.answer,
            "Top 2 hosts by CPU usage: b 92.5%, d 40.0% (offline, may be stale)."
        );
        assert_eq!(en.sources, ["hosts", "metrics"]);
        let zh = answer(&Intent::TopCpu { limit: 5 }, &facts, now(), Lang::Zh);
        assert_eq!(
            zh.answer,
            "CPU使用率最高的 3 台主机：b 92.5%、d 40.0%（离线，数据可能过期）、a 12.3%。"
        );
        let mem = answer(&Intent::TopMemory { limit: 1 }, &facts, now(), Lang::En);
        assert_eq!(mem.answer, "Host with the highest memory usage: c 90.0%.");
        let empty = Facts::default();
        assert_eq!(
            answer(&Intent::TopMemory { limit: 5 }, &empty, now(), Lang::En).answer,
            "No host has reported memory metrics yet."
        );
        assert_eq!(
            answer(&Intent::TopCpu { limit: 5 }, &empty, now(), Lang::Zh).answer,
            "还没有主机上报CPU指标。"
        );
    }

    #[test]
    fn recent_errors_are_grouped_and_filtered_by_subject() {
        let mut facts = Facts::default();
        for i in 0..4 {
            facts.errors.push(error(
                "web-1",
                "api-gw",
                &format!("upstream 10.0.0.{i} timed out"),
                i,
            ));
        }
        facts.errors.push(error("web-1", "api-gw", "bad request id=7", 20));
        facts.errors.push(error("db-1", "postgres", "deadlock detected", 3));
        let intent = Intent::RecentErrors { subject: Some("api-gw".to_string()) };
        let en = answer(&intent, &facts, now(), Lang::En);
        let lines: Vec<&str> = en.answer.lines().collect();
        assert_eq!(lines[0], "Recent errors for api-gw: 5 lines in 2 kinds:");
        assert_eq!(
            lines[1],
            "1. [ERROR] upstream 10.0.0.3 timed out (4×, on web-1, last just now)"
        );
        assert_eq!(lines[2], "2. [ERROR] bad request id=7 (1×, on web-1, last 20 min ago)");
        assert!(!en.answer.contains("deadlock"));
        assert_eq!(en.sources, ["logs"]);
        let all = answer(&Intent::RecentErrors { subject: None }, &facts, now(), Lang::Zh);
        assert!(all.answer.starts_with("最近有 6 条错误日志，共 3 类："), "{}", all.answer);
        assert!(all.answer.contains("4 次"));
        let none = Intent::RecentErrors { subject: Some("nginx".to_string()) };
        assert_eq!(answer(&none, &facts, now(), Lang::Zh).answer, "nginx 最近没有错误日志。");
        assert_eq!(answer(&none, &facts, now(), Lang::En).answer, "No recent errors for nginx.");
    }

    #[test]
    fn recent_errors_show_five_clusters_and_count_the_rest() {
        let mut facts = Facts::default();
        for word in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"] {
            facts.errors.push(error("h", "s", &format!("{word} broke"), 1));
        }
        let text = answer(&Intent::RecentErrors { subject: None }, &facts, now(), Lang::En).answer;
        assert_eq!(text.lines().count(), 1 + 5 + 1);
        assert!(text.ends_with("2 more kinds not shown."));
    }

    #[test]
    fn open_alerts_most_severe_first() {
        let mut facts = Facts::default();
        let alert = |id: i64, title: &str, severity: &str, host: Option<&str>, m: i64| AlertFact {
            id,
            title: title.to_string(),
            severity: severity.to_string(),
            hostname: host.map(str::to_string),
            fired_at: minutes_ago(m),
        };
        facts.alerts = vec![
            alert(1, "Disk 85%", "warning", Some("db-1"), 30),
            alert(2, "CPU high", "critical", Some("web-1"), 5),
            alert(3, "Cert expiring", "info", None, 120),
        ];
        let en = answer(&Intent::OpenAlerts, &facts, now(), Lang::En);
        assert_eq!(
            en.answer,
            "3 alerts are open: [critical] CPU high on web-1 (fired 5 min ago), \
             [warning] Disk 85% on db-1 (fired 30 min ago), [info] Cert expiring (fired 2 h ago)."
        );
        assert_eq!(en.sources, ["alerts"]);
        let zh = answer(&Intent::OpenAlerts, &facts, now(), Lang::Zh);
        assert!(
            zh.answer.starts_with(
                "当前有 3 个未处理的告警：[critical] CPU high（5 分钟前触发，主机 web-1）"
            ),
            "{}",
            zh.answer
        );
        facts.alerts = (0..12).map(|i| alert(i, "x", "warning", None, i)).collect();
        assert!(answer(&Intent::OpenAlerts, &facts, now(), Lang::En)
            .answer
            .ends_with(", and 2 more."));
        assert_eq!(
            answer(&Intent::OpenAlerts, &Facts::default(), now(), Lang::En).answer,
            "No alert is open."
        );
        assert_eq!(
            answer(&Intent::OpenAlerts, &Facts::default(), now(), Lang::Zh).answer,
            "当前没有未处理的告警。"
        );
    }

    #[test]
    fn pending_approvals_oldest_first() {
        let facts = Facts {
            approvals: vec![
                ApprovalFact {
                    id: 12,
                    runbook: "restart-nginx".to_string(),
                    hostname: Some("web-1".to_string()),
                    created_at: minutes_ago(3),
                },
                ApprovalFact {
                    id: 9,
                    runbook: "clean-disk".to_string(),
                    hostname: None,
                    created_at: minutes_ago(90),
                },
            ],
            ..Facts::default()
        };
        let en = answer(&Intent::PendingApprovals, &facts, now(), Lang::En);
        assert_eq!(
            en.answer,
            "2 remediations are waiting for approval: #9 clean-disk (requested 1 h ago), \
             #12 restart-nginx on web-1 (requested 3 min ago)."
        );
        assert_eq!(en.sources, ["remediations"]);
        let zh = answer(&Intent::PendingApprovals, &facts, now(), Lang::Zh);
        assert!(
            zh.answer.contains("#12 restart-nginx（3 分钟前提交，主机 web-1）"),
            "{}",
            zh.answer
        );
        assert_eq!(
            answer(&Intent::PendingApprovals, &Facts::default(), now(), Lang::Zh).answer,
            "当前没有待审批的修复操作。"
        );
    }

    #[test]
    fn overview_counts_everything() {
        let facts = Facts {
            hosts: vec![
                host(1, "web-1", "online", Some(92.5), None),
                host(2, "web-2", "offline", None, None),
                host(3, "db-1", "online", Some(10.0), None),
            ],
            alerts: vec![AlertFact {
                id: 1,
                title: "CPU high".to_string(),
                severity: "critical".to_string(),
                hostname: None,
                fired_at: minutes_ago(1),
            }],
            approvals: Vec::new(),
            errors: vec![error("web-1", "api", "boom", 1)],
            services_total: 12,
            services_down: vec!["nginx".to_string()],
        };
        let en = answer(&Intent::SystemOverview, &facts, now(), Lang::En);
        assert_eq!(
            en.answer,
            "3 hosts: 2 online, 1 offline (web-2); 1 open alert (1 critical); 1 of 12 services \
             down (nginx); no remediation awaiting approval; 1 recent error log line. \
             Highest CPU: web-1 (92.5%)."
        );
        assert_eq!(en.sources, ["hosts", "metrics", "alerts", "remediations", "services", "logs"]);
        let zh = answer(&Intent::SystemOverview, &facts, now(), Lang::Zh);
        assert!(
            zh.answer.starts_with("共 3 台主机，2 台在线，1 台离线（web-2）；"),
            "{}",
            zh.answer
        );
        assert!(zh.answer.contains("12 个服务中 1 个异常（nginx）"));
        assert!(zh.answer.ends_with("CPU 最高的是 web-1（92.5%）。"));
        let empty = answer(&Intent::SystemOverview, &Facts::default(), now(), Lang::En);
        assert_eq!(
            empty.answer,
            "No hosts yet; no open alerts; no monitored services; no remediation awaiting approval."
        );
        assert_eq!(empty.sources, ["hosts", "alerts", "remediations", "services"]);
    }

    #[test]
    fn unknown_says_what_it_can_answer() {
        let en = answer(&Intent::Unknown, &Facts::default(), now(), Lang::En);
        assert!(!en.recognised);
        assert!(en.sources.is_empty());
        for part in [
            "No LLM is configured",
            "cannot answer",
            "offline",
            "CPU",
            "recent errors",
            "open alerts",
            "approval",
        ] {
            assert!(en.answer.contains(part), "{part}");
        }
        let zh = answer(&Intent::Unknown, &Facts::default(), now(), Lang::Zh);
        assert!(!zh.recognised);
        for part in ["未配置大模型", "无法回答", "离线", "告警", "审批"] {
            assert!(zh.answer.contains(part), "{part}");
        }
    }
}
