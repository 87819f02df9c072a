//! The rules a directory must follow, checked before the authority signs it and again after a
//! device verifies it. Every list and string is bounded so that even a directory signed by a
//! careless or compromised tool cannot make a phone allocate without limit.

use std::collections::{BTreeSet, HashMap};

use super::model::{Directory, DirectoryBody, Intake, LocalisedText, OpeningRule, Stage, DIRECTORY_FORMATS};
use crate::{Error, Result};

/// Most units in one directory.
pub const MAX_UNITS: usize = 1000;
/// Most hotlines in one directory.
pub const MAX_HOTLINES: usize = 1000;
/// Most report categories in one directory.
pub const MAX_CATEGORIES: usize = 200;
/// Longest name, label or other string, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// Longest unit, hotline or category id, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Most entries in a short list: regions, languages, names, labels or opening rules of one item.
pub const MAX_LIST_LEN: usize = 100;
/// Most keys or relays in one list of the intake section (room for rotation, not for a catalogue).
pub const MAX_INTAKE_KEYS: usize = 16;
/// Longest relay URL, in characters.
pub const MAX_URL_CHARS: usize = 200;
/// The languages every category label must be given in.
pub const REQUIRED_LABEL_LANGUAGES: [&str; 4] = ["es", "en", "ar", "da"];

impl<S: Stage> Directory<S> {
    /// Checks everything but the version and dates, so the authority's tool can check a source
    /// file before any key exists. Errors name the field, e.g. `directory.units[2].id`.
    pub fn validate_content(&self) -> Result<()> {
        if !DIRECTORY_FORMATS.contains(&self.format) {
            return Err(Error::invalid(
                "directory.format",
                format!(
                    "unsupported format {}; this build reads {DIRECTORY_FORMATS:?}",
                    self.format
                ),
            ));
        }
        match (self.format, &self.intake) {
            (1, Some(_)) => {
                return Err(Error::invalid(
                    "directory.intake",
                    "exists only in format 2; format 1 apps would refuse the directory",
                ))
            }
            (1, None) => {}
            (_, Some(intake)) => check_intake(intake)?,
            (_, None) => {
                return Err(Error::invalid(
                    "directory.intake",
                    "is required in format 2 (at least the intake's receipt key)",
                ))
            }
        }
        check_len("directory.units", self.units.len(), 1, MAX_UNITS)?;
        check_len("directory.hotlines", self.hotlines.len(), 0, MAX_HOTLINES)?;
        check_len("directory.categories", self.categories.len(), 1, MAX_CATEGORIES)?;

        let mut ids = UniqueIds::default();
        for (i, unit) in self.units.iter().enumerate() {
            let at = format!("directory.units[{i}]");
            ids.check(&at, &unit.id)?;
            check_names(&format!("{at}.names"), &unit.names, &[])?;
            check_codes(&format!("{at}.regions"), &unit.regions, check_region)?;
            check_codes(&format!("{at}.languages"), &unit.languages, check_language)?;
        }

        let mut ids = UniqueIds::default();
        for (i, hotline) in self.hotlines.iter().enumerate() {
            let at = format!("directory.hotlines[{i}]");
            ids.check(&at, &hotline.id)?;
            check_names(&format!("{at}.names"), &hotline.names, &[])?;
            check_number(&format!("{at}.number"), &hotline.number)?;
            check_text(&format!("{at}.display"), &hotline.display)?;
            check_text(&format!("{at}.time_zone"), &hotline.time_zone)?;
            if !super::model::is_time_zone_name(&hotline.time_zone) {
                return Err(Error::invalid(
                    format!("{at}.time_zone"),
                    super::model::NOT_A_ZONE_NAME,
                ));
            }
            check_len(&format!("{at}.hours"), hotline.hours.len(), 0, MAX_LIST_LEN)?;
            for (j, rule) in hotline.hours.iter().enumerate() {
                check_rule(&format!("{at}.hours[{j}]"), rule)?;
            }
            check_codes(&format!("{at}.languages"), &hotline.languages, check_language)?;
            check_codes(&format!("{at}.regions"), &hotline.regions, check_region)?;
        }

        let mut ids = UniqueIds::default();
        for (i, category) in self.categories.iter().enumerate() {
            let at = format!("directory.categories[{i}]");
            ids.check(&at, &category.id)?;
            check_names(
                &format!("{at}.labels"),
                &category.labels,
                &REQUIRED_LABEL_LANGUAGES,
            )?;
        }
        Ok(())
    }
}

