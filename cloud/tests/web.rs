//! The web page at `/` (config key `web.dir`) and `/config.json`, against a real server on port 0.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

mod common;

use std::io::{Read, Write};

use common::{Backend, TestServer, expect_error};
use serde_json::{Value, json};

const DEPLOYMENT: &str = r#"{
  "chainId": 31337,
  "evidenceFactory": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  "searchContract": "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
  "requestFactory": "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
  "responseContract": "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9",
  "verifier": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  "startBlock": 7
}"#;

/// Sends a raw HTTP/1.1 request line (clients normalise `..` away, so this goes around them) and
/// returns (status, body).
fn raw_get(url: &str, target: &str) -> (u16, String) {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_and_config_json() {
    let site = tempfile::tempdir().unwrap();
    let root = site.path().join("dist");
    std::fs::create_dir_all(root.join("assets")).unwrap();
    let index = "<!doctype html><title>dashledger</title><script type=module src=./assets/index-abc123.js></script>";
    std::fs::write(root.join("index.html"), index).unwrap();
    std::fs::write(root.join("assets/index-abc123.js"), "console.log('hi')").unwrap();
    let wasm = b"\0asm\x01\0\0\0";
    std::fs::write(root.join("assets/umbral_pre_wasm_bg-x1.wasm"), wasm).unwrap();
    std::fs::write(site.path().join("secret.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(site.path().join("secret.txt"), root.join("leak.txt")).unwrap();
    let dep = site.path().join("31337.json");
    std::fs::write(&dep, DEPLOYMENT).unwrap();

    let web_dir = format!("web.dir={}", root.display());
    let dep_file = format!("chain.deployment_file={}", dep.display());
    let s = TestServer::start(Backend::Sqlite, &[&web_dir, &dep_file])
        .await
        .unwrap();

    // The page, its script and its wasm, with their content types and cache headers.
    let r = s.client.get(s.u("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.text().await.unwrap(), index);
    let r = s
        .client
        .get(s.u("/assets/index-abc123.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let r = s
        .client
        .get(s.u("/assets/umbral_pre_wasm_bg-x1.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert_eq!(r.bytes().await.unwrap().as_ref(), wasm);
    let r = s.client.head(s.u("/index.html")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // config.json is the deployment, in the shape web/src/config.js parses.
    let r = s.client.get(s.u("/config.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let got: Value = r.json().await.unwrap();
    assert_eq!(
        got,
        json!({
            "chainId": 31337,
            "chainName": "anvil (local)",
            "fromBlock": 7,
            "contracts": {
                "evidenceFactory": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                "searchContract": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
                "requestFactory": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
                "responseContract": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
            },
            "cloudUrl": "",
            "maxRangeSecs": 31 * 24 * 3600,
        })
    );

    // Missing files and traversal attempts: JSON errors, never the file outside.
    expect_error(
        s.client.get(s.u("/missing.js")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    for target in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/leak.txt",
    ] {
        let (status, body) = raw_get(&s.url, target);
        assert!(!body.contains("TOP-SECRET"), "{target} leaked: {body}");
        assert_eq!(status, 400, "{target}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "invalid_path", "{target}: {body}");
    }
    // API routes keep their JSON answers; other methods never reach the files.
    expect_error(
        s.client.get(s.u("/v1/nope")).send().await.unwrap(),
        404,
        "no_route",
    )
    .await;
    expect_error(
        s.client.post(s.u("/index.html")).send().await.unwrap(),
        404,
        "no_route",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_web_dir_root_says_how_to_enable_it() {
    let s = TestServer::start(
        Backend::Sqlite,
        &["chain.deployment_file=/nonexistent/31337.json"],
    )
    .await
    .unwrap();
    let v = expect_error(
        s.client.get(s.u("/")).send().await.unwrap(),
        404,
        "no_web_page",
    )
    .await;
    assert!(v["message"].as_str().unwrap().contains("web.dir"), "{v}");
    let v = expect_error(
        s.client.get(s.u("/config.json")).send().await.unwrap(),
        503,
        "no_deployment",
    )
    .await;
    assert!(
        v["message"].as_str().unwrap().contains("deployment_file"),
        "{v}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_dir_without_index_is_refused_at_start() {
    let d = tempfile::tempdir().unwrap();
    let overrides = [
        "listen=127.0.0.1:0".to_string(),
        format!("data_dir={}", d.path().join("data").display()),
        format!("web.dir={}", d.path().display()),
    ];
    // Loading (print-config) accepts the key, so scripts can probe for it before building the page.
    let cfg = dashledger_cloud::config::Config::load(None, Vec::new(), &overrides).unwrap();
    let err = dashledger_cloud::spawn(cfg, Vec::new()).await.unwrap_err();
    assert!(err.to_string().contains("index.html"), "{err}");
}
