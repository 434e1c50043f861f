//! The providers' wire formats: request bodies, headers, replies and error bodies.

use serde_json::{json, Map, Value};

use super::{LlmConfig, LlmError, Message, Reply, ToolCall, ToolSpec, Usage};

/// Which API the base URL speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI Chat Completions and every compatible service (DeepSeek, ...).
    OpenAi,
    Anthropic,
}

impl Provider {
    /// `openai` (aliases `deepseek`, `openai-compatible`) or `anthropic` (alias
    /// `claude`); empty means the default, `openai`.
    pub fn parse(name: &str) -> Option<Provider> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "openai" | "deepseek" | "openai-compatible" | "openai_compatible" => {
                Some(Provider::OpenAi)
            }
            "anthropic" | "claude" => Some(Provider::Anthropic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }
}

/// The Anthropic base URL may be given with or without its `/v1`.
fn anthropic_base(cfg: &LlmConfig) -> String {
    let base = cfg.base_url.trim_end_matches('/');
    if base.ends_with("/v1") {
        base.to_string()
    } else {
        format!("{base}/v1")
    }
}

pub fn headers(cfg: &LlmConfig) -> Vec<(&'static str, String)> {
    match cfg.provider {
        Provider::OpenAi => vec![("authorization", format!("Bearer {}", cfg.api_key))],
        Provider::Anthropic => {
            vec![("x-api-key", cfg.api_key.clone()), ("anthropic-version", "2023-06-01".into())]
        }
    }
}

pub fn models_url(cfg: &LlmConfig) -> String {
    match cfg.provider {
        Provider::OpenAi => format!("{}/models", cfg.base_url.trim_end_matches('/')),
        Provider::Anthropic => format!("{}/models", anthropic_base(cfg)),
    }
}

/// The URL and body of one request.
pub fn request(
    cfg: &LlmConfig,
    messages: &[Message],
    tools: &[ToolSpec],
    json: bool,
) -> (String, Value) {
    match cfg.provider {
        Provider::OpenAi => openai_request(cfg, messages, tools, json),
        Provider::Anthropic => anthropic_request(cfg, messages, tools, json),
    }
}

fn openai_request(
    cfg: &LlmConfig,
    messages: &[Message],
    tools: &[ToolSpec],
    json: bool,
) -> (String, Value) {
    let msgs: Vec<Value> = messages
        .iter()
        .map(|m| match m {
            Message::System(t) => json!({"role": "system", "content": t}),
            Message::User(t) => json!({"role": "user", "content": t}),
            Message::Assistant { text, tool_calls } => {
                let mut v = json!({"role": "assistant", "content": text});
                if !tool_calls.is_empty() {
                    v["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({"id": c.id, "type": "function",
                                   "function": {"name": c.name, "arguments": c.raw_arguments}})
                        })
                        .collect();
                }
                v
            }
            Message::Tool { call_id, content, .. } => {
                json!({"role": "tool", "tool_call_id": call_id, "content": content})
            }
        })
        .collect();
    let mut body = json!({"model": cfg.model, "temperature": 0.2, "max_tokens": cfg.max_tokens, "messages": msgs});
    if !tools.is_empty() {
        body["tools"] = tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {"name": t.name, "description": t.description,
                       "parameters": t.parameters}})
            })
            .collect();
        body["tool_choice"] = json!("auto");
    }
    if json {
        body["response_format"] = json!({"type": "json_object"});
    }
    (format!("{}/chat/completions", cfg.base_url.trim_end_matches('/')), body)
}

