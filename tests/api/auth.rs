//! Registration, login, refresh, me; token expiry, rotation and invalidation; login
//! throttling.

use reqwest::StatusCode;
use serde_json::json;
use warden::auth::{Claims, TokenKind, TokenService};

use crate::support::{tokens, TestApp, JWT_SECRET};

crate::backend_tests!(
    first_user_becomes_admin_and_later_users_are_viewers,
    register_rejects_bad_input_with_422_naming_the_field,
    register_rejects_duplicate_email_with_409,
    login_checks_credentials_and_account_state,
    refresh_rotates_the_pair_and_the_old_refresh_token_stops_working,
    access_tokens_are_checked_for_presence_signature_expiry_and_kind,
    disabling_or_resetting_password_invalidates_existing_tokens,
    repeated_login_failures_are_throttled_per_email_and_address,
    closed_registration_refuses_self_registration_but_not_the_first_user,
);

async fn first_user_becomes_admin_and_later_users_are_viewers(app: TestApp) {
    let (admin, _) = app.register("first@example.com", "password-1").await;
    let me = app.get("/api/v1/auth/me", Some(&admin)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "first@example.com");
    assert_eq!(me.body["name"], "Test User");
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["is_active"], true);
    assert!(me.body["id"].as_i64().is_some());
    assert!(me.body.get("hashed_password").is_none());

    let (viewer, _) = app.register("Second@Example.com", "password-2").await;
    let me = app.get("/api/v1/auth/me", Some(&viewer)).await;
    assert_eq!(me.body["role"], "viewer");
    assert_eq!(me.body["email"], "second@example.com", "emails are stored lower-case");
}

async fn register_rejects_bad_input_with_422_naming_the_field(app: TestApp) {
    let cases = [
        (json!({"email": "not-an-email", "name": "x", "password": "long-enough"}), "email"),
        (json!({"email": "a@example.com", "name": "x", "password": "short"}), "password"),
        (json!({"email": "a@example.com", "name": "   ", "password": "long-enough"}), "name"),
        (json!({"email": "a@example.com", "name": "x"}), "password"),
        (json!({"email": 42, "name": "x", "password": "long-enough"}), "email"),
    ];
    for (body, field) in cases {
        let res = app.post("/api/v1/auth/register", body.clone(), None).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.text);
        assert_eq!(res.first_loc(), ["body", field], "{body}: {}", res.text);
        assert!(res.body["detail"][0]["msg"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let res = app.post_raw("/api/v1/auth/register", "{\"email\": ", None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.body["detail"][0]["type"], "json_invalid");
    let res = app.post_raw("/api/v1/auth/register", "", None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body"]);

    // Nothing was created by any of the above: the next registration is the first.
    let (token, _) = app.register("a@example.com", "long-enough").await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.body["role"], "admin");
}

async fn register_rejects_duplicate_email_with_409(app: TestApp) {
    app.register("dup@example.com", "password-1").await;
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "DUP@example.com", "name": "x", "password": "password-2"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.body["detail"], "Email already registered");
}

async fn login_checks_credentials_and_account_state(app: TestApp) {
    let admin = app.admin().await;
    let (id, _) = app.user_with_role(&admin, "op@example.com", "operator").await;

    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "op@example.com", "password": "wrong-password"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["detail"], "Invalid credentials");
    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "nobody@example.com", "password": "whatever1"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["detail"], "Invalid credentials");

    let (access, refresh) = app.login("OP@example.com", "user-password").await;
    assert_ne!(access, refresh);
    assert_eq!(app.get("/api/v1/auth/me", Some(&access)).await.body["role"], "operator");

    let res =
        app.put(&format!("/api/v1/users/{id}"), json!({"is_active": false}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "op@example.com", "password": "user-password"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.body["detail"], "Account disabled");
}

async fn refresh_rotates_the_pair_and_the_old_refresh_token_stops_working(app: TestApp) {
    let (access, refresh) = app.register("r@example.com", "password-1").await;
    let res = app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let (new_access, new_refresh) = tokens(&res);
    assert_ne!(new_refresh, refresh);
    assert_eq!(app.get("/api/v1/auth/me", Some(&new_access)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/auth/me", Some(&access)).await.status, StatusCode::OK);

    let again = app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}), None).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.body["detail"], "Invalid refresh token");

    // An access token is not a refresh token, and garbage is rejected.
    for bad in [new_access.as_str(), "garbage"] {
        let res = app.post("/api/v1/auth/refresh", json!({"refresh_token": bad}), None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = app.post("/api/v1/auth/refresh", json!({}), None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "refresh_token"]);

    // The rotated token still works once.
    let res = app.post("/api/v1/auth/refresh", json!({"refresh_token": new_refresh}), None).await;
    assert_eq!(res.status, StatusCode::OK);
}

