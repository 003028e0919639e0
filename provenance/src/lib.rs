//! # dashledger-provenance
//!
//! C2PA sidecar manifests for dashcam segments (docs/formats.md "C2PA on the shared clip").
//!
//! The dashcam signs, once per accident, a C2PA manifest store that hard-binds the recorded MP4
//! (`c2pa.hash.bmff`) and carries one assertion about the capture, [`Capture`] (label
//! [`CAPTURE_LABEL`]): the device, the segment's start, the Evidence Contract and chain, the
//! segment's Keccak-256 and the detector's decision. The store is a *sidecar* (`clip.c2pa`): the
//! clip's bytes are the recording whose Keccak-256 is the EC's `videoHash`, and embedding a
//! manifest would change them. Anyone re-checks it with a C2PA reader; [`verify_sidecar`] does so
//! with the `c2pa` crate and fails, naming the C2PA status codes, for a re-encoded, cut or
//! swapped clip or a changed manifest.
//!
//! C2PA has no secp256k1, so the device signs with a P-256 key of its own whose certificate the
//! operator's device CA issued ([`DeviceSigner`]). Without the operator's root the signer is
//! reported untrusted ([`Checked::trusted`] is false) but everything else is checked.
//!
//! ```
//! use std::io::Cursor;
//! use dashledger_provenance::{Capture, Detection, DeviceSigner, sign_sidecar, verify_sidecar};
//!
//! // The test CA and device certificate of this crate's tests (provenance/tests/data).
//! let signer = DeviceSigner::from_pem(
//!     include_bytes!("../tests/data/device-chain.pem"),
//!     include_bytes!("../tests/data/device-key.pem"),
//! )?;
//! let clip = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../protocol/tests/data/tiny.mp4"))?;
//! let capture = Capture {
//!     device: "0x00000000000000000000000000000000000000d1".into(),
//!     recorded_at: 1_700_000_000,
//!     chain_id: 31_337,
//!     evidence: "0x7aa126ff7fdcd3550702db1e8d2753f79d137810".into(),
//!     video_hash: "0x1bb28b966b31c25874612b7cc3a165fd2d6616f7f4ec8b98ddaaadb0ca07ce4f".into(),
//!     detection: Detection {
//!         cause: "detector".into(),
//!         p_image: Some(0.97),
//!         p_audio: Some(0.2),
//!         p_fused: Some(0.91),
//!         detail: None,
//!     },
//! };
//! let sidecar = sign_sidecar(&mut Cursor::new(&clip), &capture, &signer)?;
//!
//! // The requester's side: the clip and the sidecar, and the operator's root if they have it.
//! let root = include_str!("../tests/data/ca.pem");
//! let checked = verify_sidecar(&mut Cursor::new(&clip), &sidecar, Some(root))?;
//! assert_eq!(checked.capture, capture);
//! assert!(checked.trusted);
//!
//! // One changed byte of the clip breaks the hard binding.
//! let mut cut = clip.clone();
//! let last = cut.len() - 1;
//! cut[last] ^= 1;
//! assert!(verify_sidecar(&mut Cursor::new(&cut), &sidecar, Some(root)).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{Read, Seek};
use std::path::Path;

use c2pa::{
    Builder, BuilderIntent, Context, DigitalSourceType, Reader, SigningAlg, ValidationState,
};
use serde::{Deserialize, Serialize};

/// The label of the capture assertion.
pub const CAPTURE_LABEL: &str = "org.dashledger.capture";

/// The largest sidecar [`verify_sidecar`] reads (the cloud accepts at most 256 KiB).
pub const MAX_SIDECAR_BYTES: usize = 1 << 20;

/// The media type the manifest binds.
pub const CLIP_FORMAT: &str = "video/mp4";

