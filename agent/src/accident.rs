//! The accident pipeline's local stage: everything the evidence contract and the upload need,
//! computed from the segment and written under `<state_dir>/accidents/<segment id>/`:
//!
//! * the clip sealed with a fresh session key (protocol's chunked AES-256-GCM), and that key
//!   wrapped to the owner's Umbral key (capsule + wrapped key); the session key itself is dropped;
//! * the first and last sampled frames as JPEG thumbnails (`frameHash` = Keccak-256 of the first);
//! * the per-second leaves of the MP4 and their `framesRoot` (protocol's definition);
//! * the owner key index (a fresh key per accident, derived from the owner seed).
//!
//! The stage is idempotent: if the agent dies half-way it is redone from scratch (nothing has left
//! the device yet). Later stages (EC creation, upload) only read the stored [`Prepared`].

use std::io::Write;
use std::path::{Path, PathBuf};

use dashledger_protocol::frames::{encode_leaves, frame_leaves_file, frames_root};
use dashledger_protocol::hash::{keccak256, keccak256_file};
use dashledger_protocol::keys::Secrets;
use dashledger_protocol::{seal, wrap};
use serde::{Deserialize, Serialize};

use alloy::primitives::U256;
use dashledger_protocol::B256;
use dashledger_protocol::eip712::{Evidence, sign_create_evidence};

use crate::cloud::{CloudClient, Deployment, Failure};
use crate::decode::{self, DecodeOptions, Frame};
use crate::error::AgentError;
use crate::nmea::Fix;
use crate::outbox::{Outbox, Segment};

/// Meta key of the next owner key index.
const NEXT_OWNER_INDEX: &str = "next_owner_index";
/// JPEG quality of the thumbnails.
pub const THUMBNAIL_QUALITY: u8 = 80;

/// Outputs of the local stage (stored as JSON in the outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    /// Index of the per-accident owner key.
    pub owner_index: u32,
    /// The owner key's address (the EC owner).
    pub owner: String,
    /// Keccak-256 of the segment file (= the evidence record's hash).
    pub video_hash: String,
    /// Sealed clip.
    pub sealed_path: PathBuf,
    /// Keccak-256 of the sealed clip.
    pub cipher_hash: String,
    /// Sealed length in bytes.
    pub sealed_len: u64,
    /// Keccak-256 of the session key (in the seal header too).
    pub key_commitment: String,
    /// Umbral capsule, hex.
    pub capsule: String,
    /// Wrapped session key, hex.
    pub wrapped_key: String,
    /// Owner's Umbral public key, hex.
    pub owner_umbral_key: String,
    /// First-frame thumbnail (JPEG).
    pub thumb_first: PathBuf,
    /// Last-frame thumbnail (JPEG).
    pub thumb_last: PathBuf,
    /// Keccak-256 of the first thumbnail.
    pub frame_hash: String,
    /// Encoded leaves file (protocol's `encode_leaves`).
    pub leaves_path: PathBuf,
    /// Number of per-second leaves.
    pub leaf_count: usize,
    /// Merkle root of the leaves.
    pub frames_root: String,
    /// Segment start, unix seconds.
    pub recorded_at: u64,
    /// Latitude in 1e-6 degrees (0 without a fix).
    pub latitude: i32,
    /// Longitude in 1e-6 degrees (0 without a fix).
    pub longitude: i32,
    /// The evidence contract, once created.
    #[serde(default)]
    pub ec_address: Option<String>,
    /// The open upload session, once opened.
    #[serde(default)]
    pub upload_id: Option<String>,
}

fn b256(s: &str, what: &str) -> Result<B256, AgentError> {
    s.parse().map_err(|_| {
        AgentError::OutboxState(format!("stored {what} `{s}` is not a 32-byte hex value"))
    })
}

fn bytes(s: &str, what: &str) -> Result<alloy::primitives::Bytes, AgentError> {
    hex::decode(s)
        .map(Into::into)
        .map_err(|_| AgentError::OutboxState(format!("stored {what} is not hex")))
}

impl Prepared {
    /// The EC's `Evidence` struct.
    pub fn evidence(&self) -> Result<Evidence, AgentError> {
        Ok(Evidence {
            videoHash: b256(&self.video_hash, "video hash")?,
            cipherHash: b256(&self.cipher_hash, "cipher hash")?,
            frameHash: b256(&self.frame_hash, "frame hash")?,
            framesRoot: b256(&self.frames_root, "frames root")?,
            keyCommitment: b256(&self.key_commitment, "key commitment")?,
            recordedAt: self.recorded_at,
            latitude: self.latitude,
            longitude: self.longitude,
            capsule: bytes(&self.capsule, "capsule")?,
            wrappedKey: bytes(&self.wrapped_key, "wrapped key")?,
            ownerUmbralKey: bytes(&self.owner_umbral_key, "owner Umbral key")?,
        })
    }
}

/// A failed network step: whether to retry, and the message.
#[derive(Debug)]
pub struct StepError {
    /// Retrying may help (network, 5xx) or not without an operator (4xx).
    pub failure: Failure,
    /// What happened.
    pub error: AgentError,
}

