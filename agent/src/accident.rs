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

use dashledger_protocol::frames::{LeafStream, encode_leaves, frame_leaves, frames_root};
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::keys::Secrets;
use dashledger_protocol::{seal, wrap};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use tokio_util::sync::CancellationToken;

use alloy::primitives::U256;
use dashledger_protocol::B256;
use dashledger_protocol::eip712::{Evidence, sign_create_evidence};

use crate::cloud::{CloudClient, CloudError, Deployment, ErrorCode, Failure};
use crate::decode::{self, DecodeOptions, Frame};
use crate::error::AgentError;
use crate::nmea::Fix;
use crate::outbox::{Outbox, Segment};

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
    /// The C2PA sidecar (`clip.c2pa` in the accident's directory), once signed; `None` when the
    /// device has no C2PA certificate (or it could not be made: logged, the clip goes without).
    #[serde(default)]
    pub c2pa_path: Option<PathBuf>,
    /// Why the accident goes without a C2PA sidecar, once that is decided (the segment gone or
    /// changed, or a format C2PA cannot bind): it is not tried again, and never holds up the
    /// upload.
    #[serde(default)]
    pub c2pa_skipped: Option<String>,
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

/// A failed network step: what happened, and from it whether to retry.
#[derive(Debug)]
pub struct StepError {
    /// What happened.
    pub error: AgentError,
}

impl StepError {
    /// Retrying may help (network, 5xx: [`CloudError::failure`]) or not without an operator
    /// (4xx, and every failure that is not the cloud's).
    pub fn failure(&self) -> Failure {
        match &self.error {
            AgentError::Cloud(e) => e.failure(),
            _ => Failure::Refused,
        }
    }

    /// Whether the cloud already holds the complete upload of this evidence contract (a
    /// previous run finished it and stopped before noting so): the cloud's typed
    /// [`ErrorCode::AlreadyUploaded`].
    pub fn already_uploaded(&self) -> bool {
        self.error.cloud_code() == Some(&ErrorCode::AlreadyUploaded)
    }
}

impl From<AgentError> for StepError {
    fn from(error: AgentError) -> Self {
        Self { error }
    }
}

