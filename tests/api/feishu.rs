//! Feishu callbacks: configuration required, URL verification (plain and encrypted),
//! signatures (good, bad, stale), alert-bot messages becoming incidents once per event
//! id, and card buttons approving runs as mapped operators, idempotently.

use reqwest::StatusCode;
use serde_json::{json, Value};
use warden::integrations::feishu::{sha1_signature, sha256_signature};
use warden_actors::clock::{Clock, SystemClock};

use crate::support::{wait_until, Backend, TestApp};

crate::backend_cases!(
    callbacks_answer_503_until_configured,
    url_verification_and_signatures,
    alert_bot_messages_open_incidents_once,
    card_buttons_decide_runs_for_mapped_operators,
);

const TOKEN: &str = "warden-verification-token-0001";
const KEY: &str = "warden-encrypt-key-0001";
const BOT: &str = "cli_alert_bot";
const V4: &str = "AAECAwQFBgcICQoLDA0OD6n1Cmj6fnhd+va/txPhZSYU+1p56GJ6nOlDHBrkXSRKUhGjdnZR3j0pZE6YTwI6gb7soLxSjBGH1BHrTLJznPOZwbyLMG9kL6WDwWv4OEPLKAl3zoQXo3SypVfaNjKIcQ==";

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[
            ("FEISHU_VERIFICATION_TOKEN", TOKEN),
            ("FEISHU_ENCRYPT_KEY", KEY),
            ("FEISHU_ALERT_BOT_IDS", BOT),
        ],
    )
    .await
}

fn now() -> String {
    SystemClock.now().timestamp().to_string()
}

enum Sign {
    Sha256,
    Sha1,
    Bad,
    Stale,
    None,
}

