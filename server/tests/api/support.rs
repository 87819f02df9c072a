//! A server over a real SQLite store in a temporary folder, a test authority that signed the
//! sample directory with fresh unit keys the tests hold, and helpers to build requests.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tempfile::TempDir;
use tipline_core::codename::{CaseKeys, Codename};
use tipline_core::crypto::{OsRandom, Suite};
use tipline_core::directory::{sample_source, DirectoryBody, Intake, SignedDirectory};
use tipline_core::encoding::b64;
use tipline_core::envelope::{seal_report_with_rng, Envelope};
use tipline_core::keys::{SigningKey, UnitKeyFile};
use tipline_core::message::{seal_follow_up_with_rng, seal_reply_with_rng, CaseMessage};
use tipline_core::report::{MessageId, Report, ReportId};
use tipline_core::request_auth::sign_request;
use tipline_server::launch::{Backend, Database, ServerConfig};
use tipline_server::limits::RateLimits;
use tipline_server::{app, AppState, Settings};
use tower::ServiceExt;

/// The stamp difficulty of the test server: cheap to solve.
pub const DIFFICULTY: u8 = 4;
/// A unit serving DK-84.
pub const UNIT: &str = "dk-infohus-vestegnen";
/// Another unit.
pub const OTHER: &str = "dk-infohus-nordjylland";

/// A running test server (no socket: requests go through `oneshot`).
pub struct Env {
    pub state: AppState,
    pub authority: SigningKey,
    pub units: Vec<UnitKeyFile>,
    /// Holds the database until the test ends.
    pub _dir: TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The stable error code of an error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Generous rates, so that only the rate-limit tests meet a limit.
pub fn test_settings() -> Settings {
    Settings {
        stamp_difficulty: DIFFICULTY,
        lease: Duration::from_secs(60),
        rates: RateLimits::generous(),
        // Every reading of `/metrics` is fresh.
        metrics_interval: Duration::ZERO,
        ..Settings::default()
    }
}

/// The backend the handler tests run on: embedded SQLite, or with `TIPLINE_TEST_BACKEND=postgres`
/// a fresh database of the PostgreSQL cluster this binary starts (`scripts/test` runs both).
pub fn test_database(dir: &std::path::Path) -> Database {
    match std::env::var("TIPLINE_TEST_BACKEND").as_deref() {
        Ok("postgres") => Database::Postgres(crate::pg::shared().fresh_database()),
        Ok("sqlite") | Err(_) => Database::Sqlite(dir.join("tipline.db")),
        Ok(other) => panic!("TIPLINE_TEST_BACKEND is sqlite or postgres, not {other}"),
    }
}

impl Env {
    /// A server with the test settings and directory v1 published.
    pub async fn new() -> Env {
        Self::with_settings(|_| {}).await
    }

    /// A server with the test settings and no directory published.
    pub async fn without_directory() -> Env {
        Self::build(|_| {}, false).await
    }

    /// A server with settings changed by `change`, and directory v1 published.
    pub async fn with_settings(change: impl FnOnce(&mut Settings)) -> Env {
        Self::build(change, true).await
    }

    /// A server on `database` with the test settings, and directory v1 published.
    pub async fn on(database: Database) -> Env {
        Self::build_on(|_| {}, true, Some(database)).await
    }

    async fn build(change: impl FnOnce(&mut Settings), publish: bool) -> Env {
        Self::build_on(change, publish, None).await
    }

    async fn build_on(change: impl FnOnce(&mut Settings), publish: bool, database: Option<Database>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let authority = SigningKey::generate().unwrap();
        let source = sample_source().unwrap();
        let units: Vec<UnitKeyFile> = source
            .units
            .iter()
            .map(|u| UnitKeyFile::generate(&u.id).unwrap())
            .collect();
        let mut settings = test_settings();
        change(&mut settings);
        let database = database.unwrap_or_else(|| test_database(dir.path()));
        let backend = Backend::open(&database).await.unwrap();
        let state = ServerConfig {
            settings,
            ..ServerConfig::new(
                backend,
                SigningKey::generate().unwrap(),
                authority.verifying_key(),
            )
        }
        .state()
        .await
        .unwrap();
        let env = Env {
            state,
            authority,
            units,
            _dir: dir,
        };
        if !publish {
            return env;
        }
        let signed = env.directory(1);
        env.state
            .store()
            .publish_directory(1, 1, signed.to_json().unwrap().into_bytes())
            .await
            .unwrap();
        assert!(env.state.load_directory(Utc::now()).await.unwrap());
        env
    }

