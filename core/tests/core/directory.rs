//! The signed directory: signing, every reason a device refuses one, the format's rules, region
//! lookups, and the sample directory shipped with the crate.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use tipline_core::directory::{
    gateway_key_id, sample_source, DirectoryBody, DirectorySource, Intake, OpeningRule, SignedDirectory,
    TimeOfDay, VerifiedDirectory, Weekday, MAX_SIGNED_JSON_LEN, MAX_UNITS,
};
use tipline_core::keys::{EncryptionSecretKey, SigningKey};
use tipline_core::signed::{DocumentKind, Signed};
use tipline_core::{Error, Result};

/// When the test directories are signed.
fn t0() -> DateTime<Utc> {
    "2025-03-01T12:00:00Z".parse().unwrap()
}

const VALIDITY_DAYS: i64 = 30;

/// The sample source with fresh keys for every unit.
fn keyed_source() -> DirectorySource {
    let mut source = sample_source().unwrap();
    let ids: Vec<String> = source.units.iter().map(|unit| unit.id.clone()).collect();
    for id in ids {
        let encryption = EncryptionSecretKey::generate().unwrap().public_key();
        let signing = SigningKey::generate().unwrap().verifying_key();
        source.set_unit_keys(&id, encryption, signing).unwrap();
    }
    source
}

/// A valid body: the sample with keys, version 7, issued at [`t0`], valid for 30 days.
fn body() -> DirectoryBody {
    keyed_source()
        .into_body(7, t0(), Duration::days(VALIDITY_DAYS))
        .unwrap()
}

fn authority() -> SigningKey {
    SigningKey::generate().unwrap()
}

/// `body` signed by a fresh authority and verified at [`t0`].
fn verified(body: DirectoryBody) -> VerifiedDirectory {
    let authority = authority();
    let signed = body.sign(&authority).unwrap();
    signed.verify(&authority.verifying_key(), t0(), None).unwrap()
}

/// The reason of a directory refusal; panics on anything else.
fn refusal(result: Result<VerifiedDirectory>) -> String {
    match result {
        Err(Error::Refused {
            what: "directory",
            reason,
        }) => reason,
        other => panic!("expected a directory refusal, got {other:?}"),
    }
}

/// The field and reason of a validation error; panics on anything else.
fn invalid<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
    match result {
        Err(Error::Invalid { field, reason }) => (field, reason),
        other => panic!("expected an invalid-field error, got {other:?}"),
    }
}

/// `signed` with its payload or signature changed by `edit`.
fn tampered(signed: &SignedDirectory, edit: impl FnOnce(&mut Signed)) -> SignedDirectory {
    let mut inner = signed.signed().clone();
    edit(&mut inner);
    SignedDirectory::from_signed(inner)
}

#[test]
fn test_sign_and_verify_round_trip() {
    // Given a body signed by the authority and sent as JSON
    let authority = authority();
    let body = body();
    let json = body.sign(&authority).unwrap().to_json().unwrap();
    // When a device parses and verifies it an hour later
    let verified = SignedDirectory::from_json(json.as_bytes())
        .unwrap()
        .verify(&authority.verifying_key(), t0() + Duration::hours(1), None)
        .unwrap();
    // Then it reads the same body, and its signed form is what was sent
    assert_eq!(verified.body(), &body);
    assert_eq!(verified.version(), 7);
    assert_eq!(verified.expires_at(), t0() + Duration::days(VALIDITY_DAYS));
    assert_eq!(verified.signed().to_json().unwrap(), json);
}

#[test]
fn test_signed_directory_json_has_payload_key_id_and_signature() {
    // Given a signed directory
    let signed = body().sign(&authority()).unwrap();
    // When it is written as JSON
    let value: serde_json::Value = serde_json::from_str(&signed.to_json().unwrap()).unwrap();
    // Then it is the generic signed-document shape
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["key_id", "payload", "signature"]);
}

