//! Operations reports: built from the period's real data (hosts and their availability,
//! top resource consumers, alerts with mean time to acknowledge and resolve, incidents,
//! remediation outcomes, SLA status, error-log clusters), stored as structured JSON and
//! Markdown, summarised by the LLM when one is configured (the rules otherwise), and
//! announced through the notification dispatcher. Implements the scheduler's port.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tokio::sync::watch;
use warden_actors::ai::{logs, Lang};
use warden_actors::broadcast::Broadcaster;
use warden_actors::clock::Clock;
use warden_actors::model::{LiveEvent, NotifyKind, NotifyRequest};
use warden_actors::report::{ReportKind, ReportPort};
use warden_actors::settings::RuntimeSettings;
use warden_actors::sla::{availability, Tz};

use crate::integrations::live::Integrations;
use crate::llm::LlmClient;
use crate::storage::logs::LogFilter;
use crate::storage::reports::{NewReport, ReportRow};
use crate::storage::Db;

/// A claimed report still generating after this long is taken over.
const STALE_AFTER_MINUTES: i64 = 10;

pub struct Reports {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub llm: Arc<LlmClient>,
    pub integrations: watch::Receiver<Integrations>,
    pub settings: watch::Receiver<RuntimeSettings>,
    pub events: Broadcaster,
    pub public_url: String,
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn minutes(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 60_000.0
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| round1(values.iter().sum::<f64>() / values.len() as f64))
}

