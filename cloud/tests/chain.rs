//! Verifier, relayer, indexer (with a reorg), gated download and dispute resolution on anvil with
//! the real contracts (bytecode from the forge artifacts in protocol/abi).
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

mod common;

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes as ABytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use common::{DeviceChain, TestServer, expect_error};
use dashledger_cloud::chain::bindings::{
    EvidenceContract, EvidenceFactory, IEvidenceFactory, RequestContract, RequestFactory,
};
use dashledger_protocol::eip712::{Evidence, sign_create_evidence};
use dashledger_protocol::frames::{encode_leaves, frames_root};
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::wrap;
use dashledger_testkit::mined;
use reqwest::Method;
use serde_json::{Value, json};

type Net = dashledger_testkit::Chain;

async fn net() -> Net {
    Net::start().await
}

async fn cloud_on(net: &Net, extra: &[&str]) -> TestServer {
    let mut o = vec![
        format!("chain.rpc_url={}", net.endpoint()),
        format!("chain.deployment_file={}", net.deployment_file.display()),
        format!("chain.signer_key_file={}", net.verifier_key_file.display()),
        "chain.confirmations=0".to_string(),
        "chain.poll_interval_ms=200".to_string(),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = o.iter().map(String::as_str).collect();
    TestServer::start(common::Backend::Sqlite, &refs)
        .await
        .unwrap()
}

fn jpeg(tag: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend_from_slice(tag.as_bytes());
    v
}

/// Everything an agent produces for one accident.
struct Accident {
    segment: Vec<u8>,
    sealed: Vec<u8>,
    thumb: Vec<u8>,
    leaves: Vec<B256>,
    owner_umbral: wrap::UmbralSecretKey,
    evidence: Evidence,
}

fn accident(tag: &str, lie_about_cipher: bool) -> Accident {
    let segment = format!("segment {tag}").repeat(1000).into_bytes();
    let session = dashledger_protocol::seal::SessionKey::generate();
    let mut sealed = Vec::new();
    dashledger_protocol::seal::seal(&segment[..], &mut sealed, &session).unwrap();
    let owner_umbral = wrap::UmbralSecretKey::generate();
    let wrapped = wrap::wrap(&owner_umbral.public_key(), &session).unwrap();
    let thumb = jpeg(tag);
    let leaves: Vec<B256> = (0..60u32).map(|i| keccak256(format!("{tag}{i}"))).collect();
    let evidence = Evidence {
        videoHash: keccak256(&segment),
        cipherHash: if lie_about_cipher {
            keccak256(b"something else")
        } else {
            keccak256(&sealed)
        },
        frameHash: keccak256(&thumb),
        framesRoot: frames_root(&leaves).unwrap(),
        keyCommitment: session.commitment(),
        recordedAt: common::now() - 120,
        latitude: 48_856_600,
        longitude: 2_352_200,
        capsule: ABytes::from(wrapped.capsule_bytes()),
        wrappedKey: ABytes::from(wrapped.ciphertext().to_vec()),
        ownerUmbralKey: ABytes::from(owner_umbral.public_key().to_bytes().to_vec()),
    };
    Accident {
        segment,
        sealed,
        thumb,
        leaves,
        owner_umbral,
        evidence,
    }
}

fn evidence_json(e: &Evidence) -> Value {
    json!({
        "videoHash": e.videoHash, "cipherHash": e.cipherHash, "frameHash": e.frameHash, "framesRoot": e.framesRoot,
        "keyCommitment": e.keyCommitment, "recordedAt": e.recordedAt, "latitude": e.latitude, "longitude": e.longitude,
        "capsule": e.capsule, "wrappedKey": e.wrappedKey, "ownerUmbralKey": e.ownerUmbralKey,
    })
}

async fn relay(
    s: &TestServer,
    net: &Net,
    device: &PrivateKeySigner,
    owner: &PrivateKeySigner,
    e: &Evidence,
) -> reqwest::Response {
    let deadline = common::now() + 600;
    let sig =
        sign_create_evidence(owner, e, U256::from(deadline), 31337, net.evidence_factory).unwrap();
    let body = json!({"evidence": evidence_json(e), "owner": owner.address(), "deadline": deadline, "signature": format!("0x{}", hex::encode(sig))});
    s.signed(
        device,
        Method::POST,
        "/v1/relay/evidence",
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

async fn upload(s: &TestServer, device: &PrivateKeySigner, ec: &str, a: &Accident) {
    let body = json!({
        "ec_address": ec, "size": a.sealed.len(),
        "leaves": format!("0x{}", hex::encode(encode_leaves(&a.leaves))),
        "frames_root": frames_root(&a.leaves).unwrap(),
    });
    let up: Value = s
        .signed(
            device,
            Method::POST,
            "/v1/uploads",
            serde_json::to_vec(&body).unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = up["upload_id"].as_str().expect("upload opened").to_string();
    let r = s
        .client
        .put(s.u(&format!("/v1/uploads/{id}/chunks/0")))
        .header("content-type", "application/octet-stream")
        .body(a.sealed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .put(s.u(&format!("/v1/uploads/{id}/thumbnails/first")))
        .header("content-type", "image/jpeg")
        .body(a.thumb.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .post(s.u(&format!("/v1/uploads/{id}/complete")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Opens a request; its address comes from the `RequestOpened` log (a simulation cannot know the
/// block timestamp that goes into the CREATE2 arguments).
async fn open_request(
    rf: &RequestFactory::RequestFactoryInstance<&DynProvider>,
    ec: Address,
    requester_umbral: &wrap::UmbralSecretKey,
    reward: U256,
) -> Address {
    let receipt = mined(
        rf.createRequest(
            ec,
            ABytes::from(requester_umbral.public_key().to_bytes().to_vec()),
        )
        .value(reward),
    )
    .await;
    receipt
        .decoded_log::<dashledger_cloud::chain::bindings::ResponseContract::RequestOpened>()
        .map(|l| l.data.reqc)
        .expect("RequestOpened in the receipt")
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `device` relays an EC for `a` (a fresh owner key signs it) and uploads its clip; the verifier
/// must reject it with `reason`.
async fn relayed_and_rejected(
    s: &TestServer,
    net: &Net,
    device: &PrivateKeySigner,
    a: &Accident,
    reason: &str,
) -> Address {
    let r = relay(s, net, device, &PrivateKeySigner::random(), &a.evidence).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let ec: Address = r.json::<Value>().await.unwrap()["ec_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    upload(s, device, &format!("{ec:#x}"), a).await;
    let contract = EvidenceContract::new(ec, &net.deployer);
    wait_for(&format!("the EC to be rejected ({reason})"), || async {
        contract.status().call().await.unwrap() == 2
    })
    .await;
    let got = contract.rejectReason().call().await.unwrap();
    assert_eq!(&got[..reason.len()], reason.as_bytes());
    assert!(got[reason.len()..].iter().all(|b| *b == 0), "{got}");
    ec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifier_relayer_requests_download_dispute() {
    let net = net().await;
    let s = cloud_on(&net, &["chain.relay_per_device_per_hour=3"]).await;
    let mut dev = DeviceChain::new();
    s.approve_device(&dev.key).await;

    // --- A true accident: record sent first, EC relayed, clip uploaded → verified and listed.
    let good = accident("good", false);
    let rec = dev.next(&good.segment);
    let good_record = rec.encode().to_vec();
    send_record(&s, &rec).await;
    let owner = PrivateKeySigner::random();
    let r = relay(&s, &net, &dev.key, &owner, &good.evidence).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let ec_good = r.json::<Value>().await.unwrap()["ec_address"]
        .as_str()
        .unwrap()
        .to_string();
    // A replayed relay (same EC) is refused as a client error, not a 5xx.
    expect_error(
        relay(&s, &net, &dev.key, &owner, &good.evidence).await,
        422,
        "would_revert",
    )
    .await;
    upload(&s, &dev.key, &ec_good, &good).await;
    wait_for("the good EC to be listed", || async {
        s.client
            .get(s.u(&format!("/v1/clips/{ec_good}")))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    let ec_addr: Address = ec_good.parse().unwrap();
    assert_eq!(
        EvidenceContract::new(ec_addr, &net.deployer)
            .status()
            .call()
            .await
            .unwrap(),
        1,
        "Verified on chain"
    );
    let page: Value = s
        .client
        .get(s.u(&format!(
            "/v1/clips?from={}&to={}&lat=48.8566&lon=2.3522&radius_m=1000",
            common::now() - 3600,
            common::now()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["ec_address"], ec_good.as_str(), "{page}");
    let th = s
        .client
        .get(s.u(&format!("/v1/clips/{ec_good}/thumbnails/first")))
        .send()
        .await
        .unwrap();
    assert_eq!(th.bytes().await.unwrap().to_vec(), good.thumb);

    // --- An EC whose cipherHash does not match the upload → rejected with the reason.
    let bad = accident("bad", true);
    let rec = dev.next(&bad.segment);
    send_record(&s, &rec).await;
    relayed_and_rejected(&s, &net, &dev.key, &bad, "cipher-hash-mismatch").await;

    // --- An EC whose video was never announced in an evidence record → rejected.
    let unseen = accident("unseen", false);
    relayed_and_rejected(&s, &net, &dev.key, &unseen, "video-hash-unknown").await;

    // --- Another approved device copies the good clip's hash into its own records (after the
    // camera that recorded it) and relays its own EC for it → rejected, the good one stays listed.
    let mut copier = DeviceChain::new();
    s.approve_device(&copier.key).await;
    let mut copied = accident("copied", false);
    copied.evidence.videoHash = good.evidence.videoHash;
    let rec = copier.next(&good.segment);
    send_record(&s, &rec).await;
    relayed_and_rejected(&s, &net, &copier.key, &copied, "video-hash-not-first").await;
    assert_eq!(
        EvidenceContract::new(ec_addr, &net.deployer)
            .status()
            .call()
            .await
            .unwrap(),
        1,
        "the camera's own EC stays verified"
    );

    // --- Rate limit: the fourth relay this hour is refused.
    let extra = accident("extra", false);
    expect_error(
        relay(
            &s,
            &net,
            &dev.key,
            &PrivateKeySigner::random(),
            &extra.evidence,
        )
        .await,
        429,
        "rate_limited",
    )
    .await;

    // --- Requests: a requester opens a REQC on the good EC.
    let requester = net.key(2);
    let requester_p = net.provider_for(&requester);
    let req_umbral = wrap::UmbralSecretKey::generate();
    let rf = RequestFactory::new(net.request_factory, &requester_p);
    let reward = U256::from(10u64.pow(17));
    let reqc = open_request(&rf, ec_addr, &req_umbral, reward).await;
    let owner_path = "/v1/owner/requests";
    wait_for("the request to be indexed", || async {
        let v: Value = s
            .signed(&owner, Method::GET, owner_path, Vec::new())
            .await
            .json()
            .await
            .unwrap();
        v.as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["state"] == "Open")
    })
    .await;

    // Download before completion: refused; by someone else: refused.
    let dl_path = format!("/v1/clips/{ec_good}/download?reqc={reqc:#x}");
    expect_error(
        s.signed(&requester, Method::GET, &dl_path, Vec::new())
            .await,
        403,
        "not_completed",
    )
    .await;

    let rec_path = format!("/v1/clips/{ec_good}/records?reqc={reqc:#x}");
    expect_error(
        s.signed(&requester, Method::GET, &rec_path, Vec::new())
            .await,
        403,
        "not_completed",
    )
    .await;

    // The owner responds with a real kfrag (funded owner account), the requester confirms.
    net.fund(owner.address(), U256::from(10u64.pow(18))).await;
    let owner_p = net.provider_for(&owner);
    let owner_key_bytes: [u8; 32] = owner.to_bytes().0;
    let kfrag_signer = wrap::KfragSigner::from_secret_bytes(&owner_key_bytes).unwrap();
    let kfrag = wrap::grant(&good.owner_umbral, &kfrag_signer, &req_umbral.public_key());
    let rc_owner = RequestContract::new(reqc, &owner_p);
    let deposit = U256::from(10u64.pow(16));
    mined(
        rc_owner
            .respond(
                ABytes::from(kfrag),
                ABytes::from(kfrag_signer.verifying_key().to_bytes().to_vec()),
                format!("{}{dl_path}", s.url),
            )
            .value(deposit),
    )
    .await;
    let rc_req = RequestContract::new(reqc, &requester_p);
    mined(rc_req.confirm()).await;

    expect_error(
        s.signed(
            &PrivateKeySigner::random(),
            Method::GET,
            &dl_path,
            Vec::new(),
        )
        .await,
        403,
        "not_requester",
    )
    .await;
    // The device's records around the segment: to the requester only, label withheld.
    expect_error(
        s.signed(
            &PrivateKeySigner::random(),
            Method::GET,
            &rec_path,
            Vec::new(),
        )
        .await,
        403,
        "not_requester",
    )
    .await;
    expect_error(
        s.signed(
            &requester,
            Method::GET,
            &format!("{rec_path}&around=31"),
            Vec::new(),
        )
        .await,
        400,
        "invalid_around",
    )
    .await;
    let v: Value = s
        .signed(&requester, Method::GET, &rec_path, Vec::new())
        .await
        .json()
        .await
        .unwrap();
    let recs = hex::decode(v["records"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    assert_eq!(v["segment_seq"], 0, "{v}");
    assert_eq!(recs.len() % 161, 0, "{v}");
    assert_eq!(
        &recs[..161],
        &good_record[..],
        "the good segment's record as the device signed it"
    );
    assert_eq!(
        v["device"]["address"],
        format!("{:#x}", dev.key.address()),
        "{v}"
    );
    assert!(v["device"].get("label").is_none(), "{v}");
    let r = s
        .signed(&requester, Method::GET, &dl_path, Vec::new())
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        good.sealed,
        "the download is the sealed clip"
    );
    // Range request.
    let parts = dashledger_protocol::auth::RequestParts {
        chain_id: 31337,
        method: "GET",
        path: &dl_path,
        body: b"",
    };
    let h =
        dashledger_protocol::auth::sign_request(&requester, &parts, common::now() + 60).unwrap();
    let mut req = s.client.get(s.u(&dl_path)).header("range", "bytes=10-109");
    for (k, v) in h.to_pairs() {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 10-109/{}", good.sealed.len()).as_str()
    );
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        good.sealed[10..110].to_vec()
    );
    wait_for("Completed to be indexed", || async {
        let v: Value = s
            .signed(&owner, Method::GET, owner_path, Vec::new())
            .await
            .json()
            .await
            .unwrap();
        v[0]["state"] == "Completed"
    })
    .await;

    // --- Dispute: a second request answered with a bogus kfrag → resolved for the requester.
    let reqc2 = open_request(&rf, ec_addr, &req_umbral, reward).await;
    let other_umbral = wrap::UmbralSecretKey::generate();
    let wrong_kfrag = wrap::grant(&other_umbral, &kfrag_signer, &req_umbral.public_key()); // wrong delegator
    RequestContract::new(reqc2, &owner_p)
        .respond(
            ABytes::from(wrong_kfrag),
            ABytes::from(kfrag_signer.verifying_key().to_bytes().to_vec()),
            "x".into(),
        )
        .value(deposit)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    expect_error(
        s.client
            .post(s.u(&format!("/v1/disputes/{reqc2:#x}")))
            .send()
            .await
            .unwrap(),
        409,
        "not_disputed",
    )
    .await;
    let bond = RequestContract::new(reqc2, &requester_p)
        .disputeBond()
        .call()
        .await
        .unwrap();
    mined(
        RequestContract::new(reqc2, &requester_p)
            .dispute()
            .value(bond),
    )
    .await;
    let v: Value = s
        .client
        .post(s.u(&format!("/v1/disputes/{reqc2:#x}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["kfrag_valid"], false, "{v}");
    assert_eq!(
        RequestContract::new(reqc2, &requester_p)
            .status()
            .call()
            .await
            .unwrap(),
        8,
        "ResolvedForRequester"
    );
    expect_error(
        s.client
            .post(s.u(&format!("/v1/disputes/{:#x}", Address::repeat_byte(7))))
            .send()
            .await
            .unwrap(),
        404,
        "unknown_request",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexer_follows_reorgs_and_survives_restart() {
    let net = net().await;
    let dir = tempfile::tempdir().unwrap();
    let overrides = vec![
        format!("data_dir={}", dir.path().display()),
        format!("chain.rpc_url={}", net.endpoint()),
        format!("chain.deployment_file={}", net.deployment_file.display()),
        format!("chain.signer_key_file={}", net.verifier_key_file.display()),
        "chain.confirmations=0".to_string(),
    ];
    let cfg = dashledger_cloud::config::Config::load(None, Vec::new(), &overrides).unwrap();
    let st = dashledger_cloud::build_state(cfg.clone(), Vec::new())
        .await
        .unwrap();
    let chain = st.chain.clone().unwrap();
    let verifier_p = net.provider_for(&net.verifier_key);

    // Create and verify an EC directly (owner = deployer account), then index.
    let e = accident("reorg", false).evidence;
    let params = IEvidenceFactory::EvidenceParams {
        videoHash: e.videoHash,
        cipherHash: e.cipherHash,
        frameHash: e.frameHash,
        framesRoot: e.framesRoot,
        keyCommitment: e.keyCommitment,
        recordedAt: e.recordedAt,
        latitude: e.latitude,
        longitude: e.longitude,
        capsule: e.capsule,
        wrappedKey: e.wrappedKey,
        ownerUmbralKey: e.ownerUmbralKey,
    };
    let f = EvidenceFactory::new(net.evidence_factory, &net.deployer);
    let ec: Address = f.createEvidence(params.clone()).call().await.unwrap();
    f.createEvidence(params)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let step = dashledger_cloud::chain::indexer::run_once(&st.store, &chain)
        .await
        .unwrap();
    assert_eq!(step.events, 0, "nothing listed yet");
    mined(EvidenceContract::new(ec, &verifier_p).verify()).await;
    let step = dashledger_cloud::chain::indexer::run_once(&st.store, &chain)
        .await
        .unwrap();
    assert_eq!(step.events, 1, "{step:?}");
    let listed = |st: std::sync::Arc<dashledger_cloud::state::AppState>| async move {
        sqlx::query_scalar::<_, String>("SELECT ec_address FROM listings")
            .fetch_all(st.store.pool())
            .await
            .unwrap()
    };
    assert_eq!(listed(st.clone()).await, vec![format!("{ec:#x}")]);

    // Restart: progress persists (nothing re-applied).
    st.store.close().await;
    let st = dashledger_cloud::build_state(cfg.clone(), Vec::new())
        .await
        .unwrap();
    let step = dashledger_cloud::chain::indexer::run_once(&st.store, &chain)
        .await
        .unwrap();
    assert_eq!((step.events, step.rewound_to), (0, None), "{step:?}");

    // Reorg the verification away: the listing disappears.
    let head = net.deployer.get_block_number().await.unwrap();
    let _: serde_json::Value = net
        .deployer
        .raw_request(
            "anvil_reorg".into(),
            (2u64, Vec::<serde_json::Value>::new()),
        )
        .await
        .unwrap();
    assert_eq!(
        net.deployer.get_block_number().await.unwrap(),
        head,
        "same height, other blocks"
    );
    let step = dashledger_cloud::chain::indexer::run_once(&st.store, &chain)
        .await
        .unwrap();
    assert!(step.rewound_to.is_some(), "reorg detected: {step:?}");
    assert!(
        listed(st.clone()).await.is_empty(),
        "listing of the reorged-away block removed"
    );
    assert!(
        !dashledger_cloud::chain::bindings::SearchContract::new(net.search, &net.deployer)
            .isListed(ec)
            .call()
            .await
            .unwrap()
    );
    let _ = net.response_contract;
    st.store.close().await;
}

async fn open_upload(
    s: &TestServer,
    device: &PrivateKeySigner,
    ec: &str,
    a: &Accident,
    size: usize,
) -> reqwest::Response {
    let body = json!({
        "ec_address": ec, "size": size,
        "leaves": format!("0x{}", hex::encode(encode_leaves(&a.leaves))),
        "frames_root": frames_root(&a.leaves).unwrap(),
    });
    s.signed(
        device,
        Method::POST,
        "/v1/uploads",
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

async fn send_record(s: &TestServer, rec: &dashledger_protocol::record::SignedRecord) {
    let r = s
        .client
        .post(s.u("/v1/evidence"))
        .header("content-type", "application/octet-stream")
        .body(rec.encode().to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn db_of(s: &TestServer) -> dashledger_cloud::store::Store {
    let url = format!(
        "sqlite://{}?mode=rw",
        s.dir.path().join("cloud.db").display()
    );
    dashledger_cloud::store::Store::connect(&url, 1)
        .await
        .unwrap()
}

async fn foreign_alarms(s: &TestServer, device: &PrivateKeySigner) -> Vec<Value> {
    let v: Value = s
        .admin_get(&format!(
            "/v1/admin/alarms?kind=foreign_upload&device={}",
            device.address()
        ))
        .await
        .json()
        .await
        .unwrap();
    v["alarms"].as_array().unwrap().clone()
}

/// Issue 19, item 1: an approved device can neither upload for another device's EC nor get it
/// rejected on chain; uploads for ECs that do not exist are refused before any byte; the rightful
/// device replaces a foreign or abandoned upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_bound_to_the_device_behind_the_ec() {
    let net = net().await;
    let s = cloud_on(&net, &[]).await;
    let mut dev_a = DeviceChain::new();
    let mut dev_b = DeviceChain::new();
    s.approve_device(&dev_a.key).await;
    s.approve_device(&dev_b.key).await;

    // An EC that does not exist: refused, nothing stored.
    let ghost = accident("ghost", false);
    expect_error(
        open_upload(
            &s,
            &dev_a.key,
            &format!("{:#x}", Address::repeat_byte(0x42)),
            &ghost,
            ghost.sealed.len(),
        )
        .await,
        404,
        "unknown_ec",
    )
    .await;
    let db = db_of(&s).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(n, 0, "no upload opened for an EC that does not exist");

    // A's accident, relayed for A.
    let relayed = accident("relayed", false);
    send_record(&s, &dev_a.next(&relayed.segment)).await;
    let r = relay(
        &s,
        &net,
        &dev_a.key,
        &PrivateKeySigner::random(),
        &relayed.evidence,
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let ec_relayed = r.json::<Value>().await.unwrap()["ec_address"]
        .as_str()
        .unwrap()
        .to_string();
    // B (approved, no record of it) cannot open it: 403 and an alarm; nor after reporting the
    // same video hash itself, now that it is public on chain.
    expect_error(
        open_upload(&s, &dev_b.key, &ec_relayed, &relayed, relayed.sealed.len()).await,
        403,
        "not_evidence_device",
    )
    .await;
    send_record(&s, &dev_b.next(&relayed.segment)).await;
    expect_error(
        open_upload(&s, &dev_b.key, &ec_relayed, &relayed, 1000).await,
        403,
        "not_evidence_device",
    )
    .await;
    let alarms = foreign_alarms(&s, &dev_b.key).await;
    assert!(
        !alarms.is_empty()
            && alarms
                .iter()
                .all(|a| a["detail"].as_str().unwrap().contains(&ec_relayed)),
        "{alarms:?}"
    );

    // A pre-fix foreign upload (B's open session for A's EC) is replaced by A's.
    let foreign_id = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
    sqlx::query(
        "INSERT INTO uploads (id, device, ec_address, total_size, received, state, leaves, frames_root, created_at, updated_at) \
         VALUES ($1, $2, $3, 10, 0, 'open', $4, $5, 0, 0)",
    )
    .bind(foreign_id)
    .bind(format!("{:#x}", dev_b.key.address()))
    .bind(&ec_relayed)
    .bind(encode_leaves(&relayed.leaves))
    .bind(frames_root(&relayed.leaves).unwrap().to_vec())
    .execute(db.pool())
    .await
    .unwrap();
    // A abandons a session with a wrong size, then opens the right one: each replaces the last.
    let r = open_upload(&s, &dev_a.key, &ec_relayed, &relayed, 1234).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let abandoned = r.json::<Value>().await.unwrap()["upload_id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_error(
        s.client
            .put(s.u(&format!("/v1/uploads/{foreign_id}/chunks/0")))
            .header("content-type", "application/octet-stream")
            .body(vec![0u8; 10])
            .send()
            .await
            .unwrap(),
        409,
        "upload_aborted",
    )
    .await;
    let r = open_upload(&s, &dev_a.key, &ec_relayed, &relayed, relayed.sealed.len()).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_ne!(
        r.json::<Value>().await.unwrap()["upload_id"],
        abandoned.as_str()
    );
    upload(&s, &dev_a.key, &ec_relayed, &relayed).await;
    let ec_relayed_addr: Address = ec_relayed.parse().unwrap();
    let relayed_ec = EvidenceContract::new(ec_relayed_addr, &net.deployer);
    wait_for("A's relayed EC to be verified", || async {
        relayed_ec.status().call().await.unwrap() == 1
    })
    .await;
    // Once final, the device's own upload is `already_uploaded`, anyone else's `ec_final`.
    expect_error(
        open_upload(&s, &dev_a.key, &ec_relayed, &relayed, relayed.sealed.len()).await,
        409,
        "already_uploaded",
    )
    .await;
    expect_error(
        open_upload(&s, &dev_b.key, &ec_relayed, &relayed, relayed.sealed.len()).await,
        409,
        "ec_final",
    )
    .await;

    // A's accident, EC created directly by its owner (not relayed): bound through A's records.
    let direct = accident("direct", false);
    send_record(&s, &dev_a.next(&direct.segment)).await;
    let f = EvidenceFactory::new(net.evidence_factory, &net.deployer);
    let params: IEvidenceFactory::EvidenceParams = direct.evidence.clone().into();
    let ec_direct: Address = f.createEvidence(params.clone()).call().await.unwrap();
    mined(f.createEvidence(params)).await;
    let ec_direct_s = format!("{ec_direct:#x}");
    // B reports the same hash once it is public: too late to stand behind the EC (record times
    // are whole seconds, so wait for the next one).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    send_record(&s, &dev_b.next(&direct.segment)).await;
    expect_error(
        open_upload(&s, &dev_b.key, &ec_direct_s, &direct, direct.sealed.len()).await,
        403,
        "not_evidence_device",
    )
    .await;
    // A clip B finished before the fix (junk) is dropped by the verifier, never rejected on chain.
    sqlx::query(
        "INSERT INTO uploads (id, device, ec_address, total_size, received, state, leaves, frames_root, created_at, updated_at) \
         VALUES ('e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0', $1, $2, 4, 4, 'complete', $3, $4, 0, 0)",
    )
    .bind(format!("{:#x}", dev_b.key.address()))
    .bind(&ec_direct_s)
    .bind(encode_leaves(&direct.leaves))
    .bind(frames_root(&direct.leaves).unwrap().to_vec())
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO clips (ec_address, device, upload_id, blob_key, cipher_size, cipher_hash, thumb_first, thumb_last, \
         leaves, frames_root, status, created_at, updated_at) VALUES ($1, $2, 'e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0', 'clips/x.sealed', 4, $3, NULL, NULL, $4, $5, 'uploaded', 0, 0)",
    )
    .bind(&ec_direct_s)
    .bind(format!("{:#x}", dev_b.key.address()))
    .bind(keccak256(b"junk").to_vec())
    .bind(encode_leaves(&direct.leaves))
    .bind(frames_root(&direct.leaves).unwrap().to_vec())
    .execute(db.pool())
    .await
    .unwrap();
    wait_for("the verifier to drop B's foreign clip", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clips WHERE ec_address = $1")
            .bind(&ec_direct_s)
            .fetch_one(db.pool())
            .await
            .unwrap();
        n == 0
    })
    .await;
    let direct_ec = EvidenceContract::new(ec_direct, &net.deployer);
    assert_eq!(
        direct_ec.status().call().await.unwrap(),
        0,
        "still Pending: nothing was sent to the chain for B's upload"
    );
    assert!(
        foreign_alarms(&s, &dev_b.key)
            .await
            .iter()
            .any(|a| a["detail"].as_str().unwrap().contains("dropped")),
        "the verifier raised an alarm"
    );
    // A uploads its clip: verified.
    upload(&s, &dev_a.key, &ec_direct_s, &direct).await;
    wait_for("A's direct EC to be verified", || async {
        direct_ec.status().call().await.unwrap() == 1
    })
    .await;
    db.close().await;
    s.stop().await;
}

/// Posts an owner action signed by `owner` for `reqc` (deadline `deadline`).
async fn relay_owner(
    s: &TestServer,
    owner: &PrivateKeySigner,
    reqc: Address,
    signed_for: Address,
    action: dashledger_api::relay::OwnerAction,
    deadline: u64,
) -> reqwest::Response {
    let body =
        dashledger_api::relay::OwnerRelayRequest::sign(action, deadline, owner, 31337, signed_for)
            .unwrap();
    s.client
        .post(s.u(&format!("/v1/relay/requests/{reqc:#x}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn chain_now(net: &Net) -> u64 {
    net.deployer
        .get_block_by_number(Default::default())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

/// The relayer sends an EC owner's signed respond / decline / claim / withdraw and pays the
/// gas; the owner key never holds ETH nor sends a transaction. Each party that might lie is
/// tried: a stranger signing for the owner, the owner signing a kfrag for another key (the
/// relayer would lose the deposit it fronts), a fee below the terms, a signature for another
/// request, an expired one, replays of every action, a claim inside the confirm window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_actions_are_relayed_after_the_relayers_checks() {
    use dashledger_api::relay::{OwnerAction, Wei};
    let net = net().await;
    let s = cloud_on(&net, &[]).await;
    let mut dev = DeviceChain::new();
    s.approve_device(&dev.key).await;
    let good = accident("relayed-owner", false);
    let rec = dev.next(&good.segment);
    send_record(&s, &rec).await;
    let owner = PrivateKeySigner::random();
    let r = relay(&s, &net, &dev.key, &owner, &good.evidence).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let ec: Address = r.json::<Value>().await.unwrap()["ec_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    upload(&s, &dev.key, &format!("{ec:#x}"), &good).await;
    let ecc = EvidenceContract::new(ec, &net.deployer);
    wait_for("the EC to be verified", || async {
        ecc.status().call().await.unwrap() == 1
    })
    .await;

    let terms: Value = s
        .client
        .get(s.u("/v1/relay/terms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        terms["relayer"].as_str().unwrap().to_lowercase(),
        format!("{:#x}", net.verifier_key.address()),
        "{terms}"
    );
    let respond_fee = U256::from_str_radix(terms["respond_fee_wei"].as_str().unwrap(), 10).unwrap();
    let withdraw_fee =
        U256::from_str_radix(terms["withdraw_fee_wei"].as_str().unwrap(), 10).unwrap();
    assert!(!respond_fee.is_zero() && !withdraw_fee.is_zero(), "{terms}");

    let requester = net.key(2);
    let requester_p = net.provider_for(&requester);
    let req_umbral = wrap::UmbralSecretKey::generate();
    let rf = RequestFactory::new(net.request_factory, &requester_p);
    let reward = U256::from(10u64.pow(17));
    let reqc = open_request(&rf, ec, &req_umbral, reward).await;
    let reqc_other = open_request(&rf, ec, &req_umbral, reward).await;
    let rc = RequestContract::new(reqc, &requester_p);

    let owner_key_bytes: [u8; 32] = owner.to_bytes().0;
    let kfrag_signer = wrap::KfragSigner::from_secret_bytes(&owner_key_bytes).unwrap();
    let respond = |kfrag: Vec<u8>, fee: U256| OwnerAction::Respond {
        kfrag: ABytes::from(kfrag),
        owner_umbral_key: ABytes::from(kfrag_signer.verifying_key().to_bytes().to_vec()),
        download_link: format!("{}/v1/clips/{ec:#x}/download?reqc={reqc:#x}", s.url),
        relayer_fee_wei: Wei(fee),
    };
    let kfrag = wrap::grant(&good.owner_umbral, &kfrag_signer, &req_umbral.public_key());
    let later = common::now() + 600;
    let relayer_before = net
        .deployer
        .get_balance(net.verifier_key.address())
        .await
        .unwrap();

    // A stranger signs the owner's response.
    expect_error(
        relay_owner(
            &s,
            &PrivateKeySigner::random(),
            reqc,
            reqc,
            respond(kfrag.clone(), respond_fee),
            later,
        )
        .await,
        401,
        "bad_eip712_signature",
    )
    .await;
    // The owner's signature, but for the other request.
    expect_error(
        relay_owner(
            &s,
            &owner,
            reqc,
            reqc_other,
            respond(kfrag.clone(), respond_fee),
            later,
        )
        .await,
        401,
        "bad_eip712_signature",
    )
    .await;
    // A kfrag from another delegating key: the relayer would lose the deposit it fronts.
    let other_umbral = wrap::UmbralSecretKey::generate();
    let wrong = wrap::grant(&other_umbral, &kfrag_signer, &req_umbral.public_key());
    expect_error(
        relay_owner(&s, &owner, reqc, reqc, respond(wrong, respond_fee), later).await,
        422,
        "invalid_kfrag",
    )
    .await;
    // A kfrag for another requester key.
    let wrong = wrap::grant(
        &good.owner_umbral,
        &kfrag_signer,
        &wrap::UmbralSecretKey::generate().public_key(),
    );
    expect_error(
        relay_owner(&s, &owner, reqc, reqc, respond(wrong, respond_fee), later).await,
        422,
        "invalid_kfrag",
    )
    .await;
    expect_error(
        relay_owner(
            &s,
            &owner,
            reqc,
            reqc,
            respond(kfrag.clone(), respond_fee - U256::from(1)),
            later,
        )
        .await,
        422,
        "fee_too_low",
    )
    .await;
    expect_error(
        relay_owner(
            &s,
            &owner,
            reqc,
            reqc,
            respond(kfrag.clone(), respond_fee),
            common::now() - 1,
        )
        .await,
        422,
        "expired",
    )
    .await;
    expect_error(
        relay_owner(&s, &owner, reqc, reqc, OwnerAction::Claim, later).await,
        409,
        "wrong_state",
    )
    .await;
    let pay = |to: Address| OwnerAction::Withdraw {
        to,
        relayer_fee_wei: Wei(withdraw_fee),
    };
    let payee = Address::repeat_byte(0x5e);
    expect_error(
        relay_owner(&s, &owner, reqc, reqc, pay(payee), later).await,
        409,
        "nothing_owed",
    )
    .await;
    let r = s
        .client
        .post(s.u(&format!(
            "/v1/relay/requests/{:#x}",
            Address::repeat_byte(7)
        )))
        .json(
            &dashledger_api::relay::OwnerRelayRequest::sign(
                OwnerAction::Decline,
                later,
                &owner,
                31337,
                Address::repeat_byte(7),
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "unknown_request").await;
    assert_eq!(
        net.deployer
            .get_balance(net.verifier_key.address())
            .await
            .unwrap(),
        relayer_before,
        "no refused action cost the relayer gas"
    );
    assert_eq!(rc.status().call().await.unwrap(), 0, "still Open");

    // The good response: the relayer fronts the minimum deposit.
    let r = relay_owner(
        &s,
        &owner,
        reqc,
        reqc,
        respond(kfrag.clone(), respond_fee),
        later,
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let min_deposit = rc.minDeposit().call().await.unwrap();
    assert_eq!(v["action"], "respond");
    assert_eq!(v["deposit_fronted_wei"], min_deposit.to_string(), "{v}");
    assert_eq!(rc.status().call().await.unwrap(), 1, "Responded");
    // Replayed: the request is no longer Open.
    expect_error(
        relay_owner(
            &s,
            &owner,
            reqc,
            reqc,
            respond(kfrag.clone(), respond_fee),
            later,
        )
        .await,
        409,
        "wrong_state",
    )
    .await;
    mined(rc.confirm()).await;
    let owed = rc.owed(owner.address()).call().await.unwrap();
    assert_eq!(
        owed,
        reward + min_deposit - min_deposit - respond_fee,
        "reward minus the relayer's due"
    );
    let r = relay_owner(&s, &owner, reqc, reqc, pay(payee), later).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["paid_wei"], (owed - withdraw_fee).to_string(), "{v}");
    assert_eq!(
        net.deployer.get_balance(payee).await.unwrap(),
        owed - withdraw_fee,
        "the owner's share, less the fee, at the payee"
    );
    expect_error(
        relay_owner(&s, &owner, reqc, reqc, pay(payee), later).await,
        409,
        "nothing_owed",
    )
    .await;

    // Decline, relayed; a replay finds it Declined.
    let r = relay_owner(
        &s,
        &owner,
        reqc_other,
        reqc_other,
        OwnerAction::Decline,
        later,
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(
        RequestContract::new(reqc_other, &requester_p)
            .status()
            .call()
            .await
            .unwrap(),
        2,
        "Declined"
    );
    expect_error(
        relay_owner(
            &s,
            &owner,
            reqc_other,
            reqc_other,
            OwnerAction::Decline,
            later,
        )
        .await,
        409,
        "wrong_state",
    )
    .await;

    // Claim, relayed: refused inside the confirm window (the contract's reason named), then sent.
    let reqc3 = open_request(&rf, ec, &req_umbral, reward).await;
    let respond3 = OwnerAction::Respond {
        kfrag: ABytes::from(kfrag.clone()),
        owner_umbral_key: ABytes::from(kfrag_signer.verifying_key().to_bytes().to_vec()),
        download_link: "https://cloud.example/x".into(),
        relayer_fee_wei: Wei(respond_fee),
    };
    let r = relay_owner(&s, &owner, reqc3, reqc3, respond3, later).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let e = expect_error(
        relay_owner(&s, &owner, reqc3, reqc3, OwnerAction::Claim, later).await,
        422,
        "would_revert",
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("ConfirmWindowOpen"),
        "{e}"
    );
    net.increase_time(net.params.confirm_window + 1).await;
    let after = chain_now(&net).await + 600;
    let r = relay_owner(&s, &owner, reqc3, reqc3, OwnerAction::Claim, after).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(
        RequestContract::new(reqc3, &requester_p)
            .status()
            .call()
            .await
            .unwrap(),
        6,
        "Claimed"
    );

    assert_eq!(
        net.deployer.get_balance(owner.address()).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(
        net.deployer
            .get_transaction_count(owner.address())
            .await
            .unwrap(),
        0,
        "the owner key never sent a transaction"
    );
    s.stop().await;
}
