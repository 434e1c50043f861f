//! The rules engine of incident diagnosis, used when no LLM is configured: which
//! diagnostic plugins to call for an incident, and what their results say. Everything
//! here is deterministic; the loop that calls the plugins lives in the shell.

use serde_json::{json, Value};

/// Below this confidence a diagnosis escalates the incident.
pub const ESCALATE_BELOW: f64 = 0.3;
/// At most this many plugin calls per diagnosis.
pub const MAX_ROUNDS: usize = 8;

/// What the plan is built from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub title: String,
    pub service: Option<String>,
    pub host_id: Option<i64>,
}

/// The conclusion of a diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub conclusion: String,
    pub confidence: f64,
    pub key_findings: Vec<String>,
    pub suggested_actions: Vec<String>,
}

impl Diagnosis {
    pub fn to_json(&self) -> Value {
        json!({"engine": "rules", "conclusion": self.conclusion, "confidence": self.confidence,
               "key_findings": self.key_findings, "suggested_actions": self.suggested_actions})
    }
}

/// The word logs and knowledge are searched for: the service, else the longest word of
/// the title.
pub fn keyword(facts: &Facts) -> Option<String> {
    if let Some(service) = facts.service.as_ref().filter(|s| !s.trim().is_empty()) {
        return Some(service.trim().to_string());
    }
    facts
        .title
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| w.chars().count() >= 3)
        .max_by_key(|w| w.chars().count())
        .map(str::to_string)
}

/// The calls to make, in order, at most [`MAX_ROUNDS`].
pub fn plan(facts: &Facts) -> Vec<(&'static str, Value)> {
    let mut calls = Vec::new();
    if let Some(host) = facts.host_id {
        calls.push(("get_host_metrics", json!({"host_id": host})));
        calls.push(("recent_alerts", json!({"host_id": host, "status": "firing", "limit": 10})));
    }
    let word = keyword(facts);
    if let Some(word) = &word {
        let mut args = json!({"query": word, "minutes": 30, "limit": 5});
        if let Some(host) = facts.host_id {
            args["host_id"] = json!(host);
        }
        calls.push(("search_logs", args));
    }
    if let Some(service) = &facts.service {
        calls.push(("service_status", json!({"name": service})));
        calls.push(("service_dependencies", json!({"service": service})));
    }
    if let Some(word) = &word {
        calls.push(("search_knowledge", json!({"query": word, "limit": 3})));
        calls.push(("incident_history", json!({"title": word, "limit": 5})));
    }
    calls.push(("list_runbooks", json!({})));
    calls.truncate(MAX_ROUNDS);
    calls
}

const METRICS: [(&str, &str); 3] =
    [("cpu_percent", "CPU"), ("memory_percent", "memory"), ("disk_percent", "disk")];
/// A resource at or above this percentage counts as exhausted.
const HOT: f64 = 90.0;

