//! Notification templates: `{{variable}}` placeholders rendered with minijinja (so
//! filters and conditions work too), the variables a message offers, and the built-in
//! templates (Chinese and English) every channel type has from the first start.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// Variables a template may use. Unknown ones render empty and are reported on save.
pub const VARIABLES: &[&str] = &[
    "severity",
    "title",
    "message",
    "hostname",
    "ip",
    "metric",
    "metric_value",
    "threshold",
    "status",
    "fired_at",
    "resolved_at",
    "alert_id",
    "rule_name",
    "url",
    "event",
    // Remediation approval requests and results.
    "run_id",
    "runbook",
    "risk",
    "commands",
    "reason",
    "result",
    "approve_url",
    "reject_url",
    "how_to_approve",
    "decided_by",
    // Reports.
    "report_id",
    "report_title",
    "summary",
    "period",
];

/// The message kinds a template is written for.
pub const KINDS: &[&str] = &["alert", "approval", "remediation", "report"];

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    // Messages are text; escaping belongs to the channel that needs it (email HTML).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

/// What is wrong with a template source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub message: String,
}

/// Checks `source`: a syntax error is a problem; variables outside [`VARIABLES`] are
/// returned (they render empty).
pub fn validate(source: &str) -> Result<Vec<String>, TemplateProblem> {
    let env = environment();
    let template = env
        .template_from_str(source)
        .map_err(|e| TemplateProblem { message: format!("template syntax error: {e}") })?;
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !VARIABLES.contains(&v.as_str()))
        .collect();
    unknown.sort();
    Ok(unknown)
}

/// Renders `source` with `vars`. A template that no longer renders (it was checked on
/// save, so this is rare) yields its source, so the message still goes out.
pub fn render(source: &str, vars: &Value) -> String {
    let env = environment();
    match env.render_str(source, minijinja::value::Serde(vars)) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(error = %e, "a notification template failed to render; sending its source");
            source.to_string()
        }
    }
}

/// A built-in template: channel type (or "all"), kind, locale, title, body.
pub struct Builtin {
    pub channel_type: &'static str,
    pub kind: &'static str,
    pub locale: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub body: &'static str,
}

const ALERT_TITLE_ZH: &str = "【{{severity}}】{{title}}{% if status == 'resolved' %}(已恢复){% elif status == 'acknowledged' %}(已确认){% endif %}";
const ALERT_TITLE_EN: &str = "[{{severity | upper}}] {{title}}{% if status == 'resolved' %} (resolved){% elif status == 'acknowledged' %} (acknowledged){% endif %}";

const ALERT_MD_ZH: &str = "### {{title}}\n\
- 状态:**{{status}}**\n\
- 级别:{{severity}}\n\
{% if hostname %}- 主机:{{hostname}}{% if ip %} ({{ip}}){% endif %}\n{% endif %}\
{% if metric %}- 指标:{{metric}} = {{metric_value}}(阈值 {{threshold}})\n{% endif %}\
{% if rule_name %}- 规则:{{rule_name}}\n{% endif %}\
- 触发时间:{{fired_at}}\n\
{% if resolved_at %}- 恢复时间:{{resolved_at}}\n{% endif %}\
{% if message %}\n> {{message}}\n{% endif %}\
{% if url %}\n[查看告警 #{{alert_id}}]({{url}})\n{% endif %}";

const ALERT_MD_EN: &str = "### {{title}}\n\
- Status: **{{status}}**\n\
- Severity: {{severity}}\n\
{% if hostname %}- Host: {{hostname}}{% if ip %} ({{ip}}){% endif %}\n{% endif %}\
{% if metric %}- Metric: {{metric}} = {{metric_value}} (threshold {{threshold}})\n{% endif %}\
{% if rule_name %}- Rule: {{rule_name}}\n{% endif %}\
- Fired at: {{fired_at}}\n\
{% if resolved_at %}- Resolved at: {{resolved_at}}\n{% endif %}\
{% if message %}\n> {{message}}\n{% endif %}\
{% if url %}\n[Open alert #{{alert_id}}]({{url}})\n{% endif %}";

