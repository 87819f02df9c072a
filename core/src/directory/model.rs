//! The directory's data model, shared by the signed body and the authority's source file.
//!
//! The two differ only in what must be present: the source may leave out unit keys, the version
//! and the dates, which the signing tool fills in. Rather than two near-identical sets of structs,
//! [`Directory`] and [`Unit`] take a [`Stage`] that says whether those fields are plain values
//! ([`Signable`]) or `Option`s ([`Draft`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::{EncryptionPublicKey, VerifyingKey};
use crate::{Error, Result};

/// The newest directory format this build understands: 2, which adds [`Intake`]. Format 1 (no
/// intake section) is still read and signed, for apps that know only that one.
pub const DIRECTORY_FORMAT: u32 = 2;

/// The formats this build reads, oldest first.
pub const DIRECTORY_FORMATS: [u32; 2] = [1, 2];

/// Text in several languages, keyed by language tag (`"es"`, `"en"`, `"ar"`, `"da"`).
pub type LocalisedText = BTreeMap<String, String>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Signable {}
    impl Sealed for super::Draft {}
}

/// What a slot's value must be: the traits the directory types derive.
pub trait SlotValue: fmt::Debug + Clone + PartialEq + Serialize + DeserializeOwned {}

impl<T: fmt::Debug + Clone + PartialEq + Serialize + DeserializeOwned> SlotValue for T {}

/// Whether the fields the signer fills in (unit keys, version, dates) are required or optional.
pub trait Stage: sealed::Sealed + fmt::Debug + Clone + PartialEq {
    /// `T` itself when required, `Option<T>` when the signer may still fill it in.
    type Slot<T: SlotValue>: SlotValue;
}

/// The stage of a directory ready to sign or just verified: every field present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signable;

impl Stage for Signable {
    type Slot<T: SlotValue> = T;
}

/// The stage of the authority's source file: keys, version and dates may be missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draft;

impl Stage for Draft {
    type Slot<T: SlotValue> = Option<T>;
}

/// The directory the authority publishes: units, hotlines and report categories.
///
/// Use it through [`DirectoryBody`] (the signed content) or [`DirectorySource`] (the file the
/// authority edits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct Directory<S: Stage = Signable> {
    /// The format of this document; [`DIRECTORY_FORMAT`].
    pub format: u32,
    /// Increases with every directory the authority signs; devices refuse to go back.
    pub version: S::Slot<u64>,
    /// When the authority signed it (RFC 3339, UTC).
    pub issued_at: S::Slot<DateTime<Utc>>,
    /// After this moment devices refuse it and must fetch a newer one (RFC 3339, UTC).
    pub expires_at: S::Slot<DateTime<Utc>>,
    /// The units that receive reports.
    pub units: Vec<Unit<S>>,
    /// Telephone lines a citizen can call.
    #[serde(default)]
    pub hotlines: Vec<Hotline>,
    /// What a report can be about.
    pub categories: Vec<Category>,
    /// The intake's public keys and the relays in front of it (format 2; absent in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<Intake>,
}

/// What a device needs to know about the intake itself (format 2): the keys its receipts are
/// signed with, the Oblivious HTTP gateway's key configurations, and the relays that forward to
/// it. Signed by the authority, so neither the server nor anyone on the network can swap them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    /// Ed25519 keys the intake's nodes sign receipts with; more than one while a key is rotated.
    /// A device checks a receipt against the one its batch head names.
    pub receipt_keys: Vec<VerifyingKey>,
    /// Oblivious HTTP key configurations of the intake's gateway (RFC 9458 section 3, one each,
    /// base64url); more than one while a key is rotated.
    #[serde(default, with = "crate::encoding::b64_byte_lists")]
    pub gateway_keys: Vec<Vec<u8>>,
    /// Oblivious HTTP relays that forward to the gateway (`https://` URLs).
    #[serde(default)]
    pub relays: Vec<String>,
}

/// The signed content of a directory: every unit has its keys, the version and dates are set.
pub type DirectoryBody = Directory<Signable>;

/// The authority's editable source: like [`DirectoryBody`] but unit keys, `version`, `issued_at`
/// and `expires_at` may be left out; [`DirectorySource::into_body`] fills them in.
pub type DirectorySource = Directory<Draft>;

