//! Delivery to the outside world: one request per attempt, judged the way each platform
//! reports failure (PROTOCOLS.md §1, §2, §5, §9). Retries, rate limits and the outbox
//! are the worker's business, not this module's.

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use warden_actors::clock::Clock;
use warden_actors::notify::retry::{judge, Verdict};

use super::channel::{ChannelConfig, EmailConfig, SmtpSecurity};
use super::message::Message;
use super::signing::{body_signature, dingtalk_sign, feishu_sign};

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    /// HTTP status (or SMTP reply code) when there was a reply.
    pub response_code: Option<i64>,
    pub error: Option<String>,
    /// The platform's id of the sent message (Feishu app bot), to update it later.
    pub external_id: Option<String>,
}

impl Outcome {
    fn failed(verdict: Verdict, code: Option<i64>, error: impl Into<String>) -> Self {
        Outcome { verdict, response_code: code, error: Some(error.into()), external_id: None }
    }
}

/// The Feishu app's current `(app_id, app_secret)`, `None` when not configured; read
/// at every use, so credentials changed with `PUT /api/config` apply at once.
pub type FeishuCredentials = std::sync::Arc<dyn Fn() -> Option<(String, String)> + Send + Sync>;

/// Feishu app credentials and the cached tenant access token (of the app it was
/// fetched for).
pub struct FeishuApp {
    credentials: FeishuCredentials,
    pub api_base_url: String,
    token: Mutex<Option<(String, String, Instant)>>,
}

/// Everything needed to send: the HTTP client, Feishu app credentials, timeouts.
pub struct Transports {
    http: reqwest::Client,
    timeout: Duration,
    feishu: FeishuApp,
    clock: std::sync::Arc<dyn Clock>,
}

impl Transports {
    pub fn new(
        timeout: Duration,
        feishu_api_base_url: &str,
        credentials: FeishuCredentials,
        clock: std::sync::Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let feishu = FeishuApp {
            credentials,
            api_base_url: feishu_api_base_url.trim_end_matches('/').to_string(),
            token: Mutex::new(None),
        };
        Ok(Transports { http, timeout, feishu, clock })
    }

    pub fn feishu_app_configured(&self) -> bool {
        (self.feishu.credentials)().is_some()
    }

    /// One delivery attempt of `msg` through `config`.
    pub async fn send(&self, config: &ChannelConfig, msg: &Message) -> Outcome {
        match config {
            ChannelConfig::DingTalk { webhook_url, secret } => {
                let mut url = match reqwest::Url::parse(webhook_url) {
                    Ok(u) => u,
                    Err(_) => return Outcome::failed(Verdict::GiveUp, None, "invalid webhook_url"),
                };
                if let Some(secret) = secret {
                    let ts = self.clock.now().timestamp_millis();
                    // Raw base64: the query serializer encodes it (PROTOCOLS.md §1).
                    url.query_pairs_mut()
                        .append_pair("timestamp", &ts.to_string())
                        .append_pair("sign", &dingtalk_sign(secret, ts));
                }
                let body = json!({
                    "msgtype": "markdown",
                    "markdown": {"title": truncate(&msg.title, 100), "text": msg.body},
                });
                self.post_robot(url, &body).await
            }
            ChannelConfig::WeCom { webhook_url } => {
                let text = truncate(&msg.body, 4096);
                let body = json!({"msgtype": "markdown", "markdown": {"content": text}});
                match reqwest::Url::parse(webhook_url) {
                    Ok(url) => self.post_robot(url, &body).await,
                    Err(_) => Outcome::failed(Verdict::GiveUp, None, "invalid webhook_url"),
                }
            }
            ChannelConfig::FeishuBot { webhook_url, secret } => {
                // Custom bots cannot call back, so approval cards carry no buttons (§2).
                let mut body =
                    json!({"msg_type": "interactive", "card": feishu_card(msg, false, None)});
                if let Some(secret) = secret {
                    let ts = self.clock.now().timestamp();
                    body["timestamp"] = json!(ts.to_string());
                    body["sign"] = json!(feishu_sign(secret, ts));
                }
                match reqwest::Url::parse(webhook_url) {
                    Ok(url) => self.post_robot(url, &body).await,
                    Err(_) => Outcome::failed(Verdict::GiveUp, None, "invalid webhook_url"),
                }
            }
            ChannelConfig::FeishuApp { receive_id, receive_id_type } => {
                let card = feishu_card(msg, true, None);
                self.feishu_app_send(receive_id, receive_id_type, &card).await
            }
            ChannelConfig::Webhook { url, method, headers, secret } => {
                self.webhook(url, method, headers, secret.as_deref(), msg).await
            }
            ChannelConfig::Email(email) => self.email(email, msg).await,
        }
    }

