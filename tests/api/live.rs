//! Live behaviour: offline detection on the heartbeat deadline, the dashboard, log and
//! agent WebSockets, actor supervision, restart from the store, retention.

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use warden_actors::ids::{HostId, ServiceId};
use warden_actors::model::{HostStatus, LiveEvent};

use crate::support::{wait_until, TestApp};

crate::backend_tests!(
    silent_host_goes_offline_at_its_deadline_and_back_online_with_the_next_heartbeat,
    dashboard_socket_pushes_the_summary_on_changes,
    log_socket_streams_matching_lines,
    sockets_without_a_valid_token_are_closed_with_a_reason,
    agent_socket_answers_pings_and_marks_the_agent_connected,
    a_silent_service_is_marked_down,
    crashed_actors_are_restarted_and_keep_detecting,
    a_restarted_server_restores_hosts_and_services,
    retention_deletes_only_old_rows,
    server_side_checks_watch_services_without_their_agent,
);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, path: &str) -> Ws {
    tokio_tungstenite::connect_async(app.ws_url(path)).await.expect("websocket connects").0
}

/// The next JSON text frame, failing after ten seconds.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("JSON frame");
        }
    }
}

/// Collects `n` host status events (10 s at most), then checks that no further one
/// arrives within half a second.
async fn host_events(
    rx: &mut tokio::sync::broadcast::Receiver<LiveEvent>,
    n: usize,
) -> Vec<HostStatus> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(LiveEvent::HostStatusChanged { status, .. })) => seen.push(status),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event stream failed: {e}"),
            Err(_) => panic!("only {seen:?} arrived, expected {n} events"),
        }
    }
    let grace = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
    while let Ok(Ok(ev)) = tokio::time::timeout_at(grace, rx.recv()).await {
        if let LiveEvent::HostStatusChanged { status, .. } = ev {
            seen.push(status);
        }
    }
    seen
}

async fn host_status(app: &TestApp, admin: &str, id: i64) -> String {
    app.get(&format!("/api/v1/hosts/{id}"), Some(admin)).await.body["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn silent_host_goes_offline_at_its_deadline_and_back_online_with_the_next_heartbeat(
    app: TestApp,
) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let mut events = app.state.runtime.events.subscribe();
    let host = app.register_host(&agent, "quiet").await;
    wait_until("online", || async { host_status(&app, &admin, host).await == "online" }).await;
    app.set_settings(&admin, json!({"heartbeat_timeout": 1})).await;

    let started = std::time::Instant::now();
    wait_until("offline", || async { host_status(&app, &admin, host).await == "offline" }).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "not before the deadline");
    let stored = app.state.db.host_by_id(host).await.unwrap().unwrap();
    assert_eq!(stored.status, "offline", "the transition is persisted");

    let res = app.post("/api/v1/agent/heartbeat", json!({"host_id": host}), Some(&agent)).await;
    assert_eq!(res.status, StatusCode::OK);
    wait_until("back online", || async { host_status(&app, &admin, host).await == "online" }).await;
    wait_until("offline again", || async { host_status(&app, &admin, host).await == "offline" })
        .await;

    let seen = host_events(&mut events, 4).await;
    let expected =
        [HostStatus::Online, HostStatus::Offline, HostStatus::Online, HostStatus::Offline];
    assert_eq!(seen, expected, "one event per transition");
}

async fn dashboard_socket_pushes_the_summary_on_changes(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "dash").await;
    app.post(
        "/api/v1/agent/metrics",
        json!({"host_id": host, "cpu_percent": 30.0, "memory_percent": 40.0, "disk_percent": 50.0}),
        Some(&agent),
    )
    .await;
    wait_until("online", || async { host_status(&app, &admin, host).await == "online" }).await;
    let mut ws = connect(&app, &format!("/api/v1/ws/dashboard?token={admin}")).await;
    let first = next_json(&mut ws).await;
    assert_eq!(first["hosts"], json!({"total": 1, "online": 1, "offline": 0}));
    assert_eq!(first["avg_usage"]["cpu_percent"], 30.0);
    assert_eq!(first["alerts"], json!({"total": 0, "firing": 0}));
    for key in ["timestamp", "services", "recent_1h", "health_score"] {
        assert!(!first[key].is_null(), "{key}");
    }
    assert_eq!(first["health_score"], 100);

    app.set_settings(&admin, json!({"heartbeat_timeout": 1})).await;
    let pushed = next_json(&mut ws).await;
    assert_eq!(pushed["hosts"]["offline"], 1, "pushed on the change, not after 30 s: {pushed}");
    // 70 for the offline host; 50 once its built-in offline alert is firing too.
    let score = pushed["health_score"].as_u64().unwrap();
    assert!(score == 70 || score == 50, "{pushed}");
}

