//! AI analysis (seed 000 §AI Analysis, §Custom Runbooks → AI Generate Runbook): log
//! analysis, insights, chat, root cause, system summary and runbook drafts.
//!
//! Each route answers from the configured LLM when there is one and from the rules
//! engine (`warden_actors::ai`) otherwise, and says which in `"engine"`. An LLM answer is
//! checked against the shape the route needs; one that fails twice is a 502 naming the
//! problem, never a made-up answer and never a silent fall-back.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::ai::{chat, logs, root_cause, similarity, Lang};
use warden_actors::ids::HostId;
use warden_actors::remediation::guard::CommandGuard;
use warden_actors::remediation::runbook::{RiskLevel, Runbook, Step};

use crate::http::error::ApiError;
use crate::http::extract::{
    one_of, parse_json, AppJson, AppPath, AppQuery, AuthUser, OperatorUser, PageQuery,
};
use crate::http::state::AppState;
use crate::llm::{LlmConfig, LlmError};
use crate::storage::alerts::AlertFilter;
use crate::storage::incidents::IncidentFilter;
use crate::storage::insights::{InsightRow, NewInsight};
use crate::storage::logs::{LogFilter, LogRow};
use crate::storage::remediation::RunFilter;
use crate::storage::stored_json;

const SEVERITIES: &[&str] = &["info", "warning", "critical"];
const INSIGHT_STATUSES: &[&str] = &["new", "reviewed", "dismissed"];
/// Log lines one analysis reads at most (the newest).
const MAX_LOG_LINES: u32 = 2000;

pub fn lang(state: &AppState) -> Lang {
    Lang::from_locale(&state.runtime_settings().locale)
}

/// The LLM to use, or `None` for the rules engine.
pub fn llm_config(state: &AppState) -> Option<LlmConfig> {
    state.integrations.borrow().llm_config()
}

/// 502 naming what went wrong with the LLM.
pub fn llm_failed(e: LlmError) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, format!("LLM analysis failed: {e}"))
}

fn engine(cfg: &Option<LlmConfig>) -> &'static str {
    if cfg.is_some() {
        "llm"
    } else {
        "rules"
    }
}

fn language_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "Simplified Chinese",
        Lang::En => "English",
    }
}

fn str_field(v: &Value, key: &str) -> Result<String, String> {
    v[key]
        .as_str()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("\"{key}\" must be a non-empty string"))
}

fn str_list(v: &Value, key: &str) -> Result<Vec<String>, String> {
    let items = v[key].as_array().ok_or_else(|| format!("\"{key}\" must be a list of strings"))?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(|s| s.trim().to_string())
                .ok_or_else(|| format!("\"{key}\" must hold only strings"))
        })
        .collect()
}

/// Levels from `ERROR` or `error,warn`; each must be letters only.
fn parse_levels(loc: &[&str], level: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(level) = level.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(["WARN", "WARNING", "ERROR", "CRITICAL", "FATAL"].map(String::from).to_vec());
    };
    let mut out = Vec::new();
    for l in level.split(',').map(|l| l.trim().to_ascii_uppercase()).filter(|l| !l.is_empty()) {
        if l.len() > 16 || !l.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ApiError::field(loc, "value_error", format!("'{l}' is not a log level")));
        }
        out.push(l);
    }
    Ok(out)
}

// ---------------------------------------------------------------- analyze logs

/// Log analysis parameters, as a JSON body (seed) or as query parameters (source).
#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
pub struct AnalyzeIn {
    /// Hours back from now, 1–168 (default 1).
    pub hours: Option<i64>,
    pub host_id: Option<i64>,
    /// A level or comma list (default WARN and worse).
    pub level: Option<String>,
}

/// Analyse recent logs: problem clusters, severity, summary and recommendations; the
/// result is stored as an insight.
#[utoipa::path(post, path = "/api/v1/ai/analyze-logs", tag = "ai", security(("bearer" = [])), params(AnalyzeIn),
    request_body = AnalyzeIn,
    responses((status = 200, description = "{success, analysis: {title, severity, summary, recommendations}, log_count, engine, insight_id}"),
    (status = 422, description = "bad parameter"), (status = 502, description = "the LLM failed")))]
