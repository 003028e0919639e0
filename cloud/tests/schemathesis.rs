//! Issue 19, item 6: schemathesis (pinned in requirements.txt, run from the worktree's `.venv`)
//! fuzzes the cloud against the OpenAPI document the cloud generates from its own handlers,
//! with every check on, on a real server with the chain features on (anvil and the real
//! contracts), with the admin token and a hook that signs requests with an approved device key
//! (`schemathesis_hooks.py`), so the signed routes are fuzzed past authentication. It must find
//! nothing. Skipped loudly when schemathesis is not installed (`scripts/setup` installs it).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use common::{ADMIN, DeviceChain, TestServer};

fn schemathesis() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join(".venv/bin/schemathesis");
    if bin.is_file() {
        return Some(bin);
    }
    eprintln!(
        "\n\n!!!!! SKIPPING schemathesis: {} is missing. Run scripts/setup (it installs the pinned \
         requirements into .venv). !!!!!\n\n",
        bin.display()
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing() {
    let Some(bin) = schemathesis() else {
        return;
    };
    let net = dashledger_testkit::Chain::start().await;
    let extra = [
        format!("chain.rpc_url={}", net.endpoint()),
        format!("chain.deployment_file={}", net.deployment_file.display()),
        format!("chain.signer_key_file={}", net.verifier_key_file.display()),
        "chain.confirmations=0".to_string(),
        "chain.poll_interval_ms=500".to_string(),
        "http.body_idle_timeout_secs=5".to_string(),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let s = TestServer::start(common::Backend::Sqlite, &extra)
        .await
        .unwrap();
    let dev = DeviceChain::new();
    s.approve_device(&dev.key).await;
    let hooks = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let report = s.dir.path().join("schemathesis");
    let workdir = s.dir.path().to_path_buf();
    let start = Instant::now();
    let url = s.url.clone();
    let key = hex::encode(dev.key.to_bytes());
    // DASHLEDGER_FUZZ_ARGS: extra `schemathesis run` arguments (e.g. `--include-path=/v1/clips
    // --report=har` to look at one operation's requests).
    let extra: Vec<String> = std::env::var("DASHLEDGER_FUZZ_ARGS")
        .map(|a| a.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&bin)
            // Its caches (.schemathesis/) go to the test's directory, not the repository.
            .current_dir(&workdir)
            .arg("--config-file")
            .arg(hooks.join("schemathesis.toml"))
            .arg("run")
            .arg(format!("{url}/openapi.json"))
            .args(["--url", &url])
            .args(["--checks", "all"])
            .args(["--max-examples", "30"])
            .args(["--seed", "20261202"])
            .args(["--request-timeout", "30"])
            .arg("--report-dir")
            .arg(&report)
            .args(["--no-color"])
            .args(&extra)
            .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
            .env("PYTHONPATH", &hooks)
            .env("DASHLEDGER_FUZZ_ADMIN_TOKEN", ADMIN)
            .env("DASHLEDGER_FUZZ_DEVICE_KEY", key)
            .env("DASHLEDGER_FUZZ_CHAIN_ID", "31337")
            .output()
            .expect("running schemathesis")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "schemathesis took {:.0} s\n{stdout}\n{stderr}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "schemathesis found problems (exit {:?}); see its output above",
        out.status.code()
    );
    s.stop().await;
}
