//! User management and the role boundaries around it.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

crate::backend_tests!(
    admin_creates_lists_reads_updates_and_deletes_users,
    user_routes_are_admin_only,
    user_input_errors_are_clear_and_change_nothing,
    the_last_active_admin_cannot_be_removed,
    admin_cannot_delete_themselves,
);

async fn admin_creates_lists_reads_updates_and_deletes_users(app: TestApp) {
    let admin = app.admin().await;
    let res = app
        .post(
            "/api/v1/users",
            json!({"email": "li@example.com", "name": "李四", "password": "password123", "role": "operator"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["name"], "李四");
    assert_eq!(res.body["role"], "operator");
    assert_eq!(res.body["is_active"], true);
    let id = res.body["id"].as_i64().unwrap();

    for i in 0..3 {
        app.user_with_role(&admin, &format!("u{i}@example.com"), "viewer").await;
    }
    let list = app.get("/api/v1/users?page=2&page_size=2", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 5);
    assert_eq!(list.body["page"], 2);
    assert_eq!(list.body["page_size"], 2);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let default = app.get("/api/v1/users", Some(&admin)).await;
    assert_eq!(default.body["page_size"], 20);
    assert_eq!(default.body["items"][0]["role"], "admin");

    let one = app.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(one.body["email"], "li@example.com");

    let res =
        app.put(&format!("/api/v1/users/{id}"), json!({"name": "新名字"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["name"], "新名字");
    assert_eq!(res.body["role"], "operator", "partial update keeps other fields");
    let res = app
        .put(
            &format!("/api/v1/users/{id}"),
            json!({"role": "viewer", "is_active": false}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.body["role"], "viewer");
    assert_eq!(res.body["is_active"], false);

    assert_eq!(
        app.delete(&format!("/api/v1/users/{id}"), Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = app.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["detail"], "用户不存在");
    assert_eq!(
        app.delete(&format!("/api/v1/users/{id}"), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn user_routes_are_admin_only(app: TestApp) {
    let admin = app.admin().await;
    let (viewer_id, viewer) = app.user_with_role(&admin, "v@example.com", "viewer").await;
    let (_, operator) = app.user_with_role(&admin, "o@example.com", "operator").await;
    for token in [&viewer, &operator] {
        let res = app.get("/api/v1/users", Some(token)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert_eq!(res.body["detail"], "权限不足");
        let res = app
            .post(
                "/api/v1/users",
                json!({"email": "x@example.com", "name": "x", "password": "password1"}),
                Some(token),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let res = app
            .put(&format!("/api/v1/users/{viewer_id}"), json!({"role": "admin"}), Some(token))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let res = app
            .put(
                &format!("/api/v1/users/{viewer_id}/password"),
                json!({"new_password": "password1"}),
                Some(token),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert_eq!(
            app.delete(&format!("/api/v1/users/{viewer_id}"), Some(token)).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(app.get("/api/v1/users", None).await.status, StatusCode::UNAUTHORIZED);
    // The viewer was not promoted by any of the refused requests.
    assert_eq!(
        app.get(&format!("/api/v1/users/{viewer_id}"), Some(&admin)).await.body["role"],
        "viewer"
    );
}

async fn user_input_errors_are_clear_and_change_nothing(app: TestApp) {
    let admin = app.admin().await;
    let res = app
        .post(
            "/api/v1/users",
            json!({"email": "x@example.com", "name": "x", "password": "password1", "role": "root"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["detail"], "角色必须为 admin / operator / viewer");
    let res = app
        .post(
            "/api/v1/users",
            json!({"email": "admin@example.com", "name": "x", "password": "password1"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.body["detail"], "邮箱已被注册");
    let res = app
        .post(
            "/api/v1/users",
            json!({"email": "y@example.com", "name": "y", "password": "short"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "password"]);

    for (q, field) in [("page_size=101", "page_size"), ("page=0", "page"), ("page=abc", "page")] {
        let res = app.get(&format!("/api/v1/users?{q}"), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(res.first_loc(), ["query", field], "{q}");
    }
    let res = app.get("/api/v1/users/abc", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["path", "id"]);
    let res = app.put("/api/v1/users/1", json!({"is_active": "maybe"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "is_active"]);
    let res = app.put("/api/v1/users/999", json!({"name": "x"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .put("/api/v1/users/999/password", json!({"new_password": "password1"}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res =
        app.put("/api/v1/users/1/password", json!({"new_password": "short"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "new_password"]);

    let list = app.get("/api/v1/users", Some(&admin)).await;
    assert_eq!(list.body["total"], 1, "no bad request created a user");
}

async fn the_last_active_admin_cannot_be_removed(app: TestApp) {
    let admin = app.admin().await;
    let me = app.get("/api/v1/auth/me", Some(&admin)).await.body["id"].as_i64().unwrap();
    for change in [json!({"role": "operator"}), json!({"is_active": false})] {
        let res = app.put(&format!("/api/v1/users/{me}"), change.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{change}");
        assert!(res.body["detail"].as_str().unwrap().contains("last active admin"));
    }
    assert_eq!(app.get("/api/v1/auth/me", Some(&admin)).await.body["role"], "admin");

    // With a second admin, the first may step down; then the second is the last one.
    let (second_id, second) = app.user_with_role(&admin, "second@example.com", "admin").await;
    let res =
        app.put(&format!("/api/v1/users/{me}"), json!({"role": "viewer"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .put(&format!("/api/v1/users/{second_id}"), json!({"role": "viewer"}), Some(&second))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let res = app.delete(&format!("/api/v1/users/{me}"), Some(&second)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "deleting a non-admin is fine");
}

async fn admin_cannot_delete_themselves(app: TestApp) {
    let admin = app.admin().await;
    let me = app.get("/api/v1/auth/me", Some(&admin)).await.body["id"].as_i64().unwrap();
    let res = app.delete(&format!("/api/v1/users/{me}"), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["detail"], "不能删除自己");
}
