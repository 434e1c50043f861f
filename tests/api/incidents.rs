//! Incidents (seed 001): free-text intake, dedup, per-day ids under concurrency, the
//! list/detail/timeline routes in the family-B envelope, the live event stream, and the
//! timeline a rule alert and its remediation run write.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{wait_until, Backend, TestApp};

crate::backend_cases!(
    free_text_alerts_become_incidents_once,
    concurrent_intake_keeps_ids_unique,
    a_rule_alert_and_its_run_write_the_timeline,
    the_event_stream_sends_created_incidents,
    knowledge_and_environment_context_are_managed,
    plugins_are_listed_with_measured_usage,
    config_is_masked_checked_and_applied_live,
    diagnostic_plugins_run_against_live_data,
);

const TOKEN: &str = "am-token-for-scripts";
const SEED_ALERT: &str = "[告警] Pod CrashLoopBackOff\n服务: user-service\n命名空间: production";

fn today() -> String {
    use warden_actors::clock::{Clock, SystemClock};
    SystemClock.now().format("%Y%m%d").to_string()
}

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[("ALERTMANAGER_WEBHOOK_TOKEN", TOKEN), ("WARDEN_INCIDENTS__DIAGNOSIS_DELAY_SECS", "0")],
    )
    .await
}

/// The incident once its diagnosis has completed.
async fn diagnosed(app: &TestApp, token: &str, id: &str) -> Value {
    wait_until("the diagnosis completed", || async {
        let res = app.get(&format!("/api/incidents/{id}"), Some(token)).await;
        event_types(&res.body["data"]).contains(&"diagnosis_completed")
    })
    .await;
    app.get(&format!("/api/incidents/{id}"), Some(token)).await.body["data"].clone()
}

fn event_types(incident: &Value) -> Vec<&str> {
    incident["events"].as_array().into_iter().flatten().filter_map(|e| e["type"].as_str()).collect()
}

async fn post_alert(app: &TestApp, token: &str, message: &str) -> Value {
    let res = app
        .post("/api/alert", json!({"message": message, "sender_id": "alert_bot"}), Some(token))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["success"], true);
    res.body["data"].clone()
}

