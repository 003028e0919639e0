//! Per-segment evidence work: note finished files, hash them, queue signed evidence records.
//! Each function does one step for one segment and commits it, so the daemon can be killed at
//! any point and resumes with the next step.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::B256;
use dashledger_protocol::hash::keccak256_reader;
use dashledger_protocol::record::{DeviceId, EvidenceRecord, SegmentTime};

use crate::error::AgentError;
use crate::outbox::{Outbox, Segment, SegmentState};
use crate::watcher::{FinishedFile, file_identity};

/// Start time of a segment: from the first 14 digits of its name when they form a valid UTC
/// date-time (`20261123T171700Z.mp4`, `20261123_171700.MP4`, `REC_2026-11-23_17-17-00.mp4`),
/// else from its modification time minus nothing (the camera's clock is all we have).
pub fn segment_start(name: &str, mtime_ns: i64) -> Result<SegmentTime, AgentError> {
    let digits: Vec<u8> = name
        .bytes()
        .filter(u8::is_ascii_digit)
        .take(14)
        .map(|b| b - b'0')
        .collect();
    if digits.len() == 14 {
        let n =
            |r: std::ops::Range<usize>| digits[r].iter().fold(0u32, |a, &d| a * 10 + u32::from(d));
        if let Ok(t) = SegmentTime::new(
            n(0..4) as u16,
            n(4..6) as u8,
            n(6..8) as u8,
            n(8..10) as u8,
            n(10..12) as u8,
            n(12..14) as u8,
        ) {
            return Ok(t);
        }
    }
    let secs = u64::try_from(mtime_ns / 1_000_000_000).unwrap_or(0);
    Ok(SegmentTime::from_unix(secs)?)
}

/// Notes finished files in the outbox (new versions only). Returns how many were new.
pub fn ingest(outbox: &mut Outbox, files: &[FinishedFile]) -> Result<usize, AgentError> {
    let mut new = 0;
    for f in files {
        if let Some(id) = outbox.add_segment(&f.name, f.size, f.mtime_ns)? {
            tracing::info!(segment = %f.name, id, size = f.size, "segment finished");
            new += 1;
        }
    }
    Ok(new)
}

/// Hashes the oldest `seen` segment. Returns `false` when there was none.
/// A file that is gone, or changed while being hashed, is recorded as vanished (a gap).
pub fn hash_next(outbox: &mut Outbox, dir: &Path) -> Result<bool, AgentError> {
    let Some(seg) = outbox.next_in_state(SegmentState::Seen)? else {
        return Ok(false);
    };
    let path = dir.join(&seg.name);
    match hash_segment(&seg, &path) {
        Ok(hash) => {
            outbox.set_hashed(seg.id, &hash)?;
            tracing::info!(segment = %seg.name, hash = %B256::from(hash), "segment hashed");
        }
        Err(reason) => {
            tracing::warn!(segment = %seg.name, %reason, "segment lost before it could be hashed; recording the gap");
            outbox.vanish_segment(seg.id, &reason)?;
        }
    }
    Ok(true)
}

fn hash_segment(seg: &Segment, path: &Path) -> Result<[u8; 32], String> {
    let same = |what: &str| -> Result<(), String> {
        match file_identity(path) {
            Ok((size, mtime)) if size == seg.size && mtime == seg.mtime_ns => Ok(()),
            Ok(_) => Err(format!(
                "file was overwritten {what} (the camera looped over it)"
            )),
            Err(e) => Err(format!("file is gone {what}: {e}")),
        }
    };
    same("before hashing")?;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let (hash, n) = keccak256_reader(file).map_err(|e| format!("cannot read: {e}"))?;
    if n != seg.size {
        return Err(format!("read {n} bytes, expected {}", seg.size));
    }
    same("while hashing")?;
    Ok(hash.0)
}

