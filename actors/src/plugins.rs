//! The tools Warden's diagnosis may call (diagnostic) or propose (remediation), each
//! with a JSON-schema `parameters` object its arguments are checked against before a
//! call. Names are bare snake_case (seed 001).

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Diagnostic,
    Remediation,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Diagnostic => "diagnostic",
            Category::Remediation => "remediation",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub category: Category,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: Value,
    /// How long one call may take.
    pub timeout_secs: u64,
    /// Remediation tools always need a person's approval before they run.
    pub needs_approval: bool,
}

fn spec(
    name: &'static str,
    description: &'static str,
    category: Category,
    parameters: Value,
) -> PluginSpec {
    PluginSpec {
        name,
        description,
        category,
        parameters,
        timeout_secs: if category == Category::Diagnostic { 10 } else { 300 },
        needs_approval: category == Category::Remediation,
    }
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// Every plugin, diagnostic ones first.
pub fn registry() -> Vec<PluginSpec> {
    use Category::{Diagnostic as D, Remediation as R};
    let host_id = json!({"type": "integer", "minimum": 1, "description": "主机 ID"});
    let limit =
        json!({"type": "integer", "minimum": 1, "maximum": 200, "description": "最多返回条数"});
    vec![
        spec(
            "list_hosts",
            "列出主机及其在线状态",
            D,
            object(
                json!({
            "status": {"type": "string", "enum": ["online", "offline"], "description": "按状态筛选"},
            "group_name": {"type": "string", "description": "主机分组"}}),
                &[],
            ),
        ),
        spec(
            "get_host_metrics",
            "主机最新指标与近期趋势",
            D,
            object(
                json!({
            "host_id": host_id, "hours": {"type": "integer", "minimum": 1, "maximum": 168, "description": "回看小时数"}}),
                &["host_id"],
            ),
        ),
        spec(
            "search_logs",
            "按关键字检索日志",
            D,
            object(
                json!({
            "query": {"type": "string", "minLength": 1, "description": "关键字(子串)"},
            "host_id": host_id, "level": {"type": "string", "description": "级别,逗号分隔"},
            "minutes": {"type": "integer", "minimum": 1, "maximum": 10080, "description": "回看分钟数"},
            "limit": limit}),
                &["query"],
            ),
        ),
        spec(
            "recent_alerts",
            "近期告警",
            D,
            object(
                json!({
            "host_id": host_id, "status": {"type": "string", "enum": ["firing", "acknowledged", "resolved"]},
            "limit": limit}),
                &[],
            ),
        ),
        spec(
            "service_status",
            "服务状态与最近检查结果",
            D,
            object(
                json!({
            "host_id": host_id, "name": {"type": "string", "description": "服务名"}}),
                &[],
            ),
        ),
        spec(
            "database_status",
            "数据库健康与关键指标",
            D,
            object(
                json!({
            "host_id": host_id, "name": {"type": "string", "description": "数据库名"}}),
                &[],
            ),
        ),
        spec(
            "service_dependencies",
            "环境上下文中服务的依赖关系",
            D,
            object(
                json!({
            "service": {"type": "string", "minLength": 1, "description": "服务名"}}),
                &["service"],
            ),
        ),
        spec(
            "search_knowledge",
            "检索知识库",
            D,
            object(
                json!({
            "query": {"type": "string", "minLength": 1}, "category": {"type": "string"}, "limit": limit}),
                &["query"],
            ),
        ),
        spec(
            "incident_history",
            "同指纹或同服务的历史 Incident",
            D,
            object(
                json!({
            "service": {"type": "string"}, "title": {"type": "string"}, "limit": limit}),
                &[],
            ),
        ),
        spec(
            "list_runbooks",
            "可用的修复 Runbook",
            D,
            object(
                json!({
            "alert_type": {"type": "string"}}),
                &[],
            ),
        ),
        spec(
            "run_runbook",
            "对告警执行一个 Runbook(经安全检查与审批)",
            R,
            object(
                json!({
            "alert_id": {"type": "integer", "minimum": 1}, "runbook": {"type": "string", "minLength": 1}}),
                &["alert_id"],
            ),
        ),
        spec(
            "restart_service",
            "用 systemd 重启服务",
            R,
            object(
                json!({
            "host_id": host_id, "service": {"type": "string", "minLength": 1}}),
                &["host_id", "service"],
            ),
        ),
    ]
}

pub fn find(name: &str) -> Option<PluginSpec> {
    registry().into_iter().find(|p| p.name == name)
}

/// Checks arguments against the subset of JSON Schema the registry uses: object with
/// `properties`, `required`, `additionalProperties: false`; `type` (string, integer,
/// number, boolean, array, object), `enum`, `minimum`/`maximum`, `minLength`.
/// Returns every problem, each naming its argument.
pub fn check_arguments(schema: &Value, args: &Value) -> Vec<String> {
    let Some(args) = args.as_object() else { return vec!["arguments must be an object".into()] };
    let empty = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let mut problems = Vec::new();
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !args.contains_key(name) {
            problems.push(format!("{name}: required"));
        }
    }
    for (name, value) in args {
        match properties.get(name) {
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                problems.push(format!("{name}: unknown argument"));
            }
            None => {}
            Some(rule) => problems.extend(check_value(rule, value).map(|p| format!("{name}: {p}"))),
        }
    }
    problems
}

