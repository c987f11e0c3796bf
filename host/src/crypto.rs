//! Encryption at rest: XChaCha20-Poly1305 with a key ring. Each sealed value records the
//! id of the key that sealed it; the caller binds a context (the integration id and the
//! field) as associated data, so a ciphertext copied to another row does not open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use anyhow::{Context, bail};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const NONCE: usize = 24;

/// A sealed value: which key, and nonce ‖ ciphertext ‖ tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the key that sealed it.
    pub key_id: String,
    /// Nonce followed by ciphertext and tag.
    pub bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize, Default)]
struct KeyFile {
    active: String,
    keys: BTreeMap<String, String>,
}

/// The keys: one active (seals), all of them open.
pub struct Keyring {
    state: RwLock<KeyFile>,
    /// Where the ring is saved; none when the key came from the environment.
    path: Option<PathBuf>,
    /// Modification time of the key file when last read: another process (`tributary
    /// keys rotate`) may rotate while this one runs, and this one must follow.
    loaded: std::sync::Mutex<Option<std::time::SystemTime>>,
}

fn key_id(key: &[u8]) -> String {
    hex::encode(&Sha256::digest(key)[..6])
}

impl Keyring {
    /// The ring from `TOKEN_ENCRYPTION_KEY` (64 hex chars) when set, else the 0600 file
    /// `keys.json` in the data dir, created with a fresh key on first use.
    pub fn open(data_dir: &Path) -> anyhow::Result<Keyring> {
        if let Ok(hex_key) = std::env::var("TOKEN_ENCRYPTION_KEY")
            && !hex_key.is_empty()
        {
            let key = hex::decode(hex_key.trim()).context("TOKEN_ENCRYPTION_KEY must be hex")?;
            if key.len() != 32 {
                bail!("TOKEN_ENCRYPTION_KEY must be 32 bytes (64 hex characters)");
            }
            let id = key_id(&key);
            let mut keys = BTreeMap::new();
            keys.insert(id.clone(), hex::encode(&key));
            // Keys rotated away from stay readable when listed in the key file too.
            let path = data_dir.join("keys.json");
            if let Ok(text) = std::fs::read_to_string(&path) {
                let file: KeyFile = serde_json::from_str(&text).context("reading keys.json")?;
                for (k, v) in file.keys {
                    keys.entry(k).or_insert(v);
                }
            }
            return Ok(Keyring {
                state: RwLock::new(KeyFile { active: id, keys }),
                path: None,
                loaded: Default::default(),
            });
        }
        let path = data_dir.join("keys.json");
        let ring = if path.exists() {
            let text = std::fs::read_to_string(&path).context("reading keys.json")?;
            serde_json::from_str(&text).context("keys.json is malformed")?
        } else {
            let key: [u8; 32] = rand::random();
            let id = key_id(&key);
            let file = KeyFile {
                active: id.clone(),
                keys: BTreeMap::from([(id, hex::encode(key))]),
            };
            crate::server::write_private(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
            file
        };
        let loaded = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Ok(Keyring {
            state: RwLock::new(ring),
            path: Some(path),
            loaded: std::sync::Mutex::new(loaded),
        })
    }

    /// A ring holding one given key (tests).
    pub fn with_key(key: [u8; 32]) -> Keyring {
        let id = key_id(&key);
        Keyring {
            state: RwLock::new(KeyFile {
                active: id.clone(),
                keys: BTreeMap::from([(id, hex::encode(key))]),
            }),
            path: None,
            loaded: Default::default(),
        }
    }

    /// Re-read the key file if another process changed it since we read it.
    fn follow_disk(&self) {
        let Some(path) = &self.path else { return };
        let Ok(mtime) = std::fs::metadata(path).and_then(|m| m.modified()) else {
            return;
        };
        let mut loaded = self.loaded.lock().expect("keyring mtime lock");
        if *loaded == Some(mtime) {
            return;
        }
        match std::fs::read_to_string(path)
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(serde_json::from_str::<KeyFile>(&t)?))
        {
            Ok(file) => {
                *self.state.write().expect("keyring lock") = file;
                *loaded = Some(mtime);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot re-read keys.json; keeping the keys in memory")
            }
        }
    }

