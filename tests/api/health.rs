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
