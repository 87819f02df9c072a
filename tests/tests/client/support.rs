//! An in-process intake server on a loopback port (stoppable and restartable on the same port,
//! keeping its store), a desk that reads the store directly, and clients in temporary folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tempfile::TempDir;
use tipline_core::alert::{Alert, Severity};
use tipline_core::attachment::{self, AttachmentKey};
use tipline_core::client::keystore::{KeyStore, StaticKeyStore};
use tipline_core::client::outbox::Filed;
use tipline_core::client::{Client, ClientConfig};
use tipline_core::compose::Draft;
use tipline_core::crypto::OsRandom;
use tipline_core::directory::{sample_source, DirectoryBody, Intake, SignedDirectory, DIRECTORY_FORMAT};
use tipline_core::envelope::{open_report, Envelope};
use tipline_core::keys::{EncryptionPublicKey, SigningKey, UnitKeyFile, VerifyingKey};
use tipline_core::message::{
    open_follow_up, seal_notice_with_rng, seal_reply_with_rng, CaseMessage, CaseStatus, StatusNotice,
};
use tipline_core::ohttp::KeyConfig;
use tipline_core::report::MessageId;
use tipline_core::signed::Signed;
use tipline_server::gateway::GatewayKeys;
use tipline_server::launch::{Backend, Database, ServerConfig};
use tipline_server::limits::RateLimits;
use tipline_server::store::{Delivery, MessageDirection, StoredAlert};
use tipline_server::{app, AppState, Settings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The unit that serves the drafts' region.
pub const UNIT: &str = "dk-infohus-vestegnen";

/// A draft from DK-84.
pub fn draft() -> Draft {
    Draft {
        region: Some("DK-84".into()),
        category: "radicalisation".into(),
        text: "En ung mand deler IS-videoer i en gruppechat for skoleelever.".into(),
        language: "da".into(),
        ..Draft::default()
    }
}

/// The draft with a small JPEG photo.
pub fn attach_jpeg(mut draft: Draft) -> Draft {
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 80)
        .encode(&[90u8; 16 * 16 * 3], 16, 16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    draft
        .attachments
        .push(tipline_e2e::files::attachment("chat.jpg", "image/jpeg", &jpeg));
    draft
}

fn settings() -> Settings {
    Settings {
        stamp_difficulty: 4,
        lease: Duration::from_secs(60),
        rates: RateLimits::generous(),
        ..Settings::default()
    }
}

/// What a test server does wrong on purpose (see the constructors that take a counter).
#[derive(Debug, Clone, Copy)]
enum Faults {
    FlakySubmissions,
    SlowFirstFollowUp,
    FirstSubmissionAnswered(u16),
    ForgedReceipts,
}

/// The server and everything the tests need to play the desk and the authority.
pub struct Server {
    pub state: AppState,
    port: u16,
    authority: SigningKey,
    units: Vec<UnitKeyFile>,
    faults: Option<(Faults, Arc<AtomicUsize>)>,
    case_polls: Arc<Mutex<Vec<(Instant, String)>>>,
    /// The address of every connection the server accepted (kept in the test only).
    peers: Arc<Mutex<Vec<std::net::IpAddr>>>,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    dir: Arc<TempDir>,
}

impl Server {
    /// A server with the test settings and the sample directory v1 published.
    pub async fn start() -> Server {
        Self::build(|_| {}, None).await
    }

    /// The same with changed settings.
    pub async fn start_with(change: impl FnOnce(&mut Settings)) -> Server {
        Self::build(change, None).await
    }

    /// A server that commits the first follow-up posted but answers it only after 3 s, when the
    /// client has given up waiting; `posts` counts the follow-ups posted.
    pub async fn start_slow_follow_ups(posts: Arc<AtomicUsize>) -> Server {
        Self::build(|_| {}, Some((Faults::SlowFirstFollowUp, posts))).await
    }

    /// A server that answers the first submission with 500, the second only after 3 s, the
    /// third and fourth with their true answer padded past what a client reads for a receipt
    /// (declared, then streamed), and the rest normally, committing all but the first;
    /// `submissions` counts them all.
    pub async fn start_flaky(submissions: Arc<AtomicUsize>) -> Server {
        Self::build(|_| {}, Some((Faults::FlakySubmissions, submissions))).await
    }

    /// A server that answers the first submission with `status` (committing nothing) and the
    /// rest normally; `submissions` counts them all.
    pub async fn start_answering_first(status: u16, submissions: Arc<AtomicUsize>) -> Server {
        Self::build(
            |_| {},
            Some((Faults::FirstSubmissionAnswered(status), submissions)),
        )
        .await
    }

    /// A server that commits every submission but answers it with a receipt whose leaf index is
    /// off by one, so that its inclusion proof fails; `submissions` counts them.
    pub async fn start_forging_receipts(submissions: Arc<AtomicUsize>) -> Server {
        Self::build(|_| {}, Some((Faults::ForgedReceipts, submissions))).await
    }

    async fn build(change: impl FnOnce(&mut Settings), faults: Option<(Faults, Arc<AtomicUsize>)>) -> Server {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let authority = SigningKey::generate().unwrap();
        let units: Vec<UnitKeyFile> = sample_source()
            .unwrap()
            .units
            .iter()
            .map(|u| UnitKeyFile::generate(&u.id).unwrap())
            .collect();
        let mut s = settings();
        change(&mut s);
        let backend = Backend::open(&Database::Sqlite(dir.path().join("server/tipline.db")))
            .await
            .unwrap();
        let state = ServerConfig {
            settings: s,
            ..ServerConfig::new(
                backend,
                SigningKey::generate().unwrap(),
                authority.verifying_key(),
            )
        }
        .state()
        .await
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = Server {
            state,
            port,
            authority,
            units,
            faults,
            case_polls: Arc::default(),
            peers: Arc::default(),
            running: None,
            dir,
        };
        // As an authority publishes: format 2 naming the server's receipt key, and its format 1
        // copy for older apps.
        let receipt_keys = vec![server.state.server_key().verifying_key()];
        let body = server.directory_body(1, receipt_keys);
        for signed in [body.to_format_1(), body].map(|body| body.sign(&server.authority).unwrap()) {
            let format = signed
                .verify(&server.authority.verifying_key(), Utc::now(), None)
                .unwrap()
                .format();
            server
                .state
                .store()
                .publish_directory(format, 1, signed.to_json().unwrap().into_bytes())
                .await
                .unwrap();
        }
        server.state.load_directory(Utc::now()).await.unwrap();
        let ikm: [u8; 32] = tipline_core::crypto::random::random_array(&mut OsRandom::new()).unwrap();
        server
            .state
            .gateway()
            .set_keys(GatewayKeys::from_ikms(&[(1, ikm)]).unwrap());
        listener.set_nonblocking(true).unwrap();
        server.serve(tokio::net::TcpListener::from_std(listener).unwrap());
        server
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let mut router = app(self.state.clone());
        if let Some((faults, counter)) = self.faults.clone() {
            router = router.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
                let counter = counter.clone();
                async move {
                    match faults {
                        Faults::FlakySubmissions => flaky(counter, req, next).await,
                        Faults::SlowFirstFollowUp => slow_first_follow_up(counter, req, next).await,
                        Faults::FirstSubmissionAnswered(status) => {
                            first_submission_answered(status, counter, req, next).await
                        }
                        Faults::ForgedReceipts => forged_receipts(counter, req, next).await,
                    }
                }
            }));
        }
        let polls = self.case_polls.clone();
        router = router.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
            let polls = polls.clone();
            async move {
                if req.method() == axum::http::Method::GET && req.uri().path().starts_with("/v1/cases/") {
                    let mut polls = polls.lock().unwrap_or_else(|p| p.into_inner());
                    polls.push((Instant::now(), req.uri().path().to_owned()));
                }
                next.run(req).await
            }
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let peers = self.peers.clone();
        let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp: &mut tokio::net::TcpStream| {
            if let Ok(peer) = tcp.peer_addr() {
                peers.lock().unwrap_or_else(|p| p.into_inner()).push(peer.ip());
            }
        });
        let handle = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        self.running = Some((stop, handle));
    }

    /// When each reporter's read of a case (`GET /v1/cases/{id}/messages`) arrived, and its path.
    pub fn case_polls(&self) -> Vec<(Instant, String)> {
        self.case_polls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The address of every connection accepted so far.
    pub fn accepted_peers(&self) -> Vec<std::net::IpAddr> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The gateway's key configurations (`application/ohttp-keys`).
    pub fn gateway_keys(&self) -> Vec<u8> {
        self.state.gateway().keys().unwrap().encoded_list().to_vec()
    }

    /// A client called `name` connecting from `address`, with no relay of its own: it takes the
    /// one the directory names.
    pub fn client_from(&self, name: &str, address: std::net::IpAddr) -> Client {
        Client::open(ClientConfig {
            storage_dir: self.client_dir(name),
            base_url: self.url(),
            authority_key: self.authority.verifying_key(),
            tls_pin: None,
            key_store: Arc::new(StaticKeyStore::new([7; 32])),
            timeout: Duration::from_secs(10),
            oblivious: None,
            local_address: Some(address),
        })
        .unwrap()
    }

    /// Publishes a newer directory, signed by the authority, naming the gateway's keys and the
    /// relay at `relay_url`.
    pub async fn publish_relay(&self, relay_url: &str) {
        let version = self.published_version().await + 1;
        let mut body = self.directory_body(version, vec![self.state.server_key().verifying_key()]);
        let intake = body.intake.as_mut().unwrap();
        intake.gateway_keys = KeyConfig::decode_list(&self.gateway_keys())
            .unwrap()
            .iter()
            .map(KeyConfig::encode)
            .collect();
        intake.relays = vec![relay_url.to_owned()];
        let signed = body.sign(&self.authority).unwrap();
        assert!(self
            .state
            .store()
            .publish_directory(DIRECTORY_FORMAT, version, signed.to_json().unwrap().into_bytes())
            .await
            .unwrap());
    }

    /// Forgets the connections accepted so far.
    pub fn clear_peers(&self) {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Forgets the case reads seen so far.
    pub fn clear_case_polls(&self) {
        self.case_polls.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Closes the socket (the store stays).
    pub async fn stop(mut self) -> Server {
        if let Some((stop, handle)) = self.running.take() {
            let _ = stop.send(());
            handle.await.unwrap();
        }
        self
    }

    /// Listens again on the same port.
    pub async fn restart(mut self) -> Server {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(listener);
        self
    }

    /// The sample directory with the test units' keys, in format 2 naming `receipt_keys`.
    pub fn directory_body(&self, version: u64, receipt_keys: Vec<VerifyingKey>) -> DirectoryBody {
        let mut source = sample_source().unwrap();
        for unit in &self.units {
            let public = unit.public().unwrap();
            source
                .set_unit_keys(&unit.unit_id, public.encryption_key, public.verifying_key)
                .unwrap();
        }
        source.format = DIRECTORY_FORMAT;
        source.intake = Some(Intake {
            receipt_keys,
            gateway_keys: Vec::new(),
            relays: Vec::new(),
        });
        source
            .into_body(version, Utc::now(), chrono::Duration::days(30))
            .unwrap()
    }

    /// The sample directory with the test units' keys and the server's receipt key, signed by
    /// `key`.
    pub fn directory_signed_by(&self, version: u64, key: &SigningKey) -> SignedDirectory {
        self.directory_body(version, vec![self.state.server_key().verifying_key()])
            .sign(key)
            .unwrap()
    }

    /// Publishes a newer directory, signed by the authority, naming these receipt keys.
    pub async fn publish_receipt_keys(&self, receipt_keys: Vec<VerifyingKey>) {
        let version = self.published_version().await + 1;
        let signed = self
            .directory_body(version, receipt_keys)
            .sign(&self.authority)
            .unwrap();
        assert!(self
            .state
            .store()
            .publish_directory(DIRECTORY_FORMAT, version, signed.to_json().unwrap().into_bytes())
            .await
            .unwrap());
    }

    async fn published_version(&self) -> u64 {
        self.state
            .store()
            .directory(DIRECTORY_FORMAT)
            .await
            .unwrap()
            .map(|d| d.0)
            .unwrap_or(0)
    }

    /// A directory signed by a key that is not the authority's.
    pub fn directory_signed_by_stranger(&self, version: u64) -> Vec<u8> {
        let stranger = SigningKey::generate().unwrap();
        self.directory_signed_by(version, &stranger)
            .to_json()
            .unwrap()
            .into_bytes()
    }

    /// A directory signed by the authority with one payload byte changed afterwards.
    pub fn altered_directory(&self, version: u64) -> Vec<u8> {
        let signed = self.directory_signed_by(version, &self.authority);
        let mut raw: Signed = serde_json::from_str(&signed.to_json().unwrap()).unwrap();
        let at = raw.payload.iter().position(|&b| b == b'K').unwrap();
        raw.payload[at] = b'C';
        serde_json::to_vec(&raw).unwrap()
    }

    /// Publishes `json` as the directory the server serves to current apps, bypassing its
    /// checks, as a compromised server would.
    pub async fn serve_directory(&self, json: Vec<u8>) {
        let version = self.published_version().await + 1;
        assert!(self
            .state
            .store()
            .publish_directory(DIRECTORY_FORMAT, version, json)
            .await
            .unwrap());
    }

    /// A folder for a client's storage.
    pub fn client_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The authority key the server's directory is signed with.
    pub fn authority_key(&self) -> VerifyingKey {
        self.authority.verifying_key()
    }

    /// A client with its storage in `dir`, pinned to the test authority.
    pub fn client_in(&self, dir: &Path) -> Client {
        self.client_at(dir, self.authority.verifying_key())
    }

    /// A client called `name`.
    pub fn client(&self, name: &str) -> Client {
        self.client_in(&self.client_dir(name))
    }

    /// A client pinned to another authority key.
    pub fn client_with_authority(&self, name: &str, authority: VerifyingKey) -> Client {
        self.client_at(&self.client_dir(name), authority)
    }

    fn client_at(&self, dir: &Path, authority: VerifyingKey) -> Client {
        self.client_with_key_store(dir, authority, Arc::new(StaticKeyStore::new([7; 32])))
    }

    /// A client in `dir` whose keys come from `key_store`.
    pub fn client_with_key_store(
        &self,
        dir: &Path,
        authority: VerifyingKey,
        key_store: Arc<dyn KeyStore>,
    ) -> Client {
        Client::open(ClientConfig {
            storage_dir: dir.to_owned(),
            base_url: format!("http://127.0.0.1:{}", self.port),
            authority_key: authority,
            tls_pin: None,
            key_store,
            timeout: Duration::from_secs(2),
            oblivious: None,
            local_address: None,
        })
        .unwrap()
    }

    /// Submits reports with stamps at the announced difficulty until `/v1/config` announces
    /// `target` or more (at most 20 s), whatever they are answered.
    pub async fn flood_until(&self, target: u8) {
        let url = format!("http://127.0.0.1:{}", self.port);
        let key = self.unit(UNIT).encryption_key().public_key();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let citizen = tipline_e2e::Citizen::connect(&url).await.unwrap();
            if citizen.info.stamp_difficulty >= target {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the flood did not raise the difficulty to {target}"
            );
            let submission = citizen.seal(UNIT, &key, "flood").unwrap();
            // Taken or told to wait: counted either way.
            let _ = citizen.submit(&submission).await;
        }
    }

    fn unit(&self, id: &str) -> &UnitKeyFile {
        self.units.iter().find(|u| u.unit_id == id).unwrap()
    }

    /// Every unacknowledged report of the test unit (leased for no time, so always all).
    pub async fn desk_reports(&self) -> Vec<Delivery> {
        self.state
            .store()
            .lease_reports(UNIT, Utc::now(), chrono::Duration::zero(), 100)
            .await
            .unwrap()
    }

    /// How many sealed bytes of attachment 0 of a filed report the server holds.
    pub async fn attachment_offset(&self, filed: &Filed) -> u64 {
        self.state
            .store()
            .attachment_state(filed.report_id, 0, None)
            .await
            .unwrap()
            .unwrap()
            .received
    }

    /// Opens a delivered report at the desk and decrypts and checks all its attachments.
    pub async fn open_attachments(&self, delivery: &Delivery) -> Vec<Vec<u8>> {
        let envelope = Envelope::from_bytes(&delivery.envelope).unwrap();
        let unit = self.unit(&envelope.unit_id);
        let opened = open_report(&envelope, &unit.unit_id, &unit.encryption_key()).unwrap();
        let mut files = Vec::new();
        for info in &opened.report.attachments {
            let state = self
                .state
                .store()
                .attachment_state(delivery.report_id, info.index, None)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                state.received, state.sealed_size,
                "attachment {} is complete",
                info.index
            );
            let sealed = self
                .state
                .store()
                .read_attachment(
                    &unit.unit_id,
                    delivery.report_id,
                    info.index,
                    0,
                    state.sealed_size,
                )
                .await
                .unwrap()
                .unwrap();
            let mut plain = Vec::new();
            let key = AttachmentKey::derive(&opened.context, info.index).unwrap();
            attachment::decrypt(&key, info, &mut &sealed[..], &mut plain).unwrap();
            files.push(plain);
        }
        files
    }

    /// The unit replies in the case of a delivered report.
    pub async fn reply(&self, delivery: &Delivery, text: &str) {
        self.post_to_reporter(delivery, |unit, reply_key, message_id| {
            let message = CaseMessage {
                case_id: delivery.case_id,
                message_id,
                unit_id: unit.unit_id.clone(),
                text: text.into(),
                sent_at: Utc::now(),
            };
            seal_reply_with_rng(
                &message,
                &unit.signing_key().unwrap(),
                reply_key,
                &mut OsRandom::new(),
            )
            .unwrap()
        })
        .await;
    }

    /// The unit tells the reporter of a delivered report where the case stands.
    pub async fn notice(&self, delivery: &Delivery, status: CaseStatus, text: &str) {
        self.post_to_reporter(delivery, |unit, reply_key, message_id| {
            let notice = StatusNotice {
                case_id: delivery.case_id,
                message_id,
                unit_id: unit.unit_id.clone(),
                status,
                text: text.into(),
                sent_at: Utc::now(),
            };
            seal_notice_with_rng(
                &notice,
                &unit.signing_key().unwrap(),
                reply_key,
                &mut OsRandom::new(),
            )
            .unwrap()
        })
        .await;
    }

    /// Stores in the case of `delivery` what `seal` makes for the reporter (its unit's keys,
    /// the reply key from the opened report, a fresh message id).
    async fn post_to_reporter(
        &self,
        delivery: &Delivery,
        seal: impl FnOnce(&UnitKeyFile, &EncryptionPublicKey, MessageId) -> Envelope,
    ) {
        let envelope = Envelope::from_bytes(&delivery.envelope).unwrap();
        let unit = self.unit(&envelope.unit_id);
        let opened = open_report(&envelope, &unit.unit_id, &unit.encryption_key()).unwrap();
        let message_id = MessageId::random().unwrap();
        let sealed = seal(unit, &opened.report.reply_key, message_id);
        self.state
            .store()
            .add_message(
                delivery.case_id,
                message_id,
                MessageDirection::ToReporter,
                sealed.to_bytes(),
                Utc::now(),
            )
            .await
            .unwrap();
    }

    /// The follow-ups the unit can open in the case of a delivered report.
    pub async fn follow_ups(&self, delivery: &Delivery) -> Vec<String> {
        let unit = self.unit(&Envelope::from_bytes(&delivery.envelope).unwrap().unit_id);
        let messages = self
            .state
            .store()
            .messages(delivery.case_id, 0, 100)
            .await
            .unwrap();
        messages
            .iter()
            .filter(|m| m.direction == MessageDirection::ToUnit)
            .map(|m| {
                let envelope = Envelope::from_bytes(&m.envelope).unwrap();
                open_follow_up(&envelope, &unit.unit_id, delivery.case_id, &unit.encryption_key())
                    .unwrap()
                    .text
            })
            .collect()
    }

    /// Publishes an alert of `unit_id` for DK-84, signed by the unit or, `forged`, by a stranger.
    pub async fn publish_alert(&self, unit_id: &str, forged: bool) {
        let now = Utc::now();
        let alert = Alert {
            alert_id: MessageId::random().unwrap(),
            unit_id: unit_id.into(),
            regions: vec!["DK-84".into()],
            severity: Severity::Warning,
            title: BTreeMap::from([
                ("da".into(), "Falske opslag".into()),
                ("en".into(), "Fake posts".into()),
            ]),
            body: BTreeMap::from([
                ("da".into(), "Del ikke videoen.".into()),
                ("en".into(), "Do not share it.".into()),
            ]),
            issued_at: now,
            expires_at: now + chrono::Duration::days(1),
        };
        let key = if forged {
            SigningKey::generate().unwrap()
        } else {
            self.unit(unit_id).signing_key().unwrap()
        };
        let signed = alert.sign(&key).unwrap();
        self.state
            .store()
            .add_alert(StoredAlert {
                alert_id: alert.alert_id,
                unit_id: unit_id.into(),
                regions: alert.regions.clone(),
                signed: serde_json::to_vec(&signed).unwrap(),
                expires_at: alert.expires_at,
            })
            .await
            .unwrap();
    }
}