    /// Id of the key new values are sealed with.
    pub fn active_id(&self) -> String {
        self.state.read().expect("keyring lock").active.clone()
    }

    fn cipher(&self, id: &str) -> anyhow::Result<XChaCha20Poly1305> {
        if !self
            .state
            .read()
            .expect("keyring lock")
            .keys
            .contains_key(id)
        {
            self.follow_disk();
        }
        let state = self.state.read().expect("keyring lock");
        let hex_key = state
            .keys
            .get(id)
            .with_context(|| format!("encryption key {id} is not in the key ring"))?;
        let key = hex::decode(hex_key)?;
        Ok(XChaCha20Poly1305::new(Key::from_slice(&key)))
    }

    /// Seal `plaintext` under the active key, bound to `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> anyhow::Result<Sealed> {
        self.follow_disk();
        let key_id = self.active_id();
        let nonce: [u8; NONCE] = rand::random();
        let ct = self
            .cipher(&key_id)?
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ct);
        Ok(Sealed { key_id, bytes })
    }

    /// Open a sealed value; fails when the key is unknown, the bytes were changed, or the
    /// context differs from the one it was sealed with.
    pub fn open_sealed(&self, context: &str, sealed: &Sealed) -> anyhow::Result<Vec<u8>> {
        if sealed.bytes.len() < NONCE + 16 {
            bail!("sealed value is truncated");
        }
        let (nonce, ct) = sealed.bytes.split_at(NONCE);
        self.cipher(&sealed.key_id)?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("cannot decrypt: wrong key, context or tampered data"))
    }

    /// Add a fresh key and make it active (old keys still open old values). Saved to the
    /// key file before it is used, so a crash never leaves values under an unsaved key.
    pub fn rotate(&self) -> anyhow::Result<String> {
        let Some(path) = &self.path else {
            bail!(
                "the key comes from TOKEN_ENCRYPTION_KEY: set a new value there and list the old key in keys.json"
            );
        };
        let key: [u8; 32] = rand::random();
        let id = key_id(&key);
        let mut state = self.state.write().expect("keyring lock");
        let mut next = KeyFile {
            active: id.clone(),
            keys: state.keys.clone(),
        };
        next.keys.insert(id.clone(), hex::encode(key));
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        crate::server::write_private(&tmp, serde_json::to_string_pretty(&next)?.as_bytes())?;
        std::fs::rename(&tmp, path)?;
        *state = next;
        *self.loaded.lock().expect("keyring mtime lock") =
            std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_sealing_and_opening_in_the_same_context() {
        let ring = Keyring::with_key([7; 32]);
        let s = ring.seal("integration:1:access", b"tok").unwrap();
        assert_eq!(
            ring.open_sealed("integration:1:access", &s).unwrap(),
            b"tok"
        );
        assert!(!s.bytes.windows(3).any(|w| w == b"tok"));
    }

    #[test]
    fn works_when_another_process_rotates_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let server = Keyring::open(dir.path()).unwrap();
        let old = server.seal("c", b"before").unwrap();
        let cli = Keyring::open(dir.path()).unwrap();
        // Make the rotation visible even on file systems with coarse timestamps.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let new_id = cli.rotate().unwrap();
        let resealed = cli.seal("c", b"after").unwrap();
        assert_eq!(
            server.open_sealed("c", &resealed).unwrap(),
            b"after",
            "the running process follows the rotation"
        );
        assert_eq!(
            server.open_sealed("c", &old).unwrap(),
            b"before",
            "old values still open"
        );
        assert_eq!(
            server.seal("c", b"x").unwrap().key_id,
            new_id,
            "new values use the new key"
        );
    }

    #[test]
    fn errors_when_a_ciphertext_moves_to_another_row_or_is_tampered() {
        let ring = Keyring::with_key([7; 32]);
        let s = ring.seal("integration:1:access", b"tok").unwrap();
        assert!(ring.open_sealed("integration:2:access", &s).is_err());
        let mut t = s.clone();
        *t.bytes.last_mut().unwrap() ^= 1;
        assert!(ring.open_sealed("integration:1:access", &t).is_err());
        let other = Keyring::with_key([8; 32]);
        assert!(other.open_sealed("integration:1:access", &s).is_err());
    }
}