#[test]
fn test_refuses_directory_signed_by_another_key() {
    // Given a directory signed by a key that is not the pinned authority
    let signed = body().sign(&authority()).unwrap();
    // When a device pinned to another authority verifies it
    let reason = refusal(signed.verify(&authority().verifying_key(), t0(), None));
    // Then it is refused for the key
    assert!(reason.contains("another key"), "{reason}");
}

#[test]
fn test_refuses_flipped_payload_byte() {
    // Given a signed directory whose payload had one bit changed in transit
    let authority = authority();
    let signed = body().sign(&authority).unwrap();
    let altered = tampered(&signed, |s| {
        let middle = s.payload.len() / 2;
        s.payload[middle] ^= 0x01;
    });
    // When it is verified
    let reason = refusal(altered.verify(&authority.verifying_key(), t0(), None));
    // Then the signature does not verify
    assert!(reason.contains("signature does not verify"), "{reason}");
}

#[test]
fn test_refuses_flipped_signature_byte() {
    // Given a signed directory whose signature had one bit changed
    let authority = authority();
    let signed = body().sign(&authority).unwrap();
    let altered = tampered(&signed, |s| s.signature[10] ^= 0x80);
    // When it is verified
    let reason = refusal(altered.verify(&authority.verifying_key(), t0(), None));
    // Then the signature does not verify
    assert!(reason.contains("signature does not verify"), "{reason}");
}

#[test]
fn test_refuses_expired_directory() {
    // Given a directory valid for 30 days from t0
    let authority = authority();
    let signed = body().sign(&authority).unwrap();
    let expires_at = t0() + Duration::days(VALIDITY_DAYS);
    // When it is verified a second before and at the moment it expires
    let before = signed.verify(
        &authority.verifying_key(),
        expires_at - Duration::seconds(1),
        None,
    );
    let at = signed.verify(&authority.verifying_key(), expires_at, None);
    // Then it is accepted before and refused as expired from then on
    assert!(before.is_ok());
    assert!(refusal(at).starts_with("expired"));
}

#[test]
fn test_refuses_directory_issued_in_the_future() {
    // Given a directory issued at t0
    let authority = authority();
    let signed = body().sign(&authority).unwrap();
    // When a device whose clock is 9 minutes, then 11 minutes behind verifies it
    let slightly_slow = signed.verify(&authority.verifying_key(), t0() - Duration::minutes(9), None);
    let too_slow = signed.verify(&authority.verifying_key(), t0() - Duration::minutes(11), None);
    // Then small clock skew is tolerated and larger is refused
    assert!(slightly_slow.is_ok());
    assert!(refusal(too_slow).starts_with("issued in the future"));
}

#[test]
fn test_refuses_version_older_than_cached() {
    // Given a device that already trusts version 8
    let authority = authority();
    let signed = body().sign(&authority).unwrap();
    // When a server hands it version 7
    let reason = refusal(signed.verify(&authority.verifying_key(), t0(), Some(8)));
    // Then it is refused as a rollback
    assert!(reason.contains("older than the cached version 8"), "{reason}");
}

#[test]
fn test_accepts_same_or_newer_version_than_cached() {
    // Given a signed version 7
    let authority = authority();
    let signed = body().sign(&authority).unwrap();
    // When a device that cached version 7, or version 6, verifies it
    let same = signed.verify(&authority.verifying_key(), t0(), Some(7)).unwrap();
    let newer = signed.verify(&authority.verifying_key(), t0(), Some(6)).unwrap();
    // Then both accept it: the same version is the same directory fetched again
    assert_eq!(same.version(), 7);
    assert_eq!(newer.version(), 7);
}

#[test]
fn test_refuses_unsupported_format() {
    // Given an authority-signed document of a future format
    let authority = authority();
    let mut doc = serde_json::to_value(body()).unwrap();
    doc["format"] = 3.into();
    doc["new_field"] = "whatever format 3 adds".into();
    let signed =
        SignedDirectory::from_signed(Signed::sign(DocumentKind::Directory, &doc, &authority).unwrap());
    // When a format-1 device verifies it
    let reason = refusal(signed.verify(&authority.verifying_key(), t0(), None));
    // Then it names the format rather than failing on the new field
    assert_eq!(reason, "unsupported format 3");
}

