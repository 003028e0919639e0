//! The bundle format (`dashledger-bundle/1`, docs/formats.md "Evidence bundle"): a zip archive
//! of stored (uncompressed) files, one of them `manifest.json` listing every other file with
//! its length and Keccak-256.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use alloy::primitives::{Address, B256, Bytes};
use alloy::rpc::types::{EIP1186AccountProofResponse, Header, Transaction, TransactionReceipt};
use dashledger_protocol::hash::keccak256;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The format identifier in `manifest.json`.
pub const FORMAT: &str = "dashledger-bundle/1";

/// File names inside a bundle.
pub mod paths {
    /// The manifest: every other file with its length and Keccak-256.
    pub const MANIFEST: &str = "manifest.json";
    /// The decrypted clip (the segment MP4).
    pub const CLIP: &str = "clip.mp4";
    /// Per-second frame leaves and their Merkle proofs.
    pub const FRAMES: &str = "frames.json";
    /// The device's C2PA sidecar manifest store of the clip (optional).
    pub const C2PA: &str = "clip.c2pa";
    /// The front-frame thumbnail whose Keccak-256 is the EC's `frameHash` (optional).
    pub const THUMBNAIL: &str = "thumbnail.jpg";
    /// The Evidence Contract's fields and where it was created and verified.
    pub const EVIDENCE: &str = "evidence.json";
    /// The device's signed evidence records around the segment (161 bytes each).
    pub const RECORDS: &str = "records.bin";
    /// The device as the cloud recorded it (optional; the cloud's word).
    pub const DEVICE: &str = "device.json";
    /// Account and storage proofs of the EC and the SearchContract against one header.
    pub const STATE_PROOF: &str = "chain/state-proof.json";
    /// Human-readable report.
    pub const REPORT_HTML: &str = "report.html";
    /// The same report as PDF.
    pub const REPORT_PDF: &str = "report.pdf";

    /// A block with every transaction and receipt: `chain/block-<number>.json`.
    pub fn block(number: u64) -> String {
        format!("chain/block-{number}.json")
    }
}

/// The SearchContract's storage slot of `_ownerOf` (`mapping(address ec => address owner)`,
/// declared second: slot 1).
pub const SEARCH_OWNER_OF_SLOT: u64 = 1;
/// The EvidenceContract's storage slot of `_status` (slot 0, lowest byte).
pub const EC_STATUS_SLOT: u64 = 0;
/// What a verified EvidenceContract's `_status` slot holds: `Pending` (0). The contract keeps
/// only Pending or Rejected there; Verified *is* "listed in the SearchContract" (the listing
/// proof), which `verify()` writes instead of a second storage write. A Rejected EC holds 2.
pub const EC_STATUS_VERIFIED: u8 = 0;

/// The storage slot of `_ownerOf[ec]` in the SearchContract:
/// `keccak256(pad32(ec) || pad32(1))`.
pub fn owner_of_slot(ec: Address) -> B256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(ec.as_slice());
    buf[56..64].copy_from_slice(&SEARCH_OWNER_OF_SLOT.to_be_bytes());
    keccak256(buf)
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Every file of the bundle but the manifest, sorted by path.
    pub files: Vec<ManifestEntry>,
}

/// One file of the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Path inside the zip.
    pub path: String,
    /// Length in bytes.
    pub bytes: u64,
    /// Keccak-256 of the contents.
    pub keccak256: B256,
}

impl Manifest {
    /// The manifest of `files` (the manifest itself excluded).
    pub fn of(files: &BTreeMap<String, Vec<u8>>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            files: files
                .iter()
                .filter(|(p, _)| p.as_str() != paths::MANIFEST)
                .map(|(p, b)| ManifestEntry {
                    path: p.clone(),
                    bytes: b.len() as u64,
                    keccak256: keccak256(b),
                })
                .collect(),
        }
    }

    /// The canonical bytes: pretty JSON and a final newline. A verifier rejects any other form,
    /// so every byte of the manifest matters.
    pub fn to_bytes(&self) -> Vec<u8> {
        canonical_json(self)
    }
}

/// Pretty JSON with a final newline: how every JSON file of a bundle is written.
pub fn canonical_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("bundle types serialise");
    out.push(b'\n');
    out
}

