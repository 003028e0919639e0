//! What a device meets when things go wrong, on real parts (anvil + contracts, the cloud, the
//! agent daemon on real segments):
//!
//! 1. the cloud is down while the agent records: records and the accident queue; when the cloud
//!    comes up they arrive in order, none lost (seq list compared, no chain alarm);
//! 2. the cloud is killed (SIGKILL) in the middle of the sealed clip's upload: after its restart
//!    the upload resumes and the stored clip is byte-identical to the device's; the EC is
//!    verified;
//! 3. a record lost on the device (marked sent, never sent) → the cloud raises a gap alarm
//!    (`/v1/admin/alarms`) for exactly that sequence number;
//! 4. a sealed clip altered after its evidence (EC) was prepared → the cloud rejects the EC:
//!    on-chain status Rejected, reason `cipher-hash-mismatch`.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

use std::time::Duration;

use anyhow::Context;
use dashledger_e2e::agent::Agent;
use dashledger_e2e::cloud::Cloud;
use dashledger_e2e::devnet::Devnet;
use dashledger_e2e::{media, proc};

const WAIT: Duration = Duration::from_secs(900);

fn count(agent: &Agent, sql: &str) -> anyhow::Result<u64> {
    agent.query(sql)?[0]["n"].as_u64().context("count")
}