async fn log_socket_streams_matching_lines(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "streamer").await;
    let mut ws = connect(&app, &format!("/ws/logs?token={admin}&level=ERROR&service=api")).await;
    // Give the server a moment to subscribe before lines are ingested.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.post(
        "/api/v1/agent/logs",
        json!({"logs": [
        {"host_id": host, "service": "api", "level": "INFO", "message": "skip me"},
        {"host_id": host, "service": "web", "level": "ERROR", "message": "skip me too"},
        {"host_id": host, "service": "api", "level": "ERROR", "message": "disk full"}]}),
        Some(&agent),
    )
    .await;
    let line = next_json(&mut ws).await;
    assert_eq!(line["message"], "disk full");
    assert_eq!(line["host_id"], host);
    assert_eq!(line["level"], "ERROR");
    assert!(line["id"].as_i64().is_some());
}

async fn sockets_without_a_valid_token_are_closed_with_a_reason(app: TestApp) {
    for path in [
        "/api/v1/ws/dashboard",
        "/api/v1/ws/dashboard?token=bogus",
        "/ws/logs",
        "/api/v1/agent/ws/1?token=vop_bogus",
    ] {
        let mut ws = connect(&app, path).await;
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match msg {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1008, "{path}");
                assert!(!frame.reason.is_empty(), "{path}");
            }
            other => panic!("{path}: expected a close frame, got {other:?}"),
        }
    }
}

async fn agent_socket_answers_pings_and_marks_the_agent_connected(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "ws-agent").await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        app.ws_url(&format!("/api/v1/agent/ws/{host}")),
    )
    .unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {agent}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(json!({"type": "ping"}).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await, json!({"type": "pong"}));
    wait_until("agent shown connected", || async {
        app.get(&format!("/api/v1/hosts/{host}"), Some(&admin)).await.body["agent_connected"]
            == true
    })
    .await;

    // The host actor owns the connection: it can push a command to the agent.
    let entry = app.state.runtime.registry.host(HostId(host)).unwrap();
    let sent = entry
        .actor
        .call(
            |reply| warden_actors::host::HostMsg::SendToAgent {
                text: "{\"type\":\"exec_command\"}".into(),
                reply,
            },
            None,
        )
        .await
        .unwrap();
    assert!(matches!(sent, ractor::rpc::CallResult::Success(true)));
    assert_eq!(next_json(&mut ws).await["type"], "exec_command");

    ws.close(None).await.unwrap();
    wait_until("agent shown disconnected", || async {
        app.get(&format!("/api/v1/hosts/{host}"), Some(&admin)).await.body["agent_connected"]
            == false
    })
    .await;
    let other = app.agent_token(&admin).await;
    let mut ws = connect(&app, &format!("/api/v1/agent/ws/{host}?token={other}")).await;
    let msg = ws.next().await.unwrap().unwrap();
    assert!(
        matches!(msg, Message::Close(Some(ref f)) if f.reason.contains("not registered with this agent token")),
        "{msg:?}"
    );
}

