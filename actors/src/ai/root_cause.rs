//! Correlation-based root cause of an alert: each kind of evidence around the alert
//! (metrics moving with the alert's metric, metrics that ran hot first, error logs,
//! services and topology neighbours that went down) becomes a scored hypothesis, and the
//! best one is the answer when it stands out enough.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::logs::{self, Family, LogEntry};
use super::text::truncate;
use super::Lang;

/// Points are aligned on minute buckets; a target minute with no partner takes the one
/// next to it, since agents report on their own schedule.
const BUCKET_SECONDS: i64 = 60;
/// A correlation counts only over this many aligned points and with at least this |r|.
const MIN_ALIGNED: usize = 5;
const STRONG_R: f64 = 0.7;
/// A percentage metric at or above this level is running hot.
const HOT_LEVEL: f64 = 90.0;
/// A metric that ran hot this long before the alert is more likely a cause than a twin.
const EARLY_MINUTES: i64 = 5;
/// Below this score the best hypothesis does not stand out.
const STANDS_OUT: f64 = 0.4;
/// Error clusters considered as hypotheses.
const ERROR_CLUSTERS: usize = 3;
const MAX_HYPOTHESES: usize = 10;

/// A metric over time.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// A service on the alert's host.
#[derive(Debug, Clone)]
pub struct ServiceState {
    pub name: String,
    pub status: String,
    pub last_error: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

/// A topology neighbour of the alert's host.
#[derive(Debug, Clone)]
pub struct NeighbourState {
    pub name: String,
    pub hostname: Option<String>,
    pub status: String,
    /// `depends_on` when the alert's host depends on this neighbour; anything else means
    /// the neighbour depends on the host.
    pub relation: String,
}

/// Everything known around one alert.
#[derive(Debug, Clone)]
pub struct RootCauseInput {
    pub alert_title: String,
    pub alert_metric: Option<String>,
    pub hostname: Option<String>,
    pub fired_at: DateTime<Utc>,
    /// The alert's own metric on its host, ±30 min around `fired_at`.
    pub target: Option<Series>,
    /// Other metrics of the same host, same window.
    pub others: Vec<Series>,
    /// ERROR-or-worse logs of the host in the window.
    pub errors: Vec<LogEntry>,
    pub services: Vec<ServiceState>,
    pub neighbours: Vec<NeighbourState>,
}

/// One candidate cause.
#[derive(Debug, Clone, Serialize)]
pub struct Hypothesis {
    pub cause: String,
    /// 0..1.
    pub score: f64,
    pub evidence: Vec<String>,
}

/// The conclusion.
#[derive(Debug, Clone, Serialize)]
pub struct RootCause {
    pub root_cause: String,
    pub confidence: f64,
    pub evidence: Vec<String>,
    pub recommendations: Vec<String>,
    /// Best first.
    pub hypotheses: Vec<Hypothesis>,
}

/// What a hypothesis is about, which decides the recommendations.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Cpu,
    Memory,
    Disk,
    Metric(String),
    Errors(Option<Family>),
    ServiceDown(String),
    DependencyDown(String),
    DependentDown(String),
}

struct Candidate {
    kind: Kind,
    cause: String,
    score: f64,
    evidence: Vec<String>,
}

/// The most likely cause of the alert described by `input`.
pub fn analyze(input: &RootCauseInput, lang: Lang) -> RootCause {
    let (target, others) = split_target(input);
    let mut candidates = Vec::new();
    for series in &others {
        candidates.extend(metric_candidate(series, target, input.fired_at, lang));
    }
    candidates.extend(error_candidates(&input.errors, input.fired_at, lang));
    candidates
        .extend(input.services.iter().filter_map(|s| service_candidate(s, input.fired_at, lang)));
    candidates.extend(input.neighbours.iter().filter_map(|n| neighbour_candidate(n, lang)));
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.cause.cmp(&b.cause)));
    candidates.truncate(MAX_HYPOTHESES);

    let context = target.and_then(|t| target_context(t, lang));
    let hypotheses: Vec<Hypothesis> = candidates
        .iter()
        .map(|c| Hypothesis {
            cause: c.cause.clone(),
            score: round2(c.score),
            evidence: c.evidence.clone(),
        })
        .collect();
    match candidates.first().filter(|c| c.score >= STANDS_OUT) {
        Some(best) => {
            let mut evidence = best.evidence.clone();
            evidence.extend(context);
            RootCause {
                root_cause: best.cause.clone(),
                confidence: round2(best.score),
                evidence,
                recommendations: recommendations(&best.kind, lang),
                hypotheses,
            }
        }
        None => {
            let confidence = candidates.first().map_or(0.1, |c| (c.score * 0.5).min(0.25));
            let mut evidence = vec![checked(input, others.len(), lang)];
            evidence.extend(context);
            RootCause {
                root_cause: lang
                    .pick(
                        "没有发现明显的根因：告警前后的指标、日志、服务和依赖都没有突出的异常。",
                        "No clear root cause stands out: the metrics, logs, services and \
                         dependencies around the alert show nothing unusual.",
                    )
                    .to_string(),
                confidence: round2(confidence),
                evidence,
                recommendations: nothing_found(lang),
                hypotheses,
            }
        }
    }
}