    async fn post_robot(&self, url: reqwest::Url, body: &Value) -> Outcome {
        let reply = self.http.post(url).json(body).send().await;
        robot_outcome(reply).await
    }

    async fn webhook(
        &self,
        url: &str,
        method: &str,
        headers: &std::collections::BTreeMap<String, String>,
        secret: Option<&str>,
        msg: &Message,
    ) -> Outcome {
        let body = serde_json::to_vec(&msg.webhook_body()).unwrap_or_default();
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut request = self.http.request(method, url).header(CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(secret) = secret {
            request = request.header("X-Warden-Signature", body_signature(secret, &body));
        }
        match request.body(body).send().await {
            Ok(reply) => {
                let status = reply.status().as_u16();
                let verdict = judge(Some(status), None);
                let error = match verdict {
                    Verdict::Delivered => None,
                    _ => Some(format!("HTTP {status}: {}", reply_snippet(reply).await)),
                };
                Outcome {
                    verdict,
                    response_code: Some(i64::from(status)),
                    error,
                    external_id: None,
                }
            }
            Err(e) => Outcome::failed(Verdict::Retry, None, request_error(e)),
        }
    }

    async fn email(&self, cfg: &EmailConfig, msg: &Message) -> Outcome {
        use lettre::message::{Mailbox, MultiPart};
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};

        let from: Mailbox = match cfg.from.parse() {
            Ok(f) => f,
            Err(e) => return Outcome::failed(Verdict::GiveUp, None, format!("from: {e}")),
        };
        let mut builder = Mail::builder().from(from).subject(msg.title.clone());
        for r in &cfg.recipients {
            match r.parse::<Mailbox>() {
                Ok(to) => builder = builder.to(to),
                Err(e) => {
                    return Outcome::failed(Verdict::GiveUp, None, format!("recipient {r}: {e}"))
                }
            }
        }
        let html = format!(
            "<html><body><h3>{}</h3><p>{}</p></body></html>",
            html_escape(&msg.title),
            html_escape(&msg.body).replace('\n', "<br>\n")
        );
        let mail =
            match builder.multipart(MultiPart::alternative_plain_html(msg.body.clone(), html)) {
                Ok(m) => m,
                Err(e) => {
                    return Outcome::failed(
                        Verdict::GiveUp,
                        None,
                        format!("could not build the email: {e}"),
                    )
                }
            };
        let builder = match cfg.security {
            SmtpSecurity::None => {
                Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.smtp_host))
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.smtp_host)
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.smtp_host),
        };
        let mut builder = match builder {
            Ok(b) => b.port(cfg.smtp_port).timeout(Some(self.timeout)),
            Err(e) => return Outcome::failed(Verdict::GiveUp, None, format!("smtp: {e}")),
        };
        if let (Some(user), Some(password)) = (&cfg.smtp_user, &cfg.smtp_password) {
            builder =
                builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    user.clone(),
                    password.clone(),
                ));
        }
        match builder.build().send(mail).await {
            Ok(reply) => Outcome {
                verdict: Verdict::Delivered,
                response_code: Some(i64::from(u16::from(reply.code()))),
                error: None,
                external_id: None,
            },
            Err(e) => {
                let code = e.status().map(|c| i64::from(u16::from(c)));
                let verdict = if e.is_permanent() { Verdict::GiveUp } else { Verdict::Retry };
                Outcome::failed(verdict, code, format!("smtp: {e}"))
            }
        }
    }

    /// The tenant access token, from the cache or fetched (PROTOCOLS.md §2).
    async fn feishu_token(
        &self,
        app: &FeishuApp,
        (app_id, app_secret): &(String, String),
        fresh: bool,
    ) -> Result<String, Outcome> {
        let mut cached = app.token.lock().await;
        if let Some((for_app, token, expires)) = cached.as_ref() {
            if !fresh && for_app == app_id && Instant::now() < *expires {
                return Ok(token.clone());
            }
        }
        let url = format!("{}/open-apis/auth/v3/tenant_access_token/internal", app.api_base_url);
        let reply = self
            .http
            .post(url)
            .json(&json!({"app_id": app_id, "app_secret": app_secret}))
            .send()
            .await
            .map_err(|e| {
                Outcome::failed(Verdict::Retry, None, format!("feishu token: {}", request_error(e)))
            })?;
        let status = reply.status().as_u16();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        let code = body.get("code").and_then(Value::as_i64);
        match (code, body.get("tenant_access_token").and_then(Value::as_str)) {
            (Some(0), Some(token)) => {
                let expire = body.get("expire").and_then(Value::as_u64).unwrap_or(7200);
                // Refresh five minutes early so a token never expires in flight.
                let life = Duration::from_secs(expire.saturating_sub(300).max(60));
                *cached = Some((app_id.clone(), token.to_string(), Instant::now() + life));
                Ok(token.to_string())
            }
            _ => Err(Outcome::failed(
                judge(Some(status), code.or(Some(-1))),
                Some(i64::from(status)),
                format!(
                    "feishu token: code {}: {}",
                    code.unwrap_or(-1),
                    body.get("msg").and_then(Value::as_str).unwrap_or("no token")
                ),
            )),
        }
    }

    /// Calls the Feishu open API with the app's token; a rejected token is refreshed
    /// once.
    async fn feishu_call(&self, method: reqwest::Method, path: &str, body: &Value) -> Outcome {
        let app = &self.feishu;
        let Some(credentials) = (app.credentials)() else {
            return Outcome::failed(
                Verdict::GiveUp,
                None,
                "feishu.app_id/app_secret are not configured",
            );
        };
        let mut fresh = false;
        loop {
            let token = match self.feishu_token(app, &credentials, fresh).await {
                Ok(t) => t,
                Err(outcome) => return outcome,
            };
            let reply = self
                .http
                .request(method.clone(), format!("{}{path}", app.api_base_url))
                .bearer_auth(token)
                .json(body)
                .send()
                .await;
            let outcome = robot_outcome(reply).await;
            // 99991661/99991663/99991668: missing, invalid or expired tenant token.
            let token_rejected = outcome.error.as_deref().is_some_and(|e| {
                ["99991661", "99991663", "99991668"].iter().any(|c| e.contains(c))
            });
            if token_rejected && !fresh {
                fresh = true;
                continue;
            }
            return outcome;
        }
    }

    async fn feishu_app_send(
        &self,
        receive_id: &str,
        receive_id_type: &str,
        card: &Value,
    ) -> Outcome {
        let body = json!({"receive_id": receive_id, "msg_type": "interactive", "content": card.to_string()});
        let path = format!("/open-apis/im/v1/messages?receive_id_type={receive_id_type}");
        self.feishu_call(reqwest::Method::POST, &path, &body).await
    }

    /// Replaces a card sent by the app bot (an approval request once it is decided).
    pub async fn feishu_update_card(&self, message_id: &str, card: &Value) -> Outcome {
        let body = json!({"content": card.to_string()});
        let path = format!("/open-apis/im/v1/messages/{message_id}");
        self.feishu_call(reqwest::Method::PATCH, &path, &body).await
    }
}