async fn post(app: &TestApp, path: &str, body: &str, sign: Sign) -> (StatusCode, Value) {
    let ts = if matches!(sign, Sign::Stale) { "1700000000".to_string() } else { now() };
    let nonce = "n0nce";
    let signature = match sign {
        Sign::Sha256 | Sign::Stale => Some(sha256_signature(&ts, nonce, KEY, body.as_bytes())),
        Sign::Sha1 => Some(sha1_signature(&ts, nonce, TOKEN, body.as_bytes())),
        Sign::Bad => Some("0".repeat(64)),
        Sign::None => None,
    };
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("X-Lark-Request-Timestamp", &ts)
        .header("X-Lark-Request-Nonce", nonce);
    if let Some(signature) = signature {
        req = req.header("X-Lark-Signature", signature);
    }
    let res = req.body(body.to_string()).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn message_event(event_id: &str, sender: &str, text: &str) -> String {
    json!({"schema": "2.0", "header": {"event_id": event_id, "event_type": "im.message.receive_v1",
        "create_time": "1700000000000", "token": TOKEN, "app_id": "cli_warden"},
      "event": {"sender": {"sender_id": {"open_id": sender, "union_id": "on_x"}, "sender_type": "user"},
        "message": {"message_id": format!("om_{event_id}"), "chat_id": "oc_ops", "chat_type": "group",
          "message_type": "text", "content": json!({"text": format!("@_user_1 {text}")}).to_string()}}})
    .to_string()
}

async fn callbacks_answer_503_until_configured(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for path in ["/lark/event", "/lark/card/action"] {
        let (status, body) = post(
            &app,
            path,
            r#"{"type":"url_verification","challenge":"c","token":"t"}"#,
            Sign::None,
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        assert!(body["error"]["message"].as_str().unwrap().contains("FEISHU_VERIFICATION_TOKEN"));
    }
}

async fn url_verification_and_signatures(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let plain = json!({"challenge": "c-1", "token": TOKEN, "type": "url_verification"}).to_string();
    assert_eq!(
        post(&app, "/lark/event", &plain, Sign::None).await,
        (StatusCode::OK, json!({"challenge": "c-1"}))
    );
    let wrong =
        json!({"challenge": "c-1", "token": "nope", "type": "url_verification"}).to_string();
    assert_eq!(post(&app, "/lark/event", &wrong, Sign::None).await.0, StatusCode::UNAUTHORIZED);
    let encrypted = format!(r#"{{"encrypt":"{V4}"}}"#);
    assert_eq!(
        post(&app, "/lark/event", &encrypted, Sign::None).await,
        (StatusCode::OK, json!({"challenge": "ch-7f3a"}))
    );
    let garbled = r#"{"encrypt":"AAECAwQFBgcICQoLDA0OD6n1"}"#;
    assert_eq!(post(&app, "/lark/event", garbled, Sign::None).await.0, StatusCode::BAD_REQUEST);

    let event = message_event("ev-sig", "ou_someone", "hello");
    assert_eq!(
        post(&app, "/lark/event", &event, Sign::Sha256).await,
        (StatusCode::OK, json!({"msg": "success"}))
    );
    for sign in [Sign::Bad, Sign::Stale, Sign::None] {
        let (status, body) =
            post(&app, "/lark/event", &message_event("ev-bad", "ou_x", "x"), sign).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["success"], false);
    }
    let mut forged: Value = serde_json::from_str(&message_event("ev-token", "ou_x", "x")).unwrap();
    forged["header"]["token"] = json!("forged");
    assert_eq!(
        post(&app, "/lark/event", &forged.to_string(), Sign::Sha256).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn alert_bot_messages_open_incidents_once(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let text = "[告警] 订单服务 5xx 激增\n服务: order-service\n级别: P0";
    for _ in 0..2 {
        // The same event delivered twice (a Feishu retry) is processed once.
        assert_eq!(
            post(&app, "/lark/event", &message_event("ev-1", BOT, text), Sign::Sha256).await.0,
            StatusCode::OK
        );
    }
    // Someone else's message is not an alert.
    post(
        &app,
        "/lark/event",
        &message_event("ev-2", "ou_human", "[告警] not from the bot"),
        Sign::Sha256,
    )
    .await;
    wait_until("the incident exists", || async {
        app.get("/api/incidents", Some(&admin)).await.body["data"]["total"] == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let list = app.get("/api/incidents", Some(&admin)).await;
    assert_eq!(list.body["data"]["total"], 1, "{}", list.text);
    let item = &list.body["data"]["items"][0];
    assert_eq!(
        (item["title"].as_str(), item["severity"].as_str(), item["source"].as_str()),
        (Some("订单服务 5xx 激增"), Some("critical"), Some(BOT))
    );
    let id = item["id"].as_str().unwrap();
    let events = app.get(&format!("/api/incidents/{id}/events"), Some(&admin)).await;
    let events = events.body["data"]["events"].as_array().unwrap().clone();
    let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
    assert_eq!((count("alert_received"), count("duplicate_alert")), (1, 0), "{events:?}");
    assert_eq!(events[0]["data"]["chat_id"], "oc_ops");
}

fn card_click(open_id: &str, value: Value) -> String {
    json!({"schema": "2.0", "header": {"event_id": format!("card-{}", uuid::Uuid::new_v4()), "token": TOKEN,
        "create_time": "1700000000000", "event_type": "card.action.trigger", "app_id": "cli_warden"},
      "event": {"operator": {"open_id": open_id}, "token": "c-update", "host": "im_message",
        "action": {"tag": "button", "value": value}, "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"}}})
    .to_string()
}

async fn card_buttons_decide_runs_for_mapped_operators(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let admin = app.admin().await;
    let (operator_id, _) = app.user_with_role(&admin, "ops@example.com", "operator").await;
    let (viewer_id, _) = app.user_with_role(&admin, "viewer@example.com", "viewer").await;
    for (id, open_id) in [(operator_id, "ou_operator"), (viewer_id, "ou_viewer")] {
        let res = app
            .put(&format!("/api/v1/users/{id}"), json!({"feishu_open_id": open_id}), Some(&admin))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.body["feishu_open_id"], open_id);
    }
    let taken = app
        .put(
            &format!("/api/v1/users/{viewer_id}"),
            json!({"feishu_open_id": "ou_operator"}),
            Some(&admin),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "card-host").await;
    let res = app
        .post(
            "/api/v1/alert-rules",
            json!({"name": "Memory pressure", "metric": "memory_percent",
        "operator": ">", "threshold": 80, "duration_seconds": 0}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    app.post(
        "/api/v1/agent/metrics",
        json!({"host_id": host, "memory_percent": 97.0}),
        Some(&agent),
    )
    .await;
    let mut alert = None;
    for _ in 0..400 {
        alert = app.get("/api/v1/alerts", Some(&admin)).await.body["items"][0]["id"].as_i64();
        if alert.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let alert = alert.expect("the alert fired");
    let run = app.post(&format!("/api/v1/alerts/{alert}/remediate"), json!({}), Some(&admin)).await;
    let run_id = run.body["id"].as_i64().unwrap();
    assert_eq!(run.body["status"], "pending_approval");

    let approve = json!({"action": "approve", "remediation_id": run_id});
    let (status, body) =
        post(&app, "/lark/card/action", &card_click("ou_stranger", approve.clone()), Sign::Sha256)
            .await;
    assert_eq!((status, body["toast"]["type"].as_str()), (StatusCode::OK, Some("error")));
    let (_, body) =
        post(&app, "/lark/card/action", &card_click("ou_viewer", approve.clone()), Sign::Sha256)
            .await;
    assert_eq!(body["toast"]["type"], "error", "viewers cannot approve");
    let unsigned =
        post(&app, "/lark/card/action", &card_click("ou_operator", approve.clone()), Sign::None)
            .await;
    assert_eq!(unsigned.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(&format!("/api/v1/remediations/{run_id}"), Some(&admin)).await.body["status"],
        "pending_approval"
    );

    let (status, body) =
        post(&app, "/lark/card/action", &card_click("ou_operator", approve.clone()), Sign::Sha256)
            .await;
    assert_eq!(
        (status, body["toast"]["type"].as_str()),
        (StatusCode::OK, Some("success")),
        "{body}"
    );
    assert_eq!(body["card"]["type"], "raw");
    wait_until("the run executed", || async {
        app.get(&format!("/api/v1/remediations/{run_id}"), Some(&admin)).await.body["status"]
            == "success"
    })
    .await;
    let run = app.get(&format!("/api/v1/remediations/{run_id}"), Some(&admin)).await.body;
    assert_eq!(run["approved_by"], operator_id);
    // A second click (or a legacy-format retry signed with SHA-1) says who handled it.
    let legacy = json!({"open_id": "ou_operator", "token": "c-update", "action": {"tag": "button", "value": {"action": "reject", "run_id": run_id.to_string()}}}).to_string();
    let (status, body) = post(&app, "/lark/card/action", &legacy, Sign::Sha1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["toast"]["type"], "info", "{body}");
    assert!(body["toast"]["content"].as_str().unwrap().contains("ops@example.com"), "{body}");
    let audit = app.get("/api/v1/audit-logs?action=approve_remediation", Some(&admin)).await;
    assert!(audit.text.contains("feishu"), "{}", audit.text);
}
