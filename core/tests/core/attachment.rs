//! Attachments: chunked encryption under exporter keys, and every way a stream can be cut,
//! reordered or swapped.

use proptest::prelude::*;
use tipline_core::attachment::{self, AttachmentKey, CHUNK_SIZE, SEALED_CHUNK_SIZE};
use tipline_core::envelope::{open_report, seal_report};
use tipline_core::keys::EncryptionSecretKey;
use tipline_core::report::AttachmentInfo;

use crate::support::report;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Seals a report with `files` and returns the unit's key for index 0..n, the sealed streams and
/// their descriptions, after opening the report at the desk.
fn sealed(files: &[Vec<u8>]) -> (Vec<AttachmentKey>, Vec<Vec<u8>>, Vec<AttachmentInfo>) {
    let unit = EncryptionSecretKey::generate().unwrap();
    let mut report = report("see attached");
    for (i, file) in files.iter().enumerate() {
        report
            .attachments
            .push(attachment::describe(i as u16, "photo.jpg", "image/jpeg", &mut &file[..]).unwrap());
    }
    let sealed = seal_report(&report, "unit", &unit.public_key()).unwrap();
    let streams = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let key = AttachmentKey::derive(&sealed.context, i as u16).unwrap();
            let mut out = Vec::new();
            let n = attachment::encrypt(&key, &mut &file[..], &mut out).unwrap();
            assert_eq!(n, file.len() as u64);
            assert_eq!(out.len() as u64, attachment::sealed_size(n));
            out
        })
        .collect();
    let opened = open_report(&sealed.envelope, "unit", &unit).unwrap();
    let keys = (0..files.len())
        .map(|i| AttachmentKey::derive(&opened.context, i as u16).unwrap())
        .collect();
    (keys, streams, opened.report.attachments)
}

fn decrypt(key: &AttachmentKey, info: &AttachmentInfo, stream: &[u8]) -> tipline_core::Result<Vec<u8>> {
    let mut out = Vec::new();
    attachment::decrypt(key, info, &mut &stream[..], &mut out).map(|_| out)
}

#[test]
fn test_attachments_round_trip_at_chunk_boundaries() {
    // Given files of sizes around the chunk boundaries
    let sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE];
    let files: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| data(n, i as u8)).collect();
    // When they are sealed with a report and opened at the desk
    let (keys, streams, infos) = sealed(&files);
    // Then each decrypts to the original and matches its description
    for i in 0..files.len() {
        assert_eq!(
            decrypt(&keys[i], &infos[i], &streams[i]).unwrap(),
            files[i],
            "size {}",
            sizes[i]
        );
    }
}

#[test]
fn test_truncation_is_detected() {
    let file = data(3 * CHUNK_SIZE, 7);
    let (keys, streams, infos) = sealed(&[file]);
    let stream = &streams[0];
    // A whole chunk dropped from the end, a cut inside the last chunk, a cut of one byte, nothing.
    for cut in [2 * SEALED_CHUNK_SIZE, stream.len() - 100, stream.len() - 1, 0] {
        assert!(
            decrypt(&keys[0], &infos[0], &stream[..cut]).is_err(),
            "cut at {cut} accepted"
        );
    }
}

#[test]
fn test_truncation_at_a_chunk_boundary_of_an_exact_multiple_is_detected() {
    // Given a file of exactly two chunks, the first chunk alone looks complete in size
    let file = data(2 * CHUNK_SIZE, 3);
    let (keys, streams, infos) = sealed(&[file]);
    let mut info = infos[0].clone();
    info.size = CHUNK_SIZE as u64;
    // Then it still fails: the first chunk was not sealed as the last one
    assert!(decrypt(&keys[0], &info, &streams[0][..SEALED_CHUNK_SIZE]).is_err());
}

