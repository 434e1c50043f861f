//! The OpenAPI 3 document, generated from the handlers' annotations and served at
//! `/api/v1/openapi.json`. A test checks that every routed path is documented.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::bot::{config, health, incidents, knowledge, lark, plugins};
use super::v1::{
    agent, agent_tokens, ai, alerts, audit, auth, dashboard, databases, hosts, logs, notifications,
    remediations, reports, servers, services, settings, sla, topology, users, webhooks,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Warden", description = "Self-hosted infrastructure supervision server"),
    modifiers(&BearerAuth),
    paths(
        auth::register, auth::login, auth::refresh, auth::me,
        users::list, users::create, users::get_one, users::update, users::remove, users::reset_password,
        agent_tokens::create, agent_tokens::list, agent_tokens::revoke,
        settings::get_all, settings::update,
        audit::list,
        agent::register, agent::heartbeat, agent::metrics, agent::register_service, agent::report_check,
        agent::db_metrics, agent::logs, agent::db_targets,
        hosts::list, hosts::get_one, hosts::metrics,
        services::list, services::get_one, services::checks,
        databases::list, databases::get_one, databases::slow_queries, databases::metrics,
        databases::list_targets, databases::create_target, databases::update_target, databases::delete_target,
        logs::search, logs::stats,
        dashboard::trends,
        alerts::list, alerts::get_one, alerts::ack, alerts::list_rules, alerts::create_rule, alerts::get_rule,
        alerts::update_rule, alerts::delete_rule, webhooks::alertmanager, super::sse::demo_alerts,
        notifications::list_channels, notifications::create_channel, notifications::update_channel,
        notifications::delete_channel, notifications::test_channel, notifications::logs,
        notifications::list_templates, notifications::create_template, notifications::update_template,
        notifications::delete_template,
        remediations::trigger, remediations::list, remediations::stats, remediations::get_one,
        remediations::approve, remediations::reject, remediations::list_all_runbooks,
        remediations::list_runbooks, remediations::create_runbook, remediations::update_runbook,
        remediations::delete_runbook,
        ai::analyze_logs, ai::insights, ai::set_insight_status, ai::chat, ai::root_cause, ai::system_summary,
        ai::generate_runbook,
        reports::list, reports::get_one, reports::generate, reports::delete,
        sla::list_rules, sla::create_rule, sla::delete_rule, sla::status, sla::violations, sla::report,
        servers::list, servers::get_one, servers::create, servers::update, servers::delete,
        servers::list_groups, servers::get_group, servers::create_group, servers::update_group, servers::delete_group,
        servers::add_server, servers::remove_server_from_group, servers::agent_upstreams,
        topology::graph, topology::save_layout, topology::reset_layout, topology::create_dependency,
        topology::delete_dependency, topology::clear_dependencies, topology::suggest, topology::apply_suggestions,
        topology::multi_server, topology::list_servers, topology::create_server, topology::get_server,
        topology::delete_server, topology::service_groups,
        super::ws::dashboard, super::ws::logs, super::ws::agent,
        health::healthz, health::metrics, health::status,
        incidents::list, incidents::get_one, incidents::events, incidents::receive, incidents::stream,
        lark::event, lark::card_action, config::get, config::put, plugins::list, plugins::get_one, knowledge::list, knowledge::create, knowledge::get_one,
        knowledge::update, knowledge::remove, knowledge::get_context, knowledge::put_context,
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
