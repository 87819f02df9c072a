//! The report a citizen files: what, when, where, who, and how to answer. This is the plaintext
//! that is sealed on the device; the server never sees it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::EncryptionPublicKey;
use crate::{Error, Result};

/// Longest free text, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Longest short field (a name, a place, a contact detail), in characters.
pub const MAX_SHORT_CHARS: usize = 500;
/// Most people a report may describe.
pub const MAX_PEOPLE: usize = 20;
/// Most attachments a report may carry.
pub const MAX_ATTACHMENTS: usize = 10;
/// Largest attachment, in bytes (a few minutes of phone video).
pub const MAX_ATTACHMENT_BYTES: u64 = 512 * 1024 * 1024;

/// A 16-byte random identifier, shown as lowercase hex.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(#[serde(with = "crate::encoding::hex_array")] pub [u8; 16]);

        impl $name {
            /// A fresh random id from `rng`.
            pub fn random_with_rng(rng: &mut dyn crate::crypto::RandomSource) -> Result<Self> {
                Ok(Self(crate::crypto::random::random_array(rng)?))
            }

            /// A fresh random id.
            pub fn random() -> Result<Self> {
                Self::random_with_rng(&mut crate::crypto::OsRandom::new())
            }

            /// Parses 32 hex digits.
            pub fn parse(text: &str) -> Result<Self> {
                let mut out = [0u8; 16];
                hex::decode_to_slice(text.trim(), &mut out).map_err(|_| {
                    Error::invalid(stringify!($name), "expected 32 hexadecimal digits")
                })?;
                Ok(Self(out))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::encoding::with_hex(&self.0, |text| f.write_str(text))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

id_type!(
    /// Identifies a report; also its idempotency key on delivery.
    ReportId
);
id_type!(
    /// Identifies a case (a report and its conversation); derived from the codename.
    CaseId
);
id_type!(
    /// Identifies one message in a case conversation.
    MessageId
);

/// When it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum When {
    /// At a known moment.
    Exact {
        /// The moment.
        at: DateTime<Utc>,
    },
    /// Some time between two moments.
    Between {
        /// The earliest it can have been.
        from: DateTime<Utc>,
        /// The latest it can have been.
        to: DateTime<Utc>,
    },
}

/// How precisely a location is kept; the device snaps the position to a grid of this size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// About 100 m: the street.
    Street,
    /// About 1 km: the neighbourhood.
    Neighbourhood,
    /// About 10 km: the town.
    Town,
    /// About 50 km: the region.
    Region,
}

impl Precision {
    /// The grid size in metres.
    pub fn metres(self) -> f64 {
        match self {
            Precision::Street => 100.0,
            Precision::Neighbourhood => 1_000.0,
            Precision::Town => 10_000.0,
            Precision::Region => 50_000.0,
        }
    }
}

/// Where it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Place {
    /// A position already blurred on the device: the centre of the grid cell it fell in.
    Blurred {
        /// Latitude of the cell centre, degrees.
        latitude: f64,
        /// Longitude of the cell centre, degrees.
        longitude: f64,
        /// The grid size it was snapped to.
        precision: Precision,
    },
    /// A place in the reporter's words ("the mosque on X street", "a Telegram channel").
    Described {
        /// The description.
        text: String,
    },
}

const METRES_PER_DEGREE: f64 = 111_320.0;

impl Place {
    /// Blurs an exact position to `precision` by snapping it to the centre of its grid cell.
    /// Snapping (rather than random noise) means several reports from one spot cannot be
    /// averaged back to it.
    pub fn blur(latitude: f64, longitude: f64, precision: Precision) -> Result<Place> {
        check_position(latitude, longitude)?;
        let lat_step = precision.metres() / METRES_PER_DEGREE;
        let lat = snap(latitude, lat_step).clamp(-90.0, 90.0);
        // Longitude cells are as wide in metres as latitude cells, measured at the cell's centre.
        let lon_step = (lat_step / lat.to_radians().cos().max(0.01)).min(360.0);
        let lon = snap(longitude, lon_step).clamp(-180.0, 180.0);
        Ok(Place::Blurred {
            latitude: lat,
            longitude: lon,
            precision,
        })
    }
}

fn snap(value: f64, step: f64) -> f64 {
    (value / step).floor() * step + step / 2.0
}

fn check_position(latitude: f64, longitude: f64) -> Result<()> {
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(Error::invalid(
            "report.place.latitude",
            "must be between -90 and 90",
        ));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(Error::invalid(
            "report.place.longitude",
            "must be between -180 and 180",
        ));
    }
    Ok(())
}

/// Someone involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// A name or nickname, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What they look like, what they did, how the reporter knows them.
    pub description: String,
}

/// How the unit may reach the reporter outside the app, if the reporter wants that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// The reporter's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// An email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One attachment as the report describes it; the bytes travel separately, encrypted in chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInfo {
    /// Its position in the report, from 0; part of its key derivation.
    pub index: u16,
    /// The file name, stripped of any directory.
    pub name: String,
    /// Its media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Its size in bytes (after metadata stripping).
    pub size: u64,
    /// SHA-256 of its bytes (after metadata stripping).
    #[serde(with = "crate::encoding::hex_array")]
    pub sha256: [u8; 32],
}

/// A report, as sealed to a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// A category id from the directory.
    pub category: String,
    /// What happened, in the reporter's words.
    pub text: String,
    /// When it happened, if the reporter says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    /// Where it happened, if the reporter says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
    /// The people involved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    /// How to reach the reporter, only if they chose to give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// The language the report is written in (a BCP 47 tag such as `da` or `es`).
    pub language: String,
    /// The attachments that travel with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentInfo>,
    /// The case this report opens.
    pub case_id: CaseId,
    /// The key the unit seals its replies to.
    pub reply_key: EncryptionPublicKey,
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("is longer than {max} characters")));
    }
    Ok(())
}