impl From<CloudError> for StepError {
    fn from(error: CloudError) -> Self {
        AgentError::Cloud(error).into()
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
    if let Some(path) = &prepared.c2pa_path {
        let manifest =
            std::fs::read(path).map_err(|e| AgentError::io("cannot read C2PA sidecar", path, e))?;
        match cloud.put_c2pa(&id, manifest).await {
            Ok(()) => {}
            // A cloud without the route (older than the sidecar) answers 404/405 with no API
            // error code: the clip goes without the sidecar rather than never.
            Err(CloudError::Refused {
                status, code: None, ..
            }) if matches!(status.as_u16(), 404 | 405) => {
                tracing::warn!(status = %status, "the cloud takes no C2PA sidecar; the clip is uploaded without it");
            }
            Err(e) => return Err(e.into()),
        }
    }
    cloud.complete_upload(&id).await?;
    Ok(())
}

/// Encodes a frame as JPEG.
pub fn jpeg(frame: &Frame, quality: u8) -> Result<Vec<u8>, AgentError> {
    let side = |which, value: u32| {
        u16::try_from(value).map_err(|_| AgentError::FrameTooLarge { which, value })
    };
    let (w, h) = (side("width", frame.width)?, side("height", frame.height)?);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality).encode(
        &frame.rgb,
        w,
        h,
        jpeg_encoder::ColorType::Rgb,
    )?;
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

enum SealError {
    /// The segment is not the file that was hashed.
    Changed,
    Other(AgentError),
}

impl From<AgentError> for SealError {
    fn from(e: AgentError) -> Self {
        Self::Other(e)
    }
}

/// Bytes of samples the single pass may hold while it waits for the samples they follow in their
/// second's leaf (a few seconds of video; more means a file not interleaved by time, whose
/// leaves then take a second read).
const LEAF_STREAM_MAX_HELD: usize = 32 << 20;

/// Seals `path` into `sealed_path` in one pass over the segment: the plaintext is hashed as it
/// is read (it must still be `video_hash`, the file that was recorded) and its per-second frame
/// leaves computed from the same bytes (after reading only the MP4's sample tables), the
/// ciphertext hashed as it is written (no second read of either). Returns the seal's stats, the
/// ciphertext's Keccak-256 and the leaves (`None` when the single pass could not make them).
fn seal_once(
    path: &Path,
    sealed_path: &Path,
    key: &seal::SessionKey,
    video_hash: [u8; 32],
    stop: &CancellationToken,
) -> Result<(seal::SealStats, B256, Option<Vec<B256>>), SealError> {
    let tmp = sealed_path.with_extension("sealed.tmp");
    let mut input =
        std::fs::File::open(path).map_err(|e| AgentError::io("cannot open segment", path, e))?;
    let leaves = dashledger_protocol::mp4::read_tracks(&mut std::io::BufReader::new(&input))
        .and_then(|tracks| LeafStream::new(&tracks, LEAF_STREAM_MAX_HELD))
        .inspect_err(
            |e| tracing::debug!(error = %e, "no single-pass leaves: they take a second read"),
        )
        .ok();
    std::io::Seek::rewind(&mut input)
        .map_err(|e| AgentError::io("cannot rewind segment", path, e))?;
    let mut reader = HashingReader::new(std::io::BufReader::new(input), stop, leaves);
    let out = std::fs::File::create(&tmp).map_err(|e| AgentError::io("cannot create", &tmp, e))?;
    let mut writer = HashingWriter::new(std::io::BufWriter::new(out));
    let sealed = seal::seal(&mut reader, &mut writer, key);
    let discard = |e: SealError| {
        let _ = std::fs::remove_file(&tmp);
        e
    };
    if stop.is_cancelled() {
        return Err(discard(AgentError::Stopped.into()));
    }
    let stats = sealed.map_err(|e| discard(AgentError::from(e).into()))?;
    let (w, cipher_hash) = writer.finish();
    let f = w
        .into_inner()
        .map_err(|e| discard(AgentError::io("cannot write", &tmp, e.into_error()).into()))?;
    f.sync_all()
        .map_err(|e| discard(AgentError::io("cannot sync", &tmp, e).into()))?;
    let (plain_hash, leaves) = reader.finish();
    if plain_hash.0 != video_hash {
        return Err(discard(SealError::Changed));
    }
    std::fs::rename(&tmp, sealed_path)
        .map_err(|e| AgentError::io("cannot rename", sealed_path, e))?;
    Ok((stats, cipher_hash, leaves))
}

/// The segment's per-second leaves (protocol's definition), stopping when the daemon stops.
fn leaves_of(path: &Path, stop: &CancellationToken) -> Result<Vec<B256>, AgentError> {
    let f =
        std::fs::File::open(path).map_err(|e| AgentError::io("cannot open segment", path, e))?;
    frame_leaves(StopReader {
        inner: std::io::BufReader::new(f),
        stop,
    })
    .map_err(|e| {
        if stop.is_cancelled() {
            AgentError::Stopped
        } else {
            e.into()
        }
    })
}

/// The directory of the accident on segment `segment_id`.
pub fn accident_dir(state_dir: &Path, segment_id: i64) -> PathBuf {
    state_dir.join("accidents").join(segment_id.to_string())
}

/// Writes the accident's thumbnails (`first.jpg`, `last.jpg`, atomically) from the first and last
/// sampled frames; returns the first one's JPEG (its Keccak-256 is the EC's `frameHash`).
pub fn write_thumbnails(
    state_dir: &Path,
    segment_id: i64,
    first: &Frame,
    last: &Frame,
) -> Result<Vec<u8>, AgentError> {
    let dir = accident_dir(state_dir, segment_id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| AgentError::io("cannot create accident directory", &dir, e))?;
    let first_jpg = jpeg(first, THUMBNAIL_QUALITY)?;
    let last_jpg = jpeg(last, THUMBNAIL_QUALITY)?;
    // `last` first: `first.jpg` present means both are.
    write_atomic(&dir.join("last.jpg"), &last_jpg)?;
    write_atomic(&dir.join("first.jpg"), &first_jpg)?;
    Ok(first_jpg)
}

fn decode_thumbnails(path: &Path, stop: &CancellationToken) -> Result<(Frame, Frame), AgentError> {
    let mut ends = decode::FirstLast::default();
    decode::decode_each(path, &DecodeOptions::default(), |f| {
        if stop.is_cancelled() {
            return Err("the daemon is stopping".into());
        }
        ends.push(f);
        Ok(())
    })
    .map_err(|e| {
        if stop.is_cancelled() {
            AgentError::Stopped
        } else {
            e
        }
    })?;
    ends.finish().ok_or_else(|| AgentError::Decode {
        path: path.into(),
        reason: "no frame".into(),
    })
}

/// Microdegrees for the EC.
pub fn microdegrees(fix: Option<Fix>) -> (i32, i32) {
    fix.map_or((0, 0), |f| {
        ((f.lat * 1e6).round() as i32, (f.lon * 1e6).round() as i32)
    })
}

/// Runs the local stage for `segment` (file at `path`). `stop` interrupts it between two reads
/// ([`AgentError::Stopped`]; the stage is redone from scratch on the next start).
pub fn prepare(
    outbox: &mut Outbox,
    secrets: &Secrets,
    state_dir: &Path,
    segment: &Segment,
    path: &Path,
    fix: Option<Fix>,
    stop: &CancellationToken,
) -> Result<Prepared, AgentError> {
    let video_hash = segment.video_hash.ok_or_else(|| {
        AgentError::OutboxState(format!("accident segment {} is not hashed", segment.name))
    })?;
    let dir = accident_dir(state_dir, segment.id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| AgentError::io("cannot create accident directory", &dir, e))?;

    // Owner key: the index is allocated durably (one transaction) before it is used.
    let owner_index = outbox.owner_index_for(segment.id)?;
    let owner = secrets.owner_seed().owner_key(owner_index)?;

    let key = seal::SessionKey::generate();
    let sealed_path = dir.join("clip.sealed");
    let (stats, cipher_hash, leaves) = seal_once(path, &sealed_path, &key, video_hash, stop)
        .map_err(|e| match e {
            SealError::Changed => AgentError::OutboxState(format!(
                "segment {} changed since it was hashed; cannot seal it",
                segment.name
            )),
            SealError::Other(e) => e,
        })?;
    // The accident's own Umbral key: a kfrag for it opens this accident only, and no two ECs
    // carry the same `ownerUmbralKey`.
    let umbral_pk = secrets
        .owner_seed()
        .owner_umbral_key(owner_index)?
        .public_key();
    let wrapped = wrap::wrap(&umbral_pk, &key)?;
    drop(key);

    let (thumb_first, thumb_last, first_jpg) = thumbnails(&dir, state_dir, segment, path, stop)?;
    let (leaves_path, leaf_count, root) = write_leaves(&dir, path, leaves, stop)?;

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
        leaf_count,
        frames_root: root.to_string(),
        recorded_at,
        latitude,
        longitude,
        ec_address: None,
        upload_id: None,
        c2pa_path: None,
        c2pa_skipped: None,
    })
}

