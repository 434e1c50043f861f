//! API hygiene: error shapes of both families, 404/405/413, and the OpenAPI document.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

crate::backend_tests!(
    unknown_routes_and_methods_answer_in_each_familys_shape,
    oversized_bodies_get_413_and_change_nothing,
    openapi_documents_every_route,
);

async fn unknown_routes_and_methods_answer_in_each_familys_shape(app: TestApp) {
    let res = app.get("/api/v1/does-not-exist", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body, json!({"detail": "Not Found"}));

    let res = app.get("/api/does-not-exist", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["success"], false);
    assert_eq!(res.body["error"]["code"], "NOT_FOUND");

    let res = app.delete("/api/v1/auth/login", None).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.body, json!({"detail": "Method Not Allowed"}));

    let res = app.post("/healthz", json!({}), None).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.body["error"]["code"], "METHOD_NOT_ALLOWED");
}

async fn oversized_bodies_get_413_and_change_nothing(app: TestApp) {
    let big = "x".repeat(2 * 1024 * 1024);
    let body = json!({"email": "big@example.com", "name": big, "password": "password-1"});
    // The server answers 413 without reading the rest of the body; the kernel may then
    // reset the connection before the client reads the answer, so a reset is retried.
    let mut answer = None;
    for _ in 0..5 {
        // Its own client: the connection the server drops must not go back to the pool
        // the next requests use.
        let sent =
            reqwest::Client::new().post(app.url("/api/v1/auth/register")).json(&body).send().await;
        if let Ok(res) = sent {
            let status = res.status();
            if let Ok(text) = res.text().await {
                answer = Some((status, text));
                break;
            }
        }
    }
    let (status, text) = answer.expect("an answer within five attempts");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text.contains("larger than"), "{text}");
    // The registration did not happen: this one is the first user.
    let (token, _) = app.register("big@example.com", "password-1").await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.body["role"], "admin");
}

