//! The evidence bundle on the real flow: a crash minute becomes a verified EC (agent, cloud,
//! anvil), requester A obtains the clip (`request`, owner `approve`, `fetch`), then
//! `dashledger-requester bundle` writes the zip with the device's records as the cloud stored
//! them, and `dashledger-verify`:
//!
//! * verifies it offline (exit 0, every named check ok, the headers' canonicality listed as not
//!   checked) and with `--rpc` against the anvil node;
//! * fails, naming what broke, on every single-byte change of any file in it (a property test
//!   over file, offset and bit pattern, each altered bundle re-zipped), a swapped clip (manifest
//!   rewritten to match), a record from another device, and a state proof presented with the
//!   header of another block;
//! * checks the dashcam's C2PA sidecar (`clip.c2pa`) against the clip, trusting the test device
//!   CA with `--c2pa-root` and not another CA, and fails it for the swapped clip.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use dashledger_e2e::agent::Agent;
use dashledger_e2e::cloud::Cloud;
use dashledger_e2e::devnet::{ANVIL_ADDRESSES, ANVIL_KEYS, Devnet};
use dashledger_e2e::requester::Requester;
use dashledger_e2e::{media, proc};
use dashledger_protocol::record::{DeviceId, EvidenceRecord, SIGNED_RECORD_LEN, SignedRecord};
use dashledger_verify::format::{StateProof, canonical_json, paths};
use dashledger_verify::{Bundle, verify};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const ETH: u128 = 1_000_000_000_000_000_000;

/// Runs `dashledger-verify ARGS…`: exit code and the JSON verdict on stdout.
fn run_verify(args: &[&str]) -> anyhow::Result<(i32, serde_json::Value)> {
    let out = Command::new(dashledger_e2e::bin("dashledger-verify")?)
        .args(args)
        .output()
        .context("cannot run dashledger-verify")?;
    let v = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "dashledger-verify printed no JSON: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((out.status.code().unwrap_or(-1), v))
}

/// The failed checks of a verdict as "name: detail" lines.
fn failures(v: &dashledger_verify::Verdict) -> String {
    v.failure_summary()
}

