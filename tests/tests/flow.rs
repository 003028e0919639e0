//! The whole flow on real parts, then every way a request can end:
//!
//! * a normal segment gives only an evidence record; the crash segment is detected, sealed, its
//!   EC created (relayed by the cloud), uploaded, verified and listed;
//! * requester A searches, requests with a reward; the owner approves with the agent, relayed
//!   (the EC owner key signs, the cloud sends and fronts the deposit); A fetches (recover key,
//!   confirm, download, open, verify hash); the owner withdraws the reward less the relayer's
//!   fees, relayed, and the owner key never sent a transaction;
//! * requester B's request: a response from someone who is not the owner reverts (`NotOwner`);
//!   the owner approves `--direct`, B stays silent, the owner claims after the confirm window;
//! * A's second request: the owner never answers, A cancels after the response window and is
//!   refunded;
//! * B's second request: the owner answers with a wrong kfrag, B's `fetch` disputes, the cloud's
//!   dispute endpoint resolves it for B, who withdraws reward + deposit + the dispute bond.
//!
//! Balances are checked to the wei against what the contracts say (fees from the receipts).
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

use std::time::Duration;

use anyhow::Context;
use dashledger_e2e::agent::{self, Agent};
use dashledger_e2e::cloud::Cloud;
use dashledger_e2e::devnet::{ANVIL_ADDRESSES, ANVIL_KEYS, Devnet};
use dashledger_e2e::requester::Requester;
use dashledger_e2e::{media, proc};

const ETH: u128 = 1_000_000_000_000_000_000;
const REWARD: &str = "0.05";
const REWARD_WEI: u128 = ETH / 20;

// RequestContract status numbers (docs/contracts.md).
const OPEN: u128 = 0;
const RESPONDED: u128 = 1;
const CANCELLED: u128 = 3;
const COMPLETED: u128 = 4;
const DISPUTED: u128 = 5;
const CLAIMED: u128 = 6;
const RESOLVED_FOR_REQUESTER: u128 = 8;

