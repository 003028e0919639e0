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
/// C2PA is on and it is not decided yet; `Ok(true)` when `p` changed (store it). A segment that
/// is gone, changed since it was hashed, or that C2PA cannot bind (not ISO BMFF: `mkv`, `ts`)
/// gets none: the reason goes into `p.c2pa_skipped`, it is warned, and the clip is shared
/// without a sidecar. Only a local I/O error writing the sidecar is returned (retried).
pub fn ensure_sidecar(
    config: &Config,
    outbox: &Outbox,
    secrets: &Secrets,
    segment_id: i64,
    name: &str,
    chain_id: u64,
    p: &mut Prepared,
) -> Result<bool, AgentError> {
    if p.c2pa_path.is_some() || p.c2pa_skipped.is_some() || !config.c2pa.enabled() {
        return Ok(false);
    }
    match sign_for(config, outbox, secrets, segment_id, name, chain_id, p) {
        Ok(manifest) => {
            let dest = sidecar_path(&p.sealed_path);
            let tmp = dest.with_extension("c2pa.tmp");
            std::fs::write(&tmp, &manifest)
                .and_then(|()| std::fs::rename(&tmp, &dest))
                .map_err(|e| AgentError::io("cannot write C2PA sidecar", &dest, e))?;
            tracing::info!(segment = %name, bytes = manifest.len(), "C2PA sidecar signed");
            p.c2pa_path = Some(dest);
        }
        Err(reason) => {
            tracing::warn!(segment = %name, reason = %reason, "the clip is shared without a C2PA sidecar");
            p.c2pa_skipped = Some(reason);
        }
    }
    Ok(true)
}

/// The sidecar's bytes, or why there is none.
fn sign_for(
    config: &Config,
    outbox: &Outbox,
    secrets: &Secrets,
    segment_id: i64,
    name: &str,
    chain_id: u64,
    p: &Prepared,
) -> Result<Vec<u8>, String> {
    let text = |e: AgentError| e.to_string();
    let signer = signer(&config.c2pa).map_err(text)?.ok_or("C2PA is off")?;
    let ec = p.ec_address.clone().ok_or("the EC does not exist yet")?;
    let segment = config.watch_dir.join(name);
    if !segment.is_file() {
        return Err(format!("segment {} is gone", segment.display()));
    }
    let now = keccak256_file(&segment).map_err(|e| text(e.into()))?;
    if !now.to_string().eq_ignore_ascii_case(&p.video_hash) {
        return Err(format!(
            "segment {} changed since it was hashed",
            segment.display()
        ));
    }
    let detection = outbox
        .detection_of(segment_id)
        .map_err(text)?
        .unwrap_or(Detection {
            cause: "manual".into(),
            p_image: None,
            p_audio: None,
            p_fused: None,
            detail: None,
        });
    let device = secrets
        .device_signer()
        .map_err(|e| text(e.into()))?
        .address();
    let capture = Capture {
        device: device.to_string().to_lowercase(),
        recorded_at: p.recorded_at,
        chain_id,
        evidence: ec.to_lowercase(),
        video_hash: p.video_hash.to_lowercase(),
        detection,
    };
    let mut clip = std::fs::File::open(&segment)
        .map_err(|e| format!("cannot open segment {}: {e}", segment.display()))?;
    sign_sidecar(&mut clip, &capture, &signer).map_err(|e| e.to_string())
}

