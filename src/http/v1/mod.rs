//! Family A routes (`/api/v1/...`, seed 000): one file per resource.

pub mod agent;
pub mod agent_tokens;
pub mod ai;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod databases;
pub mod hosts;
pub mod logs;
pub mod notifications;
pub mod remediations;
pub mod reports;
pub mod servers;
pub mod services;
pub mod settings;
pub mod sla;
pub mod topology;
pub mod users;
pub mod webhooks;

use axum::routing::{delete, get, post, put};
use axum::Router;

use super::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{id}", get(users::get_one).put(users::update).delete(users::remove))
        .route("/api/v1/users/{id}/password", put(users::reset_password))
        .route("/api/v1/agent-tokens", get(agent_tokens::list).post(agent_tokens::create))
        .route("/api/v1/agent-tokens/{id}", delete(agent_tokens::revoke))
        .route("/api/v1/settings", get(settings::get_all).put(settings::update))
        .route("/api/v1/audit-logs", get(audit::list))
        .route("/api/v1/agent/register", post(agent::register))
        .route("/api/v1/agent/heartbeat", post(agent::heartbeat))
        .route("/api/v1/agent/metrics", post(agent::metrics))
        .route("/api/v1/agent/services/register", post(agent::register_service))
        .route("/api/v1/agent/services", post(agent::report_check))
        .route("/api/v1/agent/db-metrics", post(agent::db_metrics))
        .route("/api/v1/agent/logs", post(agent::logs))
        .route("/api/v1/agent/db-targets", get(agent::db_targets))
        .route("/api/v1/agent/nginx-upstreams", post(servers::agent_upstreams))
        .route("/api/v1/agent/ws/{host_id}", get(super::ws::agent))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}", get(alerts::get_one))
        .route("/api/v1/alerts/{id}/ack", post(alerts::ack))
        .route("/api/v1/alerts/{id}/remediate", post(remediations::trigger))
        .route("/api/v1/remediations", get(remediations::list))
        .route("/api/v1/remediations/stats", get(remediations::stats))
        .route("/api/v1/remediations/{id}", get(remediations::get_one))
        .route("/api/v1/remediations/{id}/approve", post(remediations::approve))
        .route("/api/v1/remediations/{id}/reject", post(remediations::reject))
        .route("/api/v1/runbooks", get(remediations::list_all_runbooks))
        .route(
            "/api/v1/runbooks/custom",
            get(remediations::list_runbooks).post(remediations::create_runbook),
        )
        .route(
            "/api/v1/runbooks/custom/{id}",
            put(remediations::update_runbook).delete(remediations::delete_runbook),
        )
        .route(
            "/api/v1/custom-runbooks",
            get(remediations::list_runbooks).post(remediations::create_runbook),
        )
        .route(
            "/api/v1/custom-runbooks/{id}",
            put(remediations::update_runbook).delete(remediations::delete_runbook),
        )
        .route("/api/v1/alert-rules", get(alerts::list_rules).post(alerts::create_rule))
        .route(
            "/api/v1/alert-rules/{id}",
            get(alerts::get_rule).put(alerts::update_rule).delete(alerts::delete_rule),
        )
        .route("/api/v1/webhooks/alertmanager", post(webhooks::alertmanager))
        .route(
            "/api/v1/notification-channels",
            get(notifications::list_channels).post(notifications::create_channel),
        )
        .route("/api/v1/notification-channels/logs", get(notifications::logs))
        .route(
            "/api/v1/notification-channels/{id}",
            put(notifications::update_channel).delete(notifications::delete_channel),
        )
        .route("/api/v1/notification-channels/{id}/test", post(notifications::test_channel))
        .route(
            "/api/v1/notification-templates",
            get(notifications::list_templates).post(notifications::create_template),
        )
        .route(
            "/api/v1/notification-templates/{id}",
            put(notifications::update_template).delete(notifications::delete_template),
        )
        .route("/api/v1/demo/alerts/stream", get(super::sse::demo_alerts))
        .route("/api/v1/hosts", get(hosts::list))
        .route("/api/v1/hosts/{id}", get(hosts::get_one))
        .route("/api/v1/hosts/{id}/metrics", get(hosts::metrics))
        .route("/api/v1/servers", get(servers::list).post(servers::create))
        .route(
            "/api/v1/servers/{id}",
            get(servers::get_one).put(servers::update).delete(servers::delete),
        )
        .route("/api/v1/server-groups", get(servers::list_groups).post(servers::create_group))
        .route(
            "/api/v1/server-groups/{id}",
            get(servers::get_group).put(servers::update_group).delete(servers::delete_group),
        )
        .route("/api/v1/server-groups/{id}/servers", post(servers::add_server))
        .route(
            "/api/v1/server-groups/{id}/servers/{server_id}",
            delete(servers::remove_server_from_group),
        )
        .route("/api/v1/topology", get(topology::graph))
        .route(
            "/api/v1/topology/layout",
            post(topology::save_layout).delete(topology::reset_layout),
        )
        .route(
            "/api/v1/topology/dependencies",
            post(topology::create_dependency).delete(topology::clear_dependencies),
        )
        .route("/api/v1/topology/dependencies/{id}", delete(topology::delete_dependency))
        .route("/api/v1/topology/ai-suggest", post(topology::suggest))
        .route("/api/v1/topology/ai-suggest/apply", post(topology::apply_suggestions))
        .route("/api/v1/topology/multi-server", get(topology::multi_server))
        .route(
            "/api/v1/topology/servers",
            get(topology::list_servers).post(topology::create_server),
        )
        .route(
            "/api/v1/topology/servers/{id}",
            get(topology::get_server).delete(topology::delete_server),
        )
        .route("/api/v1/topology/service-groups", get(topology::service_groups))
        .route("/api/v1/services", get(services::list))
        .route("/api/v1/services/{id}", get(services::get_one))
        .route("/api/v1/services/{id}/checks", get(services::checks))
        .route("/api/v1/databases", get(databases::list))
        .route(
            "/api/v1/databases/targets",
            get(databases::list_targets).post(databases::create_target),
        )
        .route(
            "/api/v1/databases/targets/{id}",
            put(databases::update_target).delete(databases::delete_target),
        )
        .route("/api/v1/databases/{id}", get(databases::get_one))
        .route("/api/v1/databases/{id}/slow-queries", get(databases::slow_queries))
        .route("/api/v1/databases/{id}/metrics", get(databases::metrics))
        .route("/api/v1/logs", get(logs::search))
        .route("/api/v1/logs/stats", get(logs::stats))
        .route("/api/v1/ai/analyze-logs", post(ai::analyze_logs))
        .route("/api/v1/ai/insights", get(ai::insights))
        .route("/api/v1/ai/insights/{id}", put(ai::set_insight_status))
        .route("/api/v1/ai/chat", post(ai::chat))
        .route("/api/v1/ai/root-cause", post(ai::root_cause))
        .route("/api/v1/ai/system-summary", get(ai::system_summary))
        .route("/api/v1/ai/generate-runbook", post(ai::generate_runbook))
        .route("/api/v1/reports", get(reports::list))
        .route("/api/v1/reports/generate", post(reports::generate))
        .route("/api/v1/reports/{id}", get(reports::get_one).delete(reports::delete))
        .route("/api/v1/sla/rules", get(sla::list_rules).post(sla::create_rule))
        .route("/api/v1/sla/rules/{id}", delete(sla::delete_rule))
        .route("/api/v1/sla/status", get(sla::status))
        .route("/api/v1/sla/violations", get(sla::violations))
        .route("/api/v1/sla/report", get(sla::report))
        .route("/api/v1/dashboard/trends", get(dashboard::trends))
        .route("/api/v1/ws/dashboard", get(super::ws::dashboard))
        .route("/ws/logs", get(super::ws::logs))
}