// Fresh payees for the owner's withdrawals (balance 0 on a new chain).
const PAYEE_1: &str = "0x00000000000000000000000000000000e2e00001";
const PAYEE_2: &str = "0x00000000000000000000000000000000e2e00002";

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[test]
fn full_flow_and_every_request_outcome() -> anyhow::Result<()> {
    let work = dashledger_e2e::scratch("flow")?;
    let w = work.path();
    let devnet = Devnet::start(&w.join("chain"))?;
    let mut cloud = Cloud::new(&w.join("cloud"), &devnet)?;
    cloud.start()?;

    let start = media::yesterday_at(10 * 60);
    let segments = media::segments(start, 1)?;
    let [normal, crash] = segments.as_slice() else {
        anyhow::bail!("expected one normal and one crash segment, got {segments:?}")
    };
    let crash_name = crash
        .file_name()
        .context("segment name")?
        .to_string_lossy()
        .into_owned();

    let mut agent = Agent::init(&w.join("agent"), &cloud.url, &devnet, "", true)?;
    // The motion channel: both minutes of driving (with a hard braking in each), and an impact
    // at 46.5 s of the crash minute, when its crash sounds start.
    let feed = w.join("agent").join("imu.csv");
    media::write_motion_feed(&feed, start, 120, Some((start + 60) as f64 + 46.5))?;
    agent.use_motion_feed(&feed)?;
    cloud.approve_device(&agent.device, "e2e flow")?;
    agent.start()?;
    agent.deliver(normal)?;
    agent.deliver(crash)?;

    // Both records at the cloud, both segments analysed, the accident done (uploaded).
    let accident = proc::wait_for(
        "two records sent and the accident uploaded",
        Duration::from_secs(900),
        || {
            agent.ensure_running()?;
            cloud.ensure_running()?;
            let sent =
                agent.query("SELECT count(*) AS n FROM records WHERE sent_at IS NOT NULL")?;
            let pending =
                agent.query("SELECT count(*) AS n FROM segments WHERE detect_state = 'pending'")?;
            let accidents = agent.accidents()?;
            let done = !accidents.is_empty() && accidents.iter().all(|a| a["stage"] == "done");
            Ok((sent[0]["n"] == 2 && pending[0]["n"] == 0 && done).then_some(accidents))
        },
    )
    .with_context(|| agent.logs_with(&cloud))?;
    let detect =
        agent.query("SELECT name, detect_state, p_image, p_audio FROM segments ORDER BY id")?;
    assert_eq!(
        detect[1]["detect_state"], "accident",
        "the crash segment is detected: {detect:?}"
    );
    assert_eq!(
        detect[0]["detect_state"], "normal",
        "the normal segment gives only an evidence record: {detect:?}"
    );
    assert_eq!(accident.len(), 1, "one accident only: {accident:?}");
    // The decisions kept with the segments: all three channels; the braking is not an
    // impact, the crash minute's impact is, in its second.
    let decisions = agent.query("SELECT decision FROM segments ORDER BY id")?;
    let decision = |i: usize| -> anyhow::Result<serde_json::Value> {
        let text = decisions[i]["decision"]
            .as_str()
            .with_context(|| format!("segment {i} has no decision: {decisions:?}"))?;
        Ok(serde_json::from_str(text)?)
    };
    for i in 0..2 {
        let d = decision(i)?;
        let channels = &d["decision"]["channels"];
        assert!(
            channels["image"] == true && channels["audio"] == true && channels["motion"] == true,
            "segment {i}: {d}"
        );
        let motion = d["motion"].as_array().context("motion seconds")?;
        assert!(
            (59..=61).contains(&motion.len()),
            "segment {i}: {} seconds",
            motion.len()
        );
    }
    let normal_d = decision(0)?;
    assert!(
        normal_d["decision"]["max_motion"].as_f64().unwrap_or(1.0) < 0.5,
        "normal minute: {normal_d}"
    );
    let crash_d = decision(1)?;
    let motion = crash_d["motion"].as_array().context("motion seconds")?;
    let over: Vec<u64> = motion
        .iter()
        .filter(|m| m["score"].as_f64().is_some_and(|s| s >= 0.5))
        .filter_map(|m| m["second"].as_i64())
        .map(|s| (s - (start as i64 + 60)) as u64)
        .collect();
    assert_eq!(over, vec![46], "crash minute's motion: {crash_d}");
    let crash_accident = accident
        .iter()
        .find(|a| a["name"] == crash_name.as_str())
        .context("the crash segment's accident")?;
    let detail = &crash_accident["detail"];
    let ec = detail["ec_address"]
        .as_str()
        .context("accident has no EC address")?
        .to_owned();
    let video_hash = detail["video_hash"]
        .as_str()
        .context("no video hash")?
        .to_owned();

    // The cloud verifies the EC (on chain) and lists it.
    proc::wait_for(
        "the EC to be Verified and listed",
        Duration::from_secs(120),
        || {
            cloud.ensure_running()?;
            let verified = devnet.call_u128(&ec, "status()(uint8)", &[])? == 1;
            Ok((verified && cloud.get(&format!("/v1/clips/{ec}"))?.status == 200).then_some(()))
        },
    )
    .with_context(|| format!("cloud log:\n{}", cloud.log_tail()))?;
    let device_at_cloud =
        cloud.admin("GET", &format!("/v1/admin/devices/{}", agent.device), None)?;
    assert_eq!(
        device_at_cloud["last_seq"], 1,
        "two records (seq 0, 1): {device_at_cloud}"
    );

    // Requester A searches and requests.
    let a = Requester::new(
        ANVIL_KEYS[2],
        ANVIL_ADDRESSES[2],
        &w.join("requester-a"),
        &devnet,
        &cloud.url,
    );
    let b = Requester::new(
        ANVIL_KEYS[3],
        ANVIL_ADDRESSES[3],
        &w.join("requester-b"),
        &devnet,
        &cloud.url,
    );
    let (from, to) = ((start - 60).to_string(), (start + 180).to_string());
    let (lat, lon) = (agent::LAT.to_string(), agent::LON.to_string());
    let hits = a.json(&[
        "search",
        "--from",
        &from,
        "--to",
        &to,
        "--lat",
        &lat,
        "--lon",
        &lon,
        "--radius-m",
        "2000",
    ])?;
    let hits = hits.as_array().context("search printed no array")?;
    assert!(
        hits.iter()
            .any(|h| h["ec"].as_str().is_some_and(|e| same(e, &ec))),
        "search finds the EC {ec}: {hits:?}"
    );

    if !agent.has_owner_commands() {
        eprintln!("SKIPPED the owner part: this dashledger-agent has no `approve` command yet");
        return Ok(());
    }
    if let Some(wallet) = &agent.wallet {
        devnet.fund(4, wallet, ETH)?;
    }
    let min_deposit: u128 = devnet.deployment["minDepositWei"]
        .as_str()
        .context("minDepositWei")?
        .parse()?;
    let response_window = devnet.deployment["responseWindow"]
        .as_u64()
        .context("responseWindow")?;
    let confirm_window = devnet.deployment["confirmWindow"]
        .as_u64()
        .context("confirmWindow")?;

    // --- A: request → approve → fetch (confirm, download, open, verify) → owner withdraws.
    let a0 = devnet.balance(&a.address)?;
    let req = a.json(&["request", &ec, "--reward", REWARD])?;
    let reqc = req["reqc"]
        .as_str()
        .context("request printed no reqc")?
        .to_owned();
    let mut a_fees = Devnet::fee(&devnet.receipt(req["tx"].as_str().context("no tx")?)?)?;
    assert_eq!(
        devnet.balance(&reqc)?,
        REWARD_WEI,
        "the REQC holds the reward"
    );
    assert_eq!(devnet.call_u128(&reqc, "status()(uint8)", &[])?, OPEN);

    // Relayed (the default): the owner key signs, the cloud sends and fronts the deposit.
    let approved = agent.cmd_json(&["approve", &reqc])?;
    assert_eq!(approved["via"], "relayer", "{approved}");
    let respond_fee: u128 = approved["relayer_fee_wei"]
        .as_str()
        .context("relayer_fee_wei")?
        .parse()?;
    assert_eq!(devnet.call_u128(&reqc, "status()(uint8)", &[])?, RESPONDED);
    let deposit = devnet.call_u128(&reqc, "deposit()(uint256)", &[])?;
    assert!(
        deposit >= min_deposit,
        "deposit {deposit} ≥ minDeposit {min_deposit}"
    );
    assert_eq!(
        devnet.balance(&reqc)?,
        REWARD_WEI + deposit,
        "the REQC holds reward + deposit"
    );

    let clip = w.join("clip.mp4");
    let fetched = a.json(&[
        "fetch",
        &reqc,
        "--out",
        clip.to_str().context("utf-8 path")?,
    ])?;
    assert_eq!(fetched["result"], "verified", "{fetched}");
    assert!(
        same(fetched["video_hash"].as_str().unwrap_or(""), &video_hash),
        "{fetched} vs {video_hash}"
    );
    assert!(
        std::fs::read(&clip)? == std::fs::read(crash)?,
        "the opened clip is the crash segment, byte for byte"
    );
    if let Some(tx) = fetched["confirm_tx"].as_str() {
        a_fees += Devnet::fee(&devnet.receipt(tx)?)?;
    }
    assert_eq!(devnet.call_u128(&reqc, "status()(uint8)", &[])?, COMPLETED);
    let owner = devnet.call(&reqc, "owner()(address)", &[])?;
    assert_eq!(
        devnet.call_u128(&reqc, "owed(address)(uint256)", &[&owner])?,
        REWARD_WEI - respond_fee,
        "the relayer is owed the deposit it fronted and its fee"
    );
    let a1 = devnet.balance(&a.address)?;
    assert_eq!(
        a1 + REWARD_WEI + a_fees,
        a0,
        "A paid exactly reward + gas: before {a0}, after {a1}, fees {a_fees}"
    );

    let withdrawn = agent.cmd_json(&["withdraw", "--to", PAYEE_1])?;
    let withdraw_fee: u128 = withdrawn["withdrawn"][0]["relayer_fee_wei"]
        .as_str()
        .context("relayer_fee_wei")?
        .parse()?;
    assert_eq!(
        devnet.balance(PAYEE_1)?,
        REWARD_WEI - respond_fee - withdraw_fee,
        "the owner withdrew the reward less the relayer's fees"
    );
    assert_eq!(
        devnet.nonce(&owner)?,
        0,
        "the EC owner key never sent a transaction"
    );
    assert_eq!(devnet.balance(&reqc)?, 0);
    assert_eq!(
        devnet.call_u128(&reqc, "owed(address)(uint256)", &[&owner])?,
        0
    );

    // --- B: a non-owner's response reverts; owner approves; B silent; owner claims.
    let reqc2 = b.json(&["request", &ec, "--reward", REWARD])?["reqc"]
        .as_str()
        .context("reqc")?
        .to_owned();
    let kfrag = format!("0x{}", "11".repeat(200));
    let umbral = format!("0x02{}", "22".repeat(32));
    let not_owner = devnet
        .send(
            ANVIL_KEYS[0],
            &reqc2,
            "respond(bytes,bytes,string)",
            &[&kfrag, &umbral, "x"],
            min_deposit,
        )
        .expect_err("a response from someone who is not the owner reverts");
    let selector = "0x23295f0e"; // `cast sig "NotOwner(address,address)"`
    assert!(
        format!("{not_owner:#}").contains(selector.trim_start_matches("0x"))
            || format!("{not_owner:#}").contains("NotOwner"),
        "the revert is NotOwner ({selector}): {not_owner:#}"
    );
    assert_eq!(
        devnet.call_u128(&reqc2, "status()(uint8)", &[])?,
        OPEN,
        "nothing changed"
    );

    // Direct (`--direct`): the owner key sends, funded from the owner wallet.
    agent.cmd_json(&["approve", "--direct", &reqc2])?;
    assert_eq!(devnet.call_u128(&reqc2, "status()(uint8)", &[])?, RESPONDED);
    let deposit2 = devnet.call_u128(&reqc2, "deposit()(uint256)", &[])?;
    assert!(
        agent.cmd(&["claim", "--direct", &reqc2]).is_err(),
        "no claim while the confirm window is open"
    );
    devnet.advance(confirm_window + 1)?;
    agent.cmd_json(&["claim", "--direct", &reqc2])?;
    assert_eq!(devnet.call_u128(&reqc2, "status()(uint8)", &[])?, CLAIMED);
    agent.cmd_json(&["withdraw", "--direct", "--to", PAYEE_2])?;
    assert_eq!(
        devnet.balance(PAYEE_2)?,
        REWARD_WEI + deposit2,
        "claimed reward + deposit withdrawn"
    );

    // --- A again: the owner never answers; A cancels after the window and is refunded.
    let reqc3 = a.json(&["request", &ec, "--reward", REWARD])?["reqc"]
        .as_str()
        .context("reqc")?
        .to_owned();
    let early = a.run(&["cancel", &reqc3])?;
    assert!(
        !early.status.success(),
        "no cancel inside the response window"
    );
    devnet.advance(response_window + 1)?;
    a.json(&["cancel", &reqc3])?;
    assert_eq!(devnet.call_u128(&reqc3, "status()(uint8)", &[])?, CANCELLED);
    let before = devnet.balance(&a.address)?;
    let out = a.json(&["withdraw", &reqc3])?;
    let tx = out["withdrawals"][0]["tx"]
        .as_str()
        .context("withdraw printed no tx")?;
    let fee = Devnet::fee(&devnet.receipt(tx)?)?;
    assert_eq!(
        devnet.balance(&a.address)?,
        before + REWARD_WEI - fee,
        "A got the reward back"
    );
    assert_eq!(devnet.balance(&reqc3)?, 0);

    // --- B again: a wrong kfrag → B's fetch disputes → the cloud resolves for B.
    let reqc4 = b.json(&["request", &ec, "--reward", REWARD])?["reqc"]
        .as_str()
        .context("reqc")?
        .to_owned();
    respond_with_wrong_kfrag(&devnet, &agent, &ec, &reqc4, detail, min_deposit)?;
    assert_eq!(devnet.call_u128(&reqc4, "status()(uint8)", &[])?, RESPONDED);
    let out = b.run(&[
        "fetch",
        &reqc4,
        "--out",
        w.join("clip4.mp4").to_str().context("utf-8")?,
    ])?;
    assert_eq!(
        out.status.code(),
        Some(3),
        "fetch exits 3 on a wrong kfrag: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!w.join("clip4.mp4").exists(), "nothing written");
    assert_eq!(devnet.call_u128(&reqc4, "status()(uint8)", &[])?, DISPUTED);
    let resolved = proc::http(
        "POST",
        &format!("{}/v1/disputes/{reqc4}", cloud.url),
        &[],
        &[],
    )?
    .ok()?
    .json()?;
    assert_eq!(resolved["kfrag_valid"], false, "{resolved}");
    assert_eq!(
        devnet.call_u128(&reqc4, "status()(uint8)", &[])?,
        RESOLVED_FOR_REQUESTER
    );
    let deposit4 = devnet.call_u128(&reqc4, "deposit()(uint256)", &[])?;
    let bond4 = devnet.call_u128(&reqc4, "bond()(uint256)", &[])?;
    assert!(bond4 > 0, "B paid the dispute bond");
    let before = devnet.balance(&b.address)?;
    let out = b.json(&["withdraw", &reqc4])?;
    let fee =
        Devnet::fee(&devnet.receipt(out["withdrawals"][0]["tx"].as_str().context("no tx")?)?)?;
    assert_eq!(
        devnet.balance(&b.address)?,
        before + REWARD_WEI + deposit4 + bond4 - fee,
        "B got reward + deposit + its bond back"
    );
    Ok(())
}

/// The owner (keys from the agent's keystore) answers with a kfrag made for someone else's
/// Umbral key: well formed and signed by the EC owner, but useless to the requester.
fn respond_with_wrong_kfrag(
    devnet: &Devnet,
    agent: &Agent,
    ec: &str,
    reqc: &str,
    detail: &serde_json::Value,
    deposit: u128,
) -> anyhow::Result<()> {
    use dashledger_protocol::{keys, wrap};
    let secrets = keys::load_keystore(agent.dir.join("keystore.json"), agent::PASSWORD.as_bytes())?;
    let index = u32::try_from(
        detail["owner_index"]
            .as_u64()
            .context("accident has no owner_index")?,
    )?;
    let owner = secrets.owner_seed().owner_key(index)?;
    let ec_owner = devnet.call(ec, "owner()(address)", &[])?;
    assert!(
        same(&owner.address().to_string(), &ec_owner),
        "owner key {index} owns the EC"
    );
    let signer = owner.kfrag_signer();
    let stranger = wrap::UmbralSecretKey::generate().public_key();
    let kfrag = wrap::grant(
        &secrets.owner_seed().owner_umbral_key(index)?,
        &signer,
        &stranger,
    );
    let owner_key = format!("0x{}", hex::encode(owner.signer().to_bytes()));
    devnet.fund(4, &owner.address().to_string(), ETH / 10)?;
    devnet.send(
        &owner_key,
        reqc,
        "respond(bytes,bytes,string)",
        &[
            &format!("0x{}", hex::encode(&kfrag)),
            &format!("0x{}", hex::encode(signer.verifying_key().to_bytes())),
            "e2e",
        ],
        deposit,
    )?;
    Ok(())
}
