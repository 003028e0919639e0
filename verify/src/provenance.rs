//! The `c2pa` check: the device's C2PA sidecar (`clip.c2pa`, docs/formats.md "C2PA on the
//! shared clip") validated against `clip.mp4` with the `c2pa` crate, and its capture assertion
//! compared with the EC and the records.

use std::io::Cursor;

use alloy::primitives::Address;
use dashledger_protocol::record::{SIGNED_RECORD_LEN, SignedRecord};
use dashledger_provenance::{Checked, verify_sidecar};

use crate::check::NotChecked;
use crate::format::{Bundle, EvidenceInfo, paths};

/// The `c2pa` check's outcome (`Ok` detail or `Err` what broke), or `None` when the bundle has
/// no sidecar; with `roots` (PEM, the operator's device CA) the signer must chain to one.
pub fn check(
    bundle: &Bundle,
    info: &EvidenceInfo,
    roots: Option<&str>,
) -> Option<Result<String, String>> {
    let sidecar = bundle.get(paths::C2PA)?;
    let Some(clip) = bundle.get(paths::CLIP) else {
        return Some(Err(format!("{} is missing", paths::CLIP)));
    };
    Some(
        verify_sidecar(&mut Cursor::new(clip), sidecar, roots)
            .map_err(|e| format!("{}: {e}", paths::C2PA))
            .and_then(|c| compare(bundle, info, roots, &c)),
    )
}

/// What the `c2pa` check leaves open (the signer's standing), or that there is no sidecar.
pub fn not_checked(bundle: &Bundle, roots: Option<&str>) -> Option<NotChecked> {
    if bundle.get(paths::C2PA).is_none() {
        return Some(NotChecked {
            what: "the device's C2PA manifest of the clip".into(),
            how: format!(
                "{} is not in this bundle (the device has no C2PA certificate, or the cloud did not serve it)",
                paths::C2PA
            ),
        });
    }
    roots.is_none().then(|| NotChecked {
        what: "that the C2PA signer's certificate was issued by the operator's device CA".into(),
        how: "dashledger-verify --c2pa-root CA.pem (the operator publishes its device CA); C2PA trust lists do not include it".into(),
    })
}

fn compare(
    bundle: &Bundle,
    info: &EvidenceInfo,
    roots: Option<&str>,
    c: &Checked,
) -> Result<String, String> {
    let cap = &c.capture;
    let p = &info.params;
    let mismatch = |what: &str, said: &dyn std::fmt::Display, is: &dyn std::fmt::Display| {
        Err(format!(
            "{}: the capture assertion's {what} is {said}, but {is} in the bundle",
            paths::C2PA
        ))
    };
    if !cap
        .video_hash
        .eq_ignore_ascii_case(&p.video_hash.to_string())
    {
        return mismatch("video_hash", &cap.video_hash, &p.video_hash);
    }
    if cap.evidence.parse::<Address>().ok() != Some(info.ec) {
        return mismatch("evidence", &cap.evidence, &info.ec);
    }
    if cap.chain_id != info.chain_id {
        return mismatch("chain_id", &cap.chain_id, &info.chain_id);
    }
    if cap.recorded_at != p.recorded_at {
        return mismatch("recorded_at", &cap.recorded_at, &p.recorded_at);
    }
    if let Some(device) = records_device(bundle)
        && cap.device.parse::<Address>().ok() != Some(device)
    {
        return mismatch("device", &cap.device, &device);
    }
    if roots.is_some() && !c.trusted {
        return Err(format!(
            "{}: the signer's certificate does not chain to the given --c2pa-root",
            paths::C2PA
        ));
    }
    Ok(format!(
        "the C2PA manifest validates against {} (BMFF hash, claim signature by {} of {}{}); its capture assertion names device {}, EC {}, chain {}, videoHash and recordedAt as the bundle does; detector cause {}",
        paths::CLIP,
        c.common_name.as_deref().unwrap_or("an unnamed certificate"),
        c.organization
            .as_deref()
            .unwrap_or("an unnamed organisation"),
        if c.trusted {
            ", chaining to the given root"
        } else {
            ""
        },
        cap.device,
        info.ec,
        cap.chain_id,
        cap.detection.cause
    ))
}

/// The device of the first record in `records.bin`, if there is a readable one.
fn records_device(bundle: &Bundle) -> Option<Address> {
    let raw = bundle.get(paths::RECORDS)?;
    let first = raw.get(..SIGNED_RECORD_LEN)?;
    let signed = SignedRecord::decode(first).ok()?;
    signed.verify().ok().map(|v| v.device())
}
