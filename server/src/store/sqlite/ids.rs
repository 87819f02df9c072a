//! The id lookups, kept in memory: report id → row and case id → row.
//!
//! Report and case ids are random 16-byte values chosen by clients. Indexed in SQLite, every
//! report would add entries at random places in three B-trees, and every group commit would
//! write (and later checkpoint) one random page per entry: that was most of the store's cost
//! per report. So the tables are laid out in arrival order (`seq`), every other index follows
//! that order, and the two lookups from a client's id to its row live here, loaded from the
//! tables when the store opens (about 50 bytes per report and per case).
//!
//! Only the writer thread changes the maps, inside its transactions. A change is visible at once
//! (a reader that finds a row that is not committed yet reads nothing, as if the id were
//! unknown) and is journaled, so that a job rolled back to its savepoint, or a batch whose
//! commit failed, takes its changes back. Every query also matches the id stored in the row,
//! so a lookup can never reach another report's or case's row.
//!
//! The maps are this process's own: `Lock` keeps a second server from writing the same file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::{Mutex, PoisonError, RwLock};

use rusqlite::Connection;

use super::codec::{array, OpError, OpResult};

/// A row's `seq`.
pub(super) type Seq = i64;

/// Which map an entry is in.
#[derive(Debug, Clone, Copy)]
enum Map {
    Reports,
    Cases,
}

/// How to take a change back.
#[derive(Debug)]
enum Undo {
    /// The entry was added: remove it.
    Added(Map, [u8; 16]),
    /// The entry was removed: put it back.
    Removed(Map, [u8; 16], Seq),
}

/// The in-memory lookups, shared by the writer and the readers.
#[derive(Debug, Default)]
pub(super) struct IdMaps {
    reports: RwLock<HashMap<[u8; 16], Seq>>,
    cases: RwLock<HashMap<[u8; 16], Seq>>,
    /// Changes of the writer's open transaction, oldest first.
    journal: Mutex<Vec<Undo>>,
}

impl IdMaps {
    /// Loads both maps from the tables.
    pub(super) fn load(conn: &Connection) -> OpResult<IdMaps> {
        let ids = IdMaps::default();
        for (map, sql) in [
            (Map::Reports, "SELECT seq, report_id FROM reports"),
            (Map::Cases, "SELECT seq, case_id FROM cases"),
        ] {
            let mut statement = conn.prepare(sql)?;
            let mut rows = statement.query([])?;
            let mut entries = ids.map(map).write().unwrap_or_else(PoisonError::into_inner);
            while let Some(row) = rows.next()? {
                let id: [u8; 16] = array(row.get::<_, Vec<u8>>(1)?)?;
                if entries.insert(id, row.get(0)?).is_some() {
                    return Err(OpError::Data("an id is stored twice"));
                }
            }
        }
        Ok(ids)
    }

    fn map(&self, map: Map) -> &RwLock<HashMap<[u8; 16], Seq>> {
        match map {
            Map::Reports => &self.reports,
            Map::Cases => &self.cases,
        }
    }

    fn get(&self, map: Map, id: &[u8; 16]) -> Option<Seq> {
        self.map(map)
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .copied()
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Vec<Undo>> {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, map: Map, id: [u8; 16], seq: Seq) {
        let previous = self
            .map(map)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, seq);
        let mut journal = self.journal();
        if let Some(previous) = previous {
            journal.push(Undo::Removed(map, id, previous));
        }
        journal.push(Undo::Added(map, id));
    }

    fn remove(&self, map: Map, id: [u8; 16]) {
        let previous = self
            .map(map)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(previous) = previous {
            self.journal().push(Undo::Removed(map, id, previous));
        }
    }

    /// The row of a report id, if known.
    pub(super) fn report(&self, id: &[u8; 16]) -> Option<Seq> {
        self.get(Map::Reports, id)
    }

    /// The row of a case id, if known.
    pub(super) fn case(&self, id: &[u8; 16]) -> Option<Seq> {
        self.get(Map::Cases, id)
    }

