//! Evidence records: the 96-byte per-segment proof a device sends every minute, and its
//! 161-byte signed form. Byte layout in `docs/formats.md` ("Evidence record").
//!
//! ```text
//! offset len  field
//!      0   4  seq            u32 big-endian, 0 for the device's first segment
//!      4  21  device id      0x01 || 20-byte Ethereum address of the device key
//!     25   7  file name      segment start, UTC: year u16 BE | month | day | hour | minute | second
//!     32  32  prev hash      Keccak-256 of the previous segment file (zero for seq 0)
//!     64  32  segment hash   Keccak-256 of this segment file
//! ```
//!
//! Signed record = record (96) || r (32) || s (32) || v (1, 27 or 28), the signature being an
//! EIP-191 `personal_sign` by the device key over [`RECORD_SIGNING_TAG`] || record.
//! Location is never part of a record.

use std::fmt;

use alloy::{
    primitives::{Address, B256, Signature, eip191_hash_message},
    signers::{SignerSync, local::PrivateKeySigner},
};

use crate::{
    error::{Error, Result},
    hash::keccak256,
};

/// Length of an encoded [`EvidenceRecord`].
pub const RECORD_LEN: usize = 96;
/// Length of an encoded [`SignedRecord`]: record + 65-byte signature.
pub const SIGNED_RECORD_LEN: usize = RECORD_LEN + 65;
/// Domain tag prepended to the record bytes before EIP-191 signing.
pub const RECORD_SIGNING_TAG: &[u8; 20] = b"dashledger:record:v1";
/// Version byte of a [`DeviceId`] holding an Ethereum address.
pub const DEVICE_ID_VERSION_ETH: u8 = 0x01;

/// A device identity: version byte 0x01 followed by the 20-byte Ethereum address of the
/// device's secp256k1 signing key (21 bytes on the wire).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DeviceId(Address);

impl DeviceId {
    /// The device id of the key with this address.
    pub const fn from_address(address: Address) -> Self {
        Self(address)
    }
    /// The device key's Ethereum address.
    pub const fn address(&self) -> Address {
        self.0
    }
    /// The 21-byte wire form.
    pub fn to_bytes(&self) -> [u8; 21] {
        let mut out = [0u8; 21];
        out[0] = DEVICE_ID_VERSION_ETH;
        out[1..].copy_from_slice(self.0.as_slice());
        out
    }
    /// Parses the 21-byte wire form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 21 {
            return Err(Error::Length {
                what: "device id",
                expected: 21,
                got: bytes.len(),
            });
        }
        if bytes[0] != DEVICE_ID_VERSION_ETH {
            return Err(Error::DeviceIdVersion(bytes[0]));
        }
        Ok(Self(Address::from_slice(&bytes[1..])))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The record's 7-byte "file name": the UTC start time of the segment, packed as
/// `year u16 BE | month 1-12 | day 1-31 | hour 0-23 | minute 0-59 | second 0-59`.
///
/// Segment files are named after it the way dashcams name them: [`SegmentTime::file_name`]
/// gives `YYYYMMDD-HHMMSS.mp4` (UTC); [`SegmentTime::parse_file_name`] reads such a name back.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SegmentTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

const fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

const fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian), Howard Hinnant's algorithm.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl SegmentTime {
    /// Earliest representable year.
    pub const MIN_YEAR: u16 = 1970;
    /// Latest representable year.
    pub const MAX_YEAR: u16 = 9999;

    /// A validated UTC date-time (years 1970-9999, no leap seconds).
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Result<Self> {
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            return Err(Error::SegmentTime(format!("year {year} outside 1970-9999")));
        }
        if !(1..=12).contains(&month) {
            return Err(Error::SegmentTime(format!("month {month} outside 1-12")));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(Error::SegmentTime(format!(
                "day {day} does not exist in {year}-{month:02}"
            )));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(Error::SegmentTime(format!(
                "time {hour:02}:{minute:02}:{second:02} is not a valid UTC time of day"
            )));
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// From seconds since the Unix epoch (UTC).
    pub fn from_unix(secs: u64) -> Result<Self> {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        let year = u16::try_from(y)
            .map_err(|_| Error::SegmentTime(format!("unix time {secs} is after year 9999")))?;
        Self::new(
            year,
            m as u8,
            d as u8,
            (rem / 3600) as u8,
            (rem % 3600 / 60) as u8,
            (rem % 60) as u8,
        )
    }

    /// Seconds since the Unix epoch (UTC).
    pub fn to_unix(&self) -> u64 {
        let days = days_from_civil(self.year.into(), self.month.into(), self.day.into());
        days as u64 * 86_400
            + u64::from(self.hour) * 3600
            + u64::from(self.minute) * 60
            + u64::from(self.second)
    }

    /// The 7-byte wire form.
    pub fn to_bytes(&self) -> [u8; 7] {
        let y = self.year.to_be_bytes();
        [
            y[0],
            y[1],
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        ]
    }

    /// Parses and validates the 7-byte wire form.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() != 7 {
            return Err(Error::Length {
                what: "segment time",
                expected: 7,
                got: b.len(),
            });
        }
        Self::new(
            u16::from_be_bytes([b[0], b[1]]),
            b[2],
            b[3],
            b[4],
            b[5],
            b[6],
        )
    }

    /// The segment's file name, `YYYYMMDD-HHMMSS.mp4` (UTC).
    pub fn file_name(&self) -> String {
        format!("{self}.mp4")
    }

    /// Parses `YYYYMMDD-HHMMSS` with an optional extension (e.g. `20261123-171500.mp4`).
    pub fn parse_file_name(name: &str) -> Result<Self> {
        let stem = name.split_once('.').map_or(name, |(s, _)| s);
        let b = stem.as_bytes();
        if b.len() != 15
            || b[8] != b'-'
            || !b
                .iter()
                .enumerate()
                .all(|(i, c)| i == 8 || c.is_ascii_digit())
        {
            return Err(Error::SegmentTime(format!(
                "file name {name:?} is not YYYYMMDD-HHMMSS[.ext]"
            )));
        }
        let n = |r: std::ops::Range<usize>| stem[r].parse::<u16>().expect("digits");
        Self::new(
            n(0..4),
            n(4..6) as u8,
            n(6..8) as u8,
            n(9..11) as u8,
            n(11..13) as u8,
            n(13..15) as u8,
        )
    }
}

impl fmt::Display for SegmentTime {
    /// `YYYYMMDD-HHMMSS` (UTC).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// One segment's evidence record (96 bytes on the wire).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EvidenceRecord {
    /// Sequence number: 0 for the device's first segment, +1 for each following one.
    pub seq: u32,
    /// The recording device.
    pub device: DeviceId,
    /// Segment start time (the record's "file name").
    pub start: SegmentTime,
    /// Keccak-256 of the previous segment file; [`B256::ZERO`] for `seq == 0`.
    pub prev_hash: B256,
    /// Keccak-256 of this segment file.
    pub segment_hash: B256,
}