impl From<AgentError> for StepError {
    fn from(error: AgentError) -> Self {
        Self {
            failure: Failure::Refused,
            error,
        }
    }
}

impl From<(Failure, AgentError, Option<String>)> for StepError {
    fn from((failure, error, _): (Failure, AgentError, Option<String>)) -> Self {
        Self { failure, error }
    }
}

/// Creates the EC through the cloud relayer: the per-accident owner key signs the EIP-712
/// `CreateEvidence`, the device signs the API request, the cloud pays the gas. Returns the EC
/// address.
pub async fn create_ec_via_relayer(
    prepared: &Prepared,
    secrets: &Secrets,
    deployment: &Deployment,
    cloud: &CloudClient,
) -> Result<String, StepError> {
    let evidence = prepared.evidence()?;
    let owner = secrets
        .owner_seed()
        .owner_key(prepared.owner_index)
        .map_err(AgentError::from)?;
    let deadline = crate::outbox::now_ms() as u64 / 1000 + 3600;
    let sig = sign_create_evidence(
        owner.signer(),
        &evidence,
        U256::from(deadline),
        deployment.chain_id,
        deployment.evidence_factory,
    )
    .map_err(AgentError::from)?;
    let body = dashledger_api::relay::RelayRequest {
        evidence: evidence.into(),
        owner: owner.address(),
        deadline,
        signature: sig.to_vec().into(),
    };
    let device = secrets.device_signer().map_err(AgentError::from)?;
    Ok(cloud
        .relay_evidence(&device, deployment.chain_id, &body)
        .await?)
}

/// Uploads the sealed clip (resuming at the offset the cloud reports), both thumbnails and
/// completes the upload. `on_open` is called with the session id before any byte is sent, so it
/// can be stored.
pub async fn upload(
    prepared: &Prepared,
    secrets: &Secrets,
    deployment: &Deployment,
    cloud: &CloudClient,
    chunk_bytes: u64,
    mut on_open: impl FnMut(&str) -> Result<(), AgentError>,
) -> Result<(), StepError> {
    use std::io::{Read, Seek, SeekFrom};
    let ec = prepared
        .ec_address
        .as_deref()
        .ok_or_else(|| AgentError::OutboxState("upload before the EC exists".into()))?;
    let leaves = std::fs::read(&prepared.leaves_path)
        .map_err(|e| AgentError::io("cannot read", &prepared.leaves_path, e))?;
    let body = dashledger_api::uploads::CreateUpload {
        ec_address: ec.to_owned(),
        size: prepared.sealed_len,
        leaves: format!("0x{}", hex::encode(leaves)),
        frames_root: prepared.frames_root.clone(),
    };
    let device = secrets.device_signer().map_err(AgentError::from)?;
    let status = cloud
        .open_upload(&device, deployment.chain_id, &body)
        .await?;
    on_open(&status.upload_id)?;
    let id = status.upload_id;
    let chunk = chunk_bytes.min(status.max_chunk_bytes.max(1024));
    let mut f = std::fs::File::open(&prepared.sealed_path)
        .map_err(|e| AgentError::io("cannot open sealed clip", &prepared.sealed_path, e))?;
    let mut offset = status.received;
    if offset > 0 {
        tracing::info!(upload = %id, offset, "resuming upload");
    }
    while offset < prepared.sealed_len {
        let n = chunk.min(prepared.sealed_len - offset) as usize;
        let mut buf = vec![0u8; n];
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| AgentError::io("cannot read sealed clip", &prepared.sealed_path, e))?;
        cloud.put_chunk(&id, offset, buf).await?;
        offset += n as u64;
        tracing::debug!(upload = %id, offset, total = prepared.sealed_len, "chunk sent");
    }
    for (which, path) in [
        ("first", &prepared.thumb_first),
        ("last", &prepared.thumb_last),
    ] {
        let jpeg =
            std::fs::read(path).map_err(|e| AgentError::io("cannot read thumbnail", path, e))?;
        cloud.put_thumbnail(&id, which, jpeg).await?;
    }
    cloud.complete_upload(&id).await?;
    Ok(())
}