/// The accident's thumbnails, from the first and last sampled frames: left by detection when it
/// made the segment an accident (no second decode), decoded here otherwise (a manual event).
/// Their paths and the first one's JPEG bytes.
fn thumbnails(
    dir: &Path,
    state_dir: &Path,
    segment: &Segment,
    path: &Path,
    stop: &CancellationToken,
) -> Result<(PathBuf, PathBuf, Vec<u8>), AgentError> {
    let thumb_first = dir.join("first.jpg");
    let thumb_last = dir.join("last.jpg");
    let first_jpg = match (std::fs::read(&thumb_first), thumb_last.is_file()) {
        (Ok(jpg), true) => jpg,
        _ => {
            let (first, last) = decode_thumbnails(path, stop)?;
            write_thumbnails(state_dir, segment.id, &first, &last)?
        }
    };
    Ok((thumb_first, thumb_last, first_jpg))
}

/// The per-second frame leaves of the segment at `path` (`streamed`, made while sealing, or read
/// again), written to `dir/leaves.bin`: the file, the number of leaves and their root.
fn write_leaves(
    dir: &Path,
    path: &Path,
    streamed: Option<Vec<B256>>,
    stop: &CancellationToken,
) -> Result<(PathBuf, usize, B256), AgentError> {
    let leaves = match streamed {
        Some(leaves) => leaves,
        None => leaves_of(path, stop)?,
    };
    let root = frames_root(&leaves)?;
    let leaves_path = dir.join("leaves.bin");
    write_atomic(&leaves_path, &encode_leaves(&leaves))?;
    Ok((leaves_path, leaves.len(), root))
}