    /// Records a report row just inserted (writer).
    pub(super) fn add_report(&self, id: [u8; 16], seq: Seq) {
        self.add(Map::Reports, id, seq);
    }

    /// Records a case row just inserted (writer).
    pub(super) fn add_case(&self, id: [u8; 16], seq: Seq) {
        self.add(Map::Cases, id, seq);
    }

    /// Forgets a report row just deleted (writer).
    pub(super) fn remove_report(&self, id: [u8; 16]) {
        self.remove(Map::Reports, id);
    }

    /// Forgets a case row just deleted (writer).
    pub(super) fn remove_case(&self, id: [u8; 16]) {
        self.remove(Map::Cases, id);
    }

    /// A point to roll back to: the changes made so far in the open transaction.
    pub(super) fn mark(&self) -> usize {
        self.journal().len()
    }

    /// Takes back the changes made since `mark`, newest first.
    pub(super) fn roll_back_to(&self, mark: usize) {
        let undone: Vec<Undo> = {
            let mut journal = self.journal();
            let from = mark.min(journal.len());
            journal.drain(from..).collect()
        };
        for undo in undone.into_iter().rev() {
            match undo {
                Undo::Added(map, id) => {
                    self.map(map)
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                }
                Undo::Removed(map, id, seq) => {
                    self.map(map)
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id, seq);
                }
            }
        }
    }

    /// The open transaction committed: its changes stay.
    pub(super) fn commit(&self) {
        self.journal().clear();
    }

    /// How many reports and cases are known (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> (usize, usize) {
        let count = |map: Map| self.map(map).read().unwrap_or_else(PoisonError::into_inner).len();
        (count(Map::Reports), count(Map::Cases))
    }
}

/// An exclusive lock on `<database>.lock`, held while the store is open: the id maps are one
/// process's, so a second server on the same file is refused instead of writing past them.
#[derive(Debug)]
pub(super) struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock for the database at `path`.
    pub(super) fn take(path: &Path) -> Result<Lock, String> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&name)
            .map_err(|error| format!("opening the database's lock file: {error}"))?;
        // `flock`: held by this open file, released when it closes or the process ends.
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(Lock { _file: file }),
            Err(fs4::TryLockError::WouldBlock) => {
                Err("another server has this database open (its lock file is held)".to_owned())
            }
            Err(fs4::TryLockError::Error(error)) => Err(format!("locking the database: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rolling_back_restores_the_maps_as_they_were_at_the_mark() {
        // Given a committed report and case
        let ids = IdMaps::default();
        ids.add_report([1; 16], 1);
        ids.add_case([1; 16], 1);
        ids.commit();

        // When a transaction adds, replaces and removes entries, then rolls back part, then all
        let start = ids.mark();
        ids.add_report([2; 16], 2);
        let middle = ids.mark();
        ids.remove_report([1; 16]);
        ids.add_case([1; 16], 9);
        ids.add_case([3; 16], 3);
        assert_eq!((ids.report(&[1; 16]), ids.case(&[1; 16])), (None, Some(9)));
        ids.roll_back_to(middle);

        // Then the part after the mark is undone and the part before stays
        assert_eq!(ids.report(&[1; 16]), Some(1));
        assert_eq!(ids.report(&[2; 16]), Some(2));
        assert_eq!((ids.case(&[1; 16]), ids.case(&[3; 16])), (Some(1), None));
        ids.roll_back_to(start);
        assert_eq!(ids.report(&[2; 16]), None);
        assert_eq!(ids.len(), (1, 1));
    }

    #[test]
    fn test_a_second_lock_on_the_same_database_is_refused_until_the_first_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tipline.sqlite3");
        let first = Lock::take(&path).unwrap();
        let refused = Lock::take(&path).unwrap_err();
        assert!(refused.contains("another server"), "{refused}");
        drop(first);
        Lock::take(&path).unwrap();
    }
}