impl EvidenceRecord {
    /// The 96-byte wire form.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[0..4].copy_from_slice(&self.seq.to_be_bytes());
        out[4..25].copy_from_slice(&self.device.to_bytes());
        out[25..32].copy_from_slice(&self.start.to_bytes());
        out[32..64].copy_from_slice(self.prev_hash.as_slice());
        out[64..96].copy_from_slice(self.segment_hash.as_slice());
        out
    }

    /// Parses and validates the 96-byte wire form.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != RECORD_LEN {
            return Err(Error::Length {
                what: "evidence record",
                expected: RECORD_LEN,
                got: bytes.len(),
            });
        }
        Ok(Self {
            seq: u32::from_be_bytes(bytes[0..4].try_into().expect("4 bytes")),
            device: DeviceId::from_bytes(&bytes[4..25])?,
            start: SegmentTime::from_bytes(&bytes[25..32])?,
            prev_hash: B256::from_slice(&bytes[32..64]),
            segment_hash: B256::from_slice(&bytes[64..96]),
        })
    }

    /// Keccak-256 of the 96 record bytes: the record's identity (used to tell forks from
    /// duplicates).
    pub fn id(&self) -> B256 {
        keccak256(self.encode())
    }

    /// The digest the device signs: EIP-191 `personal_sign` hash of
    /// `"dashledger:record:v1" || record`, i.e.
    /// `keccak256("\x19Ethereum Signed Message:\n116" || tag || record)`.
    pub fn signing_digest(&self) -> B256 {
        let mut msg = [0u8; RECORD_SIGNING_TAG.len() + RECORD_LEN];
        msg[..RECORD_SIGNING_TAG.len()].copy_from_slice(RECORD_SIGNING_TAG);
        msg[RECORD_SIGNING_TAG.len()..].copy_from_slice(&self.encode());
        eip191_hash_message(msg)
    }

    /// Signs the record with the device key. Fails if the key's address is not the record's
    /// device id.
    pub fn sign(&self, device_key: &PrivateKeySigner) -> Result<SignedRecord> {
        if device_key.address() != self.device.address() {
            return Err(Error::DeviceMismatch {
                claimed: self.device.address(),
                recovered: device_key.address(),
            });
        }
        let sig = device_key
            .sign_hash_sync(&self.signing_digest())
            .map_err(|e| Error::Signature(e.to_string()))?;
        Ok(SignedRecord {
            record: *self,
            signature: sig.as_bytes(),
        })
    }
}

/// Parses a 65-byte `r || s || v` signature strictly: v ∈ {27, 28}, 0 < r, s < n and low s
/// (EIP-2), so that every signature has exactly one accepted encoding.
pub(crate) fn parse_strict_signature(bytes: &[u8; 65]) -> Result<Signature> {
    let v = bytes[64];
    if v != 27 && v != 28 {
        return Err(Error::Signature(format!("v must be 27 or 28, got {v}")));
    }
    let sig = Signature::from_raw_array(bytes).map_err(|e| Error::Signature(e.to_string()))?;
    sig.to_k256()
        .map_err(|_| Error::Signature("r or s is zero or not below the curve order".into()))?;
    if sig.normalize_s().is_some() {
        return Err(Error::Signature(
            "s is in the upper half of the curve order (EIP-2)".into(),
        ));
    }
    Ok(sig)
}

/// Recovers the signer of a 32-byte digest from a strict 65-byte signature (libsecp256k1 when
/// the `secp256k1` feature is on, else k256; both give the same answer).
pub(crate) fn recover_strict(digest: &B256, sig: &[u8; 65]) -> Result<Address> {
    #[cfg(feature = "secp256k1")]
    {
        recover_strict_secp256k1(digest, sig)
    }
    #[cfg(not(feature = "secp256k1"))]
    {
        recover_strict_k256(digest, sig)
    }
}

/// [`recover_strict`] with k256.
#[cfg_attr(all(feature = "secp256k1", not(test)), allow(dead_code))]
pub(crate) fn recover_strict_k256(digest: &B256, sig: &[u8; 65]) -> Result<Address> {
    parse_strict_signature(sig)?
        .recover_address_from_prehash(digest)
        .map_err(|e| Error::Signature(format!("public key recovery failed: {e}")))
}

/// [`recover_strict`] with libsecp256k1 (the strictness checks are the same k256 parse).
#[cfg(feature = "secp256k1")]
pub(crate) fn recover_strict_secp256k1(digest: &B256, sig: &[u8; 65]) -> Result<Address> {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
    static CTX: std::sync::LazyLock<secp256k1::Secp256k1<secp256k1::VerifyOnly>> =
        std::sync::LazyLock::new(secp256k1::Secp256k1::verification_only);
    parse_strict_signature(sig)?;
    let recid = RecoveryId::try_from(i32::from(sig[64] - 27))
        .map_err(|e| Error::Signature(format!("bad recovery id: {e}")))?;
    let rsig = RecoverableSignature::from_compact(&sig[..64], recid)
        .map_err(|e| Error::Signature(format!("bad signature: {e}")))?;
    let pk = CTX
        .recover_ecdsa(secp256k1::Message::from_digest(digest.0), &rsig)
        .map_err(|e| Error::Signature(format!("public key recovery failed: {e}")))?;
    let uncompressed = pk.serialize_uncompressed();
    Ok(Address::from_raw_public_key(&uncompressed[1..]))
}

