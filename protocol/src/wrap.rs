//! Key wrapping with Umbral proxy re-encryption (`umbral-pre` 0.11, msgpack serialization,
//! readable by `@nucypher/umbral-pre` in the browser).
//!
//! * Agent: [`wrap`] encrypts the [`SessionKey`] to the owner's Umbral public key → a
//!   [`WrappedKey`] (capsule + ciphertext). The EC stores `keyCommitment = keccak256(key)`.
//! * Owner: [`grant`] makes a kfrag (threshold 1 of 1) for a requester's Umbral public key,
//!   signed by the per-accident owner key ([`KfragSigner`]; its public key's Ethereum address
//!   is the EC owner, so a kfrag can be tied to the EC on-chain).
//! * Requester: [`recover`] verifies the kfrag, re-encrypts the capsule, decrypts and checks
//!   the key commitment.
//! * Cloud (dispute check): [`verify_kfrag`] and [`verify_cfrag`].

use std::fmt;

use alloy::primitives::{Address, B256};
use umbral_pre::{
    Capsule, CapsuleFrag, DefaultDeserialize, DefaultSerialize, KeyFrag, PublicKey, SecretKey,
    Signer, VerifiedCapsuleFrag, VerifiedKeyFrag,
};
use zeroize::Zeroizing;

pub use crate::seal::SessionKey;
use crate::{
    error::{Error, Result},
    hash::keccak256,
};

fn umbral_secret_from_bytes(bytes: &[u8; 32]) -> Result<SecretKey> {
    // umbral-pre has no public constructor for its SecretBox; overwrite a fresh key's box.
    let mut boxed = SecretKey::random().to_be_bytes();
    boxed.as_mut_secret().copy_from_slice(bytes);
    SecretKey::try_from_be_bytes(&boxed)
        .map_err(|e| Error::SecretKey(format!("not a valid secp256k1 scalar: {e}")))
}

/// An Umbral secret key (secp256k1 scalar). Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct UmbralSecretKey(SecretKey);

impl UmbralSecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(SecretKey::random())
    }
    /// From the 32-byte big-endian scalar.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Result<Self> {
        umbral_secret_from_bytes(bytes).map(Self)
    }
    /// The 32-byte big-endian scalar (for the keystore).
    pub fn to_be_bytes(&self) -> Zeroizing<[u8; 32]> {
        let b = self.0.to_be_bytes();
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(b.as_secret());
        out
    }
    /// The matching public key.
    pub fn public_key(&self) -> UmbralPublicKey {
        UmbralPublicKey(self.0.public_key())
    }
}

impl fmt::Debug for UmbralSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UmbralSecretKey(<redacted>, public {})",
            self.public_key()
        )
    }
}

/// An Umbral public key; wire form: 33-byte compressed SEC1 point.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UmbralPublicKey(PublicKey);

impl UmbralPublicKey {
    /// Length of the wire form.
    pub const LEN: usize = 33;
    /// Parses a 33-byte compressed point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::LEN {
            return Err(Error::Length {
                what: "Umbral public key",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        PublicKey::try_from_compressed_bytes(bytes)
            .map(Self)
            .map_err(|reason| Error::UmbralDecode {
                what: "public key",
                reason,
            })
    }
    /// The 33-byte compressed point.
    pub fn to_bytes(&self) -> [u8; 33] {
        let b = self.0.to_compressed_bytes();
        b.as_ref()
            .try_into()
            .expect("compressed secp256k1 point is 33 bytes")
    }
    /// The Ethereum address of this point (meaningful for a [`KfragSigner`]'s key: it is the
    /// EC owner's address).
    pub fn eth_address(&self) -> Address {
        let un = self.0.to_uncompressed_bytes();
        Address::from_slice(&keccak256(&un[1..])[12..])
    }
}

impl fmt::Display for UmbralPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.to_bytes()))
    }
}

/// The key that signs kfrags: the per-accident owner key (see
/// [`crate::keys::OwnerKey::kfrag_signer`]). Its public key's Ethereum address is the EC owner.
#[derive(Clone)]
pub struct KfragSigner {
    signer: Signer,
}

