//! Keys: the encrypted keystore (device key, owner seed, Umbral secret key) and per-accident
//! owner keys derived from the owner seed by BIP-32.
//!
//! * Keystore: Ethereum keystore v3 JSON (scrypt, AES-128-CTR, Keccak-256 MAC) whose plaintext
//!   is `device_key (32) || umbral_secret_key (32) || owner_seed (64)` = 128 bytes; marked by a
//!   `"dashledger"` member. Written atomically (temp file, fsync, rename), mode 0600.
//! * Owner keys: BIP-32 from the owner seed at `m/44'/60'/7'/0/<accident index>`
//!   ([`OWNER_KEY_PATH_PREFIX`]); the seed is a 64-byte BIP-39 seed, so one backup recovers the
//!   key of every Evidence Contract.
//! * Owner Umbral keys, one per accident as well: the secp256k1 scalar at
//!   `m/44'/60'/7'/1'/<accident index>'` ([`OWNER_UMBRAL_PATH_PREFIX`], hardened: an accident's
//!   owner key says nothing about it). The session key of accident `i` is wrapped to key `i`, so
//!   the kfrag a requester of one accident gets re-encrypts no other accident's capsule, and no
//!   two ECs carry the same `ownerUmbralKey` (which would link them on chain). The keystore's
//!   own Umbral key wraps only the accidents sealed before this rule (kept for those).
//!
//! What is a library and what is ours: BIP-32 derivation is the `bip32` crate (k256 backend)
//! and BIP-39 phrases the `bip39` crate (word list and checksum checked: a mistyped backup is
//! refused, not turned into other keys). The keystore v3 code stays here: it is ~150 lines over
//! RustCrypto's `scrypt`, `aes`/`ctr` and our Keccak, tested against keystores made by other
//! tools (`decrypt_v3`), and it writes atomically with mode 0600 and carries the
//! `"dashledger"` member; `eth-keystore` 0.5 would bring a second `scrypt` (0.10), `rand` 0.8
//! and `uuid` 0.8, and writes the file itself, in place, with default permissions.

use std::{fmt, fs, io::Write, path::Path};

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::{
    primitives::{Address, B256},
    signers::local::PrivateKeySigner,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{
    error::{Error, Result},
    hash::keccak256,
    wrap::{KfragSigner, UmbralSecretKey},
};

/// BIP-32 path of accident owner keys, before the accident index:
/// `m/44'/60'/7'/0` (purpose 44', coin type 60' = Ethereum, account 7' = dashledger).
pub const OWNER_KEY_PATH_PREFIX: [u32; 4] = [44 | HARDENED, 60 | HARDENED, 7 | HARDENED, 0];
/// The hardened-index bit.
pub const HARDENED: u32 = 0x8000_0000;
/// BIP-32 path of the accidents' owner Umbral keys, before the hardened accident index:
/// `m/44'/60'/7'/1'`.
pub const OWNER_UMBRAL_PATH_PREFIX: [u32; 4] =
    [44 | HARDENED, 60 | HARDENED, 7 | HARDENED, 1 | HARDENED];

/// The owner's 64-byte root seed. Zeroized on drop; `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct OwnerSeed([u8; 64]);

impl fmt::Debug for OwnerSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerSeed(<redacted>)")
    }
}

