//! Writing a report on the device: the draft a screen edits, checked field by field against the
//! model's rules and the directory, then turned into a report whose photos have lost their
//! metadata and whose position has been blurred, ready to seal.

use serde::{Deserialize, Serialize};

use crate::attachment;
use crate::directory::VerifiedDirectory;
use crate::keys::EncryptionPublicKey;
use crate::l10n::Localizer;
use crate::media::strip_metadata;
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

/// A file the reporter attaches, as bytes (photos are small enough; the outbox encrypts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftAttachment {
    /// The file name.
    pub name: String,
    /// Its media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Its bytes, with metadata still in.
    pub bytes: Vec<u8>,
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
            if a.bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
                errors.push(FieldError::new(
                    format!("attachments[{i}]"),
                    "attachment-too-large",
                    Some(MAX_ATTACHMENT_BYTES / (1024 * 1024)),
                ));
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

/// A draft made ready to seal: the report (position blurred, attachments described after their
/// metadata was stripped), the unit's id and key, and the cleaned attachment bytes.
#[derive(Debug)]
pub struct Prepared {
    /// The report to seal.
    pub report: Report,
    /// The unit it goes to.
    pub unit_id: String,
    /// The unit's encryption key from the directory.
    pub unit_key: EncryptionPublicKey,
    /// The attachments without their metadata, in report order.
    pub attachments: Vec<Vec<u8>>,
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
            let out = strip_metadata(&a.media_type, &a.bytes).map_err(|_| {
                PrepareError::Fields(vec![FieldError::new(
                    format!("attachments[{i}]"),
                    "field-invalid",
                    None,
                )])
            })?;
            let index = u16::try_from(i).map_err(|_| Error::invalid("attachments", "too many"))?;
            infos.push(attachment::describe(
                index,
                &a.name,
                &a.media_type,
                &mut &out.bytes[..],
            )?);
            stripped.push(out.stripped);
            cleaned.push(out.bytes);
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
