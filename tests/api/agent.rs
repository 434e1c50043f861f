//! The agent API: registration, heartbeats, metrics, services, checks, db metrics,
//! logs, db targets; authentication and ownership; bad input.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

crate::backend_tests!(
    register_is_idempotent_by_hostname_and_accepts_agent_extras,
    agent_routes_need_a_valid_unrevoked_token,
    hosts_are_owned_by_the_registering_token,
    metrics_are_committed_and_become_latest_metrics,
    bad_metric_reports_are_rejected_and_store_nothing,
    services_register_idempotently_and_checks_drive_their_status,
    db_metrics_create_the_database_and_keep_slow_queries,
    log_batches_are_stored_and_oversized_ones_refused,
    db_targets_are_managed_by_admins_and_served_to_their_agent,
);

async fn register_is_idempotent_by_hostname_and_accepts_agent_extras(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    // What the VigilOps agent sends: extra fields, tags as an object, no group_name.
    let body = json!({
        "hostname": "web-01", "display_name": "Web 01", "ip_address": "10.0.0.1", "private_ip": "10.0.0.1",
        "public_ip": "1.2.3.4", "network_info": {"eth0": "10.0.0.1"}, "os": "Ubuntu", "os_version": "22.04",
        "arch": "x86_64", "cpu_cores": 8, "memory_total_mb": 15360, "agent_version": "1.2.0",
        "tags": {"web": true}, "something_new": [1, 2, 3]
    });
    let res = app.post("/api/v1/agent/register", body.clone(), Some(&agent)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["hostname"], "web-01");
    assert_eq!(res.body["status"], "online");
    assert_eq!(res.body["created"], true);
    let id = res.body["host_id"].as_i64().unwrap();

    // The seed's header style, and tags as a list, update the same host.
    let res = app
        .client
        .post(app.url("/api/v1/agent/register"))
        .header("X-Agent-Token", &agent)
        .json(&json!({"hostname": "web-01", "tags": ["production", "web"], "group_name": "web-servers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let again: serde_json::Value = res.json().await.unwrap();
    assert_eq!(again["host_id"], id);
    assert_eq!(again["created"], false);

    let detail = app.get(&format!("/api/v1/hosts/{id}"), Some(&admin)).await;
    assert_eq!(detail.body["display_name"], "Web 01", "fields not sent again are kept");
    assert_eq!(detail.body["tags"], json!(["production", "web"]));
    assert_eq!(detail.body["group_name"], "web-servers");
    assert_eq!(detail.body["network_info"], json!({"eth0": "10.0.0.1"}));
    assert_eq!(detail.body["public_ip"], "1.2.3.4");
    crate::support::wait_until("host is online", || async {
        app.get(&format!("/api/v1/hosts/{id}"), Some(&admin)).await.body["status"] == "online"
    })
    .await;

    for bad in [
        json!({"hostname": ""}),
        json!({"hostname": "x", "tags": "web"}),
        json!({"hostname": "x", "cpu_cores": -1}),
        json!({}),
    ] {
        let res = app.post("/api/v1/agent/register", bad.clone(), Some(&agent)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.get("/api/v1/hosts", Some(&admin)).await.body["total"], 1);
}

async fn agent_routes_need_a_valid_unrevoked_token(app: TestApp) {
    let admin = app.admin().await;
    let res = app.post("/api/v1/agent/heartbeat", json!({"host_id": 1}), None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app.post("/api/v1/agent/register", json!({"hostname": "x"}), Some("vop_nope")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["detail"], "Invalid or revoked agent token");
    // A user's JWT is not an agent token.
    let res = app.post("/api/v1/agent/register", json!({"hostname": "x"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    let created = app.post("/api/v1/agent-tokens", json!({"name": "a"}), Some(&admin)).await;
    let agent = created.body["token"].as_str().unwrap().to_string();
    let host = app.register_host(&agent, "h1").await;
    let ok = app.post("/api/v1/agent/heartbeat", json!({"host_id": host}), Some(&agent)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["status"], "ok");
    assert!(ok.body["server_time"].as_str().unwrap().ends_with('Z'));

    let token_id = created.body["id"].as_i64().unwrap();
    app.delete(&format!("/api/v1/agent-tokens/{token_id}"), Some(&admin)).await;
    let res = app.post("/api/v1/agent/heartbeat", json!({"host_id": host}), Some(&agent)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "revoked on the very next request");
}

async fn hosts_are_owned_by_the_registering_token(app: TestApp) {
    let admin = app.admin().await;
    let a = app.agent_token(&admin).await;
    let b = app.agent_token(&admin).await;
    let host = app.register_host(&a, "owned").await;
    for (path, body) in [
        ("/api/v1/agent/heartbeat", json!({"host_id": host})),
        ("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": 1.0})),
        ("/api/v1/agent/logs", json!({"logs": [{"host_id": host, "message": "x"}]})),
        ("/api/v1/agent/db-metrics", json!({"host_id": host, "db_name": "d", "db_type": "mysql"})),
        (
            "/api/v1/agent/services/register",
            json!({"host_id": host, "name": "s", "type": "tcp", "target": "x:1"}),
        ),
    ] {
        let res = app.post(path, body, Some(&b)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            res.body["detail"],
            format!("Host {host} is not registered with this agent token"),
            "{path}"
        );
    }
    let res = app.post("/api/v1/agent/heartbeat", json!({"host_id": 999_999}), Some(&a)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["detail"], "Host 999999 not found");
    let res = app.post("/api/v1/agent/heartbeat", json!({"host_id": "one"}), Some(&a)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "host_id"]);
}

async fn metrics_are_committed_and_become_latest_metrics(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "m1").await;
    let mut ids = Vec::new();
    for cpu in [10.0, 20.0, 45.2] {
        let res = app
            .post(
                "/api/v1/agent/metrics",
                json!({"host_id": host, "cpu_percent": cpu, "memory_percent": 62.1, "disk_percent": 50.0,
                       "cpu_load_1": 2.1, "net_send_rate_kb": 100.5, "agent_cpu_percent": 1.5,
                       "agent_memory_rss_mb": 40.0, "agent_thread_count": 12, "agent_uptime_seconds": 3600,
                       "agent_open_files": 30,
                       "disk_partitions": [{"mountpoint": "/", "device": "/dev/vda1", "fstype": "ext4",
                                            "total_mb": 100000, "used_mb": 50000, "percent": 50.0}]}),
                Some(&agent),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        assert_eq!(res.body["status"], "ok");
        ids.push(res.body["metric_id"].as_i64().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // Committed before the 201: the history has all three at once.
    let raw =
        app.get(&format!("/api/v1/hosts/{host}/metrics?hours=1&interval=raw"), Some(&admin)).await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.body.as_array().unwrap().len(), 3);
    assert_eq!(raw.body[2]["cpu_percent"], 45.2);
    let agg = app
        .get(&format!("/api/v1/hosts/{host}/metrics?hours=24&interval=5min"), Some(&admin))
        .await;
    let buckets = agg.body.as_array().unwrap();
    assert!(!buckets.is_empty() && buckets.len() <= 2, "{}", agg.text);
    let total: f64 = buckets.iter().map(|b| b["cpu_percent"].as_f64().unwrap()).sum::<f64>()
        / buckets.len() as f64;
    assert!(total > 10.0 && total <= 45.2);
    for q in ["hours=0", "hours=721", "interval=2min", "hours=x"] {
        let res = app.get(&format!("/api/v1/hosts/{host}/metrics?{q}"), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
    assert_eq!(
        app.get("/api/v1/hosts/999/metrics", Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );

    crate::support::wait_until("latest metrics are shown", || async {
        let list = app.get("/api/v1/hosts", Some(&admin)).await;
        list.body["items"][0]["latest_metrics"]["cpu_percent"] == 45.2
    })
    .await;
    let detail = app.get(&format!("/api/v1/hosts/{host}"), Some(&admin)).await;
    assert_eq!(detail.body["latest_metrics"]["memory_percent"], 62.1);
    assert_eq!(detail.body["latest_metrics"]["agent_thread_count"], 12.0);
    assert_eq!(detail.body["disk_partitions"][0]["mountpoint"], "/");
    assert_eq!(detail.body["disk_partitions"][0]["percent"], 50.0);
}

async fn bad_metric_reports_are_rejected_and_store_nothing(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "bad").await;
    let future =
        (chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z").unwrap()).to_rfc3339();
    let cases = [
        (json!({"host_id": host, "cpu_percent": 250}), "cpu_percent"),
        (json!({"host_id": host, "memory_percent": -1}), "memory_percent"),
        (json!({"host_id": host, "disk_used_mb": -5}), "disk_used_mb"),
        (json!({"host_id": host, "cpu_percent": "high"}), "cpu_percent"),
        (json!({"host_id": host, "timestamp": future}), "timestamp"),
        (json!({"cpu_percent": 5}), "host_id"),
    ];
    for (body, field) in cases {
        let res = app.post("/api/v1/agent/metrics", body.clone(), Some(&agent)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.text);
        let loc = res.first_loc();
        assert!(loc.contains(&field.to_string()), "{body}: {loc:?}");
    }
    for raw in
        ["{\"host_id\": 1, \"cpu_percent\": NaN}", "{\"host_id\": 1, \"cpu_percent\": 1e999}"]
    {
        let res = app.post_raw("/api/v1/agent/metrics", raw, Some(&agent)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{raw}");
    }
    let raw = app.get(&format!("/api/v1/hosts/{host}/metrics"), Some(&admin)).await;
    assert_eq!(raw.body, json!([]), "nothing was written");
}

async fn services_register_idempotently_and_checks_drive_their_status(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "svc").await;
    let body = json!({"name": "backend-api", "type": "http", "target": "http://localhost:8001/health",
                      "host_id": host, "check_interval": 60, "timeout": 10});
    let res = app.post("/api/v1/agent/services/register", body.clone(), Some(&agent)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["created"], true);
    let sid = res.body["service_id"].as_i64().unwrap();
    let res = app.post("/api/v1/agent/services/register", body, Some(&agent)).await;
    assert_eq!(
        (res.body["service_id"].as_i64(), res.body["created"].as_bool()),
        (Some(sid), Some(false))
    );
    let redis = app
        .post(
            "/api/v1/agent/services/register",
            json!({"name": "redis", "type": "tcp", "target": "127.0.0.1:6379", "host_id": host}),
            Some(&agent),
        )
        .await;
    let rid = redis.body["service_id"].as_i64().unwrap();

    for (status, code) in [("up", 200), ("up", 200), ("down", 503)] {
        let res = app
            .post("/api/v1/agent/services",
                  json!({"service_id": sid, "status": status, "response_time_ms": 45.5, "status_code": code,
                         "error": if status == "down" { "HTTP 503" } else { "" }}), Some(&agent))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        assert!(res.body["check_id"].as_i64().is_some());
    }
    crate::support::wait_until("service is down", || async {
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"] == "down"
    })
    .await;
    let detail = app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await;
    assert_eq!(detail.body["category"], "business");
    assert_eq!(detail.body["last_error"], "HTTP 503");
    let uptime = detail.body["uptime_percent"].as_f64().unwrap();
    assert!((uptime - 66.67).abs() < 0.01, "{uptime}");
    assert_eq!(detail.body["host_info"]["hostname"], "svc");

    let checks = app.get(&format!("/api/v1/services/{sid}/checks?hours=24"), Some(&admin)).await;
    assert_eq!(checks.body.as_array().unwrap().len(), 3);
    assert_eq!(checks.body[0]["status"], "down", "newest first");

    let list = app.get("/api/v1/services?group_by_host=true", Some(&admin)).await;
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["stats"]["middleware"], 1);
    assert_eq!(list.body["stats"]["business"], 1);
    assert_eq!(list.body["stats"]["unhealthy"], 1);
    assert_eq!(list.body["host_groups"][0]["hostname"], "svc");
    assert_eq!(list.body["host_groups"][0]["services"].as_array().unwrap().len(), 2);
    let mw = app.get("/api/v1/services?category=middleware", Some(&admin)).await;
    assert_eq!(mw.body["items"][0]["id"], rid);
    let down = app.get("/api/v1/services?status=down", Some(&admin)).await;
    assert_eq!(down.body["total"], 1);

    let res = app
        .post(
            "/api/v1/agent/services",
            json!({"service_id": sid, "status": "sideways"}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "status"]);
    let res = app
        .post("/api/v1/agent/services", json!({"service_id": 9999, "status": "up"}), Some(&agent))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .post("/api/v1/agent/services/register",
              json!({"name": "x", "type": "tcp", "target": "x", "host_id": host, "check_interval": 0}), Some(&agent))
        .await;
    assert_eq!(res.first_loc(), ["body", "check_interval"]);
    assert_eq!(app.get("/api/v1/services/9999", Some(&admin)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/v1/services?category=other", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn db_metrics_create_the_database_and_keep_slow_queries(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "db-host").await;
    let res = app
        .post("/api/v1/agent/db-metrics",
              json!({"host_id": host, "db_name": "nightmend", "db_type": "postgres", "connections_total": 50,
                     "connections_active": 12, "connections_max": 100, "database_size_mb": 1024, "slow_queries": 3,
                     "qps": 150, "tablespace_used_pct": 45.2, "lock_waits": 1, "deadlocks": 0,
                     "slow_queries_detail": [{"query": "SELECT pg_sleep(5)", "duration_ms": 5000}]}),
              Some(&agent))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let db_id = res.body["database_id"].as_i64().unwrap();
    assert!(res.body["metric_id"].as_i64().is_some());

    // Oracle shape: tablespace inside extra, slow queries by sql_id.
    let res = app
        .post("/api/v1/agent/db-metrics",
              json!({"host_id": host, "db_name": "ORCL", "db_type": "oracle", "connections_total": 95,
                     "connections_max": 100, "extra": {"tablespace_used_pct": 85.0},
                     "slow_queries_detail": [{"sql_id": "abc", "avg_seconds": 2.5, "executions": 10, "sql_text": "SELECT 1"}]}),
              Some(&agent))
        .await;
    let ora = res.body["database_id"].as_i64().unwrap();
    assert_ne!(ora, db_id);
    let again = app
        .post("/api/v1/agent/db-metrics", json!({"host_id": host, "db_name": "nightmend", "db_type": "postgres", "connections_total": 60}), Some(&agent))
        .await;
    assert_eq!(again.body["database_id"], db_id, "the same database is reused");

    let list = app.get(&format!("/api/v1/databases?host_id={host}"), Some(&admin)).await;
    assert_eq!(list.body["total"], 2);
    let pg = list.body["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == db_id)
        .unwrap()
        .clone();
    assert_eq!(pg["status"], "healthy");
    assert_eq!(pg["latest_metrics"]["connections_total"], 60.0, "latest report wins");
    let oracle = app.get(&format!("/api/v1/databases/{ora}"), Some(&admin)).await;
    assert_eq!(oracle.body["status"], "critical");
    assert_eq!(oracle.body["latest_metrics"]["tablespace_used_pct"], 85.0);
    let slow = app.get(&format!("/api/v1/databases/{ora}/slow-queries"), Some(&admin)).await;
    assert_eq!(slow.body["slow_queries"][0]["query"], "SELECT 1");
    assert_eq!(slow.body["slow_queries"][0]["duration_ms"], 2500.0);
    assert_eq!(slow.body["slow_queries"][0]["sql_id"], "abc");
    let history =
        app.get(&format!("/api/v1/databases/{db_id}/metrics?period=24h"), Some(&admin)).await;
    assert_eq!(history.body.as_array().unwrap().len(), 2);
    assert_eq!(
        app.get(&format!("/api/v1/databases/{db_id}/metrics?period=2y"), Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.get("/api/v1/databases/999", Some(&admin)).await.status, StatusCode::NOT_FOUND);

    let res = app.post("/api/v1/agent/db-metrics", json!({"host_id": host, "db_name": "x", "db_type": "mysql", "tablespace_used_pct": 120}), Some(&agent)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post(
            "/api/v1/agent/db-metrics",
            json!({"host_id": host, "db_type": "mysql"}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.first_loc(), ["body", "db_name"]);
    assert_eq!(
        app.get("/api/v1/databases", Some(&admin)).await.body["total"],
        2,
        "nothing created by bad input"
    );
}

async fn log_batches_are_stored_and_oversized_ones_refused(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "logger").await;
    let res = app
        .post("/api/v1/agent/logs",
              json!({"logs": [
                  {"host_id": host, "service": "backend", "level": "ERROR", "message": "Connection refused to database", "source": "/var/log/app.log"},
                  {"host_id": host, "service": "backend", "level": "warn", "message": "slow request"},
                  {"host_id": host, "service": "nginx", "message": "数据库连接超时"}]}),
              Some(&agent))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body, json!({"received": 3}));

    let too_many: Vec<_> =
        (0..1001).map(|i| json!({"host_id": host, "message": format!("line {i}")})).collect();
    let res = app.post("/api/v1/agent/logs", json!({"logs": too_many}), Some(&agent)).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body["detail"].as_str().unwrap().contains("1001"));
    let res = app
        .post(
            "/api/v1/agent/logs",
            json!({"logs": [{"host_id": host, "message": "ok"}, {"host_id": host, "message": ""}]}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "logs", "1", "message"]);
    let res = app
        .post(
            "/api/v1/agent/logs",
            json!({"logs": [{"host_id": host, "message": "x", "level": "<b>"}]}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    let all = app.get("/api/v1/logs", Some(&admin)).await;
    assert_eq!(all.body["total"], 3, "rejected batches stored nothing");
    assert_eq!(all.body["page_size"], 50);
    let hit = app.get("/api/v1/logs?q=refused", Some(&admin)).await;
    assert_eq!(hit.body["total"], 1);
    assert_eq!(hit.body["items"][0]["hostname"], "logger");
    assert_eq!(hit.body["items"][0]["source"], "/var/log/app.log");
    assert_eq!(
        app.get("/api/v1/logs?q=REFUSED", Some(&admin)).await.body["total"],
        1,
        "case-insensitive"
    );
    assert_eq!(
        app.get("/api/v1/logs?q=%E8%BF%9E%E6%8E%A5%E8%B6%85", Some(&admin)).await.body["total"],
        1,
        "Chinese substring"
    );
    assert_eq!(
        app.get("/api/v1/logs?q=sl", Some(&admin)).await.body["total"],
        1,
        "short queries work too"
    );
    assert_eq!(app.get("/api/v1/logs?level=ERROR,WARN", Some(&admin)).await.body["total"], 2);
    assert_eq!(app.get("/api/v1/logs?service=nginx", Some(&admin)).await.body["total"], 1);
    assert_eq!(
        app.get(&format!("/api/v1/logs?host_id={host}&page_size=2"), Some(&admin)).await.body
            ["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.get("/api/v1/logs?page_size=201", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/api/v1/logs?start_time=yesterday", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let stats = app.get("/api/v1/logs/stats?period=1h", Some(&admin)).await;
    assert_eq!(stats.status, StatusCode::OK);
    let levels = stats.body["by_level"].as_array().unwrap();
    assert_eq!(levels.iter().map(|l| l["count"].as_i64().unwrap()).sum::<i64>(), 3);
    assert_eq!(stats.body["by_time"][0]["count"], 3);
    assert_eq!(
        app.get("/api/v1/logs/stats?period=1w", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn db_targets_are_managed_by_admins_and_served_to_their_agent(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let other = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "collector").await;
    let body = json!({"host_id": host, "db_type": "postgres", "db_host": "127.0.0.1", "db_port": 5432,
                      "db_name": "app", "username": "monitor", "password": "s3cret", "interval_sec": 30});
    let res = app.post("/api/v1/databases/targets", body.clone(), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert!(res.body.get("password").is_none() && !res.text.contains("s3cret"));
    assert_eq!(res.body["has_password"], true);
    let id = res.body["id"].as_i64().unwrap();

    let served = app.get(&format!("/api/v1/agent/db-targets?host_id={host}"), Some(&agent)).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body["items"][0]["password"], "s3cret", "the owning agent gets credentials");
    assert_eq!(served.body["items"][0]["interval_sec"], 30);
    assert_eq!(
        app.get(&format!("/api/v1/agent/db-targets?host_id={host}"), Some(&other)).await.status,
        StatusCode::FORBIDDEN
    );

    let mut update = body.clone();
    update.as_object_mut().unwrap().remove("password");
    update["is_active"] = json!(false);
    let res = app.put(&format!("/api/v1/databases/targets/{id}"), update, Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["has_password"], true, "omitted password is kept");
    let served = app.get(&format!("/api/v1/agent/db-targets?host_id={host}"), Some(&agent)).await;
    assert_eq!(served.body["items"], json!([]), "inactive targets are not served");

    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    assert_eq!(
        app.get("/api/v1/databases/targets", Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/api/v1/databases/targets", body.clone(), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    let mut bad = body.clone();
    bad["db_port"] = json!(70000);
    assert_eq!(
        app.post("/api/v1/databases/targets", bad, Some(&admin)).await.first_loc(),
        ["body", "db_port"]
    );
    let mut bad = body.clone();
    bad["host_id"] = json!(4242);
    assert_eq!(
        app.post("/api/v1/databases/targets", bad, Some(&admin)).await.first_loc(),
        ["body", "host_id"]
    );
    let list = app.get("/api/v1/databases/targets", Some(&admin)).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("/api/v1/databases/targets/{id}"), Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&format!("/api/v1/databases/targets/{id}"), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
}
