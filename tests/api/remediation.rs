//! Remediation runs end to end: automatic dry runs that resolve their alert, approvals,
//! rejections, expiry, blocked runs, custom runbooks and their validation, the local
//! executor (rollback, timeouts that kill a `sleep`), and a restart mid-run.

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{wait_until, Backend, TestApp};

crate::backend_cases!(
    auto_dry_run_succeeds_and_resolves_the_alert,
    confirm_runs_wait_for_approval_then_execute,
    rejected_and_expired_runs_never_execute,
    blocked_runs_record_why,
    custom_runbooks_are_validated_and_managed,
    local_executor_rolls_back_and_kills_on_timeout,
    a_restart_mid_run_marks_it_interrupted,
    the_agent_executor_runs_commands_over_the_agent_socket,
);

struct Setup {
    app: TestApp,
    admin: String,
    agent: String,
    host: i64,
}

async fn setup(backend: Backend) -> Option<Setup> {
    let app = TestApp::spawn(backend).await?;
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "fix-me-host").await;
    Some(Setup { app, admin, agent, host })
}

impl Setup {
    /// Creates a rule on `metric` that fires at once, breaches it and returns the alert.
    async fn fire(&self, rule_name: &str, metric: &str) -> i64 {
        let res = self
            .app
            .post(
                "/api/v1/alert-rules",
                json!({"name": rule_name, "metric": metric, "operator": ">", "threshold": 80,
                       "duration_seconds": 0, "cooldown_seconds": 0}),
                Some(&self.admin),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        let rule = res.body["id"].as_i64().unwrap();
        let res = self
            .app
            .post(
                "/api/v1/agent/metrics",
                json!({"host_id": self.host, metric: 95.0}),
                Some(&self.agent),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        // Any status: with auto_remediation on, a dry run may resolve it at once.
        poll("the alert fired", || async {
            let res = self.app.get("/api/v1/alerts", Some(&self.admin)).await;
            res.body["items"]
                .as_array()
                .and_then(|items| items.iter().find(|a| a["rule_id"] == rule))
                .and_then(|a| a["id"].as_i64())
        })
        .await
    }

    async fn trigger(&self, alert: i64) -> Value {
        let res = self
            .app
            .post(&format!("/api/v1/alerts/{alert}/remediate"), json!({}), Some(&self.admin))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.body
    }

    async fn run(&self, id: i64) -> Value {
        let res = self.app.get(&format!("/api/v1/remediations/{id}"), Some(&self.admin)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.body
    }

    async fn wait_status(&self, id: i64, status: &str) -> Value {
        wait_until(&format!("run {id} is {status}"), || async {
            self.run(id).await["status"] == status
        })
        .await;
        self.run(id).await
    }

    async fn runbook(&self, body: Value) -> i64 {
        let res = self.app.post("/api/v1/runbooks/custom", body, Some(&self.admin)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body["id"].as_i64().unwrap()
    }
}

/// Polls `check` until it yields a value (10 s at most).
async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

fn transitions(run: &Value) -> Vec<String> {
    run["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to_status"].as_str().unwrap().to_string())
        .collect()
}

async fn auto_dry_run_succeeds_and_resolves_the_alert(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    s.app.set_settings(&s.admin, json!({"auto_remediation": true})).await;
    let alert = s.fire("Disk nearly full", "disk_percent").await;

    let run_id = poll("an automatic run exists", || async {
        let res = s.app.get("/api/v1/remediations?triggered_by=auto", Some(&s.admin)).await;
        res.body["items"].as_array().and_then(|i| i.first()).and_then(|r| r["id"].as_i64())
    })
    .await;
    let run = s.wait_status(run_id, "success").await;
    assert_eq!(run["alert_id"], alert);
    assert_eq!(run["runbook_name"], "disk_cleanup");
    assert_eq!(run["executor"], "dry_run");
    assert_eq!(run["verification_passed"], true);
    assert_eq!(run["diagnosis_json"]["runbook"], "disk_cleanup");
    assert_eq!(transitions(&run), ["pending", "approved", "executing", "success"]);
    let results = run["command_results_json"].as_array().unwrap();
    assert_eq!(results.len(), 5, "4 steps and 1 verify step: {results:?}");
    assert!(results.iter().all(|r| r["simulated"] == true && r["success"] == true));
    assert!(results[1]["stdout"].as_str().unwrap().contains("journalctl --vacuum-size=500M"));

    wait_until("the alert is resolved", || async {
        s.app.get(&format!("/api/v1/alerts/{alert}"), Some(&s.admin)).await.body["status"]
            == "resolved"
    })
    .await;
    let stats = s.app.get("/api/v1/remediations/stats", Some(&s.admin)).await.body;
    assert_eq!((stats["total"].as_i64(), stats["success"].as_i64()), (Some(1), Some(1)), "{stats}");
    assert_eq!(stats["success_rate"], 100.0);
    assert_eq!(stats["today_count"], 1);
    let res =
        s.app.post(&format!("/api/v1/alerts/{alert}/remediate"), json!({}), Some(&s.admin)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["detail"], "Alert is already resolved");
}

async fn confirm_runs_wait_for_approval_then_execute(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    let (_, viewer) = s.app.user_with_role(&s.admin, "viewer@example.com", "viewer").await;
    let alert = s.fire("Memory pressure", "memory_percent").await;
    let run = s.trigger(alert).await;
    let id = run["id"].as_i64().unwrap();
    assert_eq!(run["status"], "pending_approval", "{run}");
    assert_eq!(run["runbook_name"], "memory_pressure");
    assert_eq!(run["triggered_by"], "manual");
    assert!(run["blocked_reason"].as_str().unwrap().contains("confirm"), "{run}");
    assert!(run["approval_deadline"].is_string());

    let again =
        s.app.post(&format!("/api/v1/alerts/{alert}/remediate"), json!({}), Some(&s.admin)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["detail"], "A remediation is already in progress for this alert");
    let missing = s.app.post("/api/v1/alerts/999999/remediate", json!({}), Some(&s.admin)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let res =
        s.app.post(&format!("/api/v1/remediations/{id}/approve"), json!({}), Some(&viewer)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = s.app.post("/api/v1/remediations/999999/approve", json!({}), Some(&s.admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("Remediation log not found"))
    );

    let res = s
        .app
        .post(
            &format!("/api/v1/remediations/{id}/approve"),
            json!({"comment": "确认执行"}),
            Some(&s.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let run = s.wait_status(id, "success").await;
    assert_eq!(
        transitions(&run),
        ["pending", "pending_approval", "approved", "executing", "success"]
    );
    assert_eq!(run["approval_comment"], "确认执行");
    assert!(run["approved_by"].is_i64());
    let approved = &run["events"][2];
    assert_eq!(approved["actor"], "admin@example.com", "{approved}");

    let res =
        s.app.post(&format!("/api/v1/remediations/{id}/approve"), json!({}), Some(&s.admin)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["detail"], "Cannot approve remediation in status: success");
    let audit = s.app.get("/api/v1/audit-logs?action=approve_remediation", Some(&s.admin)).await;
    assert!(audit.text.contains("approve_remediation"), "{}", audit.text);
    let list =
        s.app.get("/api/v1/remediations?status=success&triggered_by=manual", Some(&s.admin)).await;
    assert_eq!(list.body["total"], 1, "{}", list.text);
    let bad = s.app.get("/api/v1/remediations?status=done", Some(&s.admin)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn rejected_and_expired_runs_never_execute(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    let alert = s.fire("Memory pressure", "memory_percent").await;
    let id = s.trigger(alert).await["id"].as_i64().unwrap();
    let res = s
        .app
        .post(
            &format!("/api/v1/remediations/{id}/reject"),
            json!({"comment": "风险太高,拒绝执行"}),
            Some(&s.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["status"], "rejected");
    assert_eq!(res.body["blocked_reason"], "风险太高,拒绝执行");
    let res =
        s.app.post(&format!("/api/v1/remediations/{id}/approve"), json!({}), Some(&s.admin)).await;
    assert_eq!(res.body["detail"], "Cannot approve remediation in status: rejected");
    assert_eq!(s.run(id).await["command_results_json"], json!([]));

    s.app.set_settings(&s.admin, json!({"remediation_approval_timeout": 1})).await;
    let id = s.trigger(alert).await["id"].as_i64().unwrap();
    let run = s.wait_status(id, "expired").await;
    assert_eq!(run["blocked_reason"], "approval deadline passed");
    assert_eq!(transitions(&run), ["pending", "pending_approval", "expired"]);
    assert_eq!(run["command_results_json"], json!([]));
}

async fn blocked_runs_record_why(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    s.runbook(json!({"name": "never", "match_alert_types": ["cpu_percent"], "risk_level": "block",
        "steps": [{"name": "noop", "command": "true", "timeout_sec": 5}]}))
        .await;
    let alert = s.fire("CPU hot", "cpu_percent").await;
    let run = s.trigger(alert).await;
    assert_eq!(run["status"], "blocked", "{run}");
    assert_eq!(run["runbook_name"], "never");
    assert!(run["blocked_reason"].as_str().unwrap().contains("risk level block"));

    let other = s.fire("Something odd", "net_packet_loss_rate").await;
    let run = s.trigger(other).await;
    assert_eq!(run["status"], "blocked", "{run}");
    assert_eq!(run["blocked_reason"], "no runbook matches this alert");
    let list = s.app.get("/api/v1/remediations?status=blocked", Some(&s.admin)).await;
    assert_eq!(list.body["total"], 2);
}

async fn custom_runbooks_are_validated_and_managed(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    let (_, viewer) = s.app.user_with_role(&s.admin, "viewer@example.com", "viewer").await;
    let nginx = json!({
        "name": "nginx_restart", "description": "Restart nginx when upstream errors detected",
        "match_alert_types": ["service_down"], "trigger_keywords": ["nginx", "upstream"],
        "risk_level": "confirm", "safety_checks": ["require_label:service"],
        "steps": [{"name": "Check status", "command": "systemctl status nginx", "timeout_sec": 10},
                  {"name": "Restart", "command": "systemctl restart nginx", "timeout_sec": 30, "rollback_command": "systemctl start nginx"}],
        "verify_steps": [{"name": "Verify", "command": "curl -f http://localhost:80/health", "timeout_sec": 10}]
    });
    let res = s.app.post("/api/v1/runbooks/custom", nginx.clone(), Some(&viewer)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let id = s.runbook(nginx.clone()).await;
    let res = s.app.post("/api/v1/custom-runbooks", nginx.clone(), Some(&s.admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::CONFLICT, Some("Runbook name already exists"))
    );

    let cases = [
        (json!({"name": "x", "steps": []}), vec!["body", "steps"], "at least one step"),
        (
            json!({"name": "x", "steps": [{"name": "a", "command": "true", "timeout_sec": 0}]}),
            vec!["body", "steps", "0", "timeout_sec"],
            "between 1 and 3600",
        ),
        (
            json!({"name": "x", "steps": [{"name": "ok", "command": "true", "timeout_sec": 5},
                                       {"name": "wipe", "command": "sudo rm -rf /", "timeout_sec": 5}]}),
            vec!["body", "steps", "1", "command"],
            "step 'wipe'",
        ),
        (
            json!({"name": "x", "steps": [{"name": "a", "command": "true", "timeout_sec": 5}], "risk_level": "yolo"}),
            vec!["body", "risk_level"],
            "'auto', 'confirm' or 'block'",
        ),
        (
            json!({"name": "x", "steps": [{"name": "a", "command": "psql -c 'DROP TABLE users'", "timeout_sec": 5}]}),
            vec!["body", "steps", "0", "command"],
            "rule",
        ),
        (
            json!({"steps": [{"name": "a", "command": "true", "timeout_sec": 5}]}),
            vec!["body", "name"],
            "Field required",
        ),
    ];
    for (body, loc, message) in cases {
        let res = s.app.post("/api/v1/runbooks/custom", body.clone(), Some(&s.admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.text);
        let found = res.body["detail"].as_array().unwrap().iter().any(|d| {
            let l: Vec<String> = d["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string().trim_matches('"').to_string())
                .collect();
            l == loc && d["msg"].as_str().unwrap().contains(message)
        });
        assert!(found, "{body}: expected {loc:?} / {message}: {}", res.text);
    }

    let res = s
        .app
        .put(
            &format!("/api/v1/runbooks/custom/{id}"),
            json!({"risk_level": "auto", "is_active": false}),
            Some(&s.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        (res.body["risk_level"].as_str(), res.body["is_active"].as_bool()),
        (Some("auto"), Some(false))
    );
    assert_eq!(res.body["steps"].as_array().unwrap().len(), 2);
    let res = s
        .app
        .put(
            &format!("/api/v1/runbooks/custom/{id}"),
            json!({"steps": [{"name": "x", "command": "mkfs.ext4 /dev/sda1", "timeout_sec": 5}]}),
            Some(&s.admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let all = s.app.get("/api/v1/runbooks", Some(&s.admin)).await;
    assert_eq!(all.body.as_array().unwrap().len(), 7, "{}", all.text);
    assert_eq!(
        s.app.get("/api/v1/runbooks/custom", Some(&s.admin)).await.body.as_array().unwrap().len(),
        1
    );
    assert_eq!(
        s.app.delete(&format!("/api/v1/runbooks/custom/{id}"), Some(&s.admin)).await.status,
        StatusCode::NO_CONTENT
    );
    let res = s.app.delete(&format!("/api/v1/runbooks/custom/{id}"), Some(&s.admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("Runbook not found"))
    );
}

async fn local_executor_rolls_back_and_kills_on_timeout(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    s.app.set_settings(&s.admin, json!({"remediation_executor": "local"})).await;
    s.runbook(json!({"name": "slow", "match_alert_types": ["cpu_percent"], "risk_level": "auto",
        "steps": [{"name": "first", "command": "echo step-one", "timeout_sec": 5, "rollback_command": "echo undo-one"},
                  {"name": "hang", "command": "sleep 30", "timeout_sec": 1}],
        "verify_steps": [{"name": "never", "command": "true", "timeout_sec": 5}]}))
        .await;
    let alert = s.fire("CPU hot", "cpu_percent").await;
    let started = std::time::Instant::now();
    let id = s.trigger(alert).await["id"].as_i64().unwrap();
    let run = s.wait_status(id, "failed").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
    let results = run["command_results_json"].as_array().unwrap();
    let phases: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["phase"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(phases, [("step", "first"), ("step", "hang"), ("rollback", "first")], "{results:?}");
    assert_eq!(results[0]["stdout"], "step-one\n");
    assert_eq!(results[0]["exit_code"], 0);
    assert!(results[1]["error"].as_str().unwrap().contains("timed out"), "{:?}", results[1]);
    assert_eq!(results[2]["stdout"], "undo-one\n");
    assert!(run["blocked_reason"].as_str().unwrap().contains("step 'hang' failed"), "{run}");
    assert_eq!(run["verification_passed"], Value::Null);
    assert_eq!(
        s.app.get(&format!("/api/v1/alerts/{alert}"), Some(&s.admin)).await.body["status"],
        "firing"
    );
}

async fn a_restart_mid_run_marks_it_interrupted(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    s.app.set_settings(&s.admin, json!({"remediation_executor": "local"})).await;
    s.runbook(json!({"name": "long", "match_alert_types": ["cpu_percent"], "risk_level": "auto",
        "steps": [{"name": "wait", "command": "sleep 30", "timeout_sec": 60}]}))
        .await;
    let alert = s.fire("CPU hot", "cpu_percent").await;
    let id = s.trigger(alert).await["id"].as_i64().unwrap();
    s.wait_status(id, "executing").await;
    let Setup { app, admin, agent, host } = s;
    let s = Setup { app: app.restart().await, admin, agent, host };
    let run = s.wait_status(id, "failed").await;
    assert_eq!(run["blocked_reason"], "interrupted");
    assert_eq!(transitions(&run), ["pending", "approved", "executing", "failed"]);
    assert_eq!(run["command_results_json"], json!([]), "never re-executed");
    // The alert may be remediated again.
    let again = s.trigger(alert).await;
    assert_ne!(again["id"], id);
}

async fn the_agent_executor_runs_commands_over_the_agent_socket(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    s.app.set_settings(&s.admin, json!({"remediation_executor": "agent"})).await;
    s.runbook(json!({"name": "via-agent", "match_alert_types": ["cpu_percent"], "risk_level": "auto",
        "steps": [{"name": "first", "command": "echo from-agent", "timeout_sec": 5},
                  {"name": "second", "command": "systemctl restart nginx", "timeout_sec": 5}],
        "verify_steps": [{"name": "check", "command": "systemctl is-active nginx", "timeout_sec": 5}]}))
        .await;

    // No agent connected: the first step fails with that reason.
    let alert = s.fire("CPU hot", "cpu_percent").await;
    let id = s.trigger(alert).await["id"].as_i64().unwrap();
    let run = s.wait_status(id, "failed").await;
    assert_eq!(
        run["command_results_json"][0]["error"], "the host's agent is not connected",
        "{run}"
    );

    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        s.app.ws_url(&format!("/api/v1/agent/ws/{}", s.host)),
    )
    .unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {}", s.agent).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    wait_until("the agent is connected", || async {
        s.app.get(&format!("/api/v1/hosts/{}", s.host), Some(&s.admin)).await.body
            ["agent_connected"]
            == true
    })
    .await;
    let id = s.trigger(alert).await["id"].as_i64().unwrap();
    let mut commands = Vec::new();
    for _ in 0..3 {
        let frame = loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
                .await
                .expect("a command in time")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(t) = msg {
                break serde_json::from_str::<Value>(&t).unwrap();
            }
        };
        assert_eq!(
            (frame["type"].as_str(), frame["timeout_sec"].as_u64()),
            (Some("exec_command"), Some(5))
        );
        let request = frame["request_id"].clone();
        let command = frame["command"].as_str().unwrap().to_string();
        // Streamed output, then the result; the second step is refused by this agent.
        let replies = if command.contains("restart") {
            vec![
                json!({"type": "command_result", "request_id": request, "status": "refused", "error": "not on my watch"}),
            ]
        } else {
            vec![
                json!({"type": "command_output", "request_id": request, "stream": "stdout", "data": "from-"}),
                json!({"type": "command_output", "request_id": request, "stream": "stdout", "data": "agent\n"}),
                json!({"type": "command_result", "request_id": request, "exit_code": 0}),
            ]
        };
        for reply in replies {
            ws.send(Message::Text(reply.to_string().into())).await.unwrap();
        }
        commands.push(command);
        if commands.len() == 2 {
            break;
        }
    }
    let run = s.wait_status(id, "failed").await;
    assert_eq!(commands, ["echo from-agent", "systemctl restart nginx"]);
    let results = run["command_results_json"].as_array().unwrap();
    assert_eq!(
        (results[0]["stdout"].as_str(), results[0]["exit_code"].as_i64()),
        (Some("from-agent\n"), Some(0))
    );
    assert_eq!(results[1]["error"], "the agent refused the command: not on my watch");
    assert_eq!(results[1]["executor"], "agent");
}
