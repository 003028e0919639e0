//! Sealed clips: chunked AES-256-GCM with a versioned header (layout in `docs/formats.md`,
//! "Sealed clip").
//!
//! ```text
//! file   = header (56 bytes) || chunk_0 || chunk_1 || ... || chunk_last
//! header = "DLSEAL" | version 0x01 | alg 0x01 (AES-256-GCM) | chunk_size u32 BE
//!          | nonce_prefix (7 random bytes) | 5 zero bytes | key commitment keccak256(key) (32)
//! chunk_i = AES-256-GCM(key, nonce_i, aad = header, plaintext_i) = ciphertext_i || tag_i (16)
//! nonce_i = nonce_prefix (7) || i as u32 BE (4) || 0x01 if last chunk else 0x00 (1)
//! ```
//!
//! Every non-final chunk holds exactly `chunk_size` plaintext bytes; the final one (the one
//! that ends the file) holds `0..=chunk_size` bytes. Because the chunk index and the final flag
//! are in the nonce and the header (with its random prefix) is the AAD, truncation,
//! reordering, dropping, swapping chunks between clips and trailing garbage all fail to
//! authenticate. Memory is bounded by two chunk buffers.

use std::{fmt, io::Read, io::Write};

use alloy::primitives::B256;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{
    error::{Error, Result},
    hash::keccak256,
};

/// Header magic.
pub const SEAL_MAGIC: &[u8; 6] = b"DLSEAL";
/// Current format version.
pub const SEAL_VERSION: u8 = 1;
/// Algorithm byte for AES-256-GCM.
pub const SEAL_ALG_AES256GCM: u8 = 1;
/// Header length in bytes.
pub const SEAL_HEADER_LEN: usize = 56;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Default plaintext bytes per chunk (64 KiB).
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest accepted chunk size.
pub const MIN_CHUNK_SIZE: u32 = 1024;
/// Largest accepted chunk size (bounds the memory an opener needs).
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;

/// A 256-bit session key, fresh per accident. Zeroized on drop; never printed; compared in
/// constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey([u8; 32]);

impl PartialEq for SessionKey {
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for SessionKey {}

impl SessionKey {
    /// A fresh random key from the OS RNG.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }
    /// Wraps existing key bytes (e.g. recovered by [`crate::wrap::recover`]).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The raw key bytes. Handle with care.
    pub const fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
    /// `keccak256(key)`: the EC's `keyCommitment` and the header's key commitment.
    pub fn commitment(&self) -> B256 {
        keccak256(self.0)
    }
    fn cipher(&self) -> LessSafeKey {
        // AES-256-GCM from ring: the BoringSSL/OpenSSL assembly (AES-NI + CLMUL on x86-64,
        // NEON bit-sliced AES on ARMv8 cores without AES instructions such as the Pi 3's A53).
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte key is a valid AES-256 key"),
        )
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SessionKey(<redacted>, commitment {})",
            self.commitment()
        )
    }
}

/// A parsed sealed-clip header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SealHeader {
    chunk_size: u32,
    nonce_prefix: [u8; 7],
    key_commitment: B256,
}