impl OwnerSeed {
    /// A fresh random seed.
    pub fn generate() -> Self {
        let mut s = [0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut s);
        Self(s)
    }
    /// From raw seed bytes.
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }
    /// The BIP-39 seed of an English mnemonic phrase (12 to 24 words) and optional passphrase.
    /// The phrase is checked — every word in the English list, the checksum right (`bip39`) —
    /// so a mistyped backup is refused instead of silently giving other keys.
    pub fn from_mnemonic(phrase: &str, passphrase: &str) -> Result<Self> {
        let m = bip39::Mnemonic::parse_in(bip39::Language::English, phrase).map_err(|e| {
            Error::Derivation(format!("not a valid BIP-39 English mnemonic phrase: {e}"))
        })?;
        let seed = Zeroizing::new(m.to_seed(passphrase));
        Ok(Self(*seed))
    }
    /// The raw seed bytes. Handle with care.
    pub const fn expose_secret(&self) -> &[u8; 64] {
        &self.0
    }
    /// The key at an arbitrary BIP-32 path (indices ≥ [`HARDENED`] are hardened; `bip32`).
    pub fn derive_path(&self, path: &[u32]) -> Result<PrivateKeySigner> {
        let mut x = bip32::XPrv::new(self.0)
            .map_err(|e| Error::Derivation(format!("BIP-32 master key: {e}")))?;
        for &i in path {
            x = x.derive_child(bip32::ChildNumber(i)).map_err(|e| {
                Error::Derivation(format!(
                    "BIP-32 child {i} invalid ({e}); use the next index"
                ))
            })?;
        }
        let key = Zeroizing::new(x.to_bytes());
        PrivateKeySigner::from_bytes(&B256::from(*key)).map_err(|e| Error::SecretKey(e.to_string()))
    }
    /// The owner key of accident `index` (`m/44'/60'/7'/0/<index>`, index < 2^31).
    pub fn owner_key(&self, index: u32) -> Result<OwnerKey> {
        if index & HARDENED != 0 {
            return Err(Error::Derivation(format!(
                "accident index {index} must be below 2^31"
            )));
        }
        let mut path = OWNER_KEY_PATH_PREFIX.to_vec();
        path.push(index);
        Ok(OwnerKey {
            index,
            signer: self.derive_path(&path)?,
        })
    }
}

impl OwnerSeed {
    /// The owner Umbral key of accident `index` (`m/44'/60'/7'/1'/<index>'`, index < 2^31):
    /// the key its session key is wrapped to and its kfrags delegate from.
    pub fn owner_umbral_key(&self, index: u32) -> Result<UmbralSecretKey> {
        if index & HARDENED != 0 {
            return Err(Error::Derivation(format!(
                "accident index {index} must be below 2^31"
            )));
        }
        let mut path = OWNER_UMBRAL_PATH_PREFIX.to_vec();
        path.push(index | HARDENED);
        let key = Zeroizing::new(<[u8; 32]>::from(self.derive_path(&path)?.to_bytes()));
        UmbralSecretKey::from_be_bytes(&key)
    }
}

/// The owner's Ethereum key for one accident (owner of that accident's EC).
#[derive(Clone)]
pub struct OwnerKey {
    index: u32,
    signer: PrivateKeySigner,
}

impl OwnerKey {
    /// The accident index it was derived for.
    pub const fn index(&self) -> u32 {
        self.index
    }
    /// The EC owner address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }
    /// The Ethereum signer (EIP-712 creation signature, transactions).
    pub const fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }
    /// The same key as an Umbral kfrag signer (its Umbral verifying key has this address).
    pub fn kfrag_signer(&self) -> KfragSigner {
        let bytes = Zeroizing::new(<[u8; 32]>::from(self.signer.to_bytes()));
        KfragSigner::from_secret_bytes(&bytes).expect("a valid Ethereum key is a valid Umbral key")
    }
}

impl fmt::Debug for OwnerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OwnerKey(<redacted>, index {}, address {})",
            self.index,
            self.address()
        )
    }
}

/// Everything the keystore protects.
#[derive(Clone)]
pub struct Secrets {
    device_key: Zeroizing<[u8; 32]>,
    umbral_key: Zeroizing<[u8; 32]>,
    owner_seed: OwnerSeed,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets(<redacted>, device {})", self.device_address())
    }
}

const PLAINTEXT_LEN: usize = 128;

