//! Relayed owner actions (issue 15) against the real contracts (forge artifacts in
//! `protocol/abi/`) on a real anvil: the Rust EIP-712 digests of `Respond` and `Withdraw` equal
//! the Request Contract's `hashRespond` / `hashWithdraw`, and a relayer can send an owner's
//! signed response (fronting the deposit, after checking the kfrag off-chain with
//! `verify_kfrag`) and signed withdrawal to a fresh address, while the owner key never holds ETH
//! nor sends a transaction.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

use std::path::PathBuf;

use alloy::{
    network::EthereumWallet,
    node_bindings::Anvil,
    primitives::{Address, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use dashledger_protocol::{
    bindings::{
        EvidenceContract, EvidenceFactory, RequestContract, RequestFactory, ResponseContract,
        evidence_factory::IEvidenceFactory::EvidenceParams,
    },
    eip712::{self, Evidence, OwnerAction, Respond, Withdraw},
    hash::keccak256,
    keys::OwnerSeed,
    seal::SessionKey,
    wrap::{self, UmbralSecretKey},
};

fn anvil_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/anvil")
}

#[tokio::test]
async fn relayer_sends_signed_owner_actions() {
    let anvil = Anvil::at(anvil_path()).arg("--host").arg("127.0.0.1").port(0u16).try_spawn().expect(
        "anvil must be installed at node_modules/.bin/anvil (npm install in the repository root)",
    );
    let key = |i: usize| PrivateKeySigner::from(anvil.keys()[i].clone());
    let at = |k: PrivateKeySigner| {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(k))
            .connect_http(anvil.endpoint_url())
    };
    let relayer = at(key(0));
    let verifier = at(key(1));
    let requester = at(key(2));
    let relayer_addr = anvil.addresses()[0];
    let chain_id = relayer.get_chain_id().await.unwrap();
    let ef = EvidenceFactory::deploy(&relayer, anvil.addresses()[1])
        .await
        .unwrap();
    let search = ef.search().call().await.unwrap();
    let min_deposit = U256::from(10_000_000_000_000_000u64);
    let rf = RequestFactory::deploy(
        &relayer,
        search,
        anvil.addresses()[1],
        min_deposit,
        86_400,
        172_800,
        259_200,
    )
    .await
    .unwrap();
    let resc = ResponseContract::new(rf.responseContract().call().await.unwrap(), &relayer);

    // The accident: a fresh owner key (never funded), created by the relayer, verified.
    let seed = OwnerSeed::generate();
    let owner = seed.owner_key(0).unwrap();
    let owner_umbral = UmbralSecretKey::generate();
    let session = SessionKey::generate();
    let wrapped = wrap::wrap(&owner_umbral.public_key(), &session).unwrap();
    let now = relayer
        .get_block_by_number(Default::default())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let evidence = Evidence {
        videoHash: keccak256(b"video"),
        cipherHash: keccak256(b"cipher"),
        frameHash: keccak256(b"frame"),
        framesRoot: keccak256(b"frames"),
        keyCommitment: session.commitment(),
        recordedAt: now - 120,
        latitude: 52_520_008,
        longitude: 13_404_954,
        capsule: Bytes::from(wrapped.capsule_bytes()),
        wrappedKey: Bytes::from(wrapped.ciphertext().to_vec()),
        ownerUmbralKey: Bytes::from(owner_umbral.public_key().to_bytes().to_vec()),
    };
    let params: EvidenceParams = evidence.clone().into();
    let deadline = U256::from(now + 3600);
    let sig =
        eip712::sign_create_evidence(owner.signer(), &evidence, deadline, chain_id, *ef.address())
            .unwrap();
    let ec = ef
        .predictEvidence(params.clone(), owner.address())
        .call()
        .await
        .unwrap();
    let ok = |r: alloy::rpc::types::TransactionReceipt| assert!(r.status(), "reverted");
    ok(ef
        .createEvidenceFor(params, owner.address(), deadline, Bytes::from(sig.to_vec()))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap());
    ok(EvidenceContract::new(ec, &verifier)
        .verify()
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap());

    // A request with the requester's Umbral key.
    let requester_umbral = UmbralSecretKey::generate();
    let reward = U256::from(50_000_000_000_000_000u64);
    ok(RequestFactory::new(*rf.address(), &requester)
        .createRequest(
            ec,
            Bytes::from(requester_umbral.public_key().to_bytes().to_vec()),
        )
        .value(reward)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap());
    let reqc = resc.latestOf(owner.address()).call().await.unwrap();

    // The owner signs a response; the relayer checks the kfrag before fronting the deposit.
    let signer = owner.kfrag_signer();
    let kfrag = wrap::grant(&owner_umbral, &signer, &requester_umbral.public_key());
    wrap::verify_kfrag(
        &kfrag,
        &signer.verifying_key(),
        &owner_umbral.public_key(),
        &requester_umbral.public_key(),
    )
    .expect("the relayer's off-chain kfrag check");
    let fee = U256::from(500_000_000_000_000u64);
    let msg = Respond {
        kfrag: Bytes::from(kfrag.clone()),
        ownerUmbralKey: Bytes::from(signer.verifying_key().to_bytes().to_vec()),
        downloadLink: "https://cloud.example/x".into(),
        relayerFee: fee,
        deadline,
    };
    let c = RequestContract::new(reqc, &relayer);
    assert_eq!(
        c.hashRespond(
            msg.kfrag.clone(),
            msg.ownerUmbralKey.clone(),
            msg.downloadLink.clone(),
            fee,
            deadline
        )
        .call()
        .await
        .unwrap(),
        OwnerAction::Respond(msg.clone()).digest(chain_id, reqc),
        "hashRespond"
    );
    let sig = OwnerAction::Respond(msg.clone())
        .sign(owner.signer(), chain_id, reqc)
        .unwrap();
    ok(c.respondFor(
        msg.kfrag,
        msg.ownerUmbralKey,
        msg.downloadLink,
        fee,
        deadline,
        Bytes::from(sig.to_vec()),
    )
    .value(min_deposit)
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap());
    ok(RequestContract::new(reqc, &requester)
        .confirm()
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap());

    // The owner's share to a fresh address, through the relayer.
    let payout = Address::repeat_byte(0x7e);
    let w = Withdraw {
        to: payout,
        relayerFee: fee,
        deadline,
    };
    assert_eq!(
        c.hashWithdraw(payout, fee, deadline).call().await.unwrap(),
        OwnerAction::Withdraw(w.clone()).digest(chain_id, reqc),
        "hashWithdraw"
    );
    let sig = OwnerAction::Withdraw(w)
        .sign(owner.signer(), chain_id, reqc)
        .unwrap();
    let before = relayer.get_balance(relayer_addr).await.unwrap();
    let receipt = c
        .withdrawFor(payout, fee, deadline, Bytes::from(sig.to_vec()))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        relayer.get_balance(payout).await.unwrap(),
        reward - fee - fee,
        "the owner is paid, minus the two fees"
    );
    assert_eq!(
        relayer.get_balance(relayer_addr).await.unwrap() + gas,
        before + min_deposit + fee + fee,
        "the relayer gets its deposit back and both fees"
    );
    assert_eq!(
        relayer.get_balance(owner.address()).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(
        relayer
            .get_transaction_count(owner.address())
            .await
            .unwrap(),
        0,
        "the owner key never sent a transaction"
    );
}
