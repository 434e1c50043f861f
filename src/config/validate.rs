//! Whole-configuration checks: every problem is collected, then reported once.

use std::net::SocketAddr;

use super::Config;

impl Config {
    /// Checks values that deserialization cannot; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };

        check(
            self.server.listen.parse::<SocketAddr>().is_ok(),
            format!("server.listen: '{}' is not an address like 0.0.0.0:8001", self.server.listen),
        );
        check(
            self.server.body_limit_bytes >= 1024,
            "server.body_limit_bytes: must be at least 1024".into(),
        );
        check(
            !self.storage.data_dir.as_os_str().is_empty(),
            "storage.data_dir: must not be empty".into(),
        );
        check(
            (1..=100_000).contains(&self.ingest.max_log_batch),
            "ingest.max_log_batch: must be between 1 and 100000".into(),
        );
        check(
            (0..=86_400).contains(&self.ingest.max_clock_skew_secs),
            "ingest.max_clock_skew_secs: must be between 0 and 86400".into(),
        );
        check(
            (1..=86_400).contains(&self.alertmanager.dedup_window_secs),
            "alertmanager.dedup_window_secs: must be between 1 and 86400".into(),
        );
        check(
            (1..=300).contains(&self.notify.timeout_secs),
            "notify.timeout_secs: must be between 1 and 300".into(),
        );
        check(
            (1..=600_000).contains(&self.notify.retry_base_ms),
            "notify.retry_base_ms: must be between 1 and 600000".into(),
        );
        check(
            (1..=86_400).contains(&self.notify.retry_max_secs),
            "notify.retry_max_secs: must be between 1 and 86400".into(),
        );
        for (key, url) in [
            ("notify.public_url", &self.notify.public_url),
            ("feishu.api_base_url", &self.feishu.api_base_url),
            ("llm.base_url", &self.llm.base_url),
        ] {
            check(
                url.is_empty() || url.starts_with("http://") || url.starts_with("https://"),
                format!("{key}: '{url}' must start with http:// or https://"),
            );
        }
        check(
            self.feishu.app_id.is_empty() == self.feishu.app_secret.is_empty(),
            "feishu.app_id and feishu.app_secret: set both or neither".into(),
        );
        check(
            crate::llm::Provider::parse(&self.llm.provider).is_some(),
            format!("llm.provider: '{}' must be openai or anthropic", self.llm.provider),
        );
        check(
            (1..=3600).contains(&self.llm.timeout_secs),
            "llm.timeout_secs: must be between 1 and 3600".into(),
        );
        check(
            (16..=32_768).contains(&self.llm.max_tokens),
            "llm.max_tokens: must be between 16 and 32768".into(),
        );
        check(
            (1..=50).contains(&self.llm.diagnosis_max_steps),
            "llm.diagnosis_max_steps: must be between 1 and 50".into(),
        );
        check(
            (1..=3600).contains(&self.llm.diagnosis_max_secs),
            "llm.diagnosis_max_secs: must be between 1 and 3600".into(),
        );
        let db = self.database_url();
        check(
            db.starts_with("sqlite:")
                || db.starts_with("postgres://")
                || db.starts_with("postgresql://"),
            format!(
                "storage.database_url: '{}' must start with sqlite:, postgres:// or postgresql://",
                redact(&db)
            ),
        );
        check(
            (1..=1000).contains(&self.storage.max_connections),
            "storage.max_connections: must be between 1 and 1000".into(),
        );
        if let Some(url) = self.redis_url() {
            check(
                url.starts_with("redis://") || url.starts_with("rediss://"),
                format!("redis.url: '{}' must start with redis:// or rediss://", redact(url)),
            );
        }
        check(
            (1..=60).contains(&self.redis.connect_timeout_secs),
            "redis.connect_timeout_secs: must be between 1 and 60".into(),
        );
        check(
            self.auth.jwt_secret.is_empty() || self.auth.jwt_secret.len() >= 32,
            "auth.jwt_secret: must be at least 32 characters (or empty to generate one)".into(),
        );
        check(
            self.auth.token_hash_key.is_empty() || self.auth.token_hash_key.len() >= 32,
            "auth.token_hash_key: must be at least 32 characters (or empty to generate one)".into(),
        );
        check(
            (1..=24 * 60).contains(&self.auth.access_token_ttl_minutes),
            "auth.access_token_ttl_minutes: must be between 1 and 1440".into(),
        );
        check(
            (1..=365).contains(&self.auth.refresh_token_ttl_days),
            "auth.refresh_token_ttl_days: must be between 1 and 365".into(),
        );
        check(
            self.auth.login_max_failures >= 1,
            "auth.login_max_failures: must be at least 1".into(),
        );
        check(
            (1..=86_400).contains(&self.auth.login_window_secs),
            "auth.login_window_secs: must be between 1 and 86400".into(),
        );
        check(
            self.log.filter.parse::<tracing_subscriber::EnvFilter>().is_ok(),
            format!("log.filter: '{}' is not a valid filter directive", self.log.filter),
        );

        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Hides the password part of a URL before it is printed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => {
                    format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..])
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden_in_urls() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact("redis://:pw@h"), "redis://:***@h");
    }
}
