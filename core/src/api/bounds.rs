//! Bounds on what crosses the network that the server and its clients share: the server keeps
//! its answers within them, a client refuses an answer past them (it reads no more than the
//! bound, so a faulty or hostile server cannot exhaust a phone's memory).

use crate::envelope::MAX_ENVELOPE;

/// Most case messages or alerts one read returns.
pub const MAX_PAGE: u32 = 200;
/// Most reports one inbox request or one stream batch leases.
pub const MAX_INBOX_BATCH: u32 = 100;
/// Most report ids one batched acknowledgement carries (a stream batch's worth).
pub const MAX_ACK_BATCH: u32 = MAX_INBOX_BATCH;
/// Largest body of a batched acknowledgement: its ids in hex, quoted, with the JSON around them.
pub const MAX_ACK_BODY: usize = MAX_ACK_BATCH as usize * 48 + 64;
/// Envelope bytes after which a page of case messages or of inbox reports takes no more items.
/// The first item is always taken, however large, so a cursor always moves.
pub const PAGE_ENVELOPE_BYTES: usize = 4 * 1024 * 1024;
/// Largest signed alert, in bytes of JSON.
pub const MAX_ALERT_JSON: usize = 64 * 1024;

/// Room for one item's JSON besides its envelope (ids, times, attachment states).
const ITEM_JSON: usize = 4 * 1024;

/// Base64 length of `n` bytes (padded or not, at most this).
pub const fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// The largest sealed size an attachment may have (the largest attachment, sealed): what a
/// report may declare, and the most a desk reads when it downloads one.
pub fn max_sealed_attachment() -> u64 {
    crate::attachment::sealed_size(crate::report::MAX_ATTACHMENT_BYTES)
}

/// Largest answer that carries a page of envelopes (case messages, inbox reports): the page's
/// budget plus one largest envelope that may cross it, in base64, with each item's JSON.
pub const MAX_PAGE_ANSWER: usize =
    base64_len(PAGE_ENVELOPE_BYTES + MAX_ENVELOPE) + MAX_PAGE as usize * ITEM_JSON;
/// Largest answer that carries a page of alerts.
pub const MAX_ALERTS_ANSWER: usize = MAX_PAGE as usize * (MAX_ALERT_JSON + 16) + ITEM_JSON;
/// Largest answer to any other call: a receipt (its proof holds at most
/// [`crate::merkle::MAX_PROOF_LEN`] hashes), the server's configuration, an error, an
/// acknowledgement.
pub const MAX_SMALL_ANSWER: usize = 64 * 1024;
/// Largest OpenAPI document a desk reads to learn what the server supports.
pub const MAX_API_DOCUMENT: usize = 4 * 1024 * 1024;

// The bounds hold what the server may send: a page up to its budget plus one largest envelope
// in base64; every alert of a page at its largest; a receipt with the longest proof a client
// accepts, in hex, with room to spare.
const _: () = assert!(MAX_PAGE_ANSWER > (PAGE_ENVELOPE_BYTES + MAX_ENVELOPE) / 3 * 4);
const _: () = assert!(MAX_ALERTS_ANSWER > MAX_PAGE as usize * MAX_ALERT_JSON);
const _: () = assert!(MAX_SMALL_ANSWER > crate::merkle::MAX_PROOF_LEN * 70 + 4096);

/// What a page of envelopes has taken so far, against [`PAGE_ENVELOPE_BYTES`].
#[derive(Debug, Default, Clone, Copy)]
pub struct PageBudget {
    bytes: usize,
    items: usize,
}

impl PageBudget {
    /// An empty page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the page takes the next item, whose envelope is `size` bytes: the first always,
    /// each next one only if the envelopes stay within the budget. Counts it if taken.
    pub fn take(&mut self, size: usize) -> bool {
        let bytes = self.bytes.saturating_add(size);
        if self.items > 0 && bytes > PAGE_ENVELOPE_BYTES {
            return false;
        }
        self.bytes = bytes;
        self.items += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of `sizes`, in order, one page takes.
    fn page_len(sizes: impl IntoIterator<Item = usize>) -> usize {
        let mut page = PageBudget::new();
        sizes.into_iter().take_while(|size| page.take(*size)).count()
    }

    #[test]
    fn test_page_takes_the_first_item_always_and_the_next_only_if_they_fit() {
        assert_eq!(page_len([]), 0);
        // A first envelope larger than the whole budget still makes a page of one.
        assert_eq!(page_len([PAGE_ENVELOPE_BYTES + 1, 1]), 1);
        // Exactly the budget fits; one byte more does not.
        assert_eq!(page_len([PAGE_ENVELOPE_BYTES / 2, PAGE_ENVELOPE_BYTES / 2, 1]), 2);
        assert_eq!(
            page_len([PAGE_ENVELOPE_BYTES / 2, PAGE_ENVELOPE_BYTES / 2 + 1]),
            1
        );
        // Largest envelopes: three to a page.
        assert_eq!(page_len([MAX_ENVELOPE; 6]), 3);
        // Small ones: all of them.
        assert_eq!(page_len([1000; 200]), 200);
    }
}