pub async fn analyze_logs(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(q): AppQuery<AnalyzeIn>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: AnalyzeIn = if body.iter().all(u8::is_ascii_whitespace) {
        AnalyzeIn::default()
    } else {
        parse_json(&body)?
    };
    let hours = b.hours.or(q.hours).unwrap_or(1);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::field(
            &["body", "hours"],
            "value_error",
            "Input should be between 1 and 168",
        ));
    }
    let host_id = b.host_id.or(q.host_id);
    let levels = parse_levels(&["body", "level"], b.level.as_deref().or(q.level.as_deref()))?;
    let now = state.clock.now();
    let filter = LogFilter {
        host_id,
        levels,
        start: Some(now - Duration::hours(hours)),
        end: Some(now),
        ..LogFilter::default()
    };
    let found = state.db.search_logs(&filter, 1, MAX_LOG_LINES).await?;
    let entries: Vec<logs::LogEntry> = found.items.iter().map(LogRow::entry).collect();
    let lang = lang(&state);
    let rules = logs::analyze(&entries, hours as u32, lang);
    let cfg = llm_config(&state);
    let (title, severity, summary, recommendations) = match &cfg {
        Some(cfg) if !entries.is_empty() => {
            let clusters: Vec<Value> = rules
                .clusters
                .iter()
                .map(|c| json!({"template": c.template, "level": c.level, "count": c.count, "hosts": c.hosts,
                                "services": c.services, "sample": c.sample}))
                .collect();
            let system = format!(
                "You are a senior SRE analysing server logs. Answer in {} with a JSON object \
                 {{\"title\": string, \"severity\": \"info\"|\"warning\"|\"critical\", \"summary\": string, \
                 \"recommendations\": [string]}}.",
                language_name(lang)
            );
            let user_prompt = format!(
                "{} log lines in the last {hours} h ({} matched in total), grouped into templates (numbers, ids and \
                 paths masked), most severe first:\n{}",
                entries.len(),
                found.total,
                serde_json::to_string_pretty(&clusters).unwrap_or_default()
            );
            state
                .llm
                .json(cfg, &system, &user_prompt, |v| {
                    let severity = str_field(v, "severity")?;
                    if !SEVERITIES.contains(&severity.as_str()) {
                        return Err("\"severity\" must be info, warning or critical".into());
                    }
                    Ok((
                        str_field(v, "title")?,
                        severity,
                        str_field(v, "summary")?,
                        str_list(v, "recommendations")?,
                    ))
                })
                .await
                .map_err(llm_failed)?
        }
        _ => (
            rules.title.clone(),
            rules.severity.clone(),
            rules.summary.clone(),
            rules.recommendations.clone(),
        ),
    };
    let engine = if entries.is_empty() { "rules" } else { engine(&cfg) };
    let analysis = json!({"title": title, "severity": severity, "summary": summary,
                          "recommendations": recommendations, "clusters": rules.clusters});
    let details =
        json!({"analysis": analysis, "hours": hours, "host_id": host_id, "log_count": found.total});
    let insight_id = state
        .db
        .create_insight(
            &NewInsight {
                insight_type: "log_analysis",
                severity: &severity,
                title: &title,
                summary: &summary,
                details: &details,
                engine,
                related_host_id: host_id,
                related_alert_id: None,
                created_by: Some(user.id),
            },
            now,
        )
        .await?;
    Ok(Json(
        json!({"success": true, "analysis": analysis, "log_count": found.total, "engine": engine,
                   "insight_id": insight_id}),
    ))
}

// ---------------------------------------------------------------- insights

