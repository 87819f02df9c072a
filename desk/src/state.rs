//! The desk's shared state: the unit's [`Desk`] (store, keys, intake connection), the team's data
//! loaded from the store into memory, the sessions, and the channel that tells open pages that
//! something changed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::Serialize;
use tipline_core::desk::{Desk, DeskStore};
use tipline_core::keys::VerifyingKey;
use tipline_core::report::ReportId;
use tokio::sync::broadcast::{self, error::TryRecvError};
use tokio::sync::watch;

use crate::accounts::{self, Account};
use crate::audit::{self, AuditEntry};
use crate::auth::clock::Clock;
use crate::auth::password::HashCost;
use crate::auth::ratelimit::Limiter;
use crate::auth::sessions::{Expiry, Sessions};
use crate::categories::Categories;
use crate::error::{DeskError, Result};
use crate::index::Index;
use crate::l10n::Catalog;
use crate::team::{self, CaseData};

/// How long a reading recorded in the audit log covers the same officer's later reads of the
/// same thing (an open page's refreshes, a player's ranges): as long as a session lasts.
const READING_MEMORY: i64 = crate::auth::sessions::ABSOLUTE;
/// Readings remembered at once; past that, older ones are forgotten (and so recorded again).
const MAX_READINGS: usize = 10_000;

/// Change notices held for a slow listener before it is told it fell behind.
const EVENTS: usize = 4096;

/// What kind of change a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A report arrived or was stored again.
    Report,
    /// A report's conversation changed.
    Messages,
    /// A report's status, labels, notes or assignee changed.
    Team,
}

/// "Something changed": a report id and a kind, never content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The report.
    pub report: String,
    /// What changed.
    pub kind: ChangeKind,
}

/// How the desk runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Argon2id cost of new password hashes.
    pub hash_cost: HashCost,
    /// The issuer named in authenticator apps.
    pub issuer: String,
    /// Where time comes from.
    pub clock: Clock,
    /// The authority's public key, to verify the directory a transfer needs.
    pub authority: Option<VerifyingKey>,
    /// When sessions expire.
    pub sessions: Expiry,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hash_cost: HashCost::default(),
            issuer: "Tipline Desk".into(),
            clock: Clock::System,
            authority: None,
            sessions: Expiry::default(),
        }
    }
}

/// The state every view shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The unit's desk.
    pub desk: Desk,
    /// How it runs.
    pub config: Config,
    /// Every language's messages.
    pub catalog: Arc<Catalog>,
    /// Live sessions.
    pub sessions: Sessions,
    /// Sign-in bounds.
    pub limiter: Limiter,
    /// The report categories' labels, from the directory.
    pub categories: Categories,
    accounts: RwLock<BTreeMap<String, Account>>,
    cases: RwLock<HashMap<ReportId, CaseData>>,
    index: RwLock<Index>,
    /// The index's own receiver of change notices: whoever changes a report (an action here,
    /// the receiving loop) only publishes, and the index reads again what changed before it
    /// is next used.
    index_feed: Mutex<broadcast::Receiver<Change>>,
    events: broadcast::Sender<Change>,
    closing: watch::Sender<bool>,
    refusals: Mutex<audit::RefusalBudget>,
    /// Readings recorded lately, by who, what and which, with when (see
    /// [`AppState::audit_reading`]).
    readings: Mutex<HashMap<String, i64>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// Every account in `store`.
pub fn load_accounts(store: &DeskStore) -> Result<BTreeMap<String, Account>> {
    store
        .documents(accounts::KIND)?
        .into_iter()
        .map(|(id, bytes)| Ok((id, serde_json::from_slice(&bytes)?)))
        .collect()
}

/// Stores `account`.
pub fn store_account(store: &DeskStore, account: &Account) -> Result<()> {
    let json = zeroize::Zeroizing::new(serde_json::to_vec(account)?);
    Ok(store.put_document(accounts::KIND, &account.name, &json)?)
}

