//! Read APIs over ingested data: host filters, auth boundaries, dashboard trends.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

crate::backend_tests!(
    host_list_filters_and_pages,
    read_routes_need_a_login,
    dashboard_trends_have_24_hourly_buckets
);

async fn host_list_filters_and_pages(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    for (name, group) in [("web-01", "web"), ("web-02", "web"), ("db-01", "db")] {
        let res = app
            .post("/api/v1/agent/register", json!({"hostname": name, "group_name": group, "ip_address": format!("10.1.0.{}", name.len())}), Some(&agent))
            .await;
        assert_eq!(res.status, StatusCode::OK);
    }
    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    let all = app.get("/api/v1/hosts", Some(&viewer)).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["total"], 3);
    assert_eq!(app.get("/api/v1/hosts?group_name=web", Some(&viewer)).await.body["total"], 2);
    assert_eq!(app.get("/api/v1/hosts?search=DB-", Some(&viewer)).await.body["total"], 1);
    assert_eq!(
        app.get("/api/v1/hosts?search=%25", Some(&viewer)).await.body["total"],
        0,
        "wildcards match literally"
    );
    let page = app.get("/api/v1/hosts?page=2&page_size=2", Some(&viewer)).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    crate::support::wait_until("all hosts online", || async {
        app.get("/api/v1/hosts?status=online", Some(&viewer)).await.body["total"] == 3
    })
    .await;
    assert_eq!(app.get("/api/v1/hosts?status=offline", Some(&viewer)).await.body["total"], 0);
    assert_eq!(
        app.get("/api/v1/hosts?status=sleeping", Some(&viewer)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/api/v1/hosts?page_size=101", Some(&viewer)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let missing = app.get("/api/v1/hosts/4242", Some(&viewer)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["detail"], "Host not found");
}

async fn read_routes_need_a_login(app: TestApp) {
    for path in [
        "/api/v1/hosts",
        "/api/v1/hosts/1",
        "/api/v1/hosts/1/metrics",
        "/api/v1/services",
        "/api/v1/services/1",
        "/api/v1/services/1/checks",
        "/api/v1/databases",
        "/api/v1/databases/1",
        "/api/v1/databases/1/slow-queries",
        "/api/v1/databases/1/metrics",
        "/api/v1/logs",
        "/api/v1/logs/stats",
        "/api/v1/dashboard/trends",
        "/api/v1/databases/targets",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(res.body["detail"], "Not authenticated", "{path}");
    }
}

async fn dashboard_trends_have_24_hourly_buckets(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "t1").await;
    app.post(
        "/api/v1/agent/metrics",
        json!({"host_id": host, "cpu_percent": 40.0, "memory_percent": 50.0}),
        Some(&agent),
    )
    .await;
    app.post(
        "/api/v1/agent/metrics",
        json!({"host_id": host, "cpu_percent": 60.0, "memory_percent": 70.0}),
        Some(&agent),
    )
    .await;
    app.post("/api/v1/agent/logs", json!({"logs": [{"host_id": host, "level": "ERROR", "message": "boom"}, {"host_id": host, "level": "INFO", "message": "fine"}]}), Some(&agent)).await;
    let res = app.get("/api/v1/dashboard/trends", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK);
    let trends = res.body["trends"].as_array().unwrap();
    assert_eq!(trends.len(), 24);
    let last = &trends[23];
    assert_eq!(last["avg_cpu"], 50.0);
    assert_eq!(last["avg_mem"], 60.0);
    assert_eq!(last["error_log_count"], 1);
    assert_eq!(last["alert_count"], 0);
    assert!(trends[0]["avg_cpu"].is_null());
    let h0 = chrono::DateTime::parse_from_rfc3339(trends[0]["hour"].as_str().unwrap()).unwrap();
    let h23 = chrono::DateTime::parse_from_rfc3339(last["hour"].as_str().unwrap()).unwrap();
    assert_eq!((h23 - h0).num_hours(), 23);
}
