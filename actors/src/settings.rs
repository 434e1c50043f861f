//! The runtime settings catalog: every key the settings API knows, its type, range,
//! default and description, and the typed view the actors read.
//!
//! Runtime settings live in the database and change without a restart; boot-time
//! configuration (listen address, database URL, secrets) lives in the config file.

use std::collections::BTreeMap;

use serde_json::Value;

/// The type and allowed range of one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingType {
    /// An integer within `min..=max`.
    Int { min: i64, max: i64 },
    /// `true` or `false`.
    Bool,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// Phrases, given as a JSON array or a comma-separated string; stored comma-separated.
    List,
    /// An IANA time zone name (`Asia/Shanghai`, `UTC`).
    TimeZone,
}

/// One known setting.
#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    pub key: &'static str,
    pub default: &'static str,
    pub description: &'static str,
    pub kind: SettingType,
}

/// Every setting the API accepts, in display order.
pub const CATALOG: &[SettingSpec] = &[
    SettingSpec {
        key: "metrics_retention_days",
        default: "90",
        description: "指标数据保留天数",
        kind: SettingType::Int { min: 1, max: 3650 },
    },
    SettingSpec {
        key: "alert_check_interval",
        default: "60",
        description: "告警检查间隔(秒)",
        kind: SettingType::Int { min: 5, max: 86_400 },
    },
    SettingSpec {
        key: "heartbeat_timeout",
        default: "120",
        description: "心跳超时时间(秒)",
        kind: SettingType::Int { min: 1, max: 86_400 },
    },
    SettingSpec {
        key: "webhook_retry_count",
        default: "3",
        description: "Webhook 重试次数",
        kind: SettingType::Int { min: 0, max: 10 },
    },
    SettingSpec {
        key: "registration_enabled",
        default: "true",
        description: "是否允许自助注册(首个用户始终可以注册)",
        kind: SettingType::Bool,
    },
    SettingSpec {
        key: "server_side_checks",
        default: "false",
        description: "服务端主动检查 http/tcp 服务(Agent 离线时仍可监控)",
        kind: SettingType::Bool,
    },
    SettingSpec {
        key: "locale",
        default: "zh-CN",
        description: "通知默认模板的语言(zh-CN 或 en)",
        kind: SettingType::Choice(LOCALES),
    },
    SettingSpec {
        key: "report_timezone",
        default: "Asia/Shanghai",
        description: "运维报告与 SLA 窗口使用的时区(IANA 名称,如 Asia/Shanghai、UTC)",
        kind: SettingType::TimeZone,
    },
    SettingSpec {
        key: "daily_report_enabled",
        default: "true",
        description: "每天零点后自动生成前一天的运维日报",
        kind: SettingType::Bool,
    },
    SettingSpec {
        key: "weekly_report_enabled",
        default: "true",
        description: "每周一零点后自动生成上一周的运维周报",
        kind: SettingType::Bool,
    },
    SettingSpec {
        key: "auto_remediation",
        default: "false",
        description: "告警触发时自动执行匹配的 Runbook(仍受风险级别、配额与审批约束)",
        kind: SettingType::Bool,
    },
    SettingSpec {
        key: "remediation_executor",
        default: "dry_run",
        description:
            "修复命令的执行方式:dry_run(只记录不执行)、local(本机进程)、agent(经目标主机 Agent)",
        kind: SettingType::Choice(EXECUTORS),
    },
    SettingSpec {
        key: "remediation_approval_timeout",
        default: "3600",
        description: "待审批修复的审批期限(秒),过期后标记为 expired",
        kind: SettingType::Int { min: 1, max: 604_800 },
    },
    SettingSpec {
        key: "hourly_quota",
        default: "10",
        description: "全局每小时自动执行修复的上限,超过后改为需要审批",
        kind: SettingType::Int { min: 0, max: 100_000 },
    },
    SettingSpec {
        key: "remediation_max_per_host_hour",
        default: "3",
        description: "单台主机每小时自动执行修复的上限,超过后改为需要审批",
        kind: SettingType::Int { min: 0, max: 10_000 },
    },
    SettingSpec {
        key: "remediation_circuit_breaker",
        default: "3",
        description: "同一主机连续失败多少次后暂停自动修复(改为需要审批)",
        kind: SettingType::Int { min: 1, max: 1000 },
    },
    SettingSpec {
        key: "forbidden_verbs",
        default: "rm -rf,drop table",
        description: "禁止出现在修复命令中的短语,逗号分隔(大小写不敏感)",
        kind: SettingType::List,
    },
];

/// How remediation commands are executed.
pub const EXECUTORS: &[&str] = &["dry_run", "local", "agent"];

/// The languages of the built-in notification templates.
pub const LOCALES: &[&str] = &["zh-CN", "en"];

