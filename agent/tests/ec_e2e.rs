//! End to end on real parts: anvil with the real contracts (forge artifacts), the real cloud
//! (verifier + relayer on), the real agent binary on a real 1-minute segment. The manual event
//! makes it an accident; the agent sends the record, seals, relays the EC, uploads; the cloud
//! verifies the EC against the record and lists it: the EC ends Verified on chain.

mod chain_env;
mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use dashledger_protocol::bindings::{EvidenceContract, RequestFactory};
use dashledger_testkit::{Chain, Cloud, mined};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accident_segment_ends_as_a_verified_ec() {
    let chain = Chain::start().await;
    let deployer = &chain.deployer;
    let mut cloud = Cloud::start(&chain, &[]).await;
    let root = tempfile::tempdir().unwrap();

    let agent_root = root.path().join("agent");
    std::fs::create_dir_all(&agent_root).unwrap();
    let config = common::setup(
        &agent_root,
        &format!(
            "[cloud]\nurl = \"{}\"\nupload_chunk_bytes = 300000\n[chain]\ndeployments = {:?}\n[detect]\nenabled = false\n\
             [retry]\nbase_ms = 100\nmax_ms = 500\n",
            cloud.url(),
            chain.deployment_file
        ),
    );
    // The operator approves the device.
    let device = init_address(&agent_root);
    cloud.approve_device(&serde_json::json!(device)).await;
    // Segment being recorded + the event button.
    let (start, _) = chain_env::crash_segment(&agent_root);
    let daemon = common::Daemon::start(&config);

    let prepared = chain_env::wait_accident_done(&agent_root.join("state/outbox.sqlite"), 1).await;
    chain_env::wait_verified_and_listed(deployer, &cloud.url(), &prepared).await;
    let ec: Address = prepared.ec_address.as_deref().unwrap().parse().unwrap();
    let contract = EvidenceContract::new(ec, deployer);
    assert_eq!(contract.recordedAt().call().await.unwrap(), start.to_unix());

    assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");

    // A requester opens a request; the owner sees it with `requests` (signed by the EC's key).
    let requester_p = chain.provider(2);
    let umbral = dashledger_protocol::wrap::UmbralSecretKey::generate();
    let receipt = mined(
        RequestFactory::new(chain.request_factory, &requester_p)
            .createRequest(ec, umbral.public_key().to_bytes().to_vec().into())
            .value(U256::from(10u64.pow(15))),
    )
    .await;
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
    cloud.shutdown().await;
}

fn init_address(root: &std::path::Path) -> String {
    let secrets =
        dashledger_protocol::keys::load_keystore(root.join("keystore.json"), b"test password")
            .unwrap();
    secrets.device_address().to_string()
}
