//! Family B basics: /healthz, /metrics, /api/status.

use reqwest::StatusCode;

use crate::support::TestApp;

crate::backend_tests!(
    healthz_is_public_and_reports_version_and_uptime,
    metrics_are_prometheus_text_with_per_route_counts,
    status_needs_a_login_and_reports_real_dependency_state,
);

async fn healthz_is_public_and_reports_version_and_uptime(app: TestApp) {
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "healthy");
    assert_eq!(res.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(res.body["uptime"].as_u64().is_some());
}

async fn metrics_are_prometheus_text_with_per_route_counts(app: TestApp) {
    app.get("/healthz", None).await;
    app.get("/api/v1/users/7", None).await;
    app.get("/no/such/route", None).await;
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = &res.text;
    assert!(text.contains("# TYPE warden_http_requests_total counter"), "{text}");
    assert!(
        text.contains(
            "warden_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("warden_http_requests_total{method=\"GET\",route=\"/api/v1/users/{id}\",status=\"401\"} 1"),
        "routes are labelled by template, not raw path: {text}"
    );
    assert!(text.contains("route=\"unmatched\",status=\"404\"} 1"), "{text}");
    assert!(text.contains("# TYPE warden_http_request_duration_seconds histogram"));
    assert!(text.contains(
        "warden_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 1"
    ));
    assert!(text.contains("process_start_time_seconds "));
    assert!(text.contains("warden_build_info{version=\""));

    // When promtool is installed (CI installs it), the exposition must pass its check.
    if let Ok(out) = std::process::Command::new("promtool").arg("--version").output() {
        if out.status.success() {
            use std::io::Write;
            let mut child = std::process::Command::new("promtool")
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

async fn status_needs_a_login_and_reports_real_dependency_state(app: TestApp) {
    let res = app.get("/api/status", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["success"], false);
    assert_eq!(res.body["error"]["code"], "UNAUTHORIZED");
    assert_eq!(res.body["error"]["message"], "未认证");

    let (token, _) = app.register("viewer@example.com", "password-1").await;
    let res = app.get("/api/status", Some(&token)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["success"], true);
    let data = &res.body["data"];
    assert_eq!(data["status"], "running");
    assert_eq!(data["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(data["database_status"], "connected");
    assert_eq!(data["redis_status"], if app.redis { "connected" } else { "not_configured" });
    for key in ["uptime", "active_incidents", "pending_approvals", "plugins_loaded"] {
        assert!(data[key].as_u64().is_some(), "{key}");
    }
    assert!(data["llm_status"].is_string());
}

/// A port on loopback with nothing listening.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn unreachable_redis_runs_degraded_when_not_required() {
    let url = format!("redis://127.0.0.1:{}", closed_port().await);
    let started = std::time::Instant::now();
    let app = TestApp::spawn_with(
        crate::support::Backend::Sqlite,
        &[("REDIS_URL", &url), ("WARDEN_REDIS__CONNECT_TIMEOUT_SECS", "1")],
    )
    .await
    .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "never hangs");
    let (token, _) = app.register("ops@example.com", "password-1").await;
    let res = app.get("/api/status", Some(&token)).await;
    assert_eq!(res.body["data"]["redis_status"], "disconnected");
    // Login throttling still works, locally.
    for _ in 0..10 {
        app.post(
            "/api/v1/auth/login",
            serde_json::json!({"email": "ops@example.com", "password": "nope-nope"}),
            None,
        )
        .await;
    }
    let res = app
        .post(
            "/api/v1/auth/login",
            serde_json::json!({"email": "ops@example.com", "password": "password-1"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn unreachable_redis_stops_start_up_when_required() {
    let url = format!("redis://127.0.0.1:{}", closed_port().await);
    let dir = tempfile::tempdir().unwrap();
    let env: std::collections::HashMap<String, String> = [
        ("WARDEN_LISTEN", "127.0.0.1:0".to_string()),
        ("WARDEN_DATA_DIR", dir.path().display().to_string()),
        ("REDIS_URL", url.clone()),
        ("WARDEN_REDIS__REQUIRED", "true".to_string()),
        ("WARDEN_REDIS__CONNECT_TIMEOUT_SECS", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config =
        warden::config::Config::load(&warden::config::LoadOptions { env, ..Default::default() })
            .unwrap();
    let started = std::time::Instant::now();
    let err = match warden::App::build(config).await {
        Ok(_) => panic!("start-up must fail when a required Redis is unreachable"),
        Err(e) => format!("{e:#}"),
    };
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "never hangs");
    assert!(err.contains("redis") && err.contains("unreachable"), "{err}");
}