/// Looks a setting up by key.
pub fn spec(key: &str) -> Option<&'static SettingSpec> {
    CATALOG.iter().find(|s| s.key == key)
}

/// Why one submitted value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub key: String,
    pub message: String,
}

impl SettingSpec {
    /// Parses a submitted JSON value (string, number or boolean) into the canonical
    /// string stored in the database.
    pub fn canonicalize(&self, value: &Value) -> Result<String, String> {
        match self.kind {
            SettingType::Int { min, max } => {
                let parsed = match value {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse::<i64>().ok(),
                    _ => None,
                };
                let n = parsed.ok_or_else(|| "value must be an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!("value must be between {min} and {max} (got {n})"));
                }
                Ok(n.to_string())
            }
            SettingType::Bool => match value {
                Value::Bool(b) => Ok(b.to_string()),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => Ok("true".into()),
                    "false" | "0" | "no" | "off" => Ok("false".into()),
                    _ => Err("value must be true or false".into()),
                },
                _ => Err("value must be true or false".into()),
            },
            SettingType::Choice(words) => {
                let wanted = value.as_str().map(str::trim).unwrap_or_default();
                words
                    .iter()
                    .find(|w| w.eq_ignore_ascii_case(wanted))
                    .map(|w| (*w).to_string())
                    .ok_or_else(|| format!("value must be one of: {}", words.join(", ")))
            }
            SettingType::TimeZone => {
                let wanted = value.as_str().map(str::trim).unwrap_or_default();
                wanted.parse::<chrono_tz::Tz>().map(|tz| tz.name().to_string()).map_err(|_| {
                    format!("'{wanted}' is not an IANA time zone such as Asia/Shanghai or UTC")
                })
            }
            SettingType::List => {
                let items: Vec<String> = match value {
                    Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(|t| t.trim().to_string()))
                        .collect::<Option<_>>()
                        .ok_or_else(|| "value must be a list of strings".to_string())?,
                    _ => return Err("value must be a list of strings".into()),
                };
                let items: Vec<String> = items.into_iter().filter(|i| !i.is_empty()).collect();
                if items.iter().any(|i| i.contains(',')) {
                    return Err("list items must not contain commas".into());
                }
                Ok(items.join(","))
            }
        }
    }
}

/// Validates a whole update. Either every key is known and every value valid (the
/// canonical values are returned), or nothing is applied and every problem is listed.
pub fn validate_update(
    update: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<&'static str, String>, Vec<SettingError>> {
    let mut accepted = BTreeMap::new();
    let mut errors = Vec::new();
    for (key, value) in update {
        match spec(key) {
            None => errors.push(SettingError {
                key: key.clone(),
                message: format!("unknown setting '{key}'"),
            }),
            Some(spec) => match spec.canonicalize(value) {
                Ok(v) => {
                    accepted.insert(spec.key, v);
                }
                Err(message) => errors.push(SettingError { key: key.clone(), message }),
            },
        }
    }
    if errors.is_empty() {
        Ok(accepted)
    } else {
        Err(errors)
    }
}

/// The typed view of the runtime settings that actors and the facade read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSettings {
    pub metrics_retention_days: u32,
    pub alert_check_interval_secs: u64,
    pub heartbeat_timeout_secs: u64,
    pub webhook_retry_count: u32,
    pub registration_enabled: bool,
    pub server_side_checks: bool,
    /// Language of the built-in notification templates (`zh-CN` or `en`).
    pub locale: String,
    pub auto_remediation: bool,
    /// `dry_run`, `local` or `agent`.
    pub remediation_executor: String,
    pub remediation_approval_timeout_secs: u64,
    pub hourly_quota: u32,
    pub remediation_max_per_host_hour: u32,
    pub remediation_circuit_breaker: u32,
    pub forbidden_verbs: Vec<String>,
    /// The time zone of report periods and SLA windows.
    pub report_timezone: chrono_tz::Tz,
    pub daily_report_enabled: bool,
    pub weekly_report_enabled: bool,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self::from_stored(&BTreeMap::new())
    }
}