/// `clip.c2pa` beside the sealed clip.
fn sidecar_path(sealed: &Path) -> PathBuf {
    sealed.with_file_name("clip.c2pa")
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

    fn prepared(dir: &Path, video_hash: String) -> Prepared {
        Prepared {
            owner_index: 0,
            owner: "0x0000000000000000000000000000000000000001".into(),
            video_hash,
            sealed_path: dir.join("clip.sealed"),
            cipher_hash: String::new(),
            sealed_len: 0,
            key_commitment: String::new(),
            capsule: String::new(),
            wrapped_key: String::new(),
            owner_umbral_key: String::new(),
            thumb_first: PathBuf::new(),
            thumb_last: PathBuf::new(),
            frame_hash: String::new(),
            leaves_path: PathBuf::new(),
            leaf_count: 0,
            frames_root: String::new(),
            recorded_at: 1_700_000_000,
            latitude: 0,
            longitude: 0,
            ec_address: Some("0x7Aa126ff7FDcd3550702DB1E8D2753f79D137810".into()),
            upload_id: None,
            c2pa_path: None,
            c2pa_skipped: None,
        }
    }

    #[test]
    fn a_sidecar_is_signed_once_and_a_segment_c2pa_cannot_bind_never_holds_up_the_upload() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            watch_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.c2pa = C2paConfig {
            cert_chain: data("device-chain.pem"),
            key: data("device-key.pem"),
        };
        let outbox = Outbox::open(&dir.path().join("outbox.db")).unwrap();
        let secrets = Secrets::generate();
        let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/data/tiny.mp4");
        std::fs::copy(&tiny, dir.path().join("a.mp4")).unwrap();
        let hash = keccak256_file(&tiny).unwrap().to_string();

        // An MP4: signed, stored beside the sealed clip, naming this device and the EC.
        let mut p = prepared(dir.path(), hash.clone());
        assert!(ensure_sidecar(&config, &outbox, &secrets, 1, "a.mp4", 31_337, &mut p).unwrap());
        let path = p.c2pa_path.clone().expect("signed");
        let manifest = std::fs::read(&path).unwrap();
        let mut clip = std::fs::File::open(&tiny).unwrap();
        let checked = dashledger_provenance::verify_sidecar(&mut clip, &manifest, None).unwrap();
        assert_eq!(
            checked.capture.device,
            secrets.device_address().to_string().to_lowercase()
        );
        assert_eq!(
            checked.capture.evidence,
            "0x7aa126ff7fdcd3550702db1e8d2753f79d137810"
        );
        assert_eq!(
            checked.capture.detection.cause, "manual",
            "no detector row: a manual event"
        );
        // Signed once: a second call changes nothing.
        assert!(!ensure_sidecar(&config, &outbox, &secrets, 1, "a.mp4", 31_337, &mut p).unwrap());

        // Not ISO BMFF (a transport stream): no sidecar, the reason kept, no error.
        std::fs::write(dir.path().join("b.ts"), b"\x47 not an mp4 at all").unwrap();
        let ts_hash = keccak256_file(dir.path().join("b.ts")).unwrap().to_string();
        let mut p = prepared(dir.path(), ts_hash);
        assert!(ensure_sidecar(&config, &outbox, &secrets, 2, "b.ts", 31_337, &mut p).unwrap());
        assert!(p.c2pa_path.is_none());
        assert!(p.c2pa_skipped.is_some());
        assert!(!ensure_sidecar(&config, &outbox, &secrets, 2, "b.ts", 31_337, &mut p).unwrap());

        // Changed since it was hashed, or gone: skipped, named.
        let mut p = prepared(dir.path(), format!("0x{}", "11".repeat(32)));
        assert!(ensure_sidecar(&config, &outbox, &secrets, 3, "a.mp4", 31_337, &mut p).unwrap());
        assert!(
            p.c2pa_skipped.as_deref().unwrap().contains("changed"),
            "{p:?}"
        );
        let mut p = prepared(dir.path(), hash);
        assert!(ensure_sidecar(&config, &outbox, &secrets, 4, "gone.mp4", 31_337, &mut p).unwrap());
        assert!(p.c2pa_skipped.as_deref().unwrap().contains("gone"), "{p:?}");

        // C2PA off: nothing happens.
        let mut p = prepared(dir.path(), String::new());
        let off = Config::default();
        assert!(!ensure_sidecar(&off, &outbox, &secrets, 5, "a.mp4", 31_337, &mut p).unwrap());
        assert!(p.c2pa_path.is_none() && p.c2pa_skipped.is_none());
    }

    #[test]
    fn the_sidecar_goes_beside_the_sealed_clip() {
        assert_eq!(
            sidecar_path(Path::new("/state/accidents/7/clip.sealed")),
            Path::new("/state/accidents/7/clip.c2pa")
        );
    }
}