#[test]
fn test_refuses_signed_body_that_breaks_the_rules() {
    // Given a body with two units of the same id, signed without validation by a faulty tool
    let authority = authority();
    let mut body = body();
    body.units[1].id = body.units[0].id.clone();
    let signed =
        SignedDirectory::from_signed(Signed::sign(DocumentKind::Directory, &body, &authority).unwrap());
    // When a device verifies it
    let reason = refusal(signed.verify(&authority.verifying_key(), t0(), None));
    // Then it is refused, naming the rule
    assert!(reason.starts_with("invalid content"), "{reason}");
    assert!(reason.contains("directory.units[1].id"), "{reason}");
}

#[test]
fn test_refuses_oversized_json_before_parsing() {
    // Given input larger than any directory a device accepts
    let huge = vec![b' '; MAX_SIGNED_JSON_LEN + 1];
    // When it is parsed
    let result = SignedDirectory::from_json(&huge);
    // Then it is refused without parsing
    assert!(matches!(
        result,
        Err(Error::Refused {
            what: "directory",
            ..
        })
    ));
}

#[test]
fn test_sign_refuses_invalid_body() {
    // Given a body that expires before it is issued
    let mut body = body();
    body.expires_at = body.issued_at - Duration::seconds(1);
    // When the authority signs it
    let (field, _) = invalid(body.sign(&authority()));
    // Then signing fails on the field
    assert_eq!(field, "directory.expires_at");
}

#[test]
fn test_validate_rejects_duplicate_unit_id() {
    // Given a body whose third unit reuses the first unit's id
    let mut body = body();
    body.units[2].id = body.units[0].id.clone();
    // When it is validated
    let (field, reason) = invalid(body.validate());
    // Then the error names the duplicate and the first use
    assert_eq!(field, "directory.units[2].id");
    assert!(
        reason.contains("duplicate") && reason.contains("directory.units[0]"),
        "{reason}"
    );
}

#[test]
fn test_validate_rejects_malformed_ids() {
    for bad in ["", "DK-National", "dk national", "dk_national", &"a".repeat(65)] {
        // Given a unit id breaking the id rule
        let mut body = body();
        body.units[1].id = bad.to_owned();
        // When it is validated, then the id is named
        assert_eq!(invalid(body.validate()).0, "directory.units[1].id", "{bad:?}");
    }
}

#[test]
fn test_validate_rejects_unit_without_region_language_or_name() {
    // Given units lacking a region, a language, or any name
    let mut no_region = body();
    no_region.units[0].regions.clear();
    let mut no_language = body();
    no_language.units[0].languages.clear();
    let mut no_name = body();
    no_name.units[0].names.clear();
    let mut bad_region = body();
    bad_region.units[0].regions = vec!["Spain".into()];
    // When they are validated, then each names the missing part
    assert_eq!(invalid(no_region.validate()).0, "directory.units[0].regions");
    assert_eq!(invalid(no_language.validate()).0, "directory.units[0].languages");
    assert_eq!(invalid(no_name.validate()).0, "directory.units[0].names");
    assert_eq!(invalid(bad_region.validate()).0, "directory.units[0].regions[0]");
}

#[test]
fn test_validate_rejects_missing_category_label() {
    // Given a category without its Arabic label
    let mut body = body();
    body.categories[0].labels.remove("ar");
    // When it is validated
    let (field, reason) = invalid(body.validate());
    // Then the missing label is named
    assert_eq!(field, "directory.categories[0].labels.ar");
    assert_eq!(reason, "is required");
}

#[test]
fn test_validate_rejects_duplicate_category_id() {
    // Given two categories with the same id
    let mut body = body();
    body.categories[3].id = "hate-crime".into();
    // When it is validated, then the second is named
    assert_eq!(invalid(body.validate()).0, "directory.categories[3].id");
}