/// The alert's series and the others. Without an explicit target, the other series
/// named like the alert's metric plays that part.
fn split_target(input: &RootCauseInput) -> (Option<&Series>, Vec<&Series>) {
    let target = input.target.as_ref().or_else(|| {
        let metric = input.alert_metric.as_deref()?;
        input.others.iter().find(|s| s.name == metric)
    });
    let others = input.others.iter().filter(|s| target.is_none_or(|t| s.name != t.name)).collect();
    (target, others)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn hhmm(at: DateTime<Utc>) -> String {
    at.format("%H:%M UTC").to_string()
}

fn is_percent(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["percent", "pct", "usage", "util"].iter().any(|w| name.contains(w))
}

fn value(name: &str, v: f64) -> String {
    if is_percent(name) {
        format!("{v:.1}%")
    } else {
        format!("{v:.1}")
    }
}

fn metric_kind(name: &str) -> Kind {
    let lower = name.to_ascii_lowercase();
    if lower.contains("cpu") || lower.contains("load") {
        Kind::Cpu
    } else if lower.contains("mem") || lower.contains("swap") {
        Kind::Memory
    } else if lower.contains("disk") || lower.contains("inode") || lower.contains("fs") {
        Kind::Disk
    } else {
        Kind::Metric(name.to_string())
    }
}

/// Whether a level of 90 means "hot" for this metric: CPU, memory and disk usage, which
/// are percentages. Load averages are not.
fn can_run_hot(name: &str) -> bool {
    !name.to_ascii_lowercase().contains("load")
        && matches!(metric_kind(name), Kind::Cpu | Kind::Memory | Kind::Disk)
}

/// Finite points, in time order.
fn clean(series: &Series) -> Vec<(DateTime<Utc>, f64)> {
    let mut points: Vec<_> = series.points.iter().copied().filter(|(_, v)| v.is_finite()).collect();
    points.sort_by_key(|(at, _)| *at);
    points
}

/// Minute bucket → mean of the finite values in it.
fn buckets(series: &Series) -> BTreeMap<i64, f64> {
    let mut sums: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for (at, v) in clean(series) {
        let slot = sums.entry(at.timestamp().div_euclid(BUCKET_SECONDS)).or_insert((0.0, 0.0));
        slot.0 += v;
        slot.1 += 1.0;
    }
    sums.into_iter().map(|(k, (sum, n))| (k, sum / n)).collect()
}

/// Pairs (target, other) on the same minute, or the minute next to it.
fn align(target: &BTreeMap<i64, f64>, other: &BTreeMap<i64, f64>) -> Vec<(f64, f64)> {
    target
        .iter()
        .filter_map(|(minute, t)| {
            [0, -1, 1].iter().find_map(|d| other.get(&(minute + d))).map(|o| (*t, *o))
        })
        .collect()
}

/// Pearson's r, when there are enough pairs and neither side is flat.
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < MIN_ALIGNED {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs.iter().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x / n, sy + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// The correlation of `other` with `target`: r and the number of aligned points.
fn correlation(target: &Series, other: &Series) -> Option<(f64, usize)> {
    let pairs = align(&buckets(target), &buckets(other));
    pearson(&pairs).map(|r| (r, pairs.len()))
}

fn metric_candidate(
    series: &Series,
    target: Option<&Series>,
    fired_at: DateTime<Utc>,
    lang: Lang,
) -> Option<Candidate> {
    let name = &series.name;
    let mut reasons = Vec::new();
    let mut evidence = Vec::new();
    let mut scores = Vec::new();

    if let Some(target) = target {
        if let Some((r, n)) = correlation(target, series).filter(|(r, _)| r.abs() >= STRONG_R) {
            let t = &target.name;
            scores.push(0.3 + 0.4 * (r.abs() - STRONG_R) / (1.0 - STRONG_R));
            let together = r > 0.0;
            evidence.push(match (lang, together) {
                (Lang::Zh, true) => format!("{name} 与 {t} 同步上升（r = {r:.2}，{n} 个点）"),
                (Lang::Zh, false) => format!("{name} 与 {t} 反向变化（r = {r:.2}，{n} 个点）"),
                (Lang::En, true) => format!("{name} rose with {t} (r = {r:.2}, {n} points)"),
                (Lang::En, false) => format!("{name} moved against {t} (r = {r:.2}, {n} points)"),
            });
            reasons.push(match lang {
                Lang::Zh => format!("与 {t} 同步变化（r = {r:.2}）"),
                Lang::En => format!("moved with {t} (r = {r:.2})"),
            });
        }
    }

    if can_run_hot(name) {
        let points = clean(series);
        let first_hot = points.iter().find(|(at, v)| *at <= fired_at && *v >= HOT_LEVEL);
        if let Some((at, v)) = first_hot {
            let peak =
                points.iter().filter(|(at, _)| *at <= fired_at).map(|(_, v)| *v).fold(*v, f64::max);
            let lead = (fired_at - *at).num_minutes();
            scores.push(if lead >= EARLY_MINUTES { 0.6 } else { 0.5 });
            let (at, v, peak) = (hhmm(*at), value(name, *v), value(name, peak));
            evidence.push(match lang {
                Lang::Zh => {
                    format!("{name} 在 {at} 达到 {v}，比告警早 {lead} 分钟（告警前峰值 {peak}）")
                }
                Lang::En => format!(
                    "{name} reached {v} at {at}, {lead} min before the alert fired (peak {peak})"
                ),
            });
            reasons.push(match lang {
                Lang::Zh => format!("告警前已达到 {peak}"),
                Lang::En => format!("reached {peak} before the alert"),
            });
        }
    }

    let best = scores.iter().copied().fold(f64::NAN, f64::max);
    if !best.is_finite() {
        return None;
    }
    // Hot first and moving with the alert: two independent signs of the same cause.
    let score = if scores.len() > 1 { (best + 0.15).min(0.8) } else { best };
    let kind = metric_kind(name);
    let label = match (&kind, lang) {
        (Kind::Cpu, Lang::Zh) => "CPU 负载过高".to_string(),
        (Kind::Cpu, Lang::En) => "High CPU load".to_string(),
        (Kind::Memory, Lang::Zh) => "内存压力".to_string(),
        (Kind::Memory, Lang::En) => "Memory pressure".to_string(),
        (Kind::Disk, Lang::Zh) => "磁盘压力".to_string(),
        (Kind::Disk, Lang::En) => "Disk pressure".to_string(),
        (_, Lang::Zh) => format!("指标 {name} 异常"),
        (_, Lang::En) => format!("Abnormal {name}"),
    };
    let cause = match lang {
        Lang::Zh => format!("{label}：{name} {}", reasons.join("，")),
        Lang::En => format!("{label}: {name} {}", reasons.join(", ")),
    };
    Some(Candidate { kind, cause, score, evidence })
}

fn error_candidates(errors: &[LogEntry], fired_at: DateTime<Utc>, lang: Lang) -> Vec<Candidate> {
    logs::cluster(errors)
        .into_iter()
        .take(ERROR_CLUSTERS)
        .map(|c| {
            let early = c.first_seen <= fired_at;
            let volume = c.count.min(50) as f64 / 50.0;
            let score = 0.3 + 0.2 * volume + if early { 0.15 } else { 0.0 };
            let family = c.family();
            let sample = truncate(&c.sample, 120);
            let (count, first) = (c.count, hhmm(c.first_seen));
            let services = c.services.join(", ");
            let timing = match (early, lang) {
                (true, Lang::Zh) => {
                    format!("早于告警 {} 分钟", (fired_at - c.first_seen).num_minutes())
                }
                (false, Lang::Zh) => "晚于告警".to_string(),
                (true, Lang::En) => {
                    format!("{} min before the alert", (fired_at - c.first_seen).num_minutes())
                }
                (false, Lang::En) => "after the alert".to_string(),
            };
            let evidence = vec![match lang {
                Lang::Zh => format!(
                    "{count} 条类似错误日志（{services}）：“{sample}”，首次出现于 {first}，{timing}"
                ),
                Lang::En => format!(
                    "{count} error lines ({services}) like \"{sample}\", first at {first}, {timing}"
                ),
            }];
            let label = family.map_or_else(
                || lang.pick("错误日志", "Errors in the logs").to_string(),
                |f| f.title(lang).to_string(),
            );
            let short = truncate(&c.sample, 80);
            let cause = match lang {
                Lang::Zh => format!("{label}：“{short}”"),
                Lang::En => format!("{label}: \"{short}\""),
            };
            Candidate { kind: Kind::Errors(family), cause, score, evidence }
        })
        .collect()
}

fn is_down(status: &str) -> bool {
    matches!(
        status.trim().to_ascii_lowercase().as_str(),
        "down"
            | "failed"
            | "failure"
            | "stopped"
            | "dead"
            | "crashed"
            | "critical"
            | "error"
            | "unhealthy"
            | "offline"
            | "unreachable"
            | "inactive"
    )
}

fn service_candidate(
    service: &ServiceState,
    fired_at: DateTime<Utc>,
    lang: Lang,
) -> Option<Candidate> {
    if !is_down(&service.status) {
        return None;
    }
    let name = &service.name;
    // Down before the alert: likely the cause. Down after: likely a consequence.
    let (score, since) = match service.changed_at {
        Some(at) if at <= fired_at => {
            let lead = (fired_at - at).num_minutes();
            let when = hhmm(at);
            (
                0.75,
                match lang {
                    Lang::Zh => format!("，自 {when} 起（早于告警 {lead} 分钟）"),
                    Lang::En => format!(" since {when} ({lead} min before the alert)"),
                },
            )
        }
        Some(at) => {
            let when = hhmm(at);
            (
                0.3,
                match lang {
                    Lang::Zh => format!("，自 {when} 起（晚于告警）"),
                    Lang::En => format!(" since {when} (after the alert)"),
                },
            )
        }
        None => (0.5, String::new()),
    };
    let status = &service.status;
    let mut evidence = vec![match lang {
        Lang::Zh => format!("服务 {name} 状态为 {status}{since}"),
        Lang::En => format!("Service {name} is {status}{since}"),
    }];
    if let Some(error) = service.last_error.as_deref().filter(|e| !e.trim().is_empty()) {
        let error = truncate(error, 160);
        evidence.push(match lang {
            Lang::Zh => format!("{name} 最近的错误：“{error}”"),
            Lang::En => format!("Last error of {name}: \"{error}\""),
        });
    }
    let cause = match lang {
        Lang::Zh => format!("服务 {name} 已停止运行"),
        Lang::En => format!("Service {name} is down"),
    };
    Some(Candidate { kind: Kind::ServiceDown(name.clone()), cause, score, evidence })
}

fn neighbour_candidate(neighbour: &NeighbourState, lang: Lang) -> Option<Candidate> {
    if !is_down(&neighbour.status) {
        return None;
    }
    let name = &neighbour.name;
    let relation = neighbour.relation.trim().to_ascii_lowercase();
    let dependency = matches!(relation.as_str(), "depends_on" | "dependency" | "upstream");
    let place = match (neighbour.hostname.as_deref().filter(|h| !h.trim().is_empty()), lang) {
        (Some(h), Lang::Zh) => format!("（{h}）"),
        (Some(h), Lang::En) => format!(" on {h}"),
        (None, _) => String::new(),
    };
    // Chinese needs a space after a bare Latin name, but not after the closing bracket.
    let who = if place.is_empty() || lang == Lang::En {
        format!("{name}{place} ")
    } else {
        format!("{name}{place}")
    };
    let (status, rel) = (&neighbour.status, &neighbour.relation);
    let evidence = vec![match lang {
        Lang::Zh => format!("相邻服务 {who}状态为 {status}（关系：{rel}）"),
        Lang::En => format!("Neighbour {name}{place} is {status} (relation: {rel})"),
    }];
    let (kind, cause, score) = if dependency {
        let cause = match lang {
            Lang::Zh => format!("依赖的服务 {who}不可用"),
            Lang::En => format!("Dependency {name}{place} is down"),
        };
        (Kind::DependencyDown(name.clone()), cause, 0.85)
    } else {
        let cause = match lang {
            Lang::Zh => format!("下游服务 {who}不可用（更可能是本次故障的结果）"),
            Lang::En => format!("Dependent {name}{place} is down (more likely a consequence)"),
        };
        (Kind::DependentDown(name.clone()), cause, 0.35)
    };
    Some(Candidate { kind, cause, score, evidence })
}

/// How the alert's own metric behaved in the window.
fn target_context(target: &Series, lang: Lang) -> Option<String> {
    let points = clean(target);
    let (peak_at, peak) = points.iter().copied().reduce(|a, b| if b.1 > a.1 { b } else { a })?;
    let mean = points.iter().map(|(_, v)| v).sum::<f64>() / points.len() as f64;
    let name = &target.name;
    let (peak, mean, at) = (value(name, peak), value(name, mean), hhmm(peak_at));
    Some(match lang {
        Lang::Zh => format!("告警指标 {name} 在窗口内峰值 {peak}（{at}），均值 {mean}"),
        Lang::En => format!("The alert's metric {name} peaked at {peak} ({at}), mean {mean}"),
    })
}

fn checked(input: &RootCauseInput, metrics: usize, lang: Lang) -> String {
    let (lines, services, neighbours) =
        (input.errors.len(), input.services.len(), input.neighbours.len());
    match lang {
        Lang::Zh => format!(
            "检查了 {metrics} 个其他指标、{lines} 条错误日志、{services} 个服务和 {neighbours} 个相邻服务"
        ),
        Lang::En => format!(
            "Checked {metrics} other metrics, {lines} error log lines, {services} services and \
             {neighbours} neighbours"
        ),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn recommendations(kind: &Kind, lang: Lang) -> Vec<String> {
    match (kind, lang) {
        (Kind::Cpu, Lang::Zh) => strings(&[
            "用 top 或 pidstat 找出占用 CPU 最多的进程",
            "检查是否有异常流量、死循环或集中执行的定时任务",
            "负载持续偏高时考虑扩容或限流",
        ]),
        (Kind::Cpu, Lang::En) => strings(&[
            "Find the processes using the most CPU (top, pidstat)",
            "Look for unusual traffic, busy loops or scheduled jobs running at once",
            "If the load stays high, scale out or rate-limit",
        ]),
        (Kind::Memory, _) => strings(Family::Memory.recommendations(lang)),
        (Kind::Disk, _) => strings(Family::Disk.recommendations(lang)),
        (Kind::Metric(name), Lang::Zh) => vec![
            format!("查看 {name} 在告警前后的变化，确认是什么驱动了它"),
            "检查最近的发布和配置变更".to_string(),
        ],
        (Kind::Metric(name), Lang::En) => vec![
            format!("Look at {name} around the alert to find what drives it"),
            "Check recent deployments and configuration changes".to_string(),
        ],
        (Kind::Errors(Some(family)), _) => strings(family.recommendations(lang)),
        (Kind::Errors(None), Lang::Zh) => strings(&[
            "查看错误日志样例，定位出错的服务和代码路径",
            "对比错误开始出现的时间与最近的发布和配置变更",
        ]),
        (Kind::Errors(None), Lang::En) => strings(&[
            "Read the error samples to find the failing service and code path",
            "Compare when the errors started with recent deployments and configuration changes",
        ]),
        (Kind::ServiceDown(name), Lang::Zh) => vec![
            format!("查看服务 {name} 的状态和日志（systemctl status、journalctl）"),
            format!("确认 {name} 的失败原因后再重启"),
            format!("检查 {name} 所需的端口、配置和磁盘是否可用"),
        ],
        (Kind::ServiceDown(name), Lang::En) => vec![
            format!("Check the status and logs of {name} (systemctl status, journalctl)"),
            format!("Find why {name} failed before restarting it"),
            format!("Check that the ports, configuration and disk {name} needs are available"),
        ],
        (Kind::DependencyDown(name), Lang::Zh) => vec![
            format!("优先恢复依赖 {name}"),
            format!("确认本机到 {name} 的网络连通性"),
            format!("{name} 恢复后复查本告警是否自动解除"),
        ],
        (Kind::DependencyDown(name), Lang::En) => vec![
            format!("Restore the dependency {name} first"),
            format!("Check network connectivity from this host to {name}"),
            format!("Once {name} is back, check that this alert clears by itself"),
        ],
        (Kind::DependentDown(name), Lang::Zh) => vec![
            "先排查本机自身的问题，下游服务可能只是受到影响".to_string(),
            format!("本机恢复后确认 {name} 是否随之恢复"),
        ],
        (Kind::DependentDown(name), Lang::En) => vec![
            "Investigate this host first; the dependent service is probably only affected"
                .to_string(),
            format!("Once this host recovers, check that {name} recovers too"),
        ],
    }
}

fn nothing_found(lang: Lang) -> Vec<String> {
    match lang {
        Lang::Zh => strings(&[
            "确认告警阈值是否合理",
            "查看告警前后主机的系统日志和内核日志",
            "检查最近的发布和配置变更",
        ]),
        Lang::En => strings(&[
            "Check that the alert threshold is sensible",
            "Read the host's system and kernel logs around the alert",
            "Check recent deployments and configuration changes",
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn fired() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 10, 30, 0).unwrap()
    }

    /// A series with one point a minute from 30 minutes before the alert.
    fn series(name: &str, values: &[f64]) -> Series {
        let start = fired() - Duration::minutes(30);
        let points = values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + Duration::minutes(i as i64), *v))
            .collect();
        Series { name: name.to_string(), points }
    }

    fn input(target: Option<Series>, others: Vec<Series>) -> RootCauseInput {
        RootCauseInput {
            alert_title: "CPU high".to_string(),
            alert_metric: Some("cpu_percent".to_string()),
            hostname: Some("web-1".to_string()),
            fired_at: fired(),
            target,
            others,
            errors: Vec::new(),
            services: Vec::new(),
            neighbours: Vec::new(),
        }
    }

    fn ramp() -> Vec<f64> {
        (0..20).map(|i| 40.0 + 2.0 * f64::from(i)).collect()
    }

    #[test]
    fn pearson_basics() {
        let line: Vec<(f64, f64)> =
            (0..10).map(|i| (f64::from(i), 3.0 * f64::from(i) + 1.0)).collect();
        assert!((pearson(&line).unwrap() - 1.0).abs() < 1e-12);
        let inverse: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), -f64::from(i))).collect();
        assert!((pearson(&inverse).unwrap() + 1.0).abs() < 1e-12);
        let flat: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), 5.0)).collect();
        assert_eq!(pearson(&flat), None);
        assert_eq!(pearson(&line[..4]), None);
        assert_eq!(pearson(&[]), None);
    }

    #[test]
    fn alignment_tolerates_a_minute_of_skew() {
        let target = series("cpu_percent", &ramp());
        let mut other = series("memory_percent", &ramp());
        for (at, _) in &mut other.points {
            *at += Duration::seconds(60);
        }
        let (r, n) = correlation(&target, &other).unwrap();
        assert!(r > 0.99);
        assert_eq!(n, 20);
    }

    #[test]
    fn a_perfectly_correlated_series_ranks_first() {
        let target = series("cpu_percent", &ramp());
        let twin =
            series("memory_percent", &ramp().iter().map(|v| v / 2.0 + 10.0).collect::<Vec<_>>());
        // Weakly tied to the target: r ≈ 0.75.
        let noisy: Vec<f64> = ramp()
            .iter()
            .enumerate()
            .map(|(i, v)| v + if i % 2 == 0 { 10.0 } else { -10.0 })
            .collect();
        let weak = series("net_rx_bytes", &noisy);
        let unrelated =
            series("disk_percent", &[50.0, 10.0, 50.0, 10.0, 50.0, 10.0, 50.0, 10.0, 50.0, 10.0]);
        let result = analyze(&input(Some(target), vec![weak, unrelated, twin]), Lang::En);
        assert_eq!(
            result.hypotheses[0].cause,
            "Memory pressure: memory_percent moved with cpu_percent (r = 1.00)"
        );
        assert_eq!(result.root_cause, result.hypotheses[0].cause);
        assert!(
            result.evidence[0]
                .contains("memory_percent rose with cpu_percent (r = 1.00, 20 points)"),
            "{:?}",
            result.evidence
        );
        assert!((result.confidence - 0.7).abs() < 1e-9);
        assert!(result.hypotheses.iter().any(|h| h.cause.contains("net_rx_bytes")));
        assert!(!result.hypotheses.iter().any(|h| h.cause.contains("disk_percent")));
        assert!(result.hypotheses.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(result.recommendations, strings(Family::Memory.recommendations(Lang::En)));
    }

    #[test]
    fn a_metric_hot_before_the_alert_is_a_cause() {
        let mut values = vec![50.0; 30];
        for v in values.iter_mut().skip(10) {
            *v = 96.5;
        }
        let result = analyze(&input(None, vec![series("memory_percent", &values)]), Lang::En);
        assert!(result.root_cause.starts_with("Memory pressure"), "{}", result.root_cause);
        assert!((result.confidence - 0.6).abs() < 1e-9);
        assert_eq!(
            result.evidence[0],
            "memory_percent reached 96.5% at 10:10 UTC, 20 min before the alert fired (peak 96.5%)"
        );
        let zh = analyze(&input(None, vec![series("memory_percent", &values)]), Lang::Zh);
        assert!(zh.root_cause.starts_with("内存压力"));
        assert!(zh.evidence[0].contains("比告警早 20 分钟"));
    }

    #[test]
    fn the_alert_metric_among_the_others_is_the_target_not_a_cause() {
        let hot: Vec<f64> = vec![95.0; 10];
        let result = analyze(&input(None, vec![series("cpu_percent", &hot)]), Lang::En);
        assert!(result.hypotheses.is_empty());
        assert!(result.confidence < 0.3);
        assert!(result.evidence.iter().any(|e| e.contains("cpu_percent peaked at 95.0%")));
    }

    #[test]
    fn a_dependency_down_outranks_a_weak_correlation() {
        let target = series("cpu_percent", &ramp());
        let noisy: Vec<f64> = ramp()
            .iter()
            .enumerate()
            .map(|(i, v)| v + if i % 2 == 0 { 10.0 } else { -10.0 })
            .collect();
        let mut data = input(Some(target), vec![series("net_rx_bytes", &noisy)]);
        data.neighbours = vec![
            NeighbourState {
                name: "postgres".to_string(),
                hostname: Some("db-1".to_string()),
                status: "down".to_string(),
                relation: "depends_on".to_string(),
            },
            NeighbourState {
                name: "cache".to_string(),
                hostname: None,
                status: "up".to_string(),
                relation: "depends_on".to_string(),
            },
        ];
        let result = analyze(&data, Lang::En);
        assert_eq!(result.root_cause, "Dependency postgres on db-1 is down");
        assert!((result.confidence - 0.85).abs() < 1e-9);
        assert_eq!(result.evidence[0], "Neighbour postgres on db-1 is down (relation: depends_on)");
        assert!(result.recommendations[0].contains("postgres"));
        assert_eq!(result.hypotheses.len(), 2);
        let zh = analyze(&data, Lang::Zh);
        assert_eq!(zh.root_cause, "依赖的服务 postgres（db-1）不可用");
    }

    #[test]
    fn a_dependent_down_is_a_weak_consequence() {
        let mut data = input(None, Vec::new());
        data.neighbours = vec![NeighbourState {
            name: "frontend".to_string(),
            hostname: None,
            status: "down".to_string(),
            relation: "depended_by".to_string(),
        }];
        let result = analyze(&data, Lang::En);
        assert!(result.confidence < 0.3);
        assert_eq!(result.hypotheses[0].score, 0.35);
    }

    #[test]
    fn services_down_before_the_alert_weigh_more() {
        let mut data = input(None, Vec::new());
        data.services = vec![
            ServiceState {
                name: "worker".to_string(),
                status: "down".to_string(),
                last_error: None,
                changed_at: Some(fired() + Duration::minutes(2)),
            },
            ServiceState {
                name: "nginx".to_string(),
                status: "failed".to_string(),
                last_error: Some("bind() to 0.0.0.0:80 failed".to_string()),
                changed_at: Some(fired() - Duration::minutes(7)),
            },
            ServiceState {
                name: "sshd".to_string(),
                status: "up".to_string(),
                last_error: None,
                changed_at: None,
            },
        ];
        let result = analyze(&data, Lang::En);
        assert_eq!(result.root_cause, "Service nginx is down");
        assert_eq!(
            result.evidence[0],
            "Service nginx is failed since 10:23 UTC (7 min before the alert)"
        );
        assert!(result.evidence[1].contains("bind() to 0.0.0.0:80 failed"));
        assert_eq!(result.hypotheses.len(), 2);
        assert!(result.hypotheses[1].score < result.hypotheses[0].score);
        assert!(result.recommendations.iter().any(|r| r.contains("journalctl")));
    }

    #[test]
    fn error_logs_before_the_alert_are_evidence() {
        let mut data = input(None, Vec::new());
        for i in 0..25 {
            data.errors.push(LogEntry {
                hostname: "web-1".to_string(),
                service: "api".to_string(),
                level: "ERROR".to_string(),
                message: format!("Connection to database 10.0.0.5:5432 timed out after {i}s"),
                timestamp: fired() - Duration::minutes(9) + Duration::seconds(i),
            });
        }
        let result = analyze(&data, Lang::Zh);
        assert!(result.root_cause.starts_with("数据库连接异常"), "{}", result.root_cause);
        assert!((result.confidence - 0.55).abs() < 1e-9);
        assert!(
            result.evidence[0].starts_with("25 条类似错误日志（api）"),
            "{}",
            result.evidence[0]
        );
        assert!(result.evidence[0].ends_with("早于告警 9 分钟"));
        assert_eq!(result.recommendations[0], "检查数据库连接池配置");
    }

    #[test]
    fn nothing_standing_out_says_so_with_low_confidence() {
        let target = series("cpu_percent", &ramp());
        let calm =
            series("memory_percent", &[30.0, 31.0, 30.0, 31.0, 30.0, 31.0, 30.0, 31.0, 30.0, 31.0]);
        let result = analyze(&input(Some(target), vec![calm]), Lang::En);
        assert!(result.confidence < 0.3);
        assert!(result.root_cause.starts_with("No clear root cause"));
        assert!(result.evidence[0].starts_with("Checked 1 other metrics"));
        assert!(result.evidence.iter().any(|e| e.contains("cpu_percent peaked at 78.0%")));
        assert_eq!(result.recommendations.len(), 3);
        let zh = analyze(&input(None, Vec::new()), Lang::Zh);
        assert!(zh.root_cause.starts_with("没有发现明显的根因"));
        assert!(zh.confidence < 0.3);
        assert!(zh.hypotheses.is_empty());
    }

    #[test]
    fn degenerate_series_do_not_panic() {
        let empty = Series { name: "cpu_percent".to_string(), points: Vec::new() };
        let single = series("memory_percent", &[99.0]);
        let nan =
            series("disk_percent", &[f64::NAN, f64::INFINITY, 95.0, f64::NEG_INFINITY, f64::NAN]);
        let all_nan = series("load1", &[f64::NAN; 10]);
        for target in [None, Some(empty.clone()), Some(single.clone()), Some(nan.clone())] {
            let result = analyze(
                &input(target, vec![empty.clone(), single.clone(), nan.clone(), all_nan.clone()]),
                Lang::En,
            );
            assert!(result.confidence.is_finite());
            assert!(result
                .hypotheses
                .iter()
                .all(|h| h.score.is_finite() && (0.0..=1.0).contains(&h.score)));
        }
        // The single hot point still counts as running hot, but needs no correlation.
        let result = analyze(&input(None, vec![single]), Lang::En);
        assert!(result.root_cause.starts_with("Memory pressure"));
        // The NaN-laden disk series reached 95% before the alert.
        let result = analyze(&input(None, vec![nan]), Lang::En);
        assert!(result.root_cause.starts_with("Disk pressure"), "{}", result.root_cause);
    }
}
