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
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "big@example.com", "name": big, "password": "password-1"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body["detail"].as_str().unwrap().contains("larger than"));
    // The registration did not happen: this one is the first user.
    let (token, _) = app.register("big@example.com", "password-1").await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.body["role"], "admin");
}

/// Every route the router serves, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
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
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/status"),
];

async fn openapi_documents_every_route(app: TestApp) {
    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in ROUTES {
        assert!(res.body["paths"][path][method].is_object(), "{method} {path} is not documented");
        // And the route really exists (anything but 404/405 proves it is routed).
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let concrete = path.replace("{id}", "1");
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
