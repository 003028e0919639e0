//! The requester's Umbral keys, kept in the data directory: `umbral/<public key hex>.key`
//! (the 32-byte secret as hex, mode 0600) and `umbral/active` (the public key new requests
//! use). Keys are never deleted: a request can only be opened with the key it was made for.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use dashledger_protocol::wrap::{UmbralPublicKey, UmbralSecretKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The key directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

fn pk_hex(pk: &UmbralPublicKey) -> String {
    hex::encode(pk.to_bytes())
}

/// Parses a 32-byte secret from hex (with or without `0x`, surrounding whitespace ignored).
pub fn parse_secret_hex(text: &str) -> Result<UmbralSecretKey> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    let bytes = Zeroizing::new(
        hex::decode(t)
            .map_err(|_| Error::Config("an Umbral secret key must be 64 hex characters".into()))?,
    );
    let arr: Zeroizing<[u8; 32]> = Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
        Error::Config(format!(
            "an Umbral secret key is 32 bytes, got {}",
            bytes.len()
        ))
    })?);
    Ok(UmbralSecretKey::from_be_bytes(&arr)?)
}

impl KeyStore {
    /// A store under `data_dir/umbral`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("umbral"),
        }
    }

    /// The directory holding the keys.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key_path(&self, pk: &UmbralPublicKey) -> PathBuf {
        self.dir.join(format!("{}.key", pk_hex(pk)))
    }

    fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(Error::io("creating", &tmp))?;
        f.write_all(contents).map_err(Error::io("writing", &tmp))?;
        f.sync_all().map_err(Error::io("syncing", &tmp))?;
        fs::rename(&tmp, path).map_err(Error::io("renaming into place", path))
    }

    /// Stores a secret key (idempotent) and returns its public key.
    pub fn add(&self, sk: &UmbralSecretKey) -> Result<UmbralPublicKey> {
        fs::create_dir_all(&self.dir)
            .map_err(Error::io("creating the key directory", &self.dir))?;
        let pk = sk.public_key();
        let path = self.key_path(&pk);
        if !path.exists() {
            let hex = Zeroizing::new(hex::encode(sk.to_be_bytes().as_ref()));
            Self::write_private(&path, hex.as_bytes())?;
        }
        Ok(pk)
    }

    /// Makes `pk` (already stored) the key for new requests.
    pub fn set_active(&self, pk: &UmbralPublicKey) -> Result<()> {
        let path = self.dir.join("active");
        Self::write_private(&path, pk_hex(pk).as_bytes())
    }

    /// The active key, if one was set.
    pub fn active(&self) -> Result<Option<(UmbralPublicKey, UmbralSecretKey)>> {
        let path = self.dir.join("active");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", &path)(e)),
        };
        let bytes = hex::decode(text.trim()).map_err(|_| {
            Error::Config(format!(
                "{} does not hold a public key in hex",
                path.display()
            ))
        })?;
        let pk = UmbralPublicKey::from_bytes(&bytes)?;
        let sk = self.find(&pk)?.ok_or_else(|| {
            Error::Config(format!(
                "the active Umbral key {} has no secret in {}",
                pk_hex(&pk),
                self.dir.display()
            ))
        })?;
        Ok(Some((pk, sk)))
    }

    /// The active key, generating and storing a new one on first use. The bool says whether
    /// it was generated now.
    pub fn active_or_generate(&self) -> Result<(UmbralPublicKey, UmbralSecretKey, bool)> {
        if let Some((pk, sk)) = self.active()? {
            return Ok((pk, sk, false));
        }
        let sk = UmbralSecretKey::generate();
        let pk = self.add(&sk)?;
        self.set_active(&pk)?;
        Ok((pk, sk, true))
    }

    /// The secret key for a public key, if stored.
    pub fn find(&self, pk: &UmbralPublicKey) -> Result<Option<UmbralSecretKey>> {
        let path = self.key_path(pk);
        let text = match fs::read_to_string(&path) {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", &path)(e)),
        };
        let sk = parse_secret_hex(&text)?;
        if sk.public_key() != *pk {
            return Err(Error::Config(format!(
                "{} holds the secret of another public key",
                path.display()
            )));
        }
        Ok(Some(sk))
    }

    /// Every stored public key (hex, sorted).
    pub fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("listing", &self.dir)(e)),
        };
        for entry in rd {
            let entry = entry.map_err(Error::io("listing", &self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pk) = name.strip_suffix(".key") {
                out.push(pk.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_once_then_find_import_export() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::new(dir.path());
        assert!(ks.active().unwrap().is_none());
        let (pk, sk, fresh) = ks.active_or_generate().unwrap();
        assert!(fresh);
        let (pk2, _, fresh2) = ks.active_or_generate().unwrap();
        assert!(!fresh2);
        assert_eq!(pk, pk2);
        assert_eq!(ks.find(&pk).unwrap().unwrap().public_key(), pk);
        // Export = hex of the secret; import into another store gives the same key.
        let exported = hex::encode(sk.to_be_bytes().as_ref());
        let dir2 = tempfile::tempdir().unwrap();
        let ks2 = KeyStore::new(dir2.path());
        let imported = ks2
            .add(&parse_secret_hex(&format!("0x{exported}\n")).unwrap())
            .unwrap();
        assert_eq!(imported, pk);
        assert_eq!(ks.list().unwrap(), vec![hex::encode(pk.to_bytes())]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(ks.key_path(&pk)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "key file must not be readable by others");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Exported text parses back to the same key whatever the prefix, case and whitespace.
        #[test]
        fn secret_hex_round_trips(prefix in proptest::bool::ANY, upper in proptest::bool::ANY, ws in "[ \t\n]{0,3}") {
            let sk = UmbralSecretKey::generate();
            let mut hex = hex::encode(sk.to_be_bytes().as_ref());
            if upper {
                hex = hex.to_uppercase();
            }
            let text = format!("{ws}{}{hex}{ws}", if prefix { "0x" } else { "" });
            proptest::prop_assert_eq!(parse_secret_hex(&text).unwrap().public_key(), sk.public_key());
        }
    }

    #[test]
    fn bad_secrets_are_named() {
        assert!(
            parse_secret_hex("zz")
                .unwrap_err()
                .to_string()
                .contains("64 hex")
        );
        assert!(
            parse_secret_hex("00ff")
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
        );
    }
}
