//! Making a bundle from its parts (the requester's `bundle` command gathers them from the
//! chain and the cloud).

use std::collections::BTreeMap;
use std::io::Cursor;

use dashledger_protocol::frames;

use crate::check::{self, Verdict};
use crate::error::{Error, Result};
use crate::format::{
    BlockFile, Bundle, EvidenceInfo, FrameProof, FramesFile, StateProof, canonical_json, paths,
};
use crate::report::{self, ReportInput};

/// Everything a bundle is made of, before the derived files (frames, reports, manifest).
#[derive(Clone, Debug)]
pub struct Parts {
    /// The decrypted clip.
    pub clip: Vec<u8>,
    /// The front-frame thumbnail (JPEG), if the cloud served it.
    pub thumbnail: Option<Vec<u8>>,
    /// The device's C2PA sidecar manifest store of the clip, if it made one.
    pub c2pa: Option<Vec<u8>>,
    /// The EC's fields.
    pub info: EvidenceInfo,
    /// Account and storage proofs at one block.
    pub state: StateProof,
    /// The blocks of the creating and the verifying transaction.
    pub blocks: Vec<BlockFile>,
    /// The device's signed records (161 bytes each), if known.
    pub records: Option<Vec<u8>>,
    /// The device as the cloud recorded it, if known.
    pub device: Option<serde_json::Value>,
    /// When the bundle is made (RFC 3339), for the report.
    pub made_at: String,
}

/// The frame leaves of `clip` and the proof of every second.
pub fn frames_file(clip: &[u8]) -> Result<FramesFile> {
    let leaves = frames::frame_leaves(Cursor::new(clip))?;
    let frames_root = frames::frames_root(&leaves)?;
    let n = u32::try_from(leaves.len()).map_err(|_| Error::Build("too many seconds".into()))?;
    let proofs = (0..n)
        .map(|i| {
            frames::prove(&leaves, i).map(|p| FrameProof {
                index: p.index,
                siblings: p.siblings,
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(FramesFile {
        frames_root,
        leaves,
        proofs,
    })
}

/// Makes the bundle: adds the frame leaves and proofs, verifies the result offline, writes the
/// reports (with that verdict) and the manifest. Returns the bundle and the verdict.
pub fn build(parts: Parts) -> Result<(Bundle, Verdict)> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        paths::FRAMES.into(),
        canonical_json(&frames_file(&parts.clip)?),
    );
    files.insert(paths::EVIDENCE.into(), canonical_json(&parts.info));
    files.insert(paths::STATE_PROOF.into(), canonical_json(&parts.state));
    for b in &parts.blocks {
        files.insert(paths::block(b.header.inner.number), canonical_json(b));
    }
    if let Some(r) = &parts.records {
        files.insert(paths::RECORDS.into(), r.clone());
    }
    if let Some(d) = &parts.device {
        files.insert(paths::DEVICE.into(), canonical_json(d));
    }
    if let Some(t) = &parts.thumbnail {
        files.insert(paths::THUMBNAIL.into(), t.clone());
    }
    if let Some(c) = &parts.c2pa {
        files.insert(paths::C2PA.into(), c.clone());
    }
    let clip_bytes = parts.clip.len() as u64;
    files.insert(paths::CLIP.into(), parts.clip);
    let verdict = check::verify(&Bundle::new(files.clone()));
    let input = ReportInput {
        info: &parts.info,
        verdict: &verdict,
        thumbnail: parts.thumbnail.as_deref(),
        clip_bytes,
        made_at: &parts.made_at,
    };
    files.insert(paths::REPORT_HTML.into(), report::html(&input).into_bytes());
    files.insert(paths::REPORT_PDF.into(), report::pdf(&input));
    Ok((Bundle::new(files), verdict))
}
