//! End to end on real parts: anvil with the real contracts (forge artifacts), the real cloud
//! (verifier + relayer on), the real agent binary on a real 1-minute segment. The manual event
//! makes it an accident; the agent sends the record, seals, relays the EC, uploads; the cloud
//! verifies the EC against the record and lists it: the EC ends Verified on chain.
// Needs the chain + cloud harness (dashledger-testkit), which the Pi cross build leaves out.
#![cfg(not(dashledger_cross))]

mod chain_env;
mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use chain_env::Env;
use dashledger_protocol::bindings::{EvidenceContract, RequestFactory};
use dashledger_testkit::mined;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accident_segment_ends_as_a_verified_ec() {
    // The relayer path alone: the device has no RPC endpoint (no `chain.rpc_url`).
    let mut env = Env::start_with("", "", false).await;
    let (chain, deployer, agent_root, config) =
        (&env.chain, &env.deployer, &env.agent_root, &env.config);
    // Segment being recorded + the event button.
    let (start, _) = chain_env::crash_segment(agent_root);
    let daemon = common::Daemon::start(config);

    let prepared = chain_env::wait_accident_done(&agent_root.join("state/outbox.sqlite"), 1).await;
    chain_env::wait_verified_and_listed(deployer, &env.cloud_url(), &prepared).await;
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
        let out = common::agent(config).arg("requests").output().unwrap();
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
    env.cloud.shutdown().await;
}
