//! The requester CLI end to end against a real anvil chain with the real contracts (deployed
//! from the forge artifacts in protocol/abi): an EC created and verified as the agent and the
//! cloud would, the owner responding with a real kfrag, and the real `dashledger-requester`
//! binary doing request → status → fetch (recover, confirm, open, verify), plus the failure
//! paths (tampered clip, wrong kfrag → dispute, deadline → cancel + withdraw, errors). The last
//! test runs the real cloud, with the accident uploaded through its API (`support/device.rs`).
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, Bytes, U256, utils::parse_ether};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::seal::{self, SessionKey};
use dashledger_protocol::wrap::{self, KfragSigner, UmbralPublicKey, UmbralSecretKey};
use dashledger_requester::bindings::{
    EvidenceContract, EvidenceFactory, IEvidenceFactory, RequestContract, ResponseContract,
};
use dashledger_requester::config::Deployment;
use dashledger_testkit::{Chain, ChainParams, key_hex, mined};
use serde_json::Value;

#[path = "support/device.rs"]
mod device;

const RESPONSE_WINDOW: u64 = 3600;
const CONFIRM_WINDOW: u64 = 7200;
const RESOLVE_WINDOW: u64 = 7200;

/// An evidence clip as the agent makes it.
struct Clip {
    plain: Vec<u8>,
    sealed: Vec<u8>,
    ec: Address,
}

struct Env {
    chain: Chain,
    url: String,
    dir: tempfile::TempDir,
    deployments: PathBuf,
    dep: Deployment,
    verifier: DynProvider,
    owner_key: PrivateKeySigner,
    owner: DynProvider,
    owner_umbral: UmbralSecretKey,
    requester_key: PrivateKeySigner,
    requester: DynProvider,
    min_deposit: U256,
    verifier_key: PrivateKeySigner,
    /// The CLI as the requester, with the cloud down.
    cli: Requester,
}

impl Env {
    async fn start() -> Self {
        let chain = Chain::start_with(ChainParams {
            min_deposit: parse_ether("0.01").unwrap(),
            response_window: RESPONSE_WINDOW,
            confirm_window: CONFIRM_WINDOW,
            resolve_window: RESOLVE_WINDOW,
        })
        .await;
        let dep = Deployment {
            chain_id: 31337,
            evidence_factory: chain.evidence_factory,
            request_factory: chain.request_factory,
            response_contract: chain.response_contract,
            search_contract: chain.search,
            start_block: 0,
        };
        // The deployment file holds the same fields scripts/devnet writes that the CLI and the
        // cloud read.
        assert_eq!(Deployment::load(&chain.deployment_file).unwrap(), dep);
        let dir = tempfile::tempdir().unwrap();
        let requester_key = chain.key(3);
        let cli = Requester {
            rpc_url: chain.endpoint(),
            deployments: chain.deployment_file.clone(),
            data_dir: dir.path().join("data"),
            // Nothing listens on port 1: "the cloud is down".
            cloud: "http://127.0.0.1:1".into(),
            key: Some(key_hex(&requester_key)),
        };
        Self {
            url: chain.endpoint(),
            deployments: chain.deployment_file.clone(),
            dep,
            verifier: chain.provider(1),
            owner: chain.provider(2),
            owner_key: chain.key(2),
            owner_umbral: UmbralSecretKey::generate(),
            requester: chain.provider(3),
            requester_key,
            min_deposit: chain.params.min_deposit,
            verifier_key: chain.verifier_key.clone(),
            dir,
            cli,
            chain,
        }
    }