/// A police or municipal unit that receives reports for some regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct Unit<S: Stage = Signable> {
    /// Stable identifier: lowercase `a-z`, `0-9` and `-`, 1 to 64 characters.
    pub id: String,
    /// The unit's name per language.
    pub names: LocalisedText,
    /// Regions served, as ISO 3166-1 alpha-2 (`"DK"`) or ISO 3166-2 (`"DK-84"`) codes.
    pub regions: Vec<String>,
    /// Languages in which the unit takes reports (`"es"`, `"ar"`, ...).
    pub languages: Vec<String>,
    /// X25519 public key that reports for this unit are sealed to.
    pub encryption_key: S::Slot<EncryptionPublicKey>,
    /// Ed25519 public key that checks the unit's alerts and replies.
    pub verifying_key: S::Slot<VerifyingKey>,
}

/// A unit as written in the authority's source file, keys possibly missing.
pub type SourceUnit = Unit<Draft>;

/// A telephone line a citizen can call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hotline {
    /// Stable identifier, same rules as a unit id.
    pub id: String,
    /// The line's name per language.
    pub names: LocalisedText,
    /// The number to dial, E.164: `+` then 8 to 15 digits, e.g. `"+4541749090"`.
    pub number: String,
    /// The number as people write it locally, e.g. `"41 74 90 90"`.
    pub display: String,
    /// IANA time zone of the opening hours, e.g. `"Europe/Copenhagen"`.
    pub time_zone: String,
    /// Weekly opening hours; empty means the hours are not published.
    #[serde(default)]
    pub hours: Vec<OpeningRule>,
    /// Languages spoken on the line.
    pub languages: Vec<String>,
    /// Regions the line serves, as for a unit.
    pub regions: Vec<String>,
}

impl Hotline {
    /// The line's time zone, from the zones this build carries: those of the countries the
    /// directory serves (`CHRONO_TZ_TIMEZONE_FILTER` in `.cargo/config.toml`), not the whole
    /// database, to keep the phone library small. A zone outside them is [`Error::NotFound`],
    /// naming the zone; a name not shaped like one is [`Error::Invalid`].
    pub fn tz(&self) -> Result<chrono_tz::Tz> {
        if !is_time_zone_name(&self.time_zone) {
            return Err(Error::invalid("hotline.time_zone", NOT_A_ZONE_NAME));
        }
        chrono_tz::Tz::from_str(&self.time_zone).map_err(|_| {
            Error::NotFound(format!(
                "time zone {} among those this version of the app knows",
                self.time_zone
            ))
        })
    }
}

/// Why a hotline's time zone is refused by its shape.
pub(crate) const NOT_A_ZONE_NAME: &str = "not an IANA time zone name (Area/Location, or UTC)";

/// Whether `name` is shaped like an IANA time zone name: `UTC`, or `Area/Location` (and perhaps
/// a third part), each part a letter then letters, digits, `_`, `-` or `+`, at most 14
/// characters as the database's own rules say. Whether this build knows the zone is another
/// question ([`Hotline::tz`]): a device accepts a directory that names a zone it does not know
/// (the other hotlines and every unit still work), the authority's tool does not sign one.
pub(crate) fn is_time_zone_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let part_ok = |part: &&str| {
        part.len() <= 14
            && part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    };
    name == "UTC" || ((2..=3).contains(&parts.len()) && parts.iter().all(part_ok))
}

/// The line is open on `days` from `opens` until `closes`, local time of the hotline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningRule {
    /// The days this rule applies to, each at most once.
    pub days: Vec<Weekday>,
    /// Opening time, `"HH:MM"`.
    pub opens: TimeOfDay,
    /// Closing time, `"HH:MM"`, later than `opens`; `"24:00"` means until midnight.
    pub closes: TimeOfDay,
}

impl OpeningRule {
    /// A rule for every day of the week.
    pub fn daily(opens: TimeOfDay, closes: TimeOfDay) -> Self {
        OpeningRule {
            days: Weekday::ALL.to_vec(),
            opens,
            closes,
        }
    }
}

/// A day of the week, written in lowercase English (`"monday"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// `"monday"`
    Monday,
    /// `"tuesday"`
    Tuesday,
    /// `"wednesday"`
    Wednesday,
    /// `"thursday"`
    Thursday,
    /// `"friday"`
    Friday,
    /// `"saturday"`
    Saturday,
    /// `"sunday"`
    Sunday,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
}

impl From<chrono::Weekday> for Weekday {
    fn from(day: chrono::Weekday) -> Self {
        Weekday::ALL[day.num_days_from_monday() as usize]
    }
}