impl AppState {
    /// The state of `desk`, with the team's data loaded from its store.
    pub fn open(desk: Desk, config: Config) -> Result<AppState> {
        let store = desk.store();
        let accounts = load_accounts(store)?;
        let mut cases = HashMap::new();
        for (id, bytes) in store.documents(team::KIND)? {
            let id = ReportId::parse(&id)?;
            cases.insert(id, serde_json::from_slice(&bytes)?);
        }
        let index = Index::load(store)?;
        let (events, index_feed) = broadcast::channel(EVENTS);
        let sessions = Sessions::new(config.sessions);
        Ok(AppState(Arc::new(Inner {
            desk,
            config,
            catalog: Arc::new(Catalog::load()),
            sessions,
            limiter: Limiter::default(),
            categories: Categories::default(),
            accounts: RwLock::new(accounts),
            cases: RwLock::new(cases),
            index: RwLock::new(index),
            index_feed: Mutex::new(index_feed),
            events,
            closing: watch::Sender::new(false),
            refusals: Mutex::default(),
            readings: Mutex::default(),
        })))
    }

    /// The store.
    pub fn store(&self) -> &DeskStore {
        self.desk.store()
    }

    /// Unix seconds now, by the desk's clock.
    pub fn now(&self) -> i64 {
        self.config.clock.now()
    }

    /// Records an audit entry. A failure to record is logged; the caller decides whether the
    /// action goes on (actions that change data go through [`AppState::audit_or_fail`]).
    pub fn audit(&self, entry: AuditEntry) {
        self.count_refusals();
        if let Err(e) = audit::append(self.store(), &entry) {
            tracing::error!(error = %e, action = %entry.action, "audit entry not recorded");
        }
    }

    /// Records the refusal of a request that names no signed-in account (a form with no
    /// session, a sign-in refused by the limits), within [`audit::RefusalBudget`]'s bound:
    /// past it, refusals are counted, and the count is recorded when the minute ends.
    pub fn audit_refusal(&self, entry: AuditEntry) {
        let (write, ended) = self.refusals().refusal(self.now());
        for entry in ended.iter().chain(write.then_some(&entry)) {
            if let Err(e) = audit::append(self.store(), entry) {
                tracing::error!(error = %e, action = %entry.action, "audit entry not recorded");
            }
        }
    }

    fn refusals(&self) -> std::sync::MutexGuard<'_, audit::RefusalBudget> {
        self.refusals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that an officer read something (`entry`: who, what, which), or fails, so that
    /// nothing is shown unrecorded. With `again`, it is recorded every time (an officer opening
    /// a report's page); otherwise only if the same reading was not recorded within the last
    /// [`READING_MEMORY`] seconds (the open page's refreshes, a player's further ranges, which
    /// would otherwise fill the log), so that no way of reading goes unrecorded.
    pub fn audit_reading(&self, entry: AuditEntry, again: bool) -> Result<()> {
        let key = [
            entry.actor.as_deref().unwrap_or(""),
            &entry.action,
            entry.target.as_deref().unwrap_or(""),
            entry.detail.as_deref().unwrap_or(""),
        ]
        .join("\n");
        let now = self.now();
        let recorded = || {
            let readings = self.readings.lock().unwrap_or_else(|p| p.into_inner());
            readings.get(&key).is_some_and(|&at| now - at < READING_MEMORY)
        };
        if !again && recorded() {
            return Ok(());
        }
        self.audit_or_fail(entry)?;
        let mut readings = self.readings.lock().unwrap_or_else(|p| p.into_inner());
        if readings.len() >= MAX_READINGS && !readings.contains_key(&key) {
            readings.retain(|_, at| now - *at < READING_MEMORY);
            if readings.len() >= MAX_READINGS {
                readings.clear();
            }
        }
        readings.insert(key, now);
        Ok(())
    }

    /// Records how many refusals went unrecorded in a minute that has ended, if any.
    fn count_refusals(&self) {
        let ended = self.refusals().end_window(self.now());
        if let Some(entry) = ended {
            if let Err(e) = audit::append(self.store(), &entry) {
                tracing::error!(error = %e, action = %entry.action, "audit entry not recorded");
            }
        }
    }

