//! Composing a report on the device: field errors, unit choice, blurring, metadata stripping.

use std::path::Path;
use tipline_core::codename::Codename;

use tipline_core::attachment::CHUNK_SIZE;
use tipline_core::compose::{
    CleanAttachment, Draft, DraftAttachment, DraftPlace, PrepareError, MAX_STRIPPED_IMAGE_BYTES,
};
use tipline_core::l10n::{Language, Localizer};
use tipline_core::report::{Place, Precision, When};

use crate::support::sample_directory;

fn draft() -> Draft {
    Draft {
        region: Some("DK-84".into()),
        category: "hate-crime".into(),
        text: "Hakekors malet på moskéens dør i nat.".into(),
        language: "da".into(),
        ..Draft::default()
    }
}

#[test]
fn test_empty_draft_lists_each_field_to_fix() {
    // Given an empty draft
    let dir = sample_directory();
    let errors = Draft::default().check(&dir);
    // Then each missing field is named with a message id the screen can localise
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(
        fields.contains(&"category") && fields.contains(&"text") && fields.contains(&"unit"),
        "{fields:?}"
    );
    let text = errors.iter().find(|e| e.field == "text").unwrap();
    assert_eq!(
        text.message(&Localizer::new(Language::Spanish)),
        "Rellena este campo"
    );
}

#[test]
fn test_limits_unknown_category_and_reversed_range_are_reported() {
    let dir = sample_directory();
    let mut d = draft();
    d.category = "no-such-category".into();
    d.text = "x".repeat(20_001);
    d.when = Some(When::Between {
        from: "2026-11-02T00:00:00Z".parse().unwrap(),
        to: "2026-11-01T00:00:00Z".parse().unwrap(),
    });
    let errors = d.check(&dir);
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    assert!(codes.contains(&("category", "category-unknown")), "{codes:?}");
    assert!(codes.contains(&("text", "field-too-long")), "{codes:?}");
    assert!(codes.contains(&("when", "time-range-reversed")), "{codes:?}");
    let too_long = errors.iter().find(|e| e.code == "field-too-long").unwrap();
    assert_eq!(
        too_long.message(&Localizer::new(Language::English)),
        "Too long: at most 20000 characters"
    );
}

#[test]
fn test_prepare_picks_the_regional_unit_blurs_and_strips() {
    // Given a draft from DK-84 with the phone's exact position and a JPEG with EXIF
    let dir = sample_directory();
    let mut d = draft();
    d.place = Some(DraftPlace::Position {
        latitude: 55.6537,
        longitude: 12.2995,
        precision: Precision::Town,
    });
    let jpeg = {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 80)
            .encode(&[128u8; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let mut j = img_parts::jpeg::Jpeg::from_bytes(out.into()).unwrap();
        img_parts::ImageEXIF::set_exif(
            &mut j,
            Some(img_parts::Bytes::from_static(b"MM\0*\0\0\0\x08\0\0")),
        );
        j.encoder().bytes().to_vec()
    };
    let files = tempfile::tempdir().unwrap();
    d.attachments
        .push(attachment(files.path(), "IMG_1.jpg", "image/jpeg", &jpeg));
    let case = Codename::generate().unwrap().derive().unwrap();
    // When it is prepared
    let prepared = d
        .prepare(&dir, case.case_id, case.reply_key.public_key())
        .unwrap();
    // Then it goes to the Vestegn Infohus, the position is a cell centre, and the photo lost its EXIF
    assert_eq!(prepared.unit_id, "dk-infohus-vestegnen");
    let Some(Place::Blurred {
        latitude, precision, ..
    }) = prepared.report.place
    else {
        panic!("not blurred")
    };
    assert_ne!(latitude, 55.6537);
    assert_eq!(precision, Precision::Town);
    assert!(prepared.stripped[0]);
    let CleanAttachment::Memory(cleaned) = &prepared.attachments[0] else {
        panic!("a photo is cleaned in memory")
    };
    assert!(cleaned.len() < jpeg.len());
    assert!(!cleaned.windows(4).any(|w| w == b"Exif"));
    assert_eq!(prepared.report.attachments[0].size, cleaned.len() as u64);
}

fn attachment(dir: &Path, name: &str, media_type: &str, bytes: &[u8]) -> DraftAttachment {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    DraftAttachment {
        name: name.into(),
        media_type: media_type.into(),
        path,
    }
}

#[test]
fn test_a_video_is_described_from_its_file_and_left_there() {
    // Given a draft with a video of three and a half chunks
    let dir = sample_directory();
    let files = tempfile::tempdir().unwrap();
    let video: Vec<u8> = (0..(3 * CHUNK_SIZE + CHUNK_SIZE / 2))
        .map(|i| (i % 251) as u8)
        .collect();
    let mut d = draft();
    d.attachments
        .push(attachment(files.path(), "clip.mp4", "video/mp4", &video));
    let case = Codename::generate().unwrap().derive().unwrap();
    // When it is prepared
    let prepared = d
        .prepare(&dir, case.case_id, case.reply_key.public_key())
        .unwrap();
    // Then the video is read from its file as it is, described by its size and digest
    assert!(!prepared.stripped[0]);
    assert!(matches!(&prepared.attachments[0], CleanAttachment::File(p) if *p == d.attachments[0].path));
    let info = &prepared.report.attachments[0];
    assert_eq!(info.size, video.len() as u64);
    assert_eq!(info.sha256, tipline_core::crypto::sha256(&video));
    assert_eq!(info.name, "clip.mp4");
}

#[test]
fn test_missing_files_and_photos_too_large_to_strip_are_field_errors() {
    // Given a draft naming a file that is not there and a "photo" over the stripping limit
    let dir = sample_directory();
    let files = tempfile::tempdir().unwrap();
    let mut d = draft();
    d.attachments.push(DraftAttachment {
        name: "gone.mp4".into(),
        media_type: "video/mp4".into(),
        path: files.path().join("gone.mp4"),
    });
    let big = files.path().join("big.jpg");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(MAX_STRIPPED_IMAGE_BYTES + 1)
        .unwrap();
    d.attachments.push(DraftAttachment {
        name: "big.jpg".into(),
        media_type: "image/jpeg".into(),
        path: big,
    });
    // When it is checked, then each gets its own problem, the photo with the limit in MiB
    let errors = d.check(&dir);
    let problem = |field: &str| errors.iter().find(|e| e.field == field).cloned();
    assert_eq!(problem("attachments[0]").unwrap().code, "field-invalid");
    let big = problem("attachments[1]").unwrap();
    assert_eq!(big.code, "attachment-too-large");
    assert_eq!(big.max, Some(MAX_STRIPPED_IMAGE_BYTES / (1024 * 1024)));
}

#[test]
fn test_prepare_refuses_with_field_errors_and_a_chosen_unit_wins() {
    let dir = sample_directory();
    let case = Codename::generate().unwrap().derive().unwrap();
    let mut d = draft();
    d.text.clear();
    let Err(PrepareError::Fields(errors)) = d.prepare(&dir, case.case_id, case.reply_key.public_key()) else {
        panic!("expected field errors")
    };
    assert_eq!(errors[0].field, "text");
    let mut d = draft();
    d.unit_id = Some("dk-national-hotline".into());
    let prepared = d
        .prepare(&dir, case.case_id, case.reply_key.public_key())
        .unwrap();
    assert_eq!(prepared.unit_id, "dk-national-hotline");
}
