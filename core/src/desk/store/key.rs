//! The store's key: a desk computer may be shared, so the key that seals everything the store
//! keeps comes only from the unit's passphrase. It is Argon2id(passphrase, salt), with the salt
//! and parameters kept in the database (`meta`) so they can be raised for new stores without
//! breaking old ones; a sealed check record tells a wrong passphrase apart from damage.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::client::vault::Vault;
use crate::crypto::random::random_array;
use crate::crypto::OsRandom;
use crate::encoding::{b64, unb64};
use crate::{Error, Result};

const CHECK_RECORD: &[u8] = b"check";
const CHECK_TEXT: &[u8] = b"tipline desk store v1";

/// Argon2id parameters of a store's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: RFC 9106's second recommended setting with one lane, about a
    /// quarter of a second on a desk computer.
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct KdfRecord {
    algorithm: String,
    version: u32,
    params: KdfParams,
    salt: String,
}

fn wrong_passphrase() -> Error {
    Error::refused("desk store", "wrong passphrase")
}

/// Derives the store key from a passphrase.
fn derive_key(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    let argon_params =
        argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
            .map_err(|e| Error::invalid("desk store kdf", e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| Error::invalid("desk store kdf", e.to_string()))?;
    Ok(key)
}

/// The vault of the store behind `conn`, unlocked with `passphrase`; for a store with no key
/// yet, a new key from `params` and a fresh salt, recorded in `meta`. Refuses a wrong
/// passphrase and a store that belongs to another unit.
pub(super) fn unlock(conn: &Connection, unit_id: &str, passphrase: &str, params: KdfParams) -> Result<Vault> {
    let meta = |name: &str| -> Result<Option<Vec<u8>>> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0))
            .optional()?)
    };
    match (meta("kdf")?, meta("check")?, meta("unit_id")?) {
        (Some(kdf), Some(check), Some(owner)) => {
            if owner != unit_id.as_bytes() {
                return Err(Error::invalid(
                    "desk store",
                    format!(
                        "it belongs to unit {}, not {unit_id}",
                        String::from_utf8_lossy(&owner)
                    ),
                ));
            }
            let kdf: KdfRecord = serde_json::from_slice(&kdf)?;
            if kdf.algorithm != "argon2id" || kdf.version != 0x13 {
                return Err(Error::invalid("desk store", "unknown key derivation"));
            }
            let key = derive_key(passphrase, &unb64(&kdf.salt)?, kdf.params)?;
            let vault = Vault::new(&key)?;
            match vault.open(CHECK_RECORD, &check) {
                Ok(text) if text.as_slice() == CHECK_TEXT => Ok(vault),
                _ => Err(wrong_passphrase()),
            }
        }
        (None, None, None) => {
            if passphrase.is_empty() {
                return Err(Error::invalid("passphrase", "must not be empty"));
            }
            let salt = random_array::<16>(&mut OsRandom::new())?;
            let key = derive_key(passphrase, &salt, params)?;
            let vault = Vault::new(&key)?;
            let kdf = KdfRecord {
                algorithm: "argon2id".into(),
                version: 0x13,
                params,
                salt: b64(&salt),
            };
            let insert = "INSERT INTO meta (name, value) VALUES (?1, ?2)";
            conn.execute(insert, params!["kdf", serde_json::to_vec(&kdf)?])?;
            conn.execute(insert, params!["check", vault.seal(CHECK_RECORD, CHECK_TEXT)?])?;
            conn.execute(insert, params!["unit_id", unit_id.as_bytes()])?;
            Ok(vault)
        }
        _ => Err(Error::invalid(
            "desk store",
            "damaged: its key record is incomplete",
        )),
    }
}
