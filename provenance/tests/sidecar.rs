//! Signing and checking sidecars with real certificates (the committed test CA, and fresh ones
//! made by OpenSSL here) and real clips (the repo's `tiny.mp4`, and ffmpeg's re-encodes and cuts
//! of it).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use dashledger_provenance::{
    Capture, Detection, DeviceSigner, Error, sign_sidecar, verify_sidecar,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn tiny() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/data/tiny.mp4"))
        .unwrap()
}

fn test_signer() -> DeviceSigner {
    DeviceSigner::from_files(&data("device-chain.pem"), &data("device-key.pem")).unwrap()
}

fn root() -> String {
    std::fs::read_to_string(data("ca.pem")).unwrap()
}

fn capture() -> Capture {
    Capture {
        device: "0x00000000000000000000000000000000000000d1".into(),
        recorded_at: 1_700_000_000,
        chain_id: 31_337,
        evidence: "0x7aa126ff7fdcd3550702db1e8d2753f79d137810".into(),
        video_hash: "0x1bb28b966b31c25874612b7cc3a165fd2d6616f7f4ec8b98ddaaadb0ca07ce4f".into(),
        detection: Detection {
            cause: "detector".into(),
            p_image: Some(0.93),
            p_audio: None,
            p_fused: Some(0.88),
            detail: Some(serde_json::json!({"rule": "window", "seconds": [12, 13, 14]})),
        },
    }
}

fn sign(clip: &[u8]) -> Vec<u8> {
    sign_sidecar(&mut Cursor::new(clip), &capture(), &test_signer()).unwrap()
}

fn invalid_codes(r: dashledger_provenance::Result<dashledger_provenance::Checked>) -> Vec<String> {
    match r {
        Err(Error::Invalid { codes }) => codes,
        other => panic!("expected a validation failure, got {other:?}"),
    }
}

/// Runs ffmpeg on `input` with `args` (between `-i input` and the output) and returns the output.
fn ffmpeg(input: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.mp4"), dir.path().join("out.mp4"));
    std::fs::write(&src, input).unwrap();
    let st = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&src)
        .args(args)
        .arg(&dst)
        .status()
        .expect("ffmpeg runs (scripts/setup installs it)");
    assert!(st.success(), "ffmpeg {args:?} failed");
    std::fs::read(dst).unwrap()
}

#[test]
fn a_signed_sidecar_validates_with_its_capture_and_the_operator_root() {
    let clip = tiny();
    let sidecar = sign(&clip);
    let checked = verify_sidecar(&mut Cursor::new(&clip), &sidecar, Some(&root())).unwrap();
    assert_eq!(checked.capture, capture());
    assert!(
        checked.trusted,
        "the device certificate chains to the test CA"
    );
    assert_eq!(checked.organization.as_deref(), Some("dashledger"));
    assert!(
        checked
            .common_name
            .as_deref()
            .is_some_and(|cn| cn.contains("0x00000000000000000000000000000000000000d1")),
        "{:?}",
        checked.common_name
    );
}

#[test]
fn without_a_root_the_sidecar_validates_but_the_signer_is_not_trusted() {
    let clip = tiny();
    let sidecar = sign(&clip);
    let checked = verify_sidecar(&mut Cursor::new(&clip), &sidecar, None).unwrap();
    assert_eq!(checked.capture, capture());
    assert!(!checked.trusted);
}

#[test]
fn a_root_of_another_ca_does_not_make_the_signer_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.pem");
    let key = dir.path().join("other-ca-key.pem");
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "30", "-subj", "/CN=another CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&other)
        .status()
        .expect("openssl runs");
    assert!(st.success());
    let clip = tiny();
    let sidecar = sign(&clip);
    let pem = std::fs::read_to_string(&other).unwrap();
    let checked = verify_sidecar(&mut Cursor::new(&clip), &sidecar, Some(&pem)).unwrap();
    assert!(
        !checked.trusted,
        "signed under the test CA, not under another one"
    );
}

#[test]
fn every_changed_byte_region_of_the_clip_breaks_the_binding() {
    let clip = tiny();
    let sidecar = sign(&clip);
    // The first byte (ftyp), one in the middle (mdat or moov) and the last one.
    for at in [0, clip.len() / 2, clip.len() - 1] {
        let mut bad = clip.clone();
        bad[at] ^= 0x01;
        let r = verify_sidecar(&mut Cursor::new(&bad), &sidecar, Some(&root()));
        assert!(
            r.is_err(),
            "a flipped byte at {at} of {} still validated",
            clip.len()
        );
    }
}

#[test]
fn a_reencoded_clip_fails_validation() {
    let clip = tiny();
    let sidecar = sign(&clip);
    let reencoded = ffmpeg(&clip, &["-c:v", "libx264", "-crf", "30", "-c:a", "aac"]);
    assert_ne!(reencoded, clip);
    let codes = invalid_codes(verify_sidecar(
        &mut Cursor::new(&reencoded),
        &sidecar,
        Some(&root()),
    ));
    assert!(
        codes
            .iter()
            .any(|c| c.contains("bmffHash") || c.contains("hash")),
        "{codes:?}"
    );
}

