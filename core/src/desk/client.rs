//! The desk's side of the intake API: every request signed with the unit's Ed25519 key
//! ([`crate::request_auth`]), answers sorted (by `Api::check`) into the same [`NetError`]s the
//! citizen's client uses, and the live inbox read as server-sent events.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;

use super::sse::{SseEvent, SseParser};
use crate::api::bounds::{
    max_sealed_attachment, MAX_ACK_BATCH, MAX_API_DOCUMENT, MAX_PAGE_ANSWER, MAX_SMALL_ANSWER,
};
use crate::api::{
    code, paths, AckBatch, AckBatchAnswer, AlertPublished, DirectoryPublished, Inbox, MessageNotice,
    Messages, PostMessage, Posted, SealedMessage, EVENT_MESSAGE, EVENT_REPORT, EVENT_STREAM_CONTENT_TYPE,
};
pub use crate::api::{AttachmentProgress, Delivery, TransferRequest};
use crate::client::http::{client_builder, read_json, Api, NetError, CONNECT_TIMEOUT};
use crate::keys::{SigningKey, UnitKeyFile};
use crate::report::{CaseId, MessageId, ReportId};
use crate::request_auth::sign_request;
use crate::signed::Signed;
use crate::{Error, Result};

/// A live stream that sends nothing, not even a keep-alive, for this long is taken as dead.
pub const STREAM_IDLE: Duration = Duration::from_secs(60);

/// What the live stream brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxEvent {
    /// A report, leased to this desk.
    Report(Box<Delivery>),
    /// A reporter posted a follow-up in case `case_id`.
    Message {
        /// The case.
        case_id: CaseId,
        /// The message's position in the case.
        seq: i64,
    },
}

/// How a download ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Download {
    /// Every sealed byte was written.
    Complete {
        /// Bytes written.
        bytes: u64,
    },
    /// The reporter has not finished uploading: nothing was written.
    Incomplete,
    /// The server has no such attachment for this unit.
    Missing,
}

/// A unit's connection to the intake server.
pub struct DeskClient {
    api: Api,
    stream_http: reqwest::Client,
    unit_id: String,
    signing: SigningKey,
}

impl std::fmt::Debug for DeskClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskClient")
            .field("unit_id", &self.unit_id)
            .finish_non_exhaustive()
    }
}

impl DeskClient {
    /// A client for the unit of `keys` against `base_url`, `timeout` bounding every call but the
    /// live stream.
    pub fn new(
        base_url: &str,
        tls_pin: Option<[u8; 32]>,
        timeout: Duration,
        keys: &UnitKeyFile,
    ) -> Result<Self> {
        let stream_http = client_builder(tls_pin, CONNECT_TIMEOUT.min(timeout))?
            .read_timeout(STREAM_IDLE)
            .build()
            .map_err(|e| Error::invalid("server url", e.to_string()))?;
        Ok(DeskClient {
            api: Api::new(base_url, tls_pin, timeout)?,
            stream_http,
            unit_id: keys.unit_id.clone(),
            signing: keys.signing_key()?,
        })
    }

    /// The unit this desk signs as.
    pub fn unit_id(&self) -> &str {
        &self.unit_id
    }