impl KfragSigner {
    /// From a 32-byte secp256k1 secret (the same scalar as the owner's Ethereum key).
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Result<Self> {
        Ok(Self {
            signer: Signer::new(umbral_secret_from_bytes(bytes)?),
        })
    }
    /// The public key a verifier checks kfrag signatures against.
    pub fn verifying_key(&self) -> UmbralPublicKey {
        UmbralPublicKey(self.signer.verifying_key())
    }
}

impl fmt::Debug for KfragSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KfragSigner(<redacted>, address {})",
            self.verifying_key().eth_address()
        )
    }
}

/// A session key encrypted to the owner: Umbral capsule (105 B msgpack) and DEM ciphertext (72 B).
#[derive(Clone, PartialEq, Debug)]
pub struct WrappedKey {
    capsule: Capsule,
    ciphertext: Box<[u8]>,
}

impl WrappedKey {
    /// Capsule length in bytes (msgpack).
    pub const CAPSULE_LEN: usize = 105;

    /// The msgpack-serialized capsule (105 bytes).
    pub fn capsule_bytes(&self) -> Vec<u8> {
        self.capsule
            .to_bytes()
            .expect("capsule serialization cannot fail")
            .into_vec()
    }
    /// The DEM ciphertext of the session key (XChaCha20-Poly1305: nonce 24 || ct 32 || tag 16).
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }
    /// From the two parts as stored in the EC / sent to the requester.
    pub fn from_parts(capsule: &[u8], ciphertext: &[u8]) -> Result<Self> {
        let capsule = Capsule::from_bytes(capsule).map_err(|e| Error::UmbralDecode {
            what: "capsule",
            reason: e.to_string(),
        })?;
        if ciphertext.len() != 72 {
            return Err(Error::Length {
                what: "wrapped session key ciphertext",
                expected: 72,
                got: ciphertext.len(),
            });
        }
        Ok(Self {
            capsule,
            ciphertext: ciphertext.into(),
        })
    }
    /// One blob: `capsule (105) || ciphertext (72)` = 177 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.capsule_bytes();
        v.extend_from_slice(&self.ciphertext);
        v
    }
    /// Parses [`WrappedKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::CAPSULE_LEN + 72 {
            return Err(Error::Length {
                what: "wrapped key",
                expected: Self::CAPSULE_LEN + 72,
                got: bytes.len(),
            });
        }
        Self::from_parts(&bytes[..Self::CAPSULE_LEN], &bytes[Self::CAPSULE_LEN..])
    }
}

fn check_commitment(key: [u8; 32], expected: &B256) -> Result<SessionKey> {
    let key = SessionKey::from_bytes(key);
    let got = key.commitment();
    if got != *expected {
        return Err(Error::CommitmentMismatch {
            expected: *expected,
            got,
        });
    }
    Ok(key)
}

fn session_key_from_plaintext(pt: Box<[u8]>, expected: &B256) -> Result<SessionKey> {
    let pt = Zeroizing::new(pt);
    let bytes: [u8; 32] = pt.as_ref().try_into().map_err(|_| Error::Umbral {
        op: "decryption",
        reason: format!("plaintext is {} bytes, not a 32-byte session key", pt.len()),
    })?;
    check_commitment(bytes, expected)
}

/// Agent: encrypts the session key to the owner's Umbral public key.
pub fn wrap(owner_pk: &UmbralPublicKey, key: &SessionKey) -> Result<WrappedKey> {
    let (capsule, ciphertext) =
        umbral_pre::encrypt(&owner_pk.0, key.expose_secret()).map_err(|e| Error::Umbral {
            op: "encryption",
            reason: e.to_string(),
        })?;
    Ok(WrappedKey {
        capsule,
        ciphertext,
    })
}

/// Owner: decrypts their own wrapped key directly (no re-encryption) and checks it against
/// the commitment.
pub fn unwrap_own(
    owner_sk: &UmbralSecretKey,
    wrapped: &WrappedKey,
    key_commitment: &B256,
) -> Result<SessionKey> {
    let pt = umbral_pre::decrypt_original(&owner_sk.0, &wrapped.capsule, &wrapped.ciphertext)
        .map_err(|e| Error::Umbral {
            op: "decryption",
            reason: e.to_string(),
        })?;
    session_key_from_plaintext(pt, key_commitment)
}