/// `evidence.json`: the EC, its deployment and its fields. Every field is checked against
/// the chain data in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInfo {
    /// Chain id.
    pub chain_id: u64,
    /// The `EvidenceFactory` of the deployment (everything else is derived from it).
    pub evidence_factory: Address,
    /// The `SearchContract` (`create(factory, nonce 1)`).
    pub search_contract: Address,
    /// The Evidence Contract.
    pub ec: Address,
    /// The EC owner (from the EC's code).
    pub owner: Address,
    /// The status the bundle claims (`Verified`).
    pub status: String,
    /// `evidenceHash` = EIP-712 `hashStruct(Evidence)` of `params`.
    pub evidence_hash: B256,
    /// The creation parameters (`EvidenceCreated`).
    pub params: Params,
    /// Transaction that created the EC and its block.
    pub created: TxRef,
    /// Transaction that verified (and listed) the EC and its block.
    pub verified: TxRef,
    /// The Request Contract through which the requester obtained the clip, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Address>,
}

/// A transaction in a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxRef {
    /// Transaction hash.
    pub tx: B256,
    /// Block number (the block is `chain/block-<number>.json`).
    pub block: u64,
}

/// The EC's creation parameters (`IEvidenceFactory.EvidenceParams`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Keccak-256 of the plaintext clip.
    pub video_hash: B256,
    /// Keccak-256 of the sealed clip.
    pub cipher_hash: B256,
    /// Keccak-256 of the front-frame thumbnail.
    pub frame_hash: B256,
    /// Root of the per-second frame leaves.
    pub frames_root: B256,
    /// Keccak-256 of the session key.
    pub key_commitment: B256,
    /// Segment start, unix seconds.
    pub recorded_at: u64,
    /// 1e-6 degrees.
    pub latitude: i32,
    /// 1e-6 degrees.
    pub longitude: i32,
    /// Umbral capsule.
    pub capsule: Bytes,
    /// Wrapped session key.
    pub wrapped_key: Bytes,
    /// The owner's Umbral public key.
    pub owner_umbral_key: Bytes,
}

impl Params {
    /// As the protocol's EIP-712 struct.
    pub fn to_eip712(&self) -> dashledger_protocol::eip712::Evidence {
        dashledger_protocol::eip712::Evidence {
            videoHash: self.video_hash,
            cipherHash: self.cipher_hash,
            frameHash: self.frame_hash,
            framesRoot: self.frames_root,
            keyCommitment: self.key_commitment,
            recordedAt: self.recorded_at,
            latitude: self.latitude,
            longitude: self.longitude,
            capsule: self.capsule.clone(),
            wrappedKey: self.wrapped_key.clone(),
            ownerUmbralKey: self.owner_umbral_key.clone(),
        }
    }

    /// From the protocol's EIP-712 struct.
    pub fn from_eip712(e: &dashledger_protocol::eip712::Evidence) -> Self {
        Self {
            video_hash: e.videoHash,
            cipher_hash: e.cipherHash,
            frame_hash: e.frameHash,
            frames_root: e.framesRoot,
            key_commitment: e.keyCommitment,
            recorded_at: e.recordedAt,
            latitude: e.latitude,
            longitude: e.longitude,
            capsule: e.capsule.clone(),
            wrapped_key: e.wrappedKey.clone(),
            owner_umbral_key: e.ownerUmbralKey.clone(),
        }
    }
}

/// `frames.json`: the per-second leaves of the clip and the inclusion proof of each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FramesFile {
    /// `framesRoot` of the leaves.
    pub frames_root: B256,
    /// Leaf of second `i` at index `i`.
    pub leaves: Vec<B256>,
    /// One proof per second, in order.
    pub proofs: Vec<FrameProof>,
}

/// An inclusion proof of one second's leaf (`frames::MerkleProof` without the leaf count,
/// which is `leaves.len()`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameProof {
    /// The second.
    pub index: u32,
    /// Siblings from the leaf level upwards.
    pub siblings: Vec<B256>,
}

/// `chain/state-proof.json`: `eth_getProof` of the EC (status slot) and of the SearchContract
/// (the EC's `_ownerOf` slot) at one block, that block's header, and the EC's code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateProof {
    /// The header the proofs are against (its hash is recomputed from its fields).
    pub header: Header,
    /// The EC's runtime code (its Keccak-256 is the account's `codeHash`).
    pub ec_code: Bytes,
    /// `eth_getProof(ec, [slot 0])`.
    pub ec_account: EIP1186AccountProofResponse,
    /// `eth_getProof(searchContract, [keccak256(ec . 1)])`.
    pub search_account: EIP1186AccountProofResponse,
}

