//! Channel types and their configurations: parsed and checked on create/update (each
//! problem names its field), masked in every response.
//!
//! The keys are the ones VigilOps clients already send (`webhook_url`, `secret`,
//! `smtp_host`, `recipients`, `url`, `headers`, …), so their saved channels work here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What replaces a secret in responses. Sending it back on update keeps the stored value.
pub const MASK: &str = "******";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelType {
    DingTalk,
    Feishu,
    WeCom,
    Email,
    Webhook,
}

impl ChannelType {
    pub const ALL: [ChannelType; 5] = [
        ChannelType::DingTalk,
        ChannelType::Feishu,
        ChannelType::WeCom,
        ChannelType::Email,
        ChannelType::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::DingTalk => "dingtalk",
            ChannelType::Feishu => "feishu",
            ChannelType::WeCom => "wecom",
            ChannelType::Email => "email",
            ChannelType::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Robots that accept 20 messages a minute and block for minutes beyond that
    /// (PROTOCOLS.md §1, §5); Feishu custom bots take 100 a minute and 5 a second (§2).
    pub fn rate_limits(self) -> &'static [(usize, u64)] {
        match self {
            ChannelType::DingTalk | ChannelType::WeCom => &[(20, 60)],
            ChannelType::Feishu => &[(100, 60), (5, 1)],
            ChannelType::Email | ChannelType::Webhook => &[],
        }
    }
}

/// How an SMTP connection is secured (PROTOCOLS.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    None,
    StartTls,
    Tls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<String>,
    pub security: SmtpSecurity,
    pub recipients: Vec<String>,
    pub from: String,
}

/// A checked channel configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelConfig {
    DingTalk {
        webhook_url: String,
        secret: Option<String>,
    },
    /// Feishu custom bot: a webhook URL, optionally signed.
    FeishuBot {
        webhook_url: String,
        secret: Option<String>,
    },
    /// Feishu app bot: messages go through the open API to `receive_id`, so cards can
    /// carry buttons whose clicks reach Warden.
    FeishuApp {
        receive_id: String,
        receive_id_type: String,
    },
    WeCom {
        webhook_url: String,
    },
    Email(EmailConfig),
    Webhook {
        url: String,
        method: String,
        headers: BTreeMap<String, String>,
        secret: Option<String>,
    },
}

/// A configuration problem: the field (under `config`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn problem(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_string(), message: message.into() }
}

/// Reads the typed fields of a JSON configuration object.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(problem(key, "must be a string")),
        }
    }

    fn required(&self, key: &str) -> Result<String, FieldError> {
        self.text(key)?.ok_or_else(|| problem(key, "field required"))
    }

    fn url(&self, key: &str) -> Result<String, FieldError> {
        let url = self.required(key)?;
        let parsed = reqwest::Url::parse(&url)
            .map_err(|_| problem(key, format!("'{}' is not a valid URL", mask_url(&url))))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(problem(key, "must be an http:// or https:// URL"));
        }
        Ok(url)
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(problem(key, "must be true or false")),
        }
    }
}

