//! Localisation of every user-facing string the core produces, through Fluent, in Spanish,
//! English, Arabic and Danish, with the text direction each language is written in. Category
//! labels and unit names come from the directory, not from here.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages the core speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Spanish, `es`.
    Spanish,
    /// English, `en`: the fallback for any string missing elsewhere.
    English,
    /// Arabic, `ar`, written right to left.
    Arabic,
    /// Danish, `da`.
    Danish,
}

/// Which way text runs, for the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextDirection {
    /// Left to right.
    LeftToRight,
    /// Right to left (Arabic).
    RightToLeft,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 4] = [
        Language::Spanish,
        Language::English,
        Language::Arabic,
        Language::Danish,
    ];

    /// The language code.
    pub fn code(self) -> &'static str {
        match self {
            Language::Spanish => "es",
            Language::English => "en",
            Language::Arabic => "ar",
            Language::Danish => "da",
        }
    }

    /// The language for a BCP 47 tag such as `da-DK` or `ar`, by its primary subtag; `None` for
    /// a language the core does not speak.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Language::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The first of `preferred` tags that the core speaks, else English.
    pub fn negotiate<'a>(preferred: impl IntoIterator<Item = &'a str>) -> Language {
        preferred
            .into_iter()
            .find_map(Language::from_tag)
            .unwrap_or(Language::English)
    }

    /// Which way the language is written.
    pub fn direction(self) -> TextDirection {
        match self {
            Language::Arabic => TextDirection::RightToLeft,
            _ => TextDirection::LeftToRight,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Language::Spanish => include_str!("../locales/es.ftl"),
            Language::English => include_str!("../locales/en.ftl"),
            Language::Arabic => include_str!("../locales/ar.ftl"),
            Language::Danish => include_str!("../locales/da.ftl"),
        }
    }
}

type Bundle = FluentBundle<FluentResource>;

fn bundle(language: Language) -> Bundle {
    let id: LanguageIdentifier = language.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Isolation marks keep numbers and names in order inside right-to-left text; in
    // left-to-right text they would only be noise.
    bundle.set_use_isolating(language.direction() == TextDirection::RightToLeft);
    // The sources are part of the build and checked by the tests; a broken line is skipped
    // rather than taking every other string with it.
    let resource =
        FluentResource::try_new(language.source().to_owned()).unwrap_or_else(|(partial, _)| partial);
    let _ = bundle.add_resource(resource);
    bundle
}

/// Produces the core's strings in one language, falling back to English for anything missing.
pub struct Localizer {
    language: Language,
    bundle: Bundle,
    fallback: Option<Bundle>,
}

impl Localizer {
    /// A localizer for `language`.
    pub fn new(language: Language) -> Self {
        let fallback = (language != Language::English).then(|| bundle(Language::English));
        Localizer {
            language,
            bundle: bundle(language),
            fallback,
        }
    }

    /// Its language.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Which way its text runs.
    pub fn direction(&self) -> TextDirection {
        self.language.direction()
    }

    /// The string `id` without arguments.
    pub fn text(&self, id: &str) -> String {
        self.text_with(id, &[])
    }

    /// The string `id` with named arguments, e.g. `[("max", 20000.into())]`. An unknown id comes
    /// back as the id itself, so a missing string shows up rather than vanishing.
    pub fn text_with(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        for bundle in std::iter::once(&self.bundle).chain(self.fallback.as_ref()) {
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = vec![];
                return bundle
                    .format_pattern(pattern, Some(&fluent_args), &mut errors)
                    .into_owned();
            }
        }
        id.to_owned()
    }

    /// [`Localizer::text_with`] with every argument given as text (what the apps pass through
    /// the bindings: a percentage, a formatted time).
    pub fn text_with_strings(&self, id: &str, args: &[(&str, &str)]) -> String {
        let args: Vec<(&str, FluentValue<'_>)> =
            args.iter().map(|(k, v)| (*k, FluentValue::from(*v))).collect();
        self.text_with(id, &args)
    }
}

/// The label (of a category, a unit, a hotline) to show in `language`: that language's, else
/// English, else the first by language tag; empty when there is none. The one rule for every
/// screen on every platform.
pub fn label(labels: &std::collections::BTreeMap<String, String>, language: Language) -> &str {
    labels
        .get(language.code())
        .or_else(|| labels.get(Language::English.code()))
        .or_else(|| labels.values().next())
        .map(String::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn test_label_is_this_language_else_english_else_the_first() {
        let labels = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let all = labels(&[("da", "Had"), ("en", "Hate"), ("es", "Odio")]);
        assert_eq!(label(&all, Language::Danish), "Had");
        assert_eq!(label(&all, Language::Arabic), "Hate");
        assert_eq!(
            label(&labels(&[("es", "Odio"), ("da", "Had")]), Language::Arabic),
            "Had"
        );
        assert_eq!(label(&labels(&[]), Language::Arabic), "");
    }

    #[test]
    fn test_text_with_strings_fills_placeholders_in_every_language() {
        for language in [
            Language::Danish,
            Language::English,
            Language::Spanish,
            Language::Arabic,
        ] {
            let l10n = Localizer::new(language);
            let text = l10n.text_with_strings("outbox-retrying", &[("reason", "R-42"), ("time", "14:05")]);
            assert!(text.contains("R-42") && text.contains("14:05"), "{text}");
            assert!(!text.contains('$') && !text.contains('{'), "{text}");
        }
    }

    fn ids(language: Language) -> BTreeSet<String> {
        let resource = FluentResource::try_new(language.source().to_owned()).expect("parses without errors");
        resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn test_every_language_parses_and_has_every_string() {
        let english = ids(Language::English);
        assert!(english.len() >= 30);
        for language in Language::ALL {
            assert_eq!(ids(language), english, "{language:?} differs from English");
        }
    }

    #[test]
    fn test_strings_with_arguments_in_each_language() {
        let args = [("time", FluentValue::from("22:00"))];
        assert_eq!(
            Localizer::new(Language::English).text_with("hotline-open-until", &args),
            "Open now, until 22:00"
        );
        assert_eq!(
            Localizer::new(Language::Danish).text_with("hotline-open-until", &args),
            "Åben nu, indtil kl. 22:00"
        );
        assert_eq!(
            Localizer::new(Language::Spanish).text_with("hotline-open-until", &args),
            "Abierto ahora, hasta las 22:00"
        );
        let arabic = Localizer::new(Language::Arabic).text_with("hotline-open-until", &args);
        assert!(arabic.starts_with("مفتوح الآن"), "{arabic}");
        assert!(
            arabic.contains("\u{2068}22:00\u{2069}"),
            "the time is isolated in right-to-left text: {arabic:?}"
        );
    }

    #[test]
    fn test_direction_negotiation_and_unknown_ids() {
        assert_eq!(Language::Arabic.direction(), TextDirection::RightToLeft);
        assert_eq!(Language::Danish.direction(), TextDirection::LeftToRight);
        assert_eq!(Language::from_tag("da-DK"), Some(Language::Danish));
        assert_eq!(Language::from_tag("fr"), None);
        assert_eq!(Language::negotiate(["fr-FR", "ar-MA", "en"]), Language::Arabic);
        assert_eq!(Language::negotiate(["fr"]), Language::English);
        assert_eq!(
            Localizer::new(Language::Danish).text("no-such-string"),
            "no-such-string"
        );
    }
}