/// The answer's status and its JSON followed by whitespace (still valid JSON) up to more than a
/// client reads for a receipt.
async fn padded_answer(response: Response) -> (StatusCode, Vec<u8>) {
    let status = response.status();
    let mut body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    body.resize(tipline_core::api::bounds::MAX_SMALL_ANSWER + 1, b' ');
    (status, body)
}

async fn slow_first_follow_up(posts: Arc<AtomicUsize>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_follow_up =
        req.method() == Method::POST && path.starts_with("/v1/cases/") && path.ends_with("/messages");
    if !is_follow_up {
        return next.run(req).await;
    }
    let first = posts.fetch_add(1, Ordering::SeqCst) == 0;
    let response = next.run(req).await;
    if first {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    response
}

async fn flaky(failures: Arc<AtomicUsize>, req: Request, next: Next) -> Response {
    let is_submit = req.method() == Method::POST && req.uri().path() == "/v1/reports";
    if !is_submit {
        return next.run(req).await;
    }
    match failures.load(Ordering::SeqCst) {
        0 => {
            failures.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Body::from("{\"error\":\"internal\",\"message\":\"boom\"}"),
            )
                .into_response()
        }
        1 => {
            failures.fetch_add(1, Ordering::SeqCst);
            let response = next.run(req).await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            response
        }
        // The true answer (a receipt that verifies), padded past what a client reads for a
        // receipt: first with its length declared, then streamed without one.
        2 => {
            failures.fetch_add(1, Ordering::SeqCst);
            let (status, padded) = padded_answer(next.run(req).await).await;
            (status, padded).into_response()
        }
        3 => {
            failures.fetch_add(1, Ordering::SeqCst);
            let (status, padded) = padded_answer(next.run(req).await).await;
            let chunks = padded
                .chunks(4096)
                .map(|chunk| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(chunk)))
                .collect::<Vec<_>>();
            (status, Body::from_stream(futures_util::stream::iter(chunks))).into_response()
        }
        _ => {
            failures.fetch_add(1, Ordering::SeqCst);
            next.run(req).await
        }
    }
}

fn is_submission(req: &Request) -> bool {
    req.method() == Method::POST && req.uri().path() == "/v1/reports"
}

async fn first_submission_answered(
    status: u16,
    count: Arc<AtomicUsize>,
    req: Request,
    next: Next,
) -> Response {
    if !is_submission(&req) {
        return next.run(req).await;
    }
    if count.fetch_add(1, Ordering::SeqCst) > 0 {
        return next.run(req).await;
    }
    let status = StatusCode::from_u16(status).unwrap();
    let body = format!("{{\"error\":\"bad_envelope\",\"message\":\"refused by the test ({status})\"}}");
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn forged_receipts(count: Arc<AtomicUsize>, req: Request, next: Next) -> Response {
    if !is_submission(&req) {
        return next.run(req).await;
    }
    count.fetch_add(1, Ordering::SeqCst);
    let response = next.run(req).await;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let index = json["receipt"]["leaf_index"].as_u64().unwrap();
    json["receipt"]["leaf_index"] = (index + 1).into();
    (status, axum::Json(json)).into_response()
}
