//! The report categories' labels, from the authority's signed directory: a report names its
//! category by id (`radicalisation`), an officer reads it by its label in their own language
//! (else in English, else the id). The directory is fetched from the intake and verified against
//! the authority's key; a desk started without that key, or before it could fetch one, shows the
//! ids. It is fetched at start and again every [`REFRESH`], sooner while none verified yet.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use chrono::Utc;
use tipline_core::directory::{Category, LocalisedText, SignedDirectory};
use tokio::task::JoinHandle;

use crate::error::{DeskError, Result};
use crate::state::AppState;

/// How often the directory is read again.
pub const REFRESH: Duration = Duration::from_secs(3600);
/// How soon to try again while no directory has verified.
const RETRY: Duration = Duration::from_secs(30);

/// The labels of every category the directory names, by category id.
#[derive(Debug, Default)]
pub struct Categories(RwLock<BTreeMap<String, LocalisedText>>);

impl Categories {
    /// Takes the categories of a verified directory, in place of those held.
    pub fn set(&self, categories: &[Category]) {
        let labels = categories
            .iter()
            .map(|c| (c.id.clone(), c.labels.clone()))
            .collect();
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = labels;
    }

    /// Whether a directory gave labels.
    pub fn is_empty(&self) -> bool {
        self.0.read().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// The label of category `id` in `language`, else in English, else the id itself.
    pub fn label(&self, id: &str, language: &str) -> String {
        let labels = self.0.read().unwrap_or_else(|p| p.into_inner());
        labels
            .get(id)
            .and_then(|l| l.get(language).or_else(|| l.get("en")))
            .filter(|label| !label.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }
}

/// Reads the directory the intake serves, verifies it against the authority's key, and takes
/// its categories. An error if the desk has no authority key, the intake has no directory, or
/// it does not verify.
pub async fn refresh(state: &AppState) -> Result<()> {
    let Some(authority) = &state.config.authority else {
        return Err(DeskError::invalid(
            "directory",
            "no authority key (--authority-pub) to verify it with",
        ));
    };
    let json = state
        .desk
        .client()
        .api()
        .directory()
        .await
        .map_err(tipline_core::Error::from)?
        .ok_or_else(|| DeskError::NotFound("a directory at the intake".into()))?;
    let directory = SignedDirectory::from_json(&json)?.verify(authority, Utc::now(), None)?;
    state.categories.set(directory.categories());
    Ok(())
}

/// Keeps the labels fresh for the life of the process: at once, then every [`REFRESH`] (every
/// [`RETRY`] while none verified). Does nothing on a desk without the authority's key.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        if state.config.authority.is_none() {
            return;
        }
        loop {
            if let Err(e) = refresh(&state).await {
                tracing::warn!(error = %e, "category labels not read from the directory");
            }
            let wait = if state.categories.is_empty() {
                RETRY
            } else {
                REFRESH
            };
            let mut closing = state.closing();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = closing.wait_for(|closing| *closing) => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_label_falls_back_to_english_then_to_the_id() {
        let categories = Categories::default();
        assert_eq!(categories.label("radicalisation", "da"), "radicalisation");
        let labels = |pairs: &[(&str, &str)]| -> LocalisedText {
            pairs
                .iter()
                .map(|(l, t)| ((*l).to_owned(), (*t).to_owned()))
                .collect()
        };
        categories.set(&[
            Category {
                id: "radicalisation".into(),
                labels: labels(&[("en", "Radicalisation"), ("da", "Radikalisering")]),
            },
            Category {
                id: "hate-crime".into(),
                labels: labels(&[("da", "Hadforbrydelse")]),
            },
        ]);
        assert_eq!(categories.label("radicalisation", "da"), "Radikalisering");
        assert_eq!(categories.label("radicalisation", "ar"), "Radicalisation");
        assert_eq!(categories.label("hate-crime", "es"), "hate-crime");
        assert_eq!(categories.label("unknown", "en"), "unknown");
    }
}
