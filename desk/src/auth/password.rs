//! Officers' passwords, kept only as Argon2id hashes in PHC string form
//! (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), so the parameters travel with each hash and
//! can be raised for new passwords without breaking old ones.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tipline_core::crypto::random::random_array;
use tipline_core::crypto::OsRandom;

use crate::error::{DeskError, Result};

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted, in bytes (a bound on hashing work).
pub const MAX_PASSWORD: usize = 1024;

/// Argon2id cost of new password hashes.
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

impl Default for HashCost {
    /// 19 MiB and 2 passes: OWASP's recommended Argon2id setting for password storage.
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

fn argon(cost: HashCost) -> Result<Argon2<'static>> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| DeskError::Config(format!("password hash cost: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks a new password's length.
pub fn check_new(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(DeskError::invalid(
            "password",
            format!("must be {MIN_PASSWORD} characters or more (and at most {MAX_PASSWORD} bytes)"),
        ));
    }
    Ok(())
}

/// The PHC string of a new password's Argon2id hash, with a fresh random salt.
pub fn hash(password: &str, cost: HashCost) -> Result<String> {
    check_new(password)?;
    let salt: [u8; 16] = random_array(&mut OsRandom::new()).map_err(tipline_core::Error::from)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| DeskError::Config(e.to_string()))?;
    let phc = argon(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| DeskError::Config(format!("password hash: {e}")))?;
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (with the parameters it names).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn test_a_hash_is_a_phc_string_that_verifies_only_its_password() {
        let phc = hash("correct horse battery", CHEAP).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn test_a_short_password_is_refused() {
        assert!(hash("short", CHEAP).is_err());
    }
}
