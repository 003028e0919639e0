//! End to end on real parts: anvil with the real contracts (forge artifacts), the real cloud
//! (verifier + relayer on), the real agent binary on a real 1-minute segment. The manual event
//! makes it an accident; the agent sends the record, seals, relays the EC, uploads; the cloud
//! verifies the EC against the record and lists it: the EC ends Verified on chain.

mod common;

use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::node_bindings::Anvil;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use dashledger_agent::accident::Prepared;
use dashledger_agent::outbox::Outbox;
use dashledger_protocol::bindings::{EvidenceContract, EvidenceFactory, RequestFactory};

const ANVIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules/.bin/anvil");
const ADMIN: &str = "agent-e2e-admin-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accident_segment_ends_as_a_verified_ec() {
    let anvil = Anvil::at(ANVIL)
        .arg("--host")
        .arg("127.0.0.1")
        .port(0u16)
        .try_spawn()
        .expect("anvil starts");
    let key = |i: usize| PrivateKeySigner::from(anvil.keys()[i].clone());
    let deployer = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key(0)))
        .connect_http(anvil.endpoint_url())
        .erased();
    let verifier = key(1);
    let factory = EvidenceFactory::deploy(&deployer, verifier.address())
        .await
        .unwrap();
    let search = factory.search().call().await.unwrap();
    let rf = RequestFactory::deploy(
        &deployer,
        search,
        verifier.address(),
        U256::from(10u64.pow(16)),
        86_400,
        172_800,
        259_200,
    )
    .await
    .unwrap();
    let response = rf.responseContract().call().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let deployment = root.path().join("deployment.json");
    std::fs::write(
        &deployment,
        serde_json::json!({
            "chainId": 31337, "evidenceFactory": factory.address().to_string(), "searchContract": search.to_string(),
            "requestFactory": rf.address().to_string(), "responseContract": response.to_string(),
            "verifier": verifier.address().to_string(), "startBlock": 0,
        })
        .to_string(),
    )
    .unwrap();
    let verifier_key = root.path().join("verifier.key");
    std::fs::write(
        &verifier_key,
        format!("0x{}", hex::encode(verifier.to_bytes())),
    )
    .unwrap();

    let data = root.path().join("cloud");
    let cfg = dashledger_cloud::config::Config::load(
        None,
        Vec::new(),
        &[
            "listen=127.0.0.1:0".to_string(),
            format!("data_dir={}", data.display()),
            format!("chain.rpc_url={}", anvil.endpoint()),
            format!("chain.deployment_file={}", deployment.display()),
            format!("chain.signer_key_file={}", verifier_key.display()),
            "chain.confirmations=0".to_string(),
            "chain.poll_interval_ms=200".to_string(),
        ],
    )
    .unwrap();
    let server = dashledger_cloud::spawn(
        cfg,
        vec![("DASHLEDGER_CLOUD_ADMIN_TOKEN".into(), ADMIN.into())],
    )
    .await
    .unwrap();

    let agent_root = root.path().join("agent");
    std::fs::create_dir_all(&agent_root).unwrap();
    let config = common::setup(
        &agent_root,
        &format!(
            "[cloud]\nurl = \"{}\"\nupload_chunk_bytes = 300000\n[chain]\ndeployments = {:?}\n[detect]\nenabled = false\n\
             [retry]\nbase_ms = 100\nmax_ms = 500\n",
            server.url(),
            deployment
        ),
    );
    // The operator approves the device.
    let device = init_address(&agent_root);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/v1/admin/devices", server.url()))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"address": device, "approve": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // Segment being recorded + the event button.
    let watch = agent_root.join("watch");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = dashledger_protocol::record::SegmentTime::from_unix(now - 120).unwrap();
    let seg = watch.join(format!("{start}.mp4"));
    std::fs::copy(common::minute_of("crash_cctv.mp4"), &seg).unwrap();
    std::fs::write(watch.join("EVENT"), b"").unwrap();
    let daemon = common::Daemon::start(&config);

    let outbox_path = agent_root.join("state/outbox.sqlite");
    let deadline = Instant::now() + Duration::from_secs(300);
    let prepared: Prepared = loop {
        assert!(Instant::now() < deadline, "accident not done in time");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Ok(o) = Outbox::open(&outbox_path) else {
            continue;
        };
        if o.counts().unwrap().accidents_done == 1 {
            break serde_json::from_str(&o.accident_detail_of_done().unwrap()).unwrap();
        }
    };
    let ec: Address = prepared.ec_address.as_deref().unwrap().parse().unwrap();
    let contract = EvidenceContract::new(ec, &deployer);
    let wait = Instant::now() + Duration::from_secs(60);
    loop {
        let status = contract.status().call().await.unwrap();
        if status == 1 {
            break;
        }
        assert!(
            status == 0,
            "EC rejected: {:?}",
            contract.rejectReason().call().await.unwrap()
        );
        assert!(Instant::now() < wait, "EC not verified in time");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        contract.owner().call().await.unwrap().to_string(),
        prepared.owner
    );
    assert_eq!(contract.recordedAt().call().await.unwrap(), start.to_unix());
    let wait = Instant::now() + Duration::from_secs(60);
    loop {
        let clip = http
            .get(format!("{}/v1/clips/{ec}", server.url()))
            .send()
            .await
            .unwrap();
        if clip.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < wait,
            "EC not listed in the cloud's search: {}",
            clip.status()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");

    // A requester opens a request; the owner sees it with `requests` (signed by the EC's key).
    let requester = key(2);
    let requester_p = ProviderBuilder::new()
        .wallet(EthereumWallet::from(requester))
        .connect_http(anvil.endpoint_url())
        .erased();
    let umbral = dashledger_protocol::wrap::UmbralSecretKey::generate();
    let receipt = RequestFactory::new(*rf.address(), &requester_p)
        .createRequest(ec, umbral.public_key().to_bytes().to_vec().into())
        .value(U256::from(10u64.pow(15)))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let reqc = receipt
        .decoded_log::<dashledger_protocol::bindings::response_contract::ResponseContract::RequestOpened>()
        .map(|l| l.data.reqc)
        .expect("RequestOpened");
    let wait = Instant::now() + Duration::from_secs(60);
    loop {
        let out = common::agent(&config).arg("requests").output().unwrap();
        assert!(
            out.status.success(),
            "requests failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(r) = list.iter().find(|r| {
            r["reqc"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(&reqc.to_string()))
        }) {
            assert_eq!(r["owner_index"], 0);
            assert!(
                r["ec_address"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(&ec.to_string())
            );
            break;
        }
        assert!(Instant::now() < wait, "request not listed: {list:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.shutdown().await.unwrap();
}

fn init_address(root: &std::path::Path) -> String {
    let secrets =
        dashledger_protocol::keys::load_keystore(root.join("keystore.json"), b"test password")
            .unwrap();
    secrets.device_address().to_string()
}