async fn a_silent_service_is_marked_down(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "svc-host").await;
    let res = app
        .post("/api/v1/agent/services/register",
              json!({"name": "api", "type": "http", "target": "http://x/health", "host_id": host, "check_interval": 1}), Some(&agent))
        .await;
    let sid = res.body["service_id"].as_i64().unwrap();
    app.post("/api/v1/agent/services", json!({"service_id": sid, "status": "up"}), Some(&agent))
        .await;
    // Keep the host online while the service stays silent.
    let keepalive = {
        let (client, url, agent) =
            (app.client.clone(), app.url("/api/v1/agent/heartbeat"), agent.clone());
        tokio::spawn(async move {
            for _ in 0..40 {
                let _ = client
                    .post(&url)
                    .bearer_auth(&agent)
                    .json(&json!({"host_id": host}))
                    .send()
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        })
    };
    wait_until("service down", || async {
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"] == "down"
    })
    .await;
    let detail = app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await;
    assert_eq!(detail.body["last_error"], "no check result for 3 s");
    keepalive.abort();
    app.post("/api/v1/agent/services", json!({"service_id": sid, "status": "up"}), Some(&agent))
        .await;
    wait_until("service up again", || async {
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"] == "up"
    })
    .await;
}

async fn crashed_actors_are_restarted_and_keep_detecting(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let mut events = app.state.runtime.events.subscribe();
    let host = app.register_host(&agent, "crashy").await;
    let res = app
        .post(
            "/api/v1/agent/services/register",
            json!({"name": "db", "type": "tcp", "target": "x:5432", "host_id": host}),
            Some(&agent),
        )
        .await;
    let sid = res.body["service_id"].as_i64().unwrap();
    app.post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": 12.0}), Some(&agent))
        .await;
    wait_until("online", || async { host_status(&app, &admin, host).await == "online" }).await;

    let before = app.state.runtime.registry.host(HostId(host)).unwrap();
    before.actor.cast(warden_actors::host::HostMsg::Crash).unwrap();
    let service = app.state.runtime.registry.service(ServiceId(sid)).unwrap();
    service.actor.cast(warden_actors::service::ServiceMsg::Crash).unwrap();
    wait_until("a new host actor", || async {
        app.state
            .runtime
            .registry
            .host(HostId(host))
            .is_some_and(|e| e.actor.get_id() != before.actor.get_id())
    })
    .await;
    wait_until("a new service actor", || async {
        app.state
            .runtime
            .registry
            .service(ServiceId(sid))
            .is_some_and(|e| e.actor.get_id() != service.actor.get_id())
    })
    .await;

    // Acknowledged state survived; requests reach the new actor.
    let detail = app.get(&format!("/api/v1/hosts/{host}"), Some(&admin)).await;
    assert_eq!(detail.body["latest_metrics"]["cpu_percent"], 12.0);
    assert_eq!(detail.body["status"], "online");
    let res = app
        .post(
            "/api/v1/agent/services",
            json!({"service_id": sid, "status": "down", "error": "refused"}),
            Some(&agent),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    wait_until("service down", || async {
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"] == "down"
    })
    .await;

    // Offline detection still works, once, and so does coming back.
    app.set_settings(&admin, json!({"heartbeat_timeout": 1})).await;
    wait_until("offline", || async { host_status(&app, &admin, host).await == "offline" }).await;
    app.post("/api/v1/agent/heartbeat", json!({"host_id": host}), Some(&agent)).await;
    wait_until("online", || async { host_status(&app, &admin, host).await == "online" }).await;
    let seen = host_events(&mut events, 3).await;
    let expected = [HostStatus::Online, HostStatus::Offline, HostStatus::Online];
    assert_eq!(seen, expected, "no duplicated or lost events");
}

async fn a_restarted_server_restores_hosts_and_services(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "survivor").await;
    let res = app
        .post(
            "/api/v1/agent/services/register",
            json!({"name": "api", "type": "http", "target": "http://x", "host_id": host}),
            Some(&agent),
        )
        .await;
    let sid = res.body["service_id"].as_i64().unwrap();
    app.post("/api/v1/agent/services", json!({"service_id": sid, "status": "up"}), Some(&agent))
        .await;
    let metric = app
        .post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": 5.0}), Some(&agent))
        .await;
    assert_eq!(metric.status, StatusCode::CREATED);
    wait_until("service up", || async {
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"] == "up"
    })
    .await;

    let app = app.restart().await;
    let (admin, _) = app.login("admin@example.com", "admin-password").await;
    assert!(
        app.state.runtime.registry.host(HostId(host)).is_some(),
        "host actor spawned at start-up"
    );
    assert!(
        app.state.runtime.registry.service(ServiceId(sid)).is_some(),
        "service actor spawned at start-up"
    );
    assert_eq!(host_status(&app, &admin, host).await, "online");
    assert_eq!(
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"],
        "up"
    );
    let history = app.get(&format!("/api/v1/hosts/{host}/metrics"), Some(&admin)).await;
    assert_eq!(
        history.body.as_array().unwrap().len(),
        1,
        "acknowledged metrics survived the restart"
    );
    // With Redis, the latest metrics come back too; without it they return with the
    // next report (the history above is the durable record either way).
    let latest = app.get(&format!("/api/v1/hosts/{host}"), Some(&admin)).await.body
        ["latest_metrics"]
        .clone();
    if app.redis {
        assert_eq!(latest["cpu_percent"], 5.0, "{latest}");
    } else {
        assert!(latest.is_null(), "{latest}");
    }
    // The same agent token keeps working against the restarted server.
    let res = app.post("/api/v1/agent/heartbeat", json!({"host_id": host}), Some(&agent)).await;
    assert_eq!(res.status, StatusCode::OK);
}