    /// Records several audit entries in one commit (the receiving loop's, for a batch of
    /// reports). A failure to record is logged, as for [`AppState::audit`].
    pub fn audit_all(&self, entries: &[AuditEntry]) {
        if entries.is_empty() {
            return;
        }
        if let Err(e) = audit::append_all(self.store(), entries) {
            tracing::error!(error = %e, entries = entries.len(), "audit entries not recorded");
        }
    }

    /// Records an audit entry, or fails.
    pub fn audit_or_fail(&self, entry: AuditEntry) -> Result<()> {
        self.count_refusals();
        audit::append(self.store(), &entry).map(|_| ())
    }

    /// The account `name`.
    pub fn account(&self, name: &str) -> Option<Account> {
        read(&self.accounts).get(name).cloned()
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Vec<Account> {
        read(&self.accounts).values().cloned().collect()
    }

    /// Stores `account` and keeps it in memory.
    pub fn save_account(&self, account: Account) -> Result<()> {
        store_account(self.store(), &account)?;
        write(&self.accounts).insert(account.name.clone(), account);
        Ok(())
    }

    /// Changes the account `name` with `f` and stores it.
    pub fn update_account(&self, name: &str, f: impl FnOnce(&mut Account)) -> Result<Account> {
        let mut accounts = write(&self.accounts);
        let account = accounts
            .get_mut(name)
            .ok_or_else(|| DeskError::NotFound(format!("account {name}")))?;
        let mut changed = account.clone();
        f(&mut changed);
        store_account(self.store(), &changed)?;
        *account = changed.clone();
        Ok(changed)
    }

    /// The team's data about a report.
    pub fn case(&self, id: &ReportId) -> CaseData {
        read(&self.cases).get(id).cloned().unwrap_or_default()
    }

    /// Changes the team's data about a report with `f`, stores it, and tells open pages.
    pub fn update_case<T>(&self, id: ReportId, f: impl FnOnce(&mut CaseData) -> Result<T>) -> Result<T> {
        let out = {
            let mut cases = write(&self.cases);
            let mut data = cases.get(&id).cloned().unwrap_or_default();
            let out = f(&mut data)?;
            let json = serde_json::to_vec(&data)?;
            self.store().put_document(team::KIND, &id.to_string(), &json)?;
            cases.insert(id, data);
            out
        };
        self.publish(id, ChangeKind::Team);
        Ok(out)
    }

    /// Reads with the report index and the team's data, after reading again the reports that
    /// changed since the last time.
    pub fn with_index<T>(&self, f: impl FnOnce(&Index, &HashMap<ReportId, CaseData>) -> T) -> Result<T> {
        self.catch_up()?;
        let index = read(&self.index);
        let cases = read(&self.cases);
        Ok(f(&index, &cases))
    }

    fn catch_up(&self) -> Result<()> {
        let mut feed = self.index_feed.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match feed.try_recv() {
                Ok(change) => {
                    if let Ok(id) = ReportId::parse(&change.report) {
                        write(&self.index).refresh(self.store(), id)?;
                    }
                }
                Err(TryRecvError::Lagged(_)) => {
                    // More changed than the channel holds: read everything again.
                    let index = Index::load(self.store())?;
                    *write(&self.index) = index;
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Ok(()),
            }
        }
    }

    /// A report or its conversation changed in the store: tells open pages, and the index reads
    /// it again before it is next used. The receiving loop may call this or publish the same
    /// [`Change`] on [`AppState::events`].
    pub fn report_changed(&self, id: ReportId, kind: ChangeKind) {
        self.publish(id, kind);
    }

    /// Tells open pages that report `id` changed.
    pub fn publish(&self, id: ReportId, kind: ChangeKind) {
        // No page listening is not an error.
        let _ = self.events.send(Change {
            report: id.to_string(),
            kind,
        });
    }

    /// A receiver of change notices.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.events.subscribe()
    }

    /// Tells open event streams that the desk is shutting down, so that they end and a graceful
    /// shutdown does not wait for browsers to close them.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A receiver that sees `true` once the desk is shutting down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The channel change notices go out on, for the receiving loop to publish to.
    pub fn events(&self) -> broadcast::Sender<Change> {
        self.events.clone()
    }
}