impl SealHeader {
    /// A header for a new clip. `chunk_size` must be within
    /// [`MIN_CHUNK_SIZE`]..=[`MAX_CHUNK_SIZE`].
    pub fn new(chunk_size: u32, nonce_prefix: [u8; 7], key: &SessionKey) -> Result<Self> {
        check_chunk_size(chunk_size)?;
        Ok(Self {
            chunk_size,
            nonce_prefix,
            key_commitment: key.commitment(),
        })
    }
    /// Plaintext bytes per non-final chunk.
    pub const fn chunk_size(&self) -> u32 {
        self.chunk_size
    }
    /// The random 7-byte nonce prefix.
    pub const fn nonce_prefix(&self) -> [u8; 7] {
        self.nonce_prefix
    }
    /// `keccak256(session key)` the clip was sealed under.
    pub const fn key_commitment(&self) -> B256 {
        self.key_commitment
    }
    /// The 56-byte wire form (also the AAD of every chunk).
    pub fn to_bytes(&self) -> [u8; SEAL_HEADER_LEN] {
        let mut h = [0u8; SEAL_HEADER_LEN];
        h[0..6].copy_from_slice(SEAL_MAGIC);
        h[6] = SEAL_VERSION;
        h[7] = SEAL_ALG_AES256GCM;
        h[8..12].copy_from_slice(&self.chunk_size.to_be_bytes());
        h[12..19].copy_from_slice(&self.nonce_prefix);
        // 19..24 reserved, zero
        h[24..56].copy_from_slice(self.key_commitment.as_slice());
        h
    }
    /// Parses and validates a header (exactly [`SEAL_HEADER_LEN`] bytes).
    pub fn parse(b: &[u8]) -> Result<Self> {
        if b.len() != SEAL_HEADER_LEN {
            return Err(Error::Length {
                what: "sealed-clip header",
                expected: SEAL_HEADER_LEN,
                got: b.len(),
            });
        }
        if &b[0..6] != SEAL_MAGIC {
            return Err(Error::SealHeader(
                "bad magic (not a dashledger sealed clip)".into(),
            ));
        }
        if b[6] != SEAL_VERSION {
            return Err(Error::SealHeader(format!(
                "unsupported version {} (this build reads 1)",
                b[6]
            )));
        }
        if b[7] != SEAL_ALG_AES256GCM {
            return Err(Error::SealHeader(format!(
                "unknown algorithm {} (1 = AES-256-GCM)",
                b[7]
            )));
        }
        if b[19..24] != [0u8; 5] {
            return Err(Error::SealHeader(
                "reserved bytes 19..24 must be zero".into(),
            ));
        }
        let chunk_size = u32::from_be_bytes(b[8..12].try_into().expect("4 bytes"));
        check_chunk_size(chunk_size)?;
        Ok(Self {
            chunk_size,
            nonce_prefix: b[12..19].try_into().expect("7 bytes"),
            key_commitment: B256::from_slice(&b[24..56]),
        })
    }

    /// The 12-byte AES-GCM nonce (WebCrypto `iv`) of chunk `index`.
    pub fn nonce(&self, index: u32, is_final: bool) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..7].copy_from_slice(&self.nonce_prefix);
        n[7..11].copy_from_slice(&index.to_be_bytes());
        n[11] = u8::from(is_final);
        n
    }

    /// Sealed length (header included) of a clip with `plaintext_len` bytes.
    pub fn sealed_len(&self, plaintext_len: u64) -> u64 {
        let cs = u64::from(self.chunk_size);
        let chunks = if plaintext_len == 0 {
            1
        } else {
            plaintext_len.div_ceil(cs)
        };
        SEAL_HEADER_LEN as u64 + plaintext_len + chunks * TAG_LEN as u64
    }

    /// Splits the body length (sealed length minus header) into chunk ciphertext lengths:
    /// returns `(chunk_count, last_chunk_len)`; every other chunk is `chunk_size + 16` bytes.
    /// This is the rule a chunk-level reader (browser, cloud) uses to find chunk boundaries.
    pub fn chunk_layout(&self, body_len: u64) -> Result<(u32, u64)> {
        let full = u64::from(self.chunk_size) + TAG_LEN as u64;
        if body_len < TAG_LEN as u64 {
            return Err(Error::Truncated { after_chunk: 0 });
        }
        // Non-final chunks are exactly `full`; the final one is 16..=full bytes.
        let count = body_len.div_ceil(full).max(1);
        let last = body_len - (count - 1) * full;
        if last < TAG_LEN as u64 {
            // A final chunk must carry its tag; this length cannot come from a sealer.
            return Err(Error::ChunkSize {
                index: u32::try_from(count - 1).unwrap_or(u32::MAX),
                len: last as usize,
                rule: format!("a final chunk has {TAG_LEN}..={full} bytes"),
            });
        }
        let count = u32::try_from(count).map_err(|_| Error::TooManyChunks)?;
        Ok((count, last))
    }
}