/// An evidence record with the device's signature (161 bytes on the wire). Not yet verified:
/// call [`SignedRecord::verify`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SignedRecord {
    record: EvidenceRecord,
    signature: [u8; 65],
}

impl SignedRecord {
    /// The (unverified) record.
    pub const fn record(&self) -> &EvidenceRecord {
        &self.record
    }
    /// The 65-byte `r || s || v` signature.
    pub const fn signature(&self) -> &[u8; 65] {
        &self.signature
    }
    /// The 161-byte wire form.
    pub fn encode(&self) -> [u8; SIGNED_RECORD_LEN] {
        let mut out = [0u8; SIGNED_RECORD_LEN];
        out[..RECORD_LEN].copy_from_slice(&self.record.encode());
        out[RECORD_LEN..].copy_from_slice(&self.signature);
        out
    }
    /// Parses the 161-byte wire form (record fields validated; the signature only when
    /// verifying).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != SIGNED_RECORD_LEN {
            return Err(Error::Length {
                what: "signed evidence record",
                expected: SIGNED_RECORD_LEN,
                got: bytes.len(),
            });
        }
        Ok(Self {
            record: EvidenceRecord::decode(&bytes[..RECORD_LEN])?,
            signature: bytes[RECORD_LEN..].try_into().expect("65 bytes"),
        })
    }
    /// Checks the signature strictly and that it was made by the device named in the record.
    pub fn verify(&self) -> Result<VerifiedRecord> {
        let recovered = recover_strict(&self.record.signing_digest(), &self.signature)?;
        if recovered != self.record.device.address() {
            return Err(Error::DeviceMismatch {
                claimed: self.record.device.address(),
                recovered,
            });
        }
        Ok(VerifiedRecord { signed: *self })
    }
}

/// A signed record whose signature has been checked against its device id. Only
/// [`SignedRecord::verify`] makes one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct VerifiedRecord {
    signed: SignedRecord,
}

