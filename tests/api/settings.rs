//! Runtime settings: defaults, validation, admin-only writes, live application.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

crate::backend_tests!(
    settings_show_every_key_with_defaults_and_descriptions,
    admins_update_settings_and_changes_apply_without_restart,
    invalid_settings_are_rejected_whole_with_the_key_named,
    only_admins_write_settings,
);

async fn settings_show_every_key_with_defaults_and_descriptions(app: TestApp) {
    let admin = app.admin().await;
    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    let res = app.get("/api/v1/settings", Some(&viewer)).await;
    assert_eq!(res.status, StatusCode::OK);
    for (key, value) in [
        ("metrics_retention_days", "90"),
        ("alert_check_interval", "60"),
        ("heartbeat_timeout", "120"),
        ("webhook_retry_count", "3"),
        ("registration_enabled", "true"),
        ("server_side_checks", "false"),
        ("locale", "zh-CN"),
    ] {
        assert_eq!(res.body[key]["value"], value, "{key}");
        assert!(res.body[key]["description"].as_str().is_some_and(|d| !d.is_empty()), "{key}");
    }
    assert_eq!(app.get("/api/v1/settings", None).await.status, StatusCode::UNAUTHORIZED);
}

async fn admins_update_settings_and_changes_apply_without_restart(app: TestApp) {
    let admin = app.admin().await;
    let mut changes = app.state.settings.subscribe();
    let res = app
        .put(
            "/api/v1/settings",
            json!({"metrics_retention_days": "180", "heartbeat_timeout": 30}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"status": "ok"}));
    let res = app.get("/api/v1/settings", Some(&admin)).await;
    assert_eq!(res.body["metrics_retention_days"]["value"], "180");
    assert_eq!(res.body["heartbeat_timeout"]["value"], "30");
    assert_eq!(res.body["alert_check_interval"]["value"], "60");

    // Owners of the settings are told: the live view has the new values.
    assert!(changes.has_changed().unwrap());
    let live = changes.borrow_and_update().clone();
    assert_eq!(live.heartbeat_timeout_secs, 30);
    assert_eq!(live.metrics_retention_days, 180);

    let audit = app.get("/api/v1/audit-logs?action=update_settings", Some(&admin)).await;
    assert_eq!(audit.body["total"], 1);
    assert_eq!(audit.body["items"][0]["resource_type"], "settings");
    assert!(audit.body["items"][0]["detail"].as_str().unwrap().contains("180"));
}

async fn invalid_settings_are_rejected_whole_with_the_key_named(app: TestApp) {
    let admin = app.admin().await;
    let cases = [
        (json!({"heartbeat_timeout": "0"}), "heartbeat_timeout"),
        (json!({"metrics_retention_days": "ninety"}), "metrics_retention_days"),
        (json!({"webhook_retry_count": 99}), "webhook_retry_count"),
        (json!({"locale": "fr"}), "locale"),
        (json!({"registration_enabled": "perhaps"}), "registration_enabled"),
        (json!({"metrics_retention_days": "30", "no_such_setting": "1"}), "no_such_setting"),
    ];
    for (body, key) in cases {
        let res = app.put("/api/v1/settings", body.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.first_loc(), ["body", key], "{body}: {}", res.text);
    }
    let res = app.put("/api/v1/settings", json!(["heartbeat_timeout"]), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    let res = app.get("/api/v1/settings", Some(&admin)).await;
    assert_eq!(res.body["metrics_retention_days"]["value"], "90", "the valid half was not applied");
    assert_eq!(app.state.runtime_settings().metrics_retention_days, 90);
}

async fn only_admins_write_settings(app: TestApp) {
    let admin = app.admin().await;
    let (_, operator) = app.user_with_role(&admin, "o@example.com", "operator").await;
    let res =
        app.put("/api/v1/settings", json!({"heartbeat_timeout": "30"}), Some(&operator)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.put("/api/v1/settings", json!({}), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/settings", Some(&admin)).await.body["heartbeat_timeout"]["value"],
        "120"
    );
}
