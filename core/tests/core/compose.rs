//! Composing a report on the device: field errors, unit choice, blurring, metadata stripping.

use tipline_core::codename::Codename;
use tipline_core::compose::{Draft, DraftAttachment, DraftPlace, PrepareError};
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
    d.attachments.push(DraftAttachment {
        name: "IMG_1.jpg".into(),
        media_type: "image/jpeg".into(),
        bytes: jpeg.clone(),
    });
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
    assert!(prepared.attachments[0].len() < jpeg.len());
    assert!(!prepared.attachments[0].windows(4).any(|w| w == b"Exif"));
    assert_eq!(
        prepared.report.attachments[0].size,
        prepared.attachments[0].len() as u64
    );
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
