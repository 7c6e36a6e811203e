//! The OpenAPI document and the REST API's routes, put together from every capability's.
use crate::shared::error::ErrorBody;
use crate::shared::state::AppState;
use axum::Json;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

// --- the document ------------------------------------------------------------------------------

#[derive(OpenApi)]
#[openapi(
    info(title = "Klaxon API", description = "Incident management: alerts, on-call, incidents, status pages."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route of the REST API, with its part of the document.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::people::api::router())
        .merge(crate::alerts::api::router())
        .merge(crate::incidents::api_router())
        .merge(crate::webhooks::api::router())
        .merge(crate::oncall::api::router())
        .merge(crate::oncall::schedules::api::router())
}

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| router().split_for_parts().1)
}

pub async fn openapi_json() -> impl IntoResponse {
    Json(openapi())
}