impl ChannelConfig {
    /// Checks `config` for a channel of `kind`. `app_configured`: whether the Feishu app
    /// credentials are set (app-bot mode needs them).
    pub fn parse(
        kind: ChannelType,
        config: &Value,
        app_configured: bool,
    ) -> Result<Self, FieldError> {
        let Some(map) = config.as_object() else {
            return Err(problem("", "must be an object"));
        };
        let f = Fields(map);
        Ok(match kind {
            ChannelType::DingTalk => {
                let webhook_url = f.url("webhook_url")?;
                let secret = f.text("secret")?;
                if secret.as_deref().is_some_and(|s| !s.starts_with("SEC")) {
                    return Err(problem("secret", "a DingTalk signing secret starts with SEC"));
                }
                ChannelConfig::DingTalk { webhook_url, secret }
            }
            ChannelType::Feishu => match (f.text("webhook_url")?, f.text("receive_id")?) {
                (Some(_), Some(_)) => {
                    return Err(problem(
                        "receive_id",
                        "give webhook_url (custom bot) or receive_id (app bot), not both",
                    ))
                }
                (None, None) => {
                    return Err(problem(
                        "webhook_url",
                        "field required (or receive_id for an app bot)",
                    ))
                }
                (Some(_), None) => ChannelConfig::FeishuBot {
                    webhook_url: f.url("webhook_url")?,
                    secret: f.text("secret")?,
                },
                (None, Some(receive_id)) => {
                    if !app_configured {
                        return Err(problem(
                            "receive_id",
                            "app-bot mode needs feishu.app_id and feishu.app_secret in Warden's configuration",
                        ));
                    }
                    let receive_id_type =
                        f.text("receive_id_type")?.unwrap_or_else(|| "chat_id".into());
                    if !["chat_id", "open_id", "user_id", "union_id", "email"]
                        .contains(&receive_id_type.as_str())
                    {
                        return Err(problem(
                            "receive_id_type",
                            "must be one of chat_id, open_id, user_id, union_id, email",
                        ));
                    }
                    ChannelConfig::FeishuApp { receive_id, receive_id_type }
                }
            },
            ChannelType::WeCom => {
                let webhook_url = f.url("webhook_url")?;
                let has_key = reqwest::Url::parse(&webhook_url)
                    .is_ok_and(|u| u.query_pairs().any(|(k, v)| k == "key" && !v.is_empty()));
                if !has_key {
                    return Err(problem(
                        "webhook_url",
                        "must carry the robot's key (…/webhook/send?key=…)",
                    ));
                }
                ChannelConfig::WeCom { webhook_url }
            }
            ChannelType::Email => ChannelConfig::Email(parse_email(&f)?),
            ChannelType::Webhook => {
                let url = f.url("url")?;
                let method =
                    f.text("method")?.unwrap_or_else(|| "POST".into()).to_ascii_uppercase();
                if !["POST", "PUT", "PATCH"].contains(&method.as_str()) {
                    return Err(problem("method", "must be POST, PUT or PATCH"));
                }
                let mut headers = BTreeMap::new();
                match map.get("headers") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(h)) => {
                        for (name, value) in h {
                            let field = format!("headers.{name}");
                            let Some(value) = value.as_str() else {
                                return Err(problem(&field, "must be a string"));
                            };
                            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                                || reqwest::header::HeaderValue::from_str(value).is_err()
                            {
                                return Err(problem(&field, "is not a valid HTTP header"));
                            }
                            headers.insert(name.clone(), value.to_string());
                        }
                    }
                    Some(_) => {
                        return Err(problem(
                            "headers",
                            "must be an object of header names to values",
                        ))
                    }
                }
                ChannelConfig::Webhook { url, method, headers, secret: f.text("secret")? }
            }
        })
    }
}

fn parse_email(f: &Fields<'_>) -> Result<EmailConfig, FieldError> {
    let smtp_host = f.required("smtp_host")?;
    let security = match f.text("smtp_security")?.as_deref() {
        Some("none") => SmtpSecurity::None,
        Some("starttls") => SmtpSecurity::StartTls,
        Some("tls") => SmtpSecurity::Tls,
        Some(_) => return Err(problem("smtp_security", "must be none, starttls or tls")),
        // VigilOps' smtp_ssl: implicit TLS; otherwise STARTTLS, never a silent plain text.
        None if f.boolean("smtp_ssl")? == Some(true) => SmtpSecurity::Tls,
        None => SmtpSecurity::StartTls,
    };
    let default_port = match security {
        SmtpSecurity::None => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    };
    let smtp_port = match f.0.get("smtp_port") {
        None | Some(Value::Null) => default_port,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| problem("smtp_port", "must be a port number between 1 and 65535"))?,
    };
    let recipients = match f.0.get("recipients") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| r.as_str().map(|s| s.trim().to_string()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| problem("recipients", "must be a list of email addresses"))?,
        Some(Value::String(s)) => {
            s.split([',', ';']).map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect()
        }
        None | Some(Value::Null) => return Err(problem("recipients", "field required")),
        Some(_) => return Err(problem("recipients", "must be a list of email addresses")),
    };
    if recipients.is_empty() {
        return Err(problem("recipients", "must name at least one address"));
    }
    for r in &recipients {
        if r.parse::<lettre::Address>().is_err() {
            return Err(problem("recipients", format!("'{r}' is not an email address")));
        }
    }
    let smtp_user = f.text("smtp_user")?;
    let from = match f.text("from")?.or_else(|| smtp_user.clone()) {
        Some(from) => from,
        None => return Err(problem("from", "field required (or smtp_user)")),
    };
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(problem("from", format!("'{from}' is not an email address")));
    }
    Ok(EmailConfig {
        smtp_host,
        smtp_port,
        smtp_user,
        smtp_password: f.text("smtp_password")?,
        security,
        recipients,
        from,
    })
}

