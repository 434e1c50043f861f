//! A loopback LLM that speaks both OpenAI Chat Completions (`POST /v1/chat/completions`)
//! and the Anthropic Messages API (`POST /v1/messages`), plus `GET /v1/models`. It checks
//! each request the way the real services would (auth headers, model, message order,
//! tool results answering earlier tool calls) and answers from a script.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The assistant's text.
    Text(String),
    /// A JSON object as the assistant's text.
    Json(Value),
    /// Tool calls: (name, arguments).
    Tools(Vec<(String, Value)>),
    /// OpenAI only: a tool call whose `arguments` string is not JSON.
    BrokenToolCall(String),
    /// An HTTP error status with the provider's error body.
    Status(u16),
    /// A 200 whose body is not JSON.
    Garbage,
}

#[derive(Default)]
struct StubState {
    api_key: String,
    model: String,
    script: VecDeque<Answer>,
    /// Every request body, in order.
    requests: Vec<(String, Value)>,
    /// What was wrong with requests (a real service would have refused them).
    problems: Vec<String>,
    counter: u64,
}

type Shared = Arc<Mutex<StubState>>;

fn lock(s: &Shared) -> MutexGuard<'_, StubState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct LlmStub {
    addr: std::net::SocketAddr,
    state: Shared,
    task: JoinHandle<()>,
}

impl Drop for LlmStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LlmStub {
    pub async fn start(api_key: &str, model: &str) -> LlmStub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind llm stub");
        let addr = listener.local_addr().expect("llm stub address");
        let state: Shared = Arc::default();
        {
            let mut st = lock(&state);
            st.api_key = api_key.into();
            st.model = model.into();
        }
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LlmStub { addr, state, task }
    }

    /// The OpenAI-compatible base URL (`.../v1`).
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The Anthropic base URL (the client adds `/v1`).
    pub fn anthropic_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.state).script.extend(answers);
    }

    /// Chat requests received: (path, body).
    pub fn requests(&self) -> Vec<(String, Value)> {
        lock(&self.state).requests.clone()
    }

    pub fn problems(&self) -> Vec<String> {
        lock(&self.state).problems.clone()
    }

    pub fn remaining(&self) -> usize {
        lock(&self.state).script.len()
    }
}

fn error(status: u16, anthropic: bool, message: &str) -> Response {
    let body = if anthropic {
        json!({"type": "error", "error": {"type": "api_error", "message": message}})
    } else {
        json!({"error": {"message": message, "type": "server_error", "code": null}})
    };
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body))
        .into_response()
}