impl DirectoryBody {
    /// Checks that this build knows every hotline's time zone. The authority's tool refuses to
    /// sign a directory naming one it does not know: apps built with the same list would show
    /// that line without its hours (see [`super::model::Hotline::tz`]); the list grows in
    /// `.cargo/config.toml` before a directory names a new zone.
    pub fn check_time_zones_known(&self) -> Result<()> {
        for (i, hotline) in self.hotlines.iter().enumerate() {
            if let Err(Error::NotFound(_)) = hotline.tz() {
                return Err(Error::invalid(
                    format!("directory.hotlines[{i}].time_zone"),
                    format!(
                        "{} is not among the time zones the apps carry (CHRONO_TZ_TIMEZONE_FILTER)",
                        hotline.time_zone
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks every rule of the format: [`Directory::validate_content`], then that the directory
    /// expires after it was issued.
    pub fn validate(&self) -> Result<()> {
        self.validate_content()?;
        if self.expires_at <= self.issued_at {
            return Err(Error::invalid(
                "directory.expires_at",
                "must be later than issued_at",
            ));
        }
        Ok(())
    }
}

/// Remembers the ids seen in one list, to refuse duplicates.
#[derive(Default)]
struct UniqueIds<'a>(HashMap<&'a str, String>);

impl<'a> UniqueIds<'a> {
    fn check(&mut self, at: &str, id: &'a str) -> Result<()> {
        let field = format!("{at}.id");
        check_id(&field, id)?;
        if let Some(first) = self.0.insert(id, at.to_owned()) {
            return Err(Error::invalid(
                field,
                format!("duplicate id {id:?}, already used by {first}"),
            ));
        }
        Ok(())
    }
}

fn check_len(field: &str, len: usize, min: usize, max: usize) -> Result<()> {
    if len < min {
        return Err(Error::invalid(field, format!("needs at least {min}")));
    }
    if len > max {
        return Err(Error::invalid(
            field,
            format!("has {len} entries, at most {max} allowed"),
        ));
    }
    Ok(())
}

/// Lowercase `a-z`, `0-9` and `-`, 1 to 64 characters.
fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {MAX_ID_CHARS} characters"),
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Error::invalid(
            field,
            "only lowercase a-z, 0-9 and '-' are allowed",
        ));
    }
    Ok(())
}

/// Non-blank, at most [`MAX_TEXT_CHARS`], no control characters.
fn check_text(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// A non-empty map from language tag to text, with every `required` language present.
fn check_names(field: &str, names: &LocalisedText, required: &[&str]) -> Result<()> {
    check_len(field, names.len(), 1, MAX_LIST_LEN)?;
    for language in required {
        if !names.contains_key(*language) {
            return Err(Error::invalid(format!("{field}.{language}"), "is required"));
        }
    }
    for (language, text) in names {
        check_language(&format!("{field}.{language}"), language)?;
        check_text(&format!("{field}.{language}"), text)?;
    }
    Ok(())
}

fn check_intake(intake: &Intake) -> Result<()> {
    let field = "directory.intake.receipt_keys";
    check_len(field, intake.receipt_keys.len(), 1, MAX_INTAKE_KEYS)?;
    let mut seen = BTreeSet::new();
    for (i, key) in intake.receipt_keys.iter().enumerate() {
        if !seen.insert(key.0) {
            return Err(Error::invalid(format!("{field}[{i}]"), "is listed twice"));
        }
    }
    let field = "directory.intake.gateway_keys";
    check_len(field, intake.gateway_keys.len(), 0, MAX_INTAKE_KEYS)?;
    let mut seen = BTreeSet::new();
    for (i, config) in intake.gateway_keys.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let id = gateway_key_id(config).map_err(|reason| Error::invalid(&at, reason))?;
        if !seen.insert(id) {
            return Err(Error::invalid(at, format!("key id {id} is listed twice")));
        }
    }
    let field = "directory.intake.relays";
    check_len(field, intake.relays.len(), 0, MAX_INTAKE_KEYS)?;
    let mut seen = BTreeSet::new();
    for (i, url) in intake.relays.iter().enumerate() {
        let at = format!("{field}[{i}]");
        check_relay_url(&at, url)?;
        if !seen.insert(url) {
            return Err(Error::invalid(at, format!("{url:?} is listed twice")));
        }
    }
    Ok(())
}

/// The key id of an Oblivious HTTP key configuration (RFC 9458 section 3.1), after checking its
/// layout: key id, a KEM this build knows with a public key of its length, and a non-empty list
/// of (KDF, AEAD) pairs, with nothing after it.
pub fn gateway_key_id(config: &[u8]) -> std::result::Result<u8, String> {
    let (&id, rest) = config.split_first().ok_or("is empty")?;
    let (kem, rest) = rest.split_at_checked(2).ok_or("ends before its KEM id")?;
    let public_len = match u16::from_be_bytes([kem[0], kem[1]]) {
        0x0010 => 65,  // DHKEM(P-256, HKDF-SHA256)
        0x0011 => 97,  // DHKEM(P-384, HKDF-SHA384)
        0x0012 => 133, // DHKEM(P-521, HKDF-SHA512)
        0x0020 => 32,  // DHKEM(X25519, HKDF-SHA256)
        0x0021 => 56,  // DHKEM(X448, HKDF-SHA512)
        other => return Err(format!("names KEM {other:#06x}, which is not an HPKE KEM")),
    };
    let (_, rest) = rest
        .split_at_checked(public_len)
        .ok_or("ends inside its public key")?;
    let (len, rest) = rest.split_at_checked(2).ok_or("ends before its algorithms")?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if len == 0 || len % 4 != 0 || len != rest.len() {
        return Err(format!(
            "its algorithms take {len} bytes where {} follow; must be a whole number of (KDF, AEAD) pairs, at least one",
            rest.len()
        ));
    }
    Ok(id)
}

/// An `https://` URL, or `http://` to a loopback host (a relay on the same machine, in tests).
fn check_relay_url(field: &str, url: &str) -> Result<()> {
    check_text(field, url)?;
    if url.chars().count() > MAX_URL_CHARS || url.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            field,
            format!("must be one URL of at most {MAX_URL_CHARS} characters, without spaces"),
        ));
    }
    let host_of = |rest: &str| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
            None => host.split(':').next().unwrap_or_default().to_owned(),
        }
    };
    let ok = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => !host_of(rest).is_empty(),
        (None, Some(rest)) => {
            let host = host_of(rest);
            host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        (None, None) => false,
    };
    if !ok {
        return Err(Error::invalid(
            field,
            format!("{url:?} is not an https:// URL (http:// only to a loopback address)"),
        ));
    }
    Ok(())
}