const ALERT_TEXT_ZH: &str = "告警:{{title}}\n状态:{{status}}\n级别:{{severity}}\n\
{% if hostname %}主机:{{hostname}}{% if ip %} ({{ip}}){% endif %}\n{% endif %}\
{% if metric %}指标:{{metric}} = {{metric_value}}(阈值 {{threshold}})\n{% endif %}\
{% if rule_name %}规则:{{rule_name}}\n{% endif %}\
触发时间:{{fired_at}}\n{% if resolved_at %}恢复时间:{{resolved_at}}\n{% endif %}\
{% if message %}\n{{message}}\n{% endif %}{% if url %}\n{{url}}\n{% endif %}";

const ALERT_TEXT_EN: &str = "Alert: {{title}}\nStatus: {{status}}\nSeverity: {{severity}}\n\
{% if hostname %}Host: {{hostname}}{% if ip %} ({{ip}}){% endif %}\n{% endif %}\
{% if metric %}Metric: {{metric}} = {{metric_value}} (threshold {{threshold}})\n{% endif %}\
{% if rule_name %}Rule: {{rule_name}}\n{% endif %}\
Fired at: {{fired_at}}\n{% if resolved_at %}Resolved at: {{resolved_at}}\n{% endif %}\
{% if message %}\n{{message}}\n{% endif %}{% if url %}\n{{url}}\n{% endif %}";

const APPROVAL_TITLE_ZH: &str = "待审批:修复任务 #{{run_id}}({{runbook}})";
const APPROVAL_TITLE_EN: &str = "Approval needed: remediation run #{{run_id}} ({{runbook}})";
const APPROVAL_BODY_ZH: &str = "**操作**:{{runbook}}{% if hostname %} @ {{hostname}}{% endif %}\n\
**风险**:{{risk}}\n{% if title %}**告警**:{{title}}\n{% endif %}{% if reason %}**诊断**:{{reason}}\n{% endif %}\
**命令**:\n{{commands}}\n{% if how_to_approve %}\n{{how_to_approve}}{% endif %}";
const APPROVAL_BODY_EN: &str = "**Action**: {{runbook}}{% if hostname %} on {{hostname}}{% endif %}\n\
**Risk**: {{risk}}\n{% if title %}**Alert**: {{title}}\n{% endif %}{% if reason %}**Diagnosis**: {{reason}}\n{% endif %}\
**Commands**:\n{{commands}}\n{% if how_to_approve %}\n{{how_to_approve}}{% endif %}";

const RESULT_TITLE_ZH: &str = "修复任务 #{{run_id}}:{{result}}";
const RESULT_TITLE_EN: &str = "Remediation run #{{run_id}}: {{result}}";
const RESULT_BODY_ZH: &str =
    "**操作**:{{runbook}}{% if hostname %} @ {{hostname}}{% endif %}\n**结果**:{{result}}\n\
{% if decided_by %}**审批人**:{{decided_by}}\n{% endif %}{% if message %}\n{{message}}{% endif %}";
const RESULT_BODY_EN: &str = "**Action**: {{runbook}}{% if hostname %} on {{hostname}}{% endif %}\n**Result**: {{result}}\n\
{% if decided_by %}**Approved by**: {{decided_by}}\n{% endif %}{% if message %}\n{{message}}{% endif %}";

const REPORT_TITLE_ZH: &str = "运维报告:{{report_title}}";
const REPORT_TITLE_EN: &str = "Operations report: {{report_title}}";
const REPORT_BODY_ZH: &str =
    "**周期**:{{period}}\n\n{{summary}}{% if url %}\n\n[查看报告]({{url}}){% endif %}";
const REPORT_BODY_EN: &str =
    "**Period**: {{period}}\n\n{{summary}}{% if url %}\n\n[Open the report]({{url}}){% endif %}";

macro_rules! builtin {
    ($ct:expr, $kind:expr, $locale:expr, $name:expr, $title:expr, $body:expr) => {
        Builtin {
            channel_type: $ct,
            kind: $kind,
            locale: $locale,
            name: $name,
            title: $title,
            body: $body,
        }
    };
}

