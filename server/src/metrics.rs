//! Prometheus metrics (OpenMetrics text at `/metrics`, on its own listen address) and the
//! middleware that counts and logs every request. Labels name routes by their template
//! (`/v1/reports/{report_id}/...`), methods among the standard ones, statuses and error codes;
//! never an id, an address or anything a client sent: a method the server does not know and a
//! path that matches no route fold into `other` and `unmatched`, so the label sets stay few
//! whatever clients send.
//!
//! The text is rendered at most once per interval (five minutes by default) and served from
//! that snapshot in between, so that polling `/metrics` cannot time individual reports, replies
//! or uploads: an operator sees counts and latency over intervals, not moments.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::error::ErrorInfo;
use crate::state::AppState;
use crate::store::StoreStats;

/// Labels of the HTTP request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// `GET`, `POST`... or `other`.
    pub method: &'static str,
    /// The route template, or `unmatched`.
    pub route: String,
    /// The status code.
    pub status: u16,
}

/// Labels of the request latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template, or `unmatched`.
    pub route: String,
}

/// Labels of the report counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `accepted`, `duplicate` or `rejected`.
    pub outcome: &'static str,
    /// The error code of a rejection, empty otherwise.
    pub code: &'static str,
}

/// Labels of the case message counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    /// `to_unit` or `to_reporter`.
    pub direction: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: Family<RouteLabels, Histogram>,
    reports: Family<OutcomeLabels, Counter>,
    acks: Counter,
    messages: Family<DirectionLabels, Counter>,
    alerts: Counter,
    live_streams: Gauge,
    pending_reports: Gauge,
    acknowledged_reports: Gauge,
    snapshot: Mutex<Option<(Instant, String)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tipline");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            http_requests.clone(),
        );
        let http_latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route template",
            http_latency.clone(),
        );
        let reports = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "reports",
            "Report submissions by outcome (accepted, duplicate, rejected) and error code",
            reports.clone(),
        );
        let acks = Counter::default();
        registry.register("acks", "Reports acknowledged by desks", acks.clone());
        let messages = Family::<DirectionLabels, Counter>::default();
        registry.register(
            "case_messages",
            "Case messages stored, by direction",
            messages.clone(),
        );
        let alerts = Counter::default();
        registry.register("alerts", "Alerts published", alerts.clone());
        let live_streams = Gauge::default();
        registry.register(
            "live_desk_streams",
            "Open desk inbox streams",
            live_streams.clone(),
        );
        let pending_reports = Gauge::default();
        registry.register(
            "pending_reports",
            "Reports waiting for a desk's acknowledgement",
            pending_reports.clone(),
        );
        let acknowledged_reports = Gauge::default();
        registry.register(
            "acknowledged_reports",
            "Reports acknowledged and not yet purged",
            acknowledged_reports.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_latency,
            reports,
            acks,
            messages,
            alerts,
            live_streams,
            pending_reports,
            acknowledged_reports,
            snapshot: Mutex::new(None),
        }
    }

    /// Counts a stored report.
    pub fn report_accepted(&self) {
        self.reports
            .get_or_create(&OutcomeLabels {
                outcome: "accepted",
                code: "",
            })
            .inc();
    }

    /// Counts a retried report answered with its first receipt.
    pub fn report_duplicate(&self) {
        self.reports
            .get_or_create(&OutcomeLabels {
                outcome: "duplicate",
                code: "",
            })
            .inc();
    }

    /// Counts a refused report by its error code.
    pub fn report_rejected(&self, code: &'static str) {
        self.reports
            .get_or_create(&OutcomeLabels {
                outcome: "rejected",
                code,
            })
            .inc();
    }

    /// Counts an acknowledgement.
    pub fn ack(&self) {
        self.acks.inc();
    }

    /// Counts the reports a batched acknowledgement took.
    pub fn acks(&self, reports: u64) {
        self.acks.inc_by(reports);
    }

    /// Counts a case message.
    pub fn message(&self, direction: &'static str) {
        self.messages.get_or_create(&DirectionLabels { direction }).inc();
    }

    /// Counts an alert.
    pub fn alert(&self) {
        self.alerts.inc();
    }

    /// Marks a desk stream open until the guard drops.
    pub fn live_stream(&self) -> LiveStreamGuard {
        self.live_streams.inc();
        LiveStreamGuard(self.live_streams.clone())
    }

    /// The text to serve: the last rendering if it is younger than `interval`, else a new one
    /// with the store's totals from `stats` (asked only then).
    pub async fn snapshot<F>(&self, interval: Duration, stats: F) -> String
    where
        F: std::future::Future<Output = Option<StoreStats>>,
    {
        if let Some((at, text)) = self.snapshot.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if at.elapsed() < interval {
                return text.clone();
            }
        }
        let text = self.render(stats.await);
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), text.clone()));
        text
    }

    /// Renders the registry with the store's totals.
    pub fn render(&self, stats: Option<StoreStats>) -> String {
        if let Some(stats) = stats {
            self.pending_reports
                .set(i64::try_from(stats.pending_reports).unwrap_or(i64::MAX));
            self.acknowledged_reports
                .set(i64::try_from(stats.acknowledged_reports).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }

    fn observe(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// Decrements the live stream gauge when dropped.
#[derive(Debug)]
pub struct LiveStreamGuard(Gauge);

impl Drop for LiveStreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The label of a request method: one of the standard methods, or `other`.
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 7] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, label)| label)
}