/// `chain/block-<n>.json`: a block's header with all its transactions and receipts, so their
/// roots can be recomputed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockFile {
    /// The header.
    pub header: Header,
    /// Every transaction, in block order.
    pub transactions: Vec<Transaction>,
    /// Every receipt, in block order.
    pub receipts: Vec<TransactionReceipt>,
}

/// A bundle in memory: path → bytes (the manifest included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bundle {
    /// The files.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Most bytes read from one bundle (a minute of dashcam video is far below).
pub const MAX_BUNDLE_BYTES: u64 = 4 << 30;

impl Bundle {
    /// A bundle of `files` with a fresh manifest.
    pub fn new(mut files: BTreeMap<String, Vec<u8>>) -> Self {
        files.remove(paths::MANIFEST);
        let manifest = Manifest::of(&files).to_bytes();
        files.insert(paths::MANIFEST.to_owned(), manifest);
        Self { files }
    }

    /// Replaces (or adds) one file and rewrites the manifest to match, as someone altering a
    /// bundle on purpose would.
    pub fn with_file(mut self, path: &str, bytes: Vec<u8>) -> Self {
        self.files.insert(path.to_owned(), bytes);
        Self::new(self.files)
    }

    /// A file's bytes.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// A JSON file parsed as `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let b = self
            .get(path)
            .ok_or_else(|| Error::format(path, "missing from the bundle"))?;
        serde_json::from_slice(b).map_err(|e| Error::format(path, format!("not valid: {e}")))
    }

    /// Reads a bundle zip.
    pub fn read(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|source| Error::Io {
            what: "opening the bundle",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(f, &path.display().to_string())
    }

    /// Reads a bundle zip from `reader` (`name` for messages).
    pub fn from_reader<R: Read + std::io::Seek>(reader: R, name: &str) -> Result<Self> {
        let zerr = |reason: String| Error::Zip {
            path: name.to_owned(),
            reason,
        };
        let mut zip = zip::ZipArchive::new(reader).map_err(|e| zerr(e.to_string()))?;
        let mut files = BTreeMap::new();
        let mut total = 0u64;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| zerr(e.to_string()))?;
            if entry.is_dir() {
                continue;
            }
            let entry_name = entry.name().map_err(|e| zerr(e.to_string()))?.into_owned();
            total = total.saturating_add(entry.size());
            if total > MAX_BUNDLE_BYTES {
                return Err(zerr(format!("more than {MAX_BUNDLE_BYTES} bytes")));
            }
            let mut buf = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry
                .read_to_end(&mut buf)
                .map_err(|e| zerr(format!("{entry_name}: {e}")))?;
            if files.insert(entry_name.clone(), buf).is_some() {
                return Err(zerr(format!("{entry_name} is in the archive twice")));
            }
        }
        Ok(Self { files })
    }

    /// The zip bytes: stored entries in path order (manifest first), fixed timestamps, so
    /// the same files always give the same archive.
    pub fn to_zip(&self) -> Result<Vec<u8>> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(
                self.files
                    .values()
                    .any(|b| b.len() as u64 >= u64::from(u32::MAX)),
            );
        let zerr = |e: &dyn std::fmt::Display| Error::Build(format!("writing the zip: {e}"));
        let order = std::iter::once(paths::MANIFEST)
            .filter(|m| self.files.contains_key(*m))
            .chain(
                self.files
                    .keys()
                    .map(String::as_str)
                    .filter(|p| *p != paths::MANIFEST),
            );
        for p in order {
            w.start_file(p, opts).map_err(|e| zerr(&e))?;
            w.write_all(&self.files[p]).map_err(|e| zerr(&e))?;
        }
        Ok(w.finish().map_err(|e| zerr(&e))?.into_inner())
    }

    /// Writes the zip to `path` (temp file, then rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = self.to_zip()?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".part");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, &bytes).map_err(|source| Error::Io {
            what: "writing the bundle",
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, path).map_err(|source| Error::Io {
            what: "renaming the bundle to",
            path: path.to_path_buf(),
            source,
        })
    }
}
