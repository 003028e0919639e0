//! Opening a sealed clip chunk by chunk and checking it against the Evidence Contract:
//! Keccak-256 of the sealed file against `cipherHash`, every chunk's AES-GCM tag, and
//! Keccak-256 of the plaintext against `videoHash`. The plaintext goes to `<out>.part` and is
//! renamed to `out` only when everything checked out; the sealed file is never touched.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use dashledger_protocol::hash::keccak256_file;
use dashledger_protocol::seal::{self, SessionKey};
use indicatif::ProgressBar;
use serde::Serialize;
use sha3::{Digest, Keccak256};

use crate::error::{Error, Result};

/// What a successful open produced.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// Where the clip was written.
    pub out: PathBuf,
    /// Keccak-256 of the plaintext (= the EC's videoHash).
    pub video_hash: B256,
    /// Keccak-256 of the sealed file (= the EC's cipherHash).
    pub cipher_hash: B256,
    /// Plaintext bytes.
    pub plaintext_len: u64,
    /// Sealed bytes.
    pub sealed_len: u64,
    /// Chunks opened.
    pub chunks: u32,
}

struct HashingReader<R> {
    inner: R,
    hasher: Keccak256,
    pb: ProgressBar,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.pb.inc(n as u64);
        Ok(n)
    }
}

struct HashingWriter<W> {
    inner: W,
    hasher: Keccak256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn part_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    out.with_file_name(name)
}