impl Secrets {
    /// Fresh random device key, Umbral key and owner seed.
    pub fn generate() -> Self {
        let device = PrivateKeySigner::random();
        let umbral = UmbralSecretKey::generate();
        Self {
            device_key: Zeroizing::new(device.to_bytes().into()),
            umbral_key: umbral.to_be_bytes(),
            owner_seed: OwnerSeed::generate(),
        }
    }
    /// From existing parts (validates both keys).
    pub fn from_parts(
        device_key: [u8; 32],
        umbral_key: [u8; 32],
        owner_seed: OwnerSeed,
    ) -> Result<Self> {
        let s = Self {
            device_key: Zeroizing::new(device_key),
            umbral_key: Zeroizing::new(umbral_key),
            owner_seed,
        };
        s.device_signer()?;
        s.umbral_secret_key()?;
        Ok(s)
    }
    /// The device's signing key (evidence records).
    pub fn device_signer(&self) -> Result<PrivateKeySigner> {
        PrivateKeySigner::from_bytes(&B256::from(*self.device_key))
            .map_err(|e| Error::SecretKey(format!("device key: {e}")))
    }
    /// The device key's address.
    pub fn device_address(&self) -> Address {
        self.device_signer()
            .map(|s| s.address())
            .unwrap_or(Address::ZERO)
    }
    /// The owner's long-lived Umbral key (session keys are wrapped to its public key).
    pub fn umbral_secret_key(&self) -> Result<UmbralSecretKey> {
        UmbralSecretKey::from_be_bytes(&self.umbral_key)
    }
    /// The owner seed.
    pub const fn owner_seed(&self) -> &OwnerSeed {
        &self.owner_seed
    }
    fn to_plaintext(&self) -> Zeroizing<[u8; PLAINTEXT_LEN]> {
        let mut p = Zeroizing::new([0u8; PLAINTEXT_LEN]);
        p[..32].copy_from_slice(&*self.device_key);
        p[32..64].copy_from_slice(&*self.umbral_key);
        p[64..].copy_from_slice(self.owner_seed.expose_secret());
        p
    }
    fn from_plaintext(p: &[u8]) -> Result<Self> {
        if p.len() != PLAINTEXT_LEN {
            return Err(Error::Keystore(format!(
                "plaintext is {} bytes, a dashledger keystore holds {PLAINTEXT_LEN}",
                p.len()
            )));
        }
        let mut seed = [0u8; 64];
        seed.copy_from_slice(&p[64..]);
        let s = Self::from_parts(
            p[..32].try_into().expect("32"),
            p[32..64].try_into().expect("32"),
            OwnerSeed::from_bytes(seed),
        );
        seed.zeroize();
        s
    }
}

/// scrypt cost parameters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KdfParams {
    /// log2 of N.
    pub log_n: u8,
    /// Block size r.
    pub r: u32,
    /// Parallelism p.
    pub p: u32,
}

impl KdfParams {
    /// Default: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s on a laptop, ~1 s on a Pi 3).
    pub const DEFAULT: Self = Self {
        log_n: 15,
        r: 8,
        p: 1,
    };
    /// Cheap parameters for tests only (N = 2^10).
    pub const INSECURE_TEST: Self = Self {
        log_n: 10,
        r: 8,
        p: 1,
    };
    fn check(&self) -> Result<scrypt::Params> {
        // scrypt needs 128 * r * N bytes: cap it at 512 MiB (geth's standard N = 2^18, r = 8 is 256 MiB).
        let mem = (128u128 * u128::from(self.r)) << self.log_n.min(64);
        if self.log_n == 0
            || self.log_n > 20
            || self.r == 0
            || self.p == 0
            || self.p > 16
            || mem > 512 << 20
        {
            return Err(Error::Keystore(format!(
                "scrypt parameters log2(N)={} r={} p={} outside the accepted range (128·r·N ≤ 512 MiB, p ≤ 16)",
                self.log_n, self.r, self.p
            )));
        }
        scrypt::Params::new(self.log_n, self.r, self.p, 32)
            .map_err(|e| Error::Keystore(format!("scrypt parameters: {e}")))
    }
}

