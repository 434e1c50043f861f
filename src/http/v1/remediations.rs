//! Remediation runs and runbooks (seed 000 §Auto Remediation, §Custom Runbooks). Runs
//! are owned by the remediation supervisor and their actors: triggers and decisions are
//! sent to them; the reads come from the store.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{Datelike, Duration, TimeZone, Utc};
use ractor::rpc::CallResult;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::remediation::actor::{Decision, DecisionError};
use warden_actors::remediation::guard::CommandGuard;
use warden_actors::remediation::run::RunStatus;
use warden_actors::remediation::runbook::{builtins, validate, RiskLevel, Runbook, Step};
use warden_actors::remediation::supervisor::{RemediationMsg, Trigger, TriggerError};

use crate::http::audit::{audit, Audit};
use crate::http::error::{ApiError, FieldError};
use crate::http::extract::{
    parse_json, AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser, PageQuery, RawBody,
};
use crate::http::state::AppState;
use crate::storage::remediation::{RunFilter, RunRow, RunbookRow};
use crate::storage::stored_json;

const NOT_FOUND: &str = "Remediation log not found";
const RUNBOOK_NOT_FOUND: &str = "Runbook not found";
/// How long a trigger or decision may take in the supervisor before the client is told.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

fn run_json(r: &RunRow) -> Value {
    json!({
        "id": r.id,
        "alert_id": r.alert_id,
        "host_id": r.host_id,
        "status": r.status,
        "risk_level": r.risk_level,
        "runbook_name": r.runbook_name,
        "diagnosis_json": stored_json(r.diagnosis_json.as_deref()),
        "command_results_json": stored_json(Some(&r.command_results_json)),
        "verification_passed": r.verification_passed,
        "blocked_reason": r.blocked_reason,
        "triggered_by": r.triggered_by,
        "triggered_by_user": r.triggered_by_user,
        "executor": r.executor,
        "approved_by": r.approved_by,
        "approved_at": r.approved_at,
        "approval_comment": r.approval_comment,
        "approval_deadline": r.approval_deadline,
        "started_at": r.started_at,
        "executed_at": r.executed_at,
        "completed_at": r.completed_at,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

async fn run_or_404(state: &AppState, id: i64) -> Result<RunRow, ApiError> {
    state.db.run_by_id(id).await?.ok_or_else(|| ApiError::not_found(NOT_FOUND))
}

/// The run with its runbook (as run) and its history of transitions.
async fn run_detail(state: &AppState, row: &RunRow) -> Result<Value, ApiError> {
    let mut v = run_json(row);
    v["runbook"] = stored_json(Some(&row.runbook_json));
    let events = state.db.run_events(row.id).await?;
    v["events"] = events
        .iter()
        .map(|e| {
            json!({"from_status": e.from_status, "to_status": e.to_status, "actor": e.actor,
                   "actor_id": e.actor_id, "comment": e.comment, "reason": e.reason, "at": e.at})
        })
        .collect();
    Ok(v)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// pending, blocked, pending_approval, approved, rejected, expired, executing, success, failed
    pub status: Option<String>,
    pub host_id: Option<i64>,
    /// auto or manual
    pub triggered_by: Option<String>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

/// List remediation runs, newest first.
#[utoipa::path(get, path = "/api/v1/remediations", tag = "remediations", security(("bearer" = [])), params(RunsQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<RunsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(20, 100)?;
    let status = q.status.filter(|s| !s.is_empty());
    if status.as_deref().is_some_and(|s| RunStatus::parse(s).is_none()) {
        let names: Vec<String> =
            RunStatus::ALL.iter().map(|s| format!("'{}'", s.as_str())).collect();
        return Err(ApiError::field(
            &["query", "status"],
            "enum",
            format!("Input should be {}", names.join(", ")),
        ));
    }
    let triggered_by = q.triggered_by.filter(|s| !s.is_empty());
    if triggered_by.as_deref().is_some_and(|t| t != "auto" && t != "manual") {
        return Err(ApiError::field(
            &["query", "triggered_by"],
            "enum",
            "Input should be 'auto' or 'manual'",
        ));
    }
    let filter = RunFilter { status, host_id: q.host_id, triggered_by };
    let found = state.db.list_runs(&filter, page, page_size).await?;
    let items: Vec<Value> = found.items.iter().map(run_json).collect();
    Ok(Json(json!({"items": items, "total": found.total, "page": page, "page_size": page_size})))
}

/// Counts, success rate and average duration of the runs.
#[utoipa::path(get, path = "/api/v1/remediations/stats", tag = "remediations", security(("bearer" = [])),
    responses((status = 200, description = "{total, success, failed, pending, success_rate, avg_duration_seconds, today_count, week_count}")))]
pub async fn stats(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let today =
        Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0).single().unwrap_or(now);
    let week = today - Duration::days(i64::from(now.weekday().num_days_from_monday()));
    let s = state.db.run_stats(today, week).await?;
    let success_rate =
        if s.total > 0 { (s.success as f64 / s.total as f64 * 1000.0).round() / 10.0 } else { 0.0 };
    Ok(Json(json!({
        "total": s.total, "success": s.success, "failed": s.failed, "pending": s.pending,
        "success_rate": success_rate, "avg_duration_seconds": s.avg_duration_seconds,
        "today_count": s.today_count, "week_count": s.week_count,
    })))
}

