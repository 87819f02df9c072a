//! The one way a citizen's calls reach the intake: directly, or obliviously (RFC 9458) through
//! a relay, so that the intake never sees the device's address. Every call of [`super::http::Api`]
//! is a [`Call`] sent by [`Transport::send`] and read back as an [`Answer`]; the two paths give
//! the same answers, so nothing above this file knows which one was taken.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::Utc;

use super::http::{read_limited, NetError};
use crate::ohttp::{self, bhttp, KeyConfig};
use crate::{Error, Result};

/// A request to the intake, before it goes either way.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `GET`, `HEAD`, `POST`, `PATCH`.
    pub method: reqwest::Method,
    /// The path with its query, starting with `/`.
    pub path: String,
    /// Header fields, names in lower case.
    pub fields: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Longest answer body the protocol allows for this call.
    pub limit: usize,
}

impl Call {
    pub fn new(method: reqwest::Method, path: String, limit: usize) -> Self {
        Call {
            method,
            path,
            fields: Vec::new(),
            body: Vec::new(),
            limit,
        }
    }

    pub fn field(mut self, name: &str, value: impl Into<String>) -> Self {
        self.fields.push((name.to_owned(), value.into()));
        self
    }

    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = body;
        self.field("content-type", content_type)
    }
}

/// An answer, read whole (within the call's limit).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    pub fields: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of field `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where oblivious calls go: a relay, and the gateway key to encapsulate to. The key must come
/// from a source the relay cannot alter (the authority-signed directory), or a relay could
/// substitute its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObliviousConfig {
    /// The relay's URL (it forwards to the intake's gateway).
    pub relay_url: String,
    /// The gateway's key configurations (`application/ohttp-keys`); the first one this build
    /// can use is taken.
    pub key_configs: Vec<u8>,
}

impl ObliviousConfig {
    /// The first relay and the gateway keys a verified directory names, if it names both.
    pub fn from_intake(intake: &crate::directory::Intake) -> Option<ObliviousConfig> {
        let relay_url = intake.relays.first()?.clone();
        if intake.gateway_keys.is_empty() {
            return None;
        }
        // The directory lists configurations one by one; the transport reads them as the
        // `application/ohttp-keys` list (each preceded by its length).
        let mut key_configs = Vec::new();
        for config in &intake.gateway_keys {
            key_configs.extend_from_slice(&u16::try_from(config.len()).ok()?.to_be_bytes());
            key_configs.extend_from_slice(config);
        }
        Some(ObliviousConfig {
            relay_url,
            key_configs,
        })
    }
}

/// How calls travel.
#[derive(Clone)]
pub(crate) enum Transport {
    /// Straight to the intake.
    Direct,
    /// Encapsulated, through a relay.
    Oblivious(Arc<Oblivious>),
}

pub(crate) struct Oblivious {
    relay_url: String,
    key: KeyConfig,
    /// What the intake's clock is ahead of this device's, in seconds, as its last `bad_date`
    /// answer said.
    clock_offset: AtomicI64,
}

impl Oblivious {
    pub fn new(config: &ObliviousConfig) -> Result<Oblivious> {
        let relay_url = config.relay_url.trim().to_owned();
        if !(relay_url.starts_with("https://") || relay_url.starts_with("http://")) {
            return Err(Error::invalid("relay url", "must start with https://"));
        }
        let key = KeyConfig::decode_list(&config.key_configs)
            .map_err(|_| Error::invalid("gateway keys", "no key configuration this build can use"))?
            .remove(0);
        Ok(Oblivious {
            relay_url,
            key,
            clock_offset: AtomicI64::new(0),
        })
    }
}

/// Most times a call is sent again after the gateway corrected the clock.
const DATE_RETRIES: usize = 1;
/// Room for the answer's status and fields inside an encapsulated answer.
const ANSWER_HEAD: usize = 16 * 1024;