/// Encodes a frame as JPEG.
pub fn jpeg(frame: &Frame, quality: u8) -> Result<Vec<u8>, AgentError> {
    let w = u16::try_from(frame.width)
        .map_err(|_| AgentError::Jpeg(format!("width {} too large", frame.width)))?;
    let h = u16::try_from(frame.height)
        .map_err(|_| AgentError::Jpeg(format!("height {} too large", frame.height)))?;
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(&frame.rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| AgentError::Jpeg(e.to_string()))?;
    Ok(out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    let tmp = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| AgentError::io("cannot create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| AgentError::io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| AgentError::io("cannot rename into place", path, e))
}

/// Microdegrees for the EC.
pub fn microdegrees(fix: Option<Fix>) -> (i32, i32) {
    fix.map_or((0, 0), |f| {
        ((f.lat * 1e6).round() as i32, (f.lon * 1e6).round() as i32)
    })
}

/// Runs the local stage for `segment` (file at `path`).
pub fn prepare(
    outbox: &mut Outbox,
    secrets: &Secrets,
    state_dir: &Path,
    segment: &Segment,
    path: &Path,
    fix: Option<Fix>,
) -> Result<Prepared, AgentError> {
    let video_hash = segment.video_hash.ok_or_else(|| {
        AgentError::OutboxState(format!("accident segment {} is not hashed", segment.name))
    })?;
    let dir = state_dir.join("accidents").join(segment.id.to_string());
    std::fs::create_dir_all(&dir)
        .map_err(|e| AgentError::io("cannot create accident directory", &dir, e))?;

    // The file must still be the one we hashed.
    let now_hash = keccak256_file(path)?;
    if now_hash.0 != video_hash {
        return Err(AgentError::OutboxState(format!(
            "segment {} changed since it was hashed; cannot seal it",
            segment.name
        )));
    }

    // Owner key: allocate the index durably before using it.
    let owner_index = match outbox.meta(&format!("owner_index:{}", segment.id))? {
        Some(i) => i
            .parse()
            .map_err(|_| AgentError::OutboxState(format!("bad owner index `{i}`")))?,
        None => {
            let next: u32 = outbox
                .meta(NEXT_OWNER_INDEX)?
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            outbox.set_meta(NEXT_OWNER_INDEX, &(next + 1).to_string())?;
            outbox.set_meta(&format!("owner_index:{}", segment.id), &next.to_string())?;
            next
        }
    };
    let owner = secrets.owner_seed().owner_key(owner_index)?;

    // Seal and wrap.
    let key = seal::SessionKey::generate();
    let sealed_path = dir.join("clip.sealed");
    let tmp = dir.join("clip.sealed.tmp");
    let stats = {
        let input = std::fs::File::open(path)
            .map_err(|e| AgentError::io("cannot open segment", path, e))?;
        let out =
            std::fs::File::create(&tmp).map_err(|e| AgentError::io("cannot create", &tmp, e))?;
        let mut w = std::io::BufWriter::new(out);
        let stats = seal::seal(std::io::BufReader::new(input), &mut w, &key)?;
        let f = w
            .into_inner()
            .map_err(|e| AgentError::io("cannot write", &tmp, e.into_error()))?;
        f.sync_all()
            .map_err(|e| AgentError::io("cannot sync", &tmp, e))?;
        stats
    };
    std::fs::rename(&tmp, &sealed_path)
        .map_err(|e| AgentError::io("cannot rename", &sealed_path, e))?;
    let cipher_hash = keccak256_file(&sealed_path)?;
    let umbral_pk = secrets.umbral_secret_key()?.public_key();
    let wrapped = wrap::wrap(&umbral_pk, &key)?;
    drop(key);

    // Thumbnails from the first and last sampled frames.
    let mut first = None;
    let mut last = None;
    decode::decode_each(path, &DecodeOptions::default(), |f| {
        if first.is_none() {
            first = Some(f);
        } else {
            last = Some(f);
        }
        Ok(())
    })?;
    let first = first.ok_or_else(|| AgentError::Decode {
        path: path.into(),
        reason: "no frame".into(),
    })?;
    let last = last.unwrap_or_else(|| first.clone());
    let first_jpg = jpeg(&first, THUMBNAIL_QUALITY)?;
    let last_jpg = jpeg(&last, THUMBNAIL_QUALITY)?;
    let thumb_first = dir.join("first.jpg");
    let thumb_last = dir.join("last.jpg");
    write_atomic(&thumb_first, &first_jpg)?;
    write_atomic(&thumb_last, &last_jpg)?;

    // Per-second leaves and root.
    let leaves = frame_leaves_file(path)?;
    let root = frames_root(&leaves)?;
    let leaves_path = dir.join("leaves.bin");
    write_atomic(&leaves_path, &encode_leaves(&leaves))?;

    let (latitude, longitude) = microdegrees(fix);
    if fix.is_none() {
        tracing::warn!(segment = %segment.name, "no recent location fix: the EC carries 0,0");
    }
    let recorded_at = crate::segments::segment_start(&segment.name, segment.mtime_ns)?.to_unix();
    Ok(Prepared {
        owner_index,
        owner: owner.address().to_string(),
        video_hash: dashledger_protocol::B256::from(video_hash).to_string(),
        sealed_path,
        cipher_hash: cipher_hash.to_string(),
        sealed_len: stats.sealed_len,
        key_commitment: stats.key_commitment.to_string(),
        capsule: hex::encode(wrapped.capsule_bytes()),
        wrapped_key: hex::encode(wrapped.ciphertext()),
        owner_umbral_key: hex::encode(umbral_pk.to_bytes()),
        thumb_first,
        thumb_last,
        frame_hash: keccak256(&first_jpg).to_string(),
        leaves_path,
        leaf_count: leaves.len(),
        frames_root: root.to_string(),
        recorded_at,
        latitude,
        longitude,
        ec_address: None,
        upload_id: None,
    })
}
