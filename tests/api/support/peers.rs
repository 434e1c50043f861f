//! Loopback stand-ins for the outside services Warden talks to (PROTOCOLS.md §1, §2, §5, §9 "Sink B"),
//! so integration tests can assert on exactly what Warden sent, signatures included.
//!
//! `ChatPeer` is one HTTP server that plays DingTalk, Feishu (custom bot and app-bot API), WeCom and
//! generic signed webhooks, each under its own path prefix. `SmtpSink` is a minimal SMTP server.

// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Signing helpers (the same computations the real services do; checked against PROTOCOLS.md §11)
// ---------------------------------------------------------------------------------------------

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// DingTalk: base64(HMAC-SHA256(key = secret, msg = "{timestamp_ms}\n{secret}")), not URL-encoded.
pub fn dingtalk_sign(secret: &str, timestamp_ms: impl Display) -> String {
    B64.encode(hmac_sha256(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes()))
}

/// Feishu custom bot: base64(HMAC-SHA256(key = "{timestamp_s}\n{secret}", msg = empty)).
pub fn feishu_sign(secret: &str, timestamp_s: impl Display) -> String {
    B64.encode(hmac_sha256(format!("{timestamp_s}\n{secret}").as_bytes(), b""))
}

/// Warden webhook header value: "sha256=" + lowercase hex HMAC-SHA256(key = secret, msg = raw body).
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), body)))
}

// ---------------------------------------------------------------------------------------------
// ChatPeer
// ---------------------------------------------------------------------------------------------

/// A scripted reply that replaces the peer's normal handling (see [`ChatPeer::fail_next`]).
#[derive(Clone, Debug)]
pub enum Failure {
    /// Answer with this HTTP status and a short text body.
    Status(u16),
    /// Answer HTTP 200 with this JSON body (e.g. a rate-limit errcode).
    Json(Value),
    /// Sleep, then handle the request normally (for client-timeout tests).
    Delay(Duration),
}

/// One request as the peer saw it.
#[derive(Clone, Debug)]
pub struct Received {
    /// "dingtalk", "feishu_bot", "feishu_token", "feishu_im", "feishu_patch", "wecom", "webhook" or "unknown".
    pub service: &'static str,
    /// Path with query string.
    pub path: String,
    pub method: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Parsed body, `Null` if it was not JSON.
    pub body: Value,
    pub raw: Vec<u8>,
    /// True only when the peer answered success.
    pub accepted: bool,
    pub at: Instant,
}

impl Received {
    /// First value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct PeerState {
    dingtalk_secrets: HashMap<String, String>,
    feishu_secrets: HashMap<String, String>,
    feishu_apps: HashMap<String, String>,
    wecom_invalid: HashSet<String>,
    webhook_secrets: HashMap<String, String>,
    /// (path prefix, remaining count, reply), consumed front to back.
    failures: Vec<(String, usize, Failure)>,
    tokens: HashSet<String>,
    message_ids: HashSet<String>,
    counter: u64,
    token_requests: usize,
    received: Vec<Received>,
}

type Shared = Arc<Mutex<PeerState>>;

// A panicking test thread must not turn every later lock into a second, confusing panic.
fn lock(shared: &Shared) -> MutexGuard<'_, PeerState> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fake DingTalk / Feishu / WeCom / webhook receiver on 127.0.0.1. Aborted on drop.
pub struct ChatPeer {
    addr: std::net::SocketAddr,
    state: Shared,
    task: JoinHandle<()>,
}