#[test]
fn test_reordered_chunks_are_detected() {
    let file = data(3 * CHUNK_SIZE + 10, 1);
    let (keys, streams, infos) = sealed(&[file]);
    let s = &streams[0];
    let mut swapped = Vec::new();
    swapped.extend_from_slice(&s[SEALED_CHUNK_SIZE..2 * SEALED_CHUNK_SIZE]);
    swapped.extend_from_slice(&s[..SEALED_CHUNK_SIZE]);
    swapped.extend_from_slice(&s[2 * SEALED_CHUNK_SIZE..]);
    assert!(decrypt(&keys[0], &infos[0], &swapped).is_err());
}

#[test]
fn test_chunks_swapped_between_attachments_are_detected() {
    // Given two attachments of one report with the same size
    let (keys, streams, infos) = sealed(&[data(2 * CHUNK_SIZE, 1), data(2 * CHUNK_SIZE, 2)]);
    // When the first chunk of attachment 0 is replaced by that of attachment 1
    let mut mixed = streams[1][..SEALED_CHUNK_SIZE].to_vec();
    mixed.extend_from_slice(&streams[0][SEALED_CHUNK_SIZE..]);
    // Then attachment 0 does not decrypt, nor does a whole stream under the other's key
    assert!(decrypt(&keys[0], &infos[0], &mixed).is_err());
    assert!(decrypt(&keys[0], &infos[0], &streams[1]).is_err());
}

#[test]
fn test_chunks_swapped_between_reports_are_detected() {
    let file = data(CHUNK_SIZE + 5, 9);
    let (keys_a, streams_a, infos_a) = sealed(std::slice::from_ref(&file));
    let (_, streams_b, _) = sealed(&[file]);
    let mut mixed = streams_b[0][..SEALED_CHUNK_SIZE].to_vec();
    mixed.extend_from_slice(&streams_a[0][SEALED_CHUNK_SIZE..]);
    assert!(decrypt(&keys_a[0], &infos_a[0], &mixed).is_err());
    assert!(decrypt(&keys_a[0], &infos_a[0], &streams_b[0]).is_err());
}

#[test]
fn test_a_description_that_does_not_match_is_refused() {
    let (keys, streams, infos) = sealed(&[data(1000, 4)]);
    let mut wrong_hash = infos[0].clone();
    wrong_hash.sha256[0] ^= 1;
    let err = decrypt(&keys[0], &wrong_hash, &streams[0]).err().unwrap();
    assert!(err.to_string().contains("SHA-256"), "{err}");
    let mut wrong_size = infos[0].clone();
    wrong_size.size = 999;
    assert!(decrypt(&keys[0], &wrong_size, &streams[0]).is_err());
}

#[test]
fn test_describe_keeps_only_the_file_name() {
    let info =
        attachment::describe(0, "/home/ana/DCIM/IMG_0001.jpg", "image/jpeg", &mut &b"abc"[..]).unwrap();
    assert_eq!(info.name, "IMG_0001.jpg");
    assert_eq!(info.size, 3);
    assert_eq!(
        hex::encode(info.sha256),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn test_any_size_round_trips_and_any_flip_fails(len in 0usize..(3 * CHUNK_SIZE), flip in any::<prop::sample::Index>()) {
        let file = data(len, 5);
        let (keys, streams, infos) = sealed(std::slice::from_ref(&file));
        prop_assert_eq!(decrypt(&keys[0], &infos[0], &streams[0]).unwrap(), file);
        let mut altered = streams[0].clone();
        let at = flip.index(altered.len());
        altered[at] ^= 0x20;
        prop_assert!(decrypt(&keys[0], &infos[0], &altered).is_err());
    }
}

#[test]
fn test_an_empty_last_chunk_after_full_chunks_is_refused() {
    // Given a file of exactly one chunk, re-encoded as a full chunk plus an empty last chunk
    let file = data(CHUNK_SIZE, 6);
    let (keys, _, infos) = sealed(std::slice::from_ref(&file));
    let mut full = file.clone();
    keys[0].seal_chunk(0, false, &mut full).unwrap();
    let mut empty = Vec::new();
    keys[0].seal_chunk(1, true, &mut empty).unwrap();
    full.extend_from_slice(&empty);
    // Then the desk refuses it: only one encoding of an attachment is valid
    assert!(decrypt(&keys[0], &infos[0], &full).is_err());
}