/// Judges a chat platform's reply: HTTP status first, then `errcode` / `code` /
/// `StatusCode` in the body. A 2xx without any of them is never taken for success.
async fn robot_outcome(reply: Result<reqwest::Response, reqwest::Error>) -> Outcome {
    let reply = match reply {
        Ok(r) => r,
        Err(e) => return Outcome::failed(Verdict::Retry, None, request_error(e)),
    };
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code =
        ["errcode", "code", "StatusCode"].iter().find_map(|k| body.get(*k).and_then(Value::as_i64));
    let message = ["errmsg", "msg", "StatusMessage"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .unwrap_or("");
    let response_code = Some(i64::from(status));
    let verdict = judge(Some(status), code);
    match (verdict, code) {
        (Verdict::Delivered, Some(_)) => Outcome {
            verdict,
            response_code,
            error: None,
            external_id: body
                .pointer("/data/message_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        (Verdict::Delivered, None) => Outcome::failed(
            Verdict::GiveUp,
            response_code,
            format!("unrecognised reply (no errcode/code): {}", truncate(&text, 200)),
        ),
        (_, Some(code)) => {
            Outcome::failed(verdict, response_code, format!("errcode {code}: {message}"))
        }
        (_, None) => Outcome::failed(
            verdict,
            response_code,
            format!("HTTP {status}: {}", truncate(&text, 200)),
        ),
    }
}

async fn reply_snippet(reply: reqwest::Response) -> String {
    truncate(&reply.text().await.unwrap_or_default(), 200)
}

/// A request error without its URL (robot URLs carry credentials).
fn request_error(e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if timeout {
        format!("timed out: {text}")
    } else {
        text
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The Feishu interactive card for a message (card JSON 1.0, PROTOCOLS.md §2). An
/// approval request sent by the app bot gets Approve/Reject buttons whose value names
/// the run; `decided` replaces them with the decision.
pub fn feishu_card(msg: &Message, buttons: bool, decided: Option<&str>) -> Value {
    let color = match (msg.status.as_deref(), msg.severity.as_deref()) {
        (Some("resolved"), _) => "green",
        _ if decided.is_some() => "grey",
        (_, Some("critical")) => "red",
        (_, Some("warning")) => "orange",
        _ if msg.is_approval() => "orange",
        _ => "blue",
    };
    let mut elements = vec![json!({"tag": "div", "text": {"tag": "lark_md", "content": msg.body}})];
    match (decided, msg.run_id) {
        (Some(decision), _) => {
            elements.push(json!({"tag": "div", "text": {"tag": "lark_md", "content": decision}}));
        }
        (None, Some(run_id)) if buttons && msg.is_approval() => {
            // The contract `/lark/card/action` reads (issue 8): {action, remediation_id}.
            let run = run_id;
            elements.push(json!({"tag": "action", "actions": [
                {"tag": "button", "type": "primary", "text": {"tag": "plain_text", "content": "Approve / 批准"},
                 "value": {"action": "approve", "remediation_id": run}},
                {"tag": "button", "type": "danger", "text": {"tag": "plain_text", "content": "Reject / 拒绝"},
                 "value": {"action": "reject", "remediation_id": run}},
            ]}));
        }
        _ => {}
    }
    json!({
        "config": {"wide_screen_mode": true},
        "header": {"template": color, "title": {"tag": "plain_text", "content": msg.title}},
        "elements": elements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> Message {
        Message {
            kind: super::super::message::kind::APPROVAL_REQUESTED.into(),
            title: "Approval needed: run #42".into(),
            body: "**Action**: restart nginx".into(),
            severity: Some("warning".into()),
            status: None,
            alert_id: Some(7),
            run_id: Some(42),
            vars: Default::default(),
        }
    }

    #[test]
    fn approval_cards_carry_buttons_only_from_the_app_bot() {
        let card = feishu_card(&approval(), true, None);
        let actions = &card["elements"][1]["actions"];
        assert_eq!(actions[0]["value"], json!({"action": "approve", "remediation_id": 42}));
        assert_eq!(actions[1]["value"], json!({"action": "reject", "remediation_id": 42}));
        let custom = feishu_card(&approval(), false, None);
        assert_eq!(custom["elements"].as_array().map(Vec::len), Some(1), "no buttons: {custom}");
        let decided = feishu_card(&approval(), true, Some("Approved by ops"));
        assert_eq!(decided["elements"][1]["text"]["content"], "Approved by ops");
        assert_eq!(decided["header"]["template"], "grey");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("磁盘满", 4), "磁");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
