//! The accident's C2PA sidecar (docs/formats.md "C2PA on the shared clip"): once the EC exists,
//! the device signs a C2PA manifest store binding the recorded segment, with the capture
//! assertion (device, start, EC, chain, `videoHash`, the detector's decision), and uploads it
//! with the sealed clip. Off until `[c2pa]` names a key and certificate chain.

use std::path::{Path, PathBuf};

use dashledger_protocol::hash::keccak256_file;
use dashledger_protocol::keys::Secrets;
use dashledger_provenance::{Capture, Detection, DeviceSigner, sign_sidecar};

use crate::accident::Prepared;
use crate::config::{C2paConfig, Config};
use crate::error::AgentError;
use crate::outbox::Outbox;

/// Loads the configured signer (`None` when C2PA is off): the daemon does this at start so that
/// an unusable key or chain stops it with the reason instead of failing every accident.
pub fn signer(config: &C2paConfig) -> Result<Option<DeviceSigner>, AgentError> {
    if !config.enabled() {
        return Ok(None);
    }
    Ok(Some(DeviceSigner::from_files(
        &config.cert_chain,
        &config.key,
    )?))
}

/// Signs the sidecar of accident `segment_id` (segment file `name` in the watch directory) if
/// C2PA is on and it is not signed yet; `Ok(true)` when `p` gained it (store `p`). A segment that
/// is gone or changed since it was hashed gets none (warned): the clip is shared without it.
pub fn ensure_sidecar(
    config: &Config,
    outbox: &Outbox,
    secrets: &Secrets,
    segment_id: i64,
    name: &str,
    chain_id: u64,
    p: &mut Prepared,
) -> Result<bool, AgentError> {
    if p.c2pa_path.is_some() {
        return Ok(false);
    }
    let Some(signer) = signer(&config.c2pa)? else {
        return Ok(false);
    };
    let ec = p
        .ec_address
        .clone()
        .ok_or_else(|| AgentError::OutboxState("C2PA sidecar before the EC exists".into()))?;
    let segment = config.watch_dir.join(name);
    if !segment_unchanged(&segment, &p.video_hash)? {
        return Ok(false);
    }
    let detection = outbox.detection_of(segment_id)?.unwrap_or(Detection {
        cause: "manual".into(),
        p_image: None,
        p_audio: None,
        p_fused: None,
        detail: None,
    });
    let capture = Capture {
        device: secrets
            .device_signer()?
            .address()
            .to_string()
            .to_lowercase(),
        recorded_at: p.recorded_at,
        chain_id,
        evidence: ec.to_lowercase(),
        video_hash: p.video_hash.to_lowercase(),
        detection,
    };
    let mut clip = std::fs::File::open(&segment)
        .map_err(|e| AgentError::io("cannot open segment", &segment, e))?;
    let manifest = sign_sidecar(&mut clip, &capture, &signer)?;
    let dest = sidecar_path(&p.sealed_path);
    let tmp = dest.with_extension("c2pa.tmp");
    std::fs::write(&tmp, &manifest)
        .and_then(|()| std::fs::rename(&tmp, &dest))
        .map_err(|e| AgentError::io("cannot write C2PA sidecar", &dest, e))?;
    tracing::info!(segment = %name, bytes = manifest.len(), "C2PA sidecar signed");
    p.c2pa_path = Some(dest);
    Ok(true)
}

/// `clip.c2pa` beside the sealed clip.
fn sidecar_path(sealed: &Path) -> PathBuf {
    sealed.with_file_name("clip.c2pa")
}

/// Whether the segment is still there with the hash its record carries (warned when not).
fn segment_unchanged(segment: &Path, video_hash: &str) -> Result<bool, AgentError> {
    if !segment.is_file() {
        tracing::warn!(segment = %segment.display(), "segment is gone: the clip is shared without a C2PA sidecar");
        return Ok(false);
    }
    let now = keccak256_file(segment)?;
    if !now.to_string().eq_ignore_ascii_case(video_hash) {
        tracing::warn!(segment = %segment.display(), "segment changed since it was hashed: the clip is shared without a C2PA sidecar");
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../provenance/tests/data")
            .join(name)
    }

    #[test]
    fn no_signer_without_config_and_named_errors_with_a_bad_one() {
        assert!(signer(&C2paConfig::default()).unwrap().is_none());
        let ok = C2paConfig {
            cert_chain: data("device-chain.pem"),
            key: data("device-key.pem"),
        };
        assert!(signer(&ok).unwrap().is_some());
        let missing = C2paConfig {
            key: data("no-such-key.pem"),
            ..ok.clone()
        };
        let e = signer(&missing).unwrap_err().to_string();
        assert!(e.contains("no-such-key.pem"), "{e}");
        // The CA's certificate is not a signing key.
        let swapped = C2paConfig {
            key: data("ca.pem"),
            ..ok
        };
        let e = signer(&swapped).unwrap_err().to_string();
        assert!(e.contains("C2PA"), "{e}");
    }

    #[test]
    fn the_sidecar_goes_beside_the_sealed_clip() {
        assert_eq!(
            sidecar_path(Path::new("/state/accidents/7/clip.sealed")),
            Path::new("/state/accidents/7/clip.c2pa")
        );
    }
}
