//! The OpenAPI document and the REST API's routes, put together from every capability's.
use crate::shared::error::ErrorBody;
use crate::shared::state::AppState;
use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response};
use utoipa::{Modify, OpenApi, PartialSchema};
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
        .merge(crate::alerts::checks_api::router())
        .merge(crate::incidents::api_router())
        .merge(crate::insights::api::router())
        .merge(crate::webhooks::api::router())
        .merge(crate::status::api_router())
        .merge(crate::oncall::api::router())
        .merge(crate::oncall::schedules::api::router())
        .merge(crate::learning::action_items::router())
        .merge(crate::postmortems::api::router())
        .merge(crate::slos::api::router())
        .merge(crate::automation::runbooks_api::router())
        .merge(crate::automation::runs_api::router())
        .merge(crate::automation::runners_api::router())
        .merge(crate::workflows::api::router())
        .merge(crate::drills::api::router())
        .merge(crate::automation::secrets::router())
}

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = router().split_for_parts().1;
        // After the merge: `ApiDoc`'s own modifiers run before any route is in the document.
        CommonResponses.modify(&mut doc);
        doc
    })
}

pub async fn openapi_json() -> impl IntoResponse {
    Json(openapi())
}

// --- the error answers every operation shares ----------------------------------------------------

/// The error answers, each once under `components/responses`, with the JSON error body.
/// `(status, name, when)`.
const ERRORS: [(u16, &str, &str); 9] = [
    (
        400,
        "BadRequest",
        "The request is malformed or a value is refused (`invalid_json`, `invalid_field`, \
         `invalid_query`, `bad_request`); `field` names the input to blame when one is.",
    ),
    (
        401,
        "Unauthorized",
        "No API token, or an unknown or revoked one (`unauthorized`).",
    ),
    (
        403,
        "Forbidden",
        "The token's role is not enough for this, or the rules refuse it (`forbidden`).",
    ),
    (
        404,
        "NotFound",
        "A resource named in the path does not exist (`not_found`); an id that is not a UUID \
         names nothing either.",
    ),
    (
        409,
        "Conflict",
        "The change conflicts with the current state or a unique value, or a name in the path \
         matches several things (`conflict`; give the id).",
    ),
    (
        413,
        "PayloadTooLarge",
        "The body is larger than the server accepts (`server.body_limit_bytes`, \
         `payload_too_large`).",
    ),
    (
        415,
        "UnsupportedMediaType",
        "The body is not sent as `Content-Type: application/json` (`unsupported_media_type`).",
    ),
    (
        429,
        "TooManyRequests",
        "Too many requests; try again after `Retry-After` seconds (`rate_limited`).",
    ),
    (
        503,
        "Unavailable",
        "The database cannot be reached right now (`unavailable`).",
    ),
];

/// Adds to every operation the error answers it can give whatever its handler does, so no
/// handler lists them: 400, 401 and 503 everywhere; 404 with a path parameter; 413 and 415 with
/// a body; 403 on every change (reads list it themselves where a role is needed). Error answers
/// an operation lists itself are replaced by the shared ones, and an answer without a
/// description gets its status's reason phrase.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (status, name, when) in ERRORS {
            components
                .responses
                .insert(name.to_owned(), RefOr::T(error_response(status, when)));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, op) in ops {
                if let Some(op) = op.as_mut() {
                    add_common(path, method, op);
                }
            }
        }
    }
}

fn add_common(path: &str, method: &str, op: &mut Operation) {
    let mut statuses = vec![400, 401, 503];
    if path.contains('{') {
        statuses.push(404);
    }
    // A name in the path can match several things (`shared::terms`): 409, use the id.
    let by_name = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p
            .description
            .as_deref()
            .is_some_and(|d| crate::shared::terms::doc::BY_NAME.contains(&d)),
        RefOr::Ref(_) => false,
    });
    if by_name {
        statuses.push(409);
    }
    if op.request_body.is_some() {
        statuses.extend([413, 415]);
    }
    // Everyone may change their own password; every other change needs a role or a rule.
    if method != "get" && path != "/api/v1/me/password" {
        statuses.push(403);
    }
    let responses = &mut op.responses.responses;
    for (status, name, _) in ERRORS {
        let key = status.to_string();
        if statuses.contains(&status) || responses.contains_key(&key) {
            responses.insert(key, RefOr::Ref(Ref::from_response_name(name)));
        }
    }
    for (key, response) in responses.iter_mut() {
        if let RefOr::T(r) = response
            && r.description.is_empty()
        {
            r.description = key
                .parse::<u16>()
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Success")
                .to_owned();
        }
    }
}

fn error_response(status: u16, when: &str) -> Response {
    let mut r = ResponseBuilder::new().description(when).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    let string = || ObjectBuilder::new().schema_type(Type::String);
    match status {
        401 => {
            r = r.header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(Some(string().enum_values(Some(["Bearer"]))))
                    .description(Some("Always `Bearer`."))
                    .build(),
            );
        }
        429 => {
            r = r.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(<u64 as PartialSchema>::schema()))
                    .description(Some("Seconds to wait before trying again."))
                    .build(),
            );
        }
        _ => {}
    }
    r.build()
}
