//! The core's localisation for the apps: every id the core hands out (field problems, outbox
//! reasons, severities) becomes a sentence in the reporter's language, with its text direction.

use std::collections::{BTreeMap, HashMap};

use tipline_core::compose::{self, FieldError};
use tipline_core::l10n;

use crate::error::{from_core, ApiError, FieldProblem};
use crate::types::{Direction, Draft, Language};

/// Produces the core's strings in one language, falling back to English for anything missing.
#[derive(uniffi::Object)]
pub struct Localizer {
    inner: l10n::Localizer,
}

#[uniffi::export]
impl Localizer {
    /// A localizer for `language`.
    #[uniffi::constructor]
    pub fn new(language: Language) -> Self {
        Localizer {
            inner: l10n::Localizer::new(language.into()),
        }
    }

    /// Its language.
    pub fn language(&self) -> Language {
        self.inner.language().into()
    }

    /// Which way its text runs.
    pub fn direction(&self) -> Direction {
        self.inner.direction().into()
    }

    /// The string `id` (such as `reason-offline` or `severity-danger`); an unknown id comes back
    /// as itself.
    pub fn text(&self, id: String) -> String {
        self.inner.text(&id)
    }

    /// The string `id` with its named arguments put in its placeholders (`{ $percent }`...), by
    /// the core's Fluent formatting.
    pub fn text_with(&self, id: String, args: HashMap<String, String>) -> String {
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.inner.text_with_strings(&id, &args)
    }

    /// A directory label (category, unit name) in this language, else English, else the first by
    /// language tag; empty when there is none.
    pub fn label(&self, labels: HashMap<String, String>) -> String {
        let labels: BTreeMap<String, String> = labels.into_iter().collect();
        l10n::label(&labels, self.inner.language()).to_owned()
    }
}

/// How far a sending has gone (0 to 1, as `OutboxStatus.Sending` gives it) as a whole percentage
/// from 0 to 100, for the screen.
#[uniffi::export]
pub fn progress_percent(progress: f32) -> u8 {
    tipline_core::client::outbox::percent(progress)
}

/// The fields whose problems an edit of a draft from `old` to `new` touched (`text`, `place`,
/// `people[1].name`, `attachments[0]`...): a screen hides their problems until the next check.
#[uniffi::export]
pub fn changed_fields(old: Draft, new: Draft) -> Result<Vec<String>, ApiError> {
    let old: compose::Draft = old.try_into().map_err(from_core)?;
    let new: compose::Draft = new.try_into().map_err(from_core)?;
    Ok(old.changed_fields(&new))
}

#[uniffi::export]
impl FieldProblem {
    /// The problem as a sentence in `localizer`'s language, for the screen.
    pub fn message(&self, localizer: &Localizer) -> String {
        FieldError::from(self.clone()).message(&localizer.inner)
    }
}

#[uniffi::export]
impl Language {
    /// The language code (`es`, `en`, `ar`, `da`).
    pub fn code(&self) -> String {
        l10n::Language::from(*self).code().to_owned()
    }

    /// Which way the language is written.
    pub fn direction(&self) -> Direction {
        l10n::Language::from(*self).direction().into()
    }
}

/// The language for a BCP 47 tag such as `da-DK` or `ar`, by its primary subtag; absent for a
/// language the core does not speak.
#[uniffi::export]
pub fn language_from_tag(tag: String) -> Option<Language> {
    l10n::Language::from_tag(&tag).map(Into::into)
}

/// The first of the `preferred` tags (the device's languages, in order) that the core speaks,
/// else English.
#[uniffi::export]
pub fn negotiate_language(preferred: Vec<String>) -> Language {
    l10n::Language::negotiate(preferred.iter().map(String::as_str)).into()
}