#[test]
fn a_cut_clip_fails_validation() {
    let clip = tiny();
    let sidecar = sign(&clip);
    // A stream copy of the first second: the same samples' bytes, fewer of them.
    let cut = ffmpeg(&clip, &["-t", "1", "-c", "copy"]);
    assert!(cut.len() < clip.len());
    let codes = invalid_codes(verify_sidecar(
        &mut Cursor::new(&cut),
        &sidecar,
        Some(&root()),
    ));
    assert!(!codes.is_empty());
}

#[test]
fn the_sidecar_of_another_clip_fails() {
    let clip = tiny();
    let other = ffmpeg(&clip, &["-c", "copy", "-metadata", "title=another"]);
    let sidecar_of_other = sign(&other);
    assert!(verify_sidecar(&mut Cursor::new(&clip), &sidecar_of_other, Some(&root())).is_err());
}

#[test]
fn a_changed_sidecar_fails() {
    let clip = tiny();
    let sidecar = sign(&clip);
    // The capture assertion's `recorded_at` value changed (1700000000 = 0x6553f100 in CBOR).
    let at = sidecar
        .windows(4)
        .position(|w| w == [0x65, 0x53, 0xf1, 0x00])
        .expect("the CBOR capture assertion holds recorded_at");
    let mut bad = sidecar.clone();
    bad[at + 3] = 0x01;
    let r = verify_sidecar(&mut Cursor::new(&clip), &bad, Some(&root()));
    assert!(r.is_err(), "a changed assertion validated: {r:?}");
    // And a byte near the end (the COSE signature).
    let mut bad = sidecar.clone();
    let n = bad.len();
    bad[n - 40] ^= 0x01;
    assert!(verify_sidecar(&mut Cursor::new(&clip), &bad, Some(&root())).is_err());
    // Garbage is unreadable, not a panic.
    assert!(matches!(
        verify_sidecar(&mut Cursor::new(&clip), b"not a manifest store", None),
        Err(Error::Unreadable(_) | Error::Invalid { .. })
    ));
}

#[test]
fn unusable_keys_are_named() {
    let chain = std::fs::read(data("device-chain.pem")).unwrap();
    let e = DeviceSigner::from_pem(
        &chain,
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap_err();
    assert!(matches!(e, Error::Signer(_)), "{e}");
    assert!(e.to_string().contains("P-256"), "{e}");
    let e = DeviceSigner::from_files(&data("device-chain.pem"), Path::new("/nonexistent/key.pem"))
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/key.pem"), "{e}");
    // The key never shows in Debug.
    let s = format!("{:?}", test_signer());
    assert!(!s.contains("PRIVATE"), "{s}");
}

#[test]
fn every_signed_byte_of_the_sidecar_matters_and_none_crashes_the_reader() {
    let clip = tiny();
    let sidecar = sign(&clip);
    let good = verify_sidecar(&mut Cursor::new(&clip), &sidecar, Some(&root())).unwrap();
    // What C2PA leaves unsigned: the zero padding the signature box reserves for the signature
    // (COSE unprotected `pad`, most of the store: C2PA sizes the box before signing) and the
    // outer box's length field. A change there validates saying exactly the same; the
    // bundle's manifest check covers those bytes too (clip.c2pa's Keccak-256).
    let pad = longest_zero_run(&sidecar);
    assert!(pad.len() > 1024, "padding {pad:?} of {}", sidecar.len());
    // 150 positions over the store, three kinds of change each, a deterministic walk.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut refused, mut unsigned) = (0, 0);
    for _ in 0..150 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = (x % sidecar.len() as u64) as usize;
        for change in [0x01u8, 0x80, 0xff] {
            let mut bad = sidecar.clone();
            bad[at] ^= change;
            let r = verify_sidecar(&mut Cursor::new(&clip), &bad, Some(&root()));
            if pad.contains(&at) || at < 4 {
                if let Ok(c) = r {
                    assert_eq!(
                        c, good,
                        "unsigned byte {at} ^ {change:#x} changed the meaning"
                    );
                }
                unsigned += 1;
            } else {
                assert!(
                    r.is_err(),
                    "signed byte {at} ^ {change:#x} of {} validated",
                    sidecar.len()
                );
                refused += 1;
            }
        }
    }
    eprintln!("signed bytes changed: {refused} refused; unsigned padding/length: {unsigned}");
    assert!(refused >= 30, "the walk reached the signed part: {refused}");
    // Cut short anywhere: refused.
    for len in [0, 8, pad.start / 2, sidecar.len() - 1] {
        assert!(verify_sidecar(&mut Cursor::new(&clip), &sidecar[..len], None).is_err());
    }
    let huge = vec![0u8; dashledger_provenance::MAX_SIDECAR_BYTES + 1];
    assert!(matches!(
        verify_sidecar(&mut Cursor::new(&clip), &huge, None),
        Err(Error::Unreadable(_))
    ));
}

/// The longest run of zero bytes in `b`.
fn longest_zero_run(b: &[u8]) -> std::ops::Range<usize> {
    let (mut best, mut start) = (0..0, None);
    for (i, &v) in b.iter().chain(std::iter::once(&1)).enumerate() {
        match (v, start) {
            (0, None) => start = Some(i),
            (0, Some(_)) | (_, None) => {}
            (_, Some(s)) => {
                if i - s > best.len() {
                    best = s..i;
                }
                start = None;
            }
        }
    }
    best
}