/// What a real service would refuse in this request, if anything.
fn check(st: &StubState, anthropic: bool, headers: &HeaderMap, body: &Value) -> Option<String> {
    let header =
        |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if anthropic {
        if header("x-api-key") != st.api_key {
            return Some("x-api-key missing or wrong".into());
        }
        if header("anthropic-version").is_empty() {
            return Some("anthropic-version header missing".into());
        }
        if !body["max_tokens"].is_u64() {
            return Some("max_tokens is required".into());
        }
    } else if header("authorization") != format!("Bearer {}", st.api_key) {
        return Some("Authorization: Bearer <key> missing or wrong".into());
    }
    if body["model"] != st.model.as_str() {
        return Some(format!("model {} is not {}", body["model"], st.model));
    }
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Some("messages must be a non-empty array".into());
    };
    // Every tool result must answer a tool call made in the turn before it.
    let mut open_calls: Vec<String> = Vec::new();
    for m in messages {
        let role = m["role"].as_str().unwrap_or_default();
        if anthropic {
            if role == "system" {
                return Some("system must be top-level, not a message".into());
            }
            for b in m["content"].as_array().into_iter().flatten() {
                match b["type"].as_str() {
                    Some("tool_use") => {
                        open_calls.push(b["id"].as_str().unwrap_or_default().into())
                    }
                    Some("tool_result") => {
                        let id = b["tool_use_id"].as_str().unwrap_or_default();
                        if !open_calls.iter().any(|c| c == id) {
                            return Some(format!("tool_result {id} answers no tool_use"));
                        }
                    }
                    _ => {}
                }
            }
        } else {
            for c in m["tool_calls"].as_array().into_iter().flatten() {
                open_calls.push(c["id"].as_str().unwrap_or_default().into());
            }
            if role == "tool" {
                let id = m["tool_call_id"].as_str().unwrap_or_default();
                if !open_calls.iter().any(|c| c == id) {
                    return Some(format!("tool message {id} answers no tool call"));
                }
            }
        }
    }
    if let Some(tools) = body["tools"].as_array() {
        for t in tools {
            let ok = if anthropic {
                t["name"].is_string() && t["input_schema"].is_object()
            } else {
                t["type"] == "function"
                    && t["function"]["name"].is_string()
                    && t["function"]["parameters"].is_object()
            };
            if !ok {
                return Some(format!("malformed tool {t}"));
            }
        }
    }
    None
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path = uri.path().to_string();
    let anthropic = path == "/v1/messages";
    if method == Method::GET && path == "/v1/models" {
        let st = lock(&state);
        let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {}", st.api_key))
            || headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(st.api_key.as_str());
        return if ok {
            axum::Json(json!({"object": "list", "data": [{"id": st.model, "object": "model"}]}))
                .into_response()
        } else {
            error(401, false, "invalid api key")
        };
    }
    if method != Method::POST || !(anthropic || path == "/v1/chat/completions") {
        return error(404, anthropic, "no such endpoint");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(400, anthropic, "body is not JSON");
    };
    let mut st = lock(&state);
    st.requests.push((path.clone(), body.clone()));
    if let Some(problem) = check(&st, anthropic, &headers, &body) {
        st.problems.push(problem.clone());
        return error(400, anthropic, &problem);
    }
    let Some(answer) = st.script.pop_front() else {
        return error(500, anthropic, "the test script has no answer left");
    };
    st.counter += 1;
    let n = st.counter;
    let (text, calls, raw_args): (Option<String>, Vec<(String, Value)>, Option<String>) =
        match answer {
            Answer::Status(code) => return error(code, anthropic, "scripted failure"),
            Answer::Garbage => return (StatusCode::OK, "<html>not json</html>").into_response(),
            Answer::Text(t) => (Some(t), vec![], None),
            Answer::Json(v) => (Some(v.to_string()), vec![], None),
            Answer::Tools(calls) => (None, calls, None),
            Answer::BrokenToolCall(name) => {
                (None, vec![(name, Value::Null)], Some("{\"host_id\": ".into()))
            }
        };
    let reply = if anthropic {
        let mut content: Vec<Value> = Vec::new();
        if let Some(t) = &text {
            content.push(json!({"type": "text", "text": t}));
        }
        for (i, (name, args)) in calls.iter().enumerate() {
            content.push(json!({"type": "tool_use", "id": format!("toolu_{n}_{i}"), "name": name, "input": args}));
        }
        json!({"id": format!("msg_{n}"), "type": "message", "role": "assistant", "model": st.model, "content": content,
               "stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" }, "stop_sequence": null,
               "usage": {"input_tokens": 100, "output_tokens": 20}})
    } else {
        let tool_calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| {
                let arguments = raw_args.clone().unwrap_or_else(|| args.to_string());
                json!({"id": format!("call_{n}_{i}"), "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        let mut message = json!({"role": "assistant", "content": text});
        if !tool_calls.is_empty() {
            message["tool_calls"] = json!(tool_calls);
        }
        json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion", "model": st.model,
               "choices": [{"index": 0, "finish_reason": if calls.is_empty() { "stop" } else { "tool_calls" }, "message": message}],
               "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})
    };
    axum::Json(reply).into_response()
}
