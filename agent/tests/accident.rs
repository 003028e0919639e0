//! The real daemon on a real 1-minute segment: the manual event button (event file) marks the
//! segment being recorded; after detection it is sealed, its key wrapped to the owner, thumbnails
//! and leaves written. The owner can open the sealed clip with the accident's Umbral key and gets
//! the exact segment back.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

mod common;

use std::time::{Duration, Instant};

use dashledger_agent::accident::Prepared;
use dashledger_agent::outbox::Outbox;
use dashledger_protocol::keys::load_keystore;
use dashledger_protocol::{B256, frames, hash, seal, wrap};

#[test]
fn manual_event_ends_as_a_sealed_accident() {
    let root = tempfile::tempdir().unwrap();
    let models = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let config = common::setup(
        root.path(),
        &format!(
            "[cloud]\nurl = \"http://127.0.0.1:9\"\n[detect]\nmodels_dir = {:?}\nenabled = false\n\
             [location]\nsource = \"file:{}\"\n",
            models,
            root.path().join("gps.nmea").display()
        ),
    );
    std::fs::write(
        root.path().join("gps.nmea"),
        dashledger_agent::nmea::frame(
            "GPGGA,181500,3351.8000,S,15112.6000,E,1,08,0.9,20.0,M,0,M,,",
        ),
    )
    .unwrap();
    let watch = root.path().join("watch");
    let name = "20261123T181500Z.mp4";
    let seg = watch.join(name);
    // The camera is "writing" this segment when the button is pressed.
    std::fs::copy(common::minute_of("normal_dashcam.mp4"), &seg).unwrap();
    std::fs::write(watch.join("EVENT"), b"").unwrap();
    let daemon = common::Daemon::start(&config);

    let outbox_path = root.path().join("state/outbox.sqlite");
    let deadline = Instant::now() + Duration::from_secs(240);
    let prepared: Prepared = loop {
        assert!(Instant::now() < deadline, "accident not prepared in time");
        std::thread::sleep(Duration::from_millis(300));
        let Ok(o) = Outbox::open(&outbox_path) else {
            continue;
        };
        let open = o.open_accidents().unwrap();
        if let Some(a) = open
            .iter()
            .find(|a| a.stage == dashledger_agent::outbox::AccidentStage::Prepared)
        {
            assert_eq!(
                a.cause, "manual",
                "detection is off: only the button makes this an accident"
            );
            break serde_json::from_str(a.detail.as_deref().unwrap()).unwrap();
        }
    };
    assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");
    assert!(!watch.join("EVENT").exists(), "the event file is consumed");

    let original = std::fs::read(&seg).unwrap();
    assert_eq!(prepared.video_hash, hash::keccak256(&original).to_string());
    let o = Outbox::open(&outbox_path).unwrap();
    let rec = &o.all_records().unwrap()[0];
    let record = dashledger_protocol::record::EvidenceRecord::decode(&rec.record).unwrap();
    assert_eq!(
        record.segment_hash.to_string(),
        prepared.video_hash,
        "the EC's video hash is the record's"
    );

    // The owner opens the sealed clip with the accident's Umbral key (from the owner seed).
    let secrets = load_keystore(root.path().join("keystore.json"), b"test password").unwrap();
    let wrapped = wrap::WrappedKey::from_parts(
        &hex::decode(&prepared.capsule).unwrap(),
        &hex::decode(&prepared.wrapped_key).unwrap(),
    )
    .unwrap();
    let commitment: B256 = prepared.key_commitment.parse().unwrap();
    let umbral = secrets
        .owner_seed()
        .owner_umbral_key(prepared.owner_index)
        .unwrap();
    assert_eq!(
        prepared.owner_umbral_key,
        hex::encode(umbral.public_key().to_bytes())
    );
    let key = wrap::unwrap_own(&umbral, &wrapped, &commitment).unwrap();
    let sealed = std::fs::read(&prepared.sealed_path).unwrap();
    assert_eq!(prepared.cipher_hash, hash::keccak256(&sealed).to_string());
    let mut opened = Vec::new();
    seal::open(&sealed[..], &mut opened, &key).unwrap();
    assert!(opened == original, "sealed clip opens to the exact segment");

    // Owner key: index 0 of the seed.
    assert_eq!(prepared.owner_index, 0);
    assert_eq!(
        prepared.owner,
        secrets
            .owner_seed()
            .owner_key(0)
            .unwrap()
            .address()
            .to_string()
    );

    // Thumbnails are JPEGs; frameHash is the first one's hash.
    let first = std::fs::read(&prepared.thumb_first).unwrap();
    assert_eq!(&first[..2], &[0xFF, 0xD8]);
    assert_eq!(prepared.frame_hash, hash::keccak256(&first).to_string());
    assert!(
        std::fs::read(&prepared.thumb_last)
            .unwrap()
            .starts_with(&[0xFF, 0xD8])
    );

    // Leaves: the protocol's per-second leaves of the segment, and their root.
    let leaves = frames::decode_leaves(&std::fs::read(&prepared.leaves_path).unwrap()).unwrap();
    assert_eq!(leaves, frames::frame_leaves_file(&seg).unwrap());
    assert!((60..=62).contains(&leaves.len()), "{} leaves", leaves.len());
    assert_eq!(
        prepared.frames_root,
        frames::frames_root(&leaves).unwrap().to_string()
    );

    // Location from the NMEA file, in microdegrees; time from the file name.
    assert_eq!(
        (prepared.latitude, prepared.longitude),
        (-33_863_333, 151_210_000)
    );
    assert_eq!(prepared.recorded_at, 1_795_457_700);
}
