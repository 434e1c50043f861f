//! Agent tokens: created once in full, listed by prefix, revoked softly, and checked
//! by the agent extractor (both header styles).

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use reqwest::StatusCode;
use serde_json::json;
use tower::ServiceExt;
use warden::http::extract::AgentAuth;

use crate::support::TestApp;

crate::backend_tests!(
    tokens_are_shown_once_and_listed_by_prefix,
    agent_token_routes_are_admin_only,
    agent_extractor_accepts_both_header_styles_and_rejects_revoked_tokens,
);

async fn tokens_are_shown_once_and_listed_by_prefix(app: TestApp) {
    let admin = app.admin().await;
    let res =
        app.post("/api/v1/agent-tokens", json!({"name": "Production Agent"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let token = res.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("vop_") && token.len() == 52);
    assert_eq!(res.body["token_prefix"], &token[..8]);
    assert_eq!(res.body["name"], "Production Agent");
    assert_eq!(res.body["is_active"], true);
    assert!(res.body["created_by"].as_i64().is_some());
    assert!(res.body["created_at"].as_str().is_some());
    let id = res.body["id"].as_i64().unwrap();

    app.post("/api/v1/agent-tokens", json!({"name": "Second"}), Some(&admin)).await;
    let list = app.get("/api/v1/agent-tokens", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "Second", "newest first");
    assert!(items.iter().all(|t| t.get("token").is_none()), "{}", list.text);
    assert!(!list.text.contains(&token[8..]), "the secret part never appears again");

    assert_eq!(
        app.delete(&format!("/api/v1/agent-tokens/{id}"), Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    let list = app.get("/api/v1/agent-tokens", Some(&admin)).await;
    let revoked = list.body.as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(revoked["is_active"], false, "revocation is soft");

    let res = app.delete("/api/v1/agent-tokens/9999", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["detail"], "Token not found");
    let res = app.post("/api/v1/agent-tokens", json!({"name": ""}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "name"]);
}

async fn agent_token_routes_are_admin_only(app: TestApp) {
    let admin = app.admin().await;
    let (_, operator) = app.user_with_role(&admin, "o@example.com", "operator").await;
    let res = app.post("/api/v1/agent-tokens", json!({"name": "x"}), Some(&operator)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/agent-tokens", Some(&operator)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete("/api/v1/agent-tokens/1", Some(&operator)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/api/v1/agent-tokens", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/agent-tokens", Some(&admin)).await.body, json!([]));
}

/// A probe route using the agent extractor over the real state (store, caches).
async fn probe(app: &TestApp, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let router = Router::new()
        .route("/probe", get(|a: AgentAuth| async move { a.token_id.to_string() }))
        .with_state(app.state.clone());
    let mut req = Request::get("/probe");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn agent_extractor_accepts_both_header_styles_and_rejects_revoked_tokens(app: TestApp) {
    let admin = app.admin().await;
    let res = app.post("/api/v1/agent-tokens", json!({"name": "agent"}), Some(&admin)).await;
    let token = res.body["token"].as_str().unwrap().to_string();
    let id = res.body["id"].as_i64().unwrap();

    let (status, body) = probe(&app, &[("x-agent-token", &token)]).await;
    assert_eq!((status, body), (StatusCode::OK, id.to_string()));
    let bearer = format!("Bearer {token}");
    let (status, _) = probe(&app, &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = probe(&app, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Missing agent token"), "{body}");
    let (status, body) = probe(&app, &[("x-agent-token", "vop_0000")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Invalid or revoked agent token"), "{body}");

    // last_used_at is recorded (off the request path).
    crate::support::wait_until("last_used_at is set", || async {
        let list = app.get("/api/v1/agent-tokens", Some(&admin)).await;
        list.body[0]["last_used_at"].is_string()
    })
    .await;

    // Revoked: rejected on the very next request, although it was cached.
    app.delete(&format!("/api/v1/agent-tokens/{id}"), Some(&admin)).await;
    let (status, body) = probe(&app, &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Invalid or revoked agent token"), "{body}");
}