#[derive(Serialize, Deserialize)]
struct KeystoreJson {
    version: u32,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    crypto: CryptoJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dashledger: Option<DashledgerJson>,
}

#[derive(Serialize, Deserialize)]
struct CryptoJson {
    cipher: String,
    cipherparams: CipherParams,
    ciphertext: String,
    kdf: String,
    kdfparams: ScryptParamsJson,
    mac: String,
}

#[derive(Serialize, Deserialize)]
struct CipherParams {
    iv: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParamsJson {
    dklen: u32,
    n: u64,
    r: u32,
    p: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct DashledgerJson {
    format: String,
    contents: Vec<String>,
}

const KEYSTORE_FORMAT: &str = "dashledger-keystore-v1";

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

fn v3_encrypt(plaintext: &[u8], password: &[u8], params: KdfParams) -> Result<CryptoJson> {
    let sp = params.check()?;
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let mut dk = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &sp, dk.as_mut())
        .map_err(|e| Error::Keystore(e.to_string()))?;
    let mut ct = plaintext.to_vec();
    Aes128Ctr::new(dk[..16].into(), &iv.into()).apply_keystream(&mut ct);
    let mac = keccak256([&dk[16..32], &ct[..]].concat());
    Ok(CryptoJson {
        cipher: "aes-128-ctr".into(),
        cipherparams: CipherParams {
            iv: hex::encode(iv),
        },
        ciphertext: hex::encode(&ct),
        kdf: "scrypt".into(),
        kdfparams: ScryptParamsJson {
            dklen: 32,
            n: 1u64 << params.log_n,
            r: params.r,
            p: params.p,
            salt: hex::encode(salt),
        },
        mac: hex::encode(mac),
    })
}

fn unhex(field: &str, s: &str) -> Result<Vec<u8>> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|e| Error::Keystore(format!("{field} is not hex: {e}")))
}

/// Decrypts any Ethereum keystore v3 (scrypt, aes-128-ctr) JSON and returns its plaintext
/// (for a standard Ethereum keystore: the 32-byte private key).
pub fn decrypt_v3(json: &str, password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let ks: KeystoreJson = serde_json::from_str(json)
        .map_err(|e| Error::Keystore(format!("not keystore v3 JSON: {e}")))?;
    if ks.version != 3 {
        return Err(Error::Keystore(format!(
            "version {} (expected 3)",
            ks.version
        )));
    }
    let c = &ks.crypto;
    if c.cipher != "aes-128-ctr" {
        return Err(Error::Keystore(format!(
            "cipher {:?} unsupported (aes-128-ctr only)",
            c.cipher
        )));
    }
    if c.kdf != "scrypt" {
        return Err(Error::Keystore(format!(
            "kdf {:?} unsupported (scrypt only)",
            c.kdf
        )));
    }
    let kp = &c.kdfparams;
    if kp.dklen != 32 || !kp.n.is_power_of_two() || kp.n < 2 {
        return Err(Error::Keystore(format!(
            "scrypt dklen {} / n {} invalid (dklen 32, n a power of two)",
            kp.dklen, kp.n
        )));
    }
    let params = KdfParams {
        log_n: kp.n.trailing_zeros() as u8,
        r: kp.r,
        p: kp.p,
    }
    .check()?;
    let salt = unhex("salt", &kp.salt)?;
    let iv: [u8; 16] = unhex("iv", &c.cipherparams.iv)?
        .try_into()
        .map_err(|_| Error::Keystore("iv must be 16 bytes".into()))?;
    let ct = unhex("ciphertext", &c.ciphertext)?;
    let mac = unhex("mac", &c.mac)?;
    let mut dk = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, dk.as_mut())
        .map_err(|e| Error::Keystore(e.to_string()))?;
    if keccak256([&dk[16..32], &ct[..]].concat().as_slice()).as_slice() != mac.as_slice() {
        return Err(Error::KeystorePassword);
    }
    let mut pt = Zeroizing::new(ct);
    Aes128Ctr::new(dk[..16].into(), &iv.into()).apply_keystream(&mut pt);
    Ok(pt)
}

