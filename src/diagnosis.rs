//! Incident diagnosis by an LLM: a bounded tool-calling loop over the diagnostic
//! plugins. Each call the model asks for runs through the [`PluginRunner`] and is
//! reported to `on_call` (the incident timeline records it); the loop ends with the
//! model's conclusion, checked for shape, or with an [`LlmError`] when the model fails,
//! runs out of time, or keeps calling tools past its budget.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use warden_actors::incident::rules::Diagnosis;
use warden_actors::plugins::{registry, Category};

use crate::llm::{parse_json_object, LlmClient, LlmConfig, LlmError, Message, ToolSpec};
use crate::plugins::{PluginCall, PluginRunner};

/// The loop's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Tool calls at most.
    pub max_steps: u32,
    /// Wall-clock budget of the whole diagnosis.
    pub max_time: Duration,
}

const SYSTEM: &str = "You are Warden's incident diagnosis agent. Investigate the incident with the tools \
(read-only diagnostics); call only the tools you need. When you have enough evidence, or when told the budget \
is spent, answer with only a JSON object: {\"conclusion\": string, \"confidence\": number between 0 and 1, \
\"key_findings\": [string], \"suggested_actions\": [string]}. Base every finding on tool results.";

/// The diagnostic plugins as tools.
pub fn tools() -> Vec<ToolSpec> {
    registry()
        .into_iter()
        .filter(|p| p.category == Category::Diagnostic)
        .map(|p| ToolSpec {
            name: p.name.into(),
            description: p.description.into(),
            parameters: p.parameters,
        })
        .collect()
}

/// The conclusion in the shape the timeline needs, or why not.
pub fn conclusion(v: &Value) -> Result<Diagnosis, String> {
    let conclusion = v["conclusion"]
        .as_str()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or("\"conclusion\" must be a non-empty string")?
        .to_string();
    let confidence = v["confidence"].as_f64().ok_or("\"confidence\" must be a number")?;
    if !(0.0..=1.0).contains(&confidence) {
        return Err("\"confidence\" must be between 0 and 1".into());
    }
    let list = |key: &str| -> Result<Vec<String>, String> {
        v[key]
            .as_array()
            .ok_or(format!("\"{key}\" must be a list of strings"))?
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or(format!("\"{key}\" must hold only strings"))
            })
            .collect()
    };
    Ok(Diagnosis {
        conclusion,
        confidence,
        key_findings: list("key_findings")?,
        suggested_actions: list("suggested_actions")?,
    })
}

/// Runs the loop for one incident, described by `facts` (JSON the model reads).
pub async fn diagnose<F, Fut>(
    llm: &LlmClient,
    cfg: &LlmConfig,
    plugins: &PluginRunner,
    incident: &str,
    facts: &Value,
    bounds: Bounds,
    mut on_call: F,
) -> Result<Diagnosis, LlmError>
where
    F: FnMut(PluginCall, u32) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let deadline = Instant::now() + bounds.max_time;
    let tools = tools();
    let mut messages = vec![
        Message::System(SYSTEM.into()),
        Message::User(format!(
            "Incident (JSON):\n{}\nYou may make at most {} tool calls.",
            serde_json::to_string_pretty(facts).unwrap_or_default(),
            bounds.max_steps
        )),
    ];
    let mut steps = 0u32;
    let mut corrected = false;
    let mut over_budget_rounds = 0;
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
        else {
            return Err(LlmError::Timeout(bounds.max_time.as_secs()));
        };
        let reply =
            match tokio::time::timeout(left, chat_once_more(llm, cfg, &messages, &tools)).await {
                Ok(r) => r?,
                Err(_) => return Err(LlmError::Timeout(bounds.max_time.as_secs())),
            };
        if !reply.tool_calls.is_empty() {
            if steps >= bounds.max_steps {
                over_budget_rounds += 1;
                if over_budget_rounds > 1 {
                    return Err(LlmError::Invalid(format!(
                        "the model kept calling tools after its budget of {} calls was spent",
                        bounds.max_steps
                    )));
                }
            }
            messages.push(Message::Assistant {
                text: reply.text.clone(),
                tool_calls: reply.tool_calls.clone(),
            });
            for call in &reply.tool_calls {
                if steps >= bounds.max_steps {
                    messages.push(Message::Tool {
                        call_id: call.id.clone(),
                        content:
                            "Not run: the tool budget is spent. Conclude now with the JSON object."
                                .into(),
                        is_error: true,
                    });
                    continue;
                }
                steps += 1;
                let result = match &call.arguments {
                    Some(args) => plugins.call(&call.name, args.clone(), Some(incident)).await,
                    None => PluginCall {
                        tool: call.name.clone(),
                        parameters: json!({"raw": call.raw_arguments}),
                        result: json!({"error": "the arguments are not a JSON object"}),
                        duration_ms: 0,
                        success: false,
                    },
                };
                let content = crate::incidents::summarised(&result.result).to_string();
                let is_error = !result.success;
                on_call(result, steps).await;
                messages.push(Message::Tool { call_id: call.id.clone(), content, is_error });
            }
            if steps >= bounds.max_steps {
                messages.push(Message::User(
                    "The tool budget is spent. Conclude now with only the JSON object.".into(),
                ));
            }
            continue;
        }
        let text = reply.text.unwrap_or_default();
        match parse_json_object(&text).and_then(|v| conclusion(&v)) {
            Ok(d) => return Ok(d),
            Err(why) if !corrected => {
                corrected = true;
                messages.push(Message::Assistant { text: Some(text), tool_calls: vec![] });
                messages.push(Message::User(format!(
                    "That answer could not be used: {why}. Answer again with only the JSON object."
                )));
            }
            Err(why) => return Err(LlmError::Invalid(why)),
        }
    }
}

/// One request, tried a second time after a transient failure.
async fn chat_once_more(
    llm: &LlmClient,
    cfg: &LlmConfig,
    messages: &[Message],
    tools: &[ToolSpec],
) -> Result<crate::llm::Reply, LlmError> {
    match llm.chat(cfg, messages, tools, false).await {
        Err(e) if e.retryable() => llm.chat(cfg, messages, tools, false).await,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conclusions_are_checked() {
        let ok = json!({"conclusion": "disk full", "confidence": 0.8, "key_findings": ["97 %"], "suggested_actions": []});
        assert_eq!(conclusion(&ok).unwrap().confidence, 0.8);
        assert!(conclusion(&json!({"conclusion": "x", "confidence": 2, "key_findings": [], "suggested_actions": []})).is_err());
        assert!(conclusion(&json!({"conclusion": "", "confidence": 0.5, "key_findings": [], "suggested_actions": []})).is_err());
        assert!(conclusion(&json!({"conclusion": "x", "confidence": 0.5, "key_findings": "no"}))
            .is_err());
    }

    #[test]
    fn only_diagnostic_plugins_are_offered() {
        let t = tools();
        assert!(!t.is_empty());
        assert!(t.iter().all(|t| registry()
            .iter()
            .any(|p| p.name == t.name && p.category == Category::Diagnostic)));
    }
}
