//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations and served at
//! `GET /v1/openapi.json`.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use tipline_core::api::{ErrorBody, MessageNotice, PublicLimits};

use crate::error::AppError;
use crate::routes::{
    alerts, attachments, cases, config, directory, gateway, health, inbox, reports, transfer,
};
use crate::state::AppState;

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tipline intake API",
        description = "Stores and push-queues sealed reports for police and municipal unit desks; never sees plaintext. \
Bytes are base64url without padding, ids 32 lowercase hex digits. Errors are `{\"error\": \"<stable_code>\", \"message\": \"...\"}`. \
Unit routes (`/v1/units/{unit_id}/...`) take a signed request (version 2): headers `tipline-unit`, `tipline-timestamp` (Unix seconds), \
`tipline-nonce` (16 random bytes, base64url, new for every request), `tipline-content-sha256` (hex SHA-256 of the body) and \
`tipline-signature` (Ed25519 by the unit's directory key over `\"tipline request v2\" || 0x00 || METHOD || \"\\n\" || path_and_query || \"\\n\" || timestamp || \"\\n\" || nonce || \"\\n\" || content_sha256`, base64url). \
The signature is checked before the body is read; a body whose SHA-256 is not the declared one, a nonce seen before within the 60 s window (a replay), \
or a request signed as version 1 is refused with 401. Any route may answer 503 `busy` when the server is at a capacity limit, and 503 `storage_unavailable` when a node has lost its database."
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
        inbox::ack_batch,
        transfer::transfer,
        cases::reporter_post,
        cases::reporter_read,
        cases::unit_post,
        cases::unit_read,
        alerts::publish_alert,
        alerts::read_alerts,
        gateway::keys,
        gateway::gateway,
        health::healthz,
        health::readyz,
        openapi_json,
    ),
    components(schemas(ErrorBody, PublicLimits, MessageNotice)),
    modifiers(&UnitSignature, &Formats, &CommonAnswers),
    tags(
        (name = "public", description = "Anyone"),
        (name = "reporter", description = "A citizen's device; case routes take the case secret"),
        (name = "desk", description = "A unit's desk, by signed requests"),
        (name = "oblivious", description = "The Oblivious HTTP gateway (RFC 9458): a citizen's requests, encapsulated, through a relay"),
        (name = "operations", description = "Probes (metrics are served on a separate listen address)"),
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
                "Ed25519 request signature by the unit's key (\"tipline request v2\"), with headers tipline-unit, tipline-timestamp, tipline-nonce and tipline-content-sha256",
            ))),
        );
    }
}

/// 16 bytes in hex: report, case, message and alert ids (either case of digit is read).
const HEX_16: &str = "^[0-9a-fA-F]{32}$";
/// 32 bytes in hex: SHA-256 digests.
const HEX_32: &str = "^[0-9a-fA-F]{64}$";
/// 32 bytes in base64url without padding: the case secret, the server key.
const B64_32: &str = "^[A-Za-z0-9_-]{43}$";
/// Bytes in base64url without padding: envelopes.
const B64: &str = "^[A-Za-z0-9_-]+$";
/// A unit id (`tipline_core::envelope`): 1 to 64 of `a-z`, `0-9`, `-`.
const UNIT_ID: &str = "^[a-z0-9-]{1,64}$";

/// The formats the server checks, by the name of the parameter or body property that carries
/// them. The annotations take only literal patterns, so the document gets them here, from one
/// table, for every parameter and every property of that name.
const FORMATS: &[(&str, &str)] = &[
    ("report_id", HEX_16),
    ("report_ids", HEX_16),
    ("unknown", HEX_16),
    ("case_id", HEX_16),
    ("message_id", HEX_16),
    ("alert_id", HEX_16),
    ("case_secret_hash", HEX_32),
    ("upload_secret_hash", HEX_32),
    ("tipline-case-secret", B64_32),
    ("server_key", B64_32),
    ("envelope", B64),
    ("unit_id", UNIT_ID),
    ("to_unit", UNIT_ID),
];

/// Writes [`FORMATS`] into the document.
struct Formats;