/// What the device states about the recording (the capture assertion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    /// The device's Ethereum address (it signs the segment's evidence record), lower-case `0x` hex.
    pub device: String,
    /// The segment's start, unix seconds (the EC's `recordedAt`).
    pub recorded_at: u64,
    /// The chain of the Evidence Contract.
    pub chain_id: u64,
    /// The Evidence Contract's address.
    pub evidence: String,
    /// Keccak-256 of the clip (the EC's `videoHash`), `0x` hex.
    pub video_hash: String,
    /// The detector's decision.
    pub detection: Detection,
}

/// The detector's decision about the segment (the agent's outbox row for it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Why it is an accident: `detector` (the models decided) or `manual` (the driver's button).
    pub cause: String,
    /// The image model's score for the segment, when it ran.
    pub p_image: Option<f32>,
    /// The audio model's score, when it ran.
    pub p_audio: Option<f32>,
    /// The fused score the decision was made from, when the detector decided.
    pub p_fused: Option<f32>,
    /// The decision's details as the detector recorded them (rule, seconds, causes), if any.
    pub detail: Option<serde_json::Value>,
}

/// Errors of signing and checking sidecars.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The device's certificate chain or key could not be used.
    #[error(
        "the C2PA signing key or certificate chain is unusable ({0}); they must be PEM: the device's P-256 key (PKCS#8) and its certificate followed by the CA's"
    )]
    Signer(String),
    /// A key or certificate file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Signing failed.
    #[error("making the C2PA manifest failed: {0}")]
    Sign(String),
    /// The sidecar could not be read at all.
    #[error("the C2PA manifest cannot be read: {0}")]
    Unreadable(String),
    /// The manifest does not validate against the clip.
    #[error("the C2PA manifest does not validate: {}", .codes.join(", "))]
    Invalid {
        /// The C2PA failure codes (e.g. `assertion.bmffHash.mismatch`).
        codes: Vec<String>,
    },
    /// The manifest validates but carries no (or a malformed) capture assertion.
    #[error("the C2PA manifest has no dashledger capture assertion ({CAPTURE_LABEL}): {0}")]
    NoCapture(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// The device's C2PA signer: a P-256 key and its certificate chain (ES256). The key is kept
/// inside the `c2pa` signer and never printed.
pub struct DeviceSigner {
    inner: Box<dyn c2pa::Signer>,
}

impl fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSigner(ES256, key hidden)")
    }
}

impl DeviceSigner {
    /// From PEM: the certificate chain (device certificate first, then the issuing CA's) and the
    /// device's P-256 private key (PKCS#8).
    pub fn from_pem(cert_chain: &[u8], private_key: &[u8]) -> Result<Self> {
        let inner =
            c2pa::create_signer::from_keys(cert_chain, private_key, SigningAlg::Es256, None)
                .map_err(|e| Error::Signer(e.to_string()))?;
        Ok(Self { inner })
    }

    /// From the two PEM files.
    pub fn from_files(cert_chain: &Path, private_key: &Path) -> Result<Self> {
        let read = |what, p: &Path| {
            std::fs::read(p).map_err(|source| Error::Read {
                what,
                path: p.display().to_string(),
                source,
            })
        };
        Self::from_pem(
            &read("the C2PA certificate chain", cert_chain)?,
            &read("the C2PA signing key", private_key)?,
        )
    }
}

/// A context that neither fetches anything nor checks trust unless given anchors, and makes no
/// thumbnail (the EC has its own; the crate is built without the image codecs).
fn context(trust_anchors: Option<&str>) -> Result<Context> {
    let settings = match trust_anchors {
        Some(pem) => serde_json::json!({
            "verify": { "verify_trust": true, "remote_manifest_fetch": false, "ocsp_fetch": false },
            "trust": { "user_anchors": pem },
            "builder": { "thumbnail": { "enabled": false } },
        }),
        None => serde_json::json!({
            "verify": { "verify_trust": false, "remote_manifest_fetch": false, "ocsp_fetch": false },
            "builder": { "thumbnail": { "enabled": false } },
        }),
    };
    Context::new()
        .with_settings(settings)
        .map_err(|e| Error::Unreadable(format!("C2PA settings: {e}")))
}