/// Opens `sealed` with `key` into `out`, checking `cipher_hash` and `video_hash`.
pub fn open_and_verify(
    sealed: &Path,
    out: &Path,
    key: &SessionKey,
    cipher_hash: B256,
    video_hash: B256,
    pb: &ProgressBar,
) -> Result<Verified> {
    let input = File::open(sealed).map_err(Error::io("opening the sealed clip", sealed))?;
    let sealed_len = input
        .metadata()
        .map_err(Error::io("reading", sealed))?
        .len();
    pb.set_length(sealed_len);
    pb.set_position(0);
    let part = part_path(out);
    let output = File::create(&part).map_err(Error::io("creating", &part))?;
    let mut reader = HashingReader {
        inner: std::io::BufReader::new(input),
        hasher: Keccak256::new(),
        pb: pb.clone(),
    };
    let mut writer = HashingWriter {
        inner: BufWriter::new(output),
        hasher: Keccak256::new(),
    };
    let opened = seal::open(&mut reader, &mut writer, key);
    let cleanup = |e: Error| {
        let _ = std::fs::remove_file(&part);
        e
    };
    let stats = match opened {
        Ok(s) => s,
        Err(e) => {
            // Say whether the file itself is the one the EC commits to.
            let got = keccak256_file(sealed).ok();
            let file_note = match got {
                Some(h) if h == cipher_hash => "the sealed file matches the EC's cipherHash, so the key or the clip's sealing is wrong".to_owned(),
                Some(h) => format!(
                    "the sealed file's Keccak-256 is {h}, not the EC's cipherHash {cipher_hash}: the download is corrupt or not this clip"
                ),
                None => "the sealed file could not be re-read to hash it".to_owned(),
            };
            return Err(cleanup(Error::Verification(format!(
                "opening {} failed: {e}; {file_note}",
                sealed.display()
            ))));
        }
    };
    let got_cipher = B256::from(<[u8; 32]>::from(reader.hasher.finalize()));
    let got_video = B256::from(<[u8; 32]>::from(writer.hasher.finalize()));
    if got_cipher != cipher_hash {
        return Err(cleanup(Error::Verification(format!(
            "the sealed file's Keccak-256 is {got_cipher}, but the EC's cipherHash is {cipher_hash}"
        ))));
    }
    if got_video != video_hash {
        return Err(cleanup(Error::Verification(format!(
            "the opened clip's Keccak-256 is {got_video}, but the EC's videoHash is {video_hash}"
        ))));
    }
    let file = writer
        .inner
        .into_inner()
        .map_err(|e| cleanup(Error::io("writing", &part)(e.into_error())))?;
    file.sync_all()
        .map_err(|e| cleanup(Error::io("syncing", &part)(e)))?;
    std::fs::rename(&part, out).map_err(|e| cleanup(Error::io("renaming into place", out)(e)))?;
    pb.finish();
    Ok(Verified {
        out: out.to_path_buf(),
        video_hash: got_video,
        cipher_hash: got_cipher,
        plaintext_len: stats.plaintext_len,
        sealed_len: stats.sealed_len,
        chunks: stats.chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dashledger_protocol::hash::keccak256;

    fn setup(len: usize) -> (tempfile::TempDir, PathBuf, SessionKey, B256, B256) {
        let dir = tempfile::tempdir().unwrap();
        let clip: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let key = SessionKey::generate();
        let mut sealed = Vec::new();
        seal::seal(&clip[..], &mut sealed, &key).unwrap();
        let p = dir.path().join("clip.sealed");
        std::fs::write(&p, &sealed).unwrap();
        (dir, p, key, keccak256(&sealed), keccak256(&clip))
    }

    #[test]
    fn opens_and_verifies() {
        let (dir, sealed, key, ch, vh) = setup(200_000);
        let out = dir.path().join("clip.mp4");
        let v = open_and_verify(&sealed, &out, &key, ch, vh, &ProgressBar::hidden()).unwrap();
        assert_eq!(v.plaintext_len, 200_000);
        assert_eq!(v.chunks, 4);
        assert_eq!(keccak256(std::fs::read(&out).unwrap()), vh);
        assert!(!part_path(&out).exists());
    }

    #[test]
    fn tampered_chunk_names_the_chunk_and_the_hash() {
        let (dir, sealed, key, ch, vh) = setup(200_000);
        let mut bytes = std::fs::read(&sealed).unwrap();
        bytes[70_000] ^= 1;
        std::fs::write(&sealed, &bytes).unwrap();
        let out = dir.path().join("clip.mp4");
        let e = open_and_verify(&sealed, &out, &key, ch, vh, &ProgressBar::hidden())
            .unwrap_err()
            .to_string();
        assert!(e.contains("chunk 1 failed authentication"), "{e}");
        assert!(e.contains("not the EC's cipherHash"), "{e}");
        assert!(!out.exists() && !part_path(&out).exists());
        assert!(sealed.exists(), "the sealed file is kept");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Any flipped bit anywhere in the sealed file fails verification and writes nothing.
        #[test]
        fn any_flipped_bit_is_caught(pos in 0usize..(56 + 3 * (65_536 + 16)), bit in 0u8..8) {
            let (dir, sealed, key, ch, vh) = setup(3 * 65_536 - 100);
            let mut bytes = std::fs::read(&sealed).unwrap();
            let pos = pos % bytes.len();
            bytes[pos] ^= 1 << bit;
            std::fs::write(&sealed, &bytes).unwrap();
            let out = dir.path().join("clip.mp4");
            proptest::prop_assert!(open_and_verify(&sealed, &out, &key, ch, vh, &ProgressBar::hidden()).is_err());
            proptest::prop_assert!(!out.exists() && !part_path(&out).exists());
        }
    }

    #[test]
    fn wrong_video_hash_is_reported() {
        let (dir, sealed, key, ch, _) = setup(5_000);
        let out = dir.path().join("clip.mp4");
        let e = open_and_verify(
            &sealed,
            &out,
            &key,
            ch,
            B256::repeat_byte(1),
            &ProgressBar::hidden(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("videoHash"), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn wrong_key_is_reported() {
        let (dir, sealed, _, ch, vh) = setup(5_000);
        let out = dir.path().join("clip.mp4");
        let e = open_and_verify(
            &sealed,
            &out,
            &SessionKey::generate(),
            ch,
            vh,
            &ProgressBar::hidden(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("wrong session key"), "{e}");
        assert!(e.contains("matches the EC's cipherHash"), "{e}");
    }
}