impl VerifiedRecord {
    /// The record.
    pub const fn record(&self) -> &EvidenceRecord {
        &self.signed.record
    }
    /// The signed form (for storage / forwarding).
    pub const fn signed(&self) -> &SignedRecord {
        &self.signed
    }
    /// The address that signed (equal to the record's device id).
    pub const fn device(&self) -> Address {
        self.signed.record.device.address()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKeySigner {
        // anvil account 0
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap()
    }

    fn rec(signer: &PrivateKeySigner) -> EvidenceRecord {
        EvidenceRecord {
            seq: 7,
            device: DeviceId::from_address(signer.address()),
            start: SegmentTime::new(2026, 11, 23, 17, 15, 0).unwrap(),
            prev_hash: keccak256(b"prev"),
            segment_hash: keccak256(b"this"),
        }
    }

    #[test]
    fn layout_and_round_trip() {
        let k = key();
        let r = rec(&k);
        let b = r.encode();
        assert_eq!(&b[0..4], &[0, 0, 0, 7]);
        assert_eq!(b[4], 0x01);
        assert_eq!(&b[5..25], k.address().as_slice());
        assert_eq!(&b[25..32], &[0x07, 0xea, 11, 23, 17, 15, 0]);
        assert_eq!(EvidenceRecord::decode(&b).unwrap(), r);
        let s = r.sign(&k).unwrap();
        let sb = s.encode();
        assert_eq!(sb.len(), 161);
        let v = SignedRecord::decode(&sb).unwrap().verify().unwrap();
        assert_eq!(v.device(), k.address());
        assert_eq!(v.record(), &r);
    }

    #[test]
    fn rejects_bad_fields() {
        let k = key();
        let mut b = rec(&k).encode();
        b[4] = 2;
        assert!(matches!(
            EvidenceRecord::decode(&b),
            Err(Error::DeviceIdVersion(2))
        ));
        let mut b = rec(&k).encode();
        b[28] = 30; // 2026-11-30 ok
        assert!(EvidenceRecord::decode(&b).is_ok());
        b[28] = 31; // 2026-11-31 does not exist
        assert!(matches!(
            EvidenceRecord::decode(&b),
            Err(Error::SegmentTime(_))
        ));
        assert!(matches!(
            EvidenceRecord::decode(&b[..95]),
            Err(Error::Length { .. })
        ));
    }

    #[test]
    fn signature_from_other_key_or_high_s_is_rejected() {
        let k = key();
        let other = PrivateKeySigner::random();
        let r = rec(&k);
        let mut forged = r;
        forged.device = DeviceId::from_address(other.address());
        let s = forged.sign(&other).unwrap();
        let mut bytes = s.encode();
        bytes[4..25].copy_from_slice(&DeviceId::from_address(k.address()).to_bytes());
        assert!(matches!(
            SignedRecord::decode(&bytes).unwrap().verify(),
            Err(Error::DeviceMismatch { .. })
        ));

        // The same signature with s' = n - s and flipped v is valid ECDSA but not canonical.
        let s = r.sign(&k).unwrap();
        let sig = Signature::from_raw_array(s.signature()).unwrap();
        let n = alloy::primitives::U256::from_be_slice(
            &hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
                .unwrap(),
        );
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        let mut bytes = s.encode();
        bytes[96..].copy_from_slice(&high.as_bytes());
        assert!(matches!(
            SignedRecord::decode(&bytes).unwrap().verify(),
            Err(Error::Signature(_))
        ));
    }

    #[test]
    fn unix_time_round_trip() {
        for secs in [
            0u64,
            951_782_400, /* 2000-02-29 */
            1_795_446_900,
            253_402_300_799,
        ] {
            let t = SegmentTime::from_unix(secs).unwrap();
            assert_eq!(t.to_unix(), secs, "{t}");
        }
        let t = SegmentTime::from_unix(951_782_400).unwrap();
        assert_eq!(t.file_name(), "20000229-000000.mp4");
        assert_eq!(SegmentTime::parse_file_name(&t.file_name()).unwrap(), t);
        assert!(SegmentTime::parse_file_name("20000230-000000.mp4").is_err());
        assert!(SegmentTime::parse_file_name("2000023-0000000.mp4").is_err());
        assert!(SegmentTime::from_unix(253_402_300_800).is_err());
    }
}

/// libsecp256k1 and k256 recovery agree on every input: valid signatures of random keys over
/// random digests, and arbitrary 65-byte strings (same address or both refused).
#[cfg(all(test, feature = "secp256k1"))]
mod secp256k1_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn same_address_for_valid_signatures(key in any::<[u8; 32]>(), digest in any::<[u8; 32]>()) {
            let Ok(signer) = PrivateKeySigner::from_slice(&key) else { return Ok(()) };
            let digest = B256::from(digest);
            let sig = signer.sign_hash_sync(&digest).unwrap().as_bytes();
            let a = recover_strict_k256(&digest, &sig).unwrap();
            let b = recover_strict_secp256k1(&digest, &sig).unwrap();
            prop_assert_eq!(a, signer.address());
            prop_assert_eq!(a, b);
        }

        #[test]
        fn same_answer_for_arbitrary_bytes(
            rs in any::<[u8; 64]>(),
            v in prop_oneof![Just(27u8), Just(28u8), any::<u8>()],
            digest in any::<[u8; 32]>(),
        ) {
            let mut sig = [0u8; 65];
            sig[..64].copy_from_slice(&rs);
            sig[64] = v;
            let digest = B256::from(digest);
            let a = recover_strict_k256(&digest, &sig).ok();
            let b = recover_strict_secp256k1(&digest, &sig).ok();
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn tampered_signature_same_answer() {
        let signer = PrivateKeySigner::random();
        let digest = keccak256(b"dashledger");
        let sig = signer.sign_hash_sync(&digest).unwrap().as_bytes();
        for i in 0..65 {
            for bit in [0x01u8, 0x80] {
                let mut s = sig;
                s[i] ^= bit;
                assert_eq!(
                    recover_strict_k256(&digest, &s).ok(),
                    recover_strict_secp256k1(&digest, &s).ok(),
                    "byte {i} bit {bit:#x}"
                );
            }
        }
    }
}