fn insight_json(i: &InsightRow) -> Value {
    json!({
        "id": i.id, "insight_type": i.insight_type, "severity": i.severity, "title": i.title, "summary": i.summary,
        "details": stored_json(Some(&i.details)), "engine": i.engine, "status": i.status,
        "related_host_id": i.related_host_id, "related_alert_id": i.related_alert_id,
        "created_at": i.created_at, "updated_at": i.updated_at,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InsightsQuery {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    /// info, warning or critical
    pub severity: Option<String>,
    /// new, reviewed or dismissed
    pub status: Option<String>,
}

/// Stored insights, newest first.
#[utoipa::path(get, path = "/api/v1/ai/insights", tag = "ai", security(("bearer" = [])), params(InsightsQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn insights(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<InsightsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(20, 100)?;
    let severity = q.severity.filter(|s| !s.is_empty());
    let status = q.status.filter(|s| !s.is_empty());
    if let Some(s) = &severity {
        one_of(&["query", "severity"], s, SEVERITIES)?;
    }
    if let Some(s) = &status {
        one_of(&["query", "status"], s, INSIGHT_STATUSES)?;
    }
    let found =
        state.db.list_insights(severity.as_deref(), status.as_deref(), page, page_size).await?;
    let items: Vec<Value> = found.items.iter().map(insight_json).collect();
    Ok(Json(json!({"items": items, "total": found.total, "page": page, "page_size": page_size})))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InsightStatusIn {
    /// new, reviewed or dismissed
    pub status: String,
}

/// Mark an insight reviewed or dismissed (or new again).
#[utoipa::path(put, path = "/api/v1/ai/insights/{id}", tag = "ai", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = InsightStatusIn,
    responses((status = 200, description = "insight"), (status = 404, description = "Insight not found"), (status = 422, description = "bad status")))]
pub async fn set_insight_status(
    State(state): State<AppState>,
    OperatorUser(_user): OperatorUser,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<InsightStatusIn>,
) -> Result<Json<Value>, ApiError> {
    one_of(&["body", "status"], &body.status, INSIGHT_STATUSES)?;
    let row = state
        .db
        .set_insight_status(id, &body.status, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("Insight not found"))?;
    Ok(Json(insight_json(&row)))
}

// ---------------------------------------------------------------- chat

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatIn {
    pub question: String,
}

/// Hosts, open alerts, approvals, recent errors and down services, as the answers
/// need them.
/// Every host with its live status and latest CPU and memory.
async fn host_facts(state: &AppState) -> Result<Vec<chat::HostFact>, ApiError> {
    Ok(state
        .db
        .all_hosts()
        .await?
        .iter()
        .map(|h| {
            let live = state.runtime.registry.host(HostId(h.id)).map(|e| e.live);
            let metrics = live.as_ref().and_then(|l| l.metrics());
            chat::HostFact {
                id: h.id,
                hostname: h.hostname.clone(),
                status: live.as_ref().map_or(h.status.clone(), |l| l.status().as_str().to_string()),
                cpu_percent: metrics.as_ref().and_then(|m| m.cpu_percent),
                memory_percent: metrics.as_ref().and_then(|m| m.memory_percent),
                last_heartbeat: live.as_ref().and_then(|l| l.last_seen()).or(h.last_heartbeat),
            }
        })
        .collect())
}

async fn live_facts(state: &AppState, now: DateTime<Utc>) -> Result<chat::Facts, ApiError> {
    let host_facts = host_facts(state).await?;
    let names: HashMap<i64, String> =
        host_facts.iter().map(|h| (h.id, h.hostname.clone())).collect();
    let firing = AlertFilter { status: Some("firing".into()), ..AlertFilter::default() };
    let alerts = state.db.list_alerts(&firing, 1, 100).await?.items;
    let approvals = state
        .db
        .list_runs(
            &RunFilter { status: Some("pending_approval".into()), ..RunFilter::default() },
            1,
            100,
        )
        .await?
        .items;
    let errors = state
        .db
        .search_logs(&LogFilter::errors(now - Duration::hours(1), now), 1, 500)
        .await?
        .items;
    let services = state.db.all_services().await?;
    Ok(chat::Facts {
        hosts: host_facts,
        alerts: alerts
            .iter()
            .map(|a| chat::AlertFact {
                id: a.id,
                title: a.title.clone(),
                severity: a.severity.clone(),
                hostname: a.host_id.and_then(|h| names.get(&h).cloned()),
                fired_at: a.fired_at,
            })
            .collect(),
        approvals: approvals
            .iter()
            .map(|r| chat::ApprovalFact {
                id: r.id,
                runbook: r.runbook_name.clone(),
                hostname: r.host_id.and_then(|h| names.get(&h).cloned()),
                created_at: r.created_at,
            })
            .collect(),
        errors: errors
            .iter()
            .map(|l| chat::ErrorFact {
                hostname: l.hostname.clone().unwrap_or_default(),
                service: l.service.clone().unwrap_or_default(),
                level: l.level.clone(),
                message: l.message.clone(),
                timestamp: l.timestamp,
            })
            .collect(),
        services_total: services.len(),
        services_down: services
            .iter()
            .filter(|s| s.status == "down")
            .map(|s| s.name.clone())
            .collect(),
    })
}

/// Resolved incidents and knowledge entries that read like the question.
pub async fn memory_context(state: &AppState, question: &str) -> Result<Vec<Value>, ApiError> {
    let resolved = IncidentFilter { status: Some("resolved".into()), ..IncidentFilter::default() };
    let incidents = state.db.list_incidents(&resolved, 1, 500).await?.items;
    let knowledge = state.db.list_knowledge(None, None, 1, 500).await?.items;
    let texts: Vec<(i64, String)> = incidents
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                i as i64,
                format!(
                    "{} {} {}",
                    r.title,
                    r.description,
                    r.resolution.clone().unwrap_or_default()
                ),
            )
        })
        .collect();
    let mut out = Vec::new();
    for (i, score) in similarity::most_similar(question, &texts, 0.2, 3) {
        let r = &incidents[i as usize];
        out.push(
            json!({"type": "incident", "id": r.id, "title": r.title, "resolution": r.resolution,
                        "score": (score * 100.0).round() / 100.0}),
        );
    }
    let texts: Vec<(i64, String)> =
        knowledge.iter().map(|k| (k.id, format!("{} {} {}", k.title, k.content, k.tags))).collect();
    for (id, score) in similarity::most_similar(question, &texts, 0.2, 3) {
        if let Some(k) = knowledge.iter().find(|k| k.id == id) {
            out.push(
                json!({"type": "knowledge", "id": k.id, "title": k.title, "category": k.category,
                            "content": k.content.chars().take(500).collect::<String>(),
                            "score": (score * 100.0).round() / 100.0}),
            );
        }
    }
    Ok(out)
}