/// A non-empty list of distinct codes, each passing `check`.
fn check_codes(field: &str, codes: &[String], check: fn(&str, &str) -> Result<()>) -> Result<()> {
    check_len(field, codes.len(), 1, MAX_LIST_LEN)?;
    let mut seen = BTreeSet::new();
    for (i, code) in codes.iter().enumerate() {
        let at = format!("{field}[{i}]");
        check(&at, code)?;
        if !seen.insert(code) {
            return Err(Error::invalid(at, format!("{code:?} is listed twice")));
        }
    }
    Ok(())
}

/// ISO 3166-1 alpha-2 (`DK`) or ISO 3166-2 (`DK-84`, `ES-MD`), upper case.
fn check_region(field: &str, code: &str) -> Result<()> {
    let bytes = code.as_bytes();
    let country = bytes.len() >= 2 && bytes[..2].iter().all(u8::is_ascii_uppercase);
    let subdivision = match bytes.get(2..) {
        Some([]) => true,
        Some([b'-', rest @ ..]) => {
            (1..=3).contains(&rest.len()) && rest.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
        _ => false,
    };
    if !(country && subdivision) {
        return Err(Error::invalid(
            field,
            format!("{code:?} is not an ISO 3166 code such as DK or DK-84"),
        ));
    }
    Ok(())
}

/// A BCP 47 language tag of the simple kind: `es`, `ar`, `pt-BR`, `zh-Hant`.
fn check_language(field: &str, tag: &str) -> Result<()> {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    let primary_ok = (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
    let rest_ok =
        parts.all(|part| (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !(primary_ok && rest_ok) || tag.len() > 35 {
        return Err(Error::invalid(
            field,
            format!("{tag:?} is not a language tag such as es or pt-BR"),
        ));
    }
    Ok(())
}

/// E.164: `+` then 8 to 15 digits, the first not 0.
fn check_number(field: &str, number: &str) -> Result<()> {
    let digits = number.strip_prefix('+').unwrap_or_default();
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(Error::invalid(
            field,
            "must be E.164: '+' then 8 to 15 digits, e.g. +4541749090",
        ));
    }
    Ok(())
}

fn check_rule(at: &str, rule: &OpeningRule) -> Result<()> {
    check_len(&format!("{at}.days"), rule.days.len(), 1, 7)?;
    let mut seen = BTreeSet::new();
    if let Some(day) = rule.days.iter().find(|day| !seen.insert(**day)) {
        return Err(Error::invalid(
            format!("{at}.days"),
            format!("{day:?} is listed twice"),
        ));
    }
    if rule.opens >= rule.closes {
        return Err(Error::invalid(
            format!("{at}.closes"),
            format!(
                "closes at {} but opens at {}: must close later the same day",
                rule.closes, rule.opens
            ),
        ));
    }
    Ok(())
}