    /// The sample directory with the test units' keys, as `version`, signed by the authority.
    pub fn directory(&self, version: u64) -> SignedDirectory {
        self.directory_signed_by(version, &self.authority)
    }

    /// The same, signed by `key`.
    pub fn directory_signed_by(&self, version: u64, key: &SigningKey) -> SignedDirectory {
        self.directory_body(version).to_format_1().sign(key).unwrap()
    }

    /// The same in format 2, naming the server's receipt key, signed by the authority.
    pub fn directory_format_2(&self, version: u64) -> SignedDirectory {
        self.directory_body(version).sign(&self.authority).unwrap()
    }

    fn directory_body(&self, version: u64) -> DirectoryBody {
        let mut source = sample_source().unwrap();
        for unit in &self.units {
            let public = unit.public().unwrap();
            source
                .set_unit_keys(&unit.unit_id, public.encryption_key, public.verifying_key)
                .unwrap();
        }
        source.format = 2;
        source.intake = Some(Intake {
            receipt_keys: vec![self.state.server_key().verifying_key()],
            gateway_keys: Vec::new(),
            relays: Vec::new(),
        });
        source
            .into_body(version, Utc::now(), chrono::Duration::days(30))
            .unwrap()
    }

    /// The router.
    pub fn app(&self) -> Router {
        app(self.state.clone())
    }

    /// Sends a request and reads the whole response. Every answer of a matched route is checked
    /// against the OpenAPI document: a status the document does not list for that route fails
    /// the test, so the document cannot drift from what the handlers do.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let method = request.method().clone();
        let app = self.app().layer(axum::middleware::from_fn(record_route));
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        if let Some(Route(route)) = response.extensions().get::<Route>() {
            check_documented(&method, route, status);
        }
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `/metrics` as the metrics listener serves it.
    pub async fn metrics(&self) -> Reply {
        let response = tipline_server::metrics_app(self.state.clone())
            .oneshot(get("/metrics"))
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// The key file of unit `id`.
    pub fn unit(&self, id: &str) -> &UnitKeyFile {
        self.units.iter().find(|u| u.unit_id == id).unwrap()
    }

    /// A request signed by unit `unit_id` with its own key, now.
    pub fn signed(&self, unit_id: &str, method: Method, path: &str, body: Vec<u8>) -> Request<Body> {
        let key = self.unit(unit_id).signing_key().unwrap();
        signed_request(&key, unit_id, method, path, body, Utc::now().timestamp())
    }

    /// A signed JSON request.
    pub fn signed_json(&self, unit_id: &str, method: Method, path: &str, body: &Value) -> Request<Body> {
        let mut request = self.signed(unit_id, method, path, serde_json::to_vec(body).unwrap());
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        request
    }

    /// Seals a fresh report to unit `unit_id`.
    pub fn seal(&self, unit_id: &str) -> Filed {
        self.seal_as(unit_id, ReportId::random().unwrap())
    }

    /// Seals a fresh report in a fresh case to unit `unit_id` under `report_id`.
    pub fn seal_as(&self, unit_id: &str, report_id: ReportId) -> Filed {
        let case = Codename::generate().unwrap().derive().unwrap();
        let report = Report {
            category: "radicalisation".to_owned(),
            text: "Someone in my building shares propaganda videos.".to_owned(),
            when: None,
            place: None,
            people: vec![],
            contact: None,
            language: "da".to_owned(),
            attachments: vec![],
            case_id: case.case_id,
            reply_key: case.reply_key.public_key(),
        };
        let key = self.unit(unit_id).encryption_key().public_key();
        let sealed = seal_report_with_rng(
            &report,
            Suite::X25519_CHACHA,
            unit_id,
            &key,
            report_id,
            &mut OsRandom::new(),
        )
        .unwrap();
        Filed {
            bytes: sealed.envelope.to_bytes(),
            report_id: sealed.report_id,
            envelope: sealed.envelope,
            case,
        }
    }

    /// Files a report to `unit_id` and checks it was created.
    pub async fn file(&self, unit_id: &str) -> Filed {
        let filed = self.seal(unit_id);
        let reply = self.send(post_json("/v1/reports", &filed.submission(&[]))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        filed
    }

    /// A reporter's follow-up in `filed`'s case, sealed to `unit_id`.
    pub fn follow_up(&self, filed: &Filed, unit_id: &str, text: &str) -> Envelope {
        let message = CaseMessage {
            case_id: filed.case.case_id,
            message_id: MessageId::random().unwrap(),
            unit_id: unit_id.to_owned(),
            text: text.to_owned(),
            sent_at: Utc::now(),
        };
        let key = self.unit(unit_id).encryption_key().public_key();
        seal_follow_up_with_rng(&message, &key, &mut OsRandom::new()).unwrap()
    }

    /// A unit's reply in `filed`'s case.
    pub fn reply(&self, filed: &Filed, unit_id: &str, text: &str) -> Envelope {
        let message = CaseMessage {
            case_id: filed.case.case_id,
            message_id: MessageId::random().unwrap(),
            unit_id: unit_id.to_owned(),
            text: text.to_owned(),
            sent_at: Utc::now(),
        };
        let key = self.unit(unit_id).signing_key().unwrap();
        seal_reply_with_rng(
            &message,
            &key,
            &filed.case.reply_key.public_key(),
            &mut OsRandom::new(),
        )
        .unwrap()
    }
}

/// The route template a request matched, carried to the response.
#[derive(Debug, Clone)]
struct Route(String);

async fn record_route(request: Request<Body>, next: axum::middleware::Next) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// The statuses the OpenAPI document lists for each `(method, route)`.
fn documented() -> &'static std::collections::HashMap<(String, String), Vec<u16>> {
    static DOCUMENTED: std::sync::OnceLock<std::collections::HashMap<(String, String), Vec<u16>>> =
        std::sync::OnceLock::new();
    DOCUMENTED.get_or_init(|| {
        use utoipa::OpenApi as _;
        let doc: Value = serde_json::from_str(
            &tipline_server::routes::openapi::ApiDoc::openapi()
                .to_json()
                .unwrap(),
        )
        .unwrap();
        let mut table = std::collections::HashMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Some(responses) = operation["responses"].as_object() else {
                    continue;
                };
                let statuses = responses.keys().filter_map(|s| s.parse().ok()).collect();
                table.insert((method.to_ascii_uppercase(), path.clone()), statuses);
            }
        }
        table
    })
}