/// A rule a field breaks, for the rules a draft on the device and a sealed report share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The field is empty but required.
    Required,
    /// The text is longer than this many characters.
    TooLong(usize),
    /// The list has more than this many entries.
    TooMany(usize),
}

impl Problem {
    /// The reason as the report's own validation words it.
    pub(crate) fn reason(self) -> String {
        match self {
            Problem::Required => "is required".into(),
            Problem::TooLong(max) => format!("is longer than {max} characters"),
            Problem::TooMany(max) => format!("at most {max}"),
        }
    }
}

fn length_problem(value: &str, max: usize, required: bool) -> Option<Problem> {
    if required && value.trim().is_empty() {
        Some(Problem::Required)
    } else if value.chars().count() > max {
        Some(Problem::TooLong(max))
    } else {
        None
    }
}

/// The rules on the people involved and the contact details, in field order, with field names
/// such as `people[1].description` and `contact.email`: one copy for the draft and the report.
pub(crate) fn people_and_contact_problems(
    people: &[Person],
    contact: Option<&Contact>,
) -> Vec<(String, Problem)> {
    let mut problems = Vec::new();
    if people.len() > MAX_PEOPLE {
        problems.push(("people".to_owned(), Problem::TooMany(MAX_PEOPLE)));
    }
    for (i, person) in people.iter().enumerate() {
        if let Some(p) = length_problem(&person.description, MAX_SHORT_CHARS, true) {
            problems.push((format!("people[{i}].description"), p));
        }
        if let Some(p) = person
            .name
            .as_deref()
            .and_then(|n| length_problem(n, MAX_SHORT_CHARS, false))
        {
            problems.push((format!("people[{i}].name"), p));
        }
    }
    if let Some(contact) = contact {
        for (name, value) in [
            ("name", &contact.name),
            ("phone", &contact.phone),
            ("email", &contact.email),
        ] {
            if let Some(p) = value
                .as_deref()
                .and_then(|v| length_problem(v, MAX_SHORT_CHARS, false))
            {
                problems.push((format!("contact.{name}"), p));
            }
        }
    }
    problems
}

impl Report {
    /// Checks every field against the model's rules; the error names the first field at fault.
    pub fn validate(&self) -> Result<()> {
        check_text("report.category", &self.category, 64, true)?;
        check_text("report.text", &self.text, MAX_TEXT_CHARS, true)?;
        let lang_ok = (2..=16).contains(&self.language.len())
            && self
                .language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !lang_ok {
            return Err(Error::invalid(
                "report.language",
                "must be a language tag such as `da`",
            ));
        }
        if let Some(When::Between { from, to }) = &self.when {
            if from > to {
                return Err(Error::invalid("report.when", "`from` is after `to`"));
            }
        }
        match &self.place {
            Some(Place::Blurred {
                latitude, longitude, ..
            }) => check_position(*latitude, *longitude)?,
            Some(Place::Described { text }) => check_text("report.place.text", text, MAX_SHORT_CHARS, true)?,
            None => {}
        }
        if let Some((field, problem)) =
            people_and_contact_problems(&self.people, self.contact.as_ref()).first()
        {
            return Err(Error::invalid(format!("report.{field}"), problem.reason()));
        }
        self.validate_attachments()
    }

    fn validate_attachments(&self) -> Result<()> {
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(Error::invalid(
                "report.attachments",
                format!("at most {MAX_ATTACHMENTS}"),
            ));
        }
        for (i, a) in self.attachments.iter().enumerate() {
            let field = format!("report.attachments[{i}]");
            if usize::from(a.index) != i {
                return Err(Error::invalid(
                    format!("{field}.index"),
                    "must equal its position",
                ));
            }
            check_text(&format!("{field}.name"), &a.name, 200, true)?;
            if a.name.contains(['/', '\\', '\0']) {
                return Err(Error::invalid(
                    format!("{field}.name"),
                    "must be a bare file name",
                ));
            }
            let media_ok = a.media_type.len() <= 100
                && a.media_type
                    .split_once('/')
                    .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty());
            if !media_ok {
                return Err(Error::invalid(
                    format!("{field}.media_type"),
                    "must look like `image/jpeg`",
                ));
            }
            if a.size > MAX_ATTACHMENT_BYTES {
                return Err(Error::invalid(
                    format!("{field}.size"),
                    format!("larger than {} MiB", MAX_ATTACHMENT_BYTES / (1024 * 1024)),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_blur_snaps_to_cell_centre_within_precision() {
        // Given a position in Copenhagen, when blurred to the neighbourhood,
        // then the result is within one cell of it and identical for a nearby position.
        let a = Place::blur(55.6761, 12.5683, Precision::Neighbourhood).unwrap();
        let b = Place::blur(55.6763, 12.5685, Precision::Neighbourhood).unwrap();
        assert_eq!(a, b);
        let Place::Blurred {
            latitude, longitude, ..
        } = a
        else {
            panic!("not blurred")
        };
        assert!((latitude - 55.6761).abs() * METRES_PER_DEGREE <= 1_000.0);
        assert!((longitude - 12.5683).abs() * METRES_PER_DEGREE * latitude.to_radians().cos() <= 1_000.0);
        assert_ne!((latitude, longitude), (55.6761, 12.5683));
    }

    #[test]
    fn test_blur_refuses_impossible_positions() {
        assert!(Place::blur(91.0, 0.0, Precision::Town).is_err());
        assert!(Place::blur(0.0, -181.0, Precision::Town).is_err());
        assert!(Place::blur(f64::NAN, 0.0, Precision::Town).is_err());
    }
}