/// "2026-11-22" for a day, "2026-11-16 ~ 2026-11-22" for a longer period (local dates).
pub fn period_label(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> String {
    let first = start.with_timezone(&tz).date_naive();
    let last = (end - Duration::seconds(1)).with_timezone(&tz).date_naive();
    if first == last {
        first.format("%Y-%m-%d").to_string()
    } else {
        format!("{} ~ {}", first.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
    }
}

pub fn title(
    kind: ReportKind,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    lang: Lang,
) -> String {
    let label = period_label(start, end, tz);
    match (kind, lang) {
        (ReportKind::Daily, Lang::Zh) => format!("运维日报 {label}"),
        (ReportKind::Weekly, Lang::Zh) => format!("运维周报 {label}"),
        (ReportKind::Daily, Lang::En) => format!("Daily operations report {label}"),
        (ReportKind::Weekly, Lang::En) => format!("Weekly operations report {label}"),
    }
}

impl Reports {
    fn lang(&self) -> Lang {
        Lang::from_locale(&self.settings.borrow().locale)
    }

    /// Starts a report someone asked for; its id.
    pub async fn request(
        &self,
        kind: ReportKind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        tz: Tz,
        user: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        let title = title(kind, start, end, tz, self.lang());
        let new = NewReport {
            title: &title,
            report_type: kind.as_str(),
            period_start: start,
            period_end: end,
            timezone: tz.name(),
            generated_by: user,
        };
        self.db.create_report(&new, self.clock.now()).await
    }

    /// The structured body: everything the report says, from the period's data.
    pub async fn body(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tz: Tz,
    ) -> Result<Value, sqlx::Error> {
        // Only the part of the period that has happened is judged.
        let observed_end = to.min(self.clock.now()).max(from);
        let period = (observed_end - from).num_seconds().max(1) as f64;
        // Hosts and their availability (offline time from host-offline alerts).
        let hosts = self.db.all_hosts().await?;
        let mut offline: BTreeMap<i64, f64> = BTreeMap::new();
        for (host, fired, resolved) in self.db.offline_spans(from, observed_end).await? {
            let span = resolved.unwrap_or(observed_end).min(observed_end) - fired.max(from);
            *offline.entry(host).or_default() += span.num_seconds().max(0) as f64;
        }
        let mut host_rows: Vec<Value> = hosts
            .iter()
            .map(|h| {
                let off = offline.get(&h.id).copied().unwrap_or(0.0).min(period);
                json!({"host_id": h.id, "hostname": h.hostname, "status": h.status,
                       "offline_minutes": round1(off / 60.0),
                       "availability_percent": ((1.0 - off / period) * 10_000.0).round() / 100.0})
            })
            .collect();
        host_rows.sort_by(|a, b| {
            a["availability_percent"]
                .as_f64()
                .partial_cmp(&b["availability_percent"].as_f64())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let online = hosts.iter().filter(|h| h.status == "online").count();
        let mean_availability = mean(
            &host_rows
                .iter()
                .filter_map(|h| h["availability_percent"].as_f64())
                .collect::<Vec<_>>(),
        );

        // Top resource consumers.
        let usage = self.db.host_usage(from, to).await?;
        let top = |pick: fn(&crate::storage::reports::HostUsage) -> Option<f64>| -> Vec<Value> {
            let mut v: Vec<(String, f64)> =
                usage.iter().filter_map(|u| pick(u).map(|x| (u.hostname.clone(), x))).collect();
            v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
            v.into_iter()
                .take(5)
                .map(|(h, x)| json!({"hostname": h, "average_percent": round1(x)}))
                .collect()
        };

        // Alerts by severity and rule, mean time to acknowledge and to resolve.
        let alerts = self.db.period_alerts(from, to).await?;
        let mut by_severity: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_rule: BTreeMap<String, i64> = BTreeMap::new();
        for a in &alerts {
            *by_severity.entry(a.severity.clone()).or_default() += 1;
            *by_rule.entry(a.rule_name.clone().unwrap_or_else(|| a.title.clone())).or_default() +=
                1;
        }
        let mut rules: Vec<(String, i64)> = by_rule.into_iter().collect();
        rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mtta: Vec<f64> = alerts
            .iter()
            .filter_map(|a| a.acknowledged_at.map(|t| minutes(t - a.fired_at)))
            .collect();
        let mttr: Vec<f64> =
            alerts.iter().filter_map(|a| a.resolved_at.map(|t| minutes(t - a.fired_at))).collect();

        // Incidents and remediation outcomes.
        let incidents: BTreeMap<String, i64> =
            self.db.period_status_counts("incidents", from, to).await?.into_iter().collect();
        let runs: BTreeMap<String, i64> =
            self.db.period_status_counts("remediation_runs", from, to).await?.into_iter().collect();
        let finished =
            runs.get("success").copied().unwrap_or(0) + runs.get("failed").copied().unwrap_or(0);
        let success_rate = (finished > 0).then(|| {
            round1(100.0 * runs.get("success").copied().unwrap_or(0) as f64 / finished as f64)
        });

        // SLA over the period.
        let mut sla = Vec::new();
        for r in self.db.list_sla_rules().await? {
            let (prior, checks) = self.db.checks_between(r.service_id, from, to).await?;
            let a = availability(prior, &checks, from, observed_end);
            sla.push(json!({"service_id": r.service_id, "service_name": r.service_name, "target_percent": r.target_percent,
                            "actual_percent": a.percent(), "is_met": a.percent().map(|p| p >= r.target_percent),
                            "downtime_minutes": round1(a.down_secs / 60.0)}));
        }

        // Notable error-log clusters.
        let found = self.db.search_logs(&LogFilter::errors(from, to), 1, 2000).await?;
        let entries: Vec<logs::LogEntry> = found.items.iter().map(|l| l.entry()).collect();
        let clusters: Vec<Value> = logs::cluster(&entries)
            .into_iter()
            .take(5)
            .map(|c| json!({"template": c.template, "level": c.level, "count": c.count, "hosts": c.hosts}))
            .collect();

        Ok(json!({
            "period": {"start": from, "end": to, "timezone": tz.name(), "label": period_label(from, to, tz)},
            "hosts": {"total": hosts.len(), "online": online, "offline": hosts.len() - online,
                      "mean_availability_percent": mean_availability, "availability": host_rows.into_iter().take(20).collect::<Vec<_>>()},
            "top_resources": {"cpu": top(|u| u.cpu), "memory": top(|u| u.memory), "disk": top(|u| u.disk)},
            "alerts": {"total": alerts.len(), "by_severity": by_severity,
                       "by_rule": rules.into_iter().take(10).map(|(r, n)| json!({"rule": r, "count": n})).collect::<Vec<_>>(),
                       "mtta_minutes": mean(&mtta), "mttr_minutes": mean(&mttr),
                       "acknowledged": mtta.len(), "resolved": mttr.len()},
            "incidents": {"total": incidents.values().sum::<i64>(), "by_status": incidents},
            "remediations": {"total": runs.values().sum::<i64>(), "by_status": runs, "success_rate_percent": success_rate},
            "sla": sla,
            "log_errors": {"total": found.total, "clusters": clusters},
        }))
    }

    /// Builds a started report, stores it, and announces it.
    pub async fn generate(&self, id: i64) -> Result<ReportRow, String> {
        let row = self
            .db
            .report(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the report no longer exists")?;
        let tz: Tz = row.timezone.parse().unwrap_or(Tz::UTC);
        let lang = self.lang();
        let mut body = match self.body(row.period_start, row.period_end, tz).await {
            Ok(b) => b,
            Err(e) => {
                let _ = self
                    .db
                    .fail_report(
                        id,
                        &format!("could not read the period's data: {e}"),
                        self.clock.now(),
                    )
                    .await;
                return Err(e.to_string());
            }
        };
        let rules_summary = summary(&body, lang);
        let llm = self.integrations.borrow().llm_config();
        let (summary, engine) = match &llm {
            None => (rules_summary, "rules"),
            Some(cfg) => {
                let system = format!(
                    "You write the summary paragraph of an operations report. Answer in {} with a JSON object \
                     {{\"summary\": string}}: 2 to 4 sentences on what mattered in the period, citing the numbers given.",
                    if lang == Lang::Zh { "Simplified Chinese" } else { "English" }
                );
                let user = format!(
                    "Report data (JSON):\n{}",
                    serde_json::to_string_pretty(&body).unwrap_or_default()
                );
                let check = |v: &Value| {
                    v["summary"]
                        .as_str()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .ok_or_else(|| "\"summary\" must be a non-empty string".to_string())
                };
                match self.llm.json(cfg, &system, &user, check).await {
                    Ok(s) => (s, "llm"),
                    Err(e) => {
                        // The data stands; only the paragraph falls back, and says so.
                        body["llm_error"] = json!(e.to_string());
                        (rules_summary, "rules")
                    }
                }
            }
        };
        let content = markdown(&row.title, &summary, &body, lang);
        let now = self.clock.now();
        self.db
            .complete_report(id, &summary, &content, &body, engine, now)
            .await
            .map_err(|e| e.to_string())?;
        let mut vars = serde_json::Map::new();
        vars.insert("report_id".into(), json!(id));
        vars.insert("report_title".into(), json!(row.title));
        vars.insert("period".into(), json!(period_label(row.period_start, row.period_end, tz)));
        vars.insert("summary".into(), json!(summary));
        if !self.public_url.is_empty() {
            vars.insert(
                "url".into(),
                json!(format!("{}/reports/{id}", self.public_url.trim_end_matches('/'))),
            );
        }
        self.events.emit(LiveEvent::Notify(Box::new(NotifyRequest {
            kind: NotifyKind::ReportReady,
            alert_id: None,
            run_id: None,
            channel_ids: None,
            vars,
        })));
        self.db
            .report(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the report no longer exists".to_string())
    }
}

#[async_trait]
impl ReportPort for Reports {
    async fn claim(
        &self,
        kind: ReportKind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        tz: Tz,
    ) -> Result<Option<i64>, String> {
        let title = title(kind, start, end, tz, self.lang());
        let new = NewReport {
            title: &title,
            report_type: kind.as_str(),
            period_start: start,
            period_end: end,
            timezone: tz.name(),
            generated_by: None,
        };
        self.db.claim_report(&new, self.clock.now()).await.map_err(|e| e.to_string())
    }

    async fn take_over_stale(&self) -> Result<Vec<i64>, String> {
        let now = self.clock.now();
        self.db
            .take_over_stale_reports(now - Duration::minutes(STALE_AFTER_MINUTES), now)
            .await
            .map_err(|e| e.to_string())
    }

    async fn generate(&self, id: i64) -> Result<(), String> {
        Reports::generate(self, id).await.map(|_| ())
    }
}

/// The rules engine's summary paragraph.
pub fn summary(body: &Value, lang: Lang) -> String {
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let hosts = &body["hosts"];
    let alerts = &body["alerts"];
    let critical = n(&alerts["by_severity"]["critical"]);
    let mins = |v: &Value| v.as_f64().map_or("-".to_string(), |m| format!("{m}"));
    let sla = body["sla"].as_array().cloned().unwrap_or_default();
    let missed = sla.iter().filter(|s| s["is_met"] == false).count();
    let top_error = &body["log_errors"]["clusters"][0];
    let rate = body["remediations"]["success_rate_percent"].as_f64();
    match lang {
        Lang::Zh => {
            let mut s = format!(
                "报告期内共 {} 台主机(当前在线 {}),平均可用率 {}%;告警 {} 条(critical {} 条),平均确认 {} 分钟、平均恢复 {} 分钟;Incident {} 个,自动修复 {} 次{}。",
                n(&hosts["total"]), n(&hosts["online"]),
                hosts["mean_availability_percent"].as_f64().map_or("-".into(), |v| v.to_string()),
                n(&alerts["total"]), critical, mins(&alerts["mtta_minutes"]), mins(&alerts["mttr_minutes"]),
                n(&body["incidents"]["total"]), n(&body["remediations"]["total"]),
                rate.map_or(String::new(), |r| format!("(成功率 {r}%)")),
            );
            if !sla.is_empty() {
                s.push_str(&format!("SLA {} 项中 {missed} 项未达标。", sla.len()));
            }
            if let Some(t) = top_error["template"].as_str() {
                s.push_str(&format!("最多的错误日志:\"{t}\"({} 次)。", n(&top_error["count"])));
            }
            s
        }
        Lang::En => {
            let mut s = format!(
                "{} hosts ({} online now), mean availability {}%; {} alerts ({} critical), mean time to acknowledge {} min and to resolve {} min; {} incidents, {} remediation runs{}.",
                n(&hosts["total"]), n(&hosts["online"]),
                hosts["mean_availability_percent"].as_f64().map_or("-".into(), |v| v.to_string()),
                n(&alerts["total"]), critical, mins(&alerts["mtta_minutes"]), mins(&alerts["mttr_minutes"]),
                n(&body["incidents"]["total"]), n(&body["remediations"]["total"]),
                rate.map_or(String::new(), |r| format!(" ({r}% succeeded)")),
            );
            if !sla.is_empty() {
                s.push_str(&format!(" {missed} of {} SLA targets missed.", sla.len()));
            }
            if let Some(t) = top_error["template"].as_str() {
                s.push_str(&format!(
                    " Most frequent error: \"{t}\" ({} times).",
                    n(&top_error["count"])
                ));
            }
            s
        }
    }
}

/// The report as Markdown.
pub fn markdown(title: &str, summary: &str, body: &Value, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let h =
        |zh_text: &str, en_text: &str| if zh { zh_text.to_string() } else { en_text.to_string() };
    let mut md = format!("# {title}\n\n{summary}\n\n");
    md.push_str(&format!("## {}\n\n", h("主机可用性", "Host availability")));
    md.push_str(&format!(
        "| {} | {} | {} |\n|---|---|---|\n",
        h("主机", "Host"),
        h("可用率", "Availability"),
        h("离线分钟", "Offline min")
    ));
    for r in body["hosts"]["availability"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {}% | {} |\n",
            r["hostname"].as_str().unwrap_or("?"),
            r["availability_percent"],
            r["offline_minutes"]
        ));
    }
    md.push_str(&format!("\n## {}\n\n", h("资源占用 Top 5", "Top resource consumers")));
    for (key, label) in
        [("cpu", "CPU".to_string()), ("memory", h("内存", "Memory")), ("disk", h("磁盘", "Disk"))]
    {
        let items: Vec<String> = body["top_resources"][key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{} {}%", r["hostname"].as_str().unwrap_or("?"), r["average_percent"]))
            .collect();
        md.push_str(&format!(
            "- **{label}**: {}\n",
            if items.is_empty() { "-".into() } else { items.join(", ") }
        ));
    }
    let alerts = &body["alerts"];
    md.push_str(&format!("\n## {}\n\n", h("告警", "Alerts")));
    md.push_str(&format!(
        "- {}: {}\n- MTTA: {} min, MTTR: {} min\n",
        h("总数", "Total"),
        alerts["total"],
        alerts["mtta_minutes"],
        alerts["mttr_minutes"]
    ));
    if let Some(sev) = alerts["by_severity"].as_object() {
        let parts: Vec<String> = sev.iter().map(|(k, v)| format!("{k} {v}")).collect();
        md.push_str(&format!("- {}: {}\n", h("按级别", "By severity"), parts.join(", ")));
    }
    for r in alerts["by_rule"].as_array().into_iter().flatten() {
        md.push_str(&format!("  - {}: {}\n", r["rule"].as_str().unwrap_or("?"), r["count"]));
    }
    md.push_str(&format!("\n## {}\n\n", h("Incident 与自动修复", "Incidents and remediation")));
    md.push_str(&format!(
        "- Incidents: {} {}\n- {}: {} {} ({}: {}%)\n",
        body["incidents"]["total"],
        body["incidents"]["by_status"],
        h("修复", "Remediation runs"),
        body["remediations"]["total"],
        body["remediations"]["by_status"],
        h("成功率", "success rate"),
        body["remediations"]["success_rate_percent"]
    ));
    md.push_str("\n## SLA\n\n");
    for s in body["sla"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "- {}: {}% / {}% {}\n",
            s["service_name"].as_str().unwrap_or("?"),
            s["actual_percent"],
            s["target_percent"],
            if s["is_met"] == true { "✓" } else { "✗" }
        ));
    }
    md.push_str(&format!("\n## {}\n\n", h("错误日志", "Error logs")));
    for c in body["log_errors"]["clusters"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "- `{}` × {} ({})\n",
            c["template"].as_str().unwrap_or("?"),
            c["count"],
            c["level"].as_str().unwrap_or("")
        ));
    }
    md
}
