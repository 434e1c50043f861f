//! The alerting engine: rules as actors, alert lifecycle, the alerts and rules APIs.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{wait_until, TestApp};

crate::backend_tests!(
    builtin_rules_are_seeded_and_can_be_disabled_but_not_deleted,
    rules_are_validated_per_type_and_writes_need_an_operator,
    a_metric_breach_fires_one_alert_and_recovery_resolves_it,
    a_breach_must_hold_for_the_rule_duration,
    host_offline_and_service_down_raise_builtin_alerts,
    log_keyword_and_db_metric_rules_fire,
    alerts_are_acknowledged_once_and_never_after_resolution,
    a_restart_neither_duplicates_nor_loses_open_alerts,
    disabling_a_rule_resolves_its_alerts,
    the_demo_stream_sends_fired_alerts,
    a_calm_report_right_behind_a_breach_resolves_it,
);

async fn setup(app: &TestApp) -> (String, String, i64) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "alerting-host").await;
    (admin, agent, host)
}

async fn alerts(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/alerts?{query}"), Some(admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["items"].as_array().unwrap().clone()
}

async fn create_rule(app: &TestApp, admin: &str, body: Value) -> i64 {
    let res = app.post("/api/v1/alert-rules", body, Some(admin)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_i64().unwrap()
}

async fn report(app: &TestApp, agent: &str, host: i64, cpu: f64) {
    let res = app
        .post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": cpu}), Some(agent))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

async fn builtin_rules_are_seeded_and_can_be_disabled_but_not_deleted(app: TestApp) {
    let admin = app.admin().await;
    let rules = app.get("/api/v1/alert-rules", Some(&admin)).await;
    let list = rules.body.as_array().unwrap();
    let builtin: Vec<&Value> = list.iter().filter(|r| r["is_builtin"] == true).collect();
    assert_eq!(builtin.len(), 5, "{}", rules.text);
    let types: Vec<&str> = builtin.iter().map(|r| r["rule_type"].as_str().unwrap()).collect();
    for t in ["host_offline", "service_down", "metric"] {
        assert!(types.contains(&t), "{types:?}");
    }
    let cpu = builtin.iter().find(|r| r["metric"] == "cpu_percent").unwrap();
    let id = cpu["id"].as_i64().unwrap();
    let res = app.delete(&format!("/api/v1/alert-rules/{id}"), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["detail"], "Cannot delete built-in rule");
    let res = app
        .put(
            &format!("/api/v1/alert-rules/{id}"),
            json!({"is_enabled": false, "threshold": 95}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["is_enabled"], false);
    assert_eq!(res.body["threshold"], 95.0);
    assert_eq!(res.body["metric"], "cpu_percent", "partial update keeps the rest");
    let enabled = app.get("/api/v1/alert-rules?is_enabled=false", Some(&admin)).await;
    assert_eq!(enabled.body.as_array().unwrap().len(), 1);
}

async fn rules_are_validated_per_type_and_writes_need_an_operator(app: TestApp) {
    let admin = app.admin().await;
    let cases = [
        (json!({"name": "x", "rule_type": "metric", "threshold": 1}), "metric"),
        (json!({"name": "x", "metric": "cpu_temperature", "threshold": 1}), "metric"),
        (json!({"name": "x", "metric": "cpu_percent"}), "threshold"),
        (
            json!({"name": "x", "metric": "cpu_percent", "threshold": 1, "operator": "=>"}),
            "operator",
        ),
        (json!({"name": "x", "metric": "cpu_percent", "threshold": "high"}), "threshold"),
        (json!({"name": "x", "rule_type": "log_keyword"}), "log_keyword"),
        (json!({"name": "x", "rule_type": "db_metric", "threshold": 5}), "db_metric_name"),
        (json!({"name": "x", "rule_type": "weather"}), "rule_type"),
        (
            json!({"name": "x", "rule_type": "host_offline", "silence_start": "25:00", "silence_end": "06:00"}),
            "silence_start",
        ),
        (json!({"name": "x", "rule_type": "host_offline", "severity": "apocalyptic"}), "severity"),
        (
            json!({"name": "x", "rule_type": "host_offline", "duration_seconds": -1}),
            "duration_seconds",
        ),
        (json!({"rule_type": "host_offline"}), "name"),
    ];
    for (body, field) in cases {
        let res = app.post("/api/v1/alert-rules", body.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.text);
        assert_eq!(res.first_loc(), ["body", field], "{body}: {}", res.text);
    }
    let before = app.get("/api/v1/alert-rules", Some(&admin)).await.body.as_array().unwrap().len();
    assert_eq!(before, 5, "nothing was created");

    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    let (_, operator) = app.user_with_role(&admin, "o@example.com", "operator").await;
    let body = json!({"name": "cpu", "metric": "cpu_percent", "operator": ">", "threshold": 90, "severity": "critical",
                      "target_filter": {"host_ids": [1]}, "notification_channel_ids": [3]});
    assert_eq!(
        app.post("/api/v1/alert-rules", body.clone(), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    let id = create_rule(&app, &operator, body).await;
    let rule = app.get(&format!("/api/v1/alert-rules/{id}"), Some(&viewer)).await;
    assert_eq!(rule.body["target_filter"], json!({"host_ids": [1]}));
    assert_eq!(rule.body["notification_channel_ids"], json!([3]));
    assert_eq!(rule.body["is_builtin"], false);
    assert_eq!(
        app.delete(&format!("/api/v1/alert-rules/{id}"), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&format!("/api/v1/alert-rules/{id}"), Some(&operator)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/alert-rules/{id}"), Some(&viewer)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.put("/api/v1/alert-rules/999", json!({"name": "x"}), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_metric_breach_fires_one_alert_and_recovery_resolves_it(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    let mut events = app.state.runtime.events.subscribe();
    let rule = create_rule(&app, &admin, json!({"name": "CPU hot", "metric": "cpu_percent", "operator": ">", "threshold": 80, "severity": "critical"})).await;
    report(&app, &agent, host, 50.0).await;
    report(&app, &agent, host, 95.0).await;
    report(&app, &agent, host, 97.0).await;
    wait_until("alert fired", || async { !alerts(&app, &admin, "status=firing").await.is_empty() })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let firing = alerts(&app, &admin, "status=firing").await;
    assert_eq!(firing.len(), 1, "one open alert per rule and target: {firing:?}");
    let alert = &firing[0];
    assert_eq!(alert["rule_id"], rule);
    assert_eq!(alert["host_id"], host);
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["threshold"], 80.0);
    assert_eq!(alert["metric_value"], 95.0);
    assert!(alert["title"].as_str().unwrap().starts_with("CPU hot"));
    let detail = app.get(&format!("/api/v1/alerts/{}", alert["id"]), Some(&admin)).await;
    assert_eq!(detail.body["status"], "firing");

    let summary = warden::http::v1::dashboard::summary(&app.state).await.unwrap();
    assert_eq!(summary["alerts"]["firing"], 1);
    assert_eq!(summary["recent_1h"]["alert_count"], 1);

    report(&app, &agent, host, 20.0).await;
    wait_until("alert resolved", || async {
        alerts(&app, &admin, "status=resolved").await.len() == 1
    })
    .await;
    let resolved = &alerts(&app, &admin, "status=resolved").await[0];
    assert!(resolved["resolved_at"].is_string());

    let mut kinds = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let warden_actors::model::LiveEvent::Alert(a) = ev {
            kinds.push(a.kind);
        }
    }
    use warden_actors::model::AlertEventKind::*;
    assert_eq!(
        kinds,
        [Fired, NotifyFired, Resolved, NotifyResolved],
        "bus events for the dispatcher"
    );
    let trends = app.get("/api/v1/dashboard/trends", Some(&admin)).await;
    assert_eq!(trends.body["trends"][23]["alert_count"], 1);
}

async fn a_breach_must_hold_for_the_rule_duration(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    create_rule(
        &app,
        &admin,
        json!({"name": "mem", "metric": "cpu_percent", "threshold": 80, "duration_seconds": 1}),
    )
    .await;
    report(&app, &agent, host, 99.0).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(alerts(&app, &admin, "status=firing").await.is_empty(), "pending, not firing yet");
    // No further samples: the rule's own timer fires it once the duration has passed.
    wait_until("fired after the duration", || async {
        alerts(&app, &admin, "status=firing").await.len() == 1
    })
    .await;
}

async fn host_offline_and_service_down_raise_builtin_alerts(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    let res = app
        .post(
            "/api/v1/agent/services/register",
            json!({"name": "api", "type": "http", "target": "http://x", "host_id": host}),
            Some(&agent),
        )
        .await;
    let sid = res.body["service_id"].as_i64().unwrap();
    app.post("/api/v1/agent/services", json!({"service_id": sid, "status": "up"}), Some(&agent))
        .await;
    app.post(
        "/api/v1/agent/services",
        json!({"service_id": sid, "status": "down", "error": "connection refused"}),
        Some(&agent),
    )
    .await;
    wait_until("service alert", || async {
        alerts(&app, &admin, "status=firing").await.iter().any(|a| a["service_id"] == sid)
    })
    .await;
    app.post("/api/v1/agent/services", json!({"service_id": sid, "status": "up"}), Some(&agent))
        .await;
    wait_until("service alert resolved", || async {
        alerts(&app, &admin, "status=resolved").await.iter().any(|a| a["service_id"] == sid)
    })
    .await;

    app.set_settings(&admin, json!({"heartbeat_timeout": 1})).await;
    wait_until("host offline alert", || async {
        alerts(&app, &admin, "status=firing")
            .await
            .iter()
            .any(|a| a["host_id"] == host && a["title"].as_str().unwrap().contains("offline"))
    })
    .await;
    app.post("/api/v1/agent/heartbeat", json!({"host_id": host}), Some(&agent)).await;
    wait_until("host alert resolved", || async {
        alerts(&app, &admin, "status=resolved")
            .await
            .iter()
            .any(|a| a["host_id"] == host && a["service_id"].is_null())
    })
    .await;
}

async fn log_keyword_and_db_metric_rules_fire(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    create_rule(&app, &admin, json!({"name": "OOM", "rule_type": "log_keyword", "log_keyword": "OutOfMemory", "log_level": "error"})).await;
    create_rule(&app, &admin, json!({"name": "busy db", "rule_type": "db_metric", "db_metric_name": "connections_active", "operator": ">=", "threshold": 100, "target_type": "database"})).await;
    app.post(
        "/api/v1/agent/logs",
        json!({"logs": [
        {"host_id": host, "level": "INFO", "message": "OutOfMemory is just a word here"},
        {"host_id": host, "level": "ERROR", "message": "all good"}]}),
        Some(&agent),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(alerts(&app, &admin, "").await.is_empty(), "no match, no alert");
    app.post("/api/v1/agent/logs", json!({"logs": [{"host_id": host, "level": "ERROR", "message": "java.lang.OutOfMemoryError: heap"}]}), Some(&agent)).await;
    wait_until("log alert", || async {
        alerts(&app, &admin, "status=firing")
            .await
            .iter()
            .any(|a| a["title"].as_str().unwrap().starts_with("OOM"))
    })
    .await;

    let res = app
        .post("/api/v1/agent/db-metrics", json!({"host_id": host, "db_name": "app", "db_type": "postgres", "connections_active": 150}), Some(&agent))
        .await;
    let db = res.body["database_id"].as_i64().unwrap();
    wait_until("db alert", || async {
        alerts(&app, &admin, "status=firing").await.iter().any(|a| a["database_id"] == db)
    })
    .await;
    app.post(
        "/api/v1/agent/db-metrics",
        json!({"host_id": host, "db_name": "app", "db_type": "postgres", "connections_active": 10}),
        Some(&agent),
    )
    .await;
    wait_until("db alert resolved", || async {
        alerts(&app, &admin, "status=resolved").await.iter().any(|a| a["database_id"] == db)
    })
    .await;
}

async fn alerts_are_acknowledged_once_and_never_after_resolution(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    create_rule(&app, &admin, json!({"name": "cpu", "metric": "cpu_percent", "threshold": 80}))
        .await;
    report(&app, &agent, host, 90.0).await;
    wait_until("fired", || async { alerts(&app, &admin, "status=firing").await.len() == 1 }).await;
    let id = alerts(&app, &admin, "status=firing").await[0]["id"].as_i64().unwrap();
    let me = app.get("/api/v1/auth/me", Some(&admin)).await.body["id"].clone();
    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    assert_eq!(
        app.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    let res = app.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["status"], "acknowledged");
    assert_eq!(res.body["acknowledged_by"], me);
    let acked_at = res.body["acknowledged_at"].clone();
    let again = app.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&admin)).await;
    assert_eq!(again.body["acknowledged_at"], acked_at, "acknowledging twice changes nothing");
    assert_eq!(alerts(&app, &admin, "status=acknowledged").await.len(), 1);

    report(&app, &agent, host, 10.0).await;
    wait_until("resolved", || async { alerts(&app, &admin, "status=resolved").await.len() == 1 })
        .await;
    let res = app.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["detail"], "Alert already resolved");
    assert_eq!(
        app.post("/api/v1/alerts/9999/ack", json!({}), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/alerts?status=sideways", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let audit = app.get("/api/v1/audit-logs?action=ack_alert", Some(&admin)).await;
    assert_eq!(audit.body["total"], 1);
}

async fn a_restart_neither_duplicates_nor_loses_open_alerts(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    create_rule(&app, &admin, json!({"name": "cpu", "metric": "cpu_percent", "threshold": 80}))
        .await;
    report(&app, &agent, host, 90.0).await;
    wait_until("fired", || async { alerts(&app, &admin, "status=firing").await.len() == 1 }).await;

    let app = app.restart().await;
    let (admin, _) = app.login("admin@example.com", "admin-password").await;
    report(&app, &agent, host, 95.0).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(alerts(&app, &admin, "").await.len(), 1, "no second alert after the restart");
    report(&app, &agent, host, 10.0).await;
    wait_until("resolved after restart", || async {
        alerts(&app, &admin, "status=resolved").await.len() == 1
    })
    .await;
}

async fn disabling_a_rule_resolves_its_alerts(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    let rule =
        create_rule(&app, &admin, json!({"name": "cpu", "metric": "cpu_percent", "threshold": 80}))
            .await;
    report(&app, &agent, host, 90.0).await;
    wait_until("fired", || async { alerts(&app, &admin, "status=firing").await.len() == 1 }).await;
    let res = app
        .put(&format!("/api/v1/alert-rules/{rule}"), json!({"is_enabled": false}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(alerts(&app, &admin, "status=resolved").await.len(), 1);
    report(&app, &agent, host, 99.0).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        alerts(&app, &admin, "status=firing").await.is_empty(),
        "a disabled rule does not fire"
    );
    app.put(&format!("/api/v1/alert-rules/{rule}"), json!({"is_enabled": true}), Some(&admin))
        .await;
    report(&app, &agent, host, 99.0).await;
    wait_until("fires again once enabled", || async {
        alerts(&app, &admin, "status=firing").await.len() == 1
    })
    .await;
}

async fn the_demo_stream_sends_fired_alerts(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    create_rule(&app, &admin, json!({"name": "demo", "metric": "cpu_percent", "threshold": 50}))
        .await;
    let mut res = app.client.get(app.url("/api/v1/demo/alerts/stream")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut reported = false;
    while !seen.contains("event: alert") {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("an alert event within 10 s");
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("stream open")));
        if seen.contains("event: connected") && !reported {
            reported = true;
            report(&app, &agent, host, 90.0).await;
        }
    }
    assert!(seen.contains("\"title\":\"demo: cpu_percent = 90"), "{seen}");
}

/// The supervisor filters quiet samples of targets that are `Ok`; a calm report sent right
/// behind a breach (before the rule actor judged it) must still reach the actor.
async fn a_calm_report_right_behind_a_breach_resolves_it(app: TestApp) {
    let (admin, agent, host) = setup(&app).await;
    let rule = create_rule(
        &app,
        &admin,
        json!({"name": "Quick", "metric": "cpu_percent", "operator": ">", "threshold": 90,
               "duration_seconds": 0, "cooldown_seconds": 0}),
    )
    .await;
    for _ in 0..10 {
        report(&app, &agent, host, 95.0).await;
        report(&app, &agent, host, 10.0).await;
    }
    wait_until("every alert of the rule is resolved", || async {
        let all = alerts(&app, &admin, "").await;
        let mine: Vec<&Value> = all.iter().filter(|a| a["rule_id"] == rule).collect();
        !mine.is_empty() && mine.iter().all(|a| a["status"] == "resolved")
    })
    .await;
}
