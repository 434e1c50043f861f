//! Free-text alerts (`POST /api/alert`, Feishu alert-bot messages) read into incident
//! fields, and the fingerprint that deduplicates them.
//!
//! The first line is the title, without a leading tag such as `[告警]`, `【告警】`,
//! `[ALERT]` or `[FIRING]`; `key: value` lines (half- or full-width colon) fill known
//! fields; every other line is the description.

use fnv::fingerprint_hex;

/// Severities of seed 001.
pub const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// What a free-text alert says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAlert {
    pub title: String,
    pub service: Option<String>,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub host: Option<String>,
    pub state: Option<String>,
    /// One of [`SEVERITIES`].
    pub severity: String,
    pub category: String,
    pub description: String,
}

const TAGS: [&str; 10] =
    ["告警", "警告", "报警", "alert", "firing", "alarm", "warning", "critical", "resolved", "恢复"];

/// Strips one leading `[tag]` / `【tag】` when the tag is a known alert marker.
fn strip_tag(line: &str) -> &str {
    let line = line.trim();
    for (open, close) in [('[', ']'), ('【', '】')] {
        if let Some(rest) = line.strip_prefix(open) {
            if let Some(end) = rest.find(close) {
                let tag = rest[..end].trim().to_lowercase();
                if TAGS.iter().any(|t| tag == *t || tag.starts_with(t)) {
                    return rest[end + close.len_utf8()..].trim();
                }
            }
        }
    }
    line
}

/// `key: value` (or `key：value`) with a short key; `None` for prose.
fn key_value(line: &str) -> Option<(String, String)> {
    let at = line.find([':', '：'])?;
    let key = line[..at].trim();
    let sep = line[at..].chars().next()?.len_utf8();
    let value = line[at + sep..].trim();
    if key.is_empty() || key.chars().count() > 20 || value.is_empty() || value.starts_with("//") {
        return None;
    }
    Some((key.to_lowercase(), value.to_string()))
}

/// Maps the many ways alerts spell severity onto seed 001's four levels.
pub fn normalize_severity(text: &str) -> Option<&'static str> {
    match text.trim().to_lowercase().as_str() {
        "p0" | "critical" | "crit" | "fatal" | "emergency" | "disaster" | "严重" | "紧急"
        | "致命" => Some("critical"),
        "p1" | "high" | "error" | "major" | "高" | "重要" => Some("high"),
        "p2" | "medium" | "warning" | "warn" | "moderate" | "中" | "警告" => Some("medium"),
        "p3" | "low" | "info" | "minor" | "notice" | "低" | "提示" => Some("low"),
        _ => None,
    }
}

/// Warden's own severities (critical / warning / info) in seed 001's terms.
pub fn severity_from_warden(severity: &str) -> &'static str {
    match severity {
        "critical" => "critical",
        "warning" => "medium",
        "info" => "low",
        other => normalize_severity(other).unwrap_or("medium"),
    }
}

/// A category from what the alert names: kubernetes when it names a pod or namespace,
/// then by keywords, else `general`.
fn category(p: &ParsedAlert, text: &str) -> String {
    let text = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let c = if p.pod.is_some()
        || p.namespace.is_some()
        || has(&["pod", "kubernetes", "k8s", "crashloop"])
    {
        "kubernetes"
    } else if has(&["mysql", "postgres", "redis", "database", "数据库", "slow query"]) {
        "database"
    } else if has(&["cpu", "memory", "内存", "disk", "磁盘", "load"]) {
        "resource"
    } else if has(&["network", "网络", "timeout", "latency", "packet", "dns"]) {
        "network"
    } else if p.service.is_some() || has(&["service", "服务", "http", "5xx", "502", "503"]) {
        "application"
    } else {
        "general"
    };
    c.to_string()
}

