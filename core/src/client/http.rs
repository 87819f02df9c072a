//! The intake API as the device speaks it: reqwest over rustls with ring (no OpenSSL, so it
//! builds for Android and iOS), a timeout on every call, an optional pin of the server's TLS
//! public key, and failures sorted into what the outbox can act on.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::de::DeserializeOwned;

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

/// A handle on the intake API.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
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
        Ok(Api { http, base })
    }

    /// The full URL of `path` (which starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    #[cfg(feature = "desk")]
    /// The underlying HTTP client (for the desk's signed requests).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sorts a response into success or a [`NetError`].
    pub(crate) async fn check(response: reqwest::Response) -> Result<reqwest::Response, NetError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let code = status.as_u16();
        if code == 429 || code == 503 {
            return Err(NetError::Busy { retry_after });
        }
        if status.is_server_error() {
            return Err(NetError::Server { status: code });
        }
        let body: Option<ErrorBody> = read_json(response, MAX_SMALL_ANSWER).await.ok();
        let (code_text, message) = body.map(|b| (b.error, b.message)).unwrap_or_default();
        Err(NetError::Refused {
            status: code,
            code: code_text,
            message,
        })
    }

    /// `GET /v1/config`.
    pub async fn config(&self) -> Result<ServerConfig, NetError> {
        let response = Self::check(self.http.get(self.url(&paths::config())).send().await?).await?;
        read_json(response, MAX_SMALL_ANSWER).await
    }

    /// `GET /v1/directory`: the published signed directory's JSON, or `None` if none is published.
    pub async fn directory(&self) -> Result<Option<Vec<u8>>, NetError> {
        let query = crate::api::DirectoryQuery {
            format: Some(crate::directory::DIRECTORY_FORMAT),
        };
        let response = self
            .http
            .get(self.url(&paths::directory()))
            .query(&query)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = Self::check(response).await?;
        Ok(Some(
            read_limited(response, crate::directory::MAX_SIGNED_JSON_LEN).await?,
        ))
    }

    /// `POST /v1/reports`: the receipt, also when the report was already there.
    pub async fn submit(&self, submission: &SubmitReport) -> Result<SignedReceipt, NetError> {
        let response = self
            .http
            .post(self.url(&paths::reports()))
            .json(submission)
            .send()
            .await?;
        let submitted: Submitted = read_json(Self::check(response).await?, MAX_SMALL_ANSWER).await?;
        serde_json::from_str(submitted.receipt.get())
            .map_err(|_| NetError::BadAnswer("not the JSON the protocol specifies"))
    }

    fn attachment_url(&self, report_id: ReportId, index: u16) -> String {
        self.url(&paths::attachment(report_id, index))
    }

    /// `HEAD` of an attachment upload: how many sealed bytes the server holds.
    pub async fn attachment_offset(
        &self,
        report_id: ReportId,
        index: u16,
        secret: &[u8; 32],
    ) -> Result<u64, NetError> {
        let response = self
            .http
            .head(self.attachment_url(report_id, index))
            .header(CASE_SECRET_HEADER, b64(secret))
            .send()
            .await?;
        let response = Self::check(response).await?;
        offset_header(&response)
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
        let response = self
            .http
            .patch(self.attachment_url(report_id, index))
            .header(CASE_SECRET_HEADER, b64(secret))
            .header(UPLOAD_OFFSET_HEADER, offset.to_string())
            .header(reqwest::header::CONTENT_TYPE, CHUNK_CONTENT_TYPE)
            .body(bytes)
            .send()
            .await?;
        offset_header(&Self::check(response).await?)
    }

    /// `GET /v1/cases/{case_id}/messages?after=`.
    pub async fn messages(
        &self,
        case_id: CaseId,
        secret: &[u8; 32],
        after: i64,
    ) -> Result<Vec<SealedMessage>, NetError> {
        let response = self
            .http
            .get(self.url(&paths::case_messages(case_id)))
            .query(&[("after", after)])
            .header(CASE_SECRET_HEADER, b64(secret))
            .send()
            .await?;
        let messages: Messages = read_json(Self::check(response).await?, MAX_PAGE_ANSWER).await?;
        Ok(messages.messages)
    }

    /// `POST /v1/cases/{case_id}/messages`: a follow-up; returns its position in the case.
    pub async fn post_message(
        &self,
        case_id: CaseId,
        secret: &[u8; 32],
        envelope: &[u8],
    ) -> Result<(), NetError> {
        let response = self
            .http
            .post(self.url(&paths::case_messages(case_id)))
            .header(CASE_SECRET_HEADER, b64(secret))
            .json(&PostMessage {
                envelope: envelope.to_vec(),
            })
            .send()
            .await?;
        Self::check(response).await?;
        Ok(())
    }

    /// `GET /v1/alerts?region=`.
    pub async fn alerts(&self, region: &str) -> Result<Vec<Signed>, NetError> {
        let response = self
            .http
            .get(self.url(&paths::alerts()))
            .query(&[("region", region)])
            .send()
            .await?;
        let alerts: Alerts = read_json(Self::check(response).await?, MAX_ALERTS_ANSWER).await?;
        Ok(alerts.alerts)
    }
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
pub(crate) async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
) -> Result<T, NetError> {
    let body = read_limited(response, limit).await?;
    serde_json::from_slice(&body).map_err(|_| NetError::BadAnswer("not the JSON the protocol specifies"))
}

fn offset_header(response: &reqwest::Response) -> Result<u64, NetError> {
    response
        .headers()
        .get(UPLOAD_OFFSET_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or(NetError::Server {
            status: response.status().as_u16(),
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
