//! Log clustering and analysis: lines are grouped by [`template`], the groups ranked by
//! severity, and the top groups read for known problem families to name the dominant
//! problem and what to do about it.

mod family;
mod mask;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub(crate) use family::Family;
pub use mask::template;

use super::text::{plural, truncate};
use super::Lang;

/// A real message kept as a cluster's sample is cut to this many characters.
const SAMPLE_CHARS: usize = 300;
/// An analysis lists at most this many clusters.
const TOP_CLUSTERS: usize = 10;
/// This many ERROR-or-worse lines make an analysis critical whatever they say.
const CRITICAL_ERROR_LINES: usize = 50;
/// This many WARN lines make an analysis a warning even without errors.
const WARNING_WARN_LINES: usize = 20;

/// One log line.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub hostname: String,
    pub service: String,
    pub level: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// Lines that share a template.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub template: String,
    /// The most severe level seen, uppercase.
    pub level: String,
    pub count: usize,
    pub hosts: Vec<String>,
    pub services: Vec<String>,
    /// The earliest real message of the cluster, at most 300 characters.
    pub sample: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// What a set of log lines says.
#[derive(Debug, Clone, Serialize)]
pub struct LogAnalysis {
    pub title: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub summary: String,
    pub recommendations: Vec<String>,
    /// The top 10 clusters.
    pub clusters: Vec<Cluster>,
}

/// How severe a level is: FATAL/CRITICAL 5, ERROR 4, WARN/WARNING 3, INFO 2, DEBUG 1,
/// anything else 0.
pub(crate) fn level_rank(level: &str) -> u8 {
    match level.trim().to_ascii_uppercase().as_str() {
        "FATAL" | "CRITICAL" | "CRIT" | "EMERG" | "EMERGENCY" | "ALERT" | "PANIC" => 5,
        "ERROR" | "ERR" => 4,
        "WARN" | "WARNING" => 3,
        "INFO" | "NOTICE" => 2,
        "DEBUG" | "TRACE" => 1,
        _ => 0,
    }
}

const ERROR_RANK: u8 = 4;
const WARN_RANK: u8 = 3;
const FATAL_RANK: u8 = 5;

/// Clusters ranked by level severity (FATAL/CRITICAL > ERROR > WARN/WARNING > INFO >
/// DEBUG > other), then count descending, then template.
pub fn cluster(entries: &[LogEntry]) -> Vec<Cluster> {
    struct Acc<'a> {
        level: String,
        count: usize,
        hosts: BTreeSet<&'a str>,
        services: BTreeSet<&'a str>,
        earliest: &'a LogEntry,
        last_seen: DateTime<Utc>,
    }
    let mut groups: BTreeMap<String, Acc<'_>> = BTreeMap::new();
    for entry in entries {
        let level = entry.level.trim().to_uppercase();
        let acc = groups.entry(template(&entry.message)).or_insert_with(|| Acc {
            level: level.clone(),
            count: 0,
            hosts: BTreeSet::new(),
            services: BTreeSet::new(),
            earliest: entry,
            last_seen: entry.timestamp,
        });
        acc.count += 1;
        if level_rank(&level) > level_rank(&acc.level) {
            acc.level = level;
        }
        for (set, name) in [(&mut acc.hosts, &entry.hostname), (&mut acc.services, &entry.service)]
        {
            if !name.trim().is_empty() {
                set.insert(name.as_str());
            }
        }
        if entry.timestamp < acc.earliest.timestamp {
            acc.earliest = entry;
        }
        acc.last_seen = acc.last_seen.max(entry.timestamp);
    }
    let mut clusters: Vec<Cluster> = groups
        .into_iter()
        .map(|(template, acc)| Cluster {
            template,
            level: acc.level,
            count: acc.count,
            hosts: acc.hosts.into_iter().map(str::to_string).collect(),
            services: acc.services.into_iter().map(str::to_string).collect(),
            sample: truncate(&acc.earliest.message, SAMPLE_CHARS),
            first_seen: acc.earliest.timestamp,
            last_seen: acc.last_seen,
        })
        .collect();
    clusters.sort_by(|a, b| {
        level_rank(&b.level)
            .cmp(&level_rank(&a.level))
            .then(b.count.cmp(&a.count))
            .then_with(|| a.template.cmp(&b.template))
    });
    clusters
}

impl Cluster {
    /// The problem family this cluster's text belongs to, if any.
    pub(crate) fn family(&self) -> Option<Family> {
        Family::of(&format!("{} {}", self.template, self.sample))
    }

