//! Test support: an accident reported the way a dashcam agent reports it, through the real
//! cloud's HTTP API — used by `tests/flow.rs` and by `examples/report_accident.rs` (the web
//! page's whole-flow browser test runs that example).
//!
//! 1. the device is registered and approved by the operator (`POST /v1/admin/devices`);
//! 2. the device sends the signed evidence record of the segment (`POST /v1/evidence`);
//! 3. the clip is sealed under a fresh session key, the key wrapped to the owner's Umbral key;
//! 4. the owner signs the EIP-712 `CreateEvidence` and the cloud relays it
//!    (`POST /v1/relay/evidence`, signed by the device);
//! 5. the sealed clip, its per-second leaves and first thumbnail go up through the resumable
//!    chunked upload (`POST /v1/uploads`, `PUT …/chunks/{offset}`, `PUT …/thumbnails/first`,
//!    `POST …/complete`), interrupted once and resumed from the cloud's acknowledged offset;
//! 6. the cloud's verifier checks everything and lists the EC ([`wait_listed`]).
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]
// Shared by a test and an example; each uses part of it.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, anyhow, bail, ensure};
use dashledger_protocol::auth::{RequestParts, sign_request};
use dashledger_protocol::eip712::{Evidence, sign_create_evidence};
use dashledger_protocol::frames::{encode_leaves, frames_root};
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::record::{DeviceId, EvidenceRecord, SegmentTime};
use dashledger_protocol::seal::{self, SessionKey};
use dashledger_protocol::wrap::{self, UmbralSecretKey};
use serde_json::{Value, json};

/// What goes into one accident report.
#[derive(Debug)]
pub(crate) struct AccidentInput<'a> {
    /// The cloud's base URL.
    pub(crate) cloud: &'a str,
    /// The operator token (to register and approve the device).
    pub(crate) admin_token: &'a str,
    /// Chain id and EvidenceFactory of the deployment (EIP-712 domain, signed requests).
    pub(crate) chain_id: u64,
    /// The EvidenceFactory.
    pub(crate) factory: Address,
    /// The dashcam's device key.
    pub(crate) device: &'a PrivateKeySigner,
    /// The EC owner key (signs the EIP-712 creation; later signs kfrags).
    pub(crate) owner: &'a PrivateKeySigner,
    /// The owner's Umbral key the session key is wrapped to.
    pub(crate) owner_umbral: &'a UmbralSecretKey,
    /// The clip (segment file) bytes.
    pub(crate) clip: &'a [u8],
    /// Per-second frame leaves of the clip.
    pub(crate) leaves: &'a [B256],
    /// The first-frame JPEG.
    pub(crate) thumbnail: &'a [u8],
    /// Recording time (unix seconds).
    pub(crate) recorded_at: u64,
    /// Latitude and longitude in micro-degrees.
    pub(crate) latitude: i32,
    /// Longitude.
    pub(crate) longitude: i32,
    /// Upload chunk size in bytes.
    pub(crate) chunk_bytes: usize,
}

/// What the report left behind.
#[derive(Debug)]
pub(crate) struct Reported {
    /// The Evidence Contract the cloud relayed.
    pub(crate) ec: Address,
    /// The relay transaction.
    pub(crate) relay_tx: String,
    /// The sealed clip as uploaded.
    pub(crate) sealed: Vec<u8>,
    /// The evidence parameters.
    pub(crate) evidence: Evidence,
    /// Byte offset at which the interrupted upload resumed.
    pub(crate) resumed_at: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn signed(
    http: &reqwest::Client,
    cloud: &str,
    chain_id: u64,
    key: &PrivateKeySigner,
    method: reqwest::Method,
    path: &str,
    body: Vec<u8>,
) -> Result<reqwest::Response> {
    let parts = RequestParts {
        chain_id,
        method: method.as_str(),
        path,
        body: &body,
    };
    let h = sign_request(key, &parts, now() + 120)?;
    let mut req = http
        .request(method, format!("{cloud}{path}"))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in h.to_pairs() {
        req = req.header(k, v);
    }
    Ok(req.send().await?)
}

/// The response body as JSON if the status is a success, else an error naming `what`.
async fn ok_json(what: &str, r: reqwest::Response) -> Result<Value> {
    let status = r.status();
    let text = r.text().await?;
    ensure!(status.is_success(), "{what}: HTTP {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON: {text}"))
}