#[test]
fn test_validate_rejects_bad_time_zone() {
    for bad in [
        "CET+1",
        "Europe/",
        "/Madrid",
        "Europe/Copen hagen",
        "Europe/Madrid/Centro/Sur",
        "",
    ] {
        // Given a hotline whose time zone is not shaped like an IANA name
        let mut body = body();
        body.hotlines[1].time_zone = bad.into();
        // When it is validated, then the time zone is named
        assert_eq!(
            invalid(body.validate()).0,
            "directory.hotlines[1].time_zone",
            "{bad}"
        );
    }
}

#[test]
fn test_sign_refuses_a_time_zone_the_apps_do_not_carry() {
    for unknown in ["Europe/Copenhagn", "Mars/Olympus_Mons", "Asia/Tokyo"] {
        // Given a hotline in a zone the apps are not built with (a typo, or a real zone outside
        // the list in .cargo/config.toml)
        let mut body = body();
        body.hotlines[1].time_zone = unknown.into();
        // When the authority signs it, then the time zone is named and nothing is signed
        let (field, reason) = invalid(body.sign(&authority()));
        assert_eq!(field, "directory.hotlines[1].time_zone", "{unknown}");
        assert!(reason.contains(unknown), "{reason}");
    }
}

#[test]
fn test_a_device_keeps_a_directory_naming_a_zone_it_does_not_carry() {
    // Given a directory signed by a newer tool with a line in a zone this build lacks
    let mut body = body();
    body.hotlines[1].time_zone = "Asia/Tokyo".into();
    let authority = authority();
    let signed =
        SignedDirectory::from_signed(Signed::sign(DocumentKind::Directory, &body, &authority).unwrap());
    // When a device verifies it, then it is trusted (units, categories and the other lines work)
    let verified = signed.verify(&authority.verifying_key(), t0(), None).unwrap();
    // And that line's time zone is a clear error naming the zone
    match verified.hotlines()[1].tz() {
        Err(Error::NotFound(what)) => assert!(what.contains("Asia/Tokyo"), "{what}"),
        other => panic!("expected an unknown zone, got {other:?}"),
    }
}

#[test]
fn test_validate_rejects_number_not_e164() {
    for bad in [
        "41749090",
        "+45 41 74 90 90",
        "+45-41749090",
        "+0041749090",
        "+1234567",
        "+1234567890123456",
    ] {
        // Given a hotline number that is not E.164
        let mut body = body();
        body.hotlines[1].number = bad.into();
        // When it is validated, then the number is named
        assert_eq!(
            invalid(body.validate()).0,
            "directory.hotlines[1].number",
            "{bad}"
        );
    }
}

#[test]
fn test_validate_rejects_closing_at_or_before_opening() {
    // Given a rule that closes when it opens, and one listing a day twice
    let at = |text: &str| text.parse::<TimeOfDay>().unwrap();
    let mut same_time = body();
    same_time.hotlines[1].hours = vec![OpeningRule::daily(at("08:00"), at("08:00"))];
    let mut twice = body();
    twice.hotlines[1].hours = vec![OpeningRule {
        days: vec![Weekday::Monday, Weekday::Monday],
        opens: at("08:00"),
        closes: at("09:00"),
    }];
    // When they are validated, then the rule's fields are named
    assert_eq!(
        invalid(same_time.validate()).0,
        "directory.hotlines[1].hours[0].closes"
    );
    assert_eq!(invalid(twice.validate()).0, "directory.hotlines[1].hours[0].days");
    // And until midnight is written 24:00
    let mut until_midnight = body();
    until_midnight.hotlines[1].hours = vec![OpeningRule::daily(at("18:00"), TimeOfDay::END_OF_DAY)];
    until_midnight.validate().unwrap();
}

#[test]
fn test_time_of_day_parses_only_hh_mm() {
    // Given times as written in a source file, then only HH:MM from 00:00 to 24:00 parses
    for good in ["00:00", "08:30", "23:59", "24:00"] {
        assert_eq!(good.parse::<TimeOfDay>().unwrap().to_string(), good);
    }
    for bad in ["8:00", "24:01", "25:00", "12:60", "1200", "12:00:00", "+1:00", ""] {
        assert!(bad.parse::<TimeOfDay>().is_err(), "{bad:?}");
    }
}