/// Reads a free-text alert.
pub fn parse_alert(message: &str) -> ParsedAlert {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut p = ParsedAlert { severity: "medium".into(), ..ParsedAlert::default() };
    p.title = lines.next().map(strip_tag).unwrap_or_default().chars().take(200).collect();
    let mut description = Vec::new();
    for line in lines {
        let Some((key, value)) = key_value(line) else {
            description.push(line);
            continue;
        };
        match key.as_str() {
            "服务" | "service" | "服务名" | "app" | "application" => p.service = Some(value),
            "命名空间" | "namespace" | "ns" => p.namespace = Some(value),
            "pod" | "容器组" => p.pod = Some(value),
            "主机" | "host" | "hostname" | "instance" | "节点" | "node" => p.host = Some(value),
            "状态" | "status" | "state" => p.state = Some(value),
            "severity" | "级别" | "严重程度" | "等级" | "level" | "priority" | "优先级" => {
                if let Some(s) = normalize_severity(&value) {
                    p.severity = s.into();
                } else {
                    description.push(line);
                }
            }
            _ => description.push(line),
        }
    }
    p.description = description.join("\n");
    p.category = category(&p, message);
    if p.title.is_empty() {
        p.title = "(untitled alert)".into();
    }
    p
}

/// The dedup key of an alert: a hex hash of its normalised title, service and
/// namespace/host (never timestamps or the whole text, which change between repeats).
pub fn fingerprint(title: &str, service: Option<&str>, scope: Option<&str>) -> String {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let key = format!(
        "{}\u{1f}{}\u{1f}{}",
        norm(title),
        norm(service.unwrap_or_default()),
        norm(scope.unwrap_or_default())
    );
    fingerprint_hex(&key)
}

/// FNV-1a, twice with different offsets, as 32 hex digits: this crate has no hashing
/// dependency, and the fingerprint is a dedup key, not a security boundary.
mod fnv {
    pub fn fingerprint_hex(text: &str) -> String {
        let fnv = |offset: u64| {
            text.bytes().fold(offset, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
        };
        format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_example_fills_title_service_and_namespace() {
        let p =
            parse_alert("[告警] Pod CrashLoopBackOff\n服务: user-service\n命名空间: production");
        assert_eq!(p.title, "Pod CrashLoopBackOff");
        assert_eq!(p.service.as_deref(), Some("user-service"));
        assert_eq!(p.namespace.as_deref(), Some("production"));
        assert_eq!(p.category, "kubernetes");
        assert_eq!(p.severity, "medium");
        assert_eq!(p.description, "");
    }

    #[test]
    fn tags_colons_severities_and_prose() {
        let p = parse_alert(
            "【告警】 MySQL 慢查询激增\n级别：P1\n主机： db-01\n最近 5 分钟慢查询 120 条\nsee: http://x",
        );
        assert_eq!(p.title, "MySQL 慢查询激增");
        assert_eq!(p.severity, "high");
        assert_eq!(p.host.as_deref(), Some("db-01"));
        assert_eq!(p.category, "database");
        assert_eq!(p.description, "最近 5 分钟慢查询 120 条\nsee: http://x");
        assert_eq!(parse_alert("[FIRING] disk full\nseverity: critical").severity, "critical");
        assert_eq!(parse_alert("[ALERT] x\nseverity: nonsense").description, "severity: nonsense");
        assert_eq!(parse_alert("[note] keep the tag").title, "[note] keep the tag");
        assert_eq!(parse_alert("   ").title, "(untitled alert)");
    }

    #[test]
    fn fingerprints_ignore_case_spacing_and_everything_else() {
        let a = fingerprint("Pod  CrashLoopBackOff", Some("user-service"), Some("production"));
        let b = fingerprint("pod crashloopbackoff", Some("user-service"), Some("production"));
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        assert_ne!(
            a,
            fingerprint("Pod CrashLoopBackOff", Some("order-service"), Some("production"))
        );
        assert_ne!(a, fingerprint("Pod CrashLoopBackOff", Some("user-service"), None));
    }

    #[test]
    fn warden_severities_map_to_seed_levels() {
        assert_eq!(severity_from_warden("critical"), "critical");
        assert_eq!(severity_from_warden("warning"), "medium");
        assert_eq!(severity_from_warden("info"), "low");
        assert_eq!(normalize_severity("P0"), Some("critical"));
        assert_eq!(normalize_severity("严重"), Some("critical"));
    }
}