fn check_chunk_size(chunk_size: u32) -> Result<()> {
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(Error::SealHeader(format!(
            "chunk size {chunk_size} outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}"
        )));
    }
    Ok(())
}

/// Chunk-level sealing (for callers that do their own I/O).
pub struct Sealer {
    cipher: LessSafeKey,
    header: SealHeader,
    header_bytes: [u8; SEAL_HEADER_LEN],
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer with a fresh random nonce prefix.
    pub fn new(key: &SessionKey, chunk_size: u32) -> Result<Self> {
        let mut prefix = [0u8; 7];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        Self::with_nonce_prefix(key, chunk_size, prefix)
    }
    /// A sealer with a given nonce prefix. Only for known-answer vectors: never reuse a
    /// (key, prefix) pair.
    pub fn with_nonce_prefix(
        key: &SessionKey,
        chunk_size: u32,
        nonce_prefix: [u8; 7],
    ) -> Result<Self> {
        let header = SealHeader::new(chunk_size, nonce_prefix, key)?;
        Ok(Self {
            cipher: key.cipher(),
            header_bytes: header.to_bytes(),
            header,
        })
    }
    /// The header to write first.
    pub const fn header(&self) -> &SealHeader {
        &self.header
    }
    /// Encrypts chunk `index` in place: `buf` holds the plaintext on entry and
    /// `ciphertext || tag` on return.
    pub fn seal_chunk_in_place(&self, index: u32, is_final: bool, buf: &mut Vec<u8>) -> Result<()> {
        let len_ok = if is_final {
            buf.len() <= self.header.chunk_size as usize
        } else {
            buf.len() == self.header.chunk_size as usize
        };
        if !len_ok {
            return Err(Error::ChunkSize {
                index,
                len: buf.len(),
                rule: "plaintext of a non-final chunk must be exactly chunk_size, a final one at most chunk_size".into(),
            });
        }
        let nonce = self.header.nonce(index, is_final);
        let tag = self
            .cipher
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&self.header_bytes),
                buf,
            )
            .map_err(|_| Error::ChunkSize {
                index,
                len: buf.len(),
                rule: "AES-GCM refused the chunk".into(),
            })?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }
}

/// Chunk-level opening (for the cloud, the web page, range reads).
pub struct Opener {
    cipher: LessSafeKey,
    header: SealHeader,
    header_bytes: [u8; SEAL_HEADER_LEN],
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// Parses the header and checks that `key` is the one it commits to.
    pub fn new(header: &[u8], key: &SessionKey) -> Result<Self> {
        let parsed = SealHeader::parse(header)?;
        let got = key.commitment();
        if got != parsed.key_commitment {
            return Err(Error::WrongKey {
                expected: parsed.key_commitment,
                got,
            });
        }
        Ok(Self {
            cipher: key.cipher(),
            header_bytes: parsed.to_bytes(),
            header: parsed,
        })
    }
    /// The parsed header.
    pub const fn header(&self) -> &SealHeader {
        &self.header
    }
    /// Decrypts chunk `index` (`ciphertext || tag`) in place; on success `buf` holds the
    /// plaintext. `is_final` must be true exactly for the chunk that ends the file.
    pub fn open_chunk_in_place(&self, index: u32, is_final: bool, buf: &mut Vec<u8>) -> Result<()> {
        let full = self.header.chunk_size as usize + TAG_LEN;
        let len_ok = if is_final {
            (TAG_LEN..=full).contains(&buf.len())
        } else {
            buf.len() == full
        };
        if !len_ok {
            return Err(Error::ChunkSize {
                index,
                len: buf.len(),
                rule: format!(
                    "a non-final chunk has exactly {full} bytes, a final one {TAG_LEN}..={full}"
                ),
            });
        }
        let split = buf.len() - TAG_LEN;
        let tag = Tag::try_from(&buf[split..]).expect("16-byte tag");
        buf.truncate(split);
        let nonce = self.header.nonce(index, is_final);
        if self
            .cipher
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&self.header_bytes),
                tag,
                buf,
                0..,
            )
            .is_err()
        {
            buf.zeroize();
            buf.clear();
            return Err(Error::ChunkAuth { index });
        }
        Ok(())
    }
    /// Decrypts chunk `index` into a new buffer.
    pub fn open_chunk(&self, index: u32, is_final: bool, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let mut buf = ciphertext.to_vec();
        self.open_chunk_in_place(index, is_final, &mut buf)?;
        Ok(buf)
    }
}