/// Encrypts the secrets into keystore JSON.
pub fn encrypt_keystore(secrets: &Secrets, password: &[u8], params: KdfParams) -> Result<String> {
    let crypto = v3_encrypt(&*secrets.to_plaintext(), password, params)?;
    let ks = KeystoreJson {
        version: 3,
        id: uuid_v4(),
        address: Some(hex::encode(secrets.device_address())),
        crypto,
        dashledger: Some(DashledgerJson {
            format: KEYSTORE_FORMAT.into(),
            contents: vec![
                "device_key".into(),
                "umbral_secret_key".into(),
                "owner_seed".into(),
            ],
        }),
    };
    serde_json::to_string_pretty(&ks).map_err(|e| Error::Keystore(e.to_string()))
}

/// Decrypts keystore JSON written by [`encrypt_keystore`].
pub fn decrypt_keystore(json: &str, password: &[u8]) -> Result<Secrets> {
    let ks: KeystoreJson = serde_json::from_str(json)
        .map_err(|e| Error::Keystore(format!("not keystore v3 JSON: {e}")))?;
    match ks.dashledger {
        Some(d) if d.format == KEYSTORE_FORMAT => {}
        Some(d) => {
            return Err(Error::Keystore(format!(
                "unknown dashledger keystore format {:?}",
                d.format
            )));
        }
        None => {
            return Err(Error::Keystore(
                "a plain Ethereum keystore, not a dashledger one (no \"dashledger\" member); use decrypt_v3".into(),
            ));
        }
    }
    let pt = decrypt_v3(json, password)?;
    Secrets::from_plaintext(&pt)
}

