//! Length hiding: a plaintext is framed with its length and padded with zeros to the next size
//! bucket, so that a ciphertext's length tells a short tip from a long one only coarsely.
//!
//! Layout: `I2OSP(len, 4) || message || zeros`, total length the smallest bucket that fits.
//! Buckets are powers of two from 1 KiB to `MAX_PADDED`.

use super::CryptoError;

/// The smallest bucket.
pub const MIN_BUCKET: usize = 1024;
/// The largest bucket; a framed message above this cannot be padded.
pub const MAX_PADDED: usize = 1024 * 1024;
const LEN_PREFIX: usize = 4;

/// The largest message that fits in the largest bucket.
pub const MAX_MESSAGE: usize = MAX_PADDED - LEN_PREFIX;

/// The padded size of a message of `len` bytes, or `None` if it is too large.
pub fn bucket_for(len: usize) -> Option<usize> {
    let framed = len.checked_add(LEN_PREFIX)?;
    let bucket = framed.max(MIN_BUCKET).checked_next_power_of_two()?;
    (bucket <= MAX_PADDED).then_some(bucket)
}

/// Frames and pads `message` to its bucket.
pub fn pad(message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let bucket = bucket_for(message.len()).ok_or(CryptoError::Malformed)?;
    let len = u32::try_from(message.len()).map_err(|_| CryptoError::Malformed)?;
    let mut out = Vec::with_capacity(bucket);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    out.resize(bucket, 0);
    Ok(out)
}

/// Removes the framing and padding. Refuses a size that is not a bucket, a length that does not
/// fit, and non-zero padding, so that no two padded strings carry the same message.
pub fn unpad(padded: &[u8]) -> Result<&[u8], CryptoError> {
    if padded.len() < MIN_BUCKET || padded.len() > MAX_PADDED || !padded.len().is_power_of_two() {
        return Err(CryptoError::Malformed);
    }
    let (prefix, rest) = padded.split_at(LEN_PREFIX);
    let len = u32::from_be_bytes(prefix.try_into().map_err(|_| CryptoError::Malformed)?) as usize;
    if len > rest.len() || bucket_for(len) != Some(padded.len()) {
        return Err(CryptoError::Malformed);
    }
    let (message, padding) = rest.split_at(len);
    if padding.iter().any(|&b| b != 0) {
        return Err(CryptoError::Malformed);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_buckets_are_powers_of_two_from_1k() {
        assert_eq!(bucket_for(0), Some(1024));
        assert_eq!(bucket_for(1020), Some(1024));
        assert_eq!(bucket_for(1021), Some(2048));
        assert_eq!(bucket_for(MAX_MESSAGE), Some(MAX_PADDED));
        assert_eq!(bucket_for(MAX_MESSAGE + 1), None);
    }

    #[test]
    fn test_pad_round_trip_and_refusals() {
        let padded = pad(b"hello").unwrap();
        assert_eq!(padded.len(), 1024);
        assert_eq!(unpad(&padded).unwrap(), b"hello");

        let mut dirty = padded.clone();
        dirty[1000] = 1;
        assert_eq!(unpad(&dirty), Err(CryptoError::Malformed));

        let mut long_len = padded.clone();
        long_len[..4].copy_from_slice(&2000u32.to_be_bytes());
        assert_eq!(unpad(&long_len), Err(CryptoError::Malformed));

        // A 5-byte message claimed in a 2 KiB bucket: not the smallest bucket, refused.
        let mut oversized = padded;
        oversized.resize(2048, 0);
        assert_eq!(unpad(&oversized), Err(CryptoError::Malformed));
        assert_eq!(unpad(&[0u8; 1000]), Err(CryptoError::Malformed));
    }
}
