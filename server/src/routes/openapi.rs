//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations and served at
//! `GET /v1/openapi.json`.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{AppError, ErrorBody};
use crate::limits::PublicLimits;
use crate::routes::{alerts, attachments, cases, config, directory, health, inbox, reports, transfer};
use crate::state::AppState;

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tipline intake API",
        description = "Stores and push-queues sealed reports for police and municipal unit desks; never sees plaintext. \
Bytes are base64url without padding, ids 32 lowercase hex digits. Errors are `{\"error\": \"<stable_code>\", \"message\": \"...\"}`. \
Unit routes (`/v1/units/{unit_id}/...`) take a signed request: headers `tipline-unit`, `tipline-timestamp` (Unix seconds) and \
`tipline-signature` (Ed25519 by the unit's directory key over `\"tipline request v1\" || 0x00 || METHOD || \"\\n\" || path_and_query || \"\\n\" || timestamp || \"\\n\" || hex(SHA-256(body))`, base64url)."
    ),
    paths(
        config::get_config,
        directory::get_directory,
        directory::put_directory,
        reports::submit_report,
        attachments::upload_state,
        attachments::upload_chunk,
        attachments::download,
        inbox::pull,
        inbox::stream,
        inbox::ack,
        transfer::transfer,
        cases::reporter_post,
        cases::reporter_read,
        cases::unit_post,
        cases::unit_read,
        alerts::publish_alert,
        alerts::read_alerts,
        health::healthz,
        health::readyz,
        health::metrics,
        openapi_json,
    ),
    components(schemas(ErrorBody, PublicLimits, inbox::MessageNotice)),
    modifiers(&UnitSignature),
    tags(
        (name = "public", description = "Anyone"),
        (name = "reporter", description = "A citizen's device; case routes take the case secret"),
        (name = "desk", description = "A unit's desk, by signed requests"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the unit signature as a security scheme.
struct UnitSignature;

impl Modify for UnitSignature {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "unit_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "tipline-signature",
                "Ed25519 request signature by the unit's key, with headers tipline-unit and tipline-timestamp",
            ))),
        );
    }
}

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "public", responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => AppError::internal(format!("openapi: {e}")).into_response(),
    }
}
