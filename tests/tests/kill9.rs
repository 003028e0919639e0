//! Issue 19, item 7: the cloud killed with SIGKILL under load loses no acknowledged record.
//!
//! 32 clients (one device each, threads) send their chains of signed evidence records in small
//! batches to the real `dashledger-cloud serve` (SQLite, chain features off: ingest is what is
//! under test). Once a third of the records are acknowledged the cloud is SIGKILLed; every
//! record acknowledged so far must be in the database after the restart, and after the clients
//! have finished (retrying what was not acknowledged) every record of every chain is there
//! exactly once, with no chain alarm and a clean `PRAGMA integrity_check`.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use dashledger_e2e::proc::{self, Proc};
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::keys::Secrets;
use dashledger_protocol::record::{DeviceId, EvidenceRecord, SegmentTime, SignedRecord};

const CLIENTS: usize = 32;
const RECORDS: usize = 100;
const BATCH: usize = 4;
const ADMIN: &str = "kill9-admin-token-0123456789";

struct Server {
    proc: Option<Proc>,
    dir: std::path::PathBuf,
    url: String,
    port: u16,
    starts: u32,
}

impl Server {
    fn start(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(dashledger_e2e::bin("dashledger-cloud")?);
        cmd.arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["--set", "database_max_connections=8", "serve"])
            .env("DASHLEDGER_CLOUD_ADMIN_TOKEN", ADMIN)
            .env("DASHLEDGER_CLOUD_LOG", "info,sqlx=warn");
        self.starts += 1;
        let mut p = Proc::spawn(&format!("cloud-{}", self.starts), cmd, &self.dir)?;
        let ready = format!("{}/readyz", self.url);
        proc::wait_for("the cloud to be ready", Duration::from_secs(60), || {
            p.ensure_running()?;
            Ok(proc::http("GET", &ready, &[], &[])
                .ok()
                .filter(|r| r.status == 200)
                .map(|_| ()))
        })?;
        self.proc = Some(p);
        Ok(())
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.join("data").join("cloud.db")
    }
}

/// One device's chain of signed records, built like the agent builds it.
fn chain(k: usize) -> anyhow::Result<(String, Vec<SignedRecord>)> {
    let key = Secrets::generate().device_signer()?;
    let device = DeviceId::from_address(key.address());
    let mut prev = dashledger_protocol::B256::ZERO;
    let mut out = Vec::with_capacity(RECORDS);
    for seq in 0..RECORDS as u32 {
        let r = EvidenceRecord {
            seq,
            device,
            start: SegmentTime::from_unix(1_795_000_000 + 60 * u64::from(seq))?,
            prev_hash: prev,
            segment_hash: keccak256(format!("client {k} segment {seq}")),
        };
        prev = r.segment_hash;
        out.push(r.sign(&key)?);
    }
    Ok((format!("{:#x}", key.address()), out))
}

fn stored(db: &Path) -> anyhow::Result<BTreeSet<(String, u64)>> {
    Ok(
        dashledger_e2e::sqlite_json(db, "SELECT device, seq FROM evidence")?
            .iter()
            .map(|r| {
                (
                    r["device"].as_str().unwrap_or_default().to_owned(),
                    r["seq"].as_u64().unwrap_or(u64::MAX),
                )
            })
            .collect(),
    )
}

