//! The intake API as the device speaks it: reqwest over rustls with ring (no OpenSSL, so it
//! builds for Android and iOS), a timeout on every call, an optional pin of the server's TLS
//! public key, and failures sorted into what the outbox can act on.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::de::DeserializeOwned;

pub use super::transport::ObliviousConfig;
use super::transport::{Answer, Call, Oblivious, Transport};
use crate::api::bounds::{MAX_ALERTS_ANSWER, MAX_PAGE_ANSWER, MAX_SMALL_ANSWER};
use crate::api::{
    paths, Alerts, ErrorBody, Messages, PostMessage, SealedMessage, ServerConfig, SubmitReport, Submitted,
    CASE_SECRET_HEADER, CHUNK_CONTENT_TYPE, UPLOAD_OFFSET_HEADER,
};
use crate::encoding::b64;
use crate::receipt::SignedReceipt;
use crate::report::{CaseId, ReportId};
use crate::signed::Signed;
use crate::{Error, Result};
use reqwest::Method;

/// The usual bound of any single call, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound of establishing a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed call, sorted by what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// No answer: no connection, a timeout, a TLS failure (including a pin mismatch). Retry.
    #[error("no connection")]
    Offline,
    /// The server asks to come back later (429 or 503), after `retry_after` seconds if it said.
    #[error("server busy")]
    Busy {
        /// The server's `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// The server failed (5xx). Retry.
    #[error("server error {status}")]
    Server {
        /// The HTTP status.
        status: u16,
    },
    /// The server answered with something the client cannot use: longer than the protocol
    /// allows for that call, or not the JSON it specifies. A server fault; retry later.
    #[error("unusable answer from the server: {0}")]
    BadAnswer(&'static str),
    /// The server refused the request (4xx): retrying the same request will not help.
    #[error("refused ({status} {code}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// The server's explanation.
        message: String,
    },
}

impl NetError {
    /// The localisation id of the reason to show (`reason-offline`...).
    pub fn reason_id(&self) -> &'static str {
        match self {
            NetError::Offline => "reason-offline",
            NetError::Busy { .. } => "reason-busy",
            NetError::Server { .. } | NetError::BadAnswer(_) => "reason-server",
            NetError::Refused { .. } => "reason-rejected",
        }
    }
}

impl From<reqwest::Error> for NetError {
    fn from(_: reqwest::Error) -> Self {
        NetError::Offline
    }
}

/// A handle on the intake API. Desk calls use its HTTP client directly; a citizen's calls all
/// go through its [`Transport`], direct or oblivious.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    transport: Transport,
}