/// Every route the router serves, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/ai/analyze-logs"),
    ("get", "/api/v1/ai/insights"),
    ("put", "/api/v1/ai/insights/{id}"),
    ("post", "/api/v1/ai/chat"),
    ("post", "/api/v1/ai/root-cause"),
    ("get", "/api/v1/ai/system-summary"),
    ("post", "/api/v1/ai/generate-runbook"),
    ("get", "/api/v1/reports"),
    ("post", "/api/v1/reports/generate"),
    ("get", "/api/v1/reports/{id}"),
    ("delete", "/api/v1/reports/{id}"),
    ("get", "/api/v1/sla/rules"),
    ("post", "/api/v1/sla/rules"),
    ("delete", "/api/v1/sla/rules/{id}"),
    ("get", "/api/v1/sla/status"),
    ("get", "/api/v1/sla/violations"),
    ("get", "/api/v1/sla/report"),
    ("get", "/api/v1/servers"),
    ("post", "/api/v1/servers"),
    ("get", "/api/v1/servers/{id}"),
    ("put", "/api/v1/servers/{id}"),
    ("delete", "/api/v1/servers/{id}"),
    ("get", "/api/v1/server-groups"),
    ("post", "/api/v1/server-groups"),
    ("get", "/api/v1/server-groups/{id}"),
    ("put", "/api/v1/server-groups/{id}"),
    ("delete", "/api/v1/server-groups/{id}"),
    ("post", "/api/v1/server-groups/{id}/servers"),
    ("delete", "/api/v1/server-groups/{id}/servers/{server_id}"),
    ("post", "/api/v1/agent/nginx-upstreams"),
    ("get", "/api/v1/topology"),
    ("post", "/api/v1/topology/layout"),
    ("delete", "/api/v1/topology/layout"),
    ("post", "/api/v1/topology/dependencies"),
    ("delete", "/api/v1/topology/dependencies"),
    ("delete", "/api/v1/topology/dependencies/{id}"),
    ("post", "/api/v1/topology/ai-suggest"),
    ("post", "/api/v1/topology/ai-suggest/apply"),
    ("get", "/api/v1/topology/multi-server"),
    ("get", "/api/v1/topology/servers"),
    ("post", "/api/v1/topology/servers"),
    ("get", "/api/v1/topology/servers/{id}"),
    ("delete", "/api/v1/topology/servers/{id}"),
    ("get", "/api/v1/topology/service-groups"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("put", "/api/v1/users/{id}"),
    ("delete", "/api/v1/users/{id}"),
    ("put", "/api/v1/users/{id}/password"),
    ("get", "/api/v1/agent-tokens"),
    ("post", "/api/v1/agent-tokens"),
    ("delete", "/api/v1/agent-tokens/{id}"),
    ("get", "/api/v1/settings"),
    ("put", "/api/v1/settings"),
    ("get", "/api/v1/audit-logs"),
    ("post", "/api/v1/agent/register"),
    ("post", "/api/v1/agent/heartbeat"),
    ("post", "/api/v1/agent/metrics"),
    ("post", "/api/v1/agent/services/register"),
    ("post", "/api/v1/agent/services"),
    ("post", "/api/v1/agent/db-metrics"),
    ("post", "/api/v1/agent/logs"),
    ("get", "/api/v1/agent/db-targets"),
    ("get", "/api/v1/agent/ws/{host_id}"),
    ("get", "/api/v1/hosts"),
    ("get", "/api/v1/hosts/{id}"),
    ("get", "/api/v1/hosts/{id}/metrics"),
    ("get", "/api/v1/services"),
    ("get", "/api/v1/services/{id}"),
    ("get", "/api/v1/services/{id}/checks"),
    ("get", "/api/v1/databases"),
    ("get", "/api/v1/databases/{id}"),
    ("get", "/api/v1/databases/{id}/slow-queries"),
    ("get", "/api/v1/databases/{id}/metrics"),
    ("get", "/api/v1/databases/targets"),
    ("post", "/api/v1/databases/targets"),
    ("put", "/api/v1/databases/targets/{id}"),
    ("delete", "/api/v1/databases/targets/{id}"),
    ("get", "/api/v1/logs"),
    ("get", "/api/v1/logs/stats"),
    ("get", "/ws/logs"),
    ("get", "/api/v1/dashboard/trends"),
    ("get", "/api/v1/ws/dashboard"),
    ("get", "/api/v1/alerts"),
    ("get", "/api/v1/alerts/{id}"),
    ("post", "/api/v1/alerts/{id}/ack"),
    ("get", "/api/v1/alert-rules"),
    ("post", "/api/v1/alert-rules"),
    ("get", "/api/v1/alert-rules/{id}"),
    ("put", "/api/v1/alert-rules/{id}"),
    ("delete", "/api/v1/alert-rules/{id}"),
    ("post", "/api/v1/webhooks/alertmanager"),
    ("get", "/api/v1/demo/alerts/stream"),
    ("get", "/api/v1/notification-channels"),
    ("post", "/api/v1/notification-channels"),
    ("get", "/api/v1/notification-channels/logs"),
    ("put", "/api/v1/notification-channels/{id}"),
    ("delete", "/api/v1/notification-channels/{id}"),
    ("post", "/api/v1/notification-channels/{id}/test"),
    ("get", "/api/v1/notification-templates"),
    ("post", "/api/v1/notification-templates"),
    ("put", "/api/v1/notification-templates/{id}"),
    ("delete", "/api/v1/notification-templates/{id}"),
    ("post", "/api/v1/alerts/{id}/remediate"),
    ("get", "/api/v1/remediations"),
    ("get", "/api/v1/remediations/stats"),
    ("get", "/api/v1/remediations/{id}"),
    ("post", "/api/v1/remediations/{id}/approve"),
    ("post", "/api/v1/remediations/{id}/reject"),
    ("get", "/api/v1/runbooks"),
    ("get", "/api/v1/runbooks/custom"),
    ("post", "/api/v1/runbooks/custom"),
    ("put", "/api/v1/runbooks/custom/{id}"),
    ("delete", "/api/v1/runbooks/custom/{id}"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/status"),
    ("get", "/api/incidents"),
    ("get", "/api/incidents/{id}"),
    ("get", "/api/incidents/{id}/events"),
    ("post", "/api/alert"),
    ("get", "/api/events"),
    ("post", "/lark/event"),
    ("get", "/api/config"),
    ("put", "/api/config"),
    ("get", "/api/plugins"),
    ("get", "/api/plugins/{name}"),
    ("get", "/api/knowledge"),
    ("post", "/api/knowledge"),
    ("get", "/api/knowledge/{id}"),
    ("put", "/api/knowledge/{id}"),
    ("delete", "/api/knowledge/{id}"),
    ("get", "/api/environment-context"),
    ("put", "/api/environment-context"),
    ("post", "/lark/card/action"),
];

async fn openapi_documents_every_route(app: TestApp) {
    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in ROUTES {
        assert!(res.body["paths"][path][method].is_object(), "{method} {path} is not documented");
        // An event stream never ends: its own test reads it.
        if path.ends_with("/stream") {
            continue;
        }
        // And the route really exists (anything but 404/405 proves it is routed).
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let concrete = path
            .replace("{id}", "1")
            .replace("{host_id}", "1")
            .replace("{server_id}", "1")
            .replace("{name}", "search_logs");
        let r = app.call(m, &concrete, None, None).await;
        assert!(
            r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED
                || r.body.get("detail").is_some_and(|d| d != "Not Found"),
            "{method} {path} is documented but not routed: {}",
            r.status
        );
    }
    let documented: usize =
        res.body["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.len(), "the document lists routes that are not in ROUTES");
}

crate::backend_tests!(websocket_routes_answer_plain_requests_with_json);

async fn websocket_routes_answer_plain_requests_with_json(app: TestApp) {
    for path in ["/api/v1/ws/dashboard", "/ws/logs", "/api/v1/agent/ws/1"] {
        let res = app.get(path, None).await;
        assert!(res.status.is_client_error(), "{path}: {}", res.status);
        assert!(
            res.body["detail"].as_str().unwrap().contains("WebSocket upgrade"),
            "{path}: {}",
            res.text
        );
    }
}
