//! Integration settings that `PUT /api/config` (seed 001) changes at run time: the LLM,
//! Feishu credentials and alert bots, allowed namespaces, the replica-change bound and
//! the monitoring switches. The configuration file gives the starting values; stored
//! overrides (table `integration_config`) win. `FORBIDDEN_VERBS` and `HOURLY_QUOTA` are
//! runtime settings (one source of truth with `/api/v1/settings`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{Config, FeishuConfig};

/// What a key of `PUT /api/config` holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Text,
    Secret,
    Url,
    /// An integer within the range.
    Int(i64, i64),
    /// A number within `(0, max]`.
    Fraction(f64),
    List,
    Bool,
    /// One of the names.
    Choice(&'static [&'static str]),
}

/// Every key `PUT /api/config` accepts (canonical name, kind); `LARK_*` are aliases of
/// the `FEISHU_*` keys.
pub const KEYS: &[(&str, Kind)] = &[
    (
        "LLM_PROVIDER",
        Kind::Choice(&["openai", "anthropic", "deepseek", "claude", "openai-compatible"]),
    ),
    ("LLM_MODEL", Kind::Text),
    ("LLM_BASE_URL", Kind::Url),
    ("LLM_TIMEOUT", Kind::Int(1, 3600)),
    ("LLM_API_KEY", Kind::Secret),
    ("FEISHU_APP_ID", Kind::Text),
    ("FEISHU_APP_SECRET", Kind::Secret),
    ("FEISHU_VERIFICATION_TOKEN", Kind::Secret),
    ("FEISHU_ENCRYPT_KEY", Kind::Secret),
    ("ALERT_BOT_IDS", Kind::List),
    ("ALLOWED_NAMESPACES", Kind::List),
    ("MAX_REPLICA_CHANGE", Kind::Fraction(10.0)),
    ("FORBIDDEN_VERBS", Kind::List),
    ("HOURLY_QUOTA", Kind::Int(0, 100_000)),
    ("ENABLE_POSTGRESQL", Kind::Bool),
    ("ENABLE_REDIS", Kind::Bool),
    ("ENABLE_AWS", Kind::Bool),
];

/// The keys that are runtime settings, and the setting each one is.
pub const AS_SETTINGS: &[(&str, &str)] =
    &[("FORBIDDEN_VERBS", "forbidden_verbs"), ("HOURLY_QUOTA", "hourly_quota")];

/// The canonical key for a submitted one (`LARK_APP_ID` → `FEISHU_APP_ID`).
pub fn canonical(key: &str) -> Option<(&'static str, Kind)> {
    let upper = key.trim().to_ascii_uppercase();
    let name = match upper.strip_prefix("LARK_") {
        Some(rest) => format!("FEISHU_{rest}"),
        None => upper,
    };
    KEYS.iter().find(|(k, _)| *k == name).copied()
}

fn list_items(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        ),
        Value::Array(items) => {
            items.iter().map(|i| i.as_str().map(|s| s.trim().to_string())).collect()
        }
        _ => None,
    }
}

