//! The reporter's side over HTTP, as a phone does it: read `/v1/config`, take the unit's key from
//! the authority-signed directory, seal a report, solve the stamp, submit, and check the signed
//! receipt against the server key the configuration announced.

use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use chrono::Utc;
use tipline_core::api::{self, paths, ServerConfig, SubmitReport};
use tipline_core::codename::Codename;
use tipline_core::directory::SignedDirectory;
use tipline_core::envelope::{seal_report, Envelope};
use tipline_core::keys::{EncryptionPublicKey, VerifyingKey};
use tipline_core::receipt::{Receipt, SignedReceipt};
use tipline_core::report::{Report, ReportId};

/// What `GET /v1/config` announces that a reporter needs.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Leading zero bits a stamp must have.
    pub stamp_difficulty: u8,
    /// The key that signs receipts.
    pub server_key: VerifyingKey,
    /// Seconds a delivery to a desk holds.
    pub lease_seconds: u64,
}

/// A sealed report ready to send: the exact request body, and what it was made of.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The report id (the idempotency key).
    pub report_id: ReportId,
    /// The envelope sent.
    pub envelope: Envelope,
    /// The report's free text (to check what a desk opens).
    pub text: String,
    /// The `POST /v1/reports` JSON body.
    pub body: Bytes,
}

/// The answer to an accepted submission, its receipt checked.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// 201 (stored now) or 200 (stored before).
    pub status: u16,
    /// The signed receipt as sent.
    pub receipt: SignedReceipt,
    /// What the receipt attests.
    pub verified: Receipt,
}

/// A complete, valid report for a fresh case, saying `text`.
pub fn sample_report(text: &str) -> anyhow::Result<(Report, tipline_core::codename::CaseKeys)> {
    let case = Codename::generate()?.derive()?;
    let report = Report {
        category: "radicalisation".to_owned(),
        text: text.to_owned(),
        when: None,
        place: None,
        people: vec![],
        contact: None,
        language: "da".to_owned(),
        attachments: vec![],
        case_id: case.case_id,
        reply_key: case.reply_key.public_key(),
    };
    Ok((report, case))
}

/// Seals a fresh report saying `text` to `unit_id` under a fresh report id and case, and solves
/// its stamp at `difficulty`. CPU-bound (a seal and `2^difficulty` hashes on average).
pub fn seal_submission(
    unit_id: &str,
    unit_key: &EncryptionPublicKey,
    difficulty: u8,
    text: &str,
) -> anyhow::Result<Submission> {
    let (report, case) = sample_report(text)?;
    let sealed = seal_report(&report, unit_id, unit_key)?;
    let bytes = sealed.envelope.to_bytes();
    let digest = tipline_core::crypto::sha256(&bytes);
    let stamp = tipline_core::stamp::solve(&digest, difficulty)
        .with_context(|| format!("no stamp at difficulty {difficulty}"))?;
    let body = serde_json::to_vec(&SubmitReport {
        envelope: bytes,
        case_id: case.case_id,
        case_secret_hash: case.case_secret_hash(),
        attachments: vec![],
        stamp,
    })?;
    Ok(Submission {
        report_id: sealed.report_id,
        envelope: sealed.envelope,
        text: text.to_owned(),
        body: Bytes::from(body),
    })
}

/// Seals `count` distinct submissions to `unit_id` (texts `"<label> <n>"`) at `difficulty`,
/// spread over every core. For load tests, which need their requests made before they start.
pub fn seal_many(
    unit_id: &str,
    unit_key: &EncryptionPublicKey,
    difficulty: u8,
    count: usize,
    label: &str,
) -> anyhow::Result<Vec<Submission>> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let per_thread = count.div_ceil(threads).max(1);
    let chunks: Vec<anyhow::Result<Vec<Submission>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|first| {
                let last = (first + per_thread).min(count);
                scope.spawn(move || {
                    (first..last)
                        .map(|n| seal_submission(unit_id, unit_key, difficulty, &format!("{label} {n}")))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a sealing thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(count);
    for chunk in chunks {
        all.extend(chunk?);
    }
    Ok(all)
}

/// Checks the body of a 200/201 answer to `submission`: the report id, and a receipt signed by
/// `server_key` that names this envelope.
pub fn check_answer(
    body: &[u8],
    server_key: &VerifyingKey,
    envelope: &Envelope,
) -> anyhow::Result<(SignedReceipt, Receipt)> {
    let answer: api::Submitted = serde_json::from_slice(body)
        .with_context(|| format!("not a submission answer: {}", String::from_utf8_lossy(body)))?;
    if answer.report_id.0 != envelope.message_id {
        bail!("the answer names report {} instead", answer.report_id);
    }
    let receipt: SignedReceipt = serde_json::from_str(answer.receipt.get()).context("receipt")?;
    let verified = receipt.verify(server_key, envelope).context("receipt")?.clone();
    Ok((receipt, verified))
}

/// A reporter's HTTP client for one server.
#[derive(Debug, Clone)]
pub struct Citizen {
    http: reqwest::Client,
    base: String,
    /// What the server announced.
    pub info: ServerInfo,
}

impl Citizen {
    /// Reads `<base>/v1/config`. Requests time out after 10 s.
    pub async fn connect(base: &str) -> anyhow::Result<Citizen> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let base = base.trim_end_matches('/');
        let config: ServerConfig = http
            .get(format!("{base}{}", paths::config()))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let server_key = config
            .receipt_key()
            .map_err(|_| anyhow::anyhow!("server_key is not 32 bytes of base64url"))?;
        Ok(Citizen {
            http,
            base: base.to_owned(),
            info: ServerInfo {
                stamp_difficulty: config.stamp_difficulty,
                server_key,
                lease_seconds: config.lease_seconds,
            },
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The encryption key of `unit_id` from `GET /v1/directory`, verified against `authority`.
    pub async fn unit_key(
        &self,
        authority: &VerifyingKey,
        unit_id: &str,
    ) -> anyhow::Result<EncryptionPublicKey> {
        let json = self
            .http
            .get(format!("{}{}", self.base, paths::directory()))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let verified = SignedDirectory::from_json(&json)?.verify(authority, Utc::now(), None)?;
        verified
            .encryption_key_for_unit(unit_id)
            .with_context(|| format!("the directory has no unit {unit_id}"))
    }

    /// Seals a report saying `text` to `unit_id` with a stamp at the announced difficulty.
    pub fn seal(
        &self,
        unit_id: &str,
        unit_key: &EncryptionPublicKey,
        text: &str,
    ) -> anyhow::Result<Submission> {
        seal_submission(unit_id, unit_key, self.info.stamp_difficulty, text)
    }

    /// Sends `submission`; Ok only for 201/200 with a receipt that verifies.
    pub async fn submit(&self, submission: &Submission) -> anyhow::Result<Accepted> {
        self.submit_body(submission.body.clone(), &submission.envelope)
            .await
    }

    /// Sends `body` (a submission of `envelope`); Ok only for 201/200 with a receipt that
    /// verifies.
    pub async fn submit_body(&self, body: Bytes, envelope: &Envelope) -> anyhow::Result<Accepted> {
        let response = self
            .http
            .post(format!("{}{}", self.base, paths::reports()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        if status != 200 && status != 201 {
            bail!("submission answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let (receipt, verified) = check_answer(&body, &self.info.server_key, envelope)?;
        Ok(Accepted {
            status,
            receipt,
            verified,
        })
    }
}
