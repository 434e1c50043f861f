//! `TestApp`: the real application (same `App::build` as `main`) on an ephemeral port,
//! over a temp SQLite file or a fresh PostgreSQL schema, plus HTTP helpers.

#![allow(dead_code)]

pub mod llm;
pub mod peers;

use std::collections::HashMap;
use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use warden::config::{Config, LoadOptions};
use warden::App;

/// The JWT secret every test app uses, so tests can sign their own tokens.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Expands each named `async fn(TestApp)` into a module with one test per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// Like `backend_tests!`, for tests that start their own app (after their peers) with
/// [`TestApp::spawn_with`]: each test gets the backend to use.
#[macro_export]
macro_rules! backend_cases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            }
        )*
    };
}

fn init_tracing() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_env_filter("warden=debug,info").try_init();
        }
    });
}

/// A running application and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub state: warden::http::state::AppState,
    pub redis: bool,
    env: HashMap<String, String>,
    dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A response: status, headers and parsed JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// Starts an app, or returns `None` (after saying why) when the backend is not
    /// configured. Under CI a missing backend is a failure, never a silent skip.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    /// Like [`TestApp::spawn`], with extra `WARDEN_*` environment overrides.
    pub async fn spawn_with(backend: Backend, extra_env: &[(&str, &str)]) -> Option<TestApp> {
        init_tracing();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("WARDEN_LISTEN".into(), "127.0.0.1:0".into());
        env.insert("WARDEN_DATA_DIR".into(), dir.path().display().to_string());
        env.insert("WARDEN_AUTH__JWT_SECRET".into(), JWT_SECRET.into());
        env.insert("WARDEN_STORAGE__MAX_CONNECTIONS".into(), "4".into());
        env.insert("WARDEN_SERVER__SHUTDOWN_GRACE_SECS".into(), "1".into());
        // Scheduled reports would notify every channel a test creates; the scheduler's
        // own test turns it on.
        env.insert("WARDEN_REPORTS__SCHEDULE".into(), "false".into());
        let mut redis = false;
        if backend == Backend::Postgres {
            let url = required_env("TEST_DATABASE_URL")?;
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            create_schema(&url, &schema).await;
            let sep = if url.contains('?') { '&' } else { '?' };
            env.insert(
                "DATABASE_URL".into(),
                format!("{url}{sep}options=-c%20search_path%3D{schema},public"),
            );
            if let Some(redis_url) = required_env("TEST_REDIS_URL") {
                env.insert("REDIS_URL".into(), redis_url);
                env.insert(
                    "WARDEN_REDIS__KEY_PREFIX".into(),
                    format!("warden-test:{}:", uuid::Uuid::new_v4().simple()),
                );
                env.insert("WARDEN_REDIS__REQUIRED".into(), "true".into());
                redis = true;
            }
        }
        for (k, v) in extra_env {
            env.insert((*k).to_string(), (*v).to_string());
        }
        Some(Self::start(backend, env, dir, redis).await)
    }

    async fn start(
        backend: Backend,
        env: HashMap<String, String>,
        dir: tempfile::TempDir,
        redis: bool,
    ) -> TestApp {
        let config = Config::load(&LoadOptions { env: env.clone(), ..LoadOptions::default() })
            .expect("test config");
        let app = App::build(config).await.expect("app builds");
        let base = format!("http://{}", app.address());
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::new(),
            backend,
            state,
            redis,
            env,
            dir,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops the server gracefully and starts a new one on the same data (the same
    /// SQLite file or PostgreSQL schema), as a process restart would.
    pub async fn restart(mut self) -> TestApp {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server stops cleanly");
        }
        let env = std::mem::take(&mut self.env);
        let (backend, redis) = (self.backend, self.redis);
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        Self::start(backend, env, dir, redis).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Res {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Res::from(req.send().await.expect("request reaches the test server")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.call(Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Res {
        self.call(Method::POST, path, Some(body), token).await
    }

    pub async fn put(&self, path: &str, body: Value, token: Option<&str>) -> Res {
        self.call(Method::PUT, path, Some(body), token).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Res {
        self.call(Method::DELETE, path, None, token).await
    }

    /// Sends a raw body with a JSON content type.
    pub async fn post_raw(&self, path: &str, body: &'static str, token: Option<&str>) -> Res {
        let mut req =
            self.client.post(self.url(path)).header("content-type", "application/json").body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Res::from(req.send().await.expect("request reaches the test server")).await
    }

    /// Registers a user through the API; returns (access, refresh).
    pub async fn register(&self, email: &str, password: &str) -> (String, String) {
        let res = self
            .post(
                "/api/v1/auth/register",
                json!({"email": email, "name": "Test User", "password": password}),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "register {email}: {}", res.text);
        tokens(&res)
    }

    /// Logs in; returns (access, refresh).
    pub async fn login(&self, email: &str, password: &str) -> (String, String) {
        let res = self
            .post("/api/v1/auth/login", json!({"email": email, "password": password}), None)
            .await;
        assert_eq!(res.status, StatusCode::OK, "login {email}: {}", res.text);
        tokens(&res)
    }

    /// Registers the first user (an admin) and returns their access token.
    pub async fn admin(&self) -> String {
        self.register("admin@example.com", "admin-password").await.0
    }

    /// Creates a user with a role as the given admin; returns (id, access token).
    pub async fn user_with_role(&self, admin: &str, email: &str, role: &str) -> (i64, String) {
        let res = self
            .post(
                "/api/v1/users",
                json!({"email": email, "name": role, "password": "user-password", "role": role}),
                Some(admin),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "create {email}: {}", res.text);
        let id = res.body["id"].as_i64().expect("user id");
        (id, self.login(email, "user-password").await.0)
    }
}

impl TestApp {
    /// Creates an agent token as the given admin.
    pub async fn agent_token(&self, admin: &str) -> String {
        let res = self.post("/api/v1/agent-tokens", json!({"name": "agents"}), Some(admin)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body["token"].as_str().expect("token").to_string()
    }

    /// Registers a host with an agent token; returns its id.
    pub async fn register_host(&self, agent: &str, hostname: &str) -> i64 {
        let res = self
            .post(
                "/api/v1/agent/register",
                json!({"hostname": hostname, "ip_address": "10.0.0.1", "os": "Linux"}),
                Some(agent),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "register {hostname}: {}", res.text);
        res.body["host_id"].as_i64().expect("host_id")
    }

    /// Registers a monitored service on a host through the agent API; returns its id.
    pub async fn register_service(
        &self,
        agent: &str,
        host: i64,
        name: &str,
        kind: &str,
        target: &str,
    ) -> i64 {
        let res = self
            .post(
                "/api/v1/agent/services/register",
                json!({"host_id": host, "name": name, "type": kind, "target": target}),
                Some(agent),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.body["service_id"].as_i64().expect("service_id")
    }

    /// Sets runtime settings as the given admin.
    pub async fn set_settings(&self, admin: &str, values: Value) {
        let res = self.put("/api/v1/settings", values, Some(admin)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }

    /// A WebSocket URL for `path` (which carries its own query).
    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }
}

pub fn tokens(res: &Res) -> (String, String) {
    (
        res.body["access_token"].as_str().expect("access_token").to_string(),
        res.body["refresh_token"].as_str().expect("refresh_token").to_string(),
    )
}

impl Res {
    async fn from(res: reqwest::Response) -> Res {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res { status, headers, body, text }
    }

    /// The FastAPI 422 `loc` of the first problem.
    pub fn first_loc(&self) -> Vec<String> {
        self.body["detail"][0]["loc"]
            .as_array()
            .map(|a| {
                a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()
            })
            .unwrap_or_default()
    }
}

/// The variable's value; `None` (test skipped, with a note) when unset outside CI.
fn required_env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("CI").is_some() => panic!("{name} must be set under CI"),
        _ => {
            eprintln!("skipped: {name} not set");
            None
        }
    }
}

async fn create_schema(url: &str, schema: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let _ = conn.close().await;
}

/// Polls `check` until it holds, failing after ten seconds with `what`.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if check().await {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