#[test]
fn test_validate_bounds_list_sizes() {
    // Given a body with more units than any real directory needs
    let mut body = body();
    let unit = body.units[0].clone();
    body.units = (0..=MAX_UNITS)
        .map(|i| {
            let mut unit = unit.clone();
            unit.id = format!("unit-{i}");
            unit
        })
        .collect();
    // When it is validated, then the list is refused for its size
    let (field, reason) = invalid(body.validate());
    assert_eq!(field, "directory.units");
    assert!(reason.contains("at most"), "{reason}");
}

#[test]
fn test_into_body_names_unit_missing_its_key() {
    // Given the sample source where one unit has no keys yet
    let mut source = keyed_source();
    source.units[1].encryption_key = None;
    // When the signer fills it in
    let (field, reason) = invalid(source.into_body(1, t0(), Duration::days(1)));
    // Then the error names the unit and how to make its key
    assert_eq!(field, "directory.units[1].encryption_key");
    assert_eq!(
        reason,
        "unit dk-national-hotline has no encryption_key; create one with `tipline unit keygen`"
    );
}

#[test]
fn test_into_body_fills_only_what_the_source_leaves_out() {
    // Given a source that pins its version but leaves the dates to the signer
    let mut source = keyed_source();
    source.version = Some(42);
    // When it is filled with version 1, issued at t0, valid one week
    let body = source.into_body(1, t0(), Duration::weeks(1)).unwrap();
    // Then the written version stays and the dates are filled in
    assert_eq!(body.version, 42);
    assert_eq!(body.issued_at, t0());
    assert_eq!(body.expires_at, t0() + Duration::weeks(1));
}

#[test]
fn test_source_rejects_unknown_fields() {
    // Given a source file with a misspelt field
    let json = include_str!("../../data/sample-directory.json").replacen("\"languages\"", "\"langauges\"", 1);
    // When it is parsed, then the typo is an error rather than silently ignored
    assert!(serde_json::from_str::<DirectorySource>(&json).is_err());
}

#[test]
fn test_unit_for_region_prefers_most_specific() {
    // Given the sample directory: a national Danish unit (DK) and two Infohus units (DK-84, DK-81)
    let verified = verified(body());
    let pick = |region: &str| verified.unit_for_region(region).map(|unit| unit.id.as_str());
    // When units are looked up by region, then a unit for the subdivision wins over the country
    assert_eq!(pick("DK-84"), Some("dk-infohus-vestegnen"));
    assert_eq!(pick("dk-81"), Some("dk-infohus-nordjylland"));
    // And a subdivision without its own unit falls back to the country's
    assert_eq!(pick("DK-83"), Some("dk-national-hotline"));
    assert_eq!(pick("ES-MD"), Some("es-stop-radicalismos"));
    // And a country code picks the unit serving the whole country, not a regional one
    assert_eq!(pick("DK"), Some("dk-national-hotline"));
    assert_eq!(pick("FR"), None);
}

#[test]
fn test_units_for_region_lists_candidates_most_specific_first() {
    // Given the sample directory
    let verified = verified(body());
    let ids = |region: &str| {
        verified
            .units_for_region(region)
            .iter()
            .map(|unit| unit.id.clone())
            .collect::<Vec<_>>()
    };
    // When a reporter asks for the choices, then the most specific come first
    assert_eq!(ids("DK-84"), ["dk-infohus-vestegnen", "dk-national-hotline"]);
    assert_eq!(
        ids("DK"),
        [
            "dk-national-hotline",
            "dk-infohus-vestegnen",
            "dk-infohus-nordjylland"
        ]
    );
    assert!(ids("SE").is_empty());
}

#[test]
fn test_unit_for_region_tie_goes_to_first_listed() {
    // Given two units both serving DK
    let mut body = body();
    body.units[3].regions = vec!["DK".into()];
    let verified = verified(body);
    // When DK is looked up, then the one listed first is picked
    assert_eq!(verified.unit_for_region("DK").unwrap().id, "dk-national-hotline");
    assert_eq!(verified.units_for_region("DK")[1].id, "dk-infohus-nordjylland");
}