/// Reports an accident through the cloud as an agent would (module docs).
pub(crate) async fn report(a: &AccidentInput<'_>) -> Result<Reported> {
    let http = reqwest::Client::new();
    let cloud = a.cloud.trim_end_matches('/');
    // 1. The operator registers and approves the device.
    let r = http
        .post(format!("{cloud}/v1/admin/devices"))
        .bearer_auth(a.admin_token)
        .json(&json!({"address": a.device.address().to_string(), "label": "test dashcam", "approve": true}))
        .send()
        .await?;
    ok_json("registering the device", r).await?;

    // 2. The segment's signed evidence record.
    let record = EvidenceRecord {
        seq: 0,
        device: DeviceId::from_address(a.device.address()),
        start: SegmentTime::from_unix(a.recorded_at)?,
        prev_hash: B256::ZERO,
        segment_hash: keccak256(a.clip),
    };
    let signed_record = record.sign(a.device)?;
    let r = http
        .post(format!("{cloud}/v1/evidence"))
        .header("content-type", "application/octet-stream")
        .body(signed_record.encode().to_vec())
        .send()
        .await?;
    let v = ok_json("sending the evidence record", r).await?;
    ensure!(
        v["accepted"] == 1,
        "the evidence record was not accepted: {v}"
    );

    // 3. Seal + wrap.
    let session = SessionKey::generate();
    let mut sealed = Vec::new();
    seal::seal(a.clip, &mut sealed, &session)?;
    let wrapped = wrap::wrap(&a.owner_umbral.public_key(), &session)?;
    let evidence = Evidence {
        videoHash: keccak256(a.clip),
        cipherHash: keccak256(&sealed),
        frameHash: keccak256(a.thumbnail),
        framesRoot: frames_root(a.leaves)?,
        keyCommitment: session.commitment(),
        recordedAt: a.recorded_at,
        latitude: a.latitude,
        longitude: a.longitude,
        capsule: Bytes::from(wrapped.capsule_bytes()),
        wrappedKey: Bytes::copy_from_slice(wrapped.ciphertext()),
        ownerUmbralKey: Bytes::copy_from_slice(&a.owner_umbral.public_key().to_bytes()),
    };

    // 4. The relayed EC creation.
    let deadline = now() + 600;
    let sig = sign_create_evidence(
        a.owner,
        &evidence,
        U256::from(deadline),
        a.chain_id,
        a.factory,
    )?;
    let e = &evidence;
    let body = json!({
        "evidence": {
            "videoHash": e.videoHash, "cipherHash": e.cipherHash, "frameHash": e.frameHash,
            "framesRoot": e.framesRoot, "keyCommitment": e.keyCommitment, "recordedAt": e.recordedAt,
            "latitude": e.latitude, "longitude": e.longitude, "capsule": e.capsule,
            "wrappedKey": e.wrappedKey, "ownerUmbralKey": e.ownerUmbralKey,
        },
        "owner": a.owner.address(),
        "deadline": deadline,
        "signature": format!("0x{}", hex::encode(sig)),
    });
    let r = signed(
        &http,
        cloud,
        a.chain_id,
        a.device,
        reqwest::Method::POST,
        "/v1/relay/evidence",
        serde_json::to_vec(&body)?,
    )
    .await?;
    let v = ok_json("relaying the EC creation", r).await?;
    let ec: Address = v["ec_address"]
        .as_str()
        .ok_or_else(|| anyhow!("relay answer without ec_address: {v}"))?
        .parse()?;
    let relay_tx = v["tx_hash"].as_str().unwrap_or_default().to_string();

    // 5. The resumable upload: open, send about half, "lose the connection", re-open (the cloud
    //    answers the same open upload), ask where to resume, send the rest.
    let open_body = serde_json::to_vec(&json!({
        "ec_address": ec.to_string(),
        "size": sealed.len(),
        "leaves": format!("0x{}", hex::encode(encode_leaves(a.leaves))),
        "frames_root": evidence.framesRoot,
    }))?;
    let open = |body: Vec<u8>| {
        signed(
            &http,
            cloud,
            a.chain_id,
            a.device,
            reqwest::Method::POST,
            "/v1/uploads",
            body,
        )
    };
    let v = ok_json("opening the upload", open(open_body.clone()).await?).await?;
    let id = v["upload_id"]
        .as_str()
        .ok_or_else(|| anyhow!("no upload_id: {v}"))?
        .to_string();
    let chunk = a
        .chunk_bytes
        .min(v["max_chunk_bytes"].as_u64().unwrap_or(u64::MAX) as usize)
        .max(1);
    let put = |offset: usize| {
        let end = (offset + chunk).min(sealed.len());
        http.put(format!("{cloud}/v1/uploads/{id}/chunks/{offset}"))
            .header("content-type", "application/octet-stream")
            .body(sealed[offset..end].to_vec())
            .send()
    };
    let mut offset = 0usize;
    while offset < sealed.len() / 2 {
        let v = ok_json("sending a chunk", put(offset).await?).await?;
        offset = v["received"].as_u64().unwrap_or(0) as usize;
    }
    let again = ok_json("re-opening the upload", open(open_body).await?).await?;
    ensure!(
        again["upload_id"] == id.as_str(),
        "re-opening gave another upload: {again}"
    );
    let st = ok_json(
        "upload status",
        http.get(format!("{cloud}/v1/uploads/{id}")).send().await?,
    )
    .await?;
    let resumed_at = st["received"].as_u64().unwrap_or(0);
    offset = resumed_at as usize;
    while offset < sealed.len() {
        let v = ok_json("sending a chunk", put(offset).await?).await?;
        offset = v["received"].as_u64().unwrap_or(0) as usize;
    }
    let r = http
        .put(format!("{cloud}/v1/uploads/{id}/thumbnails/first"))
        .header("content-type", "image/jpeg")
        .body(a.thumbnail.to_vec())
        .send()
        .await?;
    ok_json("sending the thumbnail", r).await?;
    let r = http
        .post(format!("{cloud}/v1/uploads/{id}/complete"))
        .send()
        .await?;
    let v = ok_json("completing the upload", r).await?;
    ensure!(
        v["cipher_hash"].as_str().map(str::to_lowercase)
            == Some(evidence.cipherHash.to_string().to_lowercase()),
        "the cloud's cipher_hash differs from the sealed clip's: {v}"
    );
    Ok(Reported {
        ec,
        relay_tx,
        sealed,
        evidence,
        resumed_at,
    })
}

/// Waits until the cloud lists the EC (its verifier sent `verify()` and its indexer saw the
/// listing): `GET /v1/clips/{ec}` answers 200. Gives up after `timeout` naming the last answer.
pub(crate) async fn wait_listed(cloud: &str, ec: Address, timeout: Duration) -> Result<Value> {
    let http = reqwest::Client::new();
    let url = format!("{}/v1/clips/{ec:#x}", cloud.trim_end_matches('/'));
    let start = std::time::Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => return Ok(r.json().await?),
            Ok(r) => {
                last = format!(
                    "HTTP {}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                )
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("the cloud did not list {ec:#x} within {timeout:?}; last answer: {last}")
}

/// Per-second leaves for a clip that is not an MP4 (the cloud checks only that they hash to
/// `framesRoot`): one leaf per 64 KiB.
pub(crate) fn synthetic_leaves(clip: &[u8]) -> Vec<B256> {
    clip.chunks(65_536)
        .enumerate()
        .map(|(i, c)| keccak256([&(i as u32).to_be_bytes()[..], c].concat()))
        .collect()
}
