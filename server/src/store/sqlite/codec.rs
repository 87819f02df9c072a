//! Conversions between the store's types and SQLite values, and the error the SQL code returns
//! before it becomes a `StoreError`. Times are integer milliseconds since the Unix epoch; ids and
//! hashes are blobs of their raw bytes.

use chrono::{DateTime, Utc};

use crate::store::{MessageDirection, StoreError};

/// A failure inside the SQL code: SQLite's own, or a stored value that cannot be what it should.
#[derive(Debug)]
pub(super) enum OpError {
    /// SQLite failed.
    Sql(rusqlite::Error),
    /// A value is out of range or malformed (a bug or a damaged database, never a client's doing).
    Data(&'static str),
    /// A message id already used by another message.
    MessageIdTaken,
}

impl From<rusqlite::Error> for OpError {
    fn from(error: rusqlite::Error) -> Self {
        OpError::Sql(error)
    }
}

impl From<OpError> for StoreError {
    fn from(error: OpError) -> Self {
        match error {
            // rusqlite's messages name tables and columns, never the values bound to them.
            OpError::Sql(error) => StoreError::Database(error.to_string()),
            OpError::Data(what) => StoreError::Database(what.to_owned()),
            OpError::MessageIdTaken => StoreError::MessageIdTaken,
        }
    }
}

/// The SQL code's result type.
pub(super) type OpResult<T> = Result<T, OpError>;

/// A time as stored: milliseconds since the epoch (sub-millisecond precision is dropped).
pub(super) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A stored time.
pub(super) fn time(millis: i64) -> OpResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis).ok_or(OpError::Data("stored time out of range"))
}

/// A size or count as stored (SQLite integers are signed 64-bit).
pub(super) fn to_i64(value: u64) -> OpResult<i64> {
    i64::try_from(value).map_err(|_| OpError::Data("value too large to store"))
}

/// A stored size or count.
pub(super) fn to_u64(value: i64) -> OpResult<u64> {
    u64::try_from(value).map_err(|_| OpError::Data("stored value is negative"))
}

/// A fixed-size id or hash from a stored blob.
pub(super) fn array<const N: usize>(blob: impl AsRef<[u8]>) -> OpResult<[u8; N]> {
    <[u8; N]>::try_from(blob.as_ref()).map_err(|_| OpError::Data("stored id or hash has the wrong length"))
}

/// A stored direction (stored by its wire name, [`MessageDirection::as_str`]).
pub(super) fn direction(text: &str) -> OpResult<MessageDirection> {
    MessageDirection::from_name(text).ok_or(OpError::Data("stored message direction is unknown"))
}