    /// The public API, as a citizen's client speaks it (directory, uploads).
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// A request signed now over method, path and query, timestamp, a fresh nonce and the
    /// body's digest (all in headers, so the server checks them before it reads the body).
    fn signed(
        &self,
        http: &reqwest::Client,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::RequestBuilder> {
        let timestamp = Utc::now().timestamp();
        let signed = sign_request(&self.signing, method.as_str(), path, timestamp, &body)?;
        let mut request = http.request(method, self.api.url(path));
        for (name, value) in signed.headers(&self.unit_id) {
            request = request.header(name, value);
        }
        if !body.is_empty() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        Ok(request)
    }

    async fn send(&self, method: Method, path: &str, body: Vec<u8>) -> Result<reqwest::Response> {
        let response = self
            .signed(self.api.http(), method, path, body)?
            .send()
            .await
            .map_err(NetError::from)?;
        Ok(Api::check(response).await?)
    }

    /// Leases up to `limit` pending reports (`GET .../inbox`).
    pub async fn pull(&self, limit: u32) -> Result<Vec<Delivery>> {
        let path = format!("{}?limit={limit}", paths::unit_inbox(&self.unit_id));
        let inbox: Inbox =
            read_json(self.send(Method::GET, &path, Vec::new()).await?, MAX_PAGE_ANSWER).await?;
        Ok(inbox.reports)
    }

    /// Acknowledges a report: stored at the desk, not to be delivered again.
    pub async fn ack(&self, report_id: ReportId) -> Result<()> {
        let path = paths::unit_ack(&self.unit_id, report_id);
        self.send(Method::POST, &path, Vec::new()).await?;
        Ok(())
    }

    /// Acknowledges several reports in one request per [`MAX_ACK_BATCH`] of them (one commit
    /// on the server each); returns the ids the server says are not this unit's reports.
    pub async fn ack_batch(&self, report_ids: &[ReportId]) -> Result<Vec<ReportId>> {
        let path = paths::unit_acks(&self.unit_id);
        let mut unknown = Vec::new();
        for chunk in report_ids.chunks(MAX_ACK_BATCH as usize) {
            let body = serde_json::to_vec(&AckBatch {
                report_ids: chunk.to_vec(),
            })?;
            let answer: AckBatchAnswer =
                read_json(self.send(Method::POST, &path, body).await?, MAX_SMALL_ANSWER).await?;
            unknown.extend(answer.unknown.into_iter().filter(|id| chunk.contains(id)));
        }
        Ok(unknown)
    }

    /// Opens the live inbox stream; from the moment it returns, every report committed for the
    /// unit reaches it (pending ones first).
    pub async fn inbox_stream(&self) -> Result<InboxStream> {
        let path = paths::unit_inbox_stream(&self.unit_id);
        let response = self
            .signed(&self.stream_http, Method::GET, &path, Vec::new())?
            .header(reqwest::header::ACCEPT, EVENT_STREAM_CONTENT_TYPE)
            .send()
            .await
            .map_err(NetError::from)?;
        Ok(InboxStream {
            response: Api::check(response).await?,
            parser: SseParser::new(),
            ready: std::collections::VecDeque::new(),
            last_event_id: None,
        })
    }

    /// Downloads the sealed bytes of an attachment into `out`, or says it is still uploading.
    pub async fn download_attachment(
        &self,
        report_id: ReportId,
        index: u16,
        out: &mut impl std::io::Write,
    ) -> Result<Download> {
        let path = paths::unit_attachment(&self.unit_id, report_id, index);
        // A large attachment takes longer than one call's bound: only connecting is bounded,
        // and a stalled transfer ends on the read timeout.
        let response = self
            .signed(&self.stream_http, Method::GET, &path, Vec::new())?
            .send()
            .await
            .map_err(NetError::from)?;
        let mut response = match Api::check(response).await {
            Ok(response) => response,
            Err(NetError::Refused { status: 409, .. }) => return Ok(Download::Incomplete),
            Err(NetError::Refused {
                status: 404, code, ..
            }) if code == code::UNKNOWN_ATTACHMENT => return Ok(Download::Missing),
            Err(e) => return Err(e.into()),
        };
        // No attachment is larger than this sealed; a server sending more is at fault, and the
        // desk's disk is not its to fill.
        let max = max_sealed_attachment();
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(NetError::from)? {
            bytes += chunk.len() as u64;
            if bytes > max {
                return Err(NetError::BadAnswer("an attachment longer than any sealed attachment").into());
            }
            out.write_all(&chunk)?;
        }
        Ok(Download::Complete { bytes })
    }

    /// The case's messages after position `after`.
    pub async fn messages(&self, case_id: CaseId, after: i64) -> Result<Vec<SealedMessage>> {
        let path = format!(
            "{}?after={after}",
            paths::unit_case_messages(&self.unit_id, case_id)
        );
        let messages: Messages =
            read_json(self.send(Method::GET, &path, Vec::new()).await?, MAX_PAGE_ANSWER).await?;
        Ok(messages.messages)
    }

    /// Posts a sealed reply in a case the unit holds; returns its position.
    pub async fn post_reply(&self, case_id: CaseId, envelope: &[u8]) -> Result<i64> {
        let path = paths::unit_case_messages(&self.unit_id, case_id);
        let body = serde_json::to_vec(&PostMessage {
            envelope: envelope.to_vec(),
        })?;
        let posted: Posted = read_json(self.send(Method::POST, &path, body).await?, MAX_SMALL_ANSWER).await?;
        Ok(posted.seq)
    }

    /// Hands a report and its case to another unit.
    pub async fn transfer(&self, report_id: ReportId, request: &TransferRequest) -> Result<()> {
        let path = paths::unit_transfer(&self.unit_id, report_id);
        self.send(Method::POST, &path, serde_json::to_vec(request)?)
            .await?;
        Ok(())
    }

    /// Publishes a signed alert; returns its id.
    pub async fn publish_alert(&self, alert: &Signed) -> Result<MessageId> {
        let path = paths::unit_alerts(&self.unit_id);
        let response = self.send(Method::POST, &path, serde_json::to_vec(alert)?).await?;
        let published: AlertPublished = read_json(response, MAX_SMALL_ANSWER).await?;
        Ok(published.alert_id)
    }

    /// Whether the server lets a desk upload re-sealed attachments after a transfer: its OpenAPI
    /// document names `upload_secret_hash` in the transfer request.
    pub async fn supports_attachment_transfer(&self) -> Result<bool> {
        let response = self
            .api
            .http()
            .get(self.api.url(&paths::openapi()))
            .send()
            .await
            .map_err(NetError::from)?;
        let doc: serde_json::Value = read_json(Api::check(response).await?, MAX_API_DOCUMENT).await?;
        Ok(doc
            .pointer("/components/schemas/TransferRequest/properties/upload_secret_hash")
            .is_some())
    }
}

/// The desk's live inbox: events as the server pushes them.
pub struct InboxStream {
    response: reqwest::Response,
    parser: SseParser,
    ready: std::collections::VecDeque<SseEvent>,
    last_event_id: Option<String>,
}

impl InboxStream {
    /// The next report or message notice; `None` when the server ended the stream (it is
    /// shutting down: reconnect). Unknown events are skipped.
    ///
    /// Cancel-safe: its one wait is for the next chunk of the body, and whatever arrived is
    /// buffered before it returns, so a call dropped mid-wait (under `tokio::time::timeout`, say)
    /// loses no event.
    pub async fn next(&mut self) -> Result<Option<InboxEvent>> {
        loop {
            while let Some(event) = self.ready.pop_front() {
                self.last_event_id.clone_from(&event.id);
                match event.event.as_str() {
                    EVENT_REPORT => {
                        let delivery: Delivery = serde_json::from_str(&event.data)?;
                        return Ok(Some(InboxEvent::Report(Box::new(delivery))));
                    }
                    EVENT_MESSAGE => {
                        let notice: MessageNotice = serde_json::from_str(&event.data)?;
                        return Ok(Some(InboxEvent::Message {
                            case_id: notice.case_id,
                            seq: notice.seq,
                        }));
                    }
                    _ => {}
                }
            }
            match self.response.chunk().await.map_err(NetError::from)? {
                Some(bytes) => self.ready.extend(self.parser.push(&bytes)?),
                None => return Ok(None),
            }
        }
    }

    /// The SSE "last event ID" as of the event [`InboxStream::next`] returned last: the `id:` the
    /// server gave it or, if it gave none, the one before (as the format says). The server
    /// names a report's event by the report id. `None` until an id came.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }
}

/// Publishes a signed directory (`PUT /v1/directory`), as the authority does; returns the
/// version the server now serves. The server checks it against its pinned authority key.
pub async fn publish_directory(api: &Api, signed: &crate::directory::SignedDirectory) -> Result<u64> {
    let response = api
        .http()
        .put(api.url(&paths::directory()))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(signed.to_json()?)
        .send()
        .await
        .map_err(NetError::from)?;
    let published: DirectoryPublished = read_json(Api::check(response).await?, MAX_SMALL_ANSWER).await?;
    Ok(published.version)
}