/// Every built-in template. Markdown-capable robots get the markdown layout; email and
/// webhooks get plain text.
pub const BUILTINS: &[Builtin] = &[
    builtin!("dingtalk", "alert", "zh-CN", "默认告警模板-钉钉", ALERT_TITLE_ZH, ALERT_MD_ZH),
    builtin!(
        "dingtalk",
        "alert",
        "en",
        "Default alert template (DingTalk)",
        ALERT_TITLE_EN,
        ALERT_MD_EN
    ),
    builtin!("feishu", "alert", "zh-CN", "默认告警模板-飞书", ALERT_TITLE_ZH, ALERT_MD_ZH),
    builtin!(
        "feishu",
        "alert",
        "en",
        "Default alert template (Feishu)",
        ALERT_TITLE_EN,
        ALERT_MD_EN
    ),
    builtin!("wecom", "alert", "zh-CN", "默认告警模板-企业微信", ALERT_TITLE_ZH, ALERT_MD_ZH),
    builtin!("wecom", "alert", "en", "Default alert template (WeCom)", ALERT_TITLE_EN, ALERT_MD_EN),
    builtin!("email", "alert", "zh-CN", "默认告警模板-邮件", ALERT_TITLE_ZH, ALERT_TEXT_ZH),
    builtin!(
        "email",
        "alert",
        "en",
        "Default alert template (email)",
        ALERT_TITLE_EN,
        ALERT_TEXT_EN
    ),
    builtin!("webhook", "alert", "zh-CN", "默认告警模板-Webhook", ALERT_TITLE_ZH, ALERT_TEXT_ZH),
    builtin!(
        "webhook",
        "alert",
        "en",
        "Default alert template (webhook)",
        ALERT_TITLE_EN,
        ALERT_TEXT_EN
    ),
    builtin!("all", "approval", "zh-CN", "默认审批请求模板", APPROVAL_TITLE_ZH, APPROVAL_BODY_ZH),
    builtin!(
        "all",
        "approval",
        "en",
        "Default approval request template",
        APPROVAL_TITLE_EN,
        APPROVAL_BODY_EN
    ),
    builtin!("all", "remediation", "zh-CN", "默认修复结果模板", RESULT_TITLE_ZH, RESULT_BODY_ZH),
    builtin!(
        "all",
        "remediation",
        "en",
        "Default remediation result template",
        RESULT_TITLE_EN,
        RESULT_BODY_EN
    ),
    builtin!("all", "report", "zh-CN", "默认报告通知模板", REPORT_TITLE_ZH, REPORT_BODY_ZH),
    builtin!("all", "report", "en", "Default report template", REPORT_TITLE_EN, REPORT_BODY_EN),
];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_render_and_unknown_ones_are_empty() {
        let vars = json!({"severity": "critical", "title": "磁盘满", "hostname": "web-1"});
        assert_eq!(render("【{{severity}}】{{title}}", &vars), "【critical】磁盘满");
        assert_eq!(
            render("告警内容:{{message}}\n主机:{{hostname}}", &vars),
            "告警内容:\n主机:web-1"
        );
        assert_eq!(render("{{nope}}x", &vars), "x");
        assert_eq!(
            render("<b>{{title}}</b>", &json!({"title": "a<b"})),
            "<b>a<b</b>",
            "no escaping"
        );
    }

    #[test]
    fn validation_reports_unknown_variables_and_syntax_errors() {
        assert_eq!(
            validate("【{{severity}}】{{title}} {{host}} {{zzz}}").unwrap(),
            ["host", "zzz"]
        );
        assert_eq!(validate("{{ severity | upper }}").unwrap(), Vec::<String>::new());
        assert!(validate("{{ title").unwrap_err().message.contains("syntax"));
    }

    #[test]
    fn every_builtin_is_valid_and_renders_each_status() {
        for b in BUILTINS {
            assert_eq!(validate(b.title).unwrap(), Vec::<String>::new(), "{}", b.name);
            assert_eq!(validate(b.body).unwrap(), Vec::<String>::new(), "{}", b.name);
        }
        let md =
            BUILTINS.iter().find(|b| b.channel_type == "dingtalk" && b.locale == "en").unwrap();
        let vars = json!({"severity": "critical", "title": "CPU high", "status": "resolved",
            "hostname": "web-1", "metric": "cpu_percent", "metric_value": 97.5, "threshold": 90.0,
            "fired_at": "2026-11-22T10:00:00Z", "resolved_at": "2026-11-22T10:05:00Z"});
        assert_eq!(render(md.title, &vars), "[CRITICAL] CPU high (resolved)");
        let body = render(md.body, &vars);
        assert!(body.contains("- Host: web-1\n"), "{body}");
        assert!(body.contains("cpu_percent = 97.5 (threshold 90.0)"), "{body}");
        assert!(body.contains("Resolved at: 2026-11-22T10:05:00Z"), "{body}");
        assert!(!body.contains("Open alert"), "no url, no link: {body}");
    }
}
