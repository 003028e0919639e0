//! The owner side on real parts (anvil + the real contracts + the real cloud + the real agent
//! binary): an accident ends as a verified EC; requesters open requests on chain; the owner
//! approves (the requester recovers the session key from the on-chain kfrag and opens the sealed
//! clip), declines, claims after the confirm window, and withdraws to the owner wallet; the
//! daemon's auto-approve policy answers a request above its minimum reward and leaves one below
//! (all by the direct route, `--direct`). The relayed route (the default): two accidents of one
//! device, both shared and paid out to fresh addresses, with nothing on chain that connects the
//! two owner keys, the wallet or the device.
//! Also: the agent dying after the EC was created but before it stored the address continues
//! with the existing EC instead of retrying a reverting creation.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]
// Needs the chain + cloud harness (dashledger-testkit), which the Pi cross build leaves out.
#![cfg(not(dashledger_cross))]

mod chain_env;
mod common;

use std::time::{Duration, Instant};

use alloy::network::TransactionResponse;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use chain_env::{CONFIRM_WINDOW, Env, MIN_DEPOSIT};
use dashledger_agent::accident::Prepared;
use dashledger_protocol::bindings::RequestFactory;
use dashledger_protocol::bindings::request_contract::RequestContract;
use dashledger_protocol::bindings::response_contract::ResponseContract;
use dashledger_protocol::wrap::{self, UmbralPublicKey, UmbralSecretKey, WrappedKey};
use dashledger_testkit::mined;

/// Ten times the deployment's minimum reward (minDeposit / 10): a tenth of it is still a valid
/// request (the auto-approve case below).
const REWARD: u64 = 10_000_000_000_000_000;

/// A requester (anvil account `i`) opens a request for `ec`; returns the REQC and its key.
async fn open_request(env: &Env, i: usize, ec: Address, reward: u64) -> (Address, UmbralSecretKey) {
    let p = env.provider_for(i);
    let umbral = UmbralSecretKey::generate();
    let receipt = mined(
        RequestFactory::new(env.request_factory, &p)
            .createRequest(ec, umbral.public_key().to_bytes().to_vec().into())
            .value(U256::from(reward)),
    )
    .await;
    let reqc = receipt
        .decoded_log::<ResponseContract::RequestOpened>()
        .map(|l| l.data.reqc)
        .expect("RequestOpened");
    (reqc, umbral)
}

async fn status(env: &Env, reqc: Address) -> u8 {
    RequestContract::new(reqc, &env.deployer)
        .status()
        .call()
        .await
        .unwrap()
}

fn addr(v: &serde_json::Value) -> Address {
    v.as_str().unwrap().parse().unwrap()
}