#[test]
fn test_hotlines_for_region_and_unit_keys() {
    // Given the sample directory
    let body = body();
    let verified = verified(body.clone());
    // When hotlines are looked up for Ishøj's region, then the local line comes first
    let ids: Vec<&str> = verified
        .hotlines_for_region("DK-84")
        .iter()
        .map(|h| h.id.as_str())
        .collect();
    assert_eq!(ids, ["dk-ishoj-tryghed", "dk-national-hotline"]);
    // And a unit's keys are those the authority signed
    assert_eq!(
        verified.verifying_key_for_unit("dk-infohus-nordjylland"),
        Some(body.units[3].verifying_key)
    );
    assert_eq!(
        verified.encryption_key_for_unit("es-stop-radicalismos"),
        Some(body.units[0].encryption_key)
    );
    assert_eq!(verified.verifying_key_for_unit("no-such-unit"), None);
    assert_eq!(
        verified.category("hate-crime").unwrap().labels["da"],
        "Hadforbrydelse"
    );
}

#[test]
fn test_sample_directory_parses_fills_signs_and_verifies() {
    // Given the sample source shipped with the crate
    let source = sample_source().unwrap();
    source.validate_content().unwrap();
    assert!(source
        .units
        .iter()
        .all(|unit| unit.encryption_key.is_none() && unit.verifying_key.is_none()));
    // When the authority fills in fresh keys, signs it, and a device verifies it
    let authority = authority();
    let signed = keyed_source()
        .into_body(1, Utc::now(), Duration::days(90))
        .unwrap()
        .sign(&authority)
        .unwrap();
    let verified = signed
        .verify(&authority.verifying_key(), Utc::now(), None)
        .unwrap();
    // Then it holds the Spanish and Danish units, every category in four languages
    assert_eq!(verified.units().len(), 4);
    assert_eq!(verified.categories().len(), 6);
    for category in verified.categories() {
        for language in ["es", "en", "ar", "da"] {
            assert!(
                category.labels.contains_key(language),
                "{} {language}",
                category.id
            );
        }
    }
    // And the Danish line is open daily 08:00-22:00 in Copenhagen; Spain's hours are unpublished
    let danish = verified
        .hotlines()
        .iter()
        .find(|h| h.number == "+4541749090")
        .unwrap();
    assert_eq!(danish.tz().unwrap(), chrono_tz::Europe::Copenhagen);
    assert_eq!(
        danish.hours,
        [OpeningRule::daily(
            "08:00".parse().unwrap(),
            "22:00".parse().unwrap()
        )]
    );
    let spanish = verified
        .hotlines()
        .iter()
        .find(|h| h.number == "+34900822066")
        .unwrap();
    assert!(spanish.hours.is_empty());
}

/// An Oblivious HTTP key configuration for X25519 with HKDF-SHA256 and AES-128-GCM.
fn key_config(id: u8) -> Vec<u8> {
    let mut config = vec![id, 0x00, 0x20];
    config.extend([7u8; 32]);
    config.extend([0x00, 0x04, 0x00, 0x01, 0x00, 0x01]);
    config
}

/// [`body`] in format 2 with an intake section.
fn body_format_2() -> DirectoryBody {
    let mut source = keyed_source();
    source.format = 2;
    source.intake = Some(Intake {
        receipt_keys: vec![
            SigningKey::generate().unwrap().verifying_key(),
            SigningKey::generate().unwrap().verifying_key(),
        ],
        gateway_keys: vec![key_config(1), key_config(2)],
        relays: vec!["https://relay.example.net/tipline".into()],
    });
    source.into_body(7, t0(), Duration::days(VALIDITY_DAYS)).unwrap()
}

