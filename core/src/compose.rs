//! Writing a report on the device: the draft a screen edits, checked field by field against the
//! model's rules and the directory, then turned into a report whose photos have lost their
//! metadata and whose position has been blurred, ready to seal.

use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::attachment;
use crate::directory::VerifiedDirectory;
use crate::keys::EncryptionPublicKey;
use crate::l10n::Localizer;
use crate::media::{strip_metadata, strips};
use crate::report::{
    people_and_contact_problems, AttachmentInfo, CaseId, Contact, Person, Place, Precision, Problem, Report,
    When, MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES, MAX_SHORT_CHARS, MAX_TEXT_CHARS,
};
use crate::{Error, Result};

/// Where it happened, as the reporter gives it on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DraftPlace {
    /// The phone's position, to be blurred to `precision` before anything is stored.
    Position {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
        /// The precision the reporter chose.
        precision: Precision,
    },
    /// A place in the reporter's words.
    Described {
        /// The description.
        text: String,
    },
}

/// Largest photo (JPEG or PNG) whose metadata the core strips. A photo is parsed whole in memory
/// (the file, the parsed image and the cleaned copy: about three times its size), so this bounds
/// what filing a photo costs a phone; a larger photo is refused rather than sent with its
/// metadata. Other files (video, audio) are never loaded whole: they are read in chunks.
pub const MAX_STRIPPED_IMAGE_BYTES: u64 = 32 * 1024 * 1024;

/// A file the reporter attaches, by path: the app copies a picked file to its own cache and
/// passes the copy's path. The core reads it in chunks and leaves it where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftAttachment {
    /// The file name.
    pub name: String,
    /// Its media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Where the file is, metadata still in.
    pub path: PathBuf,
}

/// An attachment ready to seal: a photo cleaned in memory, or any other file read from its path
/// as it is, in chunks.
#[derive(Debug)]
pub enum CleanAttachment {
    /// A photo without its metadata.
    Memory(Vec<u8>),
    /// A file passed through unchanged.
    File(PathBuf),
}

impl CleanAttachment {
    /// A reader over the cleaned bytes.
    pub fn open(&self) -> Result<Box<dyn Read + '_>> {
        Ok(match self {
            CleanAttachment::Memory(bytes) => Box::new(&bytes[..]),
            CleanAttachment::File(path) => Box::new(std::fs::File::open(path)?),
        })
    }
}

/// A report being written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    /// The unit chosen by the reporter; `None` to take the directory's unit for `region`.
    pub unit_id: Option<String>,
    /// The reporter's region (ISO 3166), used to pick the unit.
    pub region: Option<String>,
    /// A category id from the directory.
    pub category: String,
    /// What happened.
    pub text: String,
    /// When it happened.
    pub when: Option<When>,
    /// Where it happened.
    pub place: Option<DraftPlace>,
    /// The people involved.
    pub people: Vec<Person>,
    /// How to reach the reporter, if they wish.
    pub contact: Option<Contact>,
    /// The language the report is written in.
    pub language: String,
    /// Files to attach.
    pub attachments: Vec<DraftAttachment>,
}

/// One problem with one field, for the screen to show next to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field, e.g. `text`, `category`, `people[1].description`, `attachments[0]`.
    pub field: String,
    /// The message id in the core's localisation (`field-required`, `field-too-long`...).
    pub code: String,
    /// The limit the message names, if any.
    pub max: Option<u64>,
}

impl FieldError {
    fn new(field: impl Into<String>, code: &str, max: Option<u64>) -> Self {
        FieldError {
            field: field.into(),
            code: code.to_owned(),
            max,
        }
    }

    /// The message in the reporter's language.
    pub fn message(&self, l10n: &Localizer) -> String {
        match self.max {
            Some(max) => l10n.text_with(&self.code, &[("max", max.into())]),
            None => l10n.text(&self.code),
        }
    }
}

fn check_len(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        errors.push(FieldError::new(field, "field-required", None));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, "field-too-long", Some(max as u64)));
    }
}

