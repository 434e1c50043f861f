//! The OpenAPI 3 document, generated from the handlers' annotations and served at
//! `/api/v1/openapi.json`. A test checks that every routed path is documented.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::bot::health;
use super::v1::{agent_tokens, audit, auth, settings, users};

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
        health::healthz, health::metrics, health::status,
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