/// Drops the stored EC address of the finished accident and puts it back to `prepared`, as if
/// the agent died right after the relayer created the EC.
fn forget_ec(env: &Env) -> Prepared {
    let conn = rusqlite::Connection::open(env.outbox_path()).unwrap();
    let (id, detail): (i64, String) = conn
        .query_row(
            "SELECT segment_id, detail FROM accidents WHERE stage = 'done'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut p: Prepared = serde_json::from_str(&detail).unwrap();
    let before = p.clone();
    p.ec_address = None;
    p.upload_id = None;
    conn.execute(
        "UPDATE accidents SET stage = 'prepared', detail = ?1 WHERE segment_id = ?2",
        rusqlite::params![serde_json::to_string(&p).unwrap(), id],
    )
    .unwrap();
    before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_decline_claim_withdraw_and_auto_approve() {
    let mut env = Env::start("", "").await;
    let wallet = env.wallet();
    // init printed the wallet; it is the seed's m/44'/60'/7'/1/0.
    let secrets = dashledger_protocol::keys::load_keystore(
        env.agent_root.join("keystore.json"),
        b"test password",
    )
    .unwrap();
    assert_eq!(
        dashledger_agent::owner::wallet_key(&secrets)
            .unwrap()
            .address(),
        wallet
    );
    assert_ne!(wallet.to_string(), env.init["first_owner_address"]);
    env.fund(wallet, U256::from(10u128.pow(18))).await;

    let (prepared, segment) = env.accident().await;
    let ec: Address = prepared.ec_address.as_deref().unwrap().parse().unwrap();
    let owner: Address = prepared.owner.parse().unwrap();

    // --- Crash after the EC exists but before its address was stored: continue with it.
    let before = forget_ec(&env);
    let daemon = common::Daemon::start(&env.config);
    let again = env.wait_accident_done(1).await;
    assert!(daemon.stop());
    let ec_of = |p: &Prepared| p.ec_address.as_deref().unwrap().parse::<Address>().unwrap();
    assert_eq!(ec_of(&again), ec_of(&before), "the same EC is reused");
    let conn = rusqlite::Connection::open(env.outbox_path()).unwrap();
    let last_error: Option<String> = conn
        .query_row("SELECT last_error FROM accidents", [], |r| r.get(0))
        .unwrap();
    assert!(
        last_error.as_deref().is_none_or(|e| !e.contains("revert")),
        "no reverting creation was retried: {last_error:?}"
    );
    drop(conn);

    // --- Approve: the requester recovers the session key and opens the sealed clip.
    let (reqc, requester_umbral) = open_request(&env, 2, ec, REWARD).await;
    let (ok, out, err) = env.agent(&["approve", "--direct", &reqc.to_string()]);
    assert!(ok, "approve failed: {err}");
    assert_eq!(addr(&out["request"]), reqc);
    assert_eq!(addr(&out["ec"]), ec);
    assert_eq!(addr(&out["owner"]), owner);
    assert_eq!(out["deposit_wei"], MIN_DEPOSIT.to_string());
    assert!(out["gas_used"].as_u64().unwrap() > 21_000);
    assert!(out["tx"].as_str().unwrap().starts_with("0x"));
    assert_eq!(status(&env, reqc).await, 1, "Responded");
    let responded = RequestContract::new(reqc, &env.deployer)
        .RequestResponded_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    let (ev, _) = responded.into_iter().next().expect("RequestResponded");
    assert_eq!(ev.owner, owner);
    assert_eq!(ev.deposit, U256::from(MIN_DEPOSIT));
    assert!(
        ev.downloadLink.contains("/download?reqc="),
        "{}",
        ev.downloadLink
    );
    // The response carries the kfrag signer (the EC owner key as an Umbral key); the delegating
    // key is the one the EC was created with.
    let signer_pk = UmbralPublicKey::from_bytes(&ev.ownerUmbralKey).unwrap();
    assert_eq!(
        signer_pk.eth_address(),
        owner,
        "the kfrag is signed by the EC owner"
    );
    let owner_pk =
        UmbralPublicKey::from_bytes(&hex::decode(&prepared.owner_umbral_key).unwrap()).unwrap();
    let wrapped = WrappedKey::from_parts(
        &hex::decode(&prepared.capsule).unwrap(),
        &hex::decode(&prepared.wrapped_key).unwrap(),
    )
    .unwrap();
    let key = wrap::recover(
        &requester_umbral,
        &owner_pk,
        &signer_pk,
        &wrapped,
        &ev.kfrag,
        &prepared.key_commitment.parse().unwrap(),
    )
    .expect("the requester recovers the session key");
    let mut opened = Vec::new();
    dashledger_protocol::seal::open(
        std::fs::File::open(&prepared.sealed_path).unwrap(),
        &mut opened,
        &key,
    )
    .unwrap();
    assert_eq!(opened, std::fs::read(&segment).unwrap(), "the clip opens");
    mined(RequestContract::new(reqc, &env.provider_for(2)).confirm()).await;

    // Wrong status is a clear error.
    let (ok, _, err) = env.agent(&["approve", "--direct", &reqc.to_string()]);
    assert!(!ok);
    assert!(err.contains("is Completed, not Open"), "{err}");
    // Not a request of this deployment.
    let (ok, _, err) = env.agent(&["approve", "--direct", &owner.to_string()]);
    assert!(!ok);
    assert!(err.contains("is not a request contract"), "{err}");

    // Withdraw: reward + deposit go to the wallet.
    let w0 = env.deployer.get_balance(wallet).await.unwrap();
    let (ok, out, err) = env.agent(&["withdraw", "--direct"]);
    assert!(ok, "withdraw failed: {err}");
    assert_eq!(addr(&out["to"]), wallet);
    assert_eq!(out["total_wei"], (REWARD + MIN_DEPOSIT).to_string());
    assert_eq!(out["withdrawn"].as_array().unwrap().len(), 1);
    let w1 = env.deployer.get_balance(wallet).await.unwrap();
    assert!(w1 > w0, "the wallet received the proceeds: {w0} -> {w1}");
    let owed = RequestContract::new(reqc, &env.deployer)
        .owed(owner)
        .call()
        .await
        .unwrap();
    assert!(owed.is_zero());
    // Nothing left: an empty withdrawal.
    let (ok, out, err) = env.agent(&["withdraw", "--direct"]);
    assert!(ok, "{err}");
    assert_eq!(out["total_wei"], "0");

    // --- Decline.
    let (reqc_b, _) = open_request(&env, 3, ec, REWARD).await;
    let (ok, out, err) = env.agent(&["decline", "--direct", &reqc_b.to_string()]);
    assert!(ok, "decline failed: {err}");
    assert_eq!(addr(&out["request"]), reqc_b);
    assert_eq!(status(&env, reqc_b).await, 2, "Declined");
    let (ok, _, err) = env.agent(&["claim", "--direct", &reqc_b.to_string()]);
    assert!(!ok);
    assert!(err.contains("is Declined, not Responded"), "{err}");

    // --- Claim after the confirm window.
    let (reqc_c, _) = open_request(&env, 4, ec, REWARD).await;
    let deposit = MIN_DEPOSIT * 2;
    let (ok, out, err) = env.agent(&[
        "approve",
        "--direct",
        &reqc_c.to_string(),
        "--deposit-wei",
        &deposit.to_string(),
    ]);
    assert!(ok, "approve failed: {err}");
    assert_eq!(out["deposit_wei"], deposit.to_string());
    let (ok, _, err) = env.agent(&["claim", "--direct", &reqc_c.to_string()]);
    assert!(!ok, "claim inside the confirm window must fail");
    assert!(
        err.contains("confirm window") && err.contains("open until"),
        "{err}"
    );
    env.increase_time(CONFIRM_WINDOW + 1).await;
    let (ok, out, err) = env.agent(&["claim", "--direct", &reqc_c.to_string()]);
    assert!(ok, "claim failed: {err}");
    assert_eq!(out["owed_wei"], (REWARD + deposit).to_string());
    assert_eq!(status(&env, reqc_c).await, 6, "Claimed");
    let sink = Address::repeat_byte(0x5a);
    let (ok, out, err) = env.agent(&["withdraw", "--direct", "--to", &sink.to_string()]);
    assert!(ok, "withdraw failed: {err}");
    assert_eq!(out["total_wei"], (REWARD + deposit).to_string());
    assert_eq!(
        env.deployer.get_balance(sink).await.unwrap(),
        U256::from(REWARD + deposit)
    );

    // --- Auto-approve: above the minimum reward is answered, below is left to the owner.
    let cfg = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!(
            "{cfg}\n[owner]\nauto_approve = true\nauto_approve_min_reward_wei = \"{}\"\npoll_secs = 1\nvia = \"direct\"\n",
            REWARD / 2
        ),
    )
    .unwrap();
    let (reqc_d, _) = open_request(&env, 5, ec, REWARD).await;
    let (reqc_e, _) = open_request(&env, 6, ec, REWARD / 10).await;
    let daemon = common::Daemon::start(&env.config);
    let deadline = Instant::now() + Duration::from_secs(120);
    while status(&env, reqc_d).await != 1 {
        assert!(
            Instant::now() < deadline,
            "request not auto-approved in time"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // One more full pass over both requests after D was answered: E stays Open.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(daemon.stop());
    assert_eq!(
        status(&env, reqc_e).await,
        0,
        "below the minimum stays Open"
    );
    env.cloud.shutdown().await;
}

/// Every transaction on the chain as lowercase text: the transaction, its receipt (logs) and
/// its call trace (internal ETH transfers), so that an address anywhere in them is found.
async fn chain_texts(env: &Env) -> Vec<(String, String)> {
    let latest = env.deployer.get_block_number().await.unwrap();
    let mut out = Vec::new();
    for n in 0..=latest {
        let block = env
            .deployer
            .get_block_by_number(n.into())
            .full()
            .await
            .unwrap()
            .unwrap();
        for tx in block.transactions.txns() {
            let hash = tx.tx_hash();
            let receipt = env
                .deployer
                .get_transaction_receipt(hash)
                .await
                .unwrap()
                .unwrap();
            let trace: serde_json::Value = env
                .deployer
                .raw_request("trace_transaction".into(), (hash,))
                .await
                .expect("anvil answers trace_transaction");
            let text = format!(
                "{}\n{}\n{}",
                serde_json::to_string(tx).unwrap(),
                serde_json::to_string(&receipt).unwrap(),
                trace
            )
            .to_lowercase();
            out.push((format!("{hash:#x}"), text));
        }
    }
    out
}

/// Issue 15's result: two accidents of one device, both shared through the relayer (the
/// default route) and paid out to fresh addresses. The wallet is never funded and the owner
/// keys never send a transaction; no transaction, log or internal transfer on chain names
/// anything of both accidents, nor the wallet, nor the device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relayed_accidents_leave_nothing_on_chain_that_links_them() {
    let mut env = Env::start("", "").await;
    let (first, _) = env.accident().await;
    chain_env::event_segment(&env.agent_root, "normal_dashcam.mp4");
    let daemon = common::Daemon::start(&env.config);
    env.wait_accident_done(2).await;
    assert!(daemon.stop());
    let outbox = dashledger_agent::outbox::Outbox::open(&env.outbox_path()).unwrap();
    let accidents = dashledger_agent::owner::accidents_with_ec(&outbox).unwrap();
    drop(outbox);
    assert_eq!(accidents.len(), 2, "two accidents with an EC");
    let second = accidents
        .iter()
        .find(|p| p.ec_address != first.ec_address)
        .unwrap()
        .clone();
    env.wait_verified_and_listed(&second).await;
    assert_ne!(first.owner, second.owner, "one owner key per accident");
    assert_ne!(
        first.owner_umbral_key, second.owner_umbral_key,
        "one owner Umbral key per accident"
    );

    let mut groups = Vec::new();
    for (i, p) in [&first, &second].into_iter().enumerate() {
        let ec: Address = p.ec_address.as_deref().unwrap().parse().unwrap();
        let owner: Address = p.owner.parse().unwrap();
        // Two requesters (anvil accounts 2 and 3): a requester of both would know both anyway.
        let (reqc, _) = open_request(&env, 2 + i, ec, REWARD).await;
        let (ok, out, err) = env.agent(&["approve", &reqc.to_string()]);
        assert!(ok, "relayed approve failed: {err}");
        assert_eq!(out["via"], "relayer", "{out}");
        assert_eq!(out["funded_wei"], "0", "{out}");
        assert_eq!(
            out["deposit_wei"],
            MIN_DEPOSIT.to_string(),
            "the relayer fronted it: {out}"
        );
        let respond_fee: u64 = out["relayer_fee_wei"].as_str().unwrap().parse().unwrap();
        assert_eq!(status(&env, reqc).await, 1, "Responded");
        mined(RequestContract::new(reqc, &env.provider_for(2 + i)).confirm()).await;
        let payee = PrivateKeySigner::random().address();
        let (ok, out, err) = env.agent(&[
            "withdraw",
            "--request",
            &reqc.to_string(),
            "--to",
            &payee.to_string(),
        ]);
        assert!(ok, "relayed withdraw failed: {err}");
        let paid = &out["withdrawn"][0];
        assert_eq!(
            out["withdrawn"].as_array().unwrap().len(),
            1,
            "only that request: {out}"
        );
        let withdraw_fee: u64 = paid["relayer_fee_wei"].as_str().unwrap().parse().unwrap();
        assert!(respond_fee > 0 && withdraw_fee > 0, "{out}");
        assert_eq!(
            env.deployer.get_balance(payee).await.unwrap(),
            U256::from(REWARD - respond_fee - withdraw_fee),
            "the reward, less the relayer's two fees, at the fresh address"
        );
        assert_eq!(
            env.deployer.get_transaction_count(owner).await.unwrap(),
            0,
            "the owner key sent nothing"
        );
        // What names an accident on chain: its EC, owner key, request, payee and the Umbral
        // key its session key is wrapped to (in the EC's creation log).
        let mut names = [ec, owner, reqc, payee].map(|a| format!("{a:x}")).to_vec();
        names.push(p.owner_umbral_key.trim_start_matches("0x").to_lowercase());
        groups.push(names);
    }
    let wallet = format!("{:x}", env.wallet());
    let device = env.init["device_address"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x")
        .to_lowercase();
    assert_eq!(
        env.deployer.get_balance(env.wallet()).await.unwrap(),
        U256::ZERO,
        "the wallet was never needed"
    );
    let texts = chain_texts(&env).await;
    let mut seen = [0usize; 2];
    for (hash, text) in &texts {
        assert!(
            !text.contains(&wallet),
            "transaction {hash} names the owner wallet"
        );
        assert!(
            !text.contains(&device),
            "transaction {hash} names the device"
        );
        let hits: Vec<bool> = groups
            .iter()
            .map(|g| g.iter().any(|a| text.contains(a.as_str())))
            .collect();
        assert!(
            !(hits[0] && hits[1]),
            "transaction {hash} names something of both accidents"
        );
        for (i, h) in hits.iter().enumerate() {
            seen[i] += usize::from(*h);
        }
    }
    // The scan sees each accident's life (create, verify, request, respond, confirm, withdraw).
    assert!(
        seen.iter().all(|&n| n >= 6),
        "transactions per accident: {seen:?}"
    );
    env.cloud.shutdown().await;
}
