//! The desk's words in Spanish, Danish, English and Arabic, from the Fluent files in `locales/`
//! (built into the binary). Each page gets a [`Tr`] for the officer's language; a message missing
//! in one language falls back to English, and a missing one altogether shows its id, so a gap is
//! visible rather than an empty label.

use std::collections::HashMap;
use std::sync::Arc;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use tipline_core::l10n::Language;

const SOURCES: [(Language, &str); 4] = [
    (Language::English, include_str!("../locales/en.ftl")),
    (Language::Spanish, include_str!("../locales/es.ftl")),
    (Language::Danish, include_str!("../locales/da.ftl")),
    (Language::Arabic, include_str!("../locales/ar.ftl")),
];

/// The languages an officer can pick, in the order the switch shows them.
pub const LANGUAGES: [Language; 4] = [
    Language::English,
    Language::Spanish,
    Language::Danish,
    Language::Arabic,
];

/// Every language's messages.
pub struct Catalog {
    bundles: HashMap<&'static str, FluentBundle<FluentResource>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    /// Parses the built-in files; a file that does not parse is a bug in the build.
    pub fn load() -> Catalog {
        let mut bundles = HashMap::new();
        for (language, source) in SOURCES {
            let resource = FluentResource::try_new(source.to_owned())
                .unwrap_or_else(|(_, errors)| panic!("locales/{}.ftl: {errors:?}", language.code()));
            let id: unic_langid::LanguageIdentifier = language
                .code()
                .parse()
                .expect("a language code is a language identifier");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Isolation marks keep a name or number in an Arabic sentence from reordering it;
            // in the left-to-right languages they would only be invisible noise.
            bundle.set_use_isolating(language == Language::Arabic);
            bundle
                .add_resource(resource)
                .unwrap_or_else(|errors| panic!("locales/{}.ftl: {errors:?}", language.code()));
            bundles.insert(language.code(), bundle);
        }
        Catalog { bundles }
    }

    fn format(&self, code: &str, id: &str, args: Option<&FluentArgs<'_>>) -> Option<String> {
        let bundle = self.bundles.get(code)?;
        let pattern = bundle.get_message(id)?.value()?;
        let mut errors = Vec::new();
        Some(bundle.format_pattern(pattern, args, &mut errors).into_owned())
    }
}

/// The language of a code (`es`, `da`, `en`, `ar`), if the desk speaks it.
pub fn language(code: &str) -> Option<Language> {
    Language::from_tag(code)
}

/// Messages in one language, for a page.
#[derive(Clone)]
pub struct Tr {
    catalog: Arc<Catalog>,
    language: Language,
}

impl Tr {
    /// Messages of `catalog` in `language`.
    pub fn new(catalog: Arc<Catalog>, language: Language) -> Tr {
        Tr { catalog, language }
    }

    /// The language code, for `<html lang>`.
    pub fn lang(&self) -> &'static str {
        self.language.code()
    }

    /// `rtl` or `ltr`, for `<html dir>`.
    pub fn dir(&self) -> &'static str {
        match self.language {
            Language::Arabic => "rtl",
            _ => "ltr",
        }
    }

    /// The message `id`.
    pub fn t(&self, id: &str) -> String {
        self.args(id, &[])
    }

    /// The message `id` with one argument.
    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        self.args(id, &[(name, value)])
    }

    /// The message `id` with a number argument (for plurals).
    pub fn n(&self, id: &str, name: &str, value: impl std::borrow::Borrow<usize>) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(*value.borrow()));
        self.with(id, Some(&args))
    }

    /// The message `id` with named arguments.
    pub fn args(&self, id: &str, pairs: &[(&str, &str)]) -> String {
        if pairs.is_empty() {
            return self.with(id, None);
        }
        let mut args = FluentArgs::new();
        for (name, value) in pairs {
            args.set((*name).to_owned(), FluentValue::from((*value).to_owned()));
        }
        self.with(id, Some(&args))
    }

    fn with(&self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        self.catalog
            .format(self.language.code(), id, args)
            .or_else(|| self.catalog.format("en", id, args))
            .unwrap_or_else(|| id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(source: &str) -> Vec<String> {
        source
            .lines()
            .filter_map(|line| line.split_once(" ="))
            .filter(|(id, _)| !id.starts_with(['#', ' ']) && !id.is_empty())
            .map(|(id, _)| id.to_owned())
            .collect()
    }

    #[test]
    fn test_every_language_has_every_english_message() {
        let english = ids(SOURCES[0].1);
        assert!(english.len() > 20);
        for (language, source) in &SOURCES[1..] {
            let theirs = ids(source);
            let missing: Vec<&String> = english.iter().filter(|id| !theirs.contains(id)).collect();
            assert!(missing.is_empty(), "{}: missing {missing:?}", language.code());
        }
    }

    #[test]
    fn test_arabic_runs_right_to_left_and_falls_back_to_english() {
        let catalog = Arc::new(Catalog::load());
        let ar = Tr::new(catalog.clone(), Language::Arabic);
        assert_eq!(ar.dir(), "rtl");
        assert_eq!(Tr::new(catalog, Language::Danish).dir(), "ltr");
        assert_eq!(ar.t("no-such-message"), "no-such-message");
    }
}
