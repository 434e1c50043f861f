//! Boot-time configuration: typed sections, loaded from the embedded defaults, an
//! optional file and the environment (see `load`), then checked as a whole (see
//! `validate`).

mod load;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

pub use load::{LoadOptions, DEFAULT_TOML};
pub use validate::redact;

/// The whole boot-time configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub ingest: IngestConfig,
    pub alertmanager: AlertmanagerConfig,
    pub redis: RedisConfig,
    pub auth: AuthConfig,
    pub notify: NotifyConfig,
    pub feishu: FeishuConfig,
    pub incidents: IncidentsConfig,
    pub llm: LlmConfig,
    pub reports: ReportsConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// Whether this node runs the report scheduler (periods are claimed once across
    /// nodes either way).
    pub schedule: bool,
}

/// The LLM used for AI analysis and incident diagnosis; `PUT /api/config` overrides
/// these at run time. Without an API key every AI feature runs on the rules engine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: String,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    pub timeout_secs: u64,
    pub max_tokens: u32,
    /// Tool calls an incident diagnosis may make before it must conclude.
    pub diagnosis_max_steps: u32,
    /// Wall-clock budget of one incident diagnosis.
    pub diagnosis_max_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Seconds a new incident waits before it is diagnosed; one resolved by then (a
    /// flapping alert) is not diagnosed at all.
    pub diagnosis_delay_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub body_limit_bytes: usize,
    pub trust_forwarded_for: bool,
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub max_connections: u32,
    pub sqlite_busy_timeout_ms: u64,
    pub sqlite_synchronous: SqliteSync,
}

/// SQLite's `synchronous` pragma, as far as Warden offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    Full,
    Normal,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub max_log_batch: usize,
    pub max_clock_skew_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    pub webhook_token: String,
    pub webhook_secret: String,
    pub dedup_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub public_url: String,
    pub timeout_secs: u64,
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeishuConfig {
    pub app_id: String,
    pub app_secret: String,
    pub api_base_url: String,
    pub verification_token: String,
    pub encrypt_key: String,
    pub alert_bot_ids: String,
    pub max_skew_secs: u64,
}

impl FeishuConfig {
    /// The configured alert-bot sender ids.
    pub fn alert_bots(&self) -> Vec<String> {
        self.alert_bot_ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub url: String,
    pub required: bool,
    pub key_prefix: String,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub jwt_secret: String,
    pub token_hash_key: String,
    pub access_token_ttl_minutes: i64,
    pub refresh_token_ttl_days: i64,
    pub login_max_failures: u64,
    pub login_window_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

impl Config {
    /// The listen address; valid after `validate`.
    pub fn listen_addr(&self) -> SocketAddr {
        self.server.listen.parse().expect("listen address is checked by validate")
    }

    /// The database URL, defaulting to the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.storage.database_url.trim().is_empty() {
            let path = self.storage.data_dir.join("warden.db");
            format!("sqlite://{}", path.display())
        } else {
            self.storage.database_url.trim().to_string()
        }
    }

    /// The Redis URL, if one is configured.
    pub fn redis_url(&self) -> Option<&str> {
        let url = self.redis.url.trim();
        (!url.is_empty()).then_some(url)
    }
}