/// The stored (canonical string) form of a submitted value, or why it is refused.
pub fn canonicalize(kind: Kind, value: &Value) -> Result<String, String> {
    let text = || value.as_str().map(|s| s.trim().to_string());
    match kind {
        Kind::Text | Kind::Secret => {
            let s = text().ok_or("must be a string")?;
            if s.chars().count() > 512 {
                return Err("must be at most 512 characters".into());
            }
            Ok(s)
        }
        Kind::Url => {
            let s = text().ok_or("must be a string")?;
            if !(s.is_empty() || s.starts_with("http://") || s.starts_with("https://")) {
                return Err("must be an http:// or https:// URL".into());
            }
            Ok(s.trim_end_matches('/').to_string())
        }
        Kind::Int(min, max) => {
            let n = value
                .as_i64()
                .or_else(|| text().and_then(|s| s.parse().ok()))
                .ok_or("must be an integer")?;
            if n < min || n > max {
                return Err(format!("must be between {min} and {max}"));
            }
            Ok(n.to_string())
        }
        Kind::Fraction(max) => {
            let n = value
                .as_f64()
                .or_else(|| text().and_then(|s| s.parse().ok()))
                .ok_or("must be a number")?;
            if !(n > 0.0 && n <= max) {
                return Err(format!(
                    "must be greater than 0 and at most {max} (0.5 = ±50 % in one action)"
                ));
            }
            Ok(n.to_string())
        }
        Kind::List => {
            let items = list_items(value).ok_or("must be a list of strings")?;
            if items.iter().any(|i| i.contains(',') || i.is_empty()) {
                return Err("items must be non-empty and contain no commas".into());
            }
            Ok(items.join(","))
        }
        Kind::Choice(names) => {
            let s = text().ok_or("must be a string")?.to_ascii_lowercase();
            if !names.contains(&s.as_str()) {
                return Err(format!("must be one of {}", names.join(", ")));
            }
            Ok(s)
        }
        Kind::Bool => match value {
            Value::Bool(b) => Ok(b.to_string()),
            Value::String(s)
                if ["true", "false"].contains(&s.trim().to_ascii_lowercase().as_str()) =>
            {
                Ok(s.trim().to_ascii_lowercase())
            }
            _ => Err("must be true or false".into()),
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    pub provider: String,
    pub model: String,
    pub base_url: String,
    pub timeout_secs: u64,
    pub api_key: String,
    pub max_tokens: u32,
}

/// The live integration settings.
#[derive(Debug, Clone)]
pub struct Integrations {
    pub llm: LlmSettings,
    pub feishu: FeishuConfig,
    pub allowed_namespaces: Vec<String>,
    pub max_replica_change: f64,
    pub enable_postgresql: bool,
    pub enable_redis: bool,
    pub enable_aws: bool,
}

impl Integrations {
    /// The file configuration with the stored overrides applied.
    pub fn new(config: &Config, overrides: &BTreeMap<String, String>) -> Self {
        let get = |key: &str| overrides.get(key).cloned();
        // An empty override of these means "the file's value", not "nothing".
        let get_set = |key: &str| get(key).filter(|v| !v.is_empty());
        let flag = |key: &str, default: bool| get(key).map_or(default, |v| v == "true");
        let mut feishu = config.feishu.clone();
        for (key, field) in [
            ("FEISHU_APP_ID", &mut feishu.app_id),
            ("FEISHU_APP_SECRET", &mut feishu.app_secret),
            ("FEISHU_VERIFICATION_TOKEN", &mut feishu.verification_token),
            ("FEISHU_ENCRYPT_KEY", &mut feishu.encrypt_key),
            ("ALERT_BOT_IDS", &mut feishu.alert_bot_ids),
        ] {
            if let Some(v) = get(key) {
                *field = v;
            }
        }
        Integrations {
            llm: LlmSettings {
                provider: get_set("LLM_PROVIDER").unwrap_or_else(|| config.llm.provider.clone()),
                model: get_set("LLM_MODEL").unwrap_or_else(|| config.llm.model.clone()),
                base_url: get_set("LLM_BASE_URL").unwrap_or_else(|| config.llm.base_url.clone()),
                timeout_secs: get("LLM_TIMEOUT")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(config.llm.timeout_secs),
                api_key: get("LLM_API_KEY").unwrap_or_else(|| config.llm.api_key.clone()),
                max_tokens: config.llm.max_tokens,
            },
            feishu,
            allowed_namespaces: get("ALLOWED_NAMESPACES")
                .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
                .unwrap_or_default(),
            max_replica_change: get("MAX_REPLICA_CHANGE")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.5),
            enable_postgresql: flag(
                "ENABLE_POSTGRESQL",
                config.database_url().starts_with("postgres"),
            ),
            enable_redis: flag("ENABLE_REDIS", !config.redis.url.is_empty()),
            enable_aws: flag("ENABLE_AWS", false),
        }
    }

    /// The LLM to call, or `None` when none is configured (no API key).
    pub fn llm_config(&self) -> Option<crate::llm::LlmConfig> {
        crate::llm::LlmConfig::from_settings(&self.llm)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_aliases_and_values_are_checked() {
        assert_eq!(canonical("lark_app_id").map(|k| k.0), Some("FEISHU_APP_ID"));
        assert_eq!(canonical("LLM_MODEL").map(|k| k.0), Some("LLM_MODEL"));
        assert!(canonical("COLOUR").is_none());
        assert_eq!(canonicalize(Kind::Int(1, 3600), &json!(600)).unwrap(), "600");
        assert_eq!(canonicalize(Kind::Int(1, 3600), &json!("60")).unwrap(), "60");
        assert!(canonicalize(Kind::Int(1, 3600), &json!(0)).is_err());
        assert_eq!(
            canonicalize(Kind::List, &json!(["default", " production "])).unwrap(),
            "default,production"
        );
        assert_eq!(canonicalize(Kind::List, &json!("a, b")).unwrap(), "a,b");
        assert!(canonicalize(Kind::List, &json!([1])).is_err());
        assert_eq!(canonicalize(Kind::Fraction(10.0), &json!(0.5)).unwrap(), "0.5");
        assert!(canonicalize(Kind::Fraction(10.0), &json!(0)).is_err());
        assert!(canonicalize(Kind::Url, &json!("ftp://x")).is_err());
        assert_eq!(
            canonicalize(Kind::Url, &json!("https://api.deepseek.com/")).unwrap(),
            "https://api.deepseek.com"
        );
        assert!(canonicalize(Kind::Bool, &json!("yes")).is_err());
    }
}
