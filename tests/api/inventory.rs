//! Inventory and topology: servers (linked to agent hosts by hostname), server groups
//! and their members, nginx upstreams from agents and from the API, the service graph
//! with inferred and custom edges, layouts, suggestions and the legacy views.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::TestApp;

crate::backend_tests!(
    servers_are_validated_searched_and_deleted_with_their_children,
    server_groups_hold_members_and_cascade,
    a_server_named_like_an_agent_host_shows_the_host,
    agents_report_upstreams_that_link_servers,
    the_graph_infers_edges_until_custom_dependencies_exist,
    layouts_are_saved_per_user_and_name,
    legacy_topology_views_answer,
);

async fn create_server(app: &TestApp, token: &str, body: Value) -> i64 {
    let res = app.post("/api/v1/servers", body, Some(token)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_i64().unwrap()
}

async fn create_group(app: &TestApp, token: &str, name: &str, category: &str) -> i64 {
    let res = app
        .post("/api/v1/server-groups", json!({"name": name, "category": category}), Some(token))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_i64().unwrap()
}

async fn servers_are_validated_searched_and_deleted_with_their_children(app: TestApp) {
    let admin = app.admin().await;
    let id = create_server(
        &app,
        &admin,
        json!({"hostname": "prod-01", "ip_address": "10.0.0.1", "label": "生产服务器", "os": "CentOS Stream 9",
               "nginx_upstreams": [{"upstream_name": "backend", "backend_address": "10.0.0.2:8001"}]}),
    )
    .await;
    create_server(
        &app,
        &admin,
        json!({"hostname": "stage-01", "ip_address": "10.1.0.1", "label": "staging"}),
    )
    .await;

    // Bad input: 422 naming the field, nothing stored.
    for (body, loc) in [
        (json!({"hostname": "prod-01"}), "hostname"),
        (json!({"hostname": "x", "ip_address": "10.0.0.300"}), "ip_address"),
        (json!({"hostname": "has space"}), "hostname"),
        (json!({"label": "no hostname"}), "hostname"),
        (json!({"hostname": "y", "status": "sleepy"}), "status"),
        (
            json!({"hostname": "z", "nginx_upstreams": [{"upstream_name": "a", "backend_address": ""}]}),
            "nginx_upstreams",
        ),
    ] {
        let res = app.post("/api/v1/servers", body.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.text);
        assert_eq!(res.first_loc()[1], loc, "{body}: {}", res.text);
    }
    let dup = app.post("/api/v1/servers", json!({"hostname": "prod-01"}), Some(&admin)).await;
    assert_eq!(dup.body["detail"][0]["msg"], "hostname 'prod-01' 已存在");
    let all = app.get("/api/v1/servers", Some(&admin)).await;
    assert_eq!(all.body["total"], 2, "{}", all.text);
    assert_eq!(all.body["items"][0]["hostname"], "stage-01", "newest first");

    // Search over hostname, label and IP; status filter.
    for (q, expect) in [("PROD", "prod-01"), ("staging", "stage-01"), ("10.1.", "stage-01")] {
        let res = app.get(&format!("/api/v1/servers?search={q}"), Some(&admin)).await;
        assert_eq!(res.body["total"], 1, "{q}: {}", res.text);
        assert_eq!(res.body["items"][0]["hostname"], expect);
    }
    let res = app.get("/api/v1/servers?status=unknown&page_size=1", Some(&admin)).await;
    assert_eq!(
        (res.body["total"].as_i64(), res.body["items"].as_array().unwrap().len()),
        (Some(2), 1)
    );
    assert_eq!(
        app.get("/api/v1/servers?page_size=101", Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Detail with upstreams; partial update keeps other fields; rename onto a taken name.
    let res = app.get(&format!("/api/v1/servers/{id}"), Some(&admin)).await;
    assert_eq!(res.body["server"]["label"], "生产服务器");
    assert_eq!(res.body["nginx_upstreams"][0]["backend_address"], "10.0.0.2:8001");
    assert_eq!(res.body["services"], json!([]));
    let res = app
        .put(&format!("/api/v1/servers/{id}"), json!({"status": "maintenance"}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        (res.body["status"].as_str(), res.body["label"].as_str()),
        (Some("maintenance"), Some("生产服务器"))
    );
    let res = app
        .put(&format!("/api/v1/servers/{id}"), json!({"hostname": "stage-01"}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&format!("/api/v1/servers/{id}"), Some(&admin)).await.body["server"]["hostname"],
        "prod-01"
    );
    assert_eq!(
        app.put("/api/v1/servers/9999", json!({}), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );

    // Viewers read, never write.
    let (_, viewer) = app.user_with_role(&admin, "viewer@example.com", "viewer").await;
    assert_eq!(app.get("/api/v1/servers", Some(&viewer)).await.status, StatusCode::OK);
    let res = app.post("/api/v1/servers", json!({"hostname": "v"}), Some(&viewer)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.delete(&format!("/api/v1/servers/{id}"), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );

    // Delete cascades to members and upstreams.
    let group = create_group(&app, &admin, "PostgreSQL", "database").await;
    let res = app
        .post(
            &format!("/api/v1/server-groups/{group}/servers"),
            json!({"server_id": id, "port": 5432}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app.delete(&format!("/api/v1/servers/{id}"), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["detail"], "服务器 'prod-01' 已删除");
    assert_eq!(
        app.get(&format!("/api/v1/servers/{id}"), Some(&admin)).await.body["detail"],
        "服务器不存在"
    );
    let res = app.get(&format!("/api/v1/server-groups/{group}"), Some(&admin)).await;
    assert_eq!(
        (res.body["server_count"].as_i64(), res.body["services"].clone()),
        (Some(0), json!([]))
    );
    let ms = app.get("/api/v1/topology/multi-server", Some(&admin)).await;
    assert_eq!(ms.body["edges"], json!([]), "the upstreams went with the server");

    let audit = app.get("/api/v1/audit-logs?resource_type=server", Some(&admin)).await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["create_server", "update_server", "delete_server"] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
}

async fn server_groups_hold_members_and_cascade(app: TestApp) {
    let admin = app.admin().await;
    let a =
        create_server(&app, &admin, json!({"hostname": "db-01", "ip_address": "10.0.0.5"})).await;
    let b = create_server(&app, &admin, json!({"hostname": "db-02"})).await;
    let pg = create_group(&app, &admin, "PostgreSQL", "database").await;
    let redis = create_group(&app, &admin, "Redis", "cache").await;

    let res = app.post("/api/v1/server-groups", json!({"name": "Redis"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    let res = app.post("/api/v1/server-groups", json!({"category": "x"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    let add = |group: i64, body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.post(&format!("/api/v1/server-groups/{group}/servers"), body, Some(&admin)).await
        }
    };
    let res = add(pg, json!({"server_id": a, "port": 5432, "pid": 12345, "status": "running", "cpu_percent": 10.0, "mem_mb": 256.0})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        (res.body["port"].as_i64(), res.body["group_name"].as_str()),
        (Some(5432), Some("PostgreSQL"))
    );
    assert_eq!(add(pg, json!({"server_id": a, "port": 5432})).await.status, StatusCode::CONFLICT);
    assert_eq!(
        add(pg, json!({"server_id": a, "port": 5433, "cpu_percent": 30.0, "mem_mb": 512.0}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(add(pg, json!({"server_id": b})).await.status, StatusCode::CREATED);
    assert_eq!(
        add(pg, json!({"server_id": b})).await.status,
        StatusCode::CONFLICT,
        "no port counts as one value"
    );
    assert_eq!(add(redis, json!({"server_id": a, "port": 6379})).await.status, StatusCode::CREATED);
    let res = add(pg, json!({"server_id": 9999})).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("服务器不存在"))
    );
    let res = add(9999, json!({"server_id": a})).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("服务组不存在"))
    );
    for (body, loc) in [
        (json!({"port": 1}), "server_id"),
        (json!({"server_id": a, "port": 70000}), "port"),
        (json!({"server_id": a, "status": "weird"}), "status"),
        (json!({"server_id": a, "cpu_percent": -1}), "cpu_percent"),
    ] {
        let res = add(pg, body.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.first_loc()[1], loc);
    }

    // Counts and averages come from the members.
    let res = app.get("/api/v1/server-groups", Some(&admin)).await;
    assert_eq!(res.body["page_size"], 50);
    let pg_row =
        res.body["items"].as_array().unwrap().iter().find(|g| g["id"] == pg).unwrap().clone();
    assert_eq!(pg_row["server_count"], 2);
    let res = app.get("/api/v1/server-groups?category=cache", Some(&admin)).await;
    assert_eq!(
        (res.body["total"].as_i64(), res.body["items"][0]["name"].as_str()),
        (Some(1), Some("Redis"))
    );
    let res = app.get(&format!("/api/v1/servers/{a}"), Some(&admin)).await;
    assert_eq!(res.body["server"]["service_count"], 3);
    // cpu (10 + 30 + 0) / 3, memory (256 + 512 + 0) / 3
    assert_eq!(res.body["server"]["cpu_avg"], 13.33);
    assert_eq!(res.body["server"]["mem_avg"], 256.0);
    assert_eq!(res.body["services"].as_array().unwrap().len(), 3);
    let res = app.get(&format!("/api/v1/server-groups/{pg}"), Some(&admin)).await;
    let hosts: Vec<&str> = res.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["hostname"].as_str())
        .collect();
    assert_eq!(hosts, ["db-01", "db-02"]);
    assert_eq!(res.body["services"].as_array().unwrap().len(), 3);

    // Update, remove a member, delete a group.
    let res = app
        .put(
            &format!("/api/v1/server-groups/{redis}"),
            json!({"description": "cache tier"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (res.body["name"].as_str(), res.body["description"].as_str()),
        (Some("Redis"), Some("cache tier"))
    );
    assert_eq!(
        app.put(
            &format!("/api/v1/server-groups/{redis}"),
            json!({"name": "PostgreSQL"}),
            Some(&admin)
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let res = app.delete(&format!("/api/v1/server-groups/{pg}/servers/{a}"), Some(&admin)).await;
    assert_eq!((res.status, res.body["detail"].as_str()), (StatusCode::OK, Some("已移除")));
    let res = app.delete(&format!("/api/v1/server-groups/{pg}/servers/{a}"), Some(&admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("关联不存在"))
    );
    let res = app.delete(&format!("/api/v1/server-groups/{redis}"), Some(&admin)).await;
    assert_eq!(res.body["detail"], "服务组 'Redis' 已删除");
    let res = app.get(&format!("/api/v1/servers/{a}"), Some(&admin)).await;
    assert_eq!(
        (res.body["server"]["service_count"].as_i64(), res.body["server"]["cpu_avg"].clone()),
        (Some(0), Value::Null)
    );
    assert_eq!(
        app.delete(&format!("/api/v1/server-groups/{redis}"), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_server_named_like_an_agent_host_shows_the_host(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "web-01").await;
    let res = app
        .post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": 42.5}), Some(&agent))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    // The host's actor takes the report in the background.
    crate::support::wait_until("the host shows its metrics", || async {
        let h = app.get(&format!("/api/v1/hosts/{host}"), Some(&admin)).await;
        h.body["status"] == "online" && h.body["latest_metrics"]["cpu_percent"] == 42.5
    })
    .await;
    let id = create_server(&app, &admin, json!({"hostname": "web-01", "status": "offline"})).await;
    let res = app.get(&format!("/api/v1/servers/{id}"), Some(&admin)).await;
    assert_eq!(res.body["server"]["host_id"], host);
    assert_eq!(res.body["server"]["status"], "online", "the host's live status wins");
    assert_eq!(res.body["server"]["latest_metrics"]["cpu_percent"], 42.5);
    let res = app.get("/api/v1/servers?status=online", Some(&admin)).await;
    assert_eq!(res.body["total"], 1, "{}", res.text);
    let other = create_server(&app, &admin, json!({"hostname": "lonely"})).await;
    let res = app.get(&format!("/api/v1/servers/{other}"), Some(&admin)).await;
    assert_eq!(
        (res.body["server"]["host_id"].clone(), res.body["server"]["latest_metrics"].clone()),
        (Value::Null, Value::Null)
    );
}

/// Two agent hosts (web at 10.0.0.1, app at 10.0.0.2); returns (agent, web, app).
async fn two_hosts(app: &TestApp, admin: &str) -> (String, i64, i64) {
    let agent = app.agent_token(admin).await;
    let mut ids = Vec::new();
    for (name, ip) in [("web-01", "10.0.0.1"), ("app-01", "10.0.0.2")] {
        let res = app
            .post(
                "/api/v1/agent/register",
                json!({"hostname": name, "ip_address": ip, "os": "Linux"}),
                Some(&agent),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        ids.push(res.body["host_id"].as_i64().unwrap());
    }
    for id in &ids {
        crate::support::wait_until("the host is online", || async {
            app.get(&format!("/api/v1/hosts/{id}"), Some(admin)).await.body["status"] == "online"
        })
        .await;
    }
    (agent, ids[0], ids[1])
}

async fn agents_report_upstreams_that_link_servers(app: TestApp) {
    let admin = app.admin().await;
    let (agent, web, app_host) = two_hosts(&app, &admin).await;
    let report = |host: i64, ups: Value| {
        let app = &app;
        let agent = agent.clone();
        async move {
            app.post(
                "/api/v1/agent/nginx-upstreams",
                json!({"host_id": host, "upstreams": ups}),
                Some(&agent),
            )
            .await
        }
    };
    let res = report(
        web,
        json!([{"upstream_name": "orders", "backend_address": "10.0.0.2:8001", "weight": 2},
                                 {"upstream_name": "orders", "backend_address": "10.0.0.9:8001"}]),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["count"], 2);
    let web_server = res.body["server_id"].as_i64().unwrap();
    let res = report(app_host, json!([])).await;
    let app_server = res.body["server_id"].as_i64().unwrap();

    // A bad report changes nothing; another agent's host is refused.
    let res = report(web, json!([{"upstream_name": "x", "backend_address": "has space:1"}])).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let other = app.agent_token(&admin).await;
    let res = app
        .post(
            "/api/v1/agent/nginx-upstreams",
            json!({"host_id": web, "upstreams": []}),
            Some(&other),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app.get(&format!("/api/v1/servers/{web_server}"), Some(&admin)).await;
    assert_eq!(res.body["nginx_upstreams"].as_array().unwrap().len(), 2, "{}", res.text);
    assert_eq!(res.body["server"]["ip_address"], "10.0.0.1");
    assert_eq!(res.body["nginx_upstreams"][0]["weight"], 2);

    let res = app.get("/api/v1/topology/multi-server", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK);
    let edges = res.body["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{}", res.text);
    assert_eq!(edges[0]["from_server"], "web-01");
    assert_eq!(
        (edges[0]["to_server"].as_str(), edges[0]["to_id"].as_i64()),
        (Some("app-01"), Some(app_server))
    );
    assert_eq!(edges[0]["via"], "nginx_upstream");
    assert_eq!(
        (edges[1]["to_server"].as_str(), edges[1]["to_id"].clone()),
        (Some("10.0.0.9"), Value::Null)
    );
    assert_eq!(
        res.body["summary"],
        json!({"server_count": 2, "online_count": 2, "offline_count": 0, "service_group_count": 0, "edge_count": 2})
    );

    // A later report replaces the list.
    report(web, json!([{"upstream_name": "orders", "backend_address": "10.0.0.2:8001"}])).await;
    let res = app.get("/api/v1/topology/multi-server", Some(&admin)).await;
    assert_eq!(res.body["summary"]["edge_count"], 1);
}

fn edge_pairs(graph: &Value) -> Vec<(i64, i64)> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["source"].as_i64().unwrap(), e["target"].as_i64().unwrap()))
        .collect()
}

async fn the_graph_infers_edges_until_custom_dependencies_exist(app: TestApp) {
    let admin = app.admin().await;
    let (agent, web, app_host) = two_hosts(&app, &admin).await;
    let nginx = app.register_service(&agent, web, "nginx", "http", "http://127.0.0.1:80/").await;
    let orders = app
        .register_service(&agent, app_host, "orders-api", "http", "http://10.0.0.2:8001/health")
        .await;
    let pg = app.register_service(&agent, app_host, "orders-db", "tcp", "127.0.0.1:5432").await;
    let res = app
        .post(
            "/api/v1/agent/nginx-upstreams",
            json!({"host_id": web, "upstreams": [{"upstream_name": "orders", "backend_address": "10.0.0.2:8001"}]}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let graph = app.get("/api/v1/topology", Some(&admin)).await;
    assert_eq!(graph.status, StatusCode::OK, "{}", graph.text);
    assert_eq!(graph.body["has_custom_deps"], false);
    assert_eq!(graph.body["nodes"].as_array().unwrap().len(), 3);
    let node =
        graph.body["nodes"].as_array().unwrap().iter().find(|n| n["id"] == pg).unwrap().clone();
    assert_eq!((node["group"].as_str(), node["host"].as_str()), (Some("database"), Some("app-01")));
    assert_eq!(graph.body["hosts"].as_array().unwrap().len(), 2);
    let pairs = edge_pairs(&graph.body);
    assert!(pairs.contains(&(nginx, orders)), "nginx upstream edge: {}", graph.text);
    assert!(pairs.contains(&(orders, pg)), "same-host database edge: {}", graph.text);
    let up = graph.body["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == nginx)
        .unwrap()
        .clone();
    assert_eq!((up["via"].as_str(), up["manual"].as_bool()), (Some("nginx_upstream"), Some(false)));

    let res = app.post("/api/v1/topology/ai-suggest", json!({}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!((res.body["engine"].as_str(), res.body["total"].as_i64()), (Some("rules"), Some(2)));
    assert_eq!(res.body["message"], "分析了 3 个服务,推荐 2 条新依赖关系");

    // Custom dependencies: bad input first, nothing stored.
    let dep = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move { app.post("/api/v1/topology/dependencies", body, Some(&admin)).await }
    };
    let res = dep(json!({"source_service_id": orders, "target_service_id": orders})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = dep(json!({"source_service_id": orders, "target_service_id": 9999})).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("服务 9999 不存在"))
    );
    let res = dep(
        json!({"source_service_id": orders, "target_service_id": pg, "dependency_type": "likes"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/v1/topology", Some(&admin)).await.body["has_custom_deps"], false);

    let res = dep(
        json!({"source_service_id": nginx, "target_service_id": orders, "dependency_type": "calls",
                         "description": "API 调用"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let dep_id = res.body["id"].as_i64().unwrap();
    let res = dep(json!({"source_service_id": nginx, "target_service_id": orders})).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::CONFLICT, Some("依赖关系已存在"))
    );
    let graph = app.get("/api/v1/topology", Some(&admin)).await;
    assert_eq!(graph.body["has_custom_deps"], true);
    assert_eq!(edge_pairs(&graph.body), [(nginx, orders)], "custom edges replace inferred ones");
    assert_eq!(graph.body["edges"][0]["manual"], true);

    // Suggestions skip what exists; applying is all-or-nothing on bad items.
    let res = app.post("/api/v1/topology/ai-suggest", json!({}), Some(&admin)).await;
    assert_eq!(res.body["total"], 1);
    let bad = json!([{"source_service_id": orders, "target_service_id": pg},
                     {"source_service_id": pg, "target_service_id": pg}]);
    let res = app.post("/api/v1/topology/ai-suggest/apply", bad, Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.first_loc(), ["body", "1", "target_service_id"]);
    assert_eq!(edge_pairs(&app.get("/api/v1/topology", Some(&admin)).await.body).len(), 1);
    let good = json!([{"source_service_id": orders, "target_service_id": pg, "dependency_type": "depends_on"},
                      {"source_service_id": nginx, "target_service_id": orders}]);
    let res = app.post("/api/v1/topology/ai-suggest/apply", good, Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"detail": "已应用 1 条依赖关系", "created": 1}));

    // Viewers cannot edit; delete one, then clear all.
    let (_, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    assert_eq!(
        app.delete("/api/v1/topology/dependencies", Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/api/v1/topology", Some(&viewer)).await.status, StatusCode::OK);
    let res = app.delete(&format!("/api/v1/topology/dependencies/{dep_id}"), Some(&admin)).await;
    assert_eq!(res.body["detail"], "已删除");
    let res = app.delete(&format!("/api/v1/topology/dependencies/{dep_id}"), Some(&admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("依赖关系不存在"))
    );
    let res = app.delete("/api/v1/topology/dependencies", Some(&admin)).await;
    assert_eq!(
        (res.body["detail"].as_str(), res.body["deleted"].as_i64()),
        (Some("所有自定义依赖已清空"), Some(1))
    );
    let graph = app.get("/api/v1/topology", Some(&admin)).await;
    assert_eq!(graph.body["has_custom_deps"], false);
    assert_eq!(edge_pairs(&graph.body).len(), 2, "back to inferred edges");
}

async fn layouts_are_saved_per_user_and_name(app: TestApp) {
    let admin = app.admin().await;
    let (_, operator) = app.user_with_role(&admin, "op@example.com", "operator").await;
    assert_eq!(
        app.get("/api/v1/topology", Some(&admin)).await.body["saved_positions"],
        Value::Null
    );
    let positions = json!({"1": {"x": 100, "y": 200}, "2": {"x": 300.5, "y": -4}});
    let res = app
        .post(
            "/api/v1/topology/layout",
            json!({"name": "default", "positions": positions}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["detail"], "布局已保存");
    let res = app
        .post(
            "/api/v1/topology/layout",
            json!({"name": "ops", "positions": {"1": {"x": 1, "y": 1}}}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/topology", Some(&admin)).await.body["saved_positions"], positions);
    assert_eq!(
        app.get("/api/v1/topology?layout=ops", Some(&admin)).await.body["saved_positions"]["1"]
            ["x"],
        1
    );
    assert_eq!(
        app.get("/api/v1/topology", Some(&operator)).await.body["saved_positions"],
        Value::Null,
        "layouts are per user"
    );

    for body in [
        json!({"positions": {"1": {"x": "left", "y": 2}}}),
        json!({"positions": [1, 2]}),
        json!({"name": "", "positions": {}}),
        json!({"name": "x"}),
    ] {
        let res = app.post("/api/v1/topology/layout", body.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert_eq!(
        app.get("/api/v1/topology", Some(&admin)).await.body["saved_positions"],
        positions,
        "unchanged"
    );

    let res = app.delete("/api/v1/topology/layout", Some(&admin)).await;
    assert_eq!(res.body["detail"], "布局已重置");
    assert_eq!(
        app.get("/api/v1/topology", Some(&admin)).await.body["saved_positions"],
        Value::Null
    );
    assert_eq!(
        app.get("/api/v1/topology?layout=ops", Some(&admin)).await.body["saved_positions"]["1"]
            ["y"],
        1
    );
}

async fn legacy_topology_views_answer(app: TestApp) {
    let admin = app.admin().await;
    let res = app
        .post(
            "/api/v1/topology/servers",
            json!({"hostname": "lb-01", "ip_address": "10.0.0.10",
                   "nginx_upstreams": [{"upstream_name": "web", "backend_address": "10.0.0.11:80"}]}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let id = res.body["id"].as_i64().unwrap();
    let group = create_group(&app, &admin, "Nginx", "web").await;
    app.post(
        &format!("/api/v1/server-groups/{group}/servers"),
        json!({"server_id": id, "port": 80, "pid": 7}),
        Some(&admin),
    )
    .await;
    let list = app.get("/api/v1/topology/servers", Some(&admin)).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["service_count"], 1);
    let detail = app.get(&format!("/api/v1/topology/servers/{id}"), Some(&admin)).await;
    assert_eq!(detail.body["upstreams"][0]["upstream_name"], "web");
    assert_eq!(detail.body["services"][0]["group_name"], "Nginx");
    let groups = app.get("/api/v1/topology/service-groups", Some(&admin)).await;
    assert_eq!(groups.body[0]["servers"][0]["hostname"], "lb-01");
    assert_eq!(
        (
            groups.body[0]["servers"][0]["port"].as_i64(),
            groups.body[0]["servers"][0]["pid"].as_i64()
        ),
        (Some(80), Some(7))
    );
    let res = app.delete(&format!("/api/v1/topology/servers/{id}"), Some(&admin)).await;
    assert_eq!((res.status, res.body["detail"].as_str()), (StatusCode::OK, Some("已删除")));
    assert_eq!(
        app.get(&format!("/api/v1/topology/servers/{id}"), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/topology/service-groups", Some(&admin)).await.body[0]["servers"],
        json!([])
    );
}