impl Drop for ChatPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ChatPeer {
    pub async fn start() -> ChatPeer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind chat peer");
        let addr = listener.local_addr().expect("chat peer address");
        let state: Shared = Arc::default();
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ChatPeer { addr, state, task }
    }

    /// "http://127.0.0.1:PORT". Service URLs: `{base}/dingtalk/robot/send`, `{base}/feishu/open-apis/...`
    /// (Feishu API base = `{base}/feishu`), `{base}/wecom/cgi-bin/webhook/send`, `{base}/hook/{name}`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_dingtalk_secret(&self, access_token: &str, secret: &str) {
        lock(&self.state).dingtalk_secrets.insert(access_token.into(), secret.into());
    }

    pub fn set_feishu_secret(&self, hook: &str, secret: &str) {
        lock(&self.state).feishu_secrets.insert(hook.into(), secret.into());
    }

    pub fn set_feishu_app(&self, app_id: &str, app_secret: &str) {
        lock(&self.state).feishu_apps.insert(app_id.into(), app_secret.into());
    }

    pub fn set_wecom_invalid_key(&self, key: &str) {
        lock(&self.state).wecom_invalid.insert(key.into());
    }

    pub fn set_webhook_secret(&self, name: &str, secret: &str) {
        lock(&self.state).webhook_secrets.insert(name.into(), secret.into());
    }

    /// The next `n` requests whose path starts with `path_prefix` (e.g. "/dingtalk") get `reply`.
    pub fn fail_next(&self, path_prefix: &str, n: usize, reply: Failure) {
        lock(&self.state).failures.push((path_prefix.into(), n, reply));
    }

    /// Drops every scripted failure still pending.
    pub fn clear_failures(&self) {
        lock(&self.state).failures.clear();
    }

    /// Every request that reached the token endpoint, scripted failures included.
    pub fn token_requests(&self) -> usize {
        lock(&self.state).token_requests
    }

    /// Forget every issued tenant token, so the next API call gets code 99991663 (token-refresh tests).
    pub fn expire_feishu_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    pub fn accepted(&self, service: &str) -> Vec<Received> {
        lock(&self.state)
            .received
            .iter()
            .filter(|r| r.accepted && r.service == service)
            .cloned()
            .collect()
    }

    /// Wait until at least `n` requests to `service` were accepted; panics with the log on timeout.
    pub async fn wait_accepted(&self, service: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.accepted(service);
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {n} accepted {service} request(s), got {}; all received:\n{}",
                    got.len(),
                    describe(&self.received())
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn describe(log: &[Received]) -> String {
    if log.is_empty() {
        return "  (nothing)".into();
    }
    log.iter()
        .map(|r| {
            let body = String::from_utf8_lossy(&r.raw);
            let body: String = body.chars().take(300).collect();
            format!("  [{}] {} {} accepted={} body={body}", r.service, r.method, r.path, r.accepted)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn service_of(path: &str) -> &'static str {
    const FEISHU_MSGS: &str = "/feishu/open-apis/im/v1/messages";
    if path == "/dingtalk/robot/send" {
        "dingtalk"
    } else if path.starts_with("/feishu/open-apis/bot/v2/hook/") {
        "feishu_bot"
    } else if path == "/feishu/open-apis/auth/v3/tenant_access_token/internal" {
        "feishu_token"
    } else if path == FEISHU_MSGS {
        "feishu_im"
    } else if path.starts_with(FEISHU_MSGS) && path[FEISHU_MSGS.len()..].starts_with('/') {
        "feishu_patch"
    } else if path == "/wecom/cgi-bin/webhook/send" {
        "wecom"
    } else if path.starts_with("/hook/") {
        "webhook"
    } else {
        "unknown"
    }
}

fn take_failure(shared: &Shared, path: &str) -> Option<Failure> {
    let mut st = lock(shared);
    let slot = st
        .failures
        .iter_mut()
        .find(|(prefix, left, _)| *left > 0 && path.starts_with(prefix.as_str()))?;
    slot.1 -= 1;
    Some(slot.2.clone())
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let at = Instant::now();
    let service = service_of(uri.path());
    if service == "feishu_token" {
        lock(&shared).token_requests += 1;
    }
    let scripted = take_failure(&shared, uri.path());
    if let Some(Failure::Delay(d)) = &scripted {
        tokio::time::sleep(*d).await;
    }
    let req = Req {
        method: &method,
        query: uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
        headers: &headers,
        raw: &raw,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
    };
    let (accepted, response) = match scripted {
        Some(Failure::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (false, (status, "scripted failure").into_response())
        }
        Some(Failure::Json(v)) => (false, Json(v).into_response()),
        Some(Failure::Delay(_)) | None => route(&shared, service, uri.path(), &req),
    };
    let record = Received {
        service,
        path: uri.path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_default(),
        method: method.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .collect(),
        body: req.body,
        raw: raw.to_vec(),
        accepted,
        at,
    };
    lock(&shared).received.push(record);
    response
}

struct Req<'a> {
    method: &'a Method,
    query: HashMap<String, String>,
    headers: &'a HeaderMap,
    raw: &'a [u8],
    body: Value,
}

type Outcome = (bool, Response);

fn ok(v: Value) -> Outcome {
    (true, Json(v).into_response())
}

fn refuse(v: Value) -> Outcome {
    (false, Json(v).into_response())
}

fn refuse_status(status: StatusCode, text: &'static str) -> Outcome {
    (false, (status, text).into_response())
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn route(shared: &Shared, service: &'static str, path: &str, req: &Req<'_>) -> Outcome {
    let allowed = match service {
        "unknown" => return refuse_status(StatusCode::NOT_FOUND, "no such fake endpoint"),
        "webhook" => [Method::POST, Method::PUT, Method::PATCH].contains(req.method),
        "feishu_patch" => req.method == Method::PATCH,
        _ => req.method == Method::POST,
    };
    if !allowed {
        return refuse_status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let mut st = lock(shared);
    match service {
        "dingtalk" => dingtalk(&st, req),
        "feishu_bot" => feishu_bot(&st, path.rsplit('/').next().unwrap_or_default(), req),
        "feishu_token" => feishu_token(&mut st, req),
        "feishu_im" => feishu_im(&mut st, req),
        "feishu_patch" => feishu_patch(&st, path.rsplit('/').next().unwrap_or_default(), req),
        "wecom" => wecom(&st, req),
        _ => webhook(&st, path.trim_start_matches("/hook/"), req),
    }
}

fn dingtalk(st: &PeerState, req: &Req<'_>) -> Outcome {
    let token = req.query.get("access_token").map(String::as_str).unwrap_or_default();
    if token.is_empty() {
        return refuse(json!({"errcode": 300005, "errmsg": "token is not exist"}));
    }
    if let Some(secret) = st.dingtalk_secrets.get(token) {
        let now =
            warden_actors::clock::Clock::now(&warden_actors::clock::SystemClock).timestamp_millis();
        let ts = req.query.get("timestamp");
        let fresh =
            ts.and_then(|t| t.parse::<i64>().ok()).is_some_and(|t| (now - t).abs() <= 3_600_000);
        // The query parser already form-decoded `sign`, just as DingTalk does.
        let signed = ts.is_some_and(|t| req.query.get("sign") == Some(&dingtalk_sign(secret, t)));
        if !fresh || !signed {
            return refuse(json!({"errcode": 310000, "errmsg": "sign not match"}));
        }
    }
    let b = &req.body;
    let well_formed = match str_at(b, "/msgtype") {
        Some("markdown") => {
            str_at(b, "/markdown/title").is_some() && str_at(b, "/markdown/text").is_some()
        }
        Some("actionCard") => {
            str_at(b, "/actionCard/title").is_some() && str_at(b, "/actionCard/text").is_some()
        }
        Some("text") => str_at(b, "/text/content").is_some(),
        _ => false,
    };
    if !well_formed {
        return refuse(json!({"errcode": 40035, "errmsg": "bad body"}));
    }
    ok(json!({"errcode": 0, "errmsg": "ok"}))
}

fn feishu_bot(st: &PeerState, hook: &str, req: &Req<'_>) -> Outcome {
    let b = &req.body;
    if req.raw.len() > 20 * 1024 || !b.is_object() {
        return refuse(json!({"code": 9499, "msg": "Bad Request", "data": {}}));
    }
    if let Some(secret) = st.feishu_secrets.get(hook) {
        let now = warden_actors::clock::Clock::now(&warden_actors::clock::SystemClock).timestamp();
        let ts = str_at(b, "/timestamp");
        let fresh = ts.and_then(|t| t.parse::<i64>().ok()).is_some_and(|t| (now - t).abs() <= 3600);
        let signed =
            ts.is_some_and(|t| str_at(b, "/sign") == Some(feishu_sign(secret, t).as_str()));
        if !fresh || !signed {
            return refuse(json!({"code": 19021,
                "msg": "sign match fail or timestamp is not within one hour from current time", "data": {}}));
        }
    }
    let well_formed = match str_at(b, "/msg_type") {
        Some("interactive") => b.get("card").is_some_and(Value::is_object),
        Some("text") => str_at(b, "/content/text").is_some(),
        Some("post") => b.pointer("/content/post").is_some_and(Value::is_object),
        _ => false,
    };
    if !well_formed {
        return refuse(json!({"code": 9499, "msg": "Bad Request", "data": {}}));
    }
    ok(
        json!({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}),
    )
}

fn feishu_token(st: &mut PeerState, req: &Req<'_>) -> Outcome {
    let (id, secret) = (str_at(&req.body, "/app_id"), str_at(&req.body, "/app_secret"));
    let known = id.and_then(|id| st.feishu_apps.get(id));
    if known.is_none() || known.map(String::as_str) != secret {
        return refuse(json!({"code": 10014, "msg": "app secret invalid"}));
    }
    st.counter += 1;
    let token = format!("t-{}", st.counter);
    st.tokens.insert(token.clone());
    ok(json!({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200}))
}

fn feishu_authorized(st: &PeerState, req: &Req<'_>) -> bool {
    let header = req.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    header.strip_prefix("Bearer ").is_some_and(|t| st.tokens.contains(t))
}

fn bad_token() -> Outcome {
    refuse(json!({"code": 99991663, "msg": "Invalid access token for authorization"}))
}

fn bad_field(what: &str) -> Outcome {
    let body =
        json!({"code": 99992402, "msg": format!("field validation failed: {what}"), "data": {}});
    (false, (StatusCode::BAD_REQUEST, Json(body)).into_response())
}

/// `content` is a string that must itself hold a JSON object (the card).
fn card_content_ok(body: &Value) -> bool {
    str_at(body, "/content")
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .is_some_and(|card| card.is_object())
}

fn feishu_im(st: &mut PeerState, req: &Req<'_>) -> Outcome {
    if !feishu_authorized(st, req) {
        return bad_token();
    }
    let b = &req.body;
    if req.query.get("receive_id_type").map(String::as_str) != Some("chat_id") {
        return bad_field("receive_id_type must be chat_id");
    }
    if str_at(b, "/receive_id").is_none() || str_at(b, "/msg_type") != Some("interactive") {
        return bad_field("receive_id (string) and msg_type \"interactive\" required");
    }
    if !card_content_ok(b) {
        return bad_field("content must be a string holding a JSON object");
    }
    st.counter += 1;
    let id = format!("om_{}", st.counter);
    st.message_ids.insert(id.clone());
    ok(json!({"code": 0, "msg": "success", "data": {"message_id": id}}))
}

fn feishu_patch(st: &PeerState, message_id: &str, req: &Req<'_>) -> Outcome {
    if !feishu_authorized(st, req) {
        return bad_token();
    }
    if !st.message_ids.contains(message_id) {
        return bad_field("message_id was not issued by this peer");
    }
    if !card_content_ok(&req.body) {
        return bad_field("content must be a string holding a JSON object");
    }
    ok(json!({"code": 0, "msg": "success", "data": {}}))
}

fn wecom(st: &PeerState, req: &Req<'_>) -> Outcome {
    let key = req.query.get("key").map(String::as_str).unwrap_or_default();
    if key.is_empty() || st.wecom_invalid.contains(key) {
        return refuse(json!({"errcode": 93000, "errmsg": "invalid webhook url"}));
    }
    let b = &req.body;
    let (content, limit) = match str_at(b, "/msgtype") {
        Some("markdown") => (str_at(b, "/markdown/content"), 4096),
        Some("text") => (str_at(b, "/text/content"), 2048),
        _ => (None, 0),
    };
    match content {
        None => refuse(json!({"errcode": 40035, "errmsg": "bad body"})),
        Some(c) if c.len() > limit => refuse(
            json!({"errcode": 40058, "errmsg": format!("content exceed max length {limit}")}),
        ),
        Some(_) => ok(json!({"errcode": 0, "errmsg": "ok"})),
    }
}

fn webhook(st: &PeerState, name: &str, req: &Req<'_>) -> Outcome {
    if let Some(secret) = st.webhook_secrets.get(name) {
        let given = req.headers.get("x-warden-signature").map(|v| v.as_bytes());
        if given != Some(webhook_signature(secret, req.raw).as_bytes()) {
            return refuse_status(StatusCode::UNAUTHORIZED, "bad signature");
        }
    }
    if serde_json::from_slice::<Value>(req.raw).is_err() {
        return refuse_status(StatusCode::BAD_REQUEST, "body is not JSON");
    }
    ok(json!({"ok": true}))
}

// ---------------------------------------------------------------------------------------------
// SmtpSink
// ---------------------------------------------------------------------------------------------

/// One message delivered to the sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// Address inside `<>` of MAIL FROM.
    pub from: String,
    pub to: Vec<String>,
    /// Raw message (headers + body, CRLF kept) after undoing dot-stuffing.
    pub data: String,
}

/// Plain SMTP server on 127.0.0.1 (no TLS, no AUTH). Aborted on drop.
pub struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp sink");
        let port = listener.local_addr().expect("smtp sink address").port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    // An I/O error only ends this one conversation.
                    let _ = smtp_session(stream, store).await;
                });
            }
        });
        SmtpSink { port, mails, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn messages(&self) -> Vec<Mail> {
        self.mails.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Wait until at least `n` messages arrived; panics on timeout.
    pub async fn wait_messages(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {n} mail(s), got {}: {got:#?}",
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Text inside the first `<...>`, or the trimmed remainder if the client sent no brackets.
fn angle_addr(arg: &str) -> String {
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or_default().to_string(),
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let verb = text.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        // Arguments follow the first ':' (MAIL FROM:<a>, RCPT TO:<b>).
        let arg = text.split_once(':').map(|(_, a)| a).unwrap_or_default();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "HELO" => b"250 sink\r\n",
            "MAIL" => {
                from = Some(angle_addr(arg));
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" if from.is_some() => {
                to.push(angle_addr(arg));
                b"250 OK\r\n"
            }
            "RCPT" => b"503 need MAIL first\r\n",
            "DATA" if from.is_none() || to.is_empty() => b"503 need MAIL and RCPT first\r\n",
            "DATA" => {
                write.write_all(b"354 go\r\n").await?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if read.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(()); // client vanished mid-message: nothing is stored
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    // Dot-stuffing: a leading ".." stands for ".".
                    let start = usize::from(line.starts_with(b".."));
                    data.extend_from_slice(&line[start..]);
                }
                let mail = Mail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data: String::from_utf8_lossy(&data).into_owned(),
                };
                store.lock().unwrap_or_else(|e| e.into_inner()).push(mail);
                b"250 OK queued\r\n"
            }
            "RSET" => {
                from = None;
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 unsupported\r\n",
        };
        write.write_all(reply).await?;
    }
}

// ---------------------------------------------------------------------------------------------
// Making mail comparable
// ---------------------------------------------------------------------------------------------

/// Split at the first blank line into (headers, body). Accepts CRLF or bare LF.
fn split_head(msg: &str) -> (&str, &str) {
    for sep in ["\r\n\r\n", "\n\n"] {
        if let Some(i) = msg.find(sep) {
            return (&msg[..i], &msg[i + sep.len()..]);
        }
    }
    (msg, "")
}

/// Unfolded value of the first header called `name` (case-insensitive) in a header block.
fn header_value(head: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            // Folded continuation: RFC 5322 unfolding removes only the line break.
            if let Some(v) = value.as_mut() {
                v.push_str(line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(name) {
                value = Some(v.trim_start().to_string());
            }
        }
    }
    value
}

/// `boundary` parameter of a multipart Content-Type, quoted or not.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    std::str::from_utf8(pair).ok().and_then(|s| u8::from_str_radix(s, 16).ok())
}