/// Counts and logs each request: method, route template, status, latency and, for errors, the
/// stable code (and for server faults their detail). Never the address, the path's ids, the query
/// or a header.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics()
        .observe(method, &route, status, elapsed.as_secs_f64());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    match response.extensions().get::<ErrorInfo>() {
        Some(ErrorInfo {
            code,
            detail: Some(detail),
        }) => tracing::error!(%method, %route, status, latency_ms, code, detail, "request failed"),
        Some(ErrorInfo { code, detail: None }) => {
            tracing::info!(%method, %route, status, latency_ms, code, "request refused")
        }
        None => tracing::debug!(%method, %route, status, latency_ms, "request"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_render_has_counters_and_gauges() {
        let m = Metrics::new();
        m.report_accepted();
        m.report_rejected("bad_stamp");
        let guard = m.live_stream();
        m.observe("POST", "/v1/reports", 201, 0.001);
        let text = m.render(Some(StoreStats {
            pending_reports: 3,
            acknowledged_reports: 1,
        }));
        assert!(
            text.contains("tipline_reports_total{outcome=\"rejected\",code=\"bad_stamp\"} 1"),
            "{text}"
        );
        assert!(text.contains("tipline_live_desk_streams 1"), "{text}");
        assert!(text.contains("tipline_pending_reports 3"), "{text}");
        assert!(text.contains("route=\"/v1/reports\""), "{text}");
        drop(guard);
        assert!(m.render(None).contains("tipline_live_desk_streams 0"));
    }

    #[test]
    fn test_methods_fold_into_a_few_labels() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let made_up = Method::from_bytes(&[b'X'; 4096]).unwrap();
        assert_eq!(method_label(&made_up), "other");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[tokio::test]
    async fn test_the_snapshot_is_served_until_the_interval_passes() {
        let m = Metrics::new();
        let first = m.snapshot(Duration::from_secs(300), async { None }).await;
        m.report_accepted();
        // Within the interval, the accepted report does not show.
        let second = m.snapshot(Duration::from_secs(300), async { None }).await;
        assert_eq!(first, second);
        assert!(!second.contains("outcome=\"accepted\""), "{second}");
        // After it, it does.
        let third = m.snapshot(Duration::ZERO, async { None }).await;
        assert!(third.contains("outcome=\"accepted\""), "{third}");
    }
}