    /// Seals a clip, wraps its key to the owner, creates the EC (owner) and verifies it (verifier).
    async fn evidence(&self, len: usize, lat: i32, lon: i32) -> Clip {
        let plain: Vec<u8> = (0..len)
            .map(|i| (i * 31 % 253) as u8 ^ (len as u8))
            .collect();
        let key = SessionKey::generate();
        let mut sealed = Vec::new();
        seal::seal(&plain[..], &mut sealed, &key).unwrap();
        let wrapped = wrap::wrap(&self.owner_umbral.public_key(), &key).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let p = IEvidenceFactory::EvidenceParams {
            videoHash: keccak256(&plain),
            cipherHash: keccak256(&sealed),
            frameHash: keccak256(b"first frame"),
            framesRoot: keccak256(&plain[..len.min(1000)]),
            keyCommitment: key.commitment(),
            recordedAt: now - 600,
            latitude: lat,
            longitude: lon,
            capsule: Bytes::from(wrapped.capsule_bytes()),
            wrappedKey: Bytes::copy_from_slice(wrapped.ciphertext()),
            ownerUmbralKey: Bytes::copy_from_slice(&self.owner_umbral.public_key().to_bytes()),
        };
        let ef = EvidenceFactory::new(self.dep.evidence_factory, &self.owner);
        let receipt = mined(ef.createEvidence(p)).await;
        let ec = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<EvidenceFactory::EvidenceCreated>().ok())
            .unwrap()
            .inner
            .data
            .ec;
        mined(EvidenceContract::new(ec, &self.verifier).verify()).await;
        Clip { plain, sealed, ec }
    }

    /// The owner's side: reads the requester's Umbral key from RequestOpened and responds with
    /// a kfrag for `for_pk` (that key unless overridden: a wrong kfrag).
    async fn respond(&self, reqc: Address, wrong_recipient: Option<UmbralPublicKey>) {
        let opened = self.opened(reqc).await;
        assert_eq!(opened.owner, self.owner_key.address());
        let requester_pk = UmbralPublicKey::from_bytes(&opened.requesterUmbralKey).unwrap();
        let signer =
            KfragSigner::from_secret_bytes(&<[u8; 32]>::from(self.owner_key.to_bytes())).unwrap();
        let kfrag = wrap::grant(
            &self.owner_umbral,
            &signer,
            &wrong_recipient.unwrap_or(requester_pk),
        );
        let c = RequestContract::new(reqc, &self.owner);
        mined(
            c.respond(
                Bytes::from(kfrag),
                Bytes::copy_from_slice(&signer.verifying_key().to_bytes()),
                format!("/v1/requests/{reqc}/clip"),
            )
            .value(self.min_deposit),
        )
        .await;
    }

    /// The ResponseContract's RequestOpened event for `reqc`.
    async fn opened(&self, reqc: Address) -> ResponseContract::RequestOpened {
        let logs = ResponseContract::new(self.dep.response_contract, &self.requester)
            .RequestOpened_filter()
            .topic2(reqc.into_word())
            .from_block(0)
            .query()
            .await
            .unwrap();
        let (opened, _) = logs.into_iter().next().expect("RequestOpened for the reqc");
        opened
    }

    async fn reqc_status(&self, reqc: Address) -> u8 {
        RequestContract::new(reqc, &self.requester)
            .status()
            .call()
            .await
            .unwrap()
    }

    async fn advance(&self, secs: u64) {
        self.chain.increase_time(secs).await;
    }

    fn request(&self, ec: Address, reward: &str) -> Address {
        let out = self
            .cli
            .run(&["--json", "request", &ec.to_string(), "--reward", reward]);
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["tx"].as_str().unwrap().starts_with("0x"));
        v["reqc"].as_str().unwrap().parse().unwrap()
    }
}

/// How the tests run the real `dashledger-requester`: the global options (chain RPC, deployment
/// file, data directory, cloud URL) and the wallet key (`DASHLEDGER_PRIVATE_KEY`, or none), and
/// nothing else from the test's environment.
#[derive(Clone)]
struct Requester {
    rpc_url: String,
    deployments: PathBuf,
    data_dir: PathBuf,
    cloud: String,
    key: Option<String>,
}

