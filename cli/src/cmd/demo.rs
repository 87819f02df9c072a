//! `tipline demo`: the whole path of a report, step by step, printed plainly.
//!
//! Today it runs every cryptographic step the real system runs (authority, directory, citizen,
//! desk, reply) in one process; the envelope is handed from citizen to desk directly, where the
//! intake server will carry it once it exists.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{Duration, Utc};
use serde_json::json;
use tipline_core::attachment::{self, AttachmentKey};
use tipline_core::codename::Codename;
use tipline_core::crypto::OsRandom;
use tipline_core::directory::{sample_source, SignedDirectory};
use tipline_core::envelope::{open_report, seal_report, Envelope};
use tipline_core::keys::{SigningKey, UnitKeyFile};
use tipline_core::message::{open_reply, seal_reply_with_rng, CaseMessage};
use tipline_core::report::{MessageId, Person, Place, Precision, Report, When};

use crate::output::Output;

const REGION: &str = "DK-84";

pub fn run(out: &Output) -> anyhow::Result<()> {
    let started = Instant::now();
    let step = |n: u32, text: &str| out.note(&format!("{n}. {text}"));

    // 1. The authority and every unit of the sample directory make their keys; the authority
    //    signs the directory with the units' public keys.
    let authority = SigningKey::generate()?;
    let mut source = sample_source()?;
    let units = source
        .units
        .iter()
        .map(|u| UnitKeyFile::generate(&u.id))
        .collect::<tipline_core::Result<Vec<_>>>()?;
    for unit in &units {
        let public = unit.public()?;
        source.set_unit_keys(&unit.unit_id, public.encryption_key, public.verifying_key)?;
    }
    let source_units = source.units.len();
    let signed = source
        .into_body(1, Utc::now(), Duration::days(30))?
        .sign(&authority)?;
    let directory_json = signed.to_json()?;
    step(
        1,
        &format!(
            "authority {} signed directory v1 ({} units, {} bytes); units hold their own private keys",
            authority.verifying_key().key_id(),
            source_units,
            directory_json.len()
        ),
    );

    // 2. The citizen's device checks the directory against the pinned authority key.
    let directory = SignedDirectory::from_json(directory_json.as_bytes())?.verify(
        &authority.verifying_key(),
        Utc::now(),
        None,
    )?;
    let unit = directory
        .unit_for_region(REGION)
        .context("no unit serves the demo region")?;
    let unit_key = unit.encryption_key;
    let unit_id = unit.id.clone();
    step(
        2,
        &format!("citizen device verified the directory; region {REGION} is served by {unit_id}"),
    );

    // 3. The citizen writes a report with a photo; it is sealed on the device at once.
    let codename = Codename::generate()?;
    let case = codename.derive()?;
    let photo = demo_photo();
    let report = Report {
        category: "radicalisation".into(),
        text: "En ung mand i fitnesscentret viser IS-videoer til yngre drenge og taler om at rejse ud."
            .into(),
        when: Some(When::Exact {
            at: Utc::now() - Duration::hours(20),
        }),
        place: Some(Place::blur(55.6537, 12.2995, Precision::Neighbourhood)?),
        people: vec![Person {
            name: None,
            description: "Around 20, black cap, comes on weekday evenings".into(),
        }],
        contact: None,
        language: "da".into(),
        attachments: vec![attachment::describe(0, "gym.jpg", "image/jpeg", &mut &photo[..])?],
        case_id: case.case_id,
        reply_key: case.reply_key.public_key(),
    };
    report.validate()?;
    let sealed = seal_report(&report, &unit_id, &unit_key)?;
    let mut sealed_photo = Vec::new();
    attachment::encrypt(
        &AttachmentKey::derive(&sealed.context, 0)?,
        &mut &photo[..],
        &mut sealed_photo,
    )?;
    let envelope_bytes = sealed.envelope.to_bytes();
    step(
        3,
        &format!(
            "citizen sealed report {} for {unit_id}: envelope {} bytes, photo {} -> {} bytes encrypted",
            sealed.report_id,
            envelope_bytes.len(),
            photo.len(),
            sealed_photo.len()
        ),
    );
    step(
        4,
        &format!(
            "codename shown to the citizen: \"{}\"",
            codename.to_phrase().as_str()
        ),
    );
    step(
        5,
        "delivery: the envelope is handed to the desk directly (the intake server leg is not built yet)",
    );

    // 4. The unit's desk opens it with its private key.
    let desk = units
        .iter()
        .find(|u| u.unit_id == unit_id)
        .context("demo unit keys")?;
    let opened = open_report(
        &Envelope::from_bytes(&envelope_bytes)?,
        &unit_id,
        &desk.encryption_key(),
    )?;
    let mut photo_out = Vec::new();
    attachment::decrypt(
        &AttachmentKey::derive(&opened.context, 0)?,
        &opened.report.attachments[0],
        &mut &sealed_photo[..],
        &mut photo_out,
    )?;
    anyhow::ensure!(
        opened.report == report && photo_out == photo,
        "the desk read something else"
    );
    step(
        6,
        &format!(
            "desk {unit_id} decrypted report {}: category {}, {} characters, photo {} bytes, SHA-256 verified",
            opened.report_id,
            opened.report.category,
            opened.report.text.chars().count(),
            photo_out.len()
        ),
    );

    // 5. The desk replies, signed by the unit and sealed to the case's reply key.
    let reply = CaseMessage {
        case_id: opened.report.case_id,
        message_id: MessageId::random()?,
        unit_id: unit_id.clone(),
        text: "Tak for din henvendelse. Vi kigger på det. Kan du fortælle, hvilke dage han kommer?".into(),
        sent_at: Utc::now(),
    };
    let reply_envelope = seal_reply_with_rng(
        &reply,
        &desk.signing_key()?,
        &opened.report.reply_key,
        &mut OsRandom::new(),
    )?;
    step(
        7,
        &format!(
            "desk replied: {} bytes, signed by {unit_id}, sealed to the reporter",
            reply_envelope.to_bytes().len()
        ),
    );

    // 6. The citizen, on another device with only the codename, reads the reply.
    let recovered = Codename::parse(&codename.to_phrase())?.derive()?;
    let unit_signing_key = directory
        .verifying_key_for_unit(&unit_id)
        .context("unit key in directory")?;
    let read = open_reply(
        &Envelope::from_bytes(&reply_envelope.to_bytes())?,
        &recovered,
        &unit_signing_key,
    )?;
    step(
        8,
        &format!(
            "citizen recovered the case from its codename and read: \"{}\"",
            read.text
        ),
    );

    let elapsed = started.elapsed();
    out.result(
        || format!("demo finished in {} ms", elapsed.as_millis()),
        &json!({
            "unit_id": unit_id,
            "report_id": sealed.report_id.to_string(),
            "envelope_bytes": envelope_bytes.len(),
            "reply": read.text,
            "elapsed_ms": elapsed.as_millis() as u64,
        }),
    )
}

/// A small stand-in for a photo: a JPEG start and end marker around some bytes.
fn demo_photo() -> Vec<u8> {
    let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
    photo.extend((0..150_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    photo.extend_from_slice(&[0xFF, 0xD9]);
    photo
}
