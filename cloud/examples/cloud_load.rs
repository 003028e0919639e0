//! Load generator for the cloud benchmarks (docs/benchmarks.md, "Cloud"). Starts a real server
//! in-process on loopback (SQLite by default, `--database-url` for PostgreSQL) and drives it
//! over HTTP.
//!
//! ```text
//! cargo run --release -p dashledger-cloud --example cloud_load -- ingest --devices 2000 --records 200000 --batch 1 --concurrency 64
//! cargo run --release -p dashledger-cloud --example cloud_load -- search --listings 1000000 --queries 5000
//! cargo run --release -p dashledger-cloud --example cloud_load -- upload --mib 256 --chunk-mib 8
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use clap::{Parser, Subcommand};
use dashledger_cloud::config::Config;
use dashledger_protocol::auth::{RequestParts, sign_request};
use dashledger_protocol::frames::{encode_leaves, frames_root};
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::record::{DeviceId, EvidenceRecord, SegmentTime, SignedRecord};

#[derive(Debug, Parser)]
struct Cli {
    /// Database URL (default: SQLite file in a temporary directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Evidence ingest with signature checks.
    Ingest {
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Records per HTTP request (1 = one dashcam's minute).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Signature verification alone (the CPU ceiling of ingest), on all cores.
    Verify {
        #[arg(long, default_value_t = 50_000)]
        records: usize,
    },
    /// Search latency over many listed clips.
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        listings: usize,
        #[arg(long, default_value_t = 5000)]
        queries: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Chunked upload throughput.
    Upload {
        #[arg(long, default_value_t = 256)]
        mib: usize,
        #[arg(long, default_value_t = 8)]
        chunk_mib: usize,
    },
}

const ADMIN: &str = "bench-admin-token";

async fn server(
    dir: &std::path::Path,
    db: &Option<String>,
    extra: &[String],
) -> dashledger_cloud::RunningServer {
    let mut o = vec![
        "listen=127.0.0.1:0".to_string(),
        format!("data_dir={}", dir.display()),
        "database_max_connections=16".into(),
    ];
    if let Some(u) = db {
        o.push(format!("database_url={u}"));
    }
    o.extend(extra.iter().cloned());
    let cfg = Config::load(None, Vec::new(), &o).expect("config");
    dashledger_cloud::spawn(
        cfg,
        vec![("DASHLEDGER_CLOUD_ADMIN_TOKEN".into(), ADMIN.into())],
    )
    .await
    .expect("server")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let dir = tempfile::tempdir()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let db = &cli.database_url;
    match cli.cmd {
        Cmd::Ingest {
            devices,
            records,
            batch,
            concurrency,
        } => {
            ingest(
                dir.path(),
                db,
                &client,
                devices,
                records,
                batch,
                concurrency,
            )
            .await?
        }
        Cmd::Verify { records } => verify(records),
        Cmd::Search {
            listings,
            queries,
            concurrency,
        } => search(dir.path(), db, &client, listings, queries, concurrency).await?,
        Cmd::Upload { mib, chunk_mib } => upload(dir.path(), db, &client, mib, chunk_mib).await?,
    }
    Ok(())
}

/// `ingest`: registers the devices, signs their chains, sends them in `batch`-record requests
/// from `concurrency` workers, and prints the rate.
async fn ingest(
    dir: &std::path::Path,
    db: &Option<String>,
    client: &reqwest::Client,
    devices: usize,
    records: usize,
    batch: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let max_batch = batch.max(1);
    let s = server(dir, db, &[format!("ingest.max_batch_records={max_batch}")]).await;
    let url = s.url();
    eprintln!("signing {records} records of {devices} devices…");
    let keys: Vec<PrivateKeySigner> = (0..devices).map(|_| PrivateKeySigner::random()).collect();
    register_devices(client, &url, &keys).await?;
    let per_device = records.div_ceil(devices);
    let chains = signed_chains(&keys, per_device)?;
    let bodies = ingest_bodies(&chains, batch, records, per_device);
    let total: usize = bodies.iter().map(|b| b.len() / 161).sum();
    let bodies = Arc::new(bodies);
    eprintln!(
        "sending {total} records in {} requests, concurrency {concurrency}…",
        bodies.len()
    );
    let t0 = Instant::now();
    let cpu0 = process_cpu_secs();
    send_bodies(client, &url, &bodies, concurrency).await?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = process_cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    let m = client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let accepted = m
        .lines()
        .find(|l| l.starts_with("dashledger_evidence_records_accepted_total"))
        .unwrap_or("")
        .to_owned();
    println!(
        "{}",
        serde_json::json!({"bench": "ingest", "records": total, "requests": bodies.len(), "batch": batch,
            "concurrency": concurrency, "seconds": secs, "records_per_sec": total as f64 / secs, "server": accepted,
            "cpu_seconds": cpu, "records_per_cpu_sec": cpu.map(|c| total as f64 / c),
            "load_avg_1m": load_avg()})
    );
    s.shutdown().await?;
    Ok(())
}

/// Registers and approves each key as a device.
async fn register_devices(
    client: &reqwest::Client,
    url: &str,
    keys: &[PrivateKeySigner],
) -> anyhow::Result<()> {
    for k in keys {
        let r = client
            .post(format!("{url}/v1/admin/devices"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"address": k.address().to_string(), "approve": true}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "register: {}", r.status());
    }
    Ok(())
}

/// Each device's hash chain of `per_device` signed records, one a minute.
fn signed_chains(
    keys: &[PrivateKeySigner],
    per_device: usize,
) -> anyhow::Result<Vec<Vec<SignedRecord>>> {
    let mut chains: Vec<Vec<SignedRecord>> = Vec::new();
    for k in keys {
        let mut prev = B256::ZERO;
        let mut v = Vec::with_capacity(per_device);
        for seq in 0..per_device as u32 {
            let seg = keccak256(format!("{}-{seq}", k.address()));
            let r = EvidenceRecord {
                seq,
                device: DeviceId::from_address(k.address()),
                start: SegmentTime::from_unix(1_795_000_000 + 60 * u64::from(seq))?,
                prev_hash: prev,
                segment_hash: seg,
            };
            prev = seg;
            v.push(r.sign(k)?);
        }
        chains.push(v);
    }
    Ok(chains)
}

/// Bodies: one device per request, `batch` consecutive records. Round-robin over devices:
/// each device's chain stays in order within its batches.
fn ingest_bodies(
    chains: &[Vec<SignedRecord>],
    batch: usize,
    records: usize,
    per_device: usize,
) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut offset = 0;
    while bodies.len() * batch < records {
        for c in chains {
            if offset < c.len() {
                let end = (offset + batch).min(c.len());
                bodies.push(
                    c[offset..end]
                        .iter()
                        .flat_map(SignedRecord::encode)
                        .collect(),
                );
            }
        }
        offset += batch;
        if offset >= per_device {
            break;
        }
    }
    bodies
}

/// Posts every body to `/v1/evidence` from `concurrency` workers, each taking the next body.
async fn send_bodies(
    client: &reqwest::Client,
    url: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (bodies, next, client, url) =
            (bodies.clone(), next.clone(), client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = bodies.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                let r = client
                    .post(format!("{url}/v1/evidence"))
                    .header("content-type", "application/octet-stream")
                    .body(b.clone())
                    .send()
                    .await?;
                anyhow::ensure!(
                    r.status().is_success(),
                    "ingest failed: {} {}",
                    r.status(),
                    r.text().await?
                );
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// `verify`: signature checks of `records` records on all cores.
fn verify(records: usize) {
    let k = PrivateKeySigner::random();
    let signed: Vec<SignedRecord> = (0..records as u32)
        .map(|seq| {
            EvidenceRecord {
                seq,
                device: DeviceId::from_address(k.address()),
                start: SegmentTime::from_unix(1_795_000_000).expect("time"),
                prev_hash: B256::ZERO,
                segment_hash: keccak256(seq.to_be_bytes()),
            }
            .sign(&k)
            .expect("sign")
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t0 = Instant::now();
    let cpu0 = process_cpu_secs();
    std::thread::scope(|s| {
        for part in signed.chunks(records.div_ceil(threads)) {
            s.spawn(move || part.iter().for_each(|r| assert!(r.verify().is_ok())));
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let cpu = process_cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    println!(
        "{}",
        serde_json::json!({"bench": "verify", "records": records, "threads": threads, "records_per_sec": records as f64 / secs,
            "cpu_seconds": cpu, "records_per_cpu_sec": cpu.map(|c| records as f64 / c), "load_avg_1m": load_avg()})
    );
}

/// The search benchmark's clips: one month from this time…
const SEARCH_T_START: i64 = 1_795_000_000;
/// …in seconds.
const SEARCH_SPAN: i64 = 30 * 24 * 3600;

/// `search`: seeds `listings` listed clips, runs `queries` searches from `concurrency` workers,
/// and prints the rate and latencies.
async fn search(
    dir: &std::path::Path,
    db: &Option<String>,
    client: &reqwest::Client,
    listings: usize,
    queries: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let s = server(dir, db, &[]).await;
    eprintln!("seeding {listings} listings…");
    seed_listings(dir, db, listings).await?;
    eprintln!("running {queries} queries (1-hour window, 2 km radius), concurrency {concurrency}…");
    let url = s.url();
    let (secs, mut l, hits) = run_queries(client, &url, queries, concurrency).await?;
    l.sort();
    println!(
        "{}",
        serde_json::json!({"bench": "search", "listings": listings, "queries": queries, "concurrency": concurrency,
            "qps": queries as f64 / secs, "p50_ms": pct(&l, 0.5).as_secs_f64() * 1e3, "p99_ms": pct(&l, 0.99).as_secs_f64() * 1e3,
            "max_ms": l.last().map_or(0.0, |d| d.as_secs_f64() * 1e3), "mean_hits": hits as f64 / queries as f64})
    );
    s.shutdown().await?;
    Ok(())
}

/// Inserts `listings` verified listings straight into the server's database, 2000 a
/// transaction: one month of clips spread over a 1°×1° area (≈ 111 km × 73 km at 48.8°N).
async fn seed_listings(
    dir: &std::path::Path,
    db: &Option<String>,
    listings: usize,
) -> anyhow::Result<()> {
    let cfg = Config::load(
        None,
        Vec::new(),
        &[format!("data_dir={}", dir.display())]
            .into_iter()
            .chain(db.iter().map(|u| format!("database_url={u}")))
            .collect::<Vec<_>>(),
    )?;
    let store = dashledger_cloud::store::Store::connect(&cfg.database_url(), 2).await?;
    let mut rng_state = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let chunk = 2000;
    let mut done = 0;
    while done < listings {
        let n = chunk.min(listings - done);
        let mut tx = store.pool().begin().await?;
        for i in 0..n {
            let k = done + i;
            let t = SEARCH_T_START + (rnd() % SEARCH_SPAN as u64) as i64;
            let lat = 48.3 + (rnd() % 1_000_000) as f64 / 1e6;
            let lon = 1.8 + (rnd() % 1_000_000) as f64 / 1e6;
            sqlx::query("INSERT INTO listings (ec_address, t, lat, lon, status, block_number) VALUES ($1, $2, $3, $4, 'verified', 1)")
                .bind(format!("{:#042x}", k + 1))
                .bind(t)
                .bind(lat)
                .bind(lon)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        done += n;
    }
    if store.backend() == dashledger_cloud::store::Backend::Postgres {
        sqlx::query("ANALYZE listings")
            .execute(store.pool())
            .await?;
    }
    store.close().await;
    Ok(())
}

/// Runs `queries` searches (1-hour window, 2 km radius, random place and time in the seeded
/// area) from `concurrency` workers; returns the seconds they took, each one's latency and the
/// total number of hits.
async fn run_queries(
    client: &reqwest::Client,
    url: &str,
    queries: usize,
    concurrency: usize,
) -> anyhow::Result<(f64, Vec<Duration>, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(std::sync::Mutex::new(Vec::with_capacity(queries)));
    let hits = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (next, lat, client, url, hits) = (
            next.clone(),
            lat.clone(),
            client.clone(),
            url.to_owned(),
            hits.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (w as u64 + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= queries {
                    return Ok::<_, anyhow::Error>(());
                }
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let from = SEARCH_T_START + (x % (SEARCH_SPAN as u64 - 3600)) as i64;
                let clat = 48.3 + (x >> 20) as f64 % 1_000_000.0 / 1e6;
                let clon = 1.8 + (x >> 40) as f64 % 1_000_000.0 / 1e6;
                let q = format!(
                    "{url}/v1/clips?from={from}&to={}&lat={clat}&lon={clon}&radius_m=2000&limit=50",
                    from + 3600
                );
                let t = Instant::now();
                let r = client.get(q).send().await?;
                anyhow::ensure!(r.status().is_success(), "search failed: {}", r.status());
                let v: serde_json::Value = r.json().await?;
                let d = t.elapsed();
                hits.fetch_add(v["items"].as_array().map_or(0, Vec::len), Ordering::Relaxed);
                lat.lock().unwrap().push(d);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let l = lat.lock().unwrap().clone();
    Ok((secs, l, hits.load(Ordering::Relaxed)))
}

/// `upload`: one clip of `mib` MiB in `chunk_mib` MiB chunks, then its thumbnail and
/// `complete`; prints the throughput.
async fn upload(
    dir: &std::path::Path,
    db: &Option<String>,
    client: &reqwest::Client,
    mib: usize,
    chunk_mib: usize,
) -> anyhow::Result<()> {
    let chunk = chunk_mib << 20;
    let size = mib << 20;
    let s = server(
        dir,
        db,
        &[
            format!("upload.max_chunk_bytes={chunk}"),
            format!("upload.max_clip_bytes={size}"),
        ],
    )
    .await;
    let url = s.url();
    let id = open_upload(client, &url, size).await?;
    let t0 = Instant::now();
    send_chunks(client, &url, &id, size, chunk).await?;
    client
        .put(format!("{url}/v1/uploads/{id}/thumbnails/first"))
        .header("content-type", "image/jpeg")
        .body(vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0])
        .send()
        .await?;
    let r = client
        .post(format!("{url}/v1/uploads/{id}/complete"))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "complete: {}", r.text().await?);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"bench": "upload", "mib": mib, "chunk_mib": chunk_mib, "seconds": secs, "mib_per_sec": mib as f64 / secs})
    );
    s.shutdown().await?;
    Ok(())
}

/// Registers a new device and opens an upload of `size` bytes signed by it; returns the
/// upload id.
async fn open_upload(client: &reqwest::Client, url: &str, size: usize) -> anyhow::Result<String> {
    let dev = PrivateKeySigner::random();
    client
        .post(format!("{url}/v1/admin/devices"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"address": dev.address().to_string(), "approve": true}))
        .send()
        .await?;
    let leaves: Vec<B256> = (0..60u32).map(|i| keccak256(i.to_be_bytes())).collect();
    let body = serde_json::to_vec(&serde_json::json!({
        "ec_address": "0x00000000000000000000000000000000000000ec", "size": size,
        "leaves": format!("0x{}", hex::encode(encode_leaves(&leaves))), "frames_root": frames_root(&leaves)?,
    }))?;
    let parts = RequestParts {
        chain_id: 31337,
        method: "POST",
        path: "/v1/uploads",
        body: &body,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let h = sign_request(&dev, &parts, now + 60)?;
    let mut req = client.post(format!("{url}/v1/uploads")).body(body.clone());
    for (k, v) in h.to_pairs() {
        req = req.header(k, v);
    }
    let up: serde_json::Value = req.send().await?.json().await?;
    let id = up["upload_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no upload id: {up}"))?
        .to_owned();
    Ok(id)
}

/// Sends the clip of `size` bytes in chunks of `chunk` bytes, one after the other.
async fn send_chunks(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    size: usize,
    chunk: usize,
) -> anyhow::Result<()> {
    let data: Vec<u8> = (0..chunk).map(|i| (i * 31 % 251) as u8).collect();
    let mut off = 0;
    while off < size {
        let n = chunk.min(size - off);
        let r = client
            .put(format!("{url}/v1/uploads/{id}/chunks/{off}"))
            .header("content-type", "application/octet-stream")
            .body(data[..n].to_vec())
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "chunk: {} {}",
            r.status(),
            r.text().await?
        );
        off += n;
    }
    Ok(())
}

/// CPU time (user + system) of this process so far, in seconds (Linux `/proc/self/stat`, clock
/// ticks of 100 Hz). On a machine shared with other work, records per CPU-second times the core
/// count is the rate the benchmark would reach with the cores to itself.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The 1-minute load average (Linux), to tell how shared the machine was.
fn load_avg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
