//! AI analysis: every route on the rules engine (no LLM), then against loopback
//! OpenAI-compatible and Anthropic stubs that check the request shape and answer from a
//! script (valid answers, malformed JSON, 5xx), and the LLM incident diagnosis loop.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::llm::{Answer, LlmStub};
use crate::support::{wait_until, Backend, TestApp};

crate::backend_tests!(rules_engine_answers_every_route, insights_are_listed_and_reviewed);
crate::backend_cases!(
    openai_compatible_llm_answers_and_failures_are_502,
    anthropic_llm_answers,
    llm_incident_diagnosis_calls_tools_within_its_bounds,
    a_failing_llm_diagnosis_falls_back_to_the_rules,
);

const KEY: &str = "sk-test-key";
const MODEL: &str = "test-model";

/// A host with metrics, two services and a mix of error logs; returns (agent, host).
async fn fleet(app: &TestApp, admin: &str) -> (String, i64) {
    let agent = app.agent_token(admin).await;
    let host = app.register_host(&agent, "api-01").await;
    let res = app
        .post(
            "/api/v1/agent/metrics",
            json!({"host_id": host, "cpu_percent": 91.5, "memory_percent": 40.0}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let mut logs = Vec::new();
    for i in 0..6 {
        logs.push(json!({"host_id": host, "service": "orders", "level": "ERROR",
                         "message": format!("Connection timeout to db 10.0.0.{i}:5432 after 3000ms")}));
    }
    logs.push(json!({"host_id": host, "service": "orders", "level": "WARN", "message": "slow request 1200ms"}));
    logs.push(json!({"host_id": host, "service": "orders", "level": "INFO", "message": "started"}));
    let res = app.post("/api/v1/agent/logs", json!({"logs": logs}), Some(&agent)).await;
    assert!(res.status.is_success(), "{}", res.text);
    (agent, host)
}

/// A CPU rule that fires at once, a breaching report, and the id of the alert it fired.
async fn hot_cpu_alert(app: &TestApp, admin: &str, agent: &str, host: i64) -> i64 {
    let res = app
        .post(
            "/api/v1/alert-rules",
            json!({"name": "cpu hot", "metric": "cpu_percent", "operator": ">", "threshold": 80,
                   "duration_seconds": 0, "cooldown_seconds": 0}),
            Some(admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    app.post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": 97.0}), Some(agent))
        .await;
    let path = format!("/api/v1/alerts?host_id={host}&status=firing");
    wait_until("the cpu alert fires", || async {
        app.get(&path, Some(admin)).await.body["items"][0]["id"].is_i64()
    })
    .await;
    app.get(&path, Some(admin)).await.body["items"][0]["id"].as_i64().unwrap()
}

/// Points the live LLM settings at a stub.
async fn use_llm(app: &TestApp, admin: &str, provider: &str, base: &str) {
    let res = app
        .put(
            "/api/config",
            json!({"LLM_PROVIDER": provider, "LLM_BASE_URL": base, "LLM_MODEL": MODEL, "LLM_API_KEY": KEY}),
            Some(admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

async fn rules_engine_answers_every_route(app: TestApp) {
    let admin = app.admin().await;
    let (agent, host) = fleet(&app, &admin).await;

    // Log analysis: clusters the six timeouts into one template, from the body or query.
    let res = app
        .post(
            "/api/v1/ai/analyze-logs",
            json!({"hours": 1, "host_id": host, "level": "ERROR"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        (res.body["engine"].as_str(), res.body["log_count"].as_i64()),
        (Some("rules"), Some(6))
    );
    let analysis = &res.body["analysis"];
    assert_eq!(analysis["clusters"][0]["count"], 6, "{}", res.text);
    assert!(analysis["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(["warning", "critical"].contains(&analysis["severity"].as_str().unwrap()));
    assert!(!analysis["recommendations"].as_array().unwrap().is_empty());
    let res = app
        .call(reqwest::Method::POST, "/api/v1/ai/analyze-logs?hours=2", None, Some(&admin))
        .await;
    assert_eq!(
        (res.status, res.body["log_count"].as_i64()),
        (StatusCode::OK, Some(7)),
        "{}",
        res.text
    );
    for (body, loc) in [
        (json!({"hours": 0}), "hours"),
        (json!({"hours": 169}), "hours"),
        (json!({"level": "ERR OR"}), "level"),
    ] {
        let res = app.post("/api/v1/ai/analyze-logs", body.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.first_loc()[1], loc);
    }

    // Chat: recognised questions answered from live data; others said plainly.
    let res = app
        .post("/api/v1/ai/chat", json!({"question": "which host has the top cpu?"}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        (res.body["engine"].as_str(), res.body["recognised"].as_bool()),
        (Some("rules"), Some(true))
    );
    assert!(res.body["answer"].as_str().unwrap().contains("api-01"), "{}", res.text);
    assert!(res.body["sources"].as_array().unwrap().contains(&json!("metrics")));
    let res = app
        .post("/api/v1/ai/chat", json!({"question": "write me a poem about the sea"}), Some(&admin))
        .await;
    assert_eq!(res.body["recognised"], false);
    assert!(!res.body["answer"].as_str().unwrap().is_empty());
    assert_eq!(
        app.post("/api/v1/ai/chat", json!({"question": " "}), Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Memory: a knowledge entry that reads like the question comes back.
    let res = app
        .post("/api/knowledge", json!({"title": "Database connection timeout runbook", "category": "database",
              "content": "When orders hits connection timeout to the database, check the pool size."}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .post(
            "/api/v1/ai/chat",
            json!({"question": "orders database connection timeout?"}),
            Some(&admin),
        )
        .await;
    let memory = res.body["memory_context"].as_array().unwrap();
    assert!(
        memory.iter().any(
            |m| m["type"] == "knowledge" && m["title"] == "Database connection timeout runbook"
        ),
        "{}",
        res.text
    );

    // Root cause of a real alert; 404 and 422 for bad alert ids.
    let alert = hot_cpu_alert(&app, &admin, &agent, host).await;
    let res =
        app.post(&format!("/api/v1/ai/root-cause?alert_id={alert}"), json!({}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        (res.body["alert_id"].as_i64(), res.body["engine"].as_str()),
        (Some(alert), Some("rules"))
    );
    assert!(res.body["analysis"]["root_cause"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        res.body["analysis"]["evidence"].is_array()
            && res.body["analysis"]["recommendations"].is_array()
    );
    let res = app.post("/api/v1/ai/root-cause?alert_id=99999", json!({}), Some(&admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("Alert not found"))
    );
    assert_eq!(
        app.post("/api/v1/ai/root-cause", json!({}), Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // System summary counts what exists.
    let res = app.get("/api/v1/ai/system-summary", Some(&admin)).await;
    assert_eq!(res.body["hosts"], json!({"total": 1, "online": 1, "offline": 0}), "{}", res.text);
    assert_eq!(res.body["recent_1h"]["error_log_count"], 6);
    assert!(res.body["recent_1h"]["alert_count"].as_i64().unwrap() >= 1);
    assert_eq!(res.body["avg_usage"]["cpu_percent"], 97.0);

    // Runbook drafts pass the safety check: a forbidden phrase removes its step.
    app.set_settings(&admin, json!({"forbidden_verbs": ["journalctl --vacuum"]})).await;
    let res = app
        .post(
            "/api/v1/ai/generate-runbook",
            json!({"description": "磁盘空间不足时清理日志", "risk_level": "confirm"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        (res.body["engine"].as_str(), res.body["saved"].as_bool()),
        (Some("rules"), Some(false))
    );
    let rb = &res.body["runbook"];
    assert_eq!(
        (rb["name"].as_str(), rb["risk_level"].as_str()),
        (Some("disk_space_cleanup"), Some("confirm"))
    );
    let commands: Vec<&str> =
        rb["steps"].as_array().unwrap().iter().filter_map(|s| s["command"].as_str()).collect();
    assert!(!commands.iter().any(|c| c.contains("journalctl")), "{commands:?}");
    let removed = res.body["removed_steps"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{}", res.text);
    assert!(removed[0]["reason"].as_str().unwrap().contains("forbidden"), "{}", res.text);
    // The draft is not saved, and can be created as it is.
    assert_eq!(
        app.get("/api/v1/runbooks/custom", Some(&admin)).await.body.as_array().map(Vec::len),
        Some(0)
    );
    let res = app.post("/api/v1/runbooks/custom", rb.clone(), Some(&admin)).await;
    assert_eq!(
        res.status,
        StatusCode::CREATED,
        "the draft is a valid custom runbook: {}",
        res.text
    );
    let res = app
        .post(
            "/api/v1/ai/generate-runbook",
            json!({"description": "x", "risk_level": "yolo"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    assert_eq!(
        app.post(
            "/api/v1/ai/generate-runbook",
            json!({"description": "restart nginx"}),
            Some(&viewer)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/api/v1/ai/system-summary", Some(&viewer)).await.status, StatusCode::OK);
    let status = app.get("/api/status", Some(&admin)).await;
    assert_eq!(status.body["data"]["llm_status"], "not_configured");
}

async fn insights_are_listed_and_reviewed(app: TestApp) {
    let admin = app.admin().await;
    let (_, host) = fleet(&app, &admin).await;
    let first = app.post("/api/v1/ai/analyze-logs", json!({"host_id": host}), Some(&admin)).await;
    let id = first.body["insight_id"].as_i64().unwrap();
    app.post("/api/v1/ai/analyze-logs", json!({"host_id": 99999}), Some(&admin)).await;
    let res = app.get("/api/v1/ai/insights", Some(&admin)).await;
    assert_eq!(
        (res.body["total"].as_i64(), res.body["page_size"].as_i64()),
        (Some(2), Some(20)),
        "{}",
        res.text
    );
    assert_eq!(res.body["items"][1]["id"], id, "newest first");
    assert_eq!(res.body["items"][1]["insight_type"], "log_analysis");
    assert_eq!(res.body["items"][0]["severity"], "info", "no logs on an unknown host");
    let severity = first.body["analysis"]["severity"].as_str().unwrap().to_string();
    let res = app.get(&format!("/api/v1/ai/insights?severity={severity}"), Some(&admin)).await;
    assert_eq!(res.body["total"], 1);

    let res = app
        .put(&format!("/api/v1/ai/insights/{id}"), json!({"status": "reviewed"}), Some(&admin))
        .await;
    assert_eq!(
        (res.status, res.body["status"].as_str()),
        (StatusCode::OK, Some("reviewed")),
        "{}",
        res.text
    );
    let res = app.get("/api/v1/ai/insights?status=reviewed", Some(&admin)).await;
    assert_eq!(
        (res.body["total"].as_i64(), res.body["items"][0]["id"].as_i64()),
        (Some(1), Some(id))
    );
    assert_eq!(
        app.put(&format!("/api/v1/ai/insights/{id}"), json!({"status": "done"}), Some(&admin))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.put("/api/v1/ai/insights/99999", json!({"status": "dismissed"}), Some(&admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/ai/insights?status=old", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    assert_eq!(
        app.put(&format!("/api/v1/ai/insights/{id}"), json!({"status": "new"}), Some(&viewer))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn openai_compatible_llm_answers_and_failures_are_502(backend: Backend) {
    let stub = LlmStub::start(KEY, MODEL).await;
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let (agent, host) = fleet(&app, &admin).await;
    use_llm(&app, &admin, "openai", &stub.openai_base()).await;
    let status = app.get("/api/status", Some(&admin)).await;
    assert_eq!(status.body["data"]["llm_status"], "connected", "{}", status.text);

    // A valid structured answer.
    let analysis = json!({"title": "数据库连接异常", "severity": "warning", "summary": "检测到多次数据库连接超时",
                          "recommendations": ["检查数据库连接池配置", "排查网络延迟"]});
    stub.script([Answer::Json(analysis.clone())]);
    let res = app.post("/api/v1/ai/analyze-logs", json!({"host_id": host}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["engine"], "llm");
    assert_eq!(res.body["analysis"]["title"], "数据库连接异常");
    let (path, body) = stub.requests().last().cloned().unwrap();
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(body["response_format"]["type"], "json_object");
    assert!(
        body["messages"][1]["content"].as_str().unwrap().contains("Connection timeout"),
        "the clusters are sent"
    );

    // Garbage, then a valid answer: retried once, answered.
    stub.script([Answer::Garbage, Answer::Json(analysis.clone())]);
    let res = app.post("/api/v1/ai/analyze-logs", json!({"host_id": host}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Two server errors: 502 naming the provider's answer, nothing stored.
    let before = app.get("/api/v1/ai/insights", Some(&admin)).await.body["total"].as_i64().unwrap();
    stub.script([Answer::Status(500), Answer::Status(503)]);
    let res = app.post("/api/v1/ai/analyze-logs", json!({"host_id": host}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY, "{}", res.text);
    assert!(res.body["detail"].as_str().unwrap().contains("HTTP 503"), "{}", res.text);
    // A wrong shape twice: 502 saying what was wrong; the retry told the model.
    stub.script([
        Answer::Json(json!({"title": "x", "severity": "bad"})),
        Answer::Text("not json at all".into()),
    ]);
    let res = app.post("/api/v1/ai/analyze-logs", json!({"host_id": host}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY);
    assert!(res.body["detail"].as_str().unwrap().contains("JSON object"), "{}", res.text);
    let retry = stub.requests().last().cloned().unwrap().1;
    assert!(retry["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .contains("severity"));
    assert_eq!(
        app.get("/api/v1/ai/insights", Some(&admin)).await.body["total"],
        before,
        "failures store nothing"
    );

    // Chat with live context.
    stub.script([Answer::Text("api-01 的 CPU 最高 (91.5%)。".into())]);
    let res = app
        .post("/api/v1/ai/chat", json!({"question": "为什么服务器 CPU 持续偏高?"}), Some(&admin))
        .await;
    assert_eq!(
        (res.body["engine"].as_str(), res.body["answer"].as_str()),
        (Some("llm"), Some("api-01 的 CPU 最高 (91.5%)。"))
    );
    let body = stub.requests().last().cloned().unwrap().1;
    assert!(
        body["messages"][1]["content"].as_str().unwrap().contains("api-01"),
        "live data is sent"
    );

    // Root cause.
    let alert = hot_cpu_alert(&app, &admin, &agent, host).await;
    stub.script([Answer::Json(
        json!({"root_cause": "磁盘 I/O 饱和导致服务响应超时", "evidence": ["磁盘使用率 95%"],
                                     "recommendations": ["扩容磁盘"], "confidence": 0.7}),
    )]);
    let res =
        app.post(&format!("/api/v1/ai/root-cause?alert_id={alert}"), json!({}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["analysis"]["root_cause"], "磁盘 I/O 饱和导致服务响应超时");

    // Runbook generation removes what the command guard refuses.
    stub.script([Answer::Json(
        json!({"name": "redis memory cleanup", "description": "free redis memory",
        "match_alert_types": ["memory_percent"], "trigger_keywords": ["redis"],
        "steps": [{"name": "Check", "command": "redis-cli info memory", "timeout_sec": 10},
                  {"name": "Wipe", "command": "rm -rf /", "timeout_sec": 10}],
        "verify_steps": [{"name": "Ping", "command": "redis-cli ping", "timeout_sec": 5}]}),
    )]);
    let res = app
        .post(
            "/api/v1/ai/generate-runbook",
            json!({"description": "当 Redis 内存超过 80% 时自动清理过期 key"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["runbook"]["name"], "redis_memory_cleanup");
    assert_eq!(res.body["runbook"]["steps"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["removed_steps"][0]["command"], "rm -rf /");

    // Topology suggestions: unknown ids and self-edges dropped.
    let a =
        app.register_service(&agent, host, "orders-api", "http", "http://127.0.0.1:8080/").await;
    let b = app.register_service(&agent, host, "orders-db", "tcp", "127.0.0.1:5432").await;
    stub.script([Answer::Json(json!({"suggestions": [
        {"source": a, "target": b, "type": "depends_on", "description": "数据库依赖"},
        {"source": a, "target": a, "type": "calls"}, {"source": a, "target": 9999, "type": "calls"}]}))]);
    let res = app.post("/api/v1/topology/ai-suggest", json!({}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!((res.body["engine"].as_str(), res.body["total"].as_i64()), (Some("llm"), Some(1)));
    assert_eq!(res.body["suggestions"][0]["target"], b);

    assert!(stub.problems().is_empty(), "{:?}", stub.problems());
    assert_eq!(stub.remaining(), 0);
    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.contains("warden_llm_requests_total{provider=\"openai\",result=\"ok\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("warden_llm_tokens_total{provider=\"openai\",kind=\"prompt\"}"));
    assert!(metrics.contains("warden_llm_request_duration_seconds_count{provider=\"openai\"}"));

    // A wrong key is a real check that fails.
    app.put("/api/config", json!({"LLM_API_KEY": "sk-wrong"}), Some(&admin)).await;
    let status = app.get("/api/status", Some(&admin)).await;
    assert_eq!(status.body["data"]["llm_status"], "error", "{}", status.text);
}

async fn anthropic_llm_answers(backend: Backend) {
    let stub = LlmStub::start(KEY, MODEL).await;
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let (_, host) = fleet(&app, &admin).await;
    use_llm(&app, &admin, "anthropic", &stub.anthropic_base()).await;
    stub.script([Answer::Json(
        json!({"title": "Database timeouts", "severity": "critical", "summary": "6 timeouts",
                                     "recommendations": ["check the pool"]}),
    )]);
    let res = app.post("/api/v1/ai/analyze-logs", json!({"host_id": host}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        (res.body["engine"].as_str(), res.body["analysis"]["severity"].as_str()),
        (Some("llm"), Some("critical"))
    );
    let (path, body) = stub.requests().last().cloned().unwrap();
    assert_eq!(path, "/v1/messages");
    assert!(body["system"].as_str().unwrap().contains("JSON"));
    assert!(body["messages"].as_array().unwrap().iter().all(|m| m["role"] != "system"));
    stub.script([Answer::Status(529), Answer::Status(529)]);
    let res =
        app.post("/api/v1/ai/chat", json!({"question": "how is the system?"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY, "{}", res.text);
    assert!(stub.problems().is_empty(), "{:?}", stub.problems());
}

async fn spawn_for_diagnosis(backend: Backend, max_steps: &str) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[
            ("WARDEN_INCIDENTS__DIAGNOSIS_DELAY_SECS", "0"),
            ("WARDEN_LLM__DIAGNOSIS_MAX_STEPS", max_steps),
        ],
    )
    .await
}

async fn diagnosed(app: &TestApp, token: &str, id: &str) -> Value {
    wait_until("the diagnosis completed", || async {
        let res = app.get(&format!("/api/incidents/{id}"), Some(token)).await;
        res.text.contains("\"diagnosis_completed\"")
    })
    .await;
    app.get(&format!("/api/incidents/{id}"), Some(token)).await.body["data"].clone()
}

fn events<'a>(incident: &'a Value, kind: &str) -> Vec<&'a Value> {
    incident["events"].as_array().into_iter().flatten().filter(|e| e["type"] == kind).collect()
}

async fn llm_incident_diagnosis_calls_tools_within_its_bounds(backend: Backend) {
    let stub = LlmStub::start(KEY, MODEL).await;
    let Some(app) = spawn_for_diagnosis(backend, "2").await else { return };
    let admin = app.admin().await;
    let (_, host) = fleet(&app, &admin).await;
    use_llm(&app, &admin, "openai", &stub.openai_base()).await;
    // Three tool rounds against a budget of two, then the conclusion.
    stub.script([
        Answer::Tools(vec![("get_host_metrics".into(), json!({"host_id": host}))]),
        Answer::Tools(vec![("search_logs".into(), json!({"query": "timeout"})), ("list_hosts".into(), json!({}))]),
        Answer::Json(json!({"conclusion": "orders cannot write: no space left on device", "confidence": 0.8,
                            "key_findings": ["6 connection timeouts"], "suggested_actions": ["check the db pool"]})),
    ]);
    let res = app
        .post(
            "/api/alert",
            json!({"message": "【严重】orders 服务数据库连接超时", "sender_id": "bot"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let id = res.body["data"]["incident_id"].as_str().unwrap().to_string();
    let incident = diagnosed(&app, &admin, &id).await;
    let calls = events(&incident, "tool_call");
    assert_eq!(calls.len(), 2, "the budget of two calls holds: {incident}");
    assert_eq!(calls[0]["data"]["tool"], "get_host_metrics");
    assert_eq!(
        (calls[0]["data"]["engine"].as_str(), calls[0]["data"]["success"].as_bool()),
        (Some("llm"), Some(true))
    );
    assert_eq!(calls[1]["data"]["tool"], "search_logs");
    let done = events(&incident, "diagnosis_completed")[0];
    assert_eq!(
        (done["data"]["engine"].as_str(), done["data"]["confidence"].as_f64()),
        (Some("llm"), Some(0.8))
    );
    assert_eq!(incident["diagnosis"]["conclusion"], "orders cannot write: no space left on device");
    // The proposal step picks the runbook the conclusion calls for.
    let incident = {
        let path = format!("/api/incidents/{id}");
        wait_until("the proposal is made", || async {
            !app.get(&path, Some(&admin)).await.body["data"]["proposal"].is_null()
        })
        .await;
        app.get(&path, Some(&admin)).await.body["data"].clone()
    };
    assert_eq!(
        (incident["proposal"]["runbook"].as_str(), incident["proposal"]["source"].as_str()),
        (Some("disk_cleanup"), Some("diagnosis"))
    );
    assert_eq!(events(&incident, "proposal_created")[0]["data"]["runbook"], "disk_cleanup");
    assert_eq!(incident["diagnosis"]["key_findings"], json!(["6 connection timeouts"]));
    // The model was told the third call did not run, and every tool result answered a call.
    let requests = stub.requests();
    assert_eq!(requests.len(), 3);
    let last = requests[2].1["messages"].as_array().unwrap();
    assert!(last
        .iter()
        .any(|m| m["role"] == "tool" && m["content"].as_str().unwrap().contains("budget")));
    assert!(requests[0].1["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["function"]["name"] == "search_logs"));
    assert!(stub.problems().is_empty(), "{:?}", stub.problems());
}

async fn a_failing_llm_diagnosis_falls_back_to_the_rules(backend: Backend) {
    let stub = LlmStub::start(KEY, MODEL).await;
    let Some(app) = spawn_for_diagnosis(backend, "1").await else { return };
    let admin = app.admin().await;
    use_llm(&app, &admin, "anthropic", &stub.anthropic_base()).await;
    // A call with broken arguments is recorded as failed; then the model keeps calling
    // tools past its budget, which ends the LLM's turn.
    stub.script([
        Answer::Tools(vec![("list_hosts".into(), json!({"status": "sideways"}))]),
        Answer::Tools(vec![("list_hosts".into(), json!({}))]),
        Answer::Tools(vec![("list_hosts".into(), json!({}))]),
    ]);
    let res = app
        .post(
            "/api/alert",
            json!({"message": "nginx 502 on web-9", "sender_id": "bot"}),
            Some(&admin),
        )
        .await;
    let id = res.body["data"]["incident_id"].as_str().unwrap().to_string();
    let incident = diagnosed(&app, &admin, &id).await;
    let calls = events(&incident, "tool_call");
    assert_eq!(calls[0]["data"]["engine"], "llm");
    assert_eq!(calls[0]["data"]["success"], false, "invalid arguments are refused: {incident}");
    assert!(
        calls.iter().skip(1).all(|c| c["data"]["engine"] == "rules"),
        "the rules engine took over: {incident}"
    );
    let done = events(&incident, "diagnosis_completed")[0];
    assert_eq!(done["data"]["engine"], "rules");
    assert!(done["data"]["llm_error"].as_str().unwrap().contains("budget"), "{done}");
    assert_eq!(incident["diagnosis"]["engine"], "rules");
    assert!(stub.problems().is_empty(), "{:?}", stub.problems());
}
