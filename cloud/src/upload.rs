//! Resumable uploads: the spool (in-progress bytes on local disk) and the per-upload cursor
//! (bytes durably received + the running Keccak-256 over them).
//!
//! Invariants: the database's `received` is the number of bytes durably in the spool file; a
//! spool file may be longer after a crash (a torn chunk), and is truncated back to `received`
//! before the next chunk is written. The running hash is only in memory; after a restart it is
//! rebuilt by re-reading the spool prefix.

use std::io::{Read, SeekFrom};
use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use sha3::{Digest, Keccak256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::error::CloudError;

/// Where an upload's bytes are, and the hash over them.
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    /// Bytes hashed so far (`None`: unknown, rebuild before use).
    pub hashed: Option<(u64, Keccak256)>,
}

impl Cursor {
    /// The running hasher if it covers exactly `received` bytes.
    pub fn hasher_at(&self, received: u64) -> Option<Keccak256> {
        match &self.hashed {
            Some((n, h)) if *n == received => Some(h.clone()),
            _ => None,
        }
    }
}

/// The spool file of an upload.
pub fn spool_path(spool_dir: &Path, upload_id: &str) -> PathBuf {
    spool_dir.join(format!("{upload_id}.part"))
}

/// The spooled thumbnail of an upload (`which` is `first` or `last`).
pub fn thumb_spool_path(spool_dir: &Path, upload_id: &str, which: &str) -> PathBuf {
    spool_dir.join(format!("{upload_id}.{which}.jpg"))
}

/// The spooled C2PA sidecar manifest store of an upload.
pub fn c2pa_spool_path(spool_dir: &Path, upload_id: &str) -> PathBuf {
    spool_dir.join(format!("{upload_id}.c2pa"))
}

/// The blob key of the C2PA sidecar an upload of an EC brought (per upload: a retired upload's
/// sidecar is never served for the clip of another).
pub fn c2pa_blob_key(ec: &str, upload_id: &str) -> String {
    format!("c2pa/{ec}/{upload_id}.c2pa")
}

fn io(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> CloudError {
    let context = format!("{what} {}", path.display());
    move |source| CloudError::Io { context, source }
}

/// Hashes the first `len` bytes of `path` (blocking; run it on a blocking thread).
pub fn hash_prefix(path: &Path, len: u64) -> Result<Keccak256, CloudError> {
    let mut h = Keccak256::new();
    if len == 0 {
        return Ok(h);
    }
    let f = std::fs::File::open(path).map_err(io(path, "opening spool"))?;
    let mut r = f.take(len);
    let mut buf = vec![0u8; 256 * 1024];
    let mut n_total = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(io(path, "reading spool"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    if n_total != len {
        return Err(CloudError::Io {
            context: format!(
                "spool {} holds {n_total} bytes, expected at least {len}",
                path.display()
            ),
            source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        });
    }
    Ok(h)
}

/// Opens the spool for appending at `received`, dropping any torn tail beyond it.
pub async fn open_at(path: &Path, received: u64) -> Result<tokio::fs::File, CloudError> {
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .await
        .map_err(io(path, "opening spool"))?;
    let len = f.metadata().await.map_err(io(path, "stat spool"))?.len();
    if len < received {
        return Err(CloudError::Io {
            context: format!(
                "spool {} holds {len} bytes but {received} were acknowledged",
                path.display()
            ),
            source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        });
    }
    if len > received {
        f.set_len(received)
            .await
            .map_err(io(path, "truncating spool"))?;
    }
    f.seek(SeekFrom::Start(received))
        .await
        .map_err(io(path, "seeking spool"))?;
    Ok(f)
}

/// Truncates the spool back to `received` after a failed chunk (best effort).
pub async fn rollback(path: &Path, received: u64) {
    if let Ok(f) = tokio::fs::OpenOptions::new().write(true).open(path).await {
        let _ = f.set_len(received).await;
        let _ = f.sync_all().await;
    }
}

/// Writes `data`, then fsyncs (data only).
pub async fn append(f: &mut tokio::fs::File, path: &Path, data: &[u8]) -> Result<(), CloudError> {
    f.write_all(data).await.map_err(io(path, "writing spool"))
}

/// Makes written bytes durable.
pub async fn sync(f: &mut tokio::fs::File, path: &Path) -> Result<(), CloudError> {
    f.flush().await.map_err(io(path, "flushing spool"))?;
    f.sync_data().await.map_err(io(path, "syncing spool"))
}

/// Finishes a hasher.
pub fn finish(h: Keccak256) -> B256 {
    let out: [u8; 32] = h.finalize().into();
    B256::from(out)
}

/// A fresh unguessable upload id (128 random bits, hex).
pub fn new_upload_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// How an upload id appears in logs: the id is a capability (whoever knows it may write the
/// upload), so logs carry the first 8 hex digits of its Keccak-256 instead (`u:1a2b3c4d`).
pub fn log_id(id: &str) -> String {
    let h = dashledger_protocol::hash::keccak256(id.as_bytes());
    format!("u:{}", hex::encode(&h[..4]))
}

/// Whether `s` looks like an upload id (32 lowercase hex digits).
pub fn is_upload_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn torn_tail_is_dropped_and_prefix_hash_matches() {
        let dir = tempfile::tempdir().unwrap();
        let p = spool_path(dir.path(), &new_upload_id());
        let mut f = open_at(&p, 0).await.unwrap();
        append(&mut f, &p, b"hello world").await.unwrap();
        sync(&mut f, &p).await.unwrap();
        drop(f);
        // 11 bytes on disk, but only 5 acknowledged: the next write starts at 5.
        let mut f = open_at(&p, 5).await.unwrap();
        append(&mut f, &p, b", dashcam").await.unwrap();
        sync(&mut f, &p).await.unwrap();
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), b"hello, dashcam");
        let h = hash_prefix(&p, 14).unwrap();
        assert_eq!(
            finish(h),
            dashledger_protocol::hash::keccak256(b"hello, dashcam")
        );
        assert!(open_at(&p, 100).await.is_err());
        assert!(is_upload_id(&new_upload_id()));
        assert!(!is_upload_id("../etc/passwd"));
        let id = new_upload_id();
        let shown = log_id(&id);
        assert_eq!(shown.len(), 10);
        assert!(
            !id.contains(&shown[2..]),
            "the log form is not a piece of the id"
        );
        assert_eq!(shown, log_id(&id));
    }
}