    fn rank(&self) -> u8 {
        level_rank(&self.level)
    }
}

/// Reads `entries` (the last `hours` hours of logs) into a title, a severity, a summary
/// with counts, recommendations and the top clusters.
pub fn analyze(entries: &[LogEntry], hours: u32, lang: Lang) -> LogAnalysis {
    let clusters = cluster(entries);
    let lines_at =
        |rank: u8| -> usize { clusters.iter().filter(|c| c.rank() == rank).map(|c| c.count).sum() };
    let error_lines = lines_at(FATAL_RANK) + lines_at(ERROR_RANK);
    let warn_lines = lines_at(WARN_RANK);
    let problems: Vec<&Cluster> = clusters.iter().filter(|c| c.rank() >= WARN_RANK).collect();
    let error_kinds = clusters.iter().filter(|c| c.rank() >= ERROR_RANK).count();
    // The families of the top problem clusters, in rank order, each once.
    let mut families: Vec<Family> = Vec::new();
    for family in problems.iter().take(TOP_CLUSTERS).filter_map(|c| c.family()) {
        if !families.contains(&family) {
            families.push(family);
        }
    }
    let critical_family = clusters
        .iter()
        .any(|c| c.rank() >= ERROR_RANK && c.family().is_some_and(Family::is_critical));
    let severity =
        if lines_at(FATAL_RANK) > 0 || error_lines >= CRITICAL_ERROR_LINES || critical_family {
            "critical"
        } else if error_lines > 0 || warn_lines >= WARNING_WARN_LINES {
            "warning"
        } else {
            "info"
        };

    let title = match families.first() {
        Some(family) => family.title(lang).to_string(),
        None if error_kinds > 0 => match lang {
            Lang::Zh => format!("日志中发现 {error_kinds} 类错误"),
            Lang::En if error_kinds == 1 => "1 kind of error in the logs".to_string(),
            Lang::En => format!("{error_kinds} kinds of errors in the logs"),
        },
        None if !problems.is_empty() => {
            let n = problems.len();
            match lang {
                Lang::Zh => format!("日志中发现 {n} 类警告"),
                Lang::En if n == 1 => "1 kind of warning in the logs".to_string(),
                Lang::En => format!("{n} kinds of warnings in the logs"),
            }
        }
        None => lang.pick("日志中未发现问题", "No problems found in the logs").to_string(),
    };

    let mut recommendations: Vec<String> = Vec::new();
    for family in &families {
        for action in family.recommendations(lang) {
            if !recommendations.iter().any(|r| r == action) {
                recommendations.push((*action).to_string());
            }
        }
    }
    if recommendations.is_empty() {
        let generic: &[&str] = if problems.is_empty() {
            match lang {
                Lang::Zh => &["无需处理，继续保持监控"],
                Lang::En => &["No action needed; keep monitoring"],
            }
        } else {
            match lang {
                Lang::Zh => &[
                    "查看排名靠前的错误样例，定位出错的服务和代码路径",
                    "对比错误开始出现的时间与最近的发布和配置变更",
                ],
                Lang::En => &[
                    "Read the samples of the top clusters to find the failing service and code path",
                    "Compare when the errors started with recent deployments and configuration changes",
                ],
            }
        };
        recommendations.extend(generic.iter().map(|s| (*s).to_string()));
    }

    let summary = summary(entries, &clusters, hours, lang);
    LogAnalysis {
        title,
        severity: severity.to_string(),
        summary,
        recommendations,
        clusters: clusters.into_iter().take(TOP_CLUSTERS).collect(),
    }
}