/// Fails the test if the document does not list `status` for `method` on `route`.
fn check_documented(method: &Method, route: &str, status: StatusCode) {
    // A method the route does not take is answered by the router itself (405), as documented
    // for every route in the document's description.
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return;
    }
    let key = (method.as_str().to_owned(), route.to_owned());
    let statuses = documented()
        .get(&key)
        .unwrap_or_else(|| panic!("the OpenAPI document has no {method} {route}"));
    assert!(
        statuses.contains(&status.as_u16()),
        "the OpenAPI document does not list {} for {method} {route} (it lists {statuses:?})",
        status.as_u16()
    );
}

/// A report sealed on the "device".
pub struct Filed {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
    pub report_id: ReportId,
    pub case: CaseKeys,
}

impl Filed {
    /// The submission JSON, with a solved stamp and the given `(index, sealed_size)`s.
    pub fn submission(&self, attachments: &[(u16, u64)]) -> Value {
        let stamp = tipline_core::stamp::solve(&self.envelope.digest(), DIFFICULTY).unwrap();
        json!({
            "envelope": b64(&self.bytes),
            "case_id": self.case.case_id.to_string(),
            "case_secret_hash": hex::encode(self.case.case_secret_hash()),
            "attachments": attachments
                .iter()
                .map(|(index, sealed_size)| json!({"index": index, "sealed_size": sealed_size}))
                .collect::<Vec<_>>(),
            "stamp": stamp,
        })
    }

    /// The case secret header value.
    pub fn secret(&self) -> String {
        b64(self.case.case_secret.as_ref())
    }
}

/// A request signed with `key`, claiming unit `unit_id`, at `timestamp`.
pub fn signed_request(
    key: &SigningKey,
    unit_id: &str,
    method: Method,
    path: &str,
    body: Vec<u8>,
    timestamp: i64,
) -> Request<Body> {
    let signed = sign_request(key, method.as_str(), path, timestamp, &body).unwrap();
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in signed.headers(unit_id) {
        request = request.header(name, value);
    }
    request.body(Body::from(body)).unwrap()
}

/// A JSON POST.
pub fn post_json(path: &str, body: &Value) -> Request<Body> {
    request(
        Method::POST,
        path,
        "application/json",
        serde_json::to_vec(body).unwrap(),
    )
}

/// A request with a body of `content_type`.
pub fn request(method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

/// A GET.
pub fn get(path: &str) -> Request<Body> {
    Request::builder().uri(path).body(Body::empty()).unwrap()
}