/// Answer a question about the fleet from live data.
#[utoipa::path(post, path = "/api/v1/ai/chat", tag = "ai", security(("bearer" = [])), request_body = ChatIn,
    responses((status = 200, description = "{answer, sources, memory_context, engine}"), (status = 422, description = "bad question"),
    (status = 502, description = "the LLM failed")))]
pub async fn chat(
    State(state): State<AppState>,
    _user: AuthUser,
    AppJson(body): AppJson<ChatIn>,
) -> Result<Json<Value>, ApiError> {
    let question = body.question.trim().to_string();
    if question.is_empty() || question.chars().count() > 2000 {
        return Err(ApiError::field(
            &["body", "question"],
            "string_length",
            "String should have 1 to 2000 characters",
        ));
    }
    let now = state.clock.now();
    let facts = live_facts(&state, now).await?;
    let memory = memory_context(&state, &question).await?;
    let lang = lang(&state);
    let cfg = llm_config(&state);
    let (answer, sources, recognised) = match &cfg {
        None => {
            let mut known: Vec<String> = facts.hosts.iter().map(|h| h.hostname.clone()).collect();
            known.extend(state.db.all_services().await?.into_iter().map(|s| s.name));
            let a = chat::answer(&chat::intent(&question, &known), &facts, now, lang);
            (a.answer, a.sources, a.recognised)
        }
        Some(cfg) => {
            let overview = chat::answer(&chat::Intent::SystemOverview, &facts, now, lang);
            let context = json!({
                "overview": overview.answer,
                "hosts": facts.hosts.iter().map(|h| json!({"hostname": h.hostname, "status": h.status,
                    "cpu_percent": h.cpu_percent, "memory_percent": h.memory_percent})).collect::<Vec<_>>(),
                "open_alerts": facts.alerts.iter().take(30).map(|a| json!({"title": a.title, "severity": a.severity,
                    "host": a.hostname, "fired_at": a.fired_at})).collect::<Vec<_>>(),
                "pending_approvals": facts.approvals.iter().map(|r| json!({"id": r.id, "runbook": r.runbook,
                    "host": r.hostname})).collect::<Vec<_>>(),
                "recent_error_clusters": logs::cluster(&facts.errors.iter().map(|e| logs::LogEntry {
                    hostname: e.hostname.clone(), service: e.service.clone(), level: e.level.clone(),
                    message: e.message.clone(), timestamp: e.timestamp }).collect::<Vec<_>>())
                    .into_iter().take(10).map(|c| json!({"template": c.template, "count": c.count, "hosts": c.hosts}))
                    .collect::<Vec<_>>(),
                "services_down": facts.services_down,
                "similar_past_incidents_and_knowledge": memory,
            });
            let messages = [
                crate::llm::Message::System(format!(
                    "You are Warden's operations assistant. Answer in {} from the live data given; say plainly \
                     when the data does not answer the question. Do not invent hosts, numbers or events.",
                    language_name(lang)
                )),
                crate::llm::Message::User(format!(
                    "Live data (JSON):\n{}\n\nQuestion: {question}",
                    serde_json::to_string_pretty(&context).unwrap_or_default()
                )),
            ];
            let reply = state.llm.chat(cfg, &messages, &[], false).await;
            // One retry for a transient failure or an empty answer, like the JSON routes.
            let reply = match reply {
                Ok(r) if r.text.as_deref().is_some_and(|t| !t.trim().is_empty()) => Ok(r),
                Ok(_) => Err(LlmError::Invalid("the answer is empty".into())),
                Err(e) => Err(e),
            };
            let reply = match reply {
                Err(e) if e.retryable() => {
                    state.llm.chat(cfg, &messages, &[], false).await.and_then(|r| {
                        r.text
                            .filter(|t| !t.trim().is_empty())
                            .ok_or_else(|| LlmError::Invalid("the answer is empty".into()))
                    })
                }
                other => other.map(|r| r.text.unwrap_or_default()),
            }
            .map_err(llm_failed)?;
            let sources = ["hosts", "metrics", "alerts", "remediations", "logs", "services"]
                .map(String::from)
                .to_vec();
            (reply.trim().to_string(), sources, true)
        }
    };
    Ok(Json(
        json!({"answer": answer, "sources": sources, "memory_context": memory, "engine": engine(&cfg),
                   "recognised": recognised}),
    ))
}