/// One run: diagnosis, the runbook as run, each command's result and the history.
#[utoipa::path(get, path = "/api/v1/remediations/{id}", tag = "remediations", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "the run"), (status = 404, description = "Remediation log not found")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let row = run_or_404(&state, id).await?;
    Ok(Json(run_detail(&state, &row).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DecisionIn {
    pub comment: Option<String>,
}

/// The body of approve/reject is optional: none means no comment.
fn decision_body(body: &RawBody) -> Result<DecisionIn, ApiError> {
    if body.0.iter().all(u8::is_ascii_whitespace) {
        return Ok(DecisionIn::default());
    }
    parse_json(&body.0)
}

async fn decide(
    state: &AppState,
    user: &AuthUser,
    ip: &ClientIp,
    id: i64,
    approve: bool,
    body: DecisionIn,
) -> Result<Json<Value>, ApiError> {
    let comment = body.comment.filter(|c| !c.trim().is_empty());
    let row = decide_run(state, user.id, ip, id, approve, comment, "api").await?;
    Ok(Json(run_json(&row)))
}

/// Approves or rejects a run waiting for approval, through its actor, and audits it;
/// the REST routes and Feishu card buttons both come here. `via` is recorded in the
/// audit entry (`api` or `feishu`).
pub async fn decide_run(
    state: &AppState,
    user_id: i64,
    ip: &ClientIp,
    id: i64,
    approve: bool,
    comment: Option<String>,
    via: &str,
) -> Result<RunRow, ApiError> {
    let verb = if approve { "approve" } else { "reject" };
    let row = run_or_404(state, id).await?;
    if row.status != RunStatus::PendingApproval.as_str() {
        return Err(ApiError::bad_request(format!(
            "Cannot {verb} remediation in status: {}",
            row.status
        )));
    }
    let by = state.db.user_label(user_id).await?;
    let decision = Decision { by, by_id: Some(user_id), comment: comment.clone() };
    let outcome = state
        .remediation
        .call(
            |reply| RemediationMsg::Decide { run_id: id, approve, decision, reply },
            Some(CALL_TIMEOUT),
        )
        .await
        .map_err(|e| {
            ApiError::unavailable(format!("remediation supervisor did not answer: {e}"))
        })?;
    match outcome {
        CallResult::Success(Ok(())) => {}
        CallResult::Success(Err(DecisionError::WrongStatus { verb, status })) => {
            return Err(ApiError::bad_request(format!(
                "Cannot {verb} remediation in status: {}",
                status.as_str()
            )))
        }
        CallResult::Success(Err(DecisionError::Store(e))) => return Err(ApiError::internal(e)),
        CallResult::Timeout | CallResult::SenderError => {
            return Err(ApiError::unavailable("the remediation run did not answer; try again"))
        }
    }
    let action = if approve { "approve_remediation" } else { "reject_remediation" };
    let detail = json!({"comment": comment, "via": via});
    audit(
        state,
        Audit::new(Some(user_id), action, "remediation_log").resource(id).ip(ip).detail(detail),
    )
    .await;
    run_or_404(state, id).await
}

/// Approve a run waiting for approval; it executes at once.
#[utoipa::path(post, path = "/api/v1/remediations/{id}/approve", tag = "remediations", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DecisionIn,
    responses((status = 200, description = "the run"), (status = 400, description = "Cannot approve remediation in status: …"),
              (status = 404, description = "Remediation log not found")))]