#[test]
fn bundle_verifies_offline_and_names_every_alteration() -> anyhow::Result<()> {
    let work = dashledger_e2e::scratch("bundle")?;
    let w = work.path();
    let devnet = Devnet::start(&w.join("chain"))?;
    let mut cloud = Cloud::new(&w.join("cloud"), &devnet)?;
    cloud.start()?;

    let start = media::yesterday_at(14 * 60);
    let segments = media::segments(start, 1)?;
    let [normal, crash] = segments.as_slice() else {
        anyhow::bail!("expected one normal and one crash segment, got {segments:?}")
    };
    let mut agent = Agent::init(&w.join("agent"), &cloud.url, &devnet, "", true)?;
    let feed = w.join("agent").join("imu.csv");
    media::write_motion_feed(&feed, start, 120, Some((start + 60) as f64 + 46.5))?;
    agent.use_motion_feed(&feed)?;
    // The dashcam signs a C2PA sidecar of the clip with a certificate of the test device CA.
    let c2pa_root = agent.use_c2pa(31_337)?;
    cloud.approve_device(&agent.device, "e2e bundle")?;
    agent.start()?;
    agent.deliver(normal)?;
    agent.deliver(crash)?;
    let accidents = proc::wait_for(
        "two records sent and the accident uploaded",
        Duration::from_secs(900),
        || {
            agent.ensure_running()?;
            cloud.ensure_running()?;
            let sent =
                agent.query("SELECT count(*) AS n FROM records WHERE sent_at IS NOT NULL")?;
            let a = agent.accidents()?;
            let done = !a.is_empty() && a.iter().all(|x| x["stage"] == "done");
            Ok((sent[0]["n"] == 2 && done).then_some(a))
        },
    )
    .with_context(|| agent.logs_with(&cloud))?;
    let ec = accidents[0]["detail"]["ec_address"]
        .as_str()
        .context("accident has no EC")?
        .to_owned();
    proc::wait_for("the EC to be Verified", Duration::from_secs(120), || {
        cloud.ensure_running()?;
        Ok((devnet.call_u128(&ec, "status()(uint8)", &[])? == 1
            && cloud.get(&format!("/v1/clips/{ec}"))?.status == 200)
            .then_some(()))
    })
    .with_context(|| format!("cloud log:\n{}", cloud.log_tail()))?;
    if !agent.has_owner_commands() {
        eprintln!("SKIPPED: this dashledger-agent has no `approve` command");
        return Ok(());
    }
    if let Some(wallet) = &agent.wallet {
        devnet.fund(4, wallet, ETH)?;
    }

    // Requester A obtains the clip.
    let a = Requester::new(
        ANVIL_KEYS[2],
        ANVIL_ADDRESSES[2],
        &w.join("requester-a"),
        &devnet,
        &cloud.url,
    );
    let req = a.json(&["request", &ec, "--reward", "0.01"])?;
    let reqc = req["reqc"].as_str().context("no reqc")?.to_owned();
    agent.cmd_json(&["approve", &reqc])?;
    let clip = w.join("clip.mp4");
    let clip_s = clip.to_str().context("utf-8 path")?;
    let fetched = a.json(&["fetch", &reqc, "--out", clip_s])?;
    assert_eq!(fetched["result"], "verified", "{fetched}");

    // The device's records and approval as the cloud recorded them.
    let rows = cloud.query(&format!(
        "SELECT hex(signed) AS s FROM evidence WHERE lower(device) = '{}' ORDER BY seq",
        agent.device.to_lowercase()
    ))?;
    assert_eq!(rows.len(), 2, "two records at the cloud: {rows:?}");
    let mut records = Vec::new();
    for r in &rows {
        records.extend(hex::decode(r["s"].as_str().context("signed")?)?);
    }

    // The bundle, through the REQC, proofs at the latest block; the records and the device's
    // standing are asked from the cloud with the requester's key (no --records / --device).
    let zip = w.join("evidence.zip");
    let zip_s = zip.to_str().context("utf-8 path")?;
    let written = a.json(&["bundle", &reqc, "--clip", clip_s, "--out", zip_s])?;
    assert_eq!(written["result"], "written", "{written}");
    assert!(
        written["ec"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(&ec))
    );

    // Offline: verified, every check named, what is not checked said.
    let (code, v) = run_verify(&[zip_s])?;
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["result"], "verified", "{v:#}");
    let names: Vec<&str> = v["checks"]
        .as_array()
        .context("checks")?
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for n in [
        "manifest",
        "clip",
        "frames",
        "thumbnail",
        "evidence-hash",
        "state-proof-header",
        "ec-code",
        "ec-account-proof",
        "ec-status-proof",
        "search-account-proof",
        "search-listing-proof",
        "created-tx",
        "verified-tx",
        "records",
        "c2pa",
    ] {
        assert!(names.contains(&n), "check {n} ran: {names:?}");
    }
    let not_checked = v["not_checked"].to_string();
    assert!(not_checked.contains("canonical"), "{not_checked}");
    assert!(not_checked.contains("--rpc"), "{not_checked}");
    assert!(not_checked.contains("--c2pa-root"), "{not_checked}");

    // With the operator's device CA the C2PA signer is trusted too; with another CA it is not.
    let root_s = c2pa_root.to_str().context("utf-8 path")?;
    let (code, trusted) = run_verify(&["--c2pa-root", root_s, zip_s])?;
    assert_eq!(code, 0, "{trusted:#}");
    let c2pa = trusted["checks"]
        .as_array()
        .context("checks")?
        .iter()
        .find(|c| c["name"] == "c2pa")
        .context("c2pa check")?;
    assert!(
        c2pa["detail"]
            .as_str()
            .is_some_and(|d| d.contains("chaining to the given root")
                && d.to_lowercase().contains(&agent.device.to_lowercase())),
        "{c2pa}"
    );
    assert!(!trusted["not_checked"].to_string().contains("--c2pa-root"));
    let other_root = w.join("other-ca.pem");
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=not the operator"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .arg("-keyout")
        .arg(w.join("other-ca-key.pem"))
        .arg("-out")
        .arg(&other_root)
        .status()?;
    anyhow::ensure!(st.success(), "openssl failed");
    let (code, other) = run_verify(&["--c2pa-root", other_root.to_str().context("utf-8")?, zip_s])?;
    assert_eq!(code, 3, "{other:#}");
    assert!(
        other["checks"]
            .as_array()
            .context("checks")?
            .iter()
            .any(|c| c["name"] == "c2pa"
                && c["ok"] == false
                && c["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("--c2pa-root"))),
        "{other:#}"
    );

    // Live: the headers are anvil's blocks; nothing is left "not canonical".
    let (code, live) = run_verify(&["--rpc", &devnet.rpc_url, zip_s])?;
    assert_eq!(code, 0, "{live:#}");
    assert!(
        live["checks"]
            .as_array()
            .context("checks")?
            .iter()
            .any(|c| c["name"] == "live-header" && c["ok"] == true),
        "{live:#}"
    );
    assert!(!live["not_checked"].to_string().contains("canonical"));

    let bundle = Bundle::read(&zip)?;
    assert_eq!(
        bundle.get(paths::RECORDS),
        Some(&records[..]),
        "records.bin holds the device's records as the cloud received them"
    );
    let standing: serde_json::Value = bundle.json(paths::DEVICE)?;
    assert!(
        standing["address"]
            .as_str()
            .is_some_and(|d| d.eq_ignore_ascii_case(&agent.device)),
        "{standing}"
    );
    assert_eq!(standing["status"], "approved", "{standing}");
    assert!(
        standing.get("label").is_none(),
        "the operator's label is not given: {standing}"
    );
    for p in [
        paths::MANIFEST,
        paths::CLIP,
        paths::FRAMES,
        paths::THUMBNAIL,
        paths::EVIDENCE,
        paths::RECORDS,
        paths::DEVICE,
        paths::C2PA,
        paths::STATE_PROOF,
        paths::REPORT_HTML,
        paths::REPORT_PDF,
    ] {
        assert!(bundle.get(p).is_some(), "{p} is in the bundle");
    }
    assert!(
        bundle
            .get(paths::REPORT_PDF)
            .is_some_and(|b| b.starts_with(b"%PDF-"))
    );
    let html = String::from_utf8(bundle.get(paths::REPORT_HTML).unwrap_or_default().to_vec())?;
    assert!(
        html.to_lowercase().contains(&ec.to_lowercase()),
        "the report names the EC"
    );
    assert!(
        html.contains("data:image/jpeg;base64,"),
        "the report shows the thumbnail"
    );
    assert!(verify(&bundle).verified());

    // Every single-byte change of any file fails, naming the file (or the manifest).
    let files: Vec<String> = bundle.files.keys().cloned().collect();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..files.len(), any::<prop::sample::Index>(), 1u8..=255);
    runner
        .run(&strategy, |(f, at, xor)| {
            let path = &files[f];
            let mut altered = bundle.clone();
            let bytes = altered.files.get_mut(path).expect("file");
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
            // Through the zip, as a reader would get it.
            let zip = altered.to_zip().expect("zip");
            let back = Bundle::from_reader(std::io::Cursor::new(zip), "altered.zip").expect("read");
            let v = verify(&back);
            prop_assert!(!v.verified(), "{path} byte {i} ^ {xor:#x} went unnoticed");
            let named = v.failures().any(|c| {
                c.name == "manifest"
                    && (c.detail.contains(path.as_str()) || path == paths::MANIFEST)
            });
            prop_assert!(
                named,
                "{path} byte {i} ^ {xor:#x}: no failure names it: {}",
                failures(&v)
            );
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // One of them through the binary: exit 3 and the JSON names the file.
    let mut altered = bundle.clone();
    altered.files.get_mut(paths::RECORDS).context("records")?[100] ^= 1;
    let bad_zip = w.join("altered.zip");
    altered.write(&bad_zip)?;
    let (code, v) = run_verify(&[bad_zip.to_str().context("utf-8")?])?;
    assert_eq!(code, 3, "{v:#}");
    assert_eq!(v["result"], "failed");
    assert!(v["checks"].to_string().contains("records.bin"), "{v:#}");

    // A swapped clip, manifest rewritten to match: the clip and frame checks say so.
    let swapped = bundle
        .clone()
        .with_file(paths::CLIP, std::fs::read(normal)?);
    let v = verify(&swapped);
    let s = failures(&v);
    assert!(
        v.checks
            .iter()
            .find(|c| c.name == "manifest")
            .is_some_and(|c| c.ok),
        "{s}"
    );
    assert!(s.contains("clip: clip.mp4 has Keccak-256"), "{s}");
    assert!(s.contains("videoHash"), "{s}");
    assert!(
        s.contains("frames: the leaves in frames.json differ"),
        "{s}"
    );
    assert!(
        s.contains("c2pa: clip.c2pa: the C2PA manifest does not validate"),
        "the device's C2PA manifest does not bind the swapped clip: {s}"
    );

    // A record from another device: the normal segment's record re-signed by another key.
    let first = SignedRecord::decode(&records[..SIGNED_RECORD_LEN])?;
    let r = first.record();
    let other_key: alloy::signers::local::PrivateKeySigner = ANVIL_KEYS[0].parse()?;
    let forged = EvidenceRecord {
        device: DeviceId::from_address(other_key.address()),
        ..*r
    }
    .sign(&other_key)?;
    let mut mixed = forged.encode().to_vec();
    mixed.extend_from_slice(&records[SIGNED_RECORD_LEN..]);
    let v = verify(&bundle.clone().with_file(paths::RECORDS, mixed));
    let s = failures(&v);
    assert!(s.contains("records: records.bin record 1"), "{s}");
    assert!(s.contains("records of another device"), "{s}");

    // A proof for another block: bundle at the verification block, its header with the latest
    // block's proofs.
    let sp_latest: StateProof = bundle.json(paths::STATE_PROOF)?;
    let info: dashledger_verify::format::EvidenceInfo = bundle.json(paths::EVIDENCE)?;
    let zip2 = w.join("at-verification.zip");
    let verified_block = info.verified.block.to_string();
    let w2 = a.json(&[
        "bundle",
        &ec,
        "--clip",
        clip_s,
        "--out",
        zip2.to_str().context("utf-8")?,
        "--block",
        &verified_block,
        "--no-thumbnail",
    ])?;
    assert_eq!(w2["proof_block"], info.verified.block, "{w2}");
    let sp_old: StateProof = Bundle::read(&zip2)?.json(paths::STATE_PROOF)?;
    assert_ne!(
        sp_old.header.inner.state_root, sp_latest.header.inner.state_root,
        "the chain moved on after verification"
    );
    let moved = StateProof {
        header: sp_old.header.clone(),
        ..sp_latest.clone()
    };
    let v = verify(
        &bundle
            .clone()
            .with_file(paths::STATE_PROOF, canonical_json(&moved)),
    );
    let s = failures(&v);
    assert!(
        s.contains("ec-account-proof: the account proof of")
            && s.contains("does not verify against the header's stateRoot"),
        "{s}"
    );
    assert!(s.contains("search-account-proof"), "{s}");
    // Evidence claimed for another chain: the creating and verifying transactions say otherwise.
    let other_chain = dashledger_verify::format::EvidenceInfo {
        chain_id: 1,
        ..info.clone()
    };
    let v = verify(
        &bundle
            .clone()
            .with_file(paths::EVIDENCE, canonical_json(&other_chain)),
    );
    let s = failures(&v);
    assert!(
        s.contains("created-tx:")
            && s.contains("was signed for chain Some(31337), not for chain 1"),
        "{s}"
    );
    // And the requester refuses to bundle an EC that is not yet Verified at the chosen block.
    let early = (info.created.block).to_string();
    let out = a.run(&[
        "bundle",
        &ec,
        "--clip",
        clip_s,
        "--out",
        w.join("early.zip").to_str().context("utf-8")?,
        "--block",
        &early,
        "--no-thumbnail",
    ])?;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("search-listing-proof"), "{err}");
    assert!(!w.join("early.zip").exists(), "nothing written");
    Ok(())
}