#[test]
fn test_format_2_names_the_intake_and_its_format_1_copy_does_not() {
    // Given a format 2 body, and its format 1 copy for older apps
    let body = body_format_2();
    let copy = body.to_format_1();
    // When both are signed and verified
    let two = verified(body.clone());
    let one = verified(copy);
    // Then format 2 carries the intake's keys and relays, and the copy is format 1 without them,
    // the rest unchanged
    assert_eq!((two.format(), one.format()), (2, 1));
    assert_eq!(two.intake(), body.intake.as_ref());
    assert_eq!(two.intake().unwrap().receipt_keys.len(), 2);
    assert_eq!(one.intake(), None);
    assert_eq!(one.units(), two.units());
    assert_eq!(one.version(), two.version());
    let payload: serde_json::Value = serde_json::from_slice(&one.signed().signed().payload).unwrap();
    assert!(
        payload.get("intake").is_none(),
        "a format 1 app refuses unknown fields"
    );
    let payload: serde_json::Value = serde_json::from_slice(&two.signed().signed().payload).unwrap();
    assert_eq!(
        payload["intake"]["gateway_keys"][0],
        tipline_core::encoding::b64(&key_config(1))
    );
}

#[test]
fn test_intake_section_belongs_to_format_2_only() {
    let mut one = body_format_2();
    one.format = 1;
    assert_eq!(invalid(one.validate()).0, "directory.intake");
    let mut two = body();
    two.format = 2;
    assert_eq!(invalid(two.validate()).0, "directory.intake");
}

#[test]
fn test_validate_intake_rules() {
    let field_of = |edit: &dyn Fn(&mut Intake)| {
        let mut body = body_format_2();
        edit(body.intake.as_mut().unwrap());
        invalid(body.validate()).0
    };
    assert_eq!(
        field_of(&|i| i.receipt_keys.clear()),
        "directory.intake.receipt_keys"
    );
    assert_eq!(
        field_of(&|i| i.receipt_keys[1] = i.receipt_keys[0]),
        "directory.intake.receipt_keys[1]"
    );
    assert_eq!(
        field_of(&|i| i.gateway_keys[1] = key_config(1)),
        "directory.intake.gateway_keys[1]",
        "two configurations with one key id"
    );
    assert_eq!(
        field_of(&|i| i.gateway_keys[0].truncate(20)),
        "directory.intake.gateway_keys[0]"
    );
    assert_eq!(
        field_of(&|i| i.relays.push("http://relay.example.net/".into())),
        "directory.intake.relays[1]",
        "plain http only to a loopback address"
    );
    assert_eq!(
        field_of(&|i| i.relays.push("https://relay.example.net/tipline".into())),
        "directory.intake.relays[1]",
        "listed twice"
    );
    assert_eq!(
        field_of(&|i| i.relays.push("https://relay.example.net/a b".into())),
        "directory.intake.relays[1]"
    );
    assert_eq!(
        field_of(&|i| i.receipt_keys = (0..17)
            .map(|_| SigningKey::generate().unwrap().verifying_key())
            .collect()),
        "directory.intake.receipt_keys"
    );
    // Loopback relays (tests, a relay on the same machine) and no gateway at all are fine
    let mut body = body_format_2();
    let intake = body.intake.as_mut().unwrap();
    intake.relays = vec!["http://127.0.0.2:8080/".into(), "http://[::1]/relay".into()];
    intake.gateway_keys.clear();
    body.validate().unwrap();
}

#[test]
fn test_gateway_key_configurations_are_read_by_their_layout() {
    assert_eq!(gateway_key_id(&key_config(9)), Ok(9));
    let mut p256 = vec![4, 0x00, 0x10];
    p256.extend([1u8; 65]);
    p256.extend([0x00, 0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x03]);
    assert_eq!(gateway_key_id(&p256), Ok(4));
    let refused = |config: &[u8]| gateway_key_id(config).unwrap_err();
    assert!(refused(&[]).contains("empty"));
    let mut unknown_kem = key_config(1);
    unknown_kem[2] = 0x99;
    assert!(refused(&unknown_kem).contains("KEM"));
    assert!(refused(&key_config(1)[..30]).contains("public key"));
    let mut trailing = key_config(1);
    trailing.push(0);
    assert!(refused(&trailing).contains("algorithms"));
    let mut no_algorithms = key_config(1);
    no_algorithms.truncate(35);
    no_algorithms.extend([0, 0]);
    assert!(refused(&no_algorithms).contains("algorithms"));
}