async fn retention_deletes_only_old_rows(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "old").await;
    let old = (app.state.clock.now() - chrono::Duration::days(100)).to_rfc3339();
    app.post(
        "/api/v1/agent/metrics",
        json!({"host_id": host, "cpu_percent": 1.0, "timestamp": old}),
        Some(&agent),
    )
    .await;
    app.post("/api/v1/agent/metrics", json!({"host_id": host, "cpu_percent": 2.0}), Some(&agent))
        .await;
    app.post("/api/v1/agent/logs", json!({"logs": [{"host_id": host, "message": "ancient", "timestamp": old}, {"host_id": host, "message": "fresh"}]}), Some(&agent)).await;
    let deleted = warden::app::run_retention(&app.state).await;
    assert_eq!(deleted, 2);
    let logs = app.get("/api/v1/logs", Some(&admin)).await;
    assert_eq!(logs.body["total"], 1);
    assert_eq!(logs.body["items"][0]["message"], "fresh");
    assert_eq!(
        app.get("/api/v1/logs?q=ancient", Some(&admin)).await.body["total"],
        0,
        "the text index follows"
    );
    let m = app.get(&format!("/api/v1/hosts/{host}/metrics?hours=720"), Some(&admin)).await;
    assert_eq!(m.body.as_array().unwrap().len(), 1);
}

async fn server_side_checks_watch_services_without_their_agent(app: TestApp) {
    // A real HTTP target on loopback that can be told to fail.
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = healthy.clone();
    let target = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let ok = flag.load(std::sync::atomic::Ordering::Relaxed);
            async move {
                if ok {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, target).await });

    let admin = app.admin().await;
    let agent = app.agent_token(&admin).await;
    let host = app.register_host(&agent, "probed").await;
    let res = app
        .post("/api/v1/agent/services/register",
              json!({"name": "web", "type": "http", "target": format!("http://{addr}/health"), "host_id": host,
                     "check_interval": 1, "timeout": 2}), Some(&agent))
        .await;
    let sid = res.body["service_id"].as_i64().unwrap();
    app.set_settings(&admin, json!({"server_side_checks": true})).await;
    wait_until("probed up", || async {
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"] == "up"
    })
    .await;
    let checks = app.get(&format!("/api/v1/services/{sid}/checks"), Some(&admin)).await;
    assert!(checks.body[0]["status_code"] == 200, "{}", checks.text);

    healthy.store(false, std::sync::atomic::Ordering::Relaxed);
    wait_until("probed down", || async {
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["status"] == "down"
    })
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/services/{sid}"), Some(&admin)).await.body["last_error"],
        "HTTP 503"
    );

    // Off again: probes stop and no new check rows appear.
    app.set_settings(&admin, json!({"server_side_checks": false})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = app
        .get(&format!("/api/v1/services/{sid}/checks"), Some(&admin))
        .await
        .body
        .as_array()
        .unwrap()
        .len();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let after = app
        .get(&format!("/api/v1/services/{sid}/checks"), Some(&admin))
        .await
        .body
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "no probes while the setting is off");
}