// ---------------------------------------------------------------- root cause

#[derive(Debug, Deserialize, IntoParams)]
pub struct RootCauseQuery {
    pub alert_id: Option<i64>,
}

/// Reads one metric of a stored point.
type Column = fn(&crate::storage::hosts::MetricPoint) -> Option<f64>;

/// The metric series of a host between two times, one per column.
fn series_of(
    points: &[crate::storage::hosts::MetricPoint],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<root_cause::Series> {
    let columns: [(&str, Column); 6] = [
        ("cpu_percent", |p| p.cpu_percent),
        ("memory_percent", |p| p.memory_percent),
        ("disk_percent", |p| p.disk_percent),
        ("cpu_load_1", |p| p.cpu_load_1),
        ("net_send_rate_kb", |p| p.net_send_rate_kb),
        ("net_recv_rate_kb", |p| p.net_recv_rate_kb),
    ];
    columns
        .iter()
        .map(|(name, get)| root_cause::Series {
            name: (*name).to_string(),
            points: points
                .iter()
                .filter(|p| p.recorded_at >= from && p.recorded_at <= to)
                .filter_map(|p| get(p).map(|v| (p.recorded_at, v)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// Root cause of an alert from the ±30 min around it: the alert's metric against the
/// host's other metrics, error logs, service states and topology neighbours.
#[utoipa::path(post, path = "/api/v1/ai/root-cause", tag = "ai", security(("bearer" = [])), params(RootCauseQuery),
    responses((status = 200, description = "{alert_id, analysis: {root_cause, evidence, recommendations, confidence}, engine}"),
    (status = 404, description = "Alert not found"), (status = 502, description = "the LLM failed")))]
pub async fn root_cause(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(q): AppQuery<RootCauseQuery>,
) -> Result<Json<Value>, ApiError> {
    let Some(alert_id) = q.alert_id else {
        return Err(ApiError::field(&["query", "alert_id"], "missing", "Field required"));
    };
    let alert = state
        .db
        .alert_by_id(alert_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Alert not found"))?;
    let (from, to) =
        (alert.fired_at - Duration::minutes(30), alert.fired_at + Duration::minutes(30));
    let metric = match alert.rule_id {
        Some(r) => state.db.rule_by_id(r).await?.and_then(|r| r.fields.metric),
        None => None,
    };
    let host = match alert.host_id {
        Some(h) => state.db.host_by_id(h).await?,
        None => None,
    };
    let mut input = root_cause::RootCauseInput {
        alert_title: alert.title.clone(),
        alert_metric: metric.clone(),
        hostname: host.as_ref().map(|h| h.hostname.clone()),
        fired_at: alert.fired_at,
        target: None,
        others: Vec::new(),
        errors: Vec::new(),
        services: Vec::new(),
        neighbours: Vec::new(),
    };
    if let Some(h) = &host {
        let points = state.db.host_metrics(h.id, from, None).await?;
        let mut series = series_of(&points, from, to);
        if let Some(m) = &metric {
            if let Some(i) = series.iter().position(|s| &s.name == m) {
                input.target = Some(series.remove(i));
            }
        }
        input.others = series;
        let filter = LogFilter { host_id: Some(h.id), ..LogFilter::errors(from, to) };
        input.errors =
            state.db.search_logs(&filter, 1, 1000).await?.items.iter().map(LogRow::entry).collect();
        let services: Vec<_> = state.db.all_services().await?;
        let mine: Vec<i64> = services.iter().filter(|s| s.host_id == h.id).map(|s| s.id).collect();
        input.services = services
            .iter()
            .filter(|s| s.host_id == h.id)
            .map(|s| root_cause::ServiceState {
                name: s.name.clone(),
                status: s.status.clone(),
                last_error: s.last_error.clone(),
                changed_at: s.status_changed_at,
            })
            .collect();
        input.neighbours = super::topology::neighbours(&state, &mine).await?;
    }
    let lang = lang(&state);
    let rules = root_cause::analyze(&input, lang);
    let cfg = llm_config(&state);
    let analysis = match &cfg {
        None => serde_json::to_value(&rules).unwrap_or(Value::Null),
        Some(cfg) => {
            let system = format!(
                "You are a senior SRE finding the root cause of an alert. Answer in {} with a JSON object \
                 {{\"root_cause\": string, \"evidence\": [string], \"recommendations\": [string], \"confidence\": number 0..1}}. \
                 Base every statement on the data given.",
                language_name(lang)
            );
            let data = json!({
                "alert": {"title": alert.title, "severity": alert.severity, "message": alert.message,
                          "metric": metric, "value": alert.metric_value, "threshold": alert.threshold,
                          "fired_at": alert.fired_at, "host": input.hostname},
                "rules_engine_hypotheses": rules.hypotheses,
                "error_log_clusters": logs::cluster(&input.errors).into_iter().take(10)
                    .map(|c| json!({"template": c.template, "count": c.count, "first_seen": c.first_seen})).collect::<Vec<_>>(),
                "services": input.services.iter().map(|s| json!({"name": s.name, "status": s.status,
                    "last_error": s.last_error, "changed_at": s.changed_at})).collect::<Vec<_>>(),
                "topology_neighbours": input.neighbours.iter().map(|n| json!({"name": n.name, "host": n.hostname,
                    "status": n.status, "relation": n.relation})).collect::<Vec<_>>(),
            });
            let user_prompt = format!(
                "Data from 30 minutes before to 30 minutes after the alert (JSON):\n{}",
                serde_json::to_string_pretty(&data).unwrap_or_default()
            );
            state
                .llm
                .json(cfg, &system, &user_prompt, |v| {
                    let confidence = v["confidence"].as_f64().unwrap_or(0.5);
                    if !(0.0..=1.0).contains(&confidence) {
                        return Err("\"confidence\" must be between 0 and 1".into());
                    }
                    Ok(json!({"root_cause": str_field(v, "root_cause")?, "evidence": str_list(v, "evidence")?,
                              "recommendations": str_list(v, "recommendations")?, "confidence": confidence}))
                })
                .await
                .map_err(llm_failed)?
        }
    };
    let engine = engine(&cfg);
    let summary = analysis["root_cause"].as_str().unwrap_or_default().to_string();
    let severity = if SEVERITIES.contains(&alert.severity.as_str()) {
        alert.severity.as_str()
    } else {
        "warning"
    };
    let insight_id = state
        .db
        .create_insight(
            &NewInsight {
                insight_type: "root_cause",
                severity,
                title: &alert.title,
                summary: &summary,
                details: &json!({"alert_id": alert_id, "analysis": analysis}),
                engine,
                related_host_id: alert.host_id,
                related_alert_id: Some(alert_id),
                created_by: Some(user.id),
            },
            state.clock.now(),
        )
        .await?;
    Ok(Json(
        json!({"alert_id": alert_id, "analysis": analysis, "engine": engine, "insight_id": insight_id}),
    ))
}

// ---------------------------------------------------------------- system summary

/// A snapshot of the fleet: hosts, services, the last hour's alerts and error logs,
/// and the mean CPU and memory of the hosts that report metrics.
#[utoipa::path(get, path = "/api/v1/ai/system-summary", tag = "ai", security(("bearer" = [])),
    responses((status = 200, description = "{hosts, services, recent_1h, avg_usage}")))]
pub async fn system_summary(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let hosts = host_facts(&state).await?;
    let online = hosts.iter().filter(|h| h.status == "online").count();
    let services = state.db.service_stats().await?;
    let firing = AlertFilter { status: Some("firing".into()), ..AlertFilter::default() };
    let open_alerts = state.db.list_alerts(&firing, 1, 1).await?.total;
    let waiting = RunFilter { status: Some("pending_approval".into()), ..RunFilter::default() };
    let pending_approvals = state.db.list_runs(&waiting, 1, 1).await?.total;
    let alerts_1h = state.db.alert_counts(now - Duration::hours(1)).await?;
    let errors_1h =
        state.db.search_logs(&LogFilter::errors(now - Duration::hours(1), now), 1, 1).await?.total;
    let mean = |f: fn(&chat::HostFact) -> Option<f64>| {
        let v: Vec<f64> = hosts.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| ((v.iter().sum::<f64>() / v.len() as f64) * 10.0).round() / 10.0)
    };
    Ok(Json(json!({
        "hosts": {"total": hosts.len(), "online": online, "offline": hosts.len() - online},
        "services": {"total": services.total, "up": services.total - services.unhealthy, "down": services.unhealthy},
        "recent_1h": {"alert_count": alerts_1h.2, "error_log_count": errors_1h},
        "avg_usage": {"cpu_percent": mean(|h| h.cpu_percent), "memory_percent": mean(|h| h.memory_percent)},
        "open_alerts": open_alerts,
        "pending_approvals": pending_approvals,
    })))
}

// ---------------------------------------------------------------- runbook drafts

#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerateRunbookIn {
    /// What the runbook should do, in plain words.
    pub description: String,
    /// auto, confirm or block (default confirm)
    pub risk_level: Option<String>,
}

/// A step the safety check removed from a draft, and why.
fn removed(section: &str, step: &Step, command: &str, reason: String) -> Value {
    json!({"section": section, "name": step.name, "command": command, "reason": reason})
}

/// Drops the steps whose command (or rollback) the command guard refuses.
fn filter_unsafe(runbook: &mut Runbook, guard: &CommandGuard) -> Vec<Value> {
    let mut out = Vec::new();
    for (section, steps) in
        [("steps", &mut runbook.steps), ("verify_steps", &mut runbook.verify_steps)]
    {
        steps.retain(|step| {
            let commands =
                std::iter::once(step.command.as_str()).chain(step.rollback_command.as_deref());
            for c in commands {
                if let Err(refusal) = guard.check(c) {
                    out.push(removed(section, step, c, refusal.to_string()));
                    return false;
                }
            }
            true
        });
    }
    out
}

fn step(name: &str, command: &str, timeout_sec: u64) -> Step {
    Step { name: name.into(), command: command.into(), timeout_sec, rollback_command: None }
}

/// The rules engine's draft: a template chosen by the words of the description.
fn rules_runbook(description: &str, risk: RiskLevel) -> Runbook {
    let d = description.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| d.contains(w));
    let service = [
        "nginx",
        "mysql",
        "redis",
        "postgresql",
        "postgres",
        "docker",
        "mongod",
        "tomcat",
        "php-fpm",
        "java",
    ]
    .into_iter()
    .find(|s| d.contains(s))
    .map(|s| if s == "postgres" { "postgresql" } else { s });
    let (name, types, keywords, steps, verify): (
        String,
        Vec<&str>,
        Vec<&str>,
        Vec<Step>,
        Vec<Step>,
    ) = if service == Some("redis") && has(&["memory", "内存", "key", "过期"]) {
        (
            "redis_memory_cleanup".into(),
            vec!["metric", "memory_percent"],
            vec!["redis", "memory", "内存"],
            vec![
                step("Check Redis memory", "redis-cli info memory", 10),
                step("Purge expired keys", "redis-cli --no-auth-warning memory purge", 30),
            ],
            vec![step("Verify Redis answers", "redis-cli ping", 10)],
        )
    } else if has(&["disk", "磁盘", "空间", "space"]) {
        (
            "disk_space_cleanup".into(),
            vec!["disk_percent"],
            vec!["disk", "磁盘"],
            vec![
                step("Show disk usage", "df -h", 10),
                step("Shrink the journal", "journalctl --vacuum-size=500M", 60),
                step("Remove old rotated logs", "find /var/log -name '*.gz' -mtime +7 -delete", 60),
            ],
            vec![step("Verify disk usage", "df -h /", 10)],
        )
    } else if let Some(svc) =
        service.filter(|_| has(&["restart", "重启", "down", "挂", "宕", "恢复"]))
    {
        (
            format!("{svc}_restart"),
            vec!["service_down"],
            vec![svc],
            vec![
                step(&format!("Check {svc}"), &format!("systemctl status {svc} --no-pager"), 10),
                Step {
                    rollback_command: Some(format!("systemctl start {svc}")),
                    ..step(&format!("Restart {svc}"), &format!("systemctl restart {svc}"), 60)
                },
            ],
            vec![step(
                &format!("Verify {svc} is active"),
                &format!("systemctl is-active {svc}"),
                10,
            )],
        )
    } else if has(&["memory", "内存", "oom"]) {
        (
            "memory_pressure_relief".into(),
            vec!["memory_percent"],
            vec!["memory", "内存"],
            vec![
                step("Show memory", "free -m", 10),
                step("Top memory consumers", "ps aux --sort=-%mem | head -n 15", 10),
                step("Drop page cache", "sync; echo 1 > /proc/sys/vm/drop_caches", 30),
            ],
            vec![step("Verify memory", "free -m", 10)],
        )
    } else if has(&["cpu", "load", "负载"]) {
        (
            "cpu_hotspot_inspection".into(),
            vec!["cpu_percent"],
            vec!["cpu", "load"],
            vec![
                step("Load averages", "uptime", 10),
                step("Top CPU consumers", "ps aux --sort=-%cpu | head -n 15", 10),
            ],
            vec![step("Verify load", "uptime", 10)],
        )
    } else if has(&["log", "日志"]) {
        (
            "log_rotation".into(),
            vec!["disk_percent"],
            vec!["log", "日志"],
            vec![step("Rotate logs now", "logrotate -f /etc/logrotate.conf", 120)],
            vec![step("Verify disk usage", "df -h /var/log", 10)],
        )
    } else {
        (
            "host_health_check".into(),
            vec![],
            vec![],
            vec![
                step("Uptime and load", "uptime", 10),
                step("Disk usage", "df -h", 10),
                step("Memory", "free -m", 10),
            ],
            vec![],
        )
    };
    Runbook {
        id: None,
        name,
        description: description.chars().take(500).collect(),
        match_alert_types: types.into_iter().map(String::from).collect(),
        trigger_keywords: keywords.into_iter().map(String::from).collect(),
        risk_level: risk,
        safety_checks: Vec::new(),
        steps,
        verify_steps: verify,
    }
}

