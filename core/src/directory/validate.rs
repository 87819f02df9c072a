//! The rules a directory must follow, checked before the authority signs it and again after a
//! device verifies it. Every list and string is bounded so that even a directory signed by a
//! careless or compromised tool cannot make a phone allocate without limit.

use std::collections::{BTreeSet, HashMap};

use super::model::{Directory, DirectoryBody, LocalisedText, OpeningRule, Stage, DIRECTORY_FORMAT};
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
/// The languages every category label must be given in.
pub const REQUIRED_LABEL_LANGUAGES: [&str; 4] = ["es", "en", "ar", "da"];

impl<S: Stage> Directory<S> {
    /// Checks everything but the version and dates, so the authority's tool can check a source
    /// file before any key exists. Errors name the field, e.g. `directory.units[2].id`.
    pub fn validate_content(&self) -> Result<()> {
        if self.format != DIRECTORY_FORMAT {
            return Err(Error::invalid(
                "directory.format",
                format!(
                    "unsupported format {}; this build reads {DIRECTORY_FORMAT}",
                    self.format
                ),
            ));
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
            hotline.tz().map_err(|e| match e {
                Error::Invalid { reason, .. } => Error::invalid(format!("{at}.time_zone"), reason),
                other => other,
            })?;
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