async fn free_text_alerts_become_incidents_once(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let first = post_alert(&app, &admin, SEED_ALERT).await;
    let id = first["incident_id"].as_str().unwrap().to_string();
    let day = today();
    assert_eq!(id, format!("INC-{day}-001"));
    assert_eq!(
        (first["status"].as_str(), first["message"].as_str()),
        (Some("accepted"), Some("告警已接收，开始处理"))
    );
    assert!(first.get("duplicate").is_none());

    // The same problem again, differently spaced and cased, from a script's token.
    let again = post_alert(
        &app,
        TOKEN,
        "[FIRING]  pod crashloopbackoff\nservice: user-service\nnamespace: production",
    )
    .await;
    assert_eq!(
        (again["incident_id"].as_str(), again["duplicate"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    let other = post_alert(&app, &admin, "【告警】MySQL 慢查询激增\n级别: P1\n主机: db-01").await;
    assert_eq!(other["incident_id"], format!("INC-{day}-002"));

    // The rules engine diagnoses it; nothing explains this alert, so it escalates (the
    // escalation event follows the completed diagnosis).
    diagnosed(&app, &admin, &id).await;
    wait_until("the incident escalates", || async {
        let res = app.get(&format!("/api/incidents/{id}"), Some(&admin)).await;
        event_types(&res.body["data"]).contains(&"incident_escalated")
    })
    .await;
    let data = app.get(&format!("/api/incidents/{id}"), Some(&admin)).await.body["data"].clone();
    assert_eq!(data["title"], "Pod CrashLoopBackOff");
    assert_eq!(data["diagnosis"]["engine"], "rules");
    assert!(data["diagnosis"]["confidence"].as_f64().unwrap() < 0.3, "{}", data["diagnosis"]);
    assert_eq!(
        (data["service"].as_str(), data["namespace"].as_str()),
        (Some("user-service"), Some("production"))
    );
    assert_eq!(
        (data["status"].as_str(), data["category"].as_str(), data["source"].as_str()),
        (Some("escalated"), Some("kubernetes"), Some("alert_bot"))
    );
    let types = event_types(&data);
    let intake: Vec<&str> = types
        .iter()
        .copied()
        .filter(|t| *t == "alert_received" || *t == "duplicate_alert")
        .collect();
    assert_eq!(intake, ["alert_received", "duplicate_alert"]);
    assert_eq!(types[0], "alert_received");
    for kind in ["diagnosis_started", "tool_call", "diagnosis_completed", "incident_escalated"] {
        assert!(types.contains(&kind), "{kind} in {types:?}");
    }
    let tools: Vec<&str> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "tool_call")
        .map(|e| e["data"]["tool"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&"search_logs") && tools.contains(&"service_status"), "{tools:?}");
    let res = app.get(&format!("/api/incidents/{id}/events"), Some(&admin)).await;
    let events = res.body["data"]["events"].as_array().unwrap().clone();
    let ids: Vec<String> = events.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = (1..=events.len()).map(|n| format!("evt_{n:03}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(events[0]["data"]["message"], SEED_ALERT);
    assert_eq!(events[0]["data"]["sender_id"], "alert_bot");

    let list = app.get("/api/incidents?page=1&page_size=1", Some(&admin)).await;
    assert_eq!(list.body["data"]["total"], 2, "{}", list.text);
    assert_eq!(
        (
            list.body["data"]["total_pages"].as_i64(),
            list.body["data"]["items"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    let found = app.get("/api/incidents?search=crashloop&status=escalated", Some(&admin)).await;
    assert_eq!(found.body["data"]["total"], 1);
    let high = app
        .get(&format!("/api/incidents?severity=high&start_date={}-01-01", &day[..4]), Some(&admin))
        .await;
    assert_eq!(high.body["data"]["total"], 1, "{}", high.text);
    assert_eq!(
        app.get("/api/incidents?end_date=2000-01-01", Some(&admin)).await.body["data"]["total"],
        0
    );

    let bad = app.get("/api/incidents?page=0", Some(&admin)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(bad.body["error"]["message"], "参数验证失败");
    assert_eq!(bad.body["error"]["details"][0]["field"], "page");
    assert_eq!(
        app.get("/api/incidents?status=weird", Some(&admin)).await.status,
        StatusCode::BAD_REQUEST
    );
    let missing = app.get("/api/incidents/INC-19990101-001", Some(&admin)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["message"], "Incident 不存在");
    assert_eq!(app.get("/api/incidents", None).await.status, StatusCode::UNAUTHORIZED);
    let res = app.post("/api/alert", json!({"sender_id": "x"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"]["details"][0]["field"], "message");
    assert_eq!(
        app.post("/api/alert", json!({"message": "x"}), Some("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn concurrent_intake_keeps_ids_unique(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let posts = (0..20).map(|i| {
        let app = &app;
        let admin = admin.clone();
        async move { post_alert(app, &admin, &format!("[ALERT] problem number {i}")).await }
    });
    let answers = futures_util::future::join_all(posts).await;
    let mut ids: Vec<String> =
        answers.iter().map(|a| a["incident_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "{ids:?}");
    let day = today();
    let expected: Vec<String> = (1..=20).map(|n| format!("INC-{day}-{n:03}")).collect();
    assert_eq!(ids, expected);
}

async fn a_rule_alert_and_its_run_write_the_timeline(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "incident-host").await;
    let res = app
        .post(
            "/api/v1/alert-rules",
            json!({"name": "Memory pressure", "metric": "memory_percent", "operator": ">",
            "threshold": 80, "duration_seconds": 0, "severity": "critical"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .post(
            "/api/v1/agent/metrics",
            json!({"host_id": host, "memory_percent": 97.0}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);

    let mut incident = Value::Null;
    for _ in 0..400 {
        let list = app.get("/api/incidents", Some(&admin)).await;
        if let Some(first) = list.body["data"]["items"].as_array().and_then(|i| i.first()) {
            incident = first.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let id = incident["id"].as_str().expect("an incident for the alert").to_string();
    assert_eq!(
        (incident["severity"].as_str(), incident["source"].as_str()),
        (Some("critical"), Some("rule"))
    );
    let detail = app.get(&format!("/api/incidents/{id}"), Some(&admin)).await.body["data"].clone();
    let alert = detail["alert_id"].as_i64().unwrap();
    let status = app.get("/api/status", Some(&admin)).await;
    assert_eq!(status.body["data"]["active_incidents"], 1);

    let run = app.post(&format!("/api/v1/alerts/{alert}/remediate"), json!({}), Some(&admin)).await;
    assert_eq!(run.body["status"], "pending_approval", "{}", run.text);
    let run_id = run.body["id"].as_i64().unwrap();
    wait_until("the incident awaits approval", || async {
        app.get(&format!("/api/incidents/{id}"), Some(&admin)).await.body["data"]["status"]
            == "awaiting_approval"
    })
    .await;
    assert_eq!(app.get("/api/status", Some(&admin)).await.body["data"]["pending_approvals"], 1);
    let res = app
        .post(
            &format!("/api/v1/remediations/{run_id}/approve"),
            json!({"comment": "go"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    wait_until("the incident is resolved", || async {
        app.get(&format!("/api/incidents/{id}"), Some(&admin)).await.body["data"]["status"]
            == "resolved"
    })
    .await;
    let detail = diagnosed(&app, &admin, &id).await;
    assert_eq!(detail["resolution"], "fixed");
    assert_eq!(detail["proposal"]["risk_level"], "medium");
    assert_eq!(detail["proposal"]["runbook"], "memory_pressure");
    assert_eq!(detail["execution_result"]["success"], true);
    // The diagnosis runs beside the run; its events (and the proposal it makes when it
    // finishes before the run starts) are checked elsewhere.
    let types: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["source"] != "diagnosis")
        .filter_map(|e| e["type"].as_str())
        .filter(|t| !matches!(*t, "diagnosis_started" | "tool_call" | "diagnosis_completed"))
        .collect();
    assert_eq!(
        types,
        [
            "alert_received",
            "proposal_created",
            "approval_requested",
            "approved",
            "execution_started",
            "execution_completed",
            "incident_resolved"
        ]
    );
    let approved =
        detail["events"].as_array().unwrap().iter().find(|e| e["type"] == "approved").unwrap();
    assert_eq!(approved["data"]["by"], "admin@example.com");
    // Memory at 97 % explains the alert: the diagnosis says so.
    assert_eq!(
        detail["diagnosis"]["conclusion"], "memory at 97 % on incident-host",
        "{}",
        detail["diagnosis"]
    );
    assert_eq!(app.get("/api/status", Some(&admin)).await.body["data"]["active_incidents"], 0);
}

async fn the_event_stream_sends_created_incidents(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    assert_eq!(
        app.client.get(app.url("/api/events")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let mut res =
        app.client.get(app.url(&format!("/api/events?token={admin}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    // The stream is live: what is created after subscribing is sent, in order; a
    // duplicate creates nothing.
    let first = post_alert(&app, &admin, SEED_ALERT).await;
    let again = post_alert(&app, &admin, SEED_ALERT).await;
    assert_eq!(again["duplicate"], true);
    let second = post_alert(&app, &admin, "[ALERT] second problem\nseverity: P0").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    let created = |text: &str| -> Vec<Value> {
        let lines: Vec<&str> = text.lines().collect();
        lines
            .windows(2)
            .filter(|w| w[0] == "event: incident_created")
            .filter_map(|w| w[1].strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect()
    };
    while created(&seen).len() < 2 {
        let chunk = tokio::time::timeout_at(deadline, res.chunk()).await.expect("events in time");
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("stream open")));
    }
    assert_eq!(
        created(&seen),
        [
            json!({"id": first["incident_id"], "title": "Pod CrashLoopBackOff", "severity": "medium"}),
            json!({"id": second["incident_id"], "title": "second problem", "severity": "critical"}),
        ]
    );
}

async fn knowledge_and_environment_context_are_managed(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let (_, viewer) = app.user_with_role(&admin, "viewer@example.com", "viewer").await;
    let entry = json!({"title": "Pod OOMKilled 处理方案", "content": "当 Pod 因 OOMKilled 重启时...",
        "category": "kubernetes", "tags": ["pod", "oom", "memory"]});
    assert_eq!(
        app.post("/api/knowledge", entry.clone(), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    let res = app.post("/api/knowledge", entry.clone(), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let id = res.body["data"]["id"].as_i64().unwrap();
    assert_eq!(res.body["data"]["tags"], json!(["pod", "oom", "memory"]));
    app.post(
        "/api/knowledge",
        json!({"title": "MySQL 慢查询", "content": "检查索引", "category": "database"}),
        Some(&admin),
    )
    .await;

    let list = app.get("/api/knowledge?category=kubernetes", Some(&viewer)).await;
    assert_eq!(list.body["data"]["total"], 1, "{}", list.text);
    for search in ["OOMKILLED", "memory", "索引"] {
        let found = app.get(&format!("/api/knowledge?search={search}"), Some(&viewer)).await;
        assert_eq!(found.body["data"]["total"], 1, "{search}: {}", found.text);
    }
    let bad =
        app.post("/api/knowledge", json!({"title": "  ", "content": "x"}), Some(&admin)).await;
    assert_eq!(
        (bad.status, bad.body["error"]["details"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("title"))
    );
    let res = app
        .put(&format!("/api/knowledge/{id}"), json!({"content": "增加 memory limit"}), Some(&admin))
        .await;
    assert_eq!(
        (res.body["data"]["content"].as_str(), res.body["data"]["title"].as_str()),
        (Some("增加 memory limit"), Some("Pod OOMKilled 处理方案"))
    );
    assert_eq!(
        app.delete(&format!("/api/knowledge/{id}"), Some(&admin)).await.status,
        StatusCode::OK
    );
    let gone = app.get(&format!("/api/knowledge/{id}"), Some(&admin)).await;
    assert_eq!(
        (gone.status, gone.body["error"]["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("知识条目不存在"))
    );

    let empty = app.get("/api/environment-context", Some(&viewer)).await;
    assert_eq!(
        empty.body["data"],
        json!({"services": [], "infrastructure": {}, "alert_definitions": {}})
    );
    let ctx = json!({"services": [{"name": "user-service", "namespace": "production", "dependencies": ["postgres", "redis"]}],
        "infrastructure": {"cluster": "prod-cluster", "nodes": 10, "databases": ["postgres", "mysql"]}});
    let res = app.put("/api/environment-context", ctx.clone(), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .put(
            "/api/environment-context",
            json!({"alert_definitions": {"critical": "影响用户访问的严重问题"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let got = app.get("/api/environment-context", Some(&viewer)).await.body["data"].clone();
    assert_eq!(got["services"], ctx["services"]);
    assert_eq!(got["alert_definitions"]["critical"], "影响用户访问的严重问题");
    for (bad, field) in [
        (json!({"services": [{"namespace": "x"}]}), "services.0.name"),
        (json!({"services": [{"name": "a", "dependencies": [1]}]}), "services.0.dependencies"),
        (json!({"colour": "blue"}), "colour"),
    ] {
        let res = app.put("/api/environment-context", bad.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(res.body["error"]["details"][0]["field"], field, "{}", res.text);
    }
    assert_eq!(
        app.put("/api/environment-context", json!({}), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn plugins_are_listed_with_measured_usage(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let res = app.get("/api/plugins", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK);
    let data = &res.body["data"];
    let total = data["total"].as_u64().unwrap();
    assert_eq!(total, data["diagnostic"].as_u64().unwrap() + data["remediation"].as_u64().unwrap());
    assert_eq!(data["plugins"].as_array().unwrap().len() as u64, total);
    assert_eq!(app.get("/api/status", Some(&admin)).await.body["data"]["plugins_loaded"], total);

    let fresh = app.get("/api/plugins/search_logs", Some(&admin)).await.body["data"].clone();
    assert_eq!(
        (fresh["category"].as_str(), fresh["usage_count"].as_i64()),
        (Some("diagnostic"), Some(0))
    );
    assert_eq!(fresh["parameters"]["required"], json!(["query"]));
    assert!(fresh["success_rate"].is_null());
    // Usage comes from the recorded calls.
    let now = app.state.clock.now();
    for (ms, ok) in [(100, true), (300, true), (200, false), (400, true)] {
        app.state.db.record_plugin_call("search_logs", None, ms, ok, now).await.unwrap();
    }
    let used = app.get("/api/plugins/search_logs", Some(&admin)).await.body["data"].clone();
    assert_eq!(
        (
            used["usage_count"].as_i64(),
            used["avg_duration"].as_f64(),
            used["success_rate"].as_f64()
        ),
        (Some(4), Some(0.25), Some(0.75))
    );
    let missing = app.get("/api/plugins/list_pods_please", Some(&admin)).await;
    assert_eq!(
        (missing.status, missing.body["error"]["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("插件不存在"))
    );
}

async fn config_is_masked_checked_and_applied_live(backend: Backend) {
    let llm = crate::support::llm::LlmStub::start("sk-secret", "deepseek-chat").await;
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let (_, operator) = app.user_with_role(&admin, "ops@example.com", "operator").await;
    let res = app.get("/api/config", Some(&operator)).await;
    assert_eq!(res.status, StatusCode::OK);
    let data = &res.body["data"];
    assert_eq!(
        (data["feishu"]["verification_token"].as_str(), data["llm"]["timeout"].as_i64()),
        (Some(""), Some(60))
    );
    assert_eq!(data["security"]["hourly_quota"], 10);
    let challenge = json!({"type": "url_verification", "challenge": "c-9", "token": "tok-live"});
    assert_eq!(
        app.post("/lark/event", challenge.clone(), None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    assert_eq!(
        app.put("/api/config", json!({"LLM_MODEL": "x"}), Some(&operator)).await.status,
        StatusCode::FORBIDDEN
    );
    let app_channel =
        json!({"name": "飞书应用", "channel_type": "feishu", "config": {"receive_id": "oc_chat"}});
    let res = app.post("/api/v1/notification-channels", app_channel.clone(), Some(&admin)).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "app-bot channels need app credentials: {}",
        res.text
    );
    for (body, field) in [
        (json!({"LLM_MODEL": "deepseek-chat", "COLOUR": "blue"}), "COLOUR"),
        (json!({"LLM_MODEL": "deepseek-chat", "LLM_TIMEOUT": "soon"}), "LLM_TIMEOUT"),
        (json!({"MAX_REPLICA_CHANGE": 0}), "MAX_REPLICA_CHANGE"),
        (json!({"HOURLY_QUOTA": -1}), "HOURLY_QUOTA"),
    ] {
        let res = app.put("/api/config", body.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(res.body["error"]["details"][0]["field"], field, "{}", res.text);
    }
    assert_eq!(
        app.get("/api/config", Some(&admin)).await.body["data"]["llm"]["model"],
        "deepseek-chat",
        "nothing applied (the file's default model)"
    );

    let res = app
        .put("/api/config", json!({"LLM_PROVIDER": "deepseek", "LLM_MODEL": "deepseek-chat", "LLM_TIMEOUT": 600,
            "LLM_BASE_URL": llm.openai_base(),
            "LLM_API_KEY": "sk-secret", "LARK_VERIFICATION_TOKEN": "tok-live", "ALERT_BOT_IDS": ["cli_a", "cli_b"],
            "ALLOWED_NAMESPACES": "default, production", "MAX_REPLICA_CHANGE": 0.5,
            "FORBIDDEN_VERBS": ["rm -rf", "drop table", "kubectl delete"], "HOURLY_QUOTA": 5, "ENABLE_AWS": false}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"success": true, "message": "配置更新成功"}));
    let data = app.get("/api/config", Some(&admin)).await.body["data"].clone();
    assert_eq!(
        (
            data["llm"]["model"].as_str(),
            data["llm"]["timeout"].as_i64(),
            data["llm"]["api_key"].as_str()
        ),
        (Some("deepseek-chat"), Some(600), Some("******"))
    );
    assert_eq!(data["feishu"]["verification_token"], "******");
    assert_eq!(data["feishu"]["alert_bot_ids"], json!(["cli_a", "cli_b"]));
    assert_eq!(data["security"]["allowed_namespaces"], json!(["default", "production"]));
    assert_eq!(
        (
            data["security"]["hourly_quota"].as_i64(),
            data["security"]["max_replica_change"].as_f64()
        ),
        (Some(5), Some(0.5))
    );
    assert_eq!(
        data["security"]["forbidden_verbs"],
        json!(["rm -rf", "drop table", "kubectl delete"])
    );
    assert!(!res.text.contains("sk-secret"));
    // Live: the runtime settings, the Feishu callbacks and the status see the change.
    assert_eq!(app.get("/api/v1/settings", Some(&admin)).await.body["hourly_quota"]["value"], "5");
    assert_eq!(app.post("/lark/event", challenge, None).await.body, json!({"challenge": "c-9"}));
    assert_eq!(app.get("/api/status", Some(&admin)).await.body["data"]["llm_status"], "connected");
    let res = app
        .put(
            "/api/config",
            json!({"FEISHU_APP_ID": "cli_live", "FEISHU_APP_SECRET": "s3cret"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app.post("/api/v1/notification-channels", app_channel, Some(&admin)).await;
    assert_eq!(res.status, StatusCode::CREATED, "credentials apply at once: {}", res.text);
    // A masked secret sent back keeps the stored one.
    app.put(
        "/api/config",
        json!({"LLM_API_KEY": "******", "LLM_MODEL": "deepseek-reasoner"}),
        Some(&admin),
    )
    .await;
    assert_eq!(app.get("/api/status", Some(&admin)).await.body["data"]["llm_status"], "connected");
    let audit = app.get("/api/v1/audit-logs?action=update_config", Some(&admin)).await;
    assert!(
        audit.text.contains("LLM_API_KEY") && !audit.text.contains("sk-secret"),
        "{}",
        audit.text
    );
}

async fn diagnostic_plugins_run_against_live_data(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "plugin-host").await;
    let res = app
        .post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": 42.5}), Some(&agent))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let ts = {
        use warden_actors::clock::{Clock, SystemClock};
        SystemClock.now().to_rfc3339()
    };
    let logs = json!({"logs": [{"host_id": host, "service": "api", "level": "ERROR", "message": "upstream connection refused", "timestamp": ts}]});
    assert_eq!(
        app.post("/api/v1/agent/logs", logs, Some(&agent)).await.status,
        StatusCode::CREATED
    );
    app.post(
        "/api/knowledge",
        json!({"title": "OOMKilled runbook", "content": "raise the limit"}),
        Some(&admin),
    )
    .await;
    app.put(
        "/api/environment-context",
        json!({"services": [{"name": "user-service", "dependencies": ["postgres"]},
        {"name": "gateway", "dependencies": ["user-service"]}]}),
        Some(&admin),
    )
    .await;
    let incident = post_alert(&app, &admin, SEED_ALERT).await;
    // Its diagnosis calls plugins too: count from when it is done.
    diagnosed(&app, &admin, incident["incident_id"].as_str().unwrap()).await;
    let before = app.get("/api/plugins/search_logs", Some(&admin)).await.body["data"]
        ["usage_count"]
        .as_i64()
        .unwrap();

    let plugins = &app.state.plugins;
    let call =
        |name: &'static str, args: Value| async move { plugins.call(name, args, None).await };
    let hosts = call("list_hosts", json!({})).await;
    assert!(hosts.success, "{:?}", hosts.result);
    assert!(hosts.result["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["hostname"] == "plugin-host"));
    let metrics = call("get_host_metrics", json!({"host_id": host})).await;
    assert_eq!(metrics.result["latest"]["cpu_percent"], 42.5, "{:?}", metrics.result);
    let found = call("search_logs", json!({"query": "REFUSED", "minutes": 60})).await;
    assert_eq!(found.result["total"], 1, "{:?}", found.result);
    let deps = call("service_dependencies", json!({"service": "user-service"})).await;
    assert_eq!(
        (deps.result["dependencies"].clone(), deps.result["dependents"].clone()),
        (json!(["postgres"]), json!(["gateway"]))
    );
    assert_eq!(call("search_knowledge", json!({"query": "oomkilled"})).await.result["total"], 1);
    assert_eq!(call("incident_history", json!({"title": "crashloop"})).await.result["total"], 1);
    let runbooks = call("list_runbooks", json!({"alert_type": "service_down"})).await;
    assert_eq!(runbooks.result["runbooks"][0]["name"], "service_restart");
    for name in ["recent_alerts", "service_status", "database_status"] {
        let c = call(name, json!({})).await;
        assert!(c.success, "{name}: {:?}", c.result);
    }

    let bad = call("search_logs", json!({"limit": 0})).await;
    assert!(!bad.success);
    let error = bad.result["error"].as_str().unwrap();
    assert!(
        error.contains("query: required") && error.contains("limit: must be at least 1"),
        "{error}"
    );
    assert!(call("restart_service", json!({"host_id": host, "service": "x"})).await.result
        ["error"]
        .as_str()
        .unwrap()
        .contains("proposed, not called"));
    assert!(!call("list_pods", json!({})).await.success);

    let usage = app.get("/api/plugins/search_logs", Some(&admin)).await.body["data"].clone();
    assert_eq!(usage["usage_count"].as_i64(), Some(before + 2));
    assert_eq!(app.get("/api/plugins/list_pods", Some(&admin)).await.status, StatusCode::NOT_FOUND);
}
