//! Alertmanager intake: token, optional signature, dedup, host mapping, resolve — and a
//! real Alertmanager on loopback when the Debian package is installed.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{wait_until, Backend, TestApp};

const TOKEN: &str = "am-test-token-123";
const SECRET: &str = "am-test-secret";

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[("ALERTMANAGER_WEBHOOK_TOKEN", TOKEN), ("ALERTMANAGER_WEBHOOK_SECRET", SECRET)],
    )
    .await
}

macro_rules! am_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = super::spawn($crate::support::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = super::spawn($crate::support::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

am_tests!(
    deliveries_become_alerts_once_and_resolve,
    bad_tokens_signatures_and_bodies_are_refused,
    a_real_alertmanager_delivers_firing_and_resolved_alerts,
);

crate::backend_tests!(an_unconfigured_webhook_answers_503);

fn payload(status: &str, fingerprint: &str, instance: &str) -> Value {
    json!({"receiver": "warden", "status": status, "version": "4", "alerts": [{
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": instance, "severity": "critical"},
        "annotations": {"summary": "Disk almost full"},
        "startsAt": "2026-11-22T10:00:00Z",
        "endsAt": if status == "resolved" { "2026-11-22T10:05:00Z" } else { "0001-01-01T00:00:00Z" },
        "fingerprint": fingerprint}]})
}

async fn deliver(
    app: &TestApp,
    body: &Value,
    token: Option<&str>,
    signature: Option<&str>,
) -> crate::support::Res {
    let raw = body.to_string();
    let mut req = app
        .client
        .post(app.url("/api/v1/webhooks/alertmanager"))
        .header("content-type", "application/json")
        .body(raw);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(s) = signature {
        req = req.header("X-Vigilops-Signature", s);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    crate::support::Res {
        status,
        headers: Default::default(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn sign(body: &Value) -> String {
    warden::notify::signing::body_signature(SECRET, body.to_string().as_bytes())
}

async fn an_unconfigured_webhook_answers_503(app: TestApp) {
    let res = deliver(&app, &payload("firing", "abc", "x"), Some("anything"), None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.body["detail"].as_str().unwrap().contains("ALERTMANAGER_WEBHOOK_TOKEN"));
}

async fn deliveries_become_alerts_once_and_resolve(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "web-1").await;
    let firing = payload("firing", "bf29cd0c3cac59df", "web-1:9100");
    let res = deliver(&app, &firing, Some(TOKEN), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"status": "ok", "received": 1, "deduplicated": 0, "processed": 1}));
    let alerts = app.get("/api/v1/alerts?status=firing", Some(&admin)).await;
    assert_eq!(alerts.body["total"], 1);
    let a = &alerts.body["items"][0];
    assert_eq!(a["source"], "alertmanager");
    assert_eq!(a["fingerprint"], "bf29cd0c3cac59df");
    assert_eq!(a["host_id"], host, "mapped by the instance label");
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["title"], "DiskFull: Disk almost full");

    let again = deliver(&app, &firing, Some(TOKEN), Some(&sign(&firing))).await;
    assert_eq!(
        again.body,
        json!({"status": "ok", "received": 1, "deduplicated": 1, "processed": 0})
    );
    assert_eq!(
        app.get("/api/v1/alerts", Some(&admin)).await.body["total"],
        1,
        "no duplicate alert"
    );

    let resolved = payload("resolved", "bf29cd0c3cac59df", "web-1:9100");
    let res = deliver(&app, &resolved, Some(TOKEN), None).await;
    assert_eq!(res.body["processed"], 1);
    let a = &app.get("/api/v1/alerts", Some(&admin)).await.body["items"][0];
    assert_eq!(a["status"], "resolved");
    assert_eq!(a["resolved_at"], "2026-11-22T10:05:00Z");
}

async fn bad_tokens_signatures_and_bodies_are_refused(app: TestApp) {
    let admin = app.admin().await;
    let body = payload("firing", "f1", "nowhere");
    let res = deliver(&app, &body, None, None).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Missing webhook token"))
    );
    let res = deliver(&app, &body, Some("wrong"), None).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Invalid webhook token"))
    );
    let res = deliver(&app, &body, Some(TOKEN), Some("sha256=00")).await;
    assert_eq!(
        (res.status, res.body["detail"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Invalid signature"))
    );
    let res = deliver(&app, &json!({"alerts": []}), Some(TOKEN), None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = deliver(&app, &json!({"alerts": [{"status": "firing"}]}), Some(TOKEN), None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let res = deliver(&app, &json!({"receiver": "x"}), Some(TOKEN), None).await;
    assert_eq!(res.first_loc(), ["body", "alerts"]);
    assert_eq!(
        app.get("/api/v1/alerts", Some(&admin)).await.body["total"],
        0,
        "nothing was recorded"
    );
    let res = deliver(&app, &body, Some(TOKEN), Some(&sign(&body))).await;
    assert_eq!(res.status, StatusCode::OK, "a correct signature is accepted");
}

/// Finds a free loopback port.
async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port()
}

async fn a_real_alertmanager_delivers_firing_and_resolved_alerts(app: TestApp) {
    let binary = "prometheus-alertmanager";
    if std::process::Command::new(binary).arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install prometheus-alertmanager");
        eprintln!("skipped: {binary} is not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let admin = app.admin().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "route:\n  receiver: warden\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n\
         receivers:\n  - name: warden\n    webhook_configs:\n      - url: '{}'\n        send_resolved: true\n        \
         http_config:\n          authorization: {{type: Bearer, credentials: {TOKEN}}}\n",
        app.url("/api/v1/webhooks/alertmanager")
    );
    let config_path = dir.path().join("am.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port().await;
    let mut child = tokio::process::Command::new(binary)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.path={}", dir.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let am = format!("http://127.0.0.1:{port}");
    wait_until("alertmanager ready", || async {
        app.client.get(format!("{am}/-/ready")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    let labels = json!({"alertname": "RealAlert", "instance": "db-9:9100", "severity": "warning"});
    let post = |alert: Value| {
        let (client, url) = (app.client.clone(), format!("{am}/api/v2/alerts"));
        async move { client.post(url).json(&json!([alert])).send().await.unwrap().status() }
    };
    assert!(post(
        json!({"labels": labels, "annotations": {"summary": "from a real Alertmanager"}})
    )
    .await
    .is_success());
    wait_until("alert recorded from Alertmanager", || async {
        let list = app.get("/api/v1/alerts?status=firing", Some(&admin)).await;
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["title"] == "RealAlert: from a real Alertmanager")
    })
    .await;
    let now = (app.state.clock.now() - chrono::Duration::seconds(1)).to_rfc3339();
    assert!(post(json!({"labels": labels, "endsAt": now})).await.is_success());
    wait_until("alert resolved by Alertmanager", || async {
        let list = app.get("/api/v1/alerts?status=resolved", Some(&admin)).await;
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["title"].as_str().unwrap().starts_with("RealAlert"))
    })
    .await;
    let _ = child.kill().await;
}
