//! The LLM client: OpenAI-compatible Chat Completions (DeepSeek by default) and the
//! Anthropic Messages API (`shared/PROTOCOLS.md` §7, §8), behind one conversation model
//! with tool calls. Structured answers are requested as JSON and checked against the
//! shape the caller expects; a failed or invalid answer is retried once, then reported
//! as an [`LlmError`] (the routes turn it into a 502), never replaced by a made-up one.

mod wire;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::integrations::live::LlmSettings;
use crate::telemetry::metrics::LlmMetrics;

pub use wire::Provider;

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    System(String),
    User(String),
    /// What the model said, with the tool calls it asked for (sent back as received).
    Assistant {
        text: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call.
    Tool {
        call_id: String,
        content: String,
        is_error: bool,
    },
}

/// A tool the model may call: a name, what it does, and a JSON Schema of its arguments.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A call the model asked for. `arguments` is `None` when the model sent arguments that
/// are not a JSON object (OpenAI sends them as a string that may be invalid).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Option<Value>,
    pub raw_arguments: String,
}

/// Token counts of one exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The model's answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `tool_calls`, `length`, ... as the provider said it (Anthropic's names
    /// mapped onto OpenAI's).
    pub finish_reason: String,
    pub usage: Usage,
}

/// Why the model could not give an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("no LLM is configured (set LLM_API_KEY)")]
    NotConfigured,
    #[error("the LLM did not answer within {0} s")]
    Timeout(u64),
    #[error("could not reach the LLM at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the LLM answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the LLM's answer could not be used: {0}")]
    Invalid(String),
}

impl LlmError {
    /// Whether trying again may help (rate limits, server errors, timeouts, garbage).
    pub fn retryable(&self) -> bool {
        match self {
            LlmError::NotConfigured => false,
            LlmError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => true,
        }
    }
}

/// The settings of one call, resolved from the live integration settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    pub provider: Provider,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    pub timeout: Duration,
    pub max_tokens: u32,
}

impl LlmConfig {
    /// `None` when no API key is set (the rules engine answers instead).
    pub fn from_settings(s: &LlmSettings) -> Option<LlmConfig> {
        if s.api_key.is_empty() {
            return None;
        }
        let provider = Provider::parse(&s.provider)?;
        Some(LlmConfig {
            provider,
            base_url: s.base_url.trim_end_matches('/').to_string(),
            model: s.model.clone(),
            api_key: s.api_key.clone(),
            timeout: Duration::from_secs(s.timeout_secs.max(1)),
            max_tokens: s.max_tokens,
        })
    }
}

/// What the last reachability check found, for `/api/status`.
#[derive(Debug, Clone)]
struct Checked {
    config: LlmConfig,
    at: Instant,
    result: Result<(), String>,
}

/// How long a reachability check is trusted.
const CHECK_TTL: Duration = Duration::from_secs(60);

/// The HTTP client for LLM providers, with its metrics.
pub struct LlmClient {
    http: reqwest::Client,
    metrics: std::sync::Arc<LlmMetrics>,
    checked: Mutex<Option<Checked>>,
}