/// Keys whose values are secrets.
const SECRET_KEYS: &[&str] = &["secret", "smtp_password", "app_secret"];
/// URL keys whose query or path carries a credential (DingTalk access_token, WeCom key,
/// Feishu hook id).
const URL_KEYS: &[&str] = &["webhook_url"];

fn sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "token", "key", "secret", "cookie", "signature", "password"]
        .iter()
        .any(|w| n.contains(w))
}

/// Masks the credential in a chat-robot URL: query values of `access_token`/`key`, and a
/// Feishu hook id.
pub fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return MASK.to_string();
    };
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let masked = matches!(k.as_ref(), "access_token" | "key" | "token");
                (k.into_owned(), if masked { MASK.to_string() } else { v.into_owned() })
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if let Some(pos) = parsed.path().find("/hook/") {
        let prefix = parsed.path()[..pos + "/hook/".len()].to_string();
        parsed.set_path(&format!("{prefix}{MASK}"));
    }
    parsed.to_string().replace("%2A", "*")
}

/// The configuration as shown in responses: secrets replaced by [`MASK`].
pub fn masked(config: &Value) -> Value {
    let Some(map) = config.as_object() else {
        return config.clone();
    };
    let mut out = map.clone();
    for (key, value) in out.iter_mut() {
        if value.is_null() {
            continue;
        }
        if SECRET_KEYS.contains(&key.as_str()) {
            *value = Value::String(MASK.into());
        } else if URL_KEYS.contains(&key.as_str()) {
            if let Some(url) = value.as_str() {
                *value = Value::String(mask_url(url));
            }
        } else if key == "headers" {
            if let Some(headers) = value.as_object_mut() {
                for (name, v) in headers.iter_mut() {
                    if sensitive_header(name) {
                        *v = Value::String(MASK.into());
                    }
                }
            }
        }
    }
    Value::Object(out)
}

/// An update's configuration with masked values (as a client read them) replaced by
/// the stored secrets, so a client that edits one field and sends the rest back
/// unchanged keeps its secrets.
pub fn unmask(update: &Value, stored: &Value) -> Value {
    let (Some(update), Some(stored)) = (update.as_object(), stored.as_object()) else {
        return update.clone();
    };
    let mut out = update.clone();
    for (key, value) in out.iter_mut() {
        let Some(old) = stored.get(key) else { continue };
        if *value == masked_value(key, old)
            && (SECRET_KEYS.contains(&key.as_str()) || URL_KEYS.contains(&key.as_str()))
        {
            *value = old.clone();
        } else if key == "headers" {
            if let (Some(headers), Some(old)) = (value.as_object_mut(), old.as_object()) {
                for (name, v) in headers.iter_mut() {
                    if v.as_str() == Some(MASK) && sensitive_header(name) {
                        if let Some(o) = old.get(name) {
                            *v = o.clone();
                        }
                    }
                }
            }
        }
    }
    Value::Object(out)
}