#[test]
fn kill9_under_load_loses_no_acknowledged_record() -> anyhow::Result<()> {
    let work = dashledger_e2e::scratch("kill9")?;
    let port = proc::free_port()?;
    let mut server = Server {
        proc: None,
        dir: work.path().to_path_buf(),
        url: format!("http://127.0.0.1:{port}"),
        port,
        starts: 0,
    };
    server.start()?;
    let chains: Vec<(String, Vec<SignedRecord>)> =
        (0..CLIENTS).map(chain).collect::<anyhow::Result<_>>()?;
    let auth = format!("Bearer {ADMIN}");
    for (addr, _) in &chains {
        let body = serde_json::json!({"address": addr, "approve": true}).to_string();
        proc::http(
            "POST",
            &format!("{}/v1/admin/devices", server.url),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )?
        .ok()?;
    }

    // Clients: send in order, retry a batch until it is acknowledged (200), note what was.
    let acked: Arc<Mutex<BTreeSet<(String, u64)>>> = Arc::default();
    let acked_n = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicBool::new(false));
    let url = format!("{}/v1/evidence", server.url);
    let started = Instant::now();
    let clients: Vec<_> = chains
        .into_iter()
        .map(|(addr, records)| {
            let (acked, acked_n, refused, url) =
                (acked.clone(), acked_n.clone(), refused.clone(), url.clone());
            std::thread::spawn(move || {
                for (b, part) in records.chunks(BATCH).enumerate() {
                    let body: Vec<u8> = part.iter().flat_map(|r| r.encode()).collect();
                    loop {
                        match proc::http(
                            "POST",
                            &url,
                            &[("Content-Type", "application/octet-stream")],
                            &body,
                        ) {
                            Ok(r) if r.status == 200 => break,
                            Ok(r) if r.status < 500 => {
                                eprintln!(
                                    "client {addr}: refused: {} {}",
                                    r.status,
                                    String::from_utf8_lossy(&r.body)
                                );
                                refused.store(true, Ordering::SeqCst);
                                return;
                            }
                            // Down, killed mid-request, or 5xx: retry the same batch.
                            _ => std::thread::sleep(Duration::from_millis(50)),
                        }
                    }
                    let mut a = acked.lock().unwrap_or_else(|p| p.into_inner());
                    for i in 0..part.len() {
                        a.insert((addr.clone(), (b * BATCH + i) as u64));
                    }
                    acked_n.fetch_add(part.len(), Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Kill under load, once a third of the records are acknowledged.
    let total = CLIENTS * RECORDS;
    proc::wait_for(
        "a third of the records acknowledged",
        Duration::from_secs(120),
        || Ok((acked_n.load(Ordering::SeqCst) >= total / 3).then_some(())),
    )?;
    server.proc.take().context("cloud running")?.kill9()?;
    let before_kill: BTreeSet<_> = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let killed_at = acked_n.load(Ordering::SeqCst);
    anyhow::ensure!(
        killed_at < total,
        "the clients had finished before the kill: not under load"
    );
    std::thread::sleep(Duration::from_millis(500));
    // Nothing acknowledged before the kill is missing from the database left behind.
    let after_crash = stored(&server.db())?;
    let lost: Vec<_> = before_kill.difference(&after_crash).collect();
    anyhow::ensure!(
        lost.is_empty(),
        "{} acknowledged records lost by the kill, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    server.start()?;
    for c in clients {
        c.join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))?;
    }
    anyhow::ensure!(!refused.load(Ordering::SeqCst), "a batch was refused");
    let elapsed = started.elapsed();

    let all = stored(&server.db())?;
    anyhow::ensure!(
        all.len() == total,
        "{} records stored, {total} sent",
        all.len()
    );
    anyhow::ensure!(
        *acked.lock().unwrap_or_else(|p| p.into_inner()) == all,
        "the stored records are exactly the acknowledged ones"
    );
    let alarms = dashledger_e2e::sqlite_json(&server.db(), "SELECT kind, device, seq FROM alarms")?;
    anyhow::ensure!(alarms.is_empty(), "no chain alarm: {alarms:?}");
    let check = dashledger_e2e::sqlite_json(&server.db(), "PRAGMA integrity_check")?;
    anyhow::ensure!(
        check.len() == 1 && check[0]["integrity_check"] == "ok",
        "integrity_check: {check:?}"
    );
    let tips = dashledger_e2e::sqlite_json(
        &server.db(),
        "SELECT COUNT(*) AS n FROM devices WHERE tip_seq = 99",
    )?;
    anyhow::ensure!(
        tips[0]["n"].as_u64() == Some(CLIENTS as u64),
        "every device's tip is its last record: {tips:?}"
    );
    eprintln!(
        "kill9: {total} records from {CLIENTS} clients, killed after {killed_at} acknowledged, none lost; {:.1} s",
        elapsed.as_secs_f64()
    );
    Ok(())
}
