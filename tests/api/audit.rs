//! The audit log records every sensitive action and is readable by admins only.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

crate::backend_tests!(sensitive_actions_are_audited_and_filterable, audit_log_is_admin_only);

async fn sensitive_actions_are_audited_and_filterable(app: TestApp) {
    let admin = app.admin().await;
    let admin_id = app.get("/api/v1/auth/me", Some(&admin)).await.body["id"].as_i64().unwrap();
    app.post(
        "/api/v1/auth/login",
        json!({"email": "admin@example.com", "password": "nope-nope"}),
        None,
    )
    .await;
    app.login("admin@example.com", "admin-password").await;
    let (uid, _) = app.user_with_role(&admin, "u@example.com", "viewer").await;
    app.put(&format!("/api/v1/users/{uid}"), json!({"name": "Renamed"}), Some(&admin)).await;
    app.put(
        &format!("/api/v1/users/{uid}/password"),
        json!({"new_password": "another-pw"}),
        Some(&admin),
    )
    .await;
    let t = app.post("/api/v1/agent-tokens", json!({"name": "a"}), Some(&admin)).await;
    let tid = t.body["id"].as_i64().unwrap();
    app.delete(&format!("/api/v1/agent-tokens/{tid}"), Some(&admin)).await;
    app.put("/api/v1/settings", json!({"alert_check_interval": "30"}), Some(&admin)).await;
    app.delete(&format!("/api/v1/users/{uid}"), Some(&admin)).await;

    let all = app.get("/api/v1/audit-logs?page_size=100", Some(&admin)).await;
    assert_eq!(all.status, StatusCode::OK);
    let actions: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "register",
        "login_failed",
        "login",
        "create_user",
        "update_user",
        "reset_password",
        "create_agent_token",
        "revoke_agent_token",
        "update_settings",
        "delete_user",
    ] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    assert_eq!(actions[0], "delete_user", "newest first");

    let entry = &all.body["items"][0];
    assert_eq!(entry["user_id"], admin_id);
    assert_eq!(entry["resource_type"], "user");
    assert_eq!(entry["resource_id"], uid);
    assert_eq!(entry["ip_address"], "127.0.0.1");
    assert!(entry["created_at"].as_str().unwrap().contains('T'));

    let failed = app.get("/api/v1/audit-logs?action=login_failed", Some(&admin)).await;
    assert_eq!(failed.body["total"], 1);
    assert!(failed.body["items"][0]["detail"].as_str().unwrap().contains("admin@example.com"));
    assert!(!failed.text.contains("nope-nope"), "passwords never reach the audit log");

    let tokens = app.get("/api/v1/audit-logs?resource_type=agent_token", Some(&admin)).await;
    assert_eq!(tokens.body["total"], 2);
    let by_user = app.get(&format!("/api/v1/audit-logs?user_id={uid}"), Some(&admin)).await;
    assert_eq!(by_user.body["total"], 1, "the user's own login");
    assert_eq!(by_user.body["items"][0]["action"], "login");
    assert_eq!(by_user.body["items"][0]["user_id"], uid);
    let paged = app.get("/api/v1/audit-logs?page=2&page_size=3", Some(&admin)).await;
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(paged.body["page"], 2);

    let res = app.get("/api/v1/audit-logs?user_id=abc", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["query", "user_id"]);
}

async fn audit_log_is_admin_only(app: TestApp) {
    let admin = app.admin().await;
    let (_, operator) = app.user_with_role(&admin, "o@example.com", "operator").await;
    assert_eq!(app.get("/api/v1/audit-logs", Some(&operator)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/audit-logs", None).await.status, StatusCode::UNAUTHORIZED);
}
