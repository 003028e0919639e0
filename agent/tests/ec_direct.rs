//! `chain.ec_via = "direct"` on real parts: the accident's owner key sends `createEvidence`
//! itself, funded from the owner wallet with what it lacks; the EC ends Verified and listed.
// Needs the chain + cloud harness (dashledger-testkit), which the Pi cross build leaves out.
#![cfg(not(dashledger_cross))]

mod chain_env;
mod common;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use chain_env::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_key_creates_the_ec_itself() {
    let mut env = Env::start("", "ec_via = \"direct\"").await;
    let (ok, _, err) = env.agent(&["print-config"]);
    assert!(ok, "{err}");
    let wallet = env.wallet();
    env.fund(wallet, U256::from(10u128.pow(18))).await;
    let before = env.deployer.get_balance(wallet).await.unwrap();

    let (prepared, _) = env.accident().await;
    let ec: Address = prepared.ec_address.as_deref().unwrap().parse().unwrap();
    let owner: Address = prepared.owner.parse().unwrap();
    // The owner key sent the creation (a transaction from it exists) and the wallet paid for it.
    assert!(env.deployer.get_transaction_count(owner).await.unwrap() >= 1);
    let after = env.deployer.get_balance(wallet).await.unwrap();
    assert!(after < before, "the wallet funded the owner key");
    assert!(!env.deployer.get_code_at(ec).await.unwrap().is_empty());
    env.cloud.shutdown().await;
}
