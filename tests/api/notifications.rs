//! Notifications: channels, templates, delivery to real loopback peers (chat robots,
//! Feishu open API, webhooks, an SMTP sink), retries, rate limits and the outbox.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use warden_actors::model::{LiveEvent, NotifyKind, NotifyRequest};

use crate::support::peers::{decoded_text, subject, ChatPeer, Failure, SmtpSink};
use crate::support::{wait_until, Backend, TestApp};

crate::backend_cases!(
    every_channel_type_is_delivered_and_verified,
    feishu_app_bot_sends_approval_buttons_and_updates_the_card,
    templates_render_defaults_switch_and_builtins_stay,
    failures_are_retried_then_logged,
    robot_rate_limits_queue_instead_of_dropping,
    the_outbox_survives_a_restart_without_loss_or_duplicates,
    channels_are_validated_masked_and_tested,
);

const WAIT: Duration = Duration::from_secs(10);

async fn spawn(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let mut env =
        vec![("WARDEN_NOTIFY__RETRY_BASE_MS", "50"), ("WARDEN_NOTIFY__TIMEOUT_SECS", "3")];
    env.extend_from_slice(extra);
    TestApp::spawn_with(backend, &env).await
}

async fn channel(app: &TestApp, admin: &str, name: &str, kind: &str, config: Value) -> i64 {
    let res = app
        .post(
            "/api/v1/notification-channels",
            json!({"name": name, "channel_type": kind, "config": config}),
            Some(admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_i64().unwrap()
}

/// A host and a rule (notifying `channels`) that fires on cpu > 80 at once.
async fn alerting(app: &TestApp, admin: &str, channels: &[i64]) -> (String, i64) {
    let agent = app.agent_token(admin).await;
    let host = app.register_host(&agent, "notify-host").await;
    let res = app
        .post(
            "/api/v1/alert-rules",
            json!({"name": "CPU hot", "metric": "cpu_percent", "operator": ">", "threshold": 80,
                   "severity": "critical", "cooldown_seconds": 0, "notification_channel_ids": channels}),
            Some(admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    (agent, host)
}

async fn report(app: &TestApp, agent: &str, host: i64, cpu: f64) {
    let res = app
        .post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": cpu}), Some(agent))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

async fn logs(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/notification-channels/logs?{query}"), Some(admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body.as_array().unwrap().clone()
}

async fn wait_logs(app: &TestApp, admin: &str, n: usize) -> Vec<Value> {
    wait_until(&format!("{n} finished deliveries"), || async {
        logs(app, admin, "").await.len() >= n
    })
    .await;
    logs(app, admin, "").await
}

async fn every_channel_type_is_delivered_and_verified(backend: Backend) {
    let peer = ChatPeer::start().await;
    let smtp = SmtpSink::start().await;
    let Some(app) = spawn(backend, &[("WARDEN_PUBLIC_URL", "https://warden.example")]).await else {
        return;
    };
    let admin = app.admin().await;
    let base = peer.base();
    peer.set_dingtalk_secret("dt-token", "SECdingtalk-secret");
    peer.set_feishu_secret("hook-1", "feishu-secret");
    peer.set_webhook_secret("ops", "hook-secret");
    let ids = vec![
        channel(&app, &admin, "钉钉", "dingtalk", json!({"webhook_url": format!("{base}/dingtalk/robot/send?access_token=dt-token"), "secret": "SECdingtalk-secret"})).await,
        channel(&app, &admin, "飞书", "feishu", json!({"webhook_url": format!("{base}/feishu/open-apis/bot/v2/hook/hook-1"), "secret": "feishu-secret"})).await,
        channel(&app, &admin, "企微", "wecom", json!({"webhook_url": format!("{base}/wecom/cgi-bin/webhook/send?key=wk-1")})).await,
        channel(&app, &admin, "hook", "webhook", json!({"url": format!("{base}/hook/ops"), "secret": "hook-secret", "headers": {"X-Env": "test"}})).await,
        channel(&app, &admin, "mail", "email", json!({"smtp_host": "127.0.0.1", "smtp_port": smtp.port(), "smtp_security": "none",
            "recipients": ["oncall@example.com"], "from": "warden@example.com"})).await,
    ];
    let (agent, host) = alerting(&app, &admin, &ids).await;
    report(&app, &agent, host, 95.0).await;

    let ding = peer.wait_accepted("dingtalk", 1, WAIT).await;
    assert_eq!(ding[0].body["msgtype"], "markdown");
    assert!(ding[0].path.contains("sign="), "signed: {}", ding[0].path);
    let text = ding[0].body["markdown"]["text"].as_str().unwrap();
    assert!(text.contains("notify-host") && text.contains("critical"), "{text}");
    assert!(text.contains("https://warden.example/alerts/"), "{text}");

    let feishu = peer.wait_accepted("feishu_bot", 1, WAIT).await;
    assert_eq!(feishu[0].body["msg_type"], "interactive");
    assert!(feishu[0].body["card"]["header"]["title"]["content"]
        .as_str()
        .unwrap()
        .contains("CPU hot"));
    assert_eq!(feishu[0].body["card"]["header"]["template"], "red");

    let wecom = peer.wait_accepted("wecom", 1, WAIT).await;
    assert!(wecom[0].body["markdown"]["content"].as_str().unwrap().contains("notify-host"));

    let hook = peer.wait_accepted("webhook", 1, WAIT).await;
    assert_eq!(hook[0].header("x-env"), Some("test"));
    assert!(hook[0].header("x-warden-signature").unwrap().starts_with("sha256="));
    assert_eq!(hook[0].body["event"], "alert_fired");
    assert_eq!(hook[0].body["status"], "firing");
    assert_eq!(hook[0].body["data"]["hostname"], "notify-host");
    let alert_id = hook[0].body["alert_id"].as_i64().unwrap();

    let mail = smtp.wait_messages(1, WAIT).await;
    assert_eq!(mail[0].to, ["oncall@example.com"]);
    assert_eq!(mail[0].from, "warden@example.com");
    assert!(subject(&mail[0].data).contains("CPU hot"), "{}", subject(&mail[0].data));
    let body = decoded_text(&mail[0].data);
    assert!(body.contains("text/plain") && body.contains("text/html"), "multipart: {body}");
    assert!(body.contains("主机:notify-host"), "{body}");

    // Recovery is notified too, on every channel.
    report(&app, &agent, host, 10.0).await;
    let hooks = peer.wait_accepted("webhook", 2, WAIT).await;
    assert_eq!(hooks[1].body["event"], "alert_resolved");
    smtp.wait_messages(2, WAIT).await;

    let rows = wait_logs(&app, &admin, 10).await;
    assert!(rows.iter().all(|r| r["status"] == "sent"), "{rows:?}");
    let for_alert = logs(&app, &admin, &format!("alert_id={alert_id}&limit=200")).await;
    assert_eq!(for_alert.len(), 10, "5 channels × (fired, resolved)");
    assert_eq!(logs(&app, &admin, "limit=3").await.len(), 3);
    let text = app.get("/metrics", None).await.text;
    assert!(
        text.contains("warden_notifications_sent_total{channel=\"webhook\",result=\"ok\"} 2"),
        "{text}"
    );
}

async fn feishu_app_bot_sends_approval_buttons_and_updates_the_card(backend: Backend) {
    let peer = ChatPeer::start().await;
    peer.set_feishu_app("cli_test", "app-secret");
    let api = format!("{}/feishu", peer.base());
    let env = [
        ("FEISHU_APP_ID", "cli_test"),
        ("FEISHU_APP_SECRET", "app-secret"),
        ("WARDEN_FEISHU__API_BASE_URL", api.as_str()),
    ];
    let Some(app) = spawn(backend, &env).await else { return };
    let admin = app.admin().await;
    let app_channel =
        channel(&app, &admin, "飞书应用", "feishu", json!({"receive_id": "oc_chat"})).await;
    let hook_channel = channel(
        &app,
        &admin,
        "hook",
        "webhook",
        json!({"url": format!("{}/hook/plain", peer.base())}),
    )
    .await;

    let mut vars = serde_json::Map::new();
    vars.insert("runbook".into(), json!("service_restart"));
    vars.insert("risk".into(), json!("medium"));
    vars.insert("commands".into(), json!("systemctl restart nginx"));
    vars.insert("hostname".into(), json!("web-1"));
    app.state.runtime.events.emit(LiveEvent::Notify(Box::new(NotifyRequest {
        kind: NotifyKind::ApprovalRequested,
        alert_id: None,
        run_id: Some(42),
        channel_ids: Some(vec![app_channel, hook_channel]),
        vars,
    })));
    let sent = peer.wait_accepted("feishu_im", 1, WAIT).await;
    assert!(sent[0].path.contains("receive_id_type=chat_id"), "{}", sent[0].path);
    assert_eq!(sent[0].body["receive_id"], "oc_chat");
    let card: Value = serde_json::from_str(sent[0].body["content"].as_str().unwrap()).unwrap();
    let buttons = &card["elements"][1]["actions"];
    assert_eq!(buttons[0]["value"], json!({"action": "approve", "remediation_id": 42}), "{card}");
    assert_eq!(buttons[1]["value"], json!({"action": "reject", "remediation_id": 42}));
    assert!(card["elements"][0]["text"]["content"]
        .as_str()
        .unwrap()
        .contains("systemctl restart nginx"));
    // A channel that cannot call back says how to approve instead.
    let hook = peer.wait_accepted("webhook", 1, WAIT).await;
    assert!(
        hook[0].body["message"].as_str().unwrap().contains("/api/v1/remediations/42/approve"),
        "{}",
        hook[0].body
    );
    assert_eq!(peer.token_requests(), 1);
    wait_until("the card's message id is stored", || async {
        logs(&app, &admin, "")
            .await
            .iter()
            .any(|r| r["channel_id"] == app_channel && r["status"] == "sent")
    })
    .await;

    // The token is cached; an expired one is refreshed once.
    peer.expire_feishu_tokens();
    app.state.runtime.events.emit(LiveEvent::ApprovalDecided {
        run_id: 42,
        approved: true,
        by: "ops".into(),
        at: app.state.clock.now(),
    });
    let patched = peer.wait_accepted("feishu_patch", 1, WAIT).await;
    let card: Value = serde_json::from_str(patched[0].body["content"].as_str().unwrap()).unwrap();
    assert!(
        card["elements"][1]["text"]["content"].as_str().unwrap().contains("Approved by ops"),
        "{card}"
    );
    assert!(card["elements"][1]["actions"].is_null(), "buttons gone: {card}");
    assert_eq!(peer.token_requests(), 2);
}

async fn templates_render_defaults_switch_and_builtins_stay(backend: Backend) {
    let peer = ChatPeer::start().await;
    let Some(app) = spawn(backend, &[]).await else { return };
    let admin = app.admin().await;
    let (_, viewer) = app.user_with_role(&admin, "viewer@example.com", "operator").await;
    assert_eq!(
        app.get("/api/v1/notification-templates", Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );

    let listed = app.get("/api/v1/notification-templates", Some(&admin)).await;
    let builtins: Vec<&Value> =
        listed.body.as_array().unwrap().iter().filter(|t| t["is_builtin"] == true).collect();
    assert_eq!(builtins.len(), 16, "5 channel types × 2 locales + 3 other kinds × 2");
    let builtin = builtins[0]["id"].as_i64().unwrap();
    let res = app.delete(&format!("/api/v1/notification-templates/{builtin}"), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);

    let hook =
        channel(&app, &admin, "hook", "webhook", json!({"url": format!("{}/hook/t", peer.base())}))
            .await;
    let (agent, host) = alerting(&app, &admin, &[hook]).await;
    report(&app, &agent, host, 95.0).await;
    let first = peer.wait_accepted("webhook", 1, WAIT).await;
    assert!(
        first[0].body["title"].as_str().unwrap().starts_with("【critical】CPU hot"),
        "zh-CN built-in: {}",
        first[0].body
    );
    assert!(first[0].body["message"].as_str().unwrap().contains("主机:notify-host"));

    // The seed's example template, marked default, wins; unknown variables are reported.
    let res = app
        .post(
            "/api/v1/notification-templates",
            json!({"name": "告警通知-Webhook", "channel_type": "webhook", "title_template": "【{{severity}}】{{title}}",
                   "body_template": "告警内容:{{message}}\n主机:{{hostname}} {{no_such_var}}", "is_default": true}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["unknown_variables"], json!(["no_such_var"]));
    let first_default = res.body["id"].as_i64().unwrap();
    let res = app
        .post(
            "/api/v1/notification-templates",
            json!({"name": "second", "channel_type": "webhook", "subject_template": "ALERT {{title}} {{status}}",
                   "body_template": "host={{hostname}} value={{metric_value}}", "is_default": true}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["title_template"], "ALERT {{title}} {{status}}");
    let all = app.get("/api/v1/notification-templates", Some(&admin)).await.body;
    let old = all.as_array().unwrap().iter().find(|t| t["id"] == first_default).unwrap();
    assert_eq!(old["is_default"], false, "the newer default cleared the older one");

    report(&app, &agent, host, 10.0).await;
    let second = peer.wait_accepted("webhook", 2, WAIT).await;
    assert!(
        second[1].body["title"].as_str().unwrap().starts_with("ALERT CPU hot"),
        "{}",
        second[1].body
    );
    assert_eq!(
        second[1].body["title"].as_str().unwrap(),
        format!("ALERT {} resolved", first[0].body["data"]["title"].as_str().unwrap())
    );
    assert_eq!(second[1].body["message"], "host=notify-host value=95.0");

    // Bad templates are refused whole, naming the field.
    let res = app
        .post(
            "/api/v1/notification-templates",
            json!({"name": "x", "channel_type": "webhook", "body_template": "{{ title"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["body", "body_template"]);
    let res = app
        .post(
            "/api/v1/notification-templates",
            json!({"name": "x", "channel_type": "sms", "body_template": "x"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.first_loc(), ["body", "channel_type"]);
    let res =
        app.put("/api/v1/notification-templates/999999", json!({"name": "x"}), Some(&admin)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // With no user default, the locale setting picks the built-in's language.
    for t in app.get("/api/v1/notification-templates", Some(&admin)).await.body.as_array().unwrap()
    {
        if t["is_builtin"] == false {
            let res = app
                .delete(&format!("/api/v1/notification-templates/{}", t["id"]), Some(&admin))
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        }
    }
    app.set_settings(&admin, json!({"locale": "en"})).await;
    report(&app, &agent, host, 96.0).await;
    let third = peer.wait_accepted("webhook", 3, WAIT).await;
    assert!(
        third[2].body["title"].as_str().unwrap().starts_with("[CRITICAL] CPU hot"),
        "{}",
        third[2].body
    );
    assert!(third[2].body["message"].as_str().unwrap().contains("Host: notify-host"));
}

async fn failures_are_retried_then_logged(backend: Backend) {
    let peer = ChatPeer::start().await;
    let Some(app) = spawn(backend, &[]).await else { return };
    let admin = app.admin().await;
    let base = peer.base();
    let flaky =
        channel(&app, &admin, "flaky", "webhook", json!({"url": format!("{base}/hook/flaky")}))
            .await;
    let dead =
        channel(&app, &admin, "dead", "webhook", json!({"url": format!("{base}/hook/dead")})).await;
    let ding = channel(
        &app,
        &admin,
        "ding",
        "dingtalk",
        json!({"webhook_url": format!("{base}/dingtalk/robot/send?access_token=t")}),
    )
    .await;
    app.set_settings(&admin, json!({"webhook_retry_count": 2})).await;
    peer.fail_next("/hook/flaky", 2, Failure::Status(503));
    peer.fail_next("/hook/dead", 10, Failure::Status(500));
    peer.fail_next(
        "/dingtalk",
        1,
        Failure::Json(json!({"errcode": 310000, "errmsg": "keywords not in content"})),
    );
    // A slow channel delays nobody else.
    let slow =
        channel(&app, &admin, "slow", "webhook", json!({"url": format!("{base}/hook/slow")})).await;
    peer.fail_next("/hook/slow", 1, Failure::Delay(Duration::from_secs(2)));
    let (agent, host) = alerting(&app, &admin, &[flaky, dead, ding, slow]).await;
    report(&app, &agent, host, 95.0).await;

    wait_until("three deliveries finished", || async { logs(&app, &admin, "").await.len() >= 3 })
        .await;
    let rows = logs(&app, &admin, "").await;
    assert!(
        rows.iter().all(|r| r["channel_id"] != slow),
        "the slow channel finishes last: {rows:?}"
    );
    let row = |id: i64| rows.iter().find(|r| r["channel_id"] == id).cloned().unwrap();
    assert_eq!(
        (row(flaky)["status"].clone(), row(flaky)["retries"].clone()),
        (json!("sent"), json!(2))
    );
    assert_eq!(row(dead)["status"], "failed");
    assert_eq!(row(dead)["retries"], 2, "retries used up (webhook_retry_count)");
    assert_eq!(row(dead)["response_code"], 500);
    assert_eq!(row(ding)["status"], "failed", "HTTP 200 with an errcode is a failure");
    assert_eq!(row(ding)["retries"], 0, "a permanent errcode is not retried");
    assert!(row(ding)["error"].as_str().unwrap().contains("310000"));
    assert_eq!(peer.received().iter().filter(|r| r.path.starts_with("/hook/dead")).count(), 3);
    wait_logs(&app, &admin, 4).await;
}

async fn robot_rate_limits_queue_instead_of_dropping(backend: Backend) {
    let peer = ChatPeer::start().await;
    let Some(app) = spawn(backend, &[]).await else { return };
    let admin = app.admin().await;
    let ding = channel(
        &app,
        &admin,
        "ding",
        "dingtalk",
        json!({"webhook_url": format!("{}/dingtalk/robot/send?access_token=t", peer.base())}),
    )
    .await;
    let agent = app.agent_token(&admin).await;
    let res = app
        .post("/api/v1/alert-rules", json!({"name": "CPU", "metric": "cpu_percent", "operator": ">", "threshold": 80, "cooldown_seconds": 0, "notification_channel_ids": [ding]}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    // 24 hosts firing: 24 messages for a robot that takes 20 a minute.
    for i in 0..24 {
        let host = app.register_host(&agent, &format!("rl-{i}")).await;
        report(&app, &agent, host, 95.0).await;
    }
    peer.wait_accepted("dingtalk", 20, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(peer.accepted("dingtalk").len(), 20, "at most 20 a minute");
    let rows = logs(&app, &admin, "limit=200").await;
    assert_eq!(rows.len(), 20, "the rest wait in the queue, not failed: {rows:?}");
    assert!(rows.iter().all(|r| r["status"] == "sent"));
}

async fn the_outbox_survives_a_restart_without_loss_or_duplicates(backend: Backend) {
    let peer = ChatPeer::start().await;
    let Some(app) = spawn(backend, &[("WARDEN_NOTIFY__RETRY_MAX_SECS", "1")]).await else { return };
    let admin = app.admin().await;
    let base = peer.base();
    let ok =
        channel(&app, &admin, "ok", "webhook", json!({"url": format!("{base}/hook/ok")})).await;
    let down =
        channel(&app, &admin, "down", "webhook", json!({"url": format!("{base}/hook/down")})).await;
    app.set_settings(&admin, json!({"webhook_retry_count": 10})).await;
    peer.fail_next("/hook/down", 1000, Failure::Status(503));
    let (agent, host) = alerting(&app, &admin, &[ok, down]).await;
    report(&app, &agent, host, 95.0).await;
    peer.wait_accepted("webhook", 1, WAIT).await;
    report(&app, &agent, host, 10.0).await;
    peer.wait_accepted("webhook", 2, WAIT).await;
    wait_until("the down channel was tried", || async {
        peer.received().iter().filter(|r| r.path.starts_with("/hook/down")).count() >= 2
    })
    .await;

    let app = app.restart().await;
    peer.clear_failures();
    wait_until("pending messages delivered after the restart", || async {
        peer.accepted("webhook").iter().filter(|r| r.path.starts_with("/hook/down")).count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = peer.accepted("webhook");
    let count = |path: &str, event: &str| {
        accepted.iter().filter(|r| r.path.starts_with(path) && r.body["event"] == event).count()
    };
    for path in ["/hook/ok", "/hook/down"] {
        assert_eq!(count(path, "alert_fired"), 1, "{path}: fired exactly once");
        assert_eq!(count(path, "alert_resolved"), 1, "{path}: resolved exactly once");
    }
    let rows = wait_logs(&app, &admin, 4).await;
    assert!(rows.iter().all(|r| r["status"] == "sent"), "{rows:?}");
}

async fn channels_are_validated_masked_and_tested(backend: Backend) {
    let peer = ChatPeer::start().await;
    let Some(app) = spawn(backend, &[]).await else { return };
    let admin = app.admin().await;
    let (_, viewer) = app.user_with_role(&admin, "viewer@example.com", "viewer").await;
    let base = peer.base();
    let body = json!({"name": "钉钉", "channel_type": "dingtalk",
        "config": {"webhook_url": format!("{base}/dingtalk/robot/send?access_token=secret-token"), "secret": "SECsigning"}});
    assert_eq!(
        app.post("/api/v1/notification-channels", body.clone(), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/api/v1/notification-channels", body.clone(), None).await.status,
        StatusCode::UNAUTHORIZED
    );

    for (bad, loc) in [
        (json!({"name": "x", "channel_type": "sms", "config": {}}), vec!["body", "channel_type"]),
        (json!({"name": "x", "channel_type": "dingtalk"}), vec!["body", "config"]),
        (json!({"channel_type": "dingtalk", "config": {}}), vec!["body", "name"]),
        (
            json!({"name": "x", "channel_type": "dingtalk", "config": {"webhook_url": "not a url"}}),
            vec!["body", "config", "webhook_url"],
        ),
        (
            json!({"name": "x", "channel_type": "email", "config": {"smtp_host": "h", "recipients": ["nope"], "from": "a@b.io"}}),
            vec!["body", "config", "recipients"],
        ),
        (
            json!({"name": "x", "channel_type": "webhook", "config": {"url": "http://h", "method": "GET"}}),
            vec!["body", "config", "method"],
        ),
        (
            json!({"name": "x", "channel_type": "feishu", "config": {"receive_id": "oc_1"}}),
            vec!["body", "config", "receive_id"],
        ),
    ] {
        let res = app.post("/api/v1/notification-channels", bad.clone(), Some(&admin)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.text);
        assert_eq!(res.first_loc(), loc, "{bad}: {}", res.text);
    }
    assert!(
        app.get("/api/v1/notification-channels", Some(&admin))
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing stored"
    );

    // VigilOps' own clients send `type`.
    let res = app
        .post(
            "/api/v1/notification-channels",
            json!({"name": "v", "type": "webhook", "config": {"url": format!("{base}/hook/v")}}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app.post("/api/v1/notification-channels", body, Some(&admin)).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let id = res.body["id"].as_i64().unwrap();
    assert!(!res.text.contains("secret-token") && !res.text.contains("SECsigning"), "{}", res.text);
    assert_eq!(res.body["config"]["secret"], "******");
    let listed = app.get("/api/v1/notification-channels", Some(&viewer)).await;
    assert!(!listed.text.contains("secret-token") && !listed.text.contains("SECsigning"));

    // Sending the masked config back keeps the secrets: the test send is signed.
    peer.set_dingtalk_secret("secret-token", "SECsigning");
    let mut config = res.body["config"].clone();
    config["note"] = json!("edited");
    let res = app
        .put(
            &format!("/api/v1/notification-channels/{id}"),
            json!({"name": "钉钉2", "config": config}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .post(&format!("/api/v1/notification-channels/{id}/test"), json!({}), Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["success"], true, "{}", res.text);
    let sent = peer.accepted("dingtalk");
    assert!(
        sent[0].body["markdown"]["text"].as_str().unwrap().contains("测试"),
        "{:?}",
        sent[0].body
    );

    // A wrong secret: the robot refuses the signature, and the test says so.
    peer.set_dingtalk_secret("secret-token", "SECother");
    let res = app
        .post(&format!("/api/v1/notification-channels/{id}/test"), json!({}), Some(&admin))
        .await;
    assert_eq!(res.body["success"], false, "{}", res.text);
    assert!(res.body["error"].as_str().unwrap().contains("310000"), "{}", res.text);
    assert!(!res.text.contains("secret-token"), "no credential in errors: {}", res.text);

    let res = app.get("/api/v1/notification-channels/logs?limit=201", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.first_loc(), ["query", "limit"]);
    assert_eq!(
        app.post("/api/v1/notification-channels/999999/test", json!({}), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/v1/notification-channels/{id}"), Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    let res = app.delete(&format!("/api/v1/notification-channels/{id}"), Some(&admin)).await;
    assert_eq!(
        (res.status, res.body["detail"].clone()),
        (StatusCode::NOT_FOUND, json!("Channel not found"))
    );
}
