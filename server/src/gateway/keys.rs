//! The gateway's keys (RFC 9458 key configurations), kept in `<data_dir>/ohttp/`: one file per
//! key, `<id>.key` (mode 0600, the folder 0700), holding 32 bytes of base64url from which the
//! X25519 key pair is derived (RFC 9180 `DeriveKeyPair`). A retired key is renamed
//! `<id>.retired`: it no longer opens anything, and its id is not given out again while the
//! file is there, so a request to a retired key cannot be mistaken for one to its successor.
//!
//! Several keys are live at once during a rotation: the new one is created and published, the
//! authority lists it in the directory, and once clients have the new directory the old one is
//! retired. The running server reads the folder again on SIGHUP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{KeyConfig, Server, SymmetricSuite};
use tipline_core::encoding::{b64, unb64_array};
use zeroize::Zeroizing;

use crate::config::{create_private_dir, write_private};

/// The folder of the gateway's keys, in the data directory.
pub const KEYS_DIR: &str = "ohttp";
/// Most live keys at once.
pub const MAX_LIVE_KEYS: usize = 4;

/// The symmetric suites offered with every key: ChaCha20Poly1305 first (fast without AES
/// hardware), then AES-128-GCM.
fn suites() -> Vec<SymmetricSuite> {
    vec![
        SymmetricSuite::new(Kdf::HkdfSha256, Aead::ChaCha20Poly1305),
        SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm),
    ]
}

/// The live keys, by key id, with their published list.
pub struct GatewayKeys {
    servers: BTreeMap<u8, Server>,
    list: Vec<u8>,
}

impl std::fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayKeys")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

impl GatewayKeys {
    /// The keys whose input keying material is given, by id (for tests and [`Self::load`]).
    pub fn from_ikms(ikms: &[(u8, [u8; 32])]) -> anyhow::Result<GatewayKeys> {
        let mut servers = BTreeMap::new();
        let mut configs = Vec::new();
        // Newest (highest id in creation order) first in the published list: clients take the
        // first they can use.
        for (id, ikm) in ikms.iter().rev() {
            let config = KeyConfig::derive(*id, Kem::X25519Sha256, suites(), ikm)
                .map_err(|e| anyhow::anyhow!("gateway key {id}: {e}"))?;
            configs.push(config.clone());
            servers.insert(*id, Server::new(config).map_err(|e| anyhow::anyhow!("{e}"))?);
        }
        let list = KeyConfig::encode_list(&configs).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(GatewayKeys { servers, list })
    }

    /// The live keys of `data_dir`, creating the first if there is none.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<GatewayKeys> {
        let dir = data_dir.join(KEYS_DIR);
        create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        if read_dir(&dir)?.live.is_empty() {
            new_key(data_dir)?;
        }
        Self::load(data_dir)
    }

    /// The live keys of `data_dir`, oldest first.
    pub fn load(data_dir: &Path) -> anyhow::Result<GatewayKeys> {
        let dir = data_dir.join(KEYS_DIR);
        let found = read_dir(&dir)?;
        let mut ikms = Vec::new();
        for (id, path) in &found.live {
            let text = Zeroizing::new(
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
            );
            let ikm = unb64_array::<32>(text.trim())
                .map_err(|_| anyhow::anyhow!("{} does not hold 32 bytes of base64url", path.display()))?;
            ikms.push((*id, ikm, modified(path)));
        }
        ikms.sort_by_key(|(id, _, time)| (*time, *id));
        let ikms: Vec<(u8, [u8; 32])> = ikms.into_iter().map(|(id, ikm, _)| (id, ikm)).collect();
        anyhow::ensure!(
            ikms.len() <= MAX_LIVE_KEYS,
            "more than {MAX_LIVE_KEYS} live gateway keys in {}: retire some",
            dir.display()
        );
        Self::from_ikms(&ikms)
    }

    /// The live key ids.
    pub fn ids(&self) -> Vec<u8> {
        self.servers.keys().copied().collect()
    }

    /// The key of `id`, if it is live.
    pub fn server(&self, id: u8) -> Option<&Server> {
        self.servers.get(&id)
    }

    /// The key configuration of live key `id` (RFC 9458 section 3.1), as the authority lists it
    /// in the directory.
    pub fn config(&self, id: u8) -> Option<Vec<u8>> {
        self.servers
            .get(&id)
            .and_then(|server| server.config().encode().ok())
    }

    /// The `application/ohttp-keys` list of the live keys, newest first.
    pub fn encoded_list(&self) -> &[u8] {
        &self.list
    }
}

