//! Test helpers: a real server on port 0 over SQLite or a throwaway PostgreSQL cluster, signed
//! records and signed requests.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use dashledger_cloud::config::Config;
use dashledger_cloud::{RunningServer, spawn};
use dashledger_protocol::auth::{RequestParts, sign_request};
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::record::{DeviceId, EvidenceRecord, SegmentTime, SignedRecord};

pub const ADMIN: &str = "test-admin-token-0123456789";

/// A test database backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A server plus what it needs to be restarted on the same storage.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub db_url: String,
    pub client: reqwest::Client,
    pub _pg: Option<PgCluster>,
    pub overrides: Vec<String>,
}

impl TestServer {
    pub async fn start(backend: Backend, extra: &[&str]) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (db_url, pg) = match backend {
            Backend::Sqlite => (String::new(), None),
            Backend::Postgres => {
                let pg = PgCluster::start()?;
                (pg.url.clone(), Some(pg))
            }
        };
        let mut overrides = vec![
            "listen=127.0.0.1:0".to_string(),
            format!("data_dir={}", dir.path().display()),
        ];
        if !db_url.is_empty() {
            overrides.push(format!("database_url={db_url}"));
        }
        overrides.extend(extra.iter().map(|s| s.to_string()));
        let server = boot(&overrides).await;
        let url = server.url();
        Some(Self {
            server: Some(server),
            dir,
            url,
            db_url,
            client: reqwest::Client::new(),
            _pg: pg,
            overrides,
        })
    }

    /// Stops the server and starts a new one on the same database and directories.
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
        let s = boot(&self.overrides).await;
        self.url = s.url();
        self.server = Some(s);
    }

    pub fn u(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn admin_post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.u(path))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.u(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
    }

    /// Registers and approves a device.
    pub async fn approve_device(&self, key: &PrivateKeySigner) {
        let r = self
            .admin_post(
                "/v1/admin/devices",
                serde_json::json!({"address": key.address().to_string(), "approve": true}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// Sends a request signed by `key` (protocol auth headers).
    pub async fn signed(
        &self,
        key: &PrivateKeySigner,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let parts = RequestParts {
            chain_id: 31337,
            method: method.as_str(),
            path,
            body: &body,
        };
        let expires = now() + 120;
        let h = sign_request(key, &parts, expires).unwrap();
        let mut req = self
            .client
            .request(method, self.u(path))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in h.to_pairs() {
            req = req.header(k, v);
        }
        req.send().await.unwrap()
    }

    /// Stops the server but keeps its storage (start it again with [`TestServer::restart`]).
    pub async fn stop_keep(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }
}

async fn boot(overrides: &[String]) -> RunningServer {
    let cfg = Config::load(None, Vec::new(), overrides).unwrap();
    spawn(
        cfg,
        vec![("DASHLEDGER_CLOUD_ADMIN_TOKEN".into(), ADMIN.into())],
    )
    .await
    .unwrap()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Asserts a JSON error answer with this status and code.
pub async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is not JSON: {text}"));
    assert_eq!(v["error"], code, "body: {text}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "body: {text}"
    );
    v
}

/// A device's chain of signed records, built like the agent builds them.
pub struct DeviceChain {
    pub key: PrivateKeySigner,
    pub prev: B256,
    pub seq: u32,
    pub start: u64,
}

impl DeviceChain {
    pub fn new() -> Self {
        Self {
            key: PrivateKeySigner::random(),
            prev: B256::ZERO,
            seq: 0,
            start: 1_795_000_000,
        }
    }

    /// The next record (segment content `seg`).
    pub fn next(&mut self, seg: &[u8]) -> SignedRecord {
        let r = EvidenceRecord {
            seq: self.seq,
            device: DeviceId::from_address(self.key.address()),
            start: SegmentTime::from_unix(self.start + 60 * u64::from(self.seq)).unwrap(),
            prev_hash: self.prev,
            segment_hash: keccak256(seg),
        };
        self.prev = r.segment_hash;
        self.seq += 1;
        r.sign(&self.key).unwrap()
    }
}

pub fn batch(records: &[SignedRecord]) -> Vec<u8> {
    records.iter().flat_map(|r| r.encode()).collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway PostgreSQL cluster (Debian's binaries) in a temporary directory, on a free port,
/// stopped and deleted on drop. Runs as the `postgres` user when the tests run as root.
pub struct PgCluster {
    pub url: String,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    /// `None` (with a loud message) only if the PostgreSQL binaries are not installed.
    pub fn start() -> Option<Self> {
        let Some(bin) = pg_bin() else {
            eprintln!(
                "\n\n!!!!! SKIPPING PostgreSQL test: no /usr/lib/postgresql/*/bin/initdb. \
                 Install Debian's `postgresql` package (scripts/setup does). !!!!!\n\n"
            );
            return None;
        };
        let as_postgres = is_root();
        let base = std::env::temp_dir().join(format!(
            "dashledger-pg-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join("data");
        let port = free_port();
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&base));
        }
        let cmd = |prog: &str| -> Command {
            if as_postgres {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin.join(prog));
                c
            } else {
                Command::new(bin.join(prog))
            }
        };
        run(cmd("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&dir));
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            base.display()
        );
        run(cmd("pg_ctl")
            .args(["-D"])
            .arg(&dir)
            .args(["-l"])
            .arg(base.join("log"))
            .args(["-w", "-o", &opts, "start"]));
        Some(Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_postgres,
        })
    }
}

fn run(c: &mut Command) {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = c
            .args(["-D"])
            .arg(&self.dir)
            .args(["-m", "immediate", "stop"])
            .output();
        if let Some(base) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

pub fn read_all(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// An `s3s-fs` S3-compatible server (crates.io; installed by scripts/setup.d/40-s3s-fs) over a
/// temporary directory, on a free port, killed on drop.
pub struct S3sFs {
    pub endpoint: String,
    pub root: tempfile::TempDir,
    pub bucket: String,
    child: std::process::Child,
}

pub const S3_ACCESS_KEY: &str = "dashledger-test-ak";
pub const S3_SECRET_KEY: &str = "dashledger-test-secret-key-0123456789";

fn s3s_fs_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("S3S_FS") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let p = home.join("bin/s3s-fs");
    p.exists().then_some(p)
}

impl S3sFs {
    /// `None` (with a loud message) only if s3s-fs is not installed.
    pub fn start() -> Option<Self> {
        let Some(bin) = s3s_fs_bin() else {
            eprintln!(
                "\n\n!!!!! SKIPPING S3 test: s3s-fs not found in ~/.cargo/bin (or $S3S_FS). \
                 Run scripts/setup.d/40-s3s-fs (scripts/setup does). !!!!!\n\n"
            );
            return None;
        };
        let root = tempfile::tempdir().unwrap();
        let bucket = "dashledger-test".to_string();
        std::fs::create_dir_all(root.path().join(&bucket)).unwrap();
        let port = free_port();
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting s3s-fs");
        let mut me = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            root,
            bucket,
            child,
        };
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(me);
            }
            if let Ok(Some(st)) = me.child.try_wait() {
                panic!("s3s-fs exited early: {st}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("s3s-fs did not listen on port {port} within 30 s");
    }

    /// Config overrides selecting this server as the blob store (credentials in files in `dir`).
    pub fn overrides(&self, dir: &Path, prefix: &str) -> Vec<String> {
        let ak = dir.join("s3-access-key");
        let sk = dir.join("s3-secret-key");
        std::fs::write(&ak, S3_ACCESS_KEY).unwrap();
        std::fs::write(&sk, S3_SECRET_KEY).unwrap();
        vec![
            format!("blob.url=s3://{}/{prefix}", self.bucket),
            format!("blob.endpoint={}", self.endpoint),
            format!("blob.access_key_id_file={}", ak.display()),
            format!("blob.secret_access_key_file={}", sk.display()),
        ]
    }

    /// A client of the same bucket and prefix, through the cloud's own S3 backend.
    pub fn blobs(&self, prefix: &str) -> dashledger_cloud::blob::S3Blobs {
        use dashledger_cloud::config::Secret;
        dashledger_cloud::blob::S3Blobs::new(dashledger_cloud::blob::S3Settings {
            bucket: self.bucket.clone(),
            prefix: prefix.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            access_key_id: Secret::new(S3_ACCESS_KEY.into(), "test").unwrap(),
            secret_access_key: Secret::new(S3_SECRET_KEY.into(), "test").unwrap(),
        })
        .unwrap()
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