impl Requester {
    /// The command: the global options, then `args`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dashledger-requester"));
        c.args(["--rpc-url", &self.rpc_url])
            .arg("--deployments")
            .arg(&self.deployments)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--cloud-url", &self.cloud])
            .env_remove("DASHLEDGER_CLOUD_URL")
            .env_remove("DASHLEDGER_KEY_FILE")
            .env_remove("DASHLEDGER_PRIVATE_KEY")
            .env("NO_COLOR", "1")
            .args(args);
        if let Some(k) = &self.key {
            c.env("DASHLEDGER_PRIVATE_KEY", k);
        }
        c
    }

    /// Runs `args`; the command line, exit code and output go to the test's log.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().expect("run dashledger-requester");
        eprintln!(
            "$ dashledger-requester {}\n  exit {:?}\n  stdout: {}\n  stderr: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        out
    }

    /// The same with another wallet key (`None`: no key at all).
    fn with_key(&self, key: Option<&PrivateKeySigner>) -> Self {
        Self {
            key: key.map(key_hex),
            ..self.clone()
        }
    }

    /// The same against the cloud at `url`.
    fn with_cloud(&self, url: &str) -> Self {
        Self {
            cloud: url.into(),
            ..self.clone()
        }
    }

    /// The same against the chain RPC at `url`.
    fn with_rpc_url(&self, url: &str) -> Self {
        Self {
            rpc_url: url.into(),
            ..self.clone()
        }
    }

    /// The same with another data directory.
    fn with_data_dir(&self, dir: &Path) -> Self {
        Self {
            data_dir: dir.to_path_buf(),
            ..self.clone()
        }
    }
}

/// `search` for `[from, to]` (Unix seconds) and `place` (`--lat/--lon/--radius-m` or `--box`,
/// `--chain`), after the global `flags`.
fn search_args<'a>(
    flags: &[&'a str],
    from: &'a str,
    to: &'a str,
    place: &[&'a str],
) -> Vec<&'a str> {
    [flags, &["search", "--from", from, "--to", to], place].concat()
}

/// `fetch` of `reqc` into `out`, after the global `flags`, with `more` options.
fn fetch_args<'a>(
    flags: &[&'a str],
    reqc: &'a str,
    out: &'a str,
    more: &[&'a str],
) -> Vec<&'a str> {
    [flags, &["fetch", reqc, "--out", out], more].concat()
}