impl Formats {
    fn pattern(name: &str) -> Option<&'static str> {
        FORMATS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// Sets the pattern on a string schema; base64url is not OpenAPI's `byte` (standard base64).
    fn apply(schema: &mut RefOr<Schema>, pattern: &str) {
        // A list of ids: the pattern is its items'.
        if let RefOr::T(Schema::Array(array)) = schema {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &mut array.items {
                Self::apply(items, pattern);
            }
            return;
        }
        if let RefOr::T(Schema::Object(object)) = schema {
            object.pattern = Some(pattern.to_owned());
            if pattern == B64 {
                object.format = None;
                "base64url".clone_into(&mut object.content_encoding);
            }
        }
    }
}

/// Every operation of a path item, whatever its method.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

impl Modify for Formats {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let parameters = operations(item).flat_map(|operation| operation.parameters.iter_mut().flatten());
            for parameter in parameters {
                if let (Some(pattern), Some(schema)) =
                    (Self::pattern(&parameter.name), parameter.schema.as_mut())
                {
                    Self::apply(schema, pattern);
                }
            }
        }
        let schemas = openapi.components.iter_mut().flat_map(|c| c.schemas.values_mut());
        for schema in schemas {
            if let RefOr::T(Schema::Object(object)) = schema {
                for (name, property) in object.properties.iter_mut() {
                    if let Some(pattern) = Self::pattern(name) {
                        Self::apply(property, pattern);
                    }
                }
            }
        }
    }
}

/// The answers that follow from what a route takes rather than from what it does, written into
/// every operation that can give them (the handlers' annotations list their own): a 503 `busy`
/// from any route at a capacity limit and a 503 `storage_unavailable` when the database is lost; 400, 413 and 415 for a JSON body; 400 for a path id or a
/// query; and for a signed unit route 401, 404 `unknown_unit`, 413 and 429 from the signature
/// check before the handler runs.
struct CommonAnswers;

impl CommonAnswers {
    fn add(operation: &mut Operation, status: &str, description: &str) {
        let responses = &mut operation.responses.responses;
        match responses.get_mut(status) {
            Some(RefOr::T(response)) if !response.description.contains(description) => {
                response.description = format!("{}; {description}", response.description);
            }
            Some(_) => {}
            None => {
                let response = ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    )
                    .build();
                responses.insert(status.to_owned(), RefOr::T(response));
            }
        }
    }

    fn apply(operation: &mut Operation) {
        Self::add(
            operation,
            "503",
            "`busy`: the server is at a capacity limit (connections, live streams, memory for request bodies); retry after `Retry-After`",
        );
        Self::add(
            operation,
            "503",
            "`storage_unavailable`: the node cannot reach its database (PostgreSQL down or restarting); retry after `Retry-After`, here or at another node",
        );
        let parameters = operation.parameters.iter().flatten();
        let (mut ids, mut query) = (false, false);
        for parameter in parameters {
            match parameter.parameter_in {
                ParameterIn::Path if parameter.name != "unit_id" => ids = true,
                ParameterIn::Query => query = true,
                _ => {}
            }
        }
        if ids {
            Self::add(operation, "400", "`invalid_path`");
        }
        if query {
            Self::add(operation, "400", "`invalid_query`");
        }
        let json_body = operation
            .request_body
            .as_ref()
            .is_some_and(|body| body.content.contains_key("application/json"));
        if json_body {
            Self::add(operation, "400", "`malformed_json`");
            Self::add(operation, "413", "`too_large`");
            Self::add(operation, "415", "`unsupported_media_type`");
        }
        if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
            Self::add(
                operation,
                "401",
                "`unauthorized`: signature missing or invalid, signed as version 1, a body that is not the declared digest, or a replayed nonce",
            );
            Self::add(operation, "404", "`unknown_unit`");
            Self::add(operation, "413", "`too_large`");
            Self::add(operation, "429", "`rate_limited`, with `Retry-After`");
        }
    }
}

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                Self::apply(operation);
            }
        }
    }
}

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(tipline_core::api::paths::route::OPENAPI, get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "public", responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => AppError::internal(format!("openapi: {e}")).into_response(),
    }
}