fn name_of(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Waits until `records` records exist, nothing waits for detection and every accident has
/// reached at least `prepared`; returns the accidents.
fn wait_recorded(agent: &mut Agent, records: u64) -> anyhow::Result<Vec<serde_json::Value>> {
    proc::wait_for(
        &format!("{records} records and the accidents prepared"),
        WAIT,
        || {
            agent.ensure_running()?;
            let n = count(agent, "SELECT count(*) AS n FROM records")?;
            let pending = count(
                agent,
                "SELECT count(*) AS n FROM segments WHERE detect_state = 'pending'",
            )?;
            let accidents = agent.accidents()?;
            let prepared = accidents.iter().all(|a| a["stage"] != "pending");
            Ok((n == records && pending == 0 && prepared).then_some(accidents))
        },
    )
    .with_context(|| format!("agent log:\n{}", agent.log_tail()))
}

#[test]
fn cloud_outage_restart_mid_upload_lost_record_and_altered_clip() -> anyhow::Result<()> {
    let work = dashledger_e2e::scratch("failures")?;
    let w = work.path();
    let devnet = Devnet::start(&w.join("chain"))?;
    let mut cloud = Cloud::new(&w.join("cloud"), &devnet)?;
    let first = media::segments(media::yesterday_at(14 * 60), 2)?;
    let second = media::segments(media::yesterday_at(15 * 60), 1)?;
    // Small upload chunks so the upload takes long enough to be interrupted.
    // Detection is not what this tests (flow.rs does): the event button marks each crash segment.
    let mut agent = Agent::init(
        &w.join("agent"),
        &cloud.url,
        &devnet,
        "upload_chunk_bytes = 4096",
        false,
    )?;

    // --- 1. Cloud down: everything queues on the device.
    agent.start()?;
    for s in &first {
        agent.deliver(s)?;
    }
    agent.event()?;
    let accidents = wait_recorded(&mut agent, 3)?;
    assert_eq!(
        accidents.len(),
        1,
        "one accident (the crash segment): {accidents:?}"
    );
    assert_eq!(accidents[0]["name"], name_of(&first[2]).as_str());
    assert_eq!(
        accidents[0]["stage"], "prepared",
        "no EC without the cloud: {accidents:?}"
    );
    assert_eq!(
        count(
            &agent,
            "SELECT count(*) AS n FROM records WHERE sent_at IS NOT NULL"
        )?,
        0
    );

    cloud.start()?;
    cloud.approve_device(&agent.device, "e2e failures")?;

    // --- 2. Kill the cloud in the middle of the upload, then start it again.
    let cut = proc::wait_for("the upload to be under way", WAIT, || {
        agent.ensure_running()?;
        cloud.ensure_running()?;
        let rows = cloud.query("SELECT received, total_size FROM uploads")?;
        Ok(rows.first().and_then(|r| {
            let (got, total) = (r["received"].as_u64()?, r["total_size"].as_u64()?);
            (got > 0 && got < total).then_some((got, total))
        }))
    })
    .with_context(|| agent.logs_with(&cloud))?;
    cloud.kill9()?;
    eprintln!("cloud killed with {} of {} bytes uploaded", cut.0, cut.1);
    cloud.start()?;

    let ec = proc::wait_for("the accident to be done", WAIT, || {
        agent.ensure_running()?;
        let a = agent.accidents()?;
        Ok((a[0]["stage"] == "done").then(|| a[0]["detail"].clone()))
    })
    .with_context(|| format!("agent log:\n{}", agent.log_tail()))?;
    let ec_address = ec["ec_address"]
        .as_str()
        .context("no EC address")?
        .to_owned();
    proc::wait_for("the EC to be verified", Duration::from_secs(120), || {
        cloud.ensure_running()?;
        Ok((devnet.call_u128(&ec_address, "status()(uint8)", &[])? == 1).then_some(()))
    })
    .with_context(|| format!("cloud log:\n{}", cloud.log_tail()))?;
    let sealed = std::fs::read(ec["sealed_path"].as_str().context("no sealed_path")?)?;
    let stored = std::fs::read(
        cloud
            .data_dir()
            .join(format!("blobs/clips/{}.sealed", ec_address.to_lowercase())),
    )
    .or_else(|_| {
        std::fs::read(
            cloud
                .data_dir()
                .join(format!("blobs/clips/{ec_address}.sealed")),
        )
    })
    .context("the cloud's stored clip")?;
    assert_eq!(stored.len(), sealed.len());
    assert!(
        stored == sealed,
        "the stored clip is byte-identical to the device's sealed clip"
    );

    // In order, none lost, no alarm.
    let device = agent.device.to_lowercase();
    let seqs = cloud.query(&format!(
        "SELECT seq, received_at FROM evidence WHERE lower(device) = '{device}' ORDER BY seq"
    ))?;
    let list: Vec<u64> = seqs.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(list, [0, 1, 2], "every record arrived");
    let times: Vec<u64> = seqs
        .iter()
        .filter_map(|r| r["received_at"].as_u64())
        .collect();
    assert!(times.windows(2).all(|t| t[0] <= t[1]), "in order: {seqs:?}");
    let alarms = cloud.admin(
        "GET",
        &format!("/v1/admin/alarms?device={}&all=true", agent.device),
        None,
    )?;
    assert_eq!(
        alarms["alarms"].as_array().map(Vec::len),
        Some(0),
        "no chain alarm: {alarms}"
    );

    // --- 3 + 4. Cloud down again; a normal and a crash segment; then on the stopped device the
    // normal segment's record is lost and the crash's sealed clip altered.
    cloud.stop()?;
    for s in &second {
        agent.deliver(s)?;
    }
    agent.event()?;
    let accidents = wait_recorded(&mut agent, 5)?;
    agent.stop()?;
    let lost = name_of(&second[0]);
    agent.tamper_outbox(&format!(
        "UPDATE records SET sent_at = 1 WHERE segment_id = (SELECT id FROM segments WHERE name = '{lost}')"
    ))?;
    let altered = accidents
        .iter()
        .find(|a| a["name"] == name_of(&second[1]).as_str())
        .context("second accident")?;
    assert_eq!(altered["stage"], "prepared");
    let path = altered["detail"]["sealed_path"]
        .as_str()
        .context("sealed_path")?;
    let mut bytes = std::fs::read(path)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(path, &bytes)?;

    cloud.start()?;
    agent.start()?;
    let gap = proc::wait_for("a gap alarm", WAIT, || {
        cloud.ensure_running()?;
        let a = cloud.admin(
            "GET",
            &format!("/v1/admin/alarms?device={}&kind=gap", agent.device),
            None,
        )?;
        Ok(a["alarms"].as_array().and_then(|v| v.first().cloned()))
    })
    .with_context(|| agent.logs_with(&cloud))?;
    assert_eq!(gap["seq"], 3, "the lost record is seq 3: {gap}");

    let ec2 = proc::wait_for("the altered clip's EC", WAIT, || {
        agent.ensure_running()?;
        let a = agent.accidents()?;
        Ok(a.get(1)
            .and_then(|a| a["detail"]["ec_address"].as_str().map(str::to_owned)))
    })
    .with_context(|| format!("agent log:\n{}", agent.log_tail()))?;
    proc::wait_for("the EC to be rejected", WAIT, || {
        cloud.ensure_running()?;
        Ok((devnet.call_u128(&ec2, "status()(uint8)", &[])? == 2).then_some(()))
    })
    .with_context(|| format!("cloud log:\n{}", cloud.log_tail()))?;
    let reason = devnet.call(&ec2, "rejectReason()(bytes32)", &[])?;
    let reason = hex_ascii(&reason);
    assert_eq!(reason, "cipher-hash-mismatch");
    assert_eq!(
        cloud.get(&format!("/v1/clips/{ec2}"))?.status,
        404,
        "a rejected EC is not listed"
    );
    Ok(())
}

/// A `bytes32` reason code (`0x…`, ASCII, zero-padded) as text.
fn hex_ascii(hex: &str) -> String {
    let h = hex.trim_start_matches("0x");
    (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
        .take_while(|b| *b != 0)
        .map(char::from)
        .collect()
}
