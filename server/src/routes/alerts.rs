//! Alerts a unit broadcasts to the citizens of some regions. The unit signs them; the server
//! checks the signature against the directory before storing (so it never relays a forgery) and
//! serves them as stored; devices check again against their own copy of the directory.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use tipline_core::alert::Alert;
use tipline_core::api::paths::route;
use tipline_core::api::{AlertPublished, Alerts, AlertsQuery};
use tipline_core::signed::Signed;

use crate::auth::AuthedUnit;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::{Json, Query};
use crate::limits::{Family, ALERT_BODY_BYTES, MAX_PAGE};
use crate::state::AppState;
use crate::store::StoredAlert;
use tipline_core::api::code;

/// Longest region code accepted in a query (`ES-AN`, `DK-84`).
const MAX_REGION_LEN: usize = 10;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(route::ALERTS, get(read_alerts)).route(
        route::UNIT_ALERTS,
        post(publish_alert).layer(DefaultBodyLimit::max(ALERT_BODY_BYTES)),
    )
}

fn refused(err: tipline_core::Error) -> AppError {
    match &err {
        tipline_core::Error::Refused { reason, .. }
            if reason == "signed by another key" || reason == "signature does not verify" =>
        {
            AppError::bad_request(code::BAD_SIGNATURE, err.to_string())
        }
        _ => AppError::bad_request(code::INVALID_ALERT, err.to_string()),
    }
}

/// Publishes an alert signed by the unit.
#[utoipa::path(
    post,
    path = "/v1/units/{unit_id}/alerts",
    tag = "desk",
    security(("unit_signature" = [])),
    params(("unit_id" = String, Path, description = "The unit")),
    request_body(content = Object, description = "A signed alert `{payload, key_id, signature}`", content_type = "application/json"),
    responses(
        (status = 201, description = "Stored (or stored before)", body = AlertPublished),
        (status = 400, description = "`bad_signature` (not the unit's key), `invalid_alert` (expired, claims another unit, invalid), `malformed_json`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_unit`", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
    )
)]
pub async fn publish_alert(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    Json(signed): Json<Signed>,
) -> AppResult<(StatusCode, axum::Json<AlertPublished>)> {
    let key = state.unit_key(&unit_id)?;
    let alert = Alert::verify(&signed, &unit_id, &key, Utc::now()).map_err(refused)?;
    let stored = serde_json::to_vec(&signed).map_err(|e| AppError::internal(format!("alert json: {e}")))?;
    state
        .store()
        .add_alert(StoredAlert {
            alert_id: alert.alert_id,
            unit_id,
            regions: alert
                .regions
                .iter()
                .map(|r| r.trim().to_ascii_uppercase())
                .collect(),
            signed: stored,
            expires_at: alert.expires_at,
        })
        .await?;
    state.metrics().alert();
    Ok((
        StatusCode::CREATED,
        axum::Json(AlertPublished {
            alert_id: alert.alert_id,
        }),
    ))
}

/// The alerts for a region that have not expired.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "public",
    params(AlertsQuery),
    responses(
        (status = 200, description = "Alerts as the units signed them", body = Alerts),
        (status = 400, description = "`invalid_region`", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`: the reads' bucket (config, directory, alerts) is spent", body = ErrorBody),
    )
)]
pub async fn read_alerts(
    State(state): State<AppState>,
    Query(query): Query<AlertsQuery>,
) -> AppResult<axum::Json<Alerts>> {
    state.limiters().check(Family::Reads)?;
    let region = query.region.unwrap_or_default().trim().to_ascii_uppercase();
    let valid = !region.is_empty()
        && region.len() <= MAX_REGION_LEN
        && region
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(AppError::bad_request(
            code::INVALID_REGION,
            "region must be an ISO 3166 code such as DK or DK-84",
        ));
    }
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let stored = state.store().alerts(&region, Utc::now(), limit).await?;
    let alerts = stored
        .into_iter()
        .filter_map(|a| match serde_json::from_slice::<Signed>(&a.signed) {
            Ok(signed) => Some(signed),
            Err(e) => {
                tracing::error!(error = %e, "a stored alert does not parse; skipped");
                None
            }
        })
        .collect();
    Ok(axum::Json(Alerts { alerts }))
}
