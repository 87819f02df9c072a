//! The stable error codes of the API (the `error` of an [`super::ErrorBody`]): what a client
//! matches on, never the human message.

/// 400: the JSON body does not parse into the expected shape.
pub const MALFORMED_JSON: &str = "malformed_json";
/// 400: the envelope does not frame (version, suite, kind, lengths).
pub const MALFORMED_ENVELOPE: &str = "malformed_envelope";
/// 400: the envelope is of another kind than the route takes.
pub const WRONG_KIND: &str = "wrong_kind";
/// 400: a follow-up is sealed to another unit than the one that holds the case.
pub const WRONG_UNIT: &str = "wrong_unit";
/// 400: declared attachments break a rule (order, count, size).
pub const BAD_ATTACHMENTS: &str = "bad_attachments";
/// 400: the case secret header is missing or not 32 bytes of base64url.
pub const BAD_CASE_SECRET: &str = "bad_case_secret";
/// 400: a path parameter is not what the route takes.
pub const INVALID_PATH: &str = "invalid_path";
/// 400: a query parameter is not what the route takes.
pub const INVALID_QUERY: &str = "invalid_query";
/// 400: a region code is not an ISO 3166 code.
pub const INVALID_REGION: &str = "invalid_region";
/// 400: a directory does not verify against the authority key, or breaks a rule.
pub const INVALID_DIRECTORY: &str = "invalid_directory";
/// 400: an alert does not verify against its unit's key, or breaks a rule.
pub const INVALID_ALERT: &str = "invalid_alert";
/// 400: a transfer names the unit that holds the report.
pub const SAME_UNIT: &str = "same_unit";
/// 400: the envelope does not carry what the request names (the report id, the unit).
pub const ENVELOPE_MISMATCH: &str = "envelope_mismatch";
/// 400: a signed document's signature does not verify against the key it names.
pub const BAD_SIGNATURE: &str = "bad_signature";
/// 400: the `Upload-Offset` header does not hold a byte offset.
pub const BAD_OFFSET: &str = "bad_offset";
/// 400: the request body could not be read.
pub const BAD_BODY: &str = "bad_body";
/// 401: a unit request's signature is missing or does not verify.
pub const UNAUTHORIZED: &str = "unauthorized";
/// 403: the anti-abuse stamp does not meet the announced difficulty.
pub const BAD_STAMP: &str = "bad_stamp";
/// 404: no such route.
pub const NOT_FOUND: &str = "not_found";
/// 404: no such unit in the published directory.
pub const UNKNOWN_UNIT: &str = "unknown_unit";
/// 404: no such report (for this unit).
pub const UNKNOWN_REPORT: &str = "unknown_report";
/// 404: no such attachment (for these credentials).
pub const UNKNOWN_ATTACHMENT: &str = "unknown_attachment";
/// 404: no such case (for these credentials).
pub const UNKNOWN_CASE: &str = "unknown_case";
/// 405: the route does not take that method.
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
/// 409: another envelope is stored under this report id.
pub const REPORT_ID_CONFLICT: &str = "report_id_conflict";
/// 409: the case id belongs to another case secret.
pub const CASE_CONFLICT: &str = "case_conflict";
/// 409: the message id is taken by another message.
pub const MESSAGE_ID_CONFLICT: &str = "message_id_conflict";
/// 409: an upload chunk does not start where the upload stands.
pub const OFFSET_MISMATCH: &str = "offset_mismatch";
/// 409: the attachment is not completely uploaded yet.
pub const INCOMPLETE: &str = "incomplete";
/// 409: a directory's version is not newer than the one published.
pub const STALE_VERSION: &str = "stale_version";
/// 413: the body or the chunk is too large.
pub const TOO_LARGE: &str = "too_large";
/// 400: the chunk would go past the attachment's declared size.
pub const TOO_LONG: &str = "too_long";
/// 415: the request's content type is not the one the route takes.
pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
/// 416: the requested byte range is not within the attachment.
pub const BAD_RANGE: &str = "bad_range";
/// 429: too many requests; `Retry-After` says when to come back.
pub const RATE_LIMITED: &str = "rate_limited";
/// 507: the server's storage budget is reached; the report or chunk was not stored. Retry later.
pub const STORAGE_FULL: &str = "storage_full";
/// 500: a server fault (details only in the server's log).
pub const INTERNAL: &str = "internal";
/// 503: no directory is published yet.
pub const NO_DIRECTORY: &str = "no_directory";
/// 503: the store cannot serve now.
pub const STORE_UNAVAILABLE: &str = "store_unavailable";
/// 503: the node lost its database (PostgreSQL down or unreachable); retry shortly, here or
/// at another node.
pub const STORAGE_UNAVAILABLE: &str = "storage_unavailable";
/// 503: the server cannot serve this now.
pub const UNAVAILABLE: &str = "unavailable";
/// 503: the server is at one of its capacity limits (connections, live streams, memory for
/// request bodies); `Retry-After` says when to try again.
pub const BUSY: &str = "busy";
/// 400: an encapsulated request (Oblivious HTTP) names a key the gateway does not have (never
/// had, or retired): fetch the key configurations again.
pub const UNKNOWN_KEY: &str = "unknown_key";
/// 400: an encapsulated request does not open (altered, truncated, or not for this gateway).
pub const BAD_ENCAPSULATION: &str = "bad_encapsulation";
/// 400: an encapsulated request was seen before (a replay).
pub const REPLAYED: &str = "replayed";
/// 400 (inside an encapsulated answer): the request's `Date` is missing or too far from the
/// gateway's clock; the answer's `Date` is the gateway's, to retry with.
pub const BAD_DATE: &str = "bad_date";
/// 404 (inside an encapsulated answer): this route is not served through the gateway (unit
/// routes, the gateway itself).
pub const NOT_OBLIVIOUS: &str = "not_oblivious";