pub async fn approve(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    body: RawBody,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &user, &ip, id, true, decision_body(&body)?).await
}

/// Reject a run waiting for approval.
#[utoipa::path(post, path = "/api/v1/remediations/{id}/reject", tag = "remediations", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DecisionIn,
    responses((status = 200, description = "the run"), (status = 400, description = "Cannot reject remediation in status: …"),
              (status = 404, description = "Remediation log not found")))]
pub async fn reject(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    body: RawBody,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &user, &ip, id, false, decision_body(&body)?).await
}

/// Start a remediation run for an alert (409 while one is in progress).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/remediate", tag = "remediations", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "the run"), (status = 400, description = "Alert is already resolved"),
              (status = 404, description = "Alert not found"),
              (status = 409, description = "A remediation is already in progress for this alert")))]
pub async fn trigger(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(alert_id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let by = state.db.user_label(user.id).await?;
    let trigger = Trigger::Manual { user_id: user.id, by };
    let outcome = state
        .remediation
        .call(|reply| RemediationMsg::Trigger { alert_id, trigger, reply }, Some(CALL_TIMEOUT))
        .await
        .map_err(|e| {
            ApiError::unavailable(format!("remediation supervisor did not answer: {e}"))
        })?;
    let run_id = match outcome {
        CallResult::Success(Ok(id)) => id,
        CallResult::Success(Err(e)) => {
            return Err(match e {
                TriggerError::AlertNotFound => ApiError::not_found(e.to_string()),
                TriggerError::AlertResolved => ApiError::bad_request(e.to_string()),
                TriggerError::InProgress => ApiError::conflict(e.to_string()),
                TriggerError::NoRunbook | TriggerError::Store(_) => ApiError::internal(e),
            })
        }
        CallResult::Timeout | CallResult::SenderError => {
            return Err(ApiError::unavailable(
                "the remediation supervisor did not answer; try again",
            ))
        }
    };
    audit(
        &state,
        Audit::new(Some(user.id), "trigger_remediation", "alert")
            .resource(alert_id)
            .ip(&ip)
            .detail(json!({"remediation_id": run_id})),
    )
    .await;
    Ok(Json(run_json(&run_or_404(&state, run_id).await?)))
}

// ---------------------------------------------------------------- runbooks

fn runbook_json(r: &Runbook, row: Option<&RunbookRow>) -> Value {
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "match_alert_types": r.match_alert_types,
        "trigger_keywords": r.trigger_keywords,
        "risk_level": r.risk_level,
        "safety_checks": r.safety_checks,
        "steps": r.steps,
        "verify_steps": r.verify_steps,
        "is_builtin": row.is_none(),
    });
    if let Some(row) = row {
        v["is_active"] = json!(row.is_active);
        v["created_by"] = json!(row.created_by);
        v["created_at"] = json!(row.created_at);
        v["updated_at"] = json!(row.updated_at);
    }
    v
}

/// The six built-in runbooks and the custom ones, in the order alerts are matched
/// (custom first).
#[utoipa::path(get, path = "/api/v1/runbooks", tag = "remediations", security(("bearer" = [])),
    responses((status = 200, description = "[runbook]")))]