/// Totals of a seal or open operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SealStats {
    /// Plaintext bytes.
    pub plaintext_len: u64,
    /// Sealed bytes, header included.
    pub sealed_len: u64,
    /// Number of chunks.
    pub chunks: u32,
    /// `keccak256(session key)` from the header.
    pub key_commitment: B256,
}

/// Reads until `buf` is full or EOF; returns bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8], context: &'static str) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(context)(e)),
        }
    }
    Ok(filled)
}

/// Seals everything `reader` yields into `writer` with [`DEFAULT_CHUNK_SIZE`] chunks and a
/// random nonce prefix.
pub fn seal(reader: impl Read, writer: impl Write, key: &SessionKey) -> Result<SealStats> {
    seal_with(reader, writer, &Sealer::new(key, DEFAULT_CHUNK_SIZE)?)
}

/// Seals with an explicit [`Sealer`] (chunk size, nonce prefix).
pub fn seal_with(
    mut reader: impl Read,
    mut writer: impl Write,
    sealer: &Sealer,
) -> Result<SealStats> {
    let cs = sealer.header.chunk_size as usize;
    writer
        .write_all(&sealer.header_bytes)
        .map_err(Error::io("writing the sealed-clip header"))?;
    let mut cur = Vec::with_capacity(cs + TAG_LEN);
    let mut next = Vec::with_capacity(cs + TAG_LEN);
    cur.resize(cs, 0);
    let n = read_full(&mut reader, &mut cur, "reading the clip to seal")?;
    cur.truncate(n);
    let mut index: u32 = 0;
    let mut stats = SealStats {
        plaintext_len: 0,
        sealed_len: SEAL_HEADER_LEN as u64,
        chunks: 0,
        key_commitment: sealer.header.key_commitment,
    };
    loop {
        // A full chunk is final only if nothing follows it.
        let is_final = if cur.len() < cs {
            true
        } else {
            next.resize(cs, 0);
            let m = read_full(&mut reader, &mut next, "reading the clip to seal")?;
            next.truncate(m);
            m == 0
        };
        stats.plaintext_len += cur.len() as u64;
        sealer.seal_chunk_in_place(index, is_final, &mut cur)?;
        writer
            .write_all(&cur)
            .map_err(Error::io("writing a sealed chunk"))?;
        stats.sealed_len += cur.len() as u64;
        stats.chunks += 1;
        if is_final {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        index = index
            .checked_add(1)
            .filter(|i| *i < u32::MAX)
            .ok_or(Error::TooManyChunks)?;
    }
    cur.zeroize();
    next.zeroize();
    writer
        .flush()
        .map_err(Error::io("flushing the sealed clip"))?;
    Ok(stats)
}

/// Opens a sealed clip from `reader` into `writer`, checking every chunk.
///
/// Plaintext is written chunk by chunk as it authenticates; on **any** error the output is
/// incomplete and must be discarded (write to a temporary file and rename on success).
pub fn open(mut reader: impl Read, mut writer: impl Write, key: &SessionKey) -> Result<SealStats> {
    let mut header = [0u8; SEAL_HEADER_LEN];
    let got = read_full(&mut reader, &mut header, "reading the sealed-clip header")?;
    if got < SEAL_HEADER_LEN {
        return Err(Error::Length {
            what: "sealed-clip header",
            expected: SEAL_HEADER_LEN,
            got,
        });
    }
    let opener = Opener::new(&header, key)?;
    let full = opener.header.chunk_size as usize + TAG_LEN;
    let mut cur = vec![0u8; full];
    let mut next = Vec::with_capacity(full);
    let n = read_full(&mut reader, &mut cur, "reading a sealed chunk")?;
    cur.truncate(n);
    let mut stats = SealStats {
        plaintext_len: 0,
        sealed_len: SEAL_HEADER_LEN as u64,
        chunks: 0,
        key_commitment: opener.header.key_commitment,
    };
    let mut index: u32 = 0;
    loop {
        if cur.len() < TAG_LEN {
            // Fewer than 16 bytes cannot be a chunk: the stream ended without a final chunk.
            return Err(Error::Truncated { after_chunk: index });
        }
        let is_final = if cur.len() < full {
            true
        } else {
            next.resize(full, 0);
            let m = read_full(&mut reader, &mut next, "reading a sealed chunk")?;
            next.truncate(m);
            m == 0
        };
        stats.sealed_len += cur.len() as u64;
        opener.open_chunk_in_place(index, is_final, &mut cur)?;
        writer
            .write_all(&cur)
            .map_err(Error::io("writing opened plaintext"))?;
        stats.plaintext_len += cur.len() as u64;
        stats.chunks += 1;
        if is_final {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        index = index.checked_add(1).ok_or(Error::TooManyChunks)?;
    }
    cur.zeroize();
    next.zeroize();
    writer
        .flush()
        .map_err(Error::io("flushing opened plaintext"))?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(pt: &[u8], cs: u32) -> (SessionKey, Vec<u8>) {
        let key = SessionKey::generate();
        let mut out = Vec::new();
        let stats = seal_with(pt, &mut out, &Sealer::new(&key, cs).unwrap()).unwrap();
        assert_eq!(stats.sealed_len, out.len() as u64);
        (key, out)
    }

    #[test]
    fn round_trip_sizes() {
        for len in [0usize, 1, 1023, 1024, 1025, 4096, 5000] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let (key, ct) = sealed(&pt, 1024);
            let h = SealHeader::parse(&ct[..SEAL_HEADER_LEN]).unwrap();
            assert_eq!(h.sealed_len(len as u64), ct.len() as u64, "len {len}");
            let mut back = Vec::new();
            let st = open(&ct[..], &mut back, &key).unwrap();
            assert_eq!(back, pt);
            let (count, _) = h.chunk_layout((ct.len() - SEAL_HEADER_LEN) as u64).unwrap();
            assert_eq!(count, st.chunks);
        }
    }

    #[test]
    fn truncation_reorder_swap_garbage_fail() {
        let pt = vec![7u8; 3000];
        let (key, ct) = sealed(&pt, 1024);
        let full = 1024 + TAG_LEN;
        let body = SEAL_HEADER_LEN;
        // Truncate at a chunk boundary: the last remaining chunk is not final.
        let cut = &ct[..body + 2 * full];
        assert!(matches!(
            open(cut, Vec::new(), &key),
            Err(Error::ChunkAuth { index: 1 })
        ));
        // Reorder chunks 0 and 1.
        let mut r = ct.clone();
        r[body..body + 2 * full].rotate_left(full);
        assert!(matches!(
            open(&r[..], Vec::new(), &key),
            Err(Error::ChunkAuth { index: 0 })
        ));
        // Trailing garbage.
        let mut g = ct.clone();
        g.push(0);
        assert!(open(&g[..], Vec::new(), &key).is_err());
        // Chunk from another clip under the same key (different nonce prefix).
        let mut other = Vec::new();
        seal_with(&pt[..], &mut other, &Sealer::new(&key, 1024).unwrap()).unwrap();
        let mut s = ct.clone();
        s[body..body + full].copy_from_slice(&other[body..body + full]);
        assert!(matches!(
            open(&s[..], Vec::new(), &key),
            Err(Error::ChunkAuth { index: 0 })
        ));
        // Header only / wrong key.
        assert!(matches!(
            open(&ct[..body], Vec::new(), &key),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            open(&ct[..], Vec::new(), &SessionKey::generate()),
            Err(Error::WrongKey { .. })
        ));
    }

    #[test]
    fn debug_does_not_leak_key() {
        let k = SessionKey::from_bytes([0xAB; 32]);
        let d = format!("{k:?}");
        assert!(!d.to_lowercase().contains("abab"), "{d}");
        assert!(d.contains("redacted"));
    }
}