impl Draft {
    /// Every problem with the draft, field by field (empty when it can be sent). The category
    /// must be in the directory and a unit must serve the draft.
    pub fn check(&self, directory: &VerifiedDirectory) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.category.trim().is_empty() {
            errors.push(FieldError::new("category", "field-required", None));
        } else if directory.category(&self.category).is_none() {
            errors.push(FieldError::new("category", "category-unknown", None));
        }
        if self.resolve_unit(directory).is_err() {
            errors.push(FieldError::new("unit", "field-required", None));
        }
        check_len(&mut errors, "text", &self.text, MAX_TEXT_CHARS, true);
        if let Some(When::Between { from, to }) = &self.when {
            if from > to {
                errors.push(FieldError::new("when", "time-range-reversed", None));
            }
        }
        match &self.place {
            Some(DraftPlace::Position {
                latitude, longitude, ..
            }) if !(-90.0..=90.0).contains(latitude) || !(-180.0..=180.0).contains(longitude) => {
                errors.push(FieldError::new("place", "field-invalid", None));
            }
            Some(DraftPlace::Described { text }) => {
                check_len(&mut errors, "place", text, MAX_SHORT_CHARS, true)
            }
            _ => {}
        }
        for (field, problem) in people_and_contact_problems(&self.people, self.contact.as_ref()) {
            errors.push(match problem {
                Problem::Required => FieldError::new(field, "field-required", None),
                Problem::TooLong(max) | Problem::TooMany(max) => {
                    FieldError::new(field, "field-too-long", Some(max as u64))
                }
            });
        }
        if crate::l10n::Language::from_tag(&self.language).is_none()
            && !(2..=16).contains(&self.language.len())
        {
            errors.push(FieldError::new("language", "field-invalid", None));
        }
        if self.attachments.len() > MAX_ATTACHMENTS {
            errors.push(FieldError::new(
                "attachments",
                "attachments-too-many",
                Some(MAX_ATTACHMENTS as u64),
            ));
        }
        for (i, a) in self.attachments.iter().enumerate() {
            let field = format!("attachments[{i}]");
            let limit = if strips(&a.media_type) {
                MAX_STRIPPED_IMAGE_BYTES
            } else {
                MAX_ATTACHMENT_BYTES
            };
            match std::fs::metadata(&a.path) {
                Ok(meta) if !meta.is_file() => errors.push(FieldError::new(field, "field-invalid", None)),
                Ok(meta) if meta.len() > limit => errors.push(FieldError::new(
                    field,
                    "attachment-too-large",
                    Some(limit / (1024 * 1024)),
                )),
                Ok(_) => {}
                Err(_) => errors.push(FieldError::new(field, "field-invalid", None)),
            }
        }
        errors
    }

    /// The unit this draft goes to: the one chosen, or the directory's unit for the region.
    pub fn resolve_unit<'d>(&self, directory: &'d VerifiedDirectory) -> Result<&'d crate::directory::Unit> {
        let unit = match (&self.unit_id, &self.region) {
            (Some(id), _) => directory.unit(id),
            (None, Some(region)) => directory.unit_for_region(region),
            (None, None) => None,
        };
        unit.ok_or_else(|| Error::NotFound("a unit for this report".into()))
    }
}

impl Draft {
    /// The fields whose problems an edit from `self` to `new` touched, named as
    /// [`FieldError::field`] names them: a screen hides those problems until the next check.
    /// Every part of a position counts, longitude included.
    pub fn changed_fields(&self, new: &Draft) -> Vec<String> {
        let mut fields = Vec::new();
        if self.category != new.category {
            fields.push("category".to_owned());
        }
        if self.unit_id != new.unit_id || self.region != new.region {
            fields.push("unit".to_owned());
        }
        if self.text != new.text {
            fields.push("text".to_owned());
        }
        if self.when != new.when {
            fields.push("when".to_owned());
        }
        if self.place != new.place {
            fields.push("place".to_owned());
        }
        if self.people != new.people {
            fields.push("people".to_owned());
            for i in 0..self.people.len().max(new.people.len()) {
                if self.people.get(i) != new.people.get(i) {
                    fields.push(format!("people[{i}].description"));
                    fields.push(format!("people[{i}].name"));
                }
            }
        }
        let contact = |d: &Draft, part: fn(&Contact) -> &Option<String>| {
            d.contact.as_ref().and_then(|c| part(c).clone())
        };
        for (name, part) in [
            (
                "contact.name",
                (|c: &Contact| &c.name) as fn(&Contact) -> &Option<String>,
            ),
            ("contact.phone", |c: &Contact| &c.phone),
            ("contact.email", |c: &Contact| &c.email),
        ] {
            if contact(self, part) != contact(new, part) {
                fields.push(name.to_owned());
            }
        }
        if self.language != new.language {
            fields.push("language".to_owned());
        }
        if self.attachments != new.attachments {
            fields.push("attachments".to_owned());
            for i in 0..self.attachments.len().max(new.attachments.len()) {
                fields.push(format!("attachments[{i}]"));
            }
        }
        fields
    }
}

/// A draft made ready to seal: the report (position blurred, attachments described after their
/// metadata was stripped), the unit's id and key, and the cleaned attachments.
#[derive(Debug)]
pub struct Prepared {
    /// The report to seal.
    pub report: Report,
    /// The unit it goes to.
    pub unit_id: String,
    /// The unit's encryption key from the directory.
    pub unit_key: EncryptionPublicKey,
    /// The attachments without their metadata, in report order.
    pub attachments: Vec<CleanAttachment>,
    /// For each attachment, whether its metadata could be stripped (false: passed as it was).
    pub stripped: Vec<bool>,
}