pub async fn list_all_runbooks(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let custom = state.db.list_custom_runbooks().await?;
    let mut all: Vec<Value> =
        custom.iter().map(|row| runbook_json(&row.runbook(), Some(row))).collect();
    all.extend(builtins().iter().map(|r| runbook_json(r, None)));
    Ok(Json(Value::Array(all)))
}

/// List custom runbooks.
#[utoipa::path(get, path = "/api/v1/runbooks/custom", tag = "remediations", security(("bearer" = [])),
    responses((status = 200, description = "[runbook]")))]
pub async fn list_runbooks(
    State(state): State<AppState>,
    OperatorUser(_user): OperatorUser,
) -> Result<Json<Value>, ApiError> {
    let rows = state.db.list_custom_runbooks().await?;
    Ok(Json(rows.iter().map(|row| runbook_json(&row.runbook(), Some(row))).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StepIn {
    pub name: Option<String>,
    pub command: Option<String>,
    pub timeout_sec: Option<i64>,
    pub rollback_command: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RunbookIn {
    pub name: Option<String>,
    pub description: Option<String>,
    pub match_alert_types: Option<Vec<String>>,
    pub trigger_keywords: Option<Vec<String>>,
    pub risk_level: Option<String>,
    pub safety_checks: Option<Vec<String>>,
    pub steps: Option<Vec<StepIn>>,
    pub verify_steps: Option<Vec<StepIn>>,
    pub is_active: Option<bool>,
}

fn field_error(path: &str, kind: &str, msg: impl Into<String>) -> FieldError {
    let mut loc = vec![Value::from("body")];
    for part in path.split(['.', '[']) {
        let part = part.trim_end_matches(']');
        loc.push(part.parse::<i64>().map_or_else(|_| Value::from(part), Value::from));
    }
    FieldError { kind: kind.into(), loc, msg: msg.into() }
}

fn steps(input: Option<Vec<StepIn>>) -> Vec<Step> {
    input
        .unwrap_or_default()
        .into_iter()
        .map(|s| Step {
            name: s.name.unwrap_or_default().trim().to_string(),
            command: s.command.unwrap_or_default().trim().to_string(),
            timeout_sec: s.timeout_sec.unwrap_or(60).clamp(0, 1_000_000) as u64,
            rollback_command: s
                .rollback_command
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty()),
        })
        .collect()
}

/// Builds and checks a runbook from `body` over `base` (the stored one on update);
/// every problem becomes a 422 entry naming its field.
fn runbook_from(
    state: &AppState,
    body: RunbookIn,
    base: Option<Runbook>,
) -> Result<(Runbook, Option<bool>), ApiError> {
    let mut problems = Vec::new();
    let base = base.unwrap_or_else(|| Runbook {
        id: None,
        name: String::new(),
        description: String::new(),
        match_alert_types: Vec::new(),
        trigger_keywords: Vec::new(),
        risk_level: RiskLevel::Confirm,
        safety_checks: Vec::new(),
        steps: Vec::new(),
        verify_steps: Vec::new(),
    });
    let creating = base.id.is_none();
    if creating && body.name.is_none() {
        problems.push(field_error("name", "missing", "Field required"));
    }
    if creating && body.steps.is_none() {
        problems.push(field_error("steps", "missing", "Field required"));
    }
    let risk_level = match body.risk_level.as_deref() {
        None => base.risk_level,
        Some(text) => RiskLevel::parse(text).unwrap_or_else(|| {
            problems.push(field_error(
                "risk_level",
                "enum",
                format!("Input should be {}", RiskLevel::NAMES),
            ));
            base.risk_level
        }),
    };
    let runbook = Runbook {
        id: base.id,
        name: body.name.map(|n| n.trim().to_string()).unwrap_or(base.name),
        description: body.description.unwrap_or(base.description),
        match_alert_types: body.match_alert_types.unwrap_or(base.match_alert_types),
        trigger_keywords: body.trigger_keywords.unwrap_or(base.trigger_keywords),
        risk_level,
        safety_checks: body.safety_checks.unwrap_or(base.safety_checks),
        steps: if body.steps.is_some() { steps(body.steps) } else { base.steps },
        verify_steps: if body.verify_steps.is_some() {
            steps(body.verify_steps)
        } else {
            base.verify_steps
        },
    };
    if runbook.name.chars().count() > 100 {
        problems.push(field_error(
            "name",
            "string_too_long",
            "String should have at most 100 characters",
        ));
    }
    let guard = CommandGuard::new(&state.runtime_settings().forbidden_verbs);
    problems.extend(
        validate(&runbook, &guard)
            .into_iter()
            .map(|p| field_error(&p.field, "value_error", p.message)),
    );
    if problems.is_empty() {
        Ok((runbook, body.is_active))
    } else {
        Err(ApiError::validation(problems))
    }
}

/// Create a custom runbook; every command must pass the safety check.
#[utoipa::path(post, path = "/api/v1/runbooks/custom", tag = "remediations", security(("bearer" = [])),
    request_body = RunbookIn,
    responses((status = 201, description = "the runbook"), (status = 409, description = "Runbook name already exists"),
              (status = 422, description = "names the step and the rule it broke")))]
pub async fn create_runbook(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<RunbookIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (runbook, active) = runbook_from(&state, body, None)?;
    let row = state
        .db
        .create_custom_runbook(&runbook, active.unwrap_or(true), Some(user.id), state.clock.now())
        .await?
        .ok_or_else(|| ApiError::conflict("Runbook name already exists"))?;
    audit(
        &state,
        Audit::new(Some(user.id), "create_runbook", "custom_runbook")
            .resource(row.id)
            .ip(&ip)
            .detail(json!({"name": row.name})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(runbook_json(&row.runbook(), Some(&row)))))
}

/// Update a custom runbook (fields left out keep their value).
#[utoipa::path(put, path = "/api/v1/runbooks/custom/{id}", tag = "remediations", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RunbookIn,
    responses((status = 200, description = "the runbook"), (status = 404, description = "Runbook not found"),
              (status = 409, description = "Runbook name already exists"), (status = 422, description = "validation")))]