impl RuntimeSettings {
    /// Builds the typed view from stored values, falling back to the default for any
    /// missing or unreadable value (a stored value is always canonical, so a fallback
    /// only happens for rows written by hand).
    pub fn from_stored(stored: &BTreeMap<String, String>) -> Self {
        let get = |key: &str| -> String {
            let spec = spec(key).expect("runtime settings only read catalog keys");
            stored
                .get(key)
                .and_then(|v| spec.canonicalize(&Value::String(v.clone())).ok())
                .unwrap_or_else(|| spec.default.to_string())
        };
        let int = |key: &str| get(key).parse::<i64>().expect("canonical ints parse");
        Self {
            metrics_retention_days: int("metrics_retention_days") as u32,
            alert_check_interval_secs: int("alert_check_interval") as u64,
            heartbeat_timeout_secs: int("heartbeat_timeout") as u64,
            webhook_retry_count: int("webhook_retry_count") as u32,
            registration_enabled: get("registration_enabled") == "true",
            server_side_checks: get("server_side_checks") == "true",
            locale: get("locale"),
            auto_remediation: get("auto_remediation") == "true",
            remediation_executor: get("remediation_executor"),
            remediation_approval_timeout_secs: int("remediation_approval_timeout") as u64,
            hourly_quota: int("hourly_quota") as u32,
            remediation_max_per_host_hour: int("remediation_max_per_host_hour") as u32,
            remediation_circuit_breaker: int("remediation_circuit_breaker") as u32,
            forbidden_verbs: get("forbidden_verbs")
                .split(',')
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect(),
            report_timezone: get("report_timezone").parse().unwrap_or(chrono_tz::Tz::UTC),
            daily_report_enabled: get("daily_report_enabled") == "true",
            weekly_report_enabled: get("weekly_report_enabled") == "true",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().expect("test input is an object").clone()
    }

    #[test]
    fn every_default_is_valid_for_its_own_type() {
        for spec in CATALOG {
            assert_eq!(
                spec.canonicalize(&Value::String(spec.default.into())).as_deref(),
                Ok(spec.default),
                "{}",
                spec.key
            );
        }
    }

    #[test]
    fn strings_and_numbers_are_accepted_and_canonicalized() {
        let ok = validate_update(&obj(json!({
            "metrics_retention_days": "180",
            "alert_check_interval": 30,
            "registration_enabled": "FALSE"
        })))
        .expect("valid update");
        assert_eq!(ok["metrics_retention_days"], "180");
        assert_eq!(ok["alert_check_interval"], "30");
        assert_eq!(ok["registration_enabled"], "false");
    }

    #[test]
    fn one_bad_value_rejects_the_whole_update_and_names_each_key() {
        let errs = validate_update(&obj(json!({
            "metrics_retention_days": "180",
            "heartbeat_timeout": "0",
            "webhook_retry_count": "many",
            "colour": "blue"
        })))
        .expect_err("invalid update");
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["colour", "heartbeat_timeout", "webhook_retry_count"]);
        assert!(errs[0].message.contains("unknown setting"));
        assert!(errs[1].message.contains("between 1 and 86400"));
        assert!(errs[2].message.contains("integer"));
    }

    #[test]
    fn fractional_and_null_values_are_rejected() {
        let spec = spec("heartbeat_timeout").unwrap();
        assert!(spec.canonicalize(&json!(1.5)).is_err());
        assert!(spec.canonicalize(&Value::Null).is_err());
        assert!(spec.canonicalize(&json!([1])).is_err());
    }

    #[test]
    fn runtime_view_falls_back_to_defaults() {
        let mut stored = BTreeMap::new();
        stored.insert("heartbeat_timeout".to_string(), "30".to_string());
        stored.insert("webhook_retry_count".to_string(), "garbage".to_string());
        let s = RuntimeSettings::from_stored(&stored);
        assert_eq!(s.heartbeat_timeout_secs, 30);
        assert_eq!(s.webhook_retry_count, 3);
        assert_eq!(s.metrics_retention_days, 90);
        assert!(s.registration_enabled);
        assert_eq!(s.locale, "zh-CN");
    }

    #[test]
    fn lists_take_arrays_or_commas_and_drop_blanks() {
        let spec = spec("forbidden_verbs").unwrap();
        assert_eq!(
            spec.canonicalize(&json!(["rm -rf", " DROP TABLE ", ""])).unwrap(),
            "rm -rf,DROP TABLE"
        );
        assert_eq!(spec.canonicalize(&json!("a, b,,c")).unwrap(), "a,b,c");
        assert!(spec.canonicalize(&json!([1])).is_err());
        assert!(spec.canonicalize(&json!(["a,b"])).is_err());
        let view = RuntimeSettings::default();
        assert_eq!(view.forbidden_verbs, ["rm -rf", "drop table"]);
        assert_eq!(view.remediation_executor, "dry_run");
        assert!(!view.auto_remediation);
    }

    #[test]
    fn choices_are_matched_without_case_and_named_when_wrong() {
        let spec = spec("locale").unwrap();
        assert_eq!(spec.canonicalize(&json!("EN")).unwrap(), "en");
        assert_eq!(spec.canonicalize(&json!("zh-cn")).unwrap(), "zh-CN");
        let err = spec.canonicalize(&json!("fr")).unwrap_err();
        assert!(err.contains("zh-CN, en"), "{err}");
        assert!(spec.canonicalize(&json!(1)).is_err());
    }
}
