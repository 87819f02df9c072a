//! What the server publishes to everyone: the signed directory and signed alerts.
//!
//! Alert regions: the rule is [`crate::store::alert_region_keys`], shared with PostgreSQL; the
//! regions are stored as given and compared `COLLATE NOCASE` (ASCII case).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::codec::{array, millis, time, to_i64, to_u64, OpError, OpResult};
use crate::store::StoredAlert;
use tipline_core::report::MessageId;

/// The published directory of `format` and its version (reader).
pub(super) fn directory(conn: &Connection, format: u32) -> OpResult<Option<(u64, Vec<u8>)>> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT version, signed FROM directories WHERE format = ?1")?
        .query_row([format], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(version, signed)| Ok((to_u64(version)?, signed)))
        .transpose()
}

/// Replaces the directory of `format` if `version` is higher than the stored one of that format;
/// whether it did (writer).
pub(super) fn publish_directory(
    conn: &Connection,
    format: u32,
    version: u64,
    signed: &[u8],
) -> OpResult<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO directories (format, version, signed) VALUES (?1, ?2, ?3)
             ON CONFLICT (format) DO UPDATE SET version = excluded.version, signed = excluded.signed
             WHERE excluded.version > directories.version",
        )?
        .execute(params![format, to_i64(version)?, signed])?;
    Ok(changed > 0)
}

/// Stores an alert unless one with its id is stored already (writer).
pub(super) fn add_alert(conn: &Connection, alert: &StoredAlert) -> OpResult<()> {
    let regions = serde_json::to_string(&alert.regions).map_err(|_| OpError::Data("alert regions"))?;
    let alert_id = &alert.alert_id.0[..];
    let inserted = conn
        .prepare_cached(
            "INSERT INTO alerts (alert_id, unit_id, regions, expires_at, signed) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (alert_id) DO NOTHING",
        )?
        .execute(params![
            alert_id,
            alert.unit_id,
            regions,
            millis(alert.expires_at),
            alert.signed
        ])?;
    if inserted == 0 {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO alert_regions (region, alert_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for region in &alert.regions {
        insert.execute(params![region, alert_id])?;
    }
    Ok(())
}

/// Unexpired alerts for `region` (see the module's rule), newest stored first (reader).
pub(super) fn alerts(
    conn: &Connection,
    region: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> OpResult<Vec<StoredAlert>> {
    let (region, country) = crate::store::alert_region_keys(region);
    let rows = conn
        .prepare_cached(
            "SELECT alert_id, unit_id, regions, expires_at, signed FROM alerts
             WHERE expires_at > ?3
               AND alert_id IN (SELECT alert_id FROM alert_regions WHERE region IN (?1, ?2))
             ORDER BY seq DESC LIMIT ?4",
        )?
        .query_map(params![region, country, millis(now), limit], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Vec<u8>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(alert_id, unit_id, regions, expires_at, signed)| {
            Ok(StoredAlert {
                alert_id: MessageId(array(alert_id)?),
                unit_id,
                regions: serde_json::from_str(&regions).map_err(|_| OpError::Data("stored alert regions"))?,
                signed,
                expires_at: time(expires_at)?,
            })
        })
        .collect()
}