fn masked_value(key: &str, value: &Value) -> Value {
    let mut one = Map::new();
    one.insert(key.to_string(), value.clone());
    masked(&Value::Object(one)).get(key).cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(kind: ChannelType, config: Value) -> Result<ChannelConfig, FieldError> {
        ChannelConfig::parse(kind, &config, false)
    }

    #[test]
    fn vigilops_configurations_parse() {
        let d = parse(
            ChannelType::DingTalk,
            json!({"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=abc", "secret": "SECx"}),
        )
        .unwrap();
        assert!(matches!(d, ChannelConfig::DingTalk { secret: Some(_), .. }));
        let e = parse(
            ChannelType::Email,
            json!({"smtp_host": "smtp.example.com", "smtp_port": 465, "smtp_user": "ops@example.com",
                   "smtp_password": "pw", "smtp_ssl": true, "recipients": ["a@example.com"]}),
        )
        .unwrap();
        let ChannelConfig::Email(e) = e else { panic!("email") };
        assert_eq!(
            (e.security, e.smtp_port, e.from.as_str()),
            (SmtpSecurity::Tls, 465, "ops@example.com")
        );
        let w = parse(ChannelType::Webhook, json!({"url": "http://h/x", "headers": {"X-A": "1"}}))
            .unwrap();
        assert!(matches!(w, ChannelConfig::Webhook { ref method, .. } if method == "POST"));
    }

    #[test]
    fn smtp_security_wins_over_smtp_ssl_and_sets_the_default_port() {
        let ChannelConfig::Email(e) = parse(
            ChannelType::Email,
            json!({"smtp_host": "h", "smtp_ssl": true, "smtp_security": "none", "recipients": "a@x.io", "from": "w@x.io"}),
        )
        .unwrap() else {
            panic!("email")
        };
        assert_eq!((e.security, e.smtp_port), (SmtpSecurity::None, 25));
    }

    #[test]
    fn bad_configurations_name_the_field() {
        let cases = [
            (ChannelType::DingTalk, json!({}), "webhook_url"),
            (ChannelType::DingTalk, json!({"webhook_url": "ftp://x"}), "webhook_url"),
            (
                ChannelType::DingTalk,
                json!({"webhook_url": "https://x/send", "secret": "nope"}),
                "secret",
            ),
            (
                ChannelType::WeCom,
                json!({"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}),
                "webhook_url",
            ),
            (ChannelType::Feishu, json!({}), "webhook_url"),
            (ChannelType::Feishu, json!({"receive_id": "oc_1"}), "receive_id"),
            (ChannelType::Email, json!({"smtp_host": "h", "recipients": []}), "recipients"),
            (
                ChannelType::Email,
                json!({"smtp_host": "h", "recipients": ["not-an-address"]}),
                "recipients",
            ),
            (ChannelType::Email, json!({"smtp_host": "h", "recipients": ["a@x.io"]}), "from"),
            (
                ChannelType::Email,
                json!({"smtp_host": "h", "smtp_port": 70000, "recipients": ["a@x.io"], "from": "a@x.io"}),
                "smtp_port",
            ),
            (ChannelType::Webhook, json!({"url": "http://h", "method": "GET"}), "method"),
            (ChannelType::Webhook, json!({"url": "http://h", "headers": {"X": 1}}), "headers.X"),
        ];
        for (kind, config, field) in cases {
            let err = parse(kind, config.clone()).expect_err(&config.to_string());
            assert_eq!(err.field, field, "{config}: {}", err.message);
        }
    }

    #[test]
    fn secrets_and_url_credentials_are_masked_and_kept_on_round_trip() {
        let stored = json!({
            "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=abcdef",
            "secret": "SECsecret",
            "headers": {"Authorization": "Bearer t", "X-Env": "prod"}
        });
        let shown = masked(&stored);
        assert_eq!(shown["secret"], MASK);
        assert_eq!(
            shown["webhook_url"],
            "https://oapi.dingtalk.com/robot/send?access_token=******"
        );
        assert_eq!(shown["headers"]["Authorization"], MASK);
        assert_eq!(shown["headers"]["X-Env"], "prod");
        assert!(!shown.to_string().contains("abcdef"));
        assert_eq!(unmask(&shown, &stored), stored);
        let feishu = mask_url("https://open.feishu.cn/open-apis/bot/v2/hook/1234-abcd");
        assert_eq!(feishu, "https://open.feishu.cn/open-apis/bot/v2/hook/******");
        let mut changed = shown.clone();
        changed["secret"] = json!("SECnew");
        assert_eq!(unmask(&changed, &stored)["secret"], "SECnew");
    }
}