pub async fn update_runbook(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<RunbookIn>,
) -> Result<Json<Value>, ApiError> {
    let current =
        state.db.custom_runbook(id).await?.ok_or_else(|| ApiError::not_found(RUNBOOK_NOT_FOUND))?;
    let (runbook, active) = runbook_from(&state, body, Some(current.runbook()))?;
    if state.db.custom_runbook_name_taken(&runbook.name, Some(id)).await? {
        return Err(ApiError::conflict("Runbook name already exists"));
    }
    let row = match state
        .db
        .update_custom_runbook(id, &runbook, active.unwrap_or(current.is_active), state.clock.now())
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return Err(ApiError::not_found(RUNBOOK_NOT_FOUND)),
        Err(e) if crate::storage::is_unique_violation(&e) => {
            return Err(ApiError::conflict("Runbook name already exists"))
        }
        Err(e) => return Err(e.into()),
    };
    audit(
        &state,
        Audit::new(Some(user.id), "update_runbook", "custom_runbook").resource(id).ip(&ip),
    )
    .await;
    Ok(Json(runbook_json(&row.runbook(), Some(&row))))
}

/// Delete a custom runbook (runs keep the copy they ran).
#[utoipa::path(delete, path = "/api/v1/runbooks/custom/{id}", tag = "remediations", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, description = "Runbook not found")))]
pub async fn delete_runbook(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    if !state.db.delete_custom_runbook(id).await? {
        return Err(ApiError::not_found(RUNBOOK_NOT_FOUND));
    }
    audit(
        &state,
        Audit::new(Some(user.id), "delete_runbook", "custom_runbook").resource(id).ip(&ip),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