impl Api {
    /// An API client for `base_url` (e.g. `https://intake.example.org`), optionally pinning the
    /// SHA-256 of the server certificate's public key (SubjectPublicKeyInfo), with `timeout` as
    /// the bound of every call.
    pub fn new(base_url: &str, tls_pin: Option<[u8; 32]>, timeout: Duration) -> Result<Api> {
        let http = client_builder(tls_pin, CONNECT_TIMEOUT.min(timeout))?
            .timeout(timeout)
            .build()
            .map_err(|e| Error::invalid("server url", e.to_string()))?;
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::invalid(
                "server url",
                "must start with https:// (or http:// for loopback tests)",
            ));
        }
        // Refused here rather than at every call: the URL parser takes ASCII host names only.
        reqwest::Url::parse(&base).map_err(|e| {
            Error::invalid(
                "server url",
                format!("{e} (give an international host name in its xn-- form)"),
            )
        })?;
        Ok(Api {
            http,
            base,
            transport: Transport::Direct,
        })
    }

    /// The same API over another HTTP client (one bound to a local address, in tests).
    pub fn with_http_client(mut self, http: reqwest::Client) -> Api {
        self.http = http;
        self
    }

    /// The same API with every call through a relay (`Some`), or direct (`None`).
    pub fn with_oblivious(mut self, oblivious: Option<&ObliviousConfig>) -> Result<Api> {
        self.transport = match oblivious {
            Some(config) => Transport::Oblivious(Arc::new(Oblivious::new(config)?)),
            None => Transport::Direct,
        };
        Ok(self)
    }

    /// Whether calls go through a relay.
    pub fn is_oblivious(&self) -> bool {
        self.transport.is_oblivious()
    }

    /// The full URL of `path` (which starts with `/`).
    #[cfg(feature = "desk")]
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    #[cfg(feature = "desk")]
    /// The underlying HTTP client (for the desk's signed requests).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sorts a response into success or a [`NetError`] (the desk's calls).
    #[cfg(feature = "desk")]
    pub(crate) async fn check(response: reqwest::Response) -> Result<reqwest::Response, NetError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let body = if status.is_client_error() {
            read_limited(response, MAX_SMALL_ANSWER).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        Err(failure(status.as_u16(), retry_after, &body))
    }

    /// Sends a citizen's call through the transport and sorts the answer.
    async fn call(&self, call: Call) -> Result<Answer, NetError> {
        let answer = self.transport.send(&self.http, &self.base, call).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        Err(failure(
            answer.status,
            retry_after(answer.field("retry-after")),
            &answer.body,
        ))
    }

    /// `GET /v1/config`.
    pub async fn config(&self) -> Result<ServerConfig, NetError> {
        json(
            self.call(Call::new(Method::GET, paths::config(), MAX_SMALL_ANSWER))
                .await?,
        )
    }

    /// `GET /v1/directory`: the published signed directory's JSON, or `None` if none is published.
    pub async fn directory(&self) -> Result<Option<Vec<u8>>, NetError> {
        let path = format!(
            "{}?format={}",
            paths::directory(),
            crate::directory::DIRECTORY_FORMAT
        );
        let call = Call::new(Method::GET, path, crate::directory::MAX_SIGNED_JSON_LEN);
        match self.call(call).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(NetError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/reports`: the receipt, also when the report was already there.
    pub async fn submit(&self, submission: &SubmitReport) -> Result<SignedReceipt, NetError> {
        let body = serde_json::to_vec(submission).map_err(|_| NetError::BadAnswer("cannot encode"))?;
        let call = Call::new(Method::POST, paths::reports(), MAX_SMALL_ANSWER).body("application/json", body);
        let submitted: Submitted = json(self.call(call).await?)?;
        serde_json::from_str(submitted.receipt.get())
            .map_err(|_| NetError::BadAnswer("not the JSON the protocol specifies"))
    }

    /// `HEAD` of an attachment upload: how many sealed bytes the server holds.
    pub async fn attachment_offset(
        &self,
        report_id: ReportId,
        index: u16,
        secret: &[u8; 32],
    ) -> Result<u64, NetError> {
        let call = Call::new(
            Method::HEAD,
            paths::attachment(report_id, index),
            MAX_SMALL_ANSWER,
        )
        .field(CASE_SECRET_HEADER, b64(secret));
        offset_header(&self.call(call).await?)
    }

    /// `PATCH` of an attachment upload: appends `bytes` at `offset`; returns the new offset.
    pub async fn upload(
        &self,
        report_id: ReportId,
        index: u16,
        secret: &[u8; 32],
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<u64, NetError> {
        let call = Call::new(
            Method::PATCH,
            paths::attachment(report_id, index),
            MAX_SMALL_ANSWER,
        )
        .field(CASE_SECRET_HEADER, b64(secret))
        .field(UPLOAD_OFFSET_HEADER, offset.to_string())
        .body(CHUNK_CONTENT_TYPE, bytes);
        offset_header(&self.call(call).await?)
    }

    /// `GET /v1/cases/{case_id}/messages?after=`.
    pub async fn messages(
        &self,
        case_id: CaseId,
        secret: &[u8; 32],
        after: i64,
    ) -> Result<Vec<SealedMessage>, NetError> {
        let path = format!("{}?after={after}", paths::case_messages(case_id));
        let call = Call::new(Method::GET, path, MAX_PAGE_ANSWER).field(CASE_SECRET_HEADER, b64(secret));
        let messages: Messages = json(self.call(call).await?)?;
        Ok(messages.messages)
    }

    /// `POST /v1/cases/{case_id}/messages`: a follow-up.
    pub async fn post_message(
        &self,
        case_id: CaseId,
        secret: &[u8; 32],
        envelope: &[u8],
    ) -> Result<(), NetError> {
        let body = serde_json::to_vec(&PostMessage {
            envelope: envelope.to_vec(),
        })
        .map_err(|_| NetError::BadAnswer("cannot encode"))?;
        let call = Call::new(Method::POST, paths::case_messages(case_id), MAX_SMALL_ANSWER)
            .field(CASE_SECRET_HEADER, b64(secret))
            .body("application/json", body);
        self.call(call).await?;
        Ok(())
    }

    /// `GET /v1/alerts?region=`.
    pub async fn alerts(&self, region: &str) -> Result<Vec<Signed>, NetError> {
        let query: String = url_encode(region);
        let path = format!("{}?region={query}", paths::alerts());
        let alerts: Alerts = json(self.call(Call::new(Method::GET, path, MAX_ALERTS_ANSWER)).await?)?;
        Ok(alerts.alerts)
    }
}

/// `application/x-www-form-urlencoded` escaping of a query value.
fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn retry_after(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

/// A failed answer sorted by what to do about it.
fn failure(status: u16, retry_after: Option<u64>, body: &[u8]) -> NetError {
    // A timeout (408) or a rate limit (429) passes, as a busy server (503) does.
    if status == 408 || status == 429 || status == 503 {
        return NetError::Busy { retry_after };
    }
    // Only a 4xx is the server's word about the request itself; anything else passes.
    if !(400..500).contains(&status) {
        return NetError::Server { status };
    }
    let body: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message) = body.map(|b| (b.error, b.message)).unwrap_or_default();
    NetError::Refused {
        status,
        code,
        message,
    }
}

/// An answer's body as the JSON `T`.
fn json<T: DeserializeOwned>(answer: Answer) -> Result<T, NetError> {
    serde_json::from_slice(&answer.body)
        .map_err(|_| NetError::BadAnswer("not the JSON the protocol specifies"))
}

/// A client builder with the project's TLS (optionally pinned to `tls_pin`), user agent and
/// connect timeout, and no overall timeout: [`Api::new`] adds one; a long-lived stream does not.
pub(crate) fn client_builder(
    tls_pin: Option<[u8; 32]>,
    connect_timeout: Duration,
) -> Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .user_agent("tipline")
        .referer(false);
    if let Some(pin) = tls_pin {
        builder = builder.use_preconfigured_tls(pinned_tls(pin)?);
    }
    Ok(builder)
}

/// Reads a whole answer body, refusing one longer than `limit` bytes: by its declared length
/// before reading anything, else as soon as the bytes read pass the limit.
pub(crate) async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, NetError> {
    const TOO_LONG: NetError = NetError::BadAnswer("longer than the protocol allows");
    if response
        .content_length()
        .is_some_and(|declared| declared > limit as u64)
    {
        return Err(TOO_LONG);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(TOO_LONG);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads an answer of at most `limit` bytes as the JSON `T`.
#[cfg(feature = "desk")]
pub(crate) async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
) -> Result<T, NetError> {
    let body = read_limited(response, limit).await?;
    serde_json::from_slice(&body).map_err(|_| NetError::BadAnswer("not the JSON the protocol specifies"))
}

fn offset_header(answer: &Answer) -> Result<u64, NetError> {
    answer
        .field(UPLOAD_OFFSET_HEADER)
        .and_then(|v| v.parse().ok())
        .ok_or(NetError::Server {
            status: answer.status,
        })
}

/// The usual certificate checks against the web's root authorities, and then the pin: the
/// SHA-256 of the end-entity certificate's SubjectPublicKeyInfo must equal `pin`.
#[derive(Debug)]
struct PinnedVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    pin: [u8; 32],
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        if spki_sha256(end_entity) != Some(self.pin) {
            return Err(rustls::Error::General(
                "server key does not match the pinned key".into(),
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (the value HTTP public key pinning uses).
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(crate::crypto::sha256(parsed.subject_public_key_info().as_ref()))
}

fn pinned_verifier(pin: [u8; 32], roots: rustls::RootCertStore) -> Result<PinnedVerifier> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| Error::invalid("tls", e.to_string()))?;
    Ok(PinnedVerifier { inner, pin })
}

fn pinned_tls(pin: [u8; 32]) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let verifier = pinned_verifier(pin, roots)?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid("tls", e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_host_names_are_ascii_only() {
        // An international host name is given in its xn-- form; in Unicode it is refused at once
        let second = Duration::from_secs(1);
        assert!(Api::new("https://xn--bcher-kva.example", None, second).is_ok());
        match Api::new("https://bücher.example", None, second) {
            Err(Error::Invalid { field, reason }) => {
                assert_eq!(field, "server url");
                assert!(reason.contains("xn--"), "{reason}");
            }
            other => panic!("expected the url refused, got {:?}", other.map(|_| ())),
        }
    }

    /// A CA and a certificate it issued for `localhost`, and the SHA-256 of the leaf's SPKI.
    fn ca_and_leaf() -> (CertificateDer<'static>, CertificateDer<'static>, [u8; 32]) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        // The SPKI as rcgen writes it (PEM), independently of the code under test.
        let pem = leaf_key.public_key_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let spki = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
        let pin = crate::crypto::sha256(&spki);
        (ca.der().clone(), leaf.der().clone(), pin)
    }

    fn verify(pin: [u8; 32], ca: &CertificateDer<'static>, leaf: &CertificateDer<'static>) -> bool {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let verifier = pinned_verifier(pin, roots).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        verifier
            .verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn test_spki_pin_accepts_the_pinned_key_and_nothing_else() {
        // Given a server certificate that chains to a trusted root
        let (ca, leaf, pin) = ca_and_leaf();
        assert_eq!(spki_sha256(&leaf), Some(pin));
        // Then it passes with its own key pinned, and fails with any other pin
        assert!(verify(pin, &ca, &leaf));
        let mut other = pin;
        other[0] ^= 1;
        assert!(!verify(other, &ca, &leaf));
        // And a certificate with the right key but no trusted chain still fails
        let (_, stranger_leaf, stranger_pin) = ca_and_leaf();
        assert!(!verify(stranger_pin, &ca, &stranger_leaf));
    }

    #[test]
    fn test_bad_base_url_is_refused() {
        assert!(Api::new("ftp://example.org", None, CALL_TIMEOUT).is_err());
        assert!(Api::new("https://example.org", Some([0; 32]), CALL_TIMEOUT).is_ok());
    }
}
