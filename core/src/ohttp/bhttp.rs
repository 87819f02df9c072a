//! Binary HTTP (RFC 9292), known-length form: the request a client encapsulates and the
//! response it gets back. Only what the client needs: it writes requests and reads responses.
#![deny(clippy::unwrap_used)]

use crate::crypto::CryptoError;
use crate::encoding::Reader;

/// Section 3.3, framing indicator of a known-length request.
const KNOWN_LENGTH_REQUEST: u64 = 0;
/// Section 3.3, framing indicator of a known-length response.
const KNOWN_LENGTH_RESPONSE: u64 = 1;
/// Most header fields read from one response (the server sends a handful).
const MAX_FIELDS: usize = 64;
/// Most informational (1xx) responses skipped before the final one.
const MAX_INFORMATIONAL: usize = 8;

/// An HTTP request, as the client encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// `https` (or `http` on loopback).
    pub scheme: &'a str,
    /// The target's host (and port).
    pub authority: &'a str,
    /// The path with its query, starting with `/`.
    pub path: &'a str,
    /// Header fields, names in lower case.
    pub fields: &'a [(String, String)],
    /// The content.
    pub content: &'a [u8],
}

/// An HTTP response, as the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The final status code.
    pub status: u16,
    /// Header fields, names as sent (lower case in binary HTTP).
    pub fields: Vec<(String, String)>,
    /// The content.
    pub content: Vec<u8>,
}

impl Response {
    /// The first value of header field `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Section 3.1: a request in known-length form, without trailers or padding.
pub fn encode_request(request: &Request<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + request.content.len());
    put_varint(&mut out, KNOWN_LENGTH_REQUEST);
    // Request Control Data: method, scheme, authority, path, each a length-prefixed string.
    for part in [request.method, request.scheme, request.authority, request.path] {
        put_bytes(&mut out, part.as_bytes());
    }
    put_fields(&mut out, request.fields);
    put_bytes(&mut out, request.content);
    // An empty trailer section.
    put_varint(&mut out, 0);
    out
}

/// Section 3.1: a known-length response. Informational responses are skipped; a message that
/// ends after the final status or its fields has empty content (section 3.8). Content longer
/// than `max_content` is refused.
pub fn decode_response(bytes: &[u8], max_content: usize) -> Result<Response, CryptoError> {
    let mut r = Reader(bytes);
    if r.varint()? != KNOWN_LENGTH_RESPONSE {
        return Err(CryptoError::Malformed);
    }
    let mut informational = 0;
    let (status, fields) = loop {
        let status = r.varint()?;
        let fields = if r.0.is_empty() { Vec::new() } else { r.fields()? };
        match status {
            100..=199 => {
                informational += 1;
                if informational > MAX_INFORMATIONAL {
                    return Err(CryptoError::Malformed);
                }
            }
            200..=599 => break (status as u16, fields),
            _ => return Err(CryptoError::Malformed),
        }
    };
    let content = if r.0.is_empty() {
        Vec::new()
    } else {
        let len = r.len()?;
        if len > max_content {
            return Err(CryptoError::Malformed);
        }
        r.take(len)?.to_vec()
    };
    if !r.0.is_empty() {
        // Trailers, ignored but bounded like the header, then only padding (zeros) may follow.
        r.fields()?;
    }
    if r.0.iter().any(|b| *b != 0) {
        return Err(CryptoError::Malformed);
    }
    Ok(Response {
        status,
        fields,
        content,
    })
}

/// RFC 9000 section 16: a variable-length integer.
fn put_varint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0x3f => out.push(v as u8),
        0x40..=0x3fff => out.extend_from_slice(&(v as u16 | 0x4000).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Section 3.6, a known-length field section: its length, then each name and value.
fn put_fields(out: &mut Vec<u8>, fields: &[(String, String)]) {
    let mut section = Vec::new();
    for (name, value) in fields {
        put_bytes(&mut section, name.to_ascii_lowercase().as_bytes());
        put_bytes(&mut section, value.as_bytes());
    }
    put_bytes(out, &section);
}

/// What binary HTTP reads beyond bytes: QUIC variable-length integers, lengths and field
/// sections.
trait BinaryHttp {
    fn varint(&mut self) -> Result<u64, CryptoError>;
    fn len(&mut self) -> Result<usize, CryptoError>;
    fn fields(&mut self) -> Result<Vec<(String, String)>, CryptoError>;
}

impl BinaryHttp for Reader<'_> {
    fn varint(&mut self) -> Result<u64, CryptoError> {
        let first = *self.0.first().ok_or(CryptoError::Malformed)?;
        let len = 1usize << (first >> 6);
        let bytes = self.take(len)?;
        let mut v = u64::from(first & 0x3f);
        for b in &bytes[1..] {
            v = (v << 8) | u64::from(*b);
        }
        Ok(v)
    }

    fn len(&mut self) -> Result<usize, CryptoError> {
        usize::try_from(self.varint()?).map_err(|_| CryptoError::Malformed)
    }

    fn fields(&mut self) -> Result<Vec<(String, String)>, CryptoError> {
        let len = self.len()?;
        let mut section = Reader(self.take(len)?);
        let mut fields = Vec::new();
        while !section.0.is_empty() {
            if fields.len() == MAX_FIELDS {
                return Err(CryptoError::Malformed);
            }
            let name_len = section.len()?;
            let name = section.take(name_len)?;
            let value_len = section.len()?;
            let value = section.take(value_len)?;
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| CryptoError::Malformed);
            fields.push((text(name)?, text(value)?));
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rfc9458_appendix_a_request_and_response() {
        // The RFC's minimal GET request and minimal 200 response
        let request = Request {
            method: "GET",
            scheme: "https",
            authority: "example.com",
            path: "/",
            fields: &[],
            content: b"",
        };
        // RFC 9458 truncates the empty field, content and trailer sections; this encoder writes
        // them as zero lengths, which section 3.8 makes equivalent.
        assert_eq!(
            hex::encode(encode_request(&request)),
            "00034745540568747470730b6578616d706c652e636f6d012f000000"
        );
        let response = decode_response(&hex::decode("0140c8").unwrap(), 10).unwrap();
        assert_eq!(response.status, 200);
        assert!(response.fields.is_empty() && response.content.is_empty());
    }

    #[test]
    fn test_rfc9292_known_length_response_with_informational_and_padding() {
        // A 102 Processing with a field, then a 200 with a field and content, an empty trailer
        // section and padding
        let mut bytes = vec![0x01, 0x40, 0x66];
        put_fields(&mut bytes, &[("running".into(), "\"sleep 15\"".into())]);
        put_varint(&mut bytes, 200);
        put_fields(&mut bytes, &[("content-type".into(), "application/json".into())]);
        put_bytes(&mut bytes, b"{}");
        put_varint(&mut bytes, 0);
        bytes.extend_from_slice(&[0, 0, 0]);
        let response = decode_response(&bytes, 2).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.field("Content-Type"), Some("application/json"));
        assert_eq!(response.content, b"{}");
        // Content over the limit, bytes after the padding, a request's framing: refused
        assert!(decode_response(&bytes, 1).is_err());
        let mut tail = bytes.clone();
        tail.push(1);
        assert!(decode_response(&tail, 2).is_err());
        let mut request = bytes.clone();
        request[0] = 0;
        assert!(decode_response(&request, 2).is_err());
        assert!(decode_response(&bytes[..bytes.len() - 8], 2).is_err());
    }

    #[test]
    fn test_varints_of_each_length() {
        for v in [0u64, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, (1 << 62) - 1] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(Reader(&out).varint().unwrap(), v);
        }
    }
}