/// A reader that fails once the daemon stops (so a long read loop ends between two reads).
struct StopReader<'a, R> {
    inner: R,
    stop: &'a CancellationToken,
}

fn stopped_io() -> std::io::Error {
    std::io::Error::other("the daemon is stopping")
}

impl<R: std::io::Read> std::io::Read for StopReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.is_cancelled() {
            return Err(stopped_io());
        }
        self.inner.read(buf)
    }
}

impl<R: std::io::Seek> std::io::Seek for StopReader<'_, R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Keccak-256 of everything read through it (the segment as the sealer reads it).
struct HashingReader<'a, R> {
    inner: StopReader<'a, R>,
    hasher: Keccak256,
    /// The frame leaves made from the same bytes; dropped if the stream gives up.
    leaves: Option<LeafStream>,
}

impl<'a, R: std::io::Read> HashingReader<'a, R> {
    fn new(inner: R, stop: &'a CancellationToken, leaves: Option<LeafStream>) -> Self {
        Self {
            inner: StopReader { inner, stop },
            hasher: Keccak256::new(),
            leaves,
        }
    }

    /// The Keccak-256 of what was read, and the leaves if the stream made them.
    fn finish(self) -> (B256, Option<Vec<B256>>) {
        let leaves = self.leaves.and_then(|l| {
            l.finish()
                .inspect_err(|e| tracing::debug!(error = %e, "single-pass leaves failed: a second read makes them"))
                .ok()
        });
        (B256::from_slice(&self.hasher.finalize()), leaves)
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(l) = &mut self.leaves
            && let Err(e) = l.update(&buf[..n])
        {
            tracing::debug!(error = %e, "single-pass leaves given up: a second read makes them");
            self.leaves = None;
        }
        Ok(n)
    }
}

/// Keccak-256 of everything written through it (the sealed clip as it is written).
struct HashingWriter<W> {
    inner: W,
    hasher: Keccak256,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Keccak256::new(),
        }
    }

    fn finish(self) -> (W, B256) {
        (self.inner, B256::from_slice(&self.hasher.finalize()))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn hashing_reader_and_writer_match_keccak_of_the_bytes() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let stop = CancellationToken::new();
        let mut r = HashingReader::new(&data[..], &stop, None);
        let mut w = HashingWriter::new(Vec::new());
        std::io::copy(&mut r, &mut w).unwrap();
        let (out, written) = w.finish();
        assert_eq!(out, data);
        assert_eq!(written, keccak256(&data));
        assert_eq!(r.finish(), (keccak256(&data), None));
    }

    /// The seal's one pass gives the frame leaves too: the same as reading the file again; a
    /// file that is no MP4 is still sealed (its leaves are then left to the second read).
    #[test]
    fn sealing_makes_the_frame_leaves_in_the_same_pass() {
        let mp4 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/data/tiny.mp4");
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let key = seal::SessionKey::generate();
        let hash = keccak256(std::fs::read(&mp4).unwrap()).0;
        let out = dir.path().join("clip.sealed");
        let Ok((_, _, leaves)) = seal_once(&mp4, &out, &key, hash, &stop) else {
            panic!("sealing failed");
        };
        let want = dashledger_protocol::frames::frame_leaves_file(&mp4).unwrap();
        assert_eq!(leaves, Some(want));

        let other = dir.path().join("not.mp4");
        std::fs::write(&other, vec![7u8; 5000]).unwrap();
        let hash = keccak256(vec![7u8; 5000]).0;
        let Ok((stats, _, leaves)) = seal_once(&other, &out, &key, hash, &stop) else {
            panic!("sealing failed");
        };
        assert_eq!((stats.plaintext_len, leaves), (5000, None));
    }

    #[test]
    fn a_stopped_reader_fails_instead_of_reading() {
        let stop = CancellationToken::new();
        let mut r = HashingReader::new(&[1u8, 2, 3][..], &stop, None);
        let mut b = [0u8; 2];
        assert_eq!(r.read(&mut b).unwrap(), 2);
        stop.cancel();
        let e = r.read(&mut b).unwrap_err();
        assert!(e.to_string().contains("stopping"), "{e}");
    }
}
