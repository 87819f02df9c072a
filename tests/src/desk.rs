//! A unit's desk over HTTP: every request signed with the unit's Ed25519 key
//! (`tipline_core::request_auth`), the live inbox stream, the pull inbox, acknowledgements, and
//! opening what arrives with the unit's X25519 key.

use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use tipline_core::encoding::unb64;
use tipline_core::envelope::{open_report, Envelope, OpenedReport};
use tipline_core::keys::{SigningKey, UnitKeyFile};
use tipline_core::report::{CaseId, ReportId};
use tipline_core::request_auth::{sign_request, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_UNIT};

use crate::sse::{EventStream, SseEvent};

/// A report delivered to a desk under a lease (the fields a desk needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Delivered {
    /// The report id.
    pub report_id: ReportId,
    /// The envelope, base64url.
    pub envelope: String,
    /// The case it opens.
    pub case_id: CaseId,
    /// How many times it has been delivered, this one included.
    pub delivery_count: u32,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// Unacknowledged by then, it comes again.
    pub lease_until: DateTime<Utc>,
}

#[derive(Deserialize)]
struct InboxBody {
    reports: Vec<Delivered>,
}

/// A desk of one unit against one server.
pub struct Desk {
    http: reqwest::Client,
    base: String,
    keys: UnitKeyFile,
    signing: SigningKey,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("base", &self.base)
            .field("unit", &self.keys.unit_id)
            .finish_non_exhaustive()
    }
}

impl Desk {
    /// A desk for the unit of `keys` against `base`.
    pub fn new(base: &str, keys: UnitKeyFile) -> anyhow::Result<Desk> {
        let signing = keys
            .signing_key()
            .map_err(|e| anyhow::anyhow!("unit signing key: {e}"))?;
        Ok(Desk {
            http: reqwest::Client::builder().build()?,
            base: base.trim_end_matches('/').to_owned(),
            keys,
            signing,
        })
    }

    /// The unit's id.
    pub fn unit_id(&self) -> &str {
        &self.keys.unit_id
    }

    /// A request signed now; `path_and_query` starts with `/v1/units/<unit>/`.
    fn signed(&self, method: Method, path_and_query: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let timestamp = Utc::now().timestamp();
        let signature = sign_request(&self.signing, method.as_str(), path_and_query, timestamp, &body);
        self.http
            .request(method, format!("{}{path_and_query}", self.base))
            .header(HEADER_UNIT, self.unit_id())
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body)
    }

    /// Leases up to `limit` pending reports (`GET .../inbox?limit=`).
    pub async fn pull(&self, limit: u32) -> anyhow::Result<Vec<Delivered>> {
        let path = format!("/v1/units/{}/inbox?limit={limit}", self.unit_id());
        let response = self
            .signed(Method::GET, &path, Vec::new())
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("inbox answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let inbox: InboxBody = serde_json::from_slice(&body).context("inbox body")?;
        Ok(inbox.reports)
    }

    /// Acknowledges `report_id` (expects 204).
    pub async fn ack(&self, report_id: ReportId) -> anyhow::Result<()> {
        let path = format!("/v1/units/{}/reports/{report_id}/ack", self.unit_id());
        let response = self
            .signed(Method::POST, &path, Vec::new())
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let status = response.status();
        if status != reqwest::StatusCode::NO_CONTENT {
            let body = response.bytes().await.unwrap_or_default();
            bail!("ack answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }

    /// Opens the live inbox stream; returns once the server answered 200 (from then on, every
    /// report committed reaches it).
    pub async fn stream(&self) -> anyhow::Result<InboxStream> {
        let path = format!("/v1/units/{}/inbox/stream", self.unit_id());
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            self.signed(Method::GET, &path, Vec::new())
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .send(),
        )
        .await
        .context("the stream did not answer within 10 s")??;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            bail!("stream answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(InboxStream {
            events: EventStream::new(response),
        })
    }

    /// Opens a delivered report with the unit's key.
    pub fn open(&self, delivered: &Delivered) -> anyhow::Result<OpenedReport> {
        let bytes = unb64(&delivered.envelope).map_err(|_| anyhow::anyhow!("envelope is not base64url"))?;
        let envelope = Envelope::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("envelope: {e}"))?;
        Ok(open_report(
            &envelope,
            self.unit_id(),
            &self.keys.encryption_key(),
        )?)
    }
}

/// A desk's live inbox stream.
#[derive(Debug)]
pub struct InboxStream {
    events: EventStream,
}

impl InboxStream {
    /// The next event of any kind within `timeout`, or `None`.
    pub async fn next_event(&mut self, timeout: Duration) -> anyhow::Result<Option<SseEvent>> {
        self.events.next_within(timeout).await
    }

    /// The next `report` event within `timeout` (other events are skipped), or `None`.
    pub async fn next_report(&mut self, timeout: Duration) -> anyhow::Result<Option<Delivered>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = self.events.next_within(left).await? else {
                return Ok(None);
            };
            if event.event != "report" {
                continue;
            }
            let delivered: Delivered = serde_json::from_str(&event.data)
                .with_context(|| format!("report event data: {}", event.data))?;
            if event.id.as_deref() != Some(delivered.report_id.to_string().as_str()) {
                bail!(
                    "event id {:?} is not the report id {}",
                    event.id,
                    delivered.report_id
                );
            }
            return Ok(Some(delivered));
        }
    }
}