impl Transport {
    /// Sends `call` to the intake at `base` (`https://host[:port]`) with `http`.
    pub async fn send(&self, http: &reqwest::Client, base: &str, call: Call) -> Result<Answer, NetError> {
        match self {
            Transport::Direct => direct(http, base, call).await,
            Transport::Oblivious(oblivious) => {
                let mut tries = 0;
                loop {
                    let answer = oblivious.send(http, base, &call).await?;
                    if tries < DATE_RETRIES && answer.status == 400 && oblivious.corrected_clock(&answer) {
                        tries += 1;
                        continue;
                    }
                    return Ok(answer);
                }
            }
        }
    }

    /// Whether calls go through a relay.
    pub fn is_oblivious(&self) -> bool {
        matches!(self, Transport::Oblivious(_))
    }
}

async fn direct(http: &reqwest::Client, base: &str, call: Call) -> Result<Answer, NetError> {
    let mut request = http.request(call.method, format!("{base}{}", call.path));
    for (name, value) in &call.fields {
        request = request.header(name, value);
    }
    if !call.body.is_empty() {
        request = request.body(call.body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let fields = response
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = read_limited(response, call.limit).await?;
    Ok(Answer { status, fields, body })
}

impl Oblivious {
    /// RFC 9458 section 5: the call as binary HTTP, encapsulated, posted to the relay; the
    /// answer opened.
    async fn send(&self, http: &reqwest::Client, base: &str, call: &Call) -> Result<Answer, NetError> {
        let (scheme, authority) = base.split_once("://").unwrap_or(("https", base));
        let mut fields = call.fields.clone();
        let now = Utc::now() + chrono::Duration::seconds(self.clock_offset.load(Ordering::Relaxed));
        fields.push(("date".into(), now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()));
        let inner = bhttp::encode_request(&bhttp::Request {
            method: call.method.as_str(),
            scheme,
            authority,
            path: &call.path,
            fields: &fields,
            content: &call.body,
        });
        let (sealed, opener) = ohttp::encapsulate_request(&self.key, &inner)
            .map_err(|_| NetError::BadAnswer("cannot encapsulate"))?;
        drop(inner);
        let response = http
            .post(&self.relay_url)
            .header(reqwest::header::CONTENT_TYPE, ohttp::REQUEST_MEDIA_TYPE)
            .body(sealed)
            .send()
            .await?;
        let status = response.status().as_u16();
        let encapsulated = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == ohttp::RESPONSE_MEDIA_TYPE.as_bytes());
        if status != 200 || !encapsulated {
            // The relay's or the gateway's own refusal (a rate limit, an unknown key): sorted as
            // any direct answer is, from its status.
            let fields = response
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            let body = read_limited(response, crate::api::bounds::MAX_SMALL_ANSWER).await?;
            return Ok(Answer {
                status: if status == 200 { 502 } else { status },
                fields,
                body,
            });
        }
        let limit = call.limit + ANSWER_HEAD + ohttp::RESPONSE_OVERHEAD;
        let body = read_limited(response, limit).await?;
        let plain = opener
            .open(&body)
            .map_err(|_| NetError::BadAnswer("an encapsulated answer that does not open"))?;
        let answer = bhttp::decode_response(&plain, call.limit)
            .map_err(|_| NetError::BadAnswer("longer than the protocol allows, or not binary HTTP"))?;
        Ok(Answer {
            status: answer.status,
            fields: answer.fields,
            body: answer.content,
        })
    }

    /// If `answer` is the gateway's `bad_date`, takes its clock and says so.
    fn corrected_clock(&self, answer: &Answer) -> bool {
        let is_bad_date = serde_json::from_slice::<crate::api::ErrorBody>(&answer.body)
            .is_ok_and(|b| b.error == crate::api::code::BAD_DATE);
        let told = answer
            .field("date")
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok());
        match (is_bad_date, told) {
            (true, Some(told)) => {
                self.clock_offset
                    .store(told.timestamp() - Utc::now().timestamp(), Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }
}