/// Reads the results (plugin name, result) into a diagnosis.
pub fn conclude(facts: &Facts, results: &[(String, Value)]) -> Diagnosis {
    // (weight, finding): the strongest finding is the conclusion.
    let mut findings: Vec<(f64, String)> = Vec::new();
    let mut actions = Vec::new();
    for (tool, r) in results {
        match tool.as_str() {
            "get_host_metrics" if r["found"] == true => {
                let host = r["hostname"].as_str().unwrap_or("the host");
                if r["status"] == "offline" {
                    findings.push((0.35, format!("{host} is offline (no heartbeat)")));
                }
                for (key, label) in METRICS {
                    if let Some(v) = r["latest"][key].as_f64().filter(|v| *v >= HOT) {
                        findings.push((0.3, format!("{label} at {v:.0} % on {host}")));
                    }
                }
            }
            "recent_alerts" => {
                let titles: Vec<&str> = r["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["title"].as_str())
                    .take(3)
                    .collect();
                if titles.len() > 1 {
                    findings.push((
                        0.1,
                        format!(
                            "{} alerts firing on the host: {}",
                            titles.len(),
                            titles.join("; ")
                        ),
                    ));
                }
            }
            "search_logs" => {
                if let Some(n) = r["total"].as_i64().filter(|n| *n > 0) {
                    let first = r["logs"][0]["message"].as_str().unwrap_or_default();
                    let first: String = first.chars().take(160).collect();
                    findings.push((
                        0.2,
                        format!("{n} log lines in the last 30 min match, e.g. \"{first}\""),
                    ));
                }
            }
            "service_status" => {
                for s in
                    r["services"].as_array().into_iter().flatten().filter(|s| s["status"] == "down")
                {
                    let error = s["last_error"].as_str().unwrap_or("no error recorded");
                    findings.push((
                        0.3,
                        format!("service {} is down: {error}", s["name"].as_str().unwrap_or("?")),
                    ));
                }
            }
            "service_dependencies" => {
                let deps: Vec<&str> = r["dependencies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if !deps.is_empty() {
                    findings.push((0.05, format!("depends on {}", deps.join(", "))));
                    actions.push(format!("Check the dependencies: {}", deps.join(", ")));
                }
            }
            "search_knowledge" => {
                for e in r["entries"].as_array().into_iter().flatten() {
                    if let Some(title) = e["title"].as_str() {
                        actions.push(format!("Follow the knowledge entry \"{title}\""));
                    }
                }
                if r["total"].as_i64().unwrap_or(0) > 0 {
                    findings.push((0.1, "the knowledge base has matching entries".into()));
                }
            }
            "incident_history" => {
                let past: Vec<&str> = r["incidents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|i| i["status"] == "resolved")
                    .filter_map(|i| i["id"].as_str())
                    .take(3)
                    .collect();
                if !past.is_empty() {
                    findings.push((
                        0.1,
                        format!("similar incidents were resolved before: {}", past.join(", ")),
                    ));
                }
            }
            _ => {}
        }
    }
    findings.sort_by(|a, b| b.0.total_cmp(&a.0));
    let weight: f64 = findings.iter().map(|f| f.0).sum();
    let confidence = ((0.1 + weight).min(0.95) * 100.0).round() / 100.0;
    let conclusion = findings
        .first()
        .map_or_else(|| format!("No evidence found for \"{}\"", facts.title), |f| f.1.clone());
    if findings.is_empty() {
        actions.push("Escalate to an on-call engineer: no data explains this alert".into());
    }
    Diagnosis {
        conclusion,
        confidence,
        key_findings: findings.into_iter().map(|f| f.1).collect(),
        suggested_actions: actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(title: &str, service: Option<&str>, host: Option<i64>) -> Facts {
        Facts { title: title.into(), service: service.map(str::to_string), host_id: host }
    }

    #[test]
    fn plans_follow_what_the_incident_names() {
        let names = |f: &Facts| plan(f).into_iter().map(|c| c.0).collect::<Vec<_>>();
        assert_eq!(
            names(&facts("Pod CrashLoopBackOff", Some("user-service"), Some(3))),
            [
                "get_host_metrics",
                "recent_alerts",
                "search_logs",
                "service_status",
                "service_dependencies",
                "search_knowledge",
                "incident_history",
                "list_runbooks"
            ]
        );
        assert_eq!(names(&facts("?", None, None)), ["list_runbooks"]);
        assert_eq!(
            keyword(&facts("Pod CrashLoopBackOff", None, None)).as_deref(),
            Some("CrashLoopBackOff")
        );
        assert!(plan(&facts("x", Some("s"), Some(1))).len() <= MAX_ROUNDS);
    }

    #[test]
    fn evidence_raises_confidence_and_none_escalates() {
        let f = facts("Memory pressure", Some("api"), Some(1));
        let results = vec![
            (
                "get_host_metrics".to_string(),
                json!({"found": true, "hostname": "web-1", "status": "online", "latest": {"memory_percent": 97.0, "cpu_percent": 20.0}}),
            ),
            (
                "search_logs".to_string(),
                json!({"total": 4, "logs": [{"message": "OOM killer invoked"}]}),
            ),
            (
                "search_knowledge".to_string(),
                json!({"total": 1, "entries": [{"title": "OOM runbook"}]}),
            ),
        ];
        let d = conclude(&f, &results);
        assert_eq!(d.conclusion, "memory at 97 % on web-1");
        assert_eq!(d.confidence, 0.7);
        assert_eq!(d.key_findings.len(), 3);
        assert_eq!(d.suggested_actions, ["Follow the knowledge entry \"OOM runbook\""]);
        let none = conclude(&f, &[("search_logs".to_string(), json!({"total": 0, "logs": []}))]);
        assert!(none.confidence < ESCALATE_BELOW);
        assert!(none.conclusion.starts_with("No evidence found"));
    }
}