fn check_value(rule: &Value, value: &Value) -> Option<String> {
    let kind = rule.get("type").and_then(Value::as_str).unwrap_or("any");
    let type_ok = match kind {
        "string" => value.is_string(),
        "integer" => value.as_i64().is_some(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !type_ok {
        return Some(format!("must be {kind}"));
    }
    if let Some(allowed) = rule.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Some(format!("must be one of {}", Value::Array(allowed.clone())));
        }
    }
    if let (Some(n), Some(min)) = (value.as_f64(), rule.get("minimum").and_then(Value::as_f64)) {
        if n < min {
            return Some(format!("must be at least {min}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), rule.get("maximum").and_then(Value::as_f64)) {
        if n > max {
            return Some(format!("must be at most {max}"));
        }
    }
    if let (Some(s), Some(min)) = (value.as_str(), rule.get("minLength").and_then(Value::as_u64)) {
        if (s.chars().count() as u64) < min {
            return Some(format!("must have at least {min} characters"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_schemas_are_objects() {
        let all = registry();
        let mut names: Vec<_> = all.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for p in &all {
            assert!(p.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", p.name);
            assert_eq!(p.parameters["type"], "object", "{}", p.name);
            assert_eq!(p.needs_approval, p.category == Category::Remediation);
        }
        assert!(find("search_logs").is_some() && find("nope").is_none());
    }

    #[test]
    fn arguments_are_checked_against_the_schema() {
        let schema = find("search_logs").unwrap().parameters;
        assert!(check_arguments(&schema, &json!({"query": "timeout", "limit": 10})).is_empty());
        let problems =
            check_arguments(&schema, &json!({"limit": 0, "host_id": "1", "colour": "blue"}));
        assert!(problems.contains(&"query: required".to_string()), "{problems:?}");
        assert!(problems.contains(&"limit: must be at least 1".to_string()), "{problems:?}");
        assert!(problems.contains(&"host_id: must be integer".to_string()), "{problems:?}");
        assert!(problems.contains(&"colour: unknown argument".to_string()), "{problems:?}");
        let alerts = find("recent_alerts").unwrap().parameters;
        assert_eq!(check_arguments(&alerts, &json!({"status": "open"})).len(), 1);
        assert_eq!(check_arguments(&alerts, &json!([1])), ["arguments must be an object"]);
        assert_eq!(
            check_arguments(&schema, &json!({"query": ""})),
            ["query: must have at least 1 characters"]
        );
    }
}