/// Queues the signed record for the oldest `hashed` segment. Returns `false` when there was none.
pub fn record_next(outbox: &mut Outbox, device_key: &PrivateKeySigner) -> Result<bool, AgentError> {
    let Some(seg) = outbox.next_in_state(SegmentState::Hashed)? else {
        return Ok(false);
    };
    let device = DeviceId::from_address(device_key.address());
    let seq = outbox.queue_record(seg.id, |prev, seg| {
        let (seq, prev_hash) = match prev {
            None => (0u32, B256::ZERO),
            Some((prev_seq, bytes)) => {
                let prev = EvidenceRecord::decode(&bytes)?;
                let seq = u32::try_from(prev_seq).map_err(|_| {
                    AgentError::OutboxState(format!("record sequence {prev_seq} beyond u32"))
                })?;
                (seq, prev.segment_hash)
            }
        };
        let hash = seg.video_hash.ok_or_else(|| {
            AgentError::OutboxState(format!("hashed segment {} has no hash", seg.name))
        })?;
        let record = EvidenceRecord {
            seq,
            device,
            start: segment_start(&seg.name, seg.mtime_ns)?,
            prev_hash,
            segment_hash: B256::from(hash),
        };
        let signed = record.sign(device_key)?;
        Ok((record.encode().to_vec(), signed.signature().to_vec()))
    })?;
    tracing::info!(segment = %seg.name, seq = seq - 1, "evidence record queued");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_from_names() {
        let t = |s| SegmentTime::new(2026, 11, 23, 17, 17, s).unwrap();
        assert_eq!(segment_start("20261123T171700Z.mp4", 0).unwrap(), t(0));
        assert_eq!(segment_start("20261123-171701.mp4", 0).unwrap(), t(1));
        assert_eq!(
            segment_start("REC_2026-11-23_17-17-05.MP4", 0).unwrap(),
            t(5)
        );
        // Not a date: falls back to the modification time.
        assert_eq!(
            segment_start("FILE0001.MP4", 1_795_000_000 * 1_000_000_000).unwrap(),
            SegmentTime::from_unix(1_795_000_000).unwrap()
        );
        assert_eq!(
            segment_start("99999999999999.mp4", 60 * 1_000_000_000).unwrap(),
            SegmentTime::from_unix(60).unwrap()
        );
    }

    #[test]
    fn records_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(&dir.path().join("o.sqlite")).unwrap();
        let key = PrivateKeySigner::random();
        let mut files = Vec::new();
        for (i, name) in [
            "20261123T170000Z.mp4",
            "20261123T170100Z.mp4",
            "20261123T170200Z.mp4",
        ]
        .iter()
        .enumerate()
        {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![i as u8; 1000 + i]).unwrap();
            let (size, mtime_ns) = file_identity(&p).unwrap();
            files.push(FinishedFile {
                name: name.to_string(),
                path: p,
                size,
                mtime_ns,
            });
        }
        assert_eq!(ingest(&mut o, &files).unwrap(), 3);
        assert_eq!(ingest(&mut o, &files).unwrap(), 0);
        std::fs::remove_file(&files[1].path).unwrap();
        while hash_next(&mut o, dir.path()).unwrap() {}
        while record_next(&mut o, &key).unwrap() {}
        let recs = o.all_records().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(o.gaps().unwrap()[0].1, "20261123T170100Z.mp4");
        let mut prev = B256::ZERO;
        for (i, r) in recs.iter().enumerate() {
            let mut bytes = r.record.clone();
            bytes.extend_from_slice(&r.signature);
            let v = dashledger_protocol::record::SignedRecord::decode(&bytes)
                .unwrap()
                .verify()
                .unwrap();
            assert_eq!(v.device(), key.address());
            assert_eq!(v.record().seq, i as u32);
            assert_eq!(v.record().prev_hash, prev);
            let want =
                dashledger_protocol::hash::keccak256(std::fs::read(&files[i * 2].path).unwrap());
            assert_eq!(v.record().segment_hash, want);
            prev = v.record().segment_hash;
        }
    }
}
