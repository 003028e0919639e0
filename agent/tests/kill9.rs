//! kill -9 of the real daemon while it works: no segment lost, no record duplicated, the chain
//! intact, every signature valid.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use dashledger_agent::outbox::{Outbox, SegmentState};
use dashledger_protocol::B256;
use dashledger_protocol::record::SignedRecord;

#[test]
fn kill_9_loses_and_duplicates_nothing() {
    let root = tempfile::tempdir().unwrap();
    // The cloud is unreachable (port 9, discard): records must stay queued, not vanish.
    let config = common::setup(
        root.path(),
        "[cloud]\nurl = \"http://127.0.0.1:9\"\n[retry]\nbase_ms = 50\nmax_ms = 200\n",
    );
    let watch = root.path().join("watch");
    let total = 40;
    let mut written = 0;
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    while written < total || kills < 8 {
        assert!(Instant::now() < deadline, "test took too long");
        // The camera finishes a few more segments.
        for _ in 0..5 {
            if written < total {
                let name = format!("20261123T17{:02}00Z.mp4", written);
                let mut f = std::fs::File::create(watch.join(&name)).unwrap();
                f.write_all(&vec![written as u8; 300_000 + written * 1000])
                    .unwrap();
                written += 1;
            }
        }
        let mut child = common::agent(&config)
            .arg("run")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it get somewhere (settle is 1 s), then kill -9 at varying points.
        std::thread::sleep(Duration::from_millis(900 + 97 * (kills % 7)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    // A last clean run until every segment has its record.
    let daemon = common::Daemon::start(&config);
    let outbox_path = root.path().join("state/outbox.sqlite");
    let wait_until = Instant::now() + Duration::from_secs(60);
    loop {
        let o = Outbox::open(&outbox_path).unwrap();
        if o.counts().unwrap().segments_recorded == total as i64 {
            break;
        }
        assert!(
            Instant::now() < wait_until,
            "not all segments recorded: {:?}",
            o.counts().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");

    let o = Outbox::open(&outbox_path).unwrap();
    let c = o.counts().unwrap();
    assert_eq!(
        (
            c.segments_recorded,
            c.segments_vanished,
            c.segments_skipped,
            c.gaps
        ),
        (total as i64, 0, 0, 0)
    );
    assert_eq!(
        c.records_unsent, total as i64,
        "the cloud was unreachable: everything stays queued"
    );
    let records = o.all_records().unwrap();
    assert_eq!(records.len(), total);
    let mut prev = B256::ZERO;
    let mut device = None;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1);
        let mut bytes = r.record.clone();
        bytes.extend_from_slice(&r.signature);
        let v = SignedRecord::decode(&bytes).unwrap().verify().unwrap();
        assert_eq!(v.record().seq, i as u32);
        assert_eq!(v.record().prev_hash, prev, "chain broken at {i}");
        assert_eq!(*device.get_or_insert(v.device()), v.device());
        let seg = o.segment(r.segment_id).unwrap();
        assert_eq!(seg.state, SegmentState::Recorded);
        assert_eq!(
            seg.name,
            format!("20261123T17{i:02}00Z.mp4"),
            "records follow segment order"
        );
        assert_eq!(
            v.record().start.to_unix(),
            1_795_453_200 + 60 * i as u64,
            "start from the name"
        );
        let want =
            dashledger_protocol::hash::keccak256(std::fs::read(watch.join(&seg.name)).unwrap());
        assert_eq!(v.record().segment_hash, want);
        prev = v.record().segment_hash;
    }
}