/// Signs a sidecar manifest store for the MP4 `clip` (read twice: the BMFF hash, then the
/// check after signing). Returns the store's bytes (`application/c2pa`).
pub fn sign_sidecar<R: Read + Seek + Send>(
    clip: &mut R,
    capture: &Capture,
    signer: &DeviceSigner,
) -> Result<Vec<u8>> {
    let sign = |e: c2pa::Error| Error::Sign(e.to_string());
    let definition = serde_json::json!({
        "title": format!("dashledger segment {}", capture.video_hash),
        "claim_generator_info": [{ "name": "dashledger-agent", "version": env!("CARGO_PKG_VERSION") }],
    });
    let mut builder = Builder::from_context(context(None)?)
        .with_definition(definition)
        .map_err(sign)?;
    builder.set_intent(BuilderIntent::Create(DigitalSourceType::DigitalCapture));
    builder.set_no_embed(true);
    builder
        .add_assertion(CAPTURE_LABEL, capture)
        .map_err(sign)?;
    builder
        .sign(
            signer.inner.as_ref(),
            CLIP_FORMAT,
            clip,
            &mut std::io::empty(),
        )
        .map_err(sign)
}

/// What a valid sidecar says.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The capture assertion.
    pub capture: Capture,
    /// Whether the signer chains to one of the given trust anchors (false without anchors).
    pub trusted: bool,
    /// The signing certificate's subject organisation (what C2PA reports as the claim's
    /// `issuer`: who made the claim).
    pub organization: Option<String>,
    /// The signing certificate's subject common name, as C2PA reports it.
    pub common_name: Option<String>,
}

/// Checks the sidecar `manifest` against the MP4 `clip`: the claim signature, the hard binding
/// of every byte of the clip, the capture assertion; with `trust_anchors` (PEM roots, e.g. the
/// operator's device CA) also that the signer chains to one of them.
pub fn verify_sidecar<R: Read + Seek + Send>(
    clip: &mut R,
    manifest: &[u8],
    trust_anchors: Option<&str>,
) -> Result<Checked> {
    if manifest.len() > MAX_SIDECAR_BYTES {
        return Err(Error::Unreadable(format!(
            "{} bytes, more than the {MAX_SIDECAR_BYTES} a sidecar may have",
            manifest.len()
        )));
    }
    let context = context(trust_anchors)?;
    // The store and the clip come from whoever hands over the bundle: a reader panic on crafted
    // input is a failed check, not a crash of the verifier.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Reader::from_context(context).with_manifest_data_and_stream(manifest, CLIP_FORMAT, clip)
    }));
    let reader = match read {
        Ok(r) => r.map_err(|e| Error::Unreadable(e.to_string()))?,
        Err(_) => {
            return Err(Error::Unreadable(
                "the C2PA reader failed on this input (it panicked)".into(),
            ));
        }
    };
    let state = reader.validation_state();
    let failures: Vec<String> = reader
        .validation_results()
        .and_then(|r| r.active_manifest())
        .map(|m| m.failure().iter().map(|s| s.code().to_string()).collect())
        .unwrap_or_default();
    let untrusted_only = failures.iter().all(|c| c == "signingCredential.untrusted");
    if state == ValidationState::Invalid || !untrusted_only {
        let codes = if failures.is_empty() {
            vec![format!("validation state {state:?}")]
        } else {
            failures
        };
        return Err(Error::Invalid { codes });
    }
    let manifest = reader
        .active_manifest()
        .ok_or_else(|| Error::NoCapture("no active manifest".into()))?;
    let capture: Capture = manifest
        .find_assertion(CAPTURE_LABEL)
        .map_err(|e| Error::NoCapture(e.to_string()))?;
    let info = manifest.signature_info();
    Ok(Checked {
        capture,
        trusted: trust_anchors.is_some() && state == ValidationState::Trusted,
        organization: info.and_then(|i| i.issuer.clone()),
        common_name: info.and_then(|i| i.common_name.clone()),
    })
}