struct Found {
    live: Vec<(u8, PathBuf)>,
    used: Vec<u8>,
}

fn read_dir(dir: &Path) -> anyhow::Result<Found> {
    let mut found = Found {
        live: Vec::new(),
        used: Vec::new(),
    };
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some((id, ext)) = name.split_once('.') else {
            continue;
        };
        let Ok(id) = id.parse::<u8>() else { continue };
        match ext {
            "key" => {
                found.used.push(id);
                found.live.push((id, path));
            }
            "retired" => found.used.push(id),
            _ => {}
        }
    }
    Ok(found)
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Creates a new live key in `data_dir` with an id no other key (live or retired) has; returns
/// the id.
pub fn new_key(data_dir: &Path) -> anyhow::Result<u8> {
    let dir = data_dir.join(KEYS_DIR);
    create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let found = read_dir(&dir)?;
    anyhow::ensure!(
        found.live.len() < MAX_LIVE_KEYS,
        "{MAX_LIVE_KEYS} gateway keys are live already: retire one first"
    );
    let newest = found.used.iter().max().copied().unwrap_or(0);
    let id = (1..=255u16)
        .map(|step| ((u16::from(newest) + step) % 256) as u8)
        .find(|id| !found.used.contains(id))
        .context("all 256 key ids are taken: delete some .retired files")?;
    let mut ikm = Zeroizing::new([0u8; 32]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), ikm.as_mut())
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let path = dir.join(format!("{id}.key"));
    let text = Zeroizing::new(format!("{}\n", b64(ikm.as_ref())));
    write_private(&path, text.as_bytes()).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(id)
}

/// Retires the live key `id` of `data_dir`: it opens nothing from then on (once the server has
/// read the folder again).
pub fn retire_key(data_dir: &Path, id: u8) -> anyhow::Result<()> {
    let dir = data_dir.join(KEYS_DIR);
    let live = dir.join(format!("{id}.key"));
    anyhow::ensure!(live.exists(), "no live gateway key {id} in {}", dir.display());
    // The key material goes; the name stays, so the id is not given out again soon.
    crate::config::write_private(&dir.join(format!("{id}.retired")), b"")
        .with_context(|| format!("cannot retire key {id}"))?;
    std::fs::remove_file(&live).with_context(|| format!("cannot remove {}", live.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_keys_are_created_private_rotated_and_retired() {
        // Given an empty data directory
        let dir = tempfile::tempdir().unwrap();
        // When the server starts, one key is created, in a file only its user can read
        let keys = GatewayKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(keys.ids(), vec![1]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("ohttp/1.key")), 0o600);
            assert_eq!(mode(&dir.path().join("ohttp")), 0o700);
        }
        // And the same key comes back on the next start
        let again = GatewayKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(again.encoded_list(), keys.encoded_list());
        // When a second key is added, both are live and both are published
        assert_eq!(new_key(dir.path()).unwrap(), 2);
        let both = GatewayKeys::load(dir.path()).unwrap();
        assert_eq!(both.ids(), vec![1, 2]);
        let published = tipline_core::ohttp::KeyConfig::decode_list(both.encoded_list()).unwrap();
        assert_eq!(published.iter().map(|c| c.key_id).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(both.config(1).unwrap(), published[1].encode());
        // When the first is retired, it is gone and its id is not given out again
        retire_key(dir.path(), 1).unwrap();
        assert_eq!(GatewayKeys::load(dir.path()).unwrap().ids(), vec![2]);
        assert_eq!(new_key(dir.path()).unwrap(), 3);
        assert!(retire_key(dir.path(), 1).is_err());
    }
}