/// Quoted-printable (RFC 2045 §6.7) to bytes; malformed escapes are kept literally.
fn decode_qp(text: &str) -> Vec<u8> {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if let Some(b) = bytes.get(i + 1..i + 3).and_then(hex_byte) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Base64 ignoring line breaks; undecodable input comes back as is so assertions show it.
fn decode_b64(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact.as_bytes()).unwrap_or_else(|_| text.as_bytes().to_vec())
}

fn decode_body(head: &str, body: &str) -> String {
    let encoding = header_value(head, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_qp(body),
        "base64" => decode_b64(body),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Decoded leaf parts of one MIME entity, each as "its headers \n decoded body"; recurses into nested multiparts.
fn decode_entity(head: &str, body: &str, out: &mut Vec<String>, top: bool) {
    let content_type = header_value(head, "Content-Type").unwrap_or_default();
    let Some(b) = boundary(&content_type)
        .filter(|_| content_type.to_ascii_lowercase().starts_with("multipart/"))
    else {
        let decoded = decode_body(head, body);
        out.push(if top { decoded } else { format!("{head}\n{decoded}") });
        return;
    };
    let (open, close) = (format!("--{b}"), format!("--{b}--"));
    let mut part: Option<Vec<&str>> = None; // lines of the part being collected; None before the first delimiter
    for line in body.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']).trim_end();
        if bare == open || bare == close {
            if let Some(lines) = part.take() {
                let text = lines.concat();
                // The CRLF before a delimiter belongs to the delimiter, not the part.
                let text =
                    text.strip_suffix("\r\n").or_else(|| text.strip_suffix('\n')).unwrap_or(&text);
                let (h, b) = split_head(text);
                decode_entity(h, b, out, false);
            }
            if bare == close {
                break;
            }
            part = Some(Vec::new());
        } else if let Some(lines) = part.as_mut() {
            lines.push(line);
        }
    }
}

/// The message made comparable: top-level headers as is, then every leaf MIME part (its headers, then
/// its body decoded from quoted-printable / base64), joined with "\n". A non-multipart message gives
/// headers + "\n" + decoded body.
pub fn decoded_text(data: &str) -> String {
    let (head, body) = split_head(data);
    let mut parts = vec![head.to_string()];
    decode_entity(head, body, &mut parts, true);
    parts.join("\n")
}

/// One RFC 2047 encoded word at the start of `s`: (decoded bytes, length consumed).
fn encoded_word(s: &str) -> Option<(Vec<u8>, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (_charset, rest) = inner.split_once('?')?; // assumed UTF-8 (what Warden/lettre emit)
    let (enc, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match enc.to_ascii_lowercase().as_str() {
        "b" => B64.decode(text).ok()?,
        "q" => decode_qp(&text.replace('_', " ")),
        _ => return None,
    };
    let used = s.len() - rest.len() + end + 2;
    Some((bytes, used))
}

/// Decoded `Subject:` header (RFC 2047 B and Q encoded words, folded lines allowed); "" if absent.
pub fn subject(data: &str) -> String {
    let (head, _) = split_head(data);
    let Some(value) = header_value(head, "Subject") else { return String::new() };
    let mut out: Vec<u8> = Vec::new();
    let mut rest = value.as_str();
    let mut after_word = false;
    while let Some(i) = rest.find("=?") {
        let (before, at) = rest.split_at(i);
        match encoded_word(at) {
            Some((bytes, used)) => {
                // Whitespace between two adjacent encoded words is not part of the text (RFC 2047 §6.2).
                if !(after_word && before.trim().is_empty()) {
                    out.extend_from_slice(before.as_bytes());
                }
                out.extend_from_slice(&bytes);
                rest = &at[used..];
                after_word = true;
            }
            None => {
                out.extend_from_slice(&rest.as_bytes()[..i + 2]);
                rest = &at[2..];
                after_word = false;
            }
        }
    }
    out.extend_from_slice(rest.as_bytes());
    // Bytes are joined before decoding so a character split across words still comes out whole.
    String::from_utf8_lossy(&out).into_owned()
}