/// Owner: a re-encryption key fragment (threshold 1 of 1) letting `requester_pk` recover the
/// session key, signed by `signer` over both public keys. Returns the msgpack bytes (~310 B).
pub fn grant(
    owner_sk: &UmbralSecretKey,
    signer: &KfragSigner,
    requester_pk: &UmbralPublicKey,
) -> Vec<u8> {
    let kfrags = umbral_pre::generate_kfrags(
        &owner_sk.0,
        &requester_pk.0,
        &signer.signer,
        1,
        1,
        true,
        true,
    );
    kfrags[0]
        .clone()
        .unverify()
        .to_bytes()
        .expect("kfrag serialization cannot fail")
        .into_vec()
}

/// A kfrag that passed [`verify_kfrag`].
#[derive(Clone, Debug)]
pub struct VerifiedKfrag(VerifiedKeyFrag);

/// A cfrag that passed [`verify_cfrag`] (or was produced by [`reencrypt`]).
#[derive(Clone, Debug)]
pub struct VerifiedCfrag(VerifiedCapsuleFrag);

impl VerifiedCfrag {
    /// msgpack bytes (~381 B).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .clone()
            .unverify()
            .to_bytes()
            .expect("cfrag serialization cannot fail")
            .into_vec()
    }
}

/// Checks a kfrag: signed by `signer_pk` (the EC owner's key), delegating from `owner_pk` to
/// `requester_pk`.
pub fn verify_kfrag(
    kfrag: &[u8],
    signer_pk: &UmbralPublicKey,
    owner_pk: &UmbralPublicKey,
    requester_pk: &UmbralPublicKey,
) -> Result<VerifiedKfrag> {
    let k = KeyFrag::from_bytes(kfrag).map_err(|e| Error::UmbralDecode {
        what: "kfrag",
        reason: e.to_string(),
    })?;
    k.verify(&signer_pk.0, Some(&owner_pk.0), Some(&requester_pk.0))
        .map(VerifiedKfrag)
        .map_err(|(e, _)| Error::KfragVerification(e.to_string()))
}

/// Re-encrypts the wrapped key's capsule with a verified kfrag → a capsule fragment.
pub fn reencrypt(wrapped: &WrappedKey, kfrag: VerifiedKfrag) -> VerifiedCfrag {
    VerifiedCfrag(umbral_pre::reencrypt(&wrapped.capsule, kfrag.0))
}

/// Checks a cfrag against the capsule, the kfrag signer and both public keys (the cloud's
/// dispute check, or a requester receiving a cfrag from elsewhere).
pub fn verify_cfrag(
    cfrag: &[u8],
    wrapped: &WrappedKey,
    signer_pk: &UmbralPublicKey,
    owner_pk: &UmbralPublicKey,
    requester_pk: &UmbralPublicKey,
) -> Result<VerifiedCfrag> {
    let c = CapsuleFrag::from_bytes(cfrag).map_err(|e| Error::UmbralDecode {
        what: "cfrag",
        reason: e.to_string(),
    })?;
    c.verify(&wrapped.capsule, &signer_pk.0, &owner_pk.0, &requester_pk.0)
        .map(VerifiedCfrag)
        .map_err(|(e, _)| Error::CfragVerification(e.to_string()))
}

/// Requester: decrypts the wrapped key with a verified cfrag and checks the commitment.
pub fn decrypt_with_cfrag(
    requester_sk: &UmbralSecretKey,
    owner_pk: &UmbralPublicKey,
    wrapped: &WrappedKey,
    cfrag: VerifiedCfrag,
    key_commitment: &B256,
) -> Result<SessionKey> {
    let pt = umbral_pre::decrypt_reencrypted(
        &requester_sk.0,
        &owner_pk.0,
        &wrapped.capsule,
        [cfrag.0],
        &wrapped.ciphertext,
    )
    .map_err(|e| Error::Umbral {
        op: "re-encrypted decryption",
        reason: e.to_string(),
    })?;
    session_key_from_plaintext(pt, key_commitment)
}