async fn access_tokens_are_checked_for_presence_signature_expiry_and_kind(app: TestApp) {
    let (_, refresh) = app.register("t@example.com", "password-1").await;
    let res = app.get("/api/v1/auth/me", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["detail"], "Not authenticated");

    let res = app.get("/api/v1/auth/me", Some("not-a-token")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["detail"], "Invalid token");

    let res = app.get("/api/v1/auth/me", Some(&refresh)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "a refresh token is not an access token");

    let svc =
        TokenService::new(JWT_SECRET, chrono::Duration::minutes(30), chrono::Duration::days(7));
    let now = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap().timestamp();
    let expired = svc.sign_claims(&Claims {
        sub: "1".into(),
        kind: TokenKind::Access,
        exp: now + 60,
        iat: now,
        ver: 0,
        jti: "x".into(),
    });
    let res = app.get("/api/v1/auth/me", Some(&expired)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["detail"], "Invalid token");

    let forged = TokenService::new(
        &"f".repeat(40),
        chrono::Duration::minutes(30),
        chrono::Duration::days(7),
    );
    let (pair, _) =
        forged.issue(1, 0, chrono::DateTime::from_timestamp(4_000_000_000 - 3600, 0).unwrap());
    let res = app.get("/api/v1/auth/me", Some(&pair.access_token)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

async fn disabling_or_resetting_password_invalidates_existing_tokens(app: TestApp) {
    let admin = app.admin().await;
    let (id, token) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    let (_, refresh) = app.login("v@example.com", "user-password").await;

    let res = app
        .put(
            &format!("/api/v1/users/{id}/password"),
            json!({"new_password": "brand-new-pw"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"status": "ok"}));
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
    let res = app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}), None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "v@example.com", "password": "user-password"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "the old password no longer works");

    let (token, _) = app.login("v@example.com", "brand-new-pw").await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, StatusCode::OK);
    app.put(&format!("/api/v1/users/{id}"), json!({"is_active": false}), Some(&admin)).await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED);

    // Re-enabling does not revive tokens issued before the user was disabled.
    app.put(&format!("/api/v1/users/{id}"), json!({"is_active": true}), Some(&admin)).await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
    app.login("v@example.com", "brand-new-pw").await;

    // Deleting the user ends their sessions too.
    let (token, _) = app.login("v@example.com", "brand-new-pw").await;
    assert_eq!(
        app.delete(&format!("/api/v1/users/{id}"), Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
}

async fn repeated_login_failures_are_throttled_per_email_and_address(app: TestApp) {
    app.register("victim@example.com", "right-password").await;
    app.register("other@example.com", "right-password").await;
    let wrong = json!({"email": "victim@example.com", "password": "wrong-password"});
    for i in 0..10 {
        let res = app.post("/api/v1/auth/login", wrong.clone(), None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "victim@example.com", "password": "right-password"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text);
    let retry: u64 = res.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert!(res.body["detail"].as_str().unwrap().contains("Too many failed login attempts"));

    // Another account from the same address is not affected.
    app.login("other@example.com", "right-password").await;

    let failures = app.get("/api/v1/audit-logs?action=login_failed&page_size=100", None).await;
    assert_eq!(failures.status, StatusCode::UNAUTHORIZED);
}

async fn closed_registration_refuses_self_registration_but_not_the_first_user(app: TestApp) {
    let admin = app.admin().await;
    let res =
        app.put("/api/v1/settings", json!({"registration_enabled": "false"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "late@example.com", "name": "x", "password": "password-1"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body["detail"].as_str().unwrap().contains("registration is disabled"));
    // Admins can still create users.
    app.user_with_role(&admin, "late@example.com", "viewer").await;
    app.put("/api/v1/settings", json!({"registration_enabled": true}), Some(&admin)).await;
    app.register("later@example.com", "password-1").await;
}