impl From<Weekday> for chrono::Weekday {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Monday => chrono::Weekday::Mon,
            Weekday::Tuesday => chrono::Weekday::Tue,
            Weekday::Wednesday => chrono::Weekday::Wed,
            Weekday::Thursday => chrono::Weekday::Thu,
            Weekday::Friday => chrono::Weekday::Fri,
            Weekday::Saturday => chrono::Weekday::Sat,
            Weekday::Sunday => chrono::Weekday::Sun,
        }
    }
}

/// A wall-clock time from `00:00` to `24:00` inclusive, in minutes since midnight; written
/// `"HH:MM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Midnight at the end of the day, `"24:00"`: only meaningful as a closing time.
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(24 * 60);

    /// `hour:minute`, or `None` outside `00:00..=24:00`.
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        let minutes = u16::from(hour) * 60 + u16::from(minute);
        (minute < 60 && minutes <= 24 * 60).then_some(TimeOfDay(minutes))
    }

    /// Minutes since midnight, `0..=1440`.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl FromStr for TimeOfDay {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "time of day",
                format!("{text:?} is not HH:MM from 00:00 to 24:00"),
            )
        };
        let (hour, minute) = text.split_once(':').ok_or_else(bad)?;
        if hour.len() != 2
            || minute.len() != 2
            || !(hour.bytes().chain(minute.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let hour = hour.parse().map_err(|_| bad())?;
        let minute = minute.parse().map_err(|_| bad())?;
        TimeOfDay::new(hour, minute).ok_or_else(bad)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a report can be about, with its label in each language the apps offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Stable identifier, same rules as a unit id (`"hate-crime"`).
    pub id: String,
    /// The label per language; `es`, `en`, `ar` and `da` are required.
    pub labels: LocalisedText,
}

impl<S: Stage> Directory<S> {
    /// The same directory in format 1, without the intake section, for apps that read only
    /// format 1: the authority signs both from one source (see docs/protocol.md, section 10.2).
    pub fn to_format_1(&self) -> Self {
        Directory {
            format: 1,
            intake: None,
            ..self.clone()
        }
    }
}

impl DirectorySource {
    /// Sets the keys of unit `unit_id`, as the authority's tool does after `tipline unit keygen`.
    pub fn set_unit_keys(
        &mut self,
        unit_id: &str,
        encryption_key: EncryptionPublicKey,
        verifying_key: VerifyingKey,
    ) -> Result<()> {
        let unit = self
            .units
            .iter_mut()
            .find(|unit| unit.id == unit_id)
            .ok_or_else(|| Error::NotFound(format!("unit {unit_id}")))?;
        unit.encryption_key = Some(encryption_key);
        unit.verifying_key = Some(verifying_key);
        Ok(())
    }

    /// The body to sign. Values written in the source win; the arguments fill only what it
    /// leaves out (`expires_at` defaults to `issued_at + validity`). Every unit must have its
    /// keys; the result is validated.
    pub fn into_body(
        self,
        version: u64,
        issued_at: DateTime<Utc>,
        validity: Duration,
    ) -> Result<DirectoryBody> {
        let units = self
            .units
            .into_iter()
            .enumerate()
            .map(|(i, unit)| {
                let missing = |field: &str| {
                    Error::invalid(
                        format!("directory.units[{i}].{field}"),
                        format!(
                            "unit {} has no {field}; create one with `tipline unit keygen`",
                            unit.id
                        ),
                    )
                };
                let encryption_key = unit.encryption_key.ok_or_else(|| missing("encryption_key"))?;
                let verifying_key = unit.verifying_key.ok_or_else(|| missing("verifying_key"))?;
                Ok(Unit {
                    id: unit.id,
                    names: unit.names,
                    regions: unit.regions,
                    languages: unit.languages,
                    encryption_key,
                    verifying_key,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let issued_at = self.issued_at.unwrap_or(issued_at);
        let expires_at = match self.expires_at {
            Some(expires_at) => expires_at,
            None => issued_at
                .checked_add_signed(validity)
                .ok_or_else(|| Error::invalid("directory.expires_at", "validity is out of range"))?,
        };
        let body = DirectoryBody {
            format: self.format,
            version: self.version.unwrap_or(version),
            issued_at,
            expires_at,
            units,
            hotlines: self.hotlines,
            categories: self.categories,
            intake: self.intake,
        };
        body.validate()?;
        Ok(body)
    }
}