/// The model's draft, checked for the custom-runbook shape.
fn llm_runbook(v: &Value, risk: RiskLevel) -> Result<Runbook, String> {
    let parse_steps = |key: &str, required: bool| -> Result<Vec<Step>, String> {
        let Some(items) = v[key].as_array() else {
            return if required {
                Err(format!("\"{key}\" must be a list of steps"))
            } else {
                Ok(Vec::new())
            };
        };
        items
            .iter()
            .map(|s| {
                let timeout = s["timeout_sec"].as_u64().unwrap_or(30);
                if !(1..=3600).contains(&timeout) {
                    return Err(format!("\"{key}\": timeout_sec must be between 1 and 3600"));
                }
                Ok(Step {
                    name: str_field(s, "name")?,
                    command: str_field(s, "command")?,
                    timeout_sec: timeout,
                    rollback_command: s["rollback_command"]
                        .as_str()
                        .map(str::to_string)
                        .filter(|c| !c.trim().is_empty()),
                })
            })
            .collect()
    };
    let steps = parse_steps("steps", true)?;
    if steps.is_empty() {
        return Err("\"steps\" must hold at least one step".into());
    }
    let name: String = str_field(v, "name")?
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    Ok(Runbook {
        id: None,
        name,
        description: v["description"].as_str().unwrap_or_default().chars().take(500).collect(),
        match_alert_types: v["match_alert_types"].as_array().map_or_else(Vec::new, |a| {
            a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect()
        }),
        trigger_keywords: v["trigger_keywords"].as_array().map_or_else(Vec::new, |a| {
            a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect()
        }),
        risk_level: risk,
        safety_checks: Vec::new(),
        steps,
        verify_steps: parse_steps("verify_steps", false)?,
    })
}