/// Requester, all in one: verify the kfrag, re-encrypt, decrypt, check `key_commitment`.
pub fn recover(
    requester_sk: &UmbralSecretKey,
    owner_pk: &UmbralPublicKey,
    signer_pk: &UmbralPublicKey,
    wrapped: &WrappedKey,
    kfrag: &[u8],
    key_commitment: &B256,
) -> Result<SessionKey> {
    let vk = verify_kfrag(kfrag, signer_pk, owner_pk, &requester_sk.public_key())?;
    let cfrag = reencrypt(wrapped, vk);
    decrypt_with_cfrag(requester_sk, owner_pk, wrapped, cfrag, key_commitment)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owner, a requester, a kfrag signer, a session key wrapped to the owner (with its
    /// commitment) and the owner's grant to the requester.
    struct Grant {
        owner: UmbralSecretKey,
        requester: UmbralSecretKey,
        signer: KfragSigner,
        key: SessionKey,
        c: B256,
        w: WrappedKey,
        kfrag: Vec<u8>,
    }

    fn granted() -> Grant {
        let owner = UmbralSecretKey::generate();
        let requester = UmbralSecretKey::generate();
        let signer = KfragSigner::from_secret_bytes(&[0x42; 32]).unwrap();
        let key = SessionKey::generate();
        let c = key.commitment();
        let w = wrap(&owner.public_key(), &key).unwrap();
        let kfrag = grant(&owner, &signer, &requester.public_key());
        Grant {
            owner,
            requester,
            signer,
            key,
            c,
            w,
            kfrag,
        }
    }

    #[test]
    fn sizes_and_owner_unwrap() {
        let Grant {
            owner, key, c, w, ..
        } = granted();
        assert_eq!(w.capsule_bytes().len(), WrappedKey::CAPSULE_LEN);
        assert_eq!(w.ciphertext().len(), 72);
        assert_eq!(WrappedKey::from_bytes(&w.to_bytes()).unwrap(), w);
        assert_eq!(unwrap_own(&owner, &w, &c).unwrap(), key);
    }

    #[test]
    fn owner_to_requester() {
        let Grant {
            owner,
            requester,
            signer,
            key,
            c,
            w,
            kfrag,
        } = granted();
        let got = recover(
            &requester,
            &owner.public_key(),
            &signer.verifying_key(),
            &w,
            &kfrag,
            &c,
        )
        .unwrap();
        assert_eq!(got, key);
        // Wrong commitment, wrong signer, wrong requester all fail.
        assert!(matches!(
            recover(
                &requester,
                &owner.public_key(),
                &signer.verifying_key(),
                &w,
                &kfrag,
                &B256::ZERO
            ),
            Err(Error::CommitmentMismatch { .. })
        ));
        let other = UmbralSecretKey::generate();
        assert!(matches!(
            recover(
                &requester,
                &owner.public_key(),
                &other.public_key(),
                &w,
                &kfrag,
                &c
            ),
            Err(Error::KfragVerification(_))
        ));
        assert!(
            recover(
                &other,
                &owner.public_key(),
                &signer.verifying_key(),
                &w,
                &kfrag,
                &c
            )
            .is_err()
        );
    }

    #[test]
    fn cfrag_verification_for_the_dispute_check() {
        let Grant {
            owner,
            requester,
            signer,
            key,
            c,
            w,
            kfrag,
        } = granted();
        let vk = verify_kfrag(
            &kfrag,
            &signer.verifying_key(),
            &owner.public_key(),
            &requester.public_key(),
        )
        .unwrap();
        let cfrag = reencrypt(&w, vk).to_bytes();
        let vc = verify_cfrag(
            &cfrag,
            &w,
            &signer.verifying_key(),
            &owner.public_key(),
            &requester.public_key(),
        )
        .unwrap();
        assert_eq!(
            decrypt_with_cfrag(&requester, &owner.public_key(), &w, vc, &c).unwrap(),
            key
        );
        let w2 = wrap(&owner.public_key(), &key).unwrap();
        assert!(matches!(
            verify_cfrag(
                &cfrag,
                &w2,
                &signer.verifying_key(),
                &owner.public_key(),
                &requester.public_key()
            ),
            Err(Error::CfragVerification(_))
        ));
    }

    #[test]
    fn secret_round_trip_and_redaction() {
        let sk = UmbralSecretKey::generate();
        let back = UmbralSecretKey::from_be_bytes(&sk.to_be_bytes()).unwrap();
        assert_eq!(back.public_key(), sk.public_key());
        assert_eq!(
            UmbralPublicKey::from_bytes(&sk.public_key().to_bytes()).unwrap(),
            sk.public_key()
        );
        assert!(format!("{sk:?}").contains("redacted"));
        assert!(UmbralSecretKey::from_be_bytes(&[0u8; 32]).is_err());
    }
}