impl Draft {
    /// Checks the draft, strips the attachments' metadata, blurs the position, and builds the
    /// report for the case `case_id` with reply key `reply_key`.
    pub fn prepare(
        &self,
        directory: &VerifiedDirectory,
        case_id: CaseId,
        reply_key: EncryptionPublicKey,
    ) -> std::result::Result<Prepared, PrepareError> {
        let errors = self.check(directory);
        if !errors.is_empty() {
            return Err(PrepareError::Fields(errors));
        }
        let unit = self.resolve_unit(directory)?;
        let place = match &self.place {
            Some(DraftPlace::Position {
                latitude,
                longitude,
                precision,
            }) => Some(Place::blur(*latitude, *longitude, *precision)?),
            Some(DraftPlace::Described { text }) => Some(Place::Described { text: text.clone() }),
            None => None,
        };
        let mut infos: Vec<AttachmentInfo> = Vec::with_capacity(self.attachments.len());
        let mut cleaned = Vec::with_capacity(self.attachments.len());
        let mut stripped = Vec::with_capacity(self.attachments.len());
        for (i, a) in self.attachments.iter().enumerate() {
            let invalid = || {
                PrepareError::Fields(vec![FieldError::new(
                    format!("attachments[{i}]"),
                    "field-invalid",
                    None,
                )])
            };
            let clean = if strips(&a.media_type) {
                // Bounded again here: the file may have grown since the check.
                let mut bytes = Vec::new();
                std::fs::File::open(&a.path)
                    .map_err(|_| invalid())?
                    .take(MAX_STRIPPED_IMAGE_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|_| invalid())?;
                if bytes.len() as u64 > MAX_STRIPPED_IMAGE_BYTES {
                    return Err(invalid());
                }
                let out = strip_metadata(&a.media_type, &bytes).map_err(|_| invalid())?;
                stripped.push(out.stripped);
                CleanAttachment::Memory(out.bytes)
            } else {
                stripped.push(false);
                CleanAttachment::File(a.path.clone())
            };
            let index = u16::try_from(i).map_err(|_| Error::invalid("attachments", "too many"))?;
            let mut reader = clean.open().map_err(|_| invalid())?;
            infos.push(attachment::describe(index, &a.name, &a.media_type, &mut reader)?);
            drop(reader);
            cleaned.push(clean);
        }
        let report = Report {
            category: self.category.clone(),
            text: self.text.clone(),
            when: self.when.clone(),
            place,
            people: self.people.clone(),
            contact: self.contact.clone(),
            language: self.language.clone(),
            attachments: infos,
            case_id,
            reply_key,
        };
        report.validate()?;
        Ok(Prepared {
            report,
            unit_id: unit.id.clone(),
            unit_key: unit.encryption_key,
            attachments: cleaned,
            stripped,
        })
    }
}

impl From<PrepareError> for Error {
    fn from(e: PrepareError) -> Self {
        match e {
            PrepareError::Fields(fields) => Error::Draft(fields),
            PrepareError::Other(e) => e,
        }
    }
}

/// Why a draft could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Fields to correct, each with its message id.
    #[error("{} field(s) to correct", .0.len())]
    Fields(Vec<FieldError>),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_changed_fields_name_what_an_edit_touched_longitude_included() {
        // Given a draft with a position, a person and an attachment
        let old = Draft {
            category: "hate-crime".into(),
            text: "x".into(),
            place: Some(DraftPlace::Position {
                latitude: 55.0,
                longitude: 12.0,
                precision: Precision::Town,
            }),
            people: vec![Person {
                name: None,
                description: "a".into(),
            }],
            attachments: vec![DraftAttachment {
                name: "a.jpg".into(),
                media_type: "image/jpeg".into(),
                path: "/tmp/a.jpg".into(),
            }],
            ..Draft::default()
        };
        // Then no edit touches nothing
        assert!(old.changed_fields(&old.clone()).is_empty());
        // And a move east alone touches the place
        let mut moved = old.clone();
        moved.place = Some(DraftPlace::Position {
            latitude: 55.0,
            longitude: 12.5,
            precision: Precision::Town,
        });
        assert_eq!(old.changed_fields(&moved), ["place"]);
        // And a second person, an email and one attachment fewer touch their own fields
        let mut edited = old.clone();
        edited.people.push(Person {
            name: Some("b".into()),
            description: "b".into(),
        });
        edited.contact = Some(Contact {
            email: Some("a@example.org".into()),
            ..Contact::default()
        });
        edited.attachments.clear();
        assert_eq!(
            old.changed_fields(&edited),
            [
                "people",
                "people[1].description",
                "people[1].name",
                "contact.email",
                "attachments",
                "attachments[0]"
            ]
        );
    }
}