/// Draft a custom runbook from a description. Steps the remediation safety check
/// refuses are removed and listed with the reason; nothing is saved.
#[utoipa::path(post, path = "/api/v1/ai/generate-runbook", tag = "ai", security(("bearer" = [])), request_body = GenerateRunbookIn,
    responses((status = 200, description = "{runbook, removed_steps, engine, saved: false}"), (status = 422, description = "bad field"),
    (status = 502, description = "the LLM failed")))]
pub async fn generate_runbook(
    State(state): State<AppState>,
    OperatorUser(_user): OperatorUser,
    AppJson(body): AppJson<GenerateRunbookIn>,
) -> Result<Json<Value>, ApiError> {
    let description = body.description.trim().to_string();
    if description.is_empty() || description.chars().count() > 2000 {
        return Err(ApiError::field(
            &["body", "description"],
            "string_length",
            "String should have 1 to 2000 characters",
        ));
    }
    let risk = match body.risk_level.as_deref() {
        None => RiskLevel::Confirm,
        Some(r) => RiskLevel::parse(r).ok_or_else(|| {
            ApiError::field(
                &["body", "risk_level"],
                "enum",
                format!("Input should be {}", RiskLevel::NAMES),
            )
        })?,
    };
    let cfg = llm_config(&state);
    let mut runbook = match &cfg {
        None => rules_runbook(&description, risk),
        Some(cfg) => {
            let system = "You write remediation runbooks for Linux servers. Answer with a JSON object \
                {\"name\": snake_case string, \"description\": string, \"match_alert_types\": [string], \
                \"trigger_keywords\": [string], \"steps\": [{\"name\": string, \"command\": string, \"timeout_sec\": integer, \
                \"rollback_command\": string or null}], \"verify_steps\": [same shape]}. Commands run with sh on the host; \
                prefer read-only checks first and the least destructive fix.";
            state
                .llm
                .json(cfg, system, &format!("Runbook for: {description}"), |v| llm_runbook(v, risk))
                .await
                .map_err(llm_failed)?
        }
    };
    let guard = CommandGuard::new(&state.runtime_settings().forbidden_verbs);
    let removed = filter_unsafe(&mut runbook, &guard);
    Ok(Json(json!({
        "runbook": {
            "name": runbook.name, "description": runbook.description, "match_alert_types": runbook.match_alert_types,
            "trigger_keywords": runbook.trigger_keywords, "risk_level": runbook.risk_level.as_str(),
            "safety_checks": runbook.safety_checks, "steps": runbook.steps, "verify_steps": runbook.verify_steps,
        },
        "removed_steps": removed,
        "engine": engine(&cfg),
        "saved": false,
    })))
}
