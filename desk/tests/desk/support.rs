//! A desk over a temporary store with a manual clock, a browser that keeps its session cookie,
//! and reports put straight into the store.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use tempfile::TempDir;
use tipline_core::desk::{AttachmentState, Desk, DeskClient, DeskStore, KdfParams, ReportRecord, Status};
use tipline_core::keys::{EncryptionSecretKey, UnitKeyFile, VerifyingKey};
use tipline_core::report::{AttachmentInfo, CaseId, Person, Place, Precision, Report, ReportId, When};
use tipline_desk::accounts::{Account, Role};
use tipline_desk::audit::{self, AuditEntry};
use tipline_desk::auth::clock::Clock;
use tipline_desk::auth::password::{self, HashCost};
use tipline_desk::auth::totp::Secret;
use tipline_desk::{app, AppState, Config};
use tower::ServiceExt;

pub const UNIT: &str = "dk-test-unit";
pub const PASSWORD: &str = "a long enough password";
/// Where the desk pretends to be.
pub const HOST: &str = "desk.test";
pub const ORIGIN: &str = "http://desk.test";

const CHEAP: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
};

pub struct Desktop {
    pub state: AppState,
    pub clock: Clock,
    _dir: TempDir,
}

impl Desktop {
    pub fn new() -> Desktop {
        Desktop::with_authority(None)
    }

    /// A desk that knows the authority's key (to verify the directory a transfer needs).
    pub fn with_authority(authority: Option<VerifyingKey>) -> Desktop {
        let dir = tempfile::tempdir().unwrap();
        let keys = UnitKeyFile::generate(UNIT).unwrap();
        let params = KdfParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        let store = DeskStore::open(dir.path(), UNIT, "passphrase", params).unwrap();
        // Nothing listens there: these tests never reach the intake.
        let client = DeskClient::new("http://127.0.0.1:9", None, Duration::from_secs(1), &keys).unwrap();
        let desk = Desk::new(client, store, keys).unwrap();
        let clock = Clock::manual(1_800_000_000);
        let config = Config {
            hash_cost: CHEAP,
            issuer: "Tipline Desk".into(),
            clock: clock.clone(),
            authority,
            sessions: Default::default(),
        };
        Desktop {
            state: AppState::open(desk, config).unwrap(),
            clock,
            _dir: dir,
        }
    }

    /// An account with a password and (unless `enrolled` is false) a TOTP secret.
    pub fn account(&self, name: &str, role: Role, enrolled: bool) -> Option<Secret> {
        let secret = enrolled.then(|| Secret::generate().unwrap());
        self.state
            .save_account(Account {
                name: name.into(),
                role,
                password_hash: password::hash(PASSWORD, CHEAP).unwrap(),
                totp_secret: secret.as_ref().map(|s| s.to_base32().to_string()),
                totp_last_step: None,
                disabled: false,
                language: "en".into(),
                created_at: Utc::now(),
                created_by: None,
            })
            .unwrap();
        secret
    }

    pub fn browser(&self) -> Browser {
        Browser {
            state: self.state.clone(),
            cookie: None,
        }
    }

    /// A browser signed in as a new account `name`.
    pub async fn signed_in(&self, name: &str, role: Role) -> Browser {
        let secret = self.account(name, role, true).unwrap();
        let mut browser = self.browser();
        browser.sign_in(name, PASSWORD, &secret, &self.clock).await;
        browser
    }

    pub fn audit(&self) -> Vec<AuditEntry> {
        audit::all(self.state.store()).unwrap()
    }

    pub fn audited(&self, actor: &str, action: &str) -> bool {
        self.audit()
            .iter()
            .any(|e| e.actor.as_deref() == Some(actor) && e.action == action)
    }

    /// Stores a report with `text`, returning its id.
    pub fn report(&self, text: &str) -> ReportId {
        self.report_with(sample(text), vec![])
    }

    /// Stores `report` and, for each attachment, its bytes.
    pub fn report_with(&self, mut report: Report, files: Vec<(&str, &str, Vec<u8>)>) -> ReportId {
        let report_id = ReportId::random().unwrap();
        let store = self.state.store();
        let mut states = Vec::new();
        for (i, (name, media_type, bytes)) in files.into_iter().enumerate() {
            let index = u16::try_from(i).unwrap();
            let mut writer = store.attachment_writer(report_id, index).unwrap();
            std::io::Write::write_all(&mut writer, &bytes).unwrap();
            writer.finish().unwrap();
            report.attachments.push(AttachmentInfo {
                index,
                name: name.into(),
                media_type: media_type.into(),
                size: bytes.len() as u64,
                sha256: tipline_core::crypto::sha256(&bytes),
            });
            states.push(AttachmentState::Saved);
        }
        let record = ReportRecord {
            report_id,
            case_id: report.case_id,
            received_at: Utc.timestamp_opt(1_799_990_000, 0).unwrap(),
            stored_at: Utc::now(),
            envelope: "AQ".into(),
            attachments: states,
            report,
            status: Status::New,
            acked: true,
            transfer: None,
            last_seq: 0,
        };
        store.put_report(&record).unwrap();
        self.state
            .report_changed(report_id, tipline_desk::ChangeKind::Report);
        report_id
    }
}

/// A report as a phone would seal it.
pub fn sample(text: &str) -> Report {
    Report {
        category: "radicalisation".into(),
        text: text.into(),
        when: Some(When::Between {
            from: "2026-11-01T18:00:00Z".parse().unwrap(),
            to: "2026-11-01T20:00:00Z".parse().unwrap(),
        }),
        place: Some(Place::blur(55.6761, 12.5683, Precision::Neighbourhood).unwrap()),
        people: vec![Person {
            name: Some("K.".into()),
            description: "Around 20, recruits at the gym".into(),
        }],
        contact: None,
        language: "da".into(),
        attachments: vec![],
        case_id: CaseId::random().unwrap(),
        reply_key: EncryptionSecretKey::generate().unwrap().public_key(),
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    /// The CSRF token in the page's first form.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

pub struct Browser {
    pub state: AppState,
    pub cookie: Option<String>,
}

impl Browser {
    pub async fn send(&mut self, mut request: Request<Body>) -> Answer {
        if let Some(cookie) = &self.cookie {
            request
                .headers_mut()
                .insert(header::COOKIE, format!("tipline_desk={cookie}").parse().unwrap());
        }
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        for value in response.headers().get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            if let Some(rest) = value.strip_prefix("tipline_desk=") {
                let id = rest.split(';').next().unwrap();
                self.cookie = (!id.is_empty()).then(|| id.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = Request::get(path)
            .header(header::HOST, HOST)
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// A form post from a page of the desk.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_from(path, fields, Some(ORIGIN)).await
    }

    pub async fn post_from(&mut self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> Answer {
        let mut request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Posts a form with this session's CSRF token, read from `page`.
    pub async fn submit(&mut self, page: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.get(page).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Signs in with a password and the current TOTP code.
    pub async fn sign_in(&mut self, name: &str, password: &str, secret: &Secret, clock: &Clock) {
        let answer = self
            .submit("/login", "/login", &[("name", name), ("password", password)])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let code = secret.code_at(u64::try_from(clock.now()).unwrap());
        let answer = self.submit("/login", "/login/totp", &[("code", &code)]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location(), "/");
    }
}