/// Writes the keystore atomically (temp file in the same directory, fsync, rename; mode 0600).
pub fn save_keystore(
    path: impl AsRef<Path>,
    secrets: &Secrets,
    password: &[u8],
    params: KdfParams,
) -> Result<()> {
    let path = path.as_ref();
    let json = encrypt_keystore(secrets, password, params)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(&tmp)
            .map_err(Error::io("creating the temporary keystore file"))?;
        f.write_all(json.as_bytes())
            .map_err(Error::io("writing the keystore"))?;
        f.sync_all().map_err(Error::io("syncing the keystore"))?;
    }
    fs::rename(&tmp, path).map_err(Error::io("renaming the keystore into place"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = fs::File::open(dir)
    {
        // Best effort: persist the rename itself (not supported on every filesystem).
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads and decrypts a keystore file.
pub fn load_keystore(path: impl AsRef<Path>, password: &[u8]) -> Result<Secrets> {
    let json = fs::read_to_string(path).map_err(Error::io("reading the keystore"))?;
    decrypt_keystore(&json, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_MNEMONIC: &str = "test test test test test test test test test test test junk";

    #[test]
    fn bip39_phrases_are_checked() {
        // A wrong last word (checksum), an unknown word, a wrong length: each refused by name.
        for bad in [
            "test test test test test test test test test test test test",
            "test test test test test test test test test test test junkk",
            "test test test junk",
        ] {
            let e = OwnerSeed::from_mnemonic(bad, "").unwrap_err().to_string();
            assert!(e.contains("BIP-39"), "{bad}: {e}");
        }
        // The BIP-39 reference vector (Trezor): "abandon" × 11 + "about", passphrase "TREZOR".
        let seed = OwnerSeed::from_mnemonic(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
            "TREZOR",
        )
        .unwrap();
        assert_eq!(
            hex::encode(seed.expose_secret()),
            "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"
        );
    }

    #[test]
    fn anvil_mnemonic_account_0() {
        let seed = OwnerSeed::from_mnemonic(TEST_MNEMONIC, "").unwrap();
        let k = seed
            .derive_path(&[44 | HARDENED, 60 | HARDENED, HARDENED, 0, 0])
            .unwrap();
        assert_eq!(
            k.address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap()
        );
        assert!(seed.owner_key(HARDENED).is_err());
        assert_ne!(
            seed.owner_key(0).unwrap().address(),
            seed.owner_key(1).unwrap().address()
        );
    }

    #[test]
    fn each_accident_has_its_own_umbral_key_and_a_kfrag_opens_only_its_accident() {
        use crate::{seal::SessionKey, wrap};
        let s = Secrets::generate();
        let seed = s.owner_seed();
        let (u0, u1) = (
            seed.owner_umbral_key(0).unwrap(),
            seed.owner_umbral_key(1).unwrap(),
        );
        assert_eq!(
            u0.public_key(),
            seed.owner_umbral_key(0).unwrap().public_key(),
            "derived, not random"
        );
        assert_ne!(u0.public_key(), u1.public_key());
        assert_ne!(u0.public_key(), s.umbral_secret_key().unwrap().public_key());
        let signer = seed.owner_key(0).unwrap().kfrag_signer();
        assert_ne!(u0.public_key(), signer.verifying_key(), "not the owner key");
        assert!(seed.owner_umbral_key(HARDENED).is_err());
        // The kfrag a requester of accident 0 gets opens accident 0's capsule and not the next
        // accident's (which one long-lived Umbral key would let it open).
        let requester = wrap::UmbralSecretKey::generate();
        let (k0, k1) = (SessionKey::generate(), SessionKey::generate());
        let w0 = wrap::wrap(&u0.public_key(), &k0).unwrap();
        let w1 = wrap::wrap(&u1.public_key(), &k1).unwrap();
        let kfrag = wrap::grant(&u0, &signer, &requester.public_key());
        let signer_pk = signer.verifying_key();
        let got = wrap::recover(
            &requester,
            &u0.public_key(),
            &signer_pk,
            &w0,
            &kfrag,
            &k0.commitment(),
        );
        assert!(got.unwrap() == k0);
        for owner_pk in [u0.public_key(), u1.public_key()] {
            assert!(
                wrap::recover(
                    &requester,
                    &owner_pk,
                    &signer_pk,
                    &w1,
                    &kfrag,
                    &k1.commitment()
                )
                .is_err()
            );
        }
    }

    #[test]
    fn keystore_round_trip_and_wrong_password() {
        let s = Secrets::generate();
        let json = encrypt_keystore(&s, b"pw", KdfParams::INSECURE_TEST).unwrap();
        assert!(!json.contains(&hex::encode(*s.device_key)));
        let back = decrypt_keystore(&json, b"pw").unwrap();
        assert_eq!(back.device_address(), s.device_address());
        assert_eq!(back.owner_seed(), s.owner_seed());
        assert_eq!(
            back.umbral_secret_key().unwrap().public_key(),
            s.umbral_secret_key().unwrap().public_key()
        );
        assert!(matches!(
            decrypt_keystore(&json, b"wrong"),
            Err(Error::KeystorePassword)
        ));
        let dbg = format!(
            "{s:?} {:?} {:?}",
            s.owner_seed(),
            s.owner_seed().owner_key(0).unwrap()
        );
        assert!(!dbg.contains(&hex::encode(*s.device_key)) && dbg.contains("redacted"));
    }

    #[test]
    fn keystore_file_is_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keystore.json");
        let s = Secrets::generate();
        save_keystore(&p, &s, b"pw", KdfParams::INSECURE_TEST).unwrap();
        save_keystore(&p, &s, b"pw", KdfParams::INSECURE_TEST).unwrap();
        assert!(!dir.path().join("keystore.json.tmp").exists());
        assert_eq!(
            load_keystore(&p, b"pw").unwrap().device_address(),
            s.device_address()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