fn summary(entries: &[LogEntry], clusters: &[Cluster], hours: u32, lang: Lang) -> String {
    let hours_word = if hours == 1 { "hour" } else { "hours" };
    let Some(top) = clusters.first() else {
        return match lang {
            Lang::Zh => format!("过去 {hours} 小时内没有日志。"),
            Lang::En => format!("No log lines in the last {hours} {hours_word}."),
        };
    };
    let total = entries.len();
    let kinds = clusters.len();
    let hosts = entries
        .iter()
        .map(|e| e.hostname.as_str())
        .filter(|h| !h.trim().is_empty())
        .collect::<BTreeSet<_>>()
        .len();
    let shown = truncate(&top.template, 120);
    let (count, level) = (top.count, &top.level);
    match lang {
        Lang::Zh => format!(
            "过去 {hours} 小时共 {total} 条日志，归为 {kinds} 类，涉及 {hosts} 台主机。\
             最突出的一类是 [{level}] “{shown}”，共 {count} 条。"
        ),
        Lang::En => {
            let (lines, templates, hosts_word) = (
                plural(total, "log line", "log lines"),
                plural(kinds, "distinct template", "distinct templates"),
                plural(hosts, "host", "hosts"),
            );
            format!(
                "In the last {hours} {hours_word}: {total} {lines} in {kinds} {templates} across \
                 {hosts} {hosts_word}. The top one is [{level}] \"{shown}\" with {count} {}.",
                plural(count, "line", "lines")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 10, minute, 0).unwrap()
    }

    fn line(host: &str, level: &str, message: &str, minute: u32) -> LogEntry {
        LogEntry {
            hostname: host.to_string(),
            service: "api".to_string(),
            level: level.to_string(),
            message: message.to_string(),
            timestamp: at(minute),
        }
    }

    fn repeat(n: usize, host: &str, level: &str, message: &str) -> Vec<LogEntry> {
        (0..n)
            .map(|i| line(host, level, &message.replace("{i}", &i.to_string()), (i % 60) as u32))
            .collect()
    }

    #[test]
    fn clusters_merge_lines_that_differ_only_in_variables() {
        let entries = vec![
            line("web-1", "error", "timeout after 30s to 10.0.0.1:5432", 5),
            line("web-2", "ERROR", "timeout after 45s to 10.0.0.2:5432", 2),
            line("web-1", "warn", "slow request 812ms", 3),
        ];
        let clusters = cluster(&entries);
        assert_eq!(clusters.len(), 2);
        let top = &clusters[0];
        assert_eq!(top.template, "timeout after <num> to <ip>");
        assert_eq!(top.count, 2);
        assert_eq!(top.level, "ERROR");
        assert_eq!(top.hosts, vec!["web-1", "web-2"]);
        assert_eq!(top.services, vec!["api"]);
        assert_eq!(top.sample, "timeout after 45s to 10.0.0.2:5432");
        assert_eq!((top.first_seen, top.last_seen), (at(2), at(5)));
    }

    #[test]
    fn cluster_level_is_the_most_severe_seen() {
        let entries = vec![
            line("h", "info", "job 1 done", 0),
            line("h", "Fatal", "job 2 done", 1),
            line("h", "warning", "job 3 done", 2),
        ];
        assert_eq!(cluster(&entries)[0].level, "FATAL");
    }

    #[test]
    fn ranking_is_severity_then_count_then_template() {
        let mut entries = Vec::new();
        entries.extend(repeat(9, "h", "DEBUG", "cache miss {i}"));
        entries.extend(repeat(5, "h", "INFO", "served {i}"));
        entries.extend(repeat(1, "h", "ERROR", "beta failed"));
        entries.extend(repeat(1, "h", "ERROR", "alpha failed"));
        entries.extend(repeat(3, "h", "ERROR", "zeta failed"));
        entries.extend(repeat(1, "h", "CRITICAL", "meltdown"));
        entries.extend(repeat(2, "h", "WARNING", "slow"));
        entries.extend(repeat(1, "h", "custom", "other"));
        let order: Vec<String> = cluster(&entries).into_iter().map(|c| c.template).collect();
        assert_eq!(
            order,
            [
                "meltdown",
                "zeta failed",
                "alpha failed",
                "beta failed",
                "slow",
                "served <num>",
                "cache miss <num>",
                "other"
            ]
        );
    }

    #[test]
    fn samples_are_cut_on_characters() {
        let long = "错".repeat(500);
        let clusters = cluster(&[line("h", "ERROR", &long, 0)]);
        assert_eq!(clusters[0].sample.chars().count(), SAMPLE_CHARS);
    }

    #[test]
    fn no_logs_is_info_with_no_problems_found() {
        let analysis = analyze(&[], 24, Lang::Zh);
        assert_eq!(analysis.severity, "info");
        assert_eq!(analysis.title, "日志中未发现问题");
        assert!(analysis.summary.contains("24"));
        assert!(!analysis.recommendations.is_empty());
        assert!(analysis.clusters.is_empty());
        assert_eq!(analyze(&[], 6, Lang::En).title, "No problems found in the logs");
    }

    #[test]
    fn info_lines_only_stay_info() {
        let analysis = analyze(&repeat(100, "h", "INFO", "served request {i}"), 1, Lang::En);
        assert_eq!(analysis.severity, "info");
        assert_eq!(analysis.title, "No problems found in the logs");
    }

    #[test]
    fn severity_thresholds() {
        let severity = |entries: Vec<LogEntry>| analyze(&entries, 1, Lang::En).severity;
        assert_eq!(severity(repeat(19, "h", "WARN", "slow query {i}")), "info");
        assert_eq!(severity(repeat(20, "h", "WARN", "slow query {i}")), "warning");
        assert_eq!(severity(repeat(1, "h", "ERROR", "job {i} failed")), "warning");
        assert_eq!(severity(repeat(49, "h", "ERROR", "job {i} failed")), "warning");
        assert_eq!(severity(repeat(50, "h", "ERROR", "job {i} failed")), "critical");
        assert_eq!(severity(repeat(1, "h", "FATAL", "job {i} failed")), "critical");
        assert_eq!(severity(repeat(1, "h", "ERROR", "out of memory in job {i}")), "critical");
        assert_eq!(severity(repeat(1, "h", "ERROR", "write: no space left on device")), "critical");
        // A family that is critical only counts at ERROR level.
        assert_eq!(severity(repeat(1, "h", "WARN", "out of memory in job {i}")), "info");
    }

    #[test]
    fn title_and_recommendations_follow_the_dominant_family() {
        let mut entries =
            repeat(30, "db-1", "ERROR", "Connection to database 10.0.0.{i}:5432 timed out");
        entries.extend(repeat(3, "web-1", "WARN", "disk full on /dev/sda1"));
        let zh = analyze(&entries, 24, Lang::Zh);
        assert_eq!(zh.title, "数据库连接异常");
        assert_eq!(zh.severity, "warning");
        assert_eq!(zh.recommendations[0], "检查数据库连接池配置");
        assert!(zh.recommendations.contains(&"排查网络延迟".to_string()));
        // The disk warnings add their own actions after the database ones.
        assert!(zh.recommendations.iter().any(|r| r.contains("日志轮转")));
        let en = analyze(&entries, 24, Lang::En);
        assert_eq!(en.title, "Database connection failures");
        assert!(en.recommendations.iter().any(|r| r.contains("connection pool")));
    }

    #[test]
    fn recommendations_are_deduplicated() {
        let mut entries = repeat(2, "h", "ERROR", "upstream 10.0.0.{i} returned 502");
        entries.extend(repeat(1, "h", "ERROR", "bad gateway from backend"));
        let analysis = analyze(&entries, 1, Lang::En);
        assert_eq!(analysis.title, "Upstream errors (5xx)");
        let mut unique = analysis.recommendations.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), analysis.recommendations.len());
        assert_eq!(analysis.recommendations.len(), 3);
    }

    #[test]
    fn unknown_errors_get_a_generic_title_and_advice() {
        let mut entries = repeat(2, "h", "ERROR", "job {i} exploded");
        entries.extend(repeat(1, "h", "ERROR", "widget misaligned"));
        let zh = analyze(&entries, 1, Lang::Zh);
        assert_eq!(zh.title, "日志中发现 2 类错误");
        assert_eq!(analyze(&entries, 1, Lang::En).title, "2 kinds of errors in the logs");
        assert!(!zh.recommendations.is_empty());
        let warnings = analyze(&repeat(2, "h", "WARN", "widget {i} wobbly"), 1, Lang::En);
        assert_eq!(warnings.title, "1 kind of warning in the logs");
    }

    #[test]
    fn summary_speaks_singular_english() {
        let en = analyze(&repeat(1, "web-1", "ERROR", "boom"), 1, Lang::En).summary;
        assert_eq!(
            en,
            "In the last 1 hour: 1 log line in 1 distinct template across 1 host. \
             The top one is [ERROR] \"boom\" with 1 line."
        );
    }

    #[test]
    fn summary_quotes_the_counts() {
        let mut entries = repeat(12, "web-1", "ERROR", "job {i} failed");
        entries.extend(repeat(3, "web-2", "INFO", "ok"));
        let en = analyze(&entries, 6, Lang::En).summary;
        for part in [
            "6 hours",
            "15 log lines",
            "2 distinct templates",
            "2 hosts",
            "job <num> failed",
            "12 lines",
        ] {
            assert!(en.contains(part), "{en}");
        }
        let zh = analyze(&entries, 6, Lang::Zh).summary;
        for part in ["6 小时", "15 条日志", "2 类", "2 台主机", "12 条"] {
            assert!(zh.contains(part), "{zh}");
        }
    }

    #[test]
    fn analysis_keeps_the_top_ten_clusters() {
        let entries: Vec<LogEntry> = (0..15)
            .map(|i| line("h", "ERROR", &format!("failure kind{}", "x".repeat(i + 1)), 0))
            .collect();
        assert_eq!(analyze(&entries, 1, Lang::En).clusters.len(), TOP_CLUSTERS);
    }
}