impl LlmClient {
    pub fn new(metrics: std::sync::Arc<LlmMetrics>) -> anyhow::Result<LlmClient> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(LlmClient { http, metrics, checked: Mutex::new(None) })
    }

    pub fn metrics(&self) -> &LlmMetrics {
        &self.metrics
    }

    /// One request: the conversation (and tools) in, the model's reply out. `json`
    /// asks for a JSON object answer.
    pub async fn chat(
        &self,
        cfg: &LlmConfig,
        messages: &[Message],
        tools: &[ToolSpec],
        json: bool,
    ) -> Result<Reply, LlmError> {
        let (url, body) = wire::request(cfg, messages, tools, json);
        let started = Instant::now();
        let mut req = self.http.post(&url).timeout(cfg.timeout).json(&body);
        for (name, value) in wire::headers(cfg) {
            req = req.header(name, value);
        }
        let outcome = async {
            let res = req.send().await.map_err(|e| transport_error(cfg, &url, &e))?;
            let status = res.status().as_u16();
            let text = res.text().await.map_err(|e| transport_error(cfg, &url, &e))?;
            if status >= 400 {
                return Err(LlmError::Status { status, message: wire::error_message(&text) });
            }
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| LlmError::Invalid(format!("the response is not JSON ({e})")))?;
            wire::reply(cfg.provider, &v)
        }
        .await;
        let usage = outcome.as_ref().map(|r| r.usage).unwrap_or_default();
        self.metrics.record(
            cfg.provider.as_str(),
            outcome.is_ok(),
            started.elapsed(),
            usage.prompt_tokens,
            usage.completion_tokens,
        );
        if let Err(e) = &outcome {
            tracing::warn!(provider = cfg.provider.as_str(), error = %e, "LLM request failed");
        }
        outcome
    }

    /// A structured answer: the model is asked for a JSON object, which `check` turns
    /// into `T` or refuses with a reason. A failed request or a refused answer is tried
    /// once more (the second time telling the model what was wrong); the second failure
    /// is the error.
    pub async fn json<T>(
        &self,
        cfg: &LlmConfig,
        system: &str,
        user: &str,
        check: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<T, LlmError> {
        let mut messages =
            vec![Message::System(system.to_string()), Message::User(user.to_string())];
        let mut last = LlmError::Invalid("no attempt was made".into());
        for attempt in 0..2 {
            match self.chat(cfg, &messages, &[], true).await {
                Ok(reply) => {
                    let text = reply.text.unwrap_or_default();
                    match parse_json_object(&text).and_then(|v| check(&v)) {
                        Ok(t) => return Ok(t),
                        Err(why) => {
                            last = LlmError::Invalid(why.clone());
                            if attempt == 0 {
                                messages.push(Message::Assistant {
                                    text: Some(text),
                                    tool_calls: vec![],
                                });
                                messages.push(Message::User(format!(
                                    "That answer could not be used: {why}. Answer again with only the JSON object in the requested shape."
                                )));
                            }
                        }
                    }
                }
                Err(e) if e.retryable() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Whether the configured provider answers with these credentials (its model list),
    /// remembered for a minute so `/api/status` stays cheap.
    pub async fn check(&self, cfg: &LlmConfig) -> Result<(), String> {
        if let Some(c) = self.checked.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if c.config == *cfg && c.at.elapsed() < CHECK_TTL {
                return c.result.clone();
            }
        }
        let url = wire::models_url(cfg);
        let mut req = self.http.get(&url).timeout(cfg.timeout.min(Duration::from_secs(5)));
        for (name, value) in wire::headers(cfg) {
            req = req.header(name, value);
        }
        let result = match req.send().await {
            Ok(res) if res.status().is_success() => Ok(()),
            Ok(res) => {
                let status = res.status().as_u16();
                let text = res.text().await.unwrap_or_default();
                Err(format!("HTTP {status}: {}", wire::error_message(&text)))
            }
            Err(e) => Err(transport_error(cfg, &url, &e).to_string()),
        };
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Checked { config: cfg.clone(), at: Instant::now(), result: result.clone() });
        result
    }
}

fn transport_error(cfg: &LlmConfig, url: &str, e: &reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout(cfg.timeout.as_secs())
    } else {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        LlmError::Unreachable { url: url.to_string(), message }
    }
}

/// The JSON object in a model's answer: the whole text, or the outermost `{...}` in it
/// (models wrap JSON in prose or code fences despite being asked not to).
pub fn parse_json_object(text: &str) -> Result<Value, String> {
    let text = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    let (Some(start), Some(end)) = (text.find('{'), text.rfind('}')) else {
        return Err("the answer holds no JSON object".into());
    };
    if end <= start {
        return Err("the answer holds no JSON object".into());
    }
    match serde_json::from_str::<Value>(&text[start..=end]) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the answer is not a JSON object".into()),
        Err(e) => Err(format!("the answer is not valid JSON ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_are_found_in_wrapped_answers() {
        assert_eq!(parse_json_object("{\"a\": 1}").unwrap()["a"], 1);
        assert_eq!(
            parse_json_object("Here:\n```json\n{\"a\": {\"b\": 2}}\n```").unwrap()["a"]["b"],
            2
        );
        assert!(parse_json_object("[1, 2]").is_err());
        assert!(parse_json_object("no json here").is_err());
        assert!(parse_json_object("{\"a\": }").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(LlmError::Status { status: 503, message: String::new() }.retryable());
        assert!(LlmError::Status { status: 429, message: String::new() }.retryable());
        assert!(!LlmError::Status { status: 401, message: String::new() }.retryable());
        assert!(LlmError::Invalid("x".into()).retryable());
        assert!(!LlmError::NotConfigured.retryable());
    }
}