/// Asserts the CLI's stderr mentions `needle`.
fn assert_stderr(o: &Output, needle: &str) {
    let e = stderr(o);
    assert!(e.contains(needle), "{e}");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[tokio::test]
async fn request_status_fetch_confirm_verify() {
    let env = Env::start().await;
    let clip = env.evidence(300_000, 48_856_600, 2_352_200).await;
    let reqc = env.request(clip.ec, "0.05");
    let r = reqc.to_string();

    // Open: status says so, fetch refuses with the deadline.
    let st = json(&env.cli.run(&["--json", "status"]));
    assert_eq!(st.as_array().unwrap().len(), 1);
    assert_eq!(st[0]["reqc"], r);
    assert_eq!(st[0]["status"], "Open");
    assert_eq!(st[0]["reward_eth"], "0.05");
    let out = env.cli.run(&["fetch", &r, "--out", "x.mp4"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr(&out, "has not responded yet");

    env.respond(reqc, None).await;
    let plain = env.cli.run(&["status", &r]);
    assert!(String::from_utf8_lossy(&plain.stdout).contains(&format!("{r} Responded")));

    let work = env.dir.path();
    let good = work.join("clip.sealed");
    std::fs::write(&good, &clip.sealed).unwrap();
    let mut bad_bytes = clip.sealed.clone();
    bad_bytes[100_000] ^= 0x40; // inside chunk 1
    let bad = work.join("tampered.sealed");
    std::fs::write(&bad, &bad_bytes).unwrap();
    let out_path = work.join("clip.mp4");
    let out_s = out_path.to_str().unwrap();

    // A tampered sealed file: the key is recovered and the request confirmed, but opening
    // fails, naming the chunk and the hash; nothing is written, the sealed file is kept.
    let out = env.cli.run(&fetch_args(
        &["--json"],
        &r,
        out_s,
        &["--sealed", bad.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["result"], "failed");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("chunk 1 failed authentication"), "{reason}");
    assert!(reason.contains("not the EC's cipherHash"), "{reason}");
    assert!(!out_path.exists());
    assert!(bad.exists());
    assert_eq!(
        env.reqc_status(reqc).await,
        4,
        "confirmed (Completed) after the key checked out"
    );
    let owed_owner = RequestContract::new(reqc, &env.owner)
        .owed(env.owner_key.address())
        .call()
        .await
        .unwrap();
    assert_eq!(owed_owner, parse_ether("0.05").unwrap() + env.min_deposit);

    // The right sealed file: verified, the clip is byte-identical.
    let out = env.cli.run(&fetch_args(
        &["--json"],
        &r,
        out_s,
        &["--sealed", good.to_str().unwrap()],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["result"], "verified");
    assert_eq!(v["video_hash"], keccak256(&clip.plain).to_string());
    assert_eq!(v["bytes"], 300_000);
    assert_eq!(std::fs::read(&out_path).unwrap(), clip.plain);
    assert!(
        good.exists(),
        "a user-supplied sealed file is never deleted"
    );

    // Downloading from a cloud that is down: a clear message, the confirmation stands.
    let again = work.join("again.mp4");
    let out = env
        .cli
        .run(&fetch_args(&[], &r, again.to_str().unwrap(), &[]));
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("http://127.0.0.1:1") && e.contains("not reachable"),
        "{e}"
    );
    assert!(e.contains("run the same fetch again"), "{e}");

    // Completed: nothing to withdraw for the requester.
    let v = json(&env.cli.run(&["--json", "withdraw"]));
    assert_eq!(v["total_eth"], "0");
    let st = json(&env.cli.run(&["--json", "status", &r]));
    assert_eq!(st[0]["status"], "Completed");
}

#[tokio::test]
async fn wrong_kfrag_is_disputed() {
    let env = Env::start().await;
    let clip = env.evidence(70_000, 40_000_000, -3_000_000).await;
    let reqc = env.request(clip.ec, "0.02");
    // The owner grants a kfrag to somebody else's key.
    env.respond(reqc, Some(UmbralSecretKey::generate().public_key()))
        .await;
    let sealed = env.dir.path().join("c.sealed");
    std::fs::write(&sealed, &clip.sealed).unwrap();
    let out_path = env.dir.path().join("c.mp4");
    let (r, out_s) = (reqc.to_string(), out_path.to_str().unwrap());

    // --no-dispute only reports.
    let out = env
        .cli
        .run(&fetch_args(&["--json"], &r, out_s, &["--no-dispute"]));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json(&out)["result"], "bad-kfrag");
    assert_stderr(&out, "kfrag verification failed");
    assert_eq!(env.reqc_status(reqc).await, 1);

    let out = env.cli.run(&fetch_args(
        &["--json"],
        &r,
        out_s,
        &["--sealed", sealed.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["result"], "disputed");
    assert!(v["tx"].as_str().unwrap().starts_with("0x"));
    assert_stderr(&out, "Disputed on-chain");
    assert!(!out_path.exists());
    assert_eq!(env.reqc_status(reqc).await, 5, "Disputed");

    // Disputing again: the contract's custom error, decoded.
    let out = env.cli.run(&["dispute", &r]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("InvalidStatus: the request is Disputed, but this action needs it Responded"),
        "{e}"
    );
}

#[tokio::test]
async fn unanswered_request_is_cancelled_and_refunded() {
    let env = Env::start().await;
    let clip = env.evidence(5_000, 1_000_000, 1_000_000).await;
    let reqc = env.request(clip.ec, "0.3");
    let r = reqc.to_string();

    // Too early: the CLI explains, and the contract agrees.
    let out = env.cli.run(&["cancel", &r]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr(&out, "may still respond until");

    env.advance(RESPONSE_WINDOW + 5).await;
    // The owner is too late now: the decoded revert says why.
    let c = RequestContract::new(reqc, &env.owner);
    let err = c
        .respond(
            Bytes::from(vec![1u8; 200]),
            Bytes::copy_from_slice(&env.owner_umbral.public_key().to_bytes()),
            "x".into(),
        )
        .value(env.min_deposit)
        .send()
        .await
        .unwrap_err();
    let msg = dashledger_requester::chain::decode_revert(&err).unwrap();
    assert!(msg.starts_with("ResponseDeadlinePassed"), "{msg}");

    let out = env.cli.run(&["--json", "cancel", &r]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["status"], "Cancelled");
    assert_eq!(v["owed_eth"], "0.3");

    let before = env
        .requester
        .get_balance(env.requester_key.address())
        .await
        .unwrap();
    let out = env.cli.run(&["--json", "withdraw"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["total_eth"], "0.3");
    assert_eq!(v["withdrawals"][0]["reqc"], r);
    let after = env
        .requester
        .get_balance(env.requester_key.address())
        .await
        .unwrap();
    let gain = after - before;
    assert!(
        gain > parse_ether("0.299").unwrap() && gain < parse_ether("0.3").unwrap(),
        "refund minus gas, got {gain}"
    );

    // Explicitly again: owes nothing.
    let v = json(&env.cli.run(&["--json", "withdraw", &r]));
    assert_eq!(v["total_eth"], "0");
    let out = env.cli.run(&["--json", "status", &r]);
    assert_eq!(json(&out)[0]["owed_eth"], "0");
}

#[tokio::test]
async fn search_keys_and_clear_errors() {
    let env = Env::start().await;
    let paris = env.evidence(2_000, 48_856_600, 2_352_200).await;
    let _far = env.evidence(2_000, 51_500_000, -120_000).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let from = (now - 3600).to_string();
    let to = (now + 60).to_string();

    // --chain: listings from the SearchContract, filtered by time and distance.
    let anon = env.cli.with_key(None);
    let v = json(&anon.run(&search_args(
        &["--json"],
        &from,
        &to,
        &[
            "--chain",
            "--lat",
            "48.8570",
            "--lon",
            "2.3520",
            "--radius-m",
            "500",
        ],
    )));
    let hits = v.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{v}");
    assert_eq!(hits[0]["ec"], paris.ec.to_string());
    let chain_box = ["--chain", "--box", "40,60,-5,5"];
    let v = json(&anon.run(&search_args(&["--json"], &from, &to, &chain_box)));
    assert_eq!(v.as_array().unwrap().len(), 2);
    let v = json(&anon.run(&search_args(&["--json"], "1000", "2000", &chain_box)));
    assert_eq!(v.as_array().unwrap().len(), 0);

    // The cloud is down.
    let out = anon.run(&search_args(
        &[],
        &from,
        &to,
        &["--lat", "48.8", "--lon", "2.3", "--radius-m", "500"],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_stderr(&out, "the cloud at http://127.0.0.1:1 is not reachable");
    // Bad place.
    let out = anon.run(&search_args(&[], &from, &to, &["--lat", "48.8"]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap rejects --lat without --lon/--radius-m"
    );

    // Keys: generated on first use, exported, imported elsewhere, used for the request.
    let shown = json(&env.cli.run(&["--json", "keys", "show"]));
    let pk = shown["umbral_key"].as_str().unwrap().to_owned();
    let exported = env.dir.path().join("umbral-backup.hex");
    let out = env
        .cli
        .run(&["keys", "export", "--out", exported.to_str().unwrap()]);
    assert!(out.status.success());
    let out = env
        .cli
        .run(&["keys", "export", "--out", exported.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "export never overwrites");
    let reqc = env.request(paris.ec, "0.01");
    let opened = env.opened(reqc).await;
    assert_eq!(format!("{}", opened.requesterUmbralKey), pk);
    let other_dir = tempfile::tempdir().unwrap();
    let out = anon.with_data_dir(other_dir.path()).run(&[
        "--json",
        "keys",
        "import",
        exported.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(json(&out)["umbral_key"], pk);

    // Errors decoded / explained.
    let out = env.cli.run(&[
        "request",
        &Address::repeat_byte(0x11).to_string(),
        "--reward",
        "0.01",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr(&out, "EvidenceNotListed");
    let out = env
        .cli
        .run(&["request", &paris.ec.to_string(), "--reward", "zero"]);
    assert_stderr(&out, "--reward \"zero\" is not an ETH amount");
    let poor = PrivateKeySigner::random();
    let as_poor = env.cli.with_key(Some(&poor));
    let out = as_poor.run(&["request", &paris.ec.to_string(), "--reward", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr(&out, "insufficient funds");
    // Exactly the reward but nothing for gas: the node's refusal, named.
    let _: Value = env
        .requester
        .raw_request(
            "anvil_setBalance".into(),
            (
                poor.address(),
                format!("{:#x}", parse_ether("0.01").unwrap()),
            ),
        )
        .await
        .unwrap();
    let out = as_poor.run(&["request", &paris.ec.to_string(), "--reward", "0.01"]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("insufficient funds: createRequest:") && e.contains(&poor.address().to_string()),
        "{e}"
    );
    let out = anon.run(&["status"]);
    assert_stderr(&out, "needs your wallet key");
    // The wallet key from a file works like the env variable.
    let kf = env.dir.path().join("wallet.key");
    std::fs::write(&kf, key_hex(&env.requester_key)).unwrap();
    let out = anon.run(&["--json", "--key-file", kf.to_str().unwrap(), "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    // A chain that is not there.
    let out = anon
        .with_rpc_url("http://127.0.0.1:1")
        .run(&["status", &reqc.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr(&out, "the chain RPC at http://127.0.0.1:1 failed");
}

/// The cloud binary built in the same target directory (by `cargo test --workspace` or
/// `cargo build -p dashledger-cloud`), if there is one; the test fails without it.
fn cloud_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("dashledger-cloud");
    p.is_file().then_some(p)
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Against the real cloud: the accident arrives as a dashcam sends it (evidence record, relayed
/// EC creation, resumable chunked upload), the cloud verifies and lists it and serves the search;
/// after the CLI confirms, it serves the sealed clip to the signed request, and the CLI resumes
/// a partial download with HTTP Range, opens and verifies it.
#[tokio::test]
async fn real_cloud_search_and_resumed_download() {
    let bin = cloud_binary().expect(
        "no dashledger-cloud binary next to this test: build it first with \
         `cargo build -p dashledger-cloud` (`cargo test --workspace` builds it)",
    );
    let env = Env::start().await;
    let data = env.dir.path().join("cloud");
    std::fs::create_dir_all(&data).unwrap();
    let vkey = env.dir.path().join("verifier.key");
    std::fs::write(&vkey, key_hex(&env.verifier_key)).unwrap();
    let token_file = env.dir.path().join("admin.token");
    let admin_token = "flow-test-operator-token-0123456789";
    std::fs::write(&token_file, admin_token).unwrap();
    let port = free_port();
    let log = std::fs::File::create(env.dir.path().join("cloud.log")).unwrap();
    let set = |kv: String| ["--set".to_string(), kv];
    let mut cmd = Command::new(&bin);
    for kv in [
        format!("listen=127.0.0.1:{port}"),
        format!("data_dir={}", data.display()),
        format!("admin_token_file={}", token_file.display()),
        format!("chain.rpc_url={}", env.url),
        format!("chain.deployment_file={}", env.deployments.display()),
        format!("chain.signer_key_file={}", vkey.display()),
        "chain.confirmations=0".into(),
        "chain.poll_interval_ms=200".into(),
    ] {
        cmd.args(set(kv));
    }
    let child = cmd
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let _cloud = Killed(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..150 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let cloud_log =
        || std::fs::read_to_string(env.dir.path().join("cloud.log")).unwrap_or_default();
    assert!(up, "the cloud did not come up:\n{}", cloud_log());

    // The accident as a dashcam reports it: evidence record, relayed EC creation, the sealed
    // clip through the resumable chunked upload (interrupted once); the cloud's own verifier
    // checks it and lists the EC.
    let plain: Vec<u8> = (0..250_000usize).map(|i| (i * 31 % 253) as u8).collect();
    let device_key = PrivateKeySigner::random();
    let thumb = b"\xFF\xD8\xFF\xE0 first frame".to_vec();
    let leaves = device::synthetic_leaves(&plain);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reported = device::report(&device::AccidentInput {
        cloud: &base,
        admin_token,
        chain_id: env.dep.chain_id,
        factory: env.dep.evidence_factory,
        device: &device_key,
        owner: &env.owner_key,
        owner_umbral: &env.owner_umbral,
        clip: &plain,
        leaves: &leaves,
        thumbnail: &thumb,
        recorded_at: now - 300,
        latitude: 48_856_600,
        longitude: 2_352_200,
        chunk_bytes: 40_000,
    })
    .await
    .unwrap_or_else(|e| panic!("reporting the accident: {e:#}\n{}", cloud_log()));
    assert!(
        reported.resumed_at >= 120_000 && reported.resumed_at < reported.sealed.len() as u64,
        "the upload resumed at {}",
        reported.resumed_at
    );
    let clip = Clip {
        plain,
        sealed: reported.sealed,
        ec: reported.ec,
    };
    let listing = device::wait_listed(&base, clip.ec, std::time::Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", cloud_log()));
    assert_eq!(listing["status"], "verified", "{listing}");
    // The cloud stored exactly the uploaded bytes.
    let blob = data
        .join("blobs")
        .join("clips")
        .join(format!("{:#x}.sealed", clip.ec));
    assert_eq!(std::fs::read(&blob).unwrap(), clip.sealed);
    assert_eq!(
        EvidenceContract::new(clip.ec, &env.requester)
            .owner()
            .call()
            .await
            .unwrap(),
        env.owner_key.address(),
        "the relayed EC belongs to the owner who signed the EIP-712 creation"
    );

    // Search: the CLI finds it through the cloud.
    let cli = env.cli.with_cloud(&base);
    let (from, to) = ((now - 3600).to_string(), (now + 60).to_string());
    let out = cli.run(&search_args(
        &["--json"],
        &from,
        &to,
        &["--lat", "48.8566", "--lon", "2.3522", "--radius-m", "300"],
    ));
    assert!(out.status.success(), "{}\n{}", stderr(&out), cloud_log());
    let hits = json(&out);
    let hits = hits.as_array().expect("search results");
    assert_eq!(
        hits.len(),
        1,
        "the cloud's search did not find the clip:\n{}",
        cloud_log()
    );
    assert_eq!(
        hits[0]["ec"].as_str().unwrap().to_lowercase(),
        format!("{:#x}", clip.ec)
    );
    assert!(hits[0]["thumbnail"].as_str().unwrap().starts_with(&base));
    let t = http
        .get(hits[0]["thumbnail"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);
    assert_eq!(t.bytes().await.unwrap().to_vec(), thumb);

    let reqc = env.request(clip.ec, "0.04");
    env.respond(reqc, None).await;
    let out_path = env.dir.path().join("from-cloud.mp4");
    // A download that broke off earlier: the first 100 000 bytes are already there.
    let partial = env.dir.path().join("from-cloud.mp4.sealed");
    std::fs::write(&partial, &clip.sealed[..100_000]).unwrap();
    let r = reqc.to_string();
    let out = cli.run(&fetch_args(
        &["--json"],
        &r,
        out_path.to_str().unwrap(),
        &[],
    ));
    assert!(out.status.success(), "{}\n{}", stderr(&out), cloud_log());
    let v = json(&out);
    assert_eq!(v["result"], "verified");
    assert_stderr(&out, "resumed at byte 100000");
    assert!(v["confirm_tx"].as_str().unwrap().starts_with("0x"));
    assert_eq!(std::fs::read(&out_path).unwrap(), clip.plain);
    assert!(
        !partial.exists(),
        "the downloaded sealed file is removed after verification"
    );
    assert_eq!(env.reqc_status(reqc).await, 4);

    // The cloud's refusal comes through with its code and message.
    let wrong = format!(
        "/v1/clips/{:#x}/download?reqc={reqc:#x}",
        Address::repeat_byte(0x22)
    );
    let w = env.dir.path().join("w.mp4");
    let out = cli.run(&fetch_args(
        &[],
        &r,
        w.to_str().unwrap(),
        &["--download-url", &wrong],
    ));
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("the cloud refused") && e.contains("HTTP 403") && e.contains("wrong_ec"),
        "{e}"
    );
}
