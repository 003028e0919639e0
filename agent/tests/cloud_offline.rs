//! The real cloud server (the testkit's, without a chain): while it is down, records queue in the
//! outbox; while the device is unapproved they stay queued; once it is up and the device
//! approved, they flush in order, the cloud sees an unbroken chain and no alarm.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]
// Needs the chain + cloud harness (dashledger-testkit), which the Pi cross build leaves out.
#![cfg(not(dashledger_cross))]

mod common;

use std::time::{Duration, Instant};

use dashledger_agent::outbox::Outbox;
use dashledger_testkit::Cloud;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_queue_while_offline_then_flush_in_order() {
    let root = tempfile::tempdir().unwrap();
    // A port nobody listens on yet: the cloud starts there later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = common::setup(
        root.path(),
        &format!(
            "[cloud]\nurl = \"http://127.0.0.1:{port}\"\ntimeout_secs = 5\n[retry]\nbase_ms = 100\nmax_ms = 400\n[detect]\nenabled = false\n"
        ),
    );
    let init = common::agent(&config).arg("status").output().unwrap();
    assert!(init.status.success());
    let watch = root.path().join("watch");
    let n = 12;
    for i in 0..n {
        std::fs::write(
            watch.join(format!("20261123T18{i:02}00Z.mp4")),
            vec![i as u8; 50_000 + i],
        )
        .unwrap();
    }
    let daemon = common::Daemon::start(&config);
    let outbox_path = root.path().join("state/outbox.sqlite");
    let counts = || Outbox::open(&outbox_path).unwrap().counts().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts().records_unsent < n as i64 {
        assert!(
            Instant::now() < deadline,
            "records not queued: {:?}",
            counts()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        counts().records_sent,
        0,
        "nothing can be sent while the cloud is down"
    );

    // The cloud comes up on that port.
    let mut cloud = Cloud::start_without_chain(&[&format!("listen=127.0.0.1:{port}")]).await;

    // Unknown device: the cloud refuses; records stay queued.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        counts().records_sent,
        0,
        "an unapproved device's records must not be marked sent"
    );

    let status = common::agent(&config).arg("status").output().unwrap();
    let device = {
        let o = Outbox::open(&outbox_path).unwrap();
        let r = &o.all_records().unwrap()[0];
        dashledger_protocol::record::EvidenceRecord::decode(&r.record)
            .unwrap()
            .device
            .address()
    };
    assert!(status.status.success());
    cloud.approve_device(&device.to_string().into()).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    while counts().records_unsent > 0 {
        assert!(
            Instant::now() < deadline,
            "records not flushed: {:?}",
            counts()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts().records_sent, n as i64);

    let dev = cloud
        .admin_get(&format!("/v1/admin/devices/{device}"))
        .await;
    assert_eq!(dev["last_seq"], serde_json::json!(n - 1), "{dev}");
    let alarms = cloud.admin_get("/v1/admin/alarms").await;
    let text = alarms.to_string();
    assert!(
        !text.contains("gap") && !text.contains("fork") && !text.contains("reorder"),
        "alarms: {text}"
    );

    assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");
    cloud.shutdown().await;
}