fn anthropic_request(
    cfg: &LlmConfig,
    messages: &[Message],
    tools: &[ToolSpec],
    json: bool,
) -> (String, Value) {
    let mut system: Vec<String> = Vec::new();
    let mut out: Vec<Value> = Vec::new();
    // Consecutive tool results travel together in one user turn, before any text.
    let push = |out: &mut Vec<Value>, role: &str, block: Value| {
        if let Some(last) = out.last_mut().filter(|l| l["role"] == role) {
            if let Some(blocks) = last["content"].as_array_mut() {
                blocks.push(block);
                return;
            }
        }
        out.push(json!({"role": role, "content": [block]}));
    };
    for m in messages {
        match m {
            Message::System(t) => system.push(t.clone()),
            Message::User(t) => push(&mut out, "user", json!({"type": "text", "text": t})),
            Message::Assistant { text, tool_calls } => {
                if let Some(t) = text.as_ref().filter(|t| !t.is_empty()) {
                    push(&mut out, "assistant", json!({"type": "text", "text": t}));
                }
                for c in tool_calls {
                    let input = c.arguments.clone().unwrap_or_else(|| json!({}));
                    push(
                        &mut out,
                        "assistant",
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
            }
            Message::Tool { call_id, content, is_error } => push(
                &mut out,
                "user",
                json!({"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error}),
            ),
        }
    }
    if json {
        system.push("Answer with a single JSON object and nothing else.".into());
    }
    let mut body = json!({"model": cfg.model, "max_tokens": cfg.max_tokens, "temperature": 0.2, "messages": out});
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !tools.is_empty() {
        body["tools"] = tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body["tool_choice"] = json!({"type": "auto"});
    }
    (format!("{}/messages", anthropic_base(cfg)), body)
}

fn usage(v: &Value, prompt: &str, completion: &str) -> Usage {
    Usage {
        prompt_tokens: v[prompt].as_u64().unwrap_or(0),
        completion_tokens: v[completion].as_u64().unwrap_or(0),
    }
}

/// Parses a provider's successful response.
pub fn reply(provider: Provider, v: &Value) -> Result<Reply, LlmError> {
    match provider {
        Provider::OpenAi => {
            let choice = &v["choices"][0];
            let message = choice.get("message").filter(|m| m.is_object()).ok_or_else(|| {
                LlmError::Invalid("the response has no choices[0].message".into())
            })?;
            let mut tool_calls = Vec::new();
            for c in message["tool_calls"].as_array().into_iter().flatten() {
                let raw = match &c["function"]["arguments"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let arguments = serde_json::from_str::<Value>(&raw).ok().filter(Value::is_object);
                tool_calls.push(ToolCall {
                    id: c["id"].as_str().unwrap_or_default().to_string(),
                    name: c["function"]["name"].as_str().unwrap_or_default().to_string(),
                    arguments,
                    raw_arguments: raw,
                });
            }
            Ok(Reply {
                text: message["content"].as_str().map(str::to_string),
                tool_calls,
                finish_reason: choice["finish_reason"].as_str().unwrap_or("other").to_string(),
                usage: usage(&v["usage"], "prompt_tokens", "completion_tokens"),
            })
        }
        Provider::Anthropic => {
            let blocks = v["content"]
                .as_array()
                .ok_or_else(|| LlmError::Invalid("the response has no content blocks".into()))?;
            let mut text = String::new();
            let mut tool_calls = Vec::new();
            for b in blocks {
                match b["type"].as_str() {
                    Some("text") => text.push_str(b["text"].as_str().unwrap_or_default()),
                    Some("tool_use") => tool_calls.push(ToolCall {
                        id: b["id"].as_str().unwrap_or_default().to_string(),
                        name: b["name"].as_str().unwrap_or_default().to_string(),
                        arguments: Some(b["input"].clone()).filter(Value::is_object),
                        raw_arguments: b["input"].to_string(),
                    }),
                    _ => {}
                }
            }
            let finish = match v["stop_reason"].as_str() {
                Some("end_turn") | Some("stop_sequence") => "stop",
                Some("tool_use") => "tool_calls",
                Some("max_tokens") => "length",
                Some("refusal") => "content_filter",
                _ => "other",
            };
            Ok(Reply {
                text: (!text.is_empty()).then_some(text),
                tool_calls,
                finish_reason: finish.to_string(),
                usage: usage(&v["usage"], "input_tokens", "output_tokens"),
            })
        }
    }
}

/// The message of a provider's error body (both providers nest it under `error`), or
/// the start of the body when it is not the documented shape.
pub fn error_message(body: &str) -> String {
    let parsed: Option<Map<String, Value>> = serde_json::from_str(body).ok();
    if let Some(m) = parsed
        .as_ref()
        .and_then(|o| o.get("error"))
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
    {
        return m.to_string();
    }
    let snippet: String = body.chars().take(200).collect();
    if snippet.trim().is_empty() {
        "empty response body".into()
    } else {
        snippet
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cfg(provider: Provider, base: &str) -> LlmConfig {
        LlmConfig {
            provider,
            base_url: base.into(),
            model: "m".into(),
            api_key: "k".into(),
            timeout: Duration::from_secs(5),
            max_tokens: 512,
        }
    }

    fn conversation() -> Vec<Message> {
        let call = ToolCall {
            id: "c1".into(),
            name: "get_host_metrics".into(),
            arguments: Some(json!({"host_id": 1})),
            raw_arguments: "{\"host_id\":1}".into(),
        };
        vec![
            Message::System("be brief".into()),
            Message::User("why?".into()),
            Message::Assistant { text: None, tool_calls: vec![call] },
            Message::Tool { call_id: "c1".into(), content: "cpu 97".into(), is_error: false },
        ]
    }

    #[test]
    fn openai_requests_carry_tools_and_tool_results() {
        let tools = [ToolSpec {
            name: "t".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        }];
        let (url, body) = request(
            &cfg(Provider::OpenAi, "https://api.deepseek.com"),
            &conversation(),
            &tools,
            true,
        );
        assert_eq!(url, "https://api.deepseek.com/chat/completions");
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"host_id\":1}"
        );
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "cpu 97"})
        );
        assert_eq!(body["tools"][0]["function"]["name"], "t");
        assert_eq!(body["response_format"]["type"], "json_object");
    }

    #[test]
    fn anthropic_requests_lift_the_system_prompt_and_send_tool_results_as_user_blocks() {
        let (url, body) = request(
            &cfg(Provider::Anthropic, "https://api.anthropic.com"),
            &conversation(),
            &[],
            false,
        );
        assert_eq!(url, "https://api.anthropic.com/v1/messages");
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["max_tokens"], 512);
        assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
        assert_eq!(body["messages"][1]["content"][0]["input"], json!({"host_id": 1}));
        assert_eq!(body["messages"][2]["role"], "user");
        assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "c1");
    }

    #[test]
    fn replies_parse_for_both_providers() {
        let v = json!({"choices": [{"finish_reason": "tool_calls", "message": {"content": null, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3}});
        let r = reply(Provider::OpenAi, &v).unwrap();
        assert_eq!((r.tool_calls[0].arguments.clone(), r.usage.prompt_tokens), (None, 10));
        let v = json!({"content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t", "name": "f", "input": {"x": 1}}],
                       "stop_reason": "tool_use", "usage": {"input_tokens": 7, "output_tokens": 2}});
        let r = reply(Provider::Anthropic, &v).unwrap();
        assert_eq!((r.text.as_deref(), r.finish_reason.as_str()), (Some("hi"), "tool_calls"));
        assert_eq!(r.tool_calls[0].arguments, Some(json!({"x": 1})));
        assert!(reply(Provider::OpenAi, &json!({"choices": []})).is_err());
    }

    #[test]
    fn error_bodies_yield_their_message() {
        assert_eq!(error_message(r#"{"error":{"message":"bad key","type":"x"}}"#), "bad key");
        assert_eq!(
            error_message(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#
            ),
            "busy"
        );
        assert_eq!(error_message(""), "empty response body");
    }
}
