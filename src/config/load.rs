//! Layered loading: embedded `config/default.toml` < optional file < `WARDEN_*`
//! environment < command-line flags.

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Environment, File, FileFormat};

use super::Config;

/// The defaults, embedded so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Where configuration comes from besides the defaults.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// An optional file (`--config`); `WARDEN_CONFIG` from `env` is used when absent.
    pub file: Option<PathBuf>,
    /// The process environment (passed in so tests control it).
    pub env: HashMap<String, String>,
    /// `--listen`, overriding everything else.
    pub listen: Option<String>,
    /// `--data-dir`, overriding everything else.
    pub data_dir: Option<PathBuf>,
}

impl LoadOptions {
    /// Options reading the real process environment.
    pub fn from_process_env() -> Self {
        Self { env: std::env::vars().collect(), ..Self::default() }
    }
}

/// Shorthand environment variables and the keys they set.
const SHORTHANDS: &[(&str, &str)] = &[
    ("WARDEN_LISTEN", "server.listen"),
    ("WARDEN_DATA_DIR", "storage.data_dir"),
    ("DATABASE_URL", "storage.database_url"),
    ("REDIS_URL", "redis.url"),
    ("ALERTMANAGER_WEBHOOK_TOKEN", "alertmanager.webhook_token"),
    ("ALERTMANAGER_WEBHOOK_SECRET", "alertmanager.webhook_secret"),
    ("WARDEN_PUBLIC_URL", "notify.public_url"),
    ("LARK_APP_ID", "feishu.app_id"),
    ("LARK_APP_SECRET", "feishu.app_secret"),
    ("LARK_VERIFICATION_TOKEN", "feishu.verification_token"),
    ("LARK_ENCRYPT_KEY", "feishu.encrypt_key"),
    // The FEISHU_* names win over their LARK_* aliases.
    ("FEISHU_APP_ID", "feishu.app_id"),
    ("FEISHU_APP_SECRET", "feishu.app_secret"),
    ("FEISHU_VERIFICATION_TOKEN", "feishu.verification_token"),
    ("FEISHU_ENCRYPT_KEY", "feishu.encrypt_key"),
    ("FEISHU_ALERT_BOT_IDS", "feishu.alert_bot_ids"),
    ("LLM_PROVIDER", "llm.provider"),
    ("LLM_BASE_URL", "llm.base_url"),
    ("LLM_MODEL", "llm.model"),
    ("LLM_API_KEY", "llm.api_key"),
    ("LLM_TIMEOUT", "llm.timeout_secs"),
];

impl Config {
    /// Loads and validates the configuration. The error lists every problem found, each
    /// naming its key.
    pub fn load(opts: &LoadOptions) -> Result<Config, String> {
        let mut builder =
            config::Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));

        let file = opts.file.clone().or_else(|| opts.env.get("WARDEN_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
        }

        // Only WARDEN_<SECTION>__<KEY> names are structured overrides; the shorthands
        // (WARDEN_LISTEN, WARDEN_CONFIG, ...) are handled below.
        let structured: HashMap<String, String> = opts
            .env
            .iter()
            .filter(|(k, _)| k.starts_with("WARDEN_") && k.contains("__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        builder = builder.add_source(
            Environment::with_prefix("WARDEN")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(structured)),
        );

        for (var, key) in SHORTHANDS {
            if let Some(value) = opts.env.get(*var) {
                builder = builder.set_override(*key, value.clone()).map_err(|e| e.to_string())?;
            }
        }
        if let Some(listen) = &opts.listen {
            builder =
                builder.set_override("server.listen", listen.clone()).map_err(|e| e.to_string())?;
        }
        if let Some(dir) = &opts.data_dir {
            builder = builder
                .set_override("storage.data_dir", dir.display().to_string())
                .map_err(|e| e.to_string())?;
        }

        let raw = builder.build().map_err(|e| format!("invalid configuration: {e}"))?;
        let config: Config =
            raw.try_deserialize().map_err(|e| format!("invalid configuration: {e}"))?;
        config.validate().map_err(|problems| {
            let mut msg = String::from("invalid configuration:");
            for p in problems {
                msg.push_str("\n  - ");
                msg.push_str(&p);
            }
            msg
        })?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> LoadOptions {
        LoadOptions {
            env: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..LoadOptions::default()
        }
    }

    #[test]
    fn defaults_load_without_any_file_or_environment() {
        let c = Config::load(&LoadOptions::default()).expect("defaults are valid");
        assert_eq!(c.server.listen, "0.0.0.0:8001");
        assert_eq!(c.storage.data_dir, PathBuf::from("./data"));
        assert!(c.database_url().starts_with("sqlite://"));
        assert!(c.redis_url().is_none());
        assert_eq!(c.auth.access_token_ttl_minutes, 30);
    }

    #[test]
    fn environment_overrides_defaults_and_flags_override_environment() {
        let mut opts = env(&[
            ("WARDEN_LISTEN", "127.0.0.1:9000"),
            ("WARDEN_AUTH__ACCESS_TOKEN_TTL_MINUTES", "5"),
            ("DATABASE_URL", "postgres://localhost/warden"),
            ("WARDEN_CONFIG_UNRELATED", "ignored"),
        ]);
        let c = Config::load(&opts).expect("valid");
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        assert_eq!(c.auth.access_token_ttl_minutes, 5);
        assert_eq!(c.database_url(), "postgres://localhost/warden");

        opts.listen = Some("127.0.0.1:9100".into());
        opts.data_dir = Some("/var/lib/warden".into());
        let c = Config::load(&opts).expect("valid");
        assert_eq!(c.server.listen, "127.0.0.1:9100");
        assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/warden"));
    }

    #[test]
    fn invalid_values_are_all_reported_with_their_keys() {
        let err = Config::load(&env(&[
            ("WARDEN_LISTEN", "not-an-address"),
            ("REDIS_URL", "http://nope"),
            ("WARDEN_AUTH__ACCESS_TOKEN_TTL_MINUTES", "0"),
        ]))
        .expect_err("invalid");
        assert!(err.contains("server.listen"), "{err}");
        assert!(err.contains("redis.url"), "{err}");
        assert!(err.contains("auth.access_token_ttl_minutes"), "{err}");
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_rejected() {
        let err = Config::load(&env(&[("WARDEN_SERVER__BODY_LIMIT_BYTES", "lots")]))
            .expect_err("invalid");
        assert!(err.contains("body_limit_bytes"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("warden.toml");
        std::fs::write(&file, "[server]\nlisten_port = 1\n").expect("write");
        let err = Config::load(&LoadOptions { file: Some(file), ..LoadOptions::default() })
            .expect_err("invalid");
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Config::load(&env(&[("WARDEN_CONFIG", "/nonexistent/warden.toml")]))
            .expect_err("invalid");
        assert!(err.contains("/nonexistent/warden.toml"), "{err}");
    }
}

#[cfg(test)]
mod readme {
    /// README's configuration table must list every key of `config/default.toml`.
    #[test]
    fn readme_documents_every_configuration_key() {
        let readme = include_str!("../../README.md");
        let table: toml::Table = super::DEFAULT_TOML.parse().expect("default.toml parses");
        for (section, keys) in table {
            let keys = keys.as_table().expect("top level holds only sections").clone();
            for key in keys.keys() {
                let name = format!("`{section}.{key}`");
                assert!(readme.contains(&name), "README.md does not document {name}");
            }
        }
    }
}
