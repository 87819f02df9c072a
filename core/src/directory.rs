//! The directory: which units receive reports for which regions, with their keys, the hotlines a
//! citizen can call and the categories a report can have.
//!
//! The authority signs it offline with its Ed25519 key; the app pins the authority's public key,
//! so the server that serves the directory can neither forge nor alter it. A device checks the
//! signature, the expiry and that the version never goes back before it seals anything to a key
//! found here, then looks up the unit for the reporter's region.
//!
//! - [`model`]: the types, shared by the signed [`DirectoryBody`] and the authority's
//!   [`DirectorySource`].
//! - [`validate`]: the rules and size limits.
//! - [`verify`]: signing, verifying and lookups ([`SignedDirectory`], [`VerifiedDirectory`]).

pub mod model;
pub mod validate;
pub mod verify;

pub use model::{
    Category, Directory, DirectoryBody, DirectorySource, Draft, Hotline, Intake, LocalisedText, OpeningRule,
    Signable, SlotValue, SourceUnit, Stage, TimeOfDay, Unit, Weekday, DIRECTORY_FORMAT, DIRECTORY_FORMATS,
};
pub use validate::{
    gateway_key_id, MAX_CATEGORIES, MAX_HOTLINES, MAX_ID_CHARS, MAX_INTAKE_KEYS, MAX_LIST_LEN,
    MAX_TEXT_CHARS, MAX_UNITS, MAX_URL_CHARS, REQUIRED_LABEL_LANGUAGES,
};
pub use verify::{SignedDirectory, VerifiedDirectory, CLOCK_SKEW, MAX_PAYLOAD_LEN, MAX_SIGNED_JSON_LEN};

use crate::Result;

/// The sample source shipped with the crate: the Spanish and Danish units, hotlines and report
/// categories from public sources, without keys. The authority tool starts from it; tests fill in
/// fresh keys.
pub fn sample_source() -> Result<DirectorySource> {
    Ok(serde_json::from_str(include_str!(
        "../data/sample-directory.json"
    ))?)
}
