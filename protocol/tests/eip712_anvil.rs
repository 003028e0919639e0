//! EIP-712 byte identity against the real `EvidenceFactory` (forge artifact in `protocol/abi/`)
//! on a real anvil: domain separator, type hashes, struct hash, digest, and a relayed
//! `createEvidenceFor` whose EC is owned by the signer.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

use std::path::PathBuf;

use alloy::{
    node_bindings::Anvil,
    primitives::{Address, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::SolStruct,
};
use dashledger_protocol::{
    bindings::{
        EvidenceContract, EvidenceFactory, evidence_factory::IEvidenceFactory::EvidenceParams,
    },
    eip712::{self, CreateEvidence, Evidence},
    hash::keccak256,
    keys::OwnerSeed,
    seal::SessionKey,
    wrap::{self, UmbralSecretKey},
};

fn anvil_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/anvil")
}

#[tokio::test]
async fn relayed_creation_matches_the_factory() {
    let anvil = Anvil::at(anvil_path()).arg("--host").arg("127.0.0.1").port(0u16).try_spawn().expect(
        "anvil must be installed at node_modules/.bin/anvil (npm install in the repository root)",
    );
    let relayer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let provider = ProviderBuilder::new()
        .wallet(relayer)
        .connect_http(anvil.endpoint_url());
    let chain_id = provider.get_chain_id().await.unwrap();
    let verifier = anvil.addresses()[1];
    let factory = EvidenceFactory::deploy(&provider, verifier).await.unwrap();

    // Domain separator and type hashes.
    let domain = eip712::domain(chain_id, *factory.address());
    assert_eq!(
        factory.DOMAIN_SEPARATOR().call().await.unwrap(),
        domain.separator()
    );
    assert_eq!(
        factory.CREATE_EVIDENCE_TYPEHASH().call().await.unwrap(),
        keccak256(CreateEvidence::eip712_encode_type().as_bytes())
    );
    assert_eq!(
        factory.EVIDENCE_TYPEHASH().call().await.unwrap(),
        keccak256(Evidence::eip712_encode_type().as_bytes())
    );

    // Realistic evidence: a real wrapped key and Umbral public key.
    let owner_umbral = UmbralSecretKey::generate();
    let key = SessionKey::generate();
    let wrapped = wrap::wrap(&owner_umbral.public_key(), &key).unwrap();
    let now = provider
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
        keyCommitment: key.commitment(),
        recordedAt: now - 120,
        latitude: 52_520_008,
        longitude: -13_404_954,
        capsule: Bytes::from(wrapped.capsule_bytes()),
        wrappedKey: Bytes::from(wrapped.ciphertext().to_vec()),
        ownerUmbralKey: Bytes::from(owner_umbral.public_key().to_bytes().to_vec()),
    };
    let params: EvidenceParams = evidence.clone().into();
    assert_eq!(
        factory.hashEvidence(params.clone()).call().await.unwrap(),
        eip712::evidence_hash(&evidence)
    );

    let owner = OwnerSeed::generate().owner_key(3).unwrap();
    let deadline = U256::from(now + 3600);
    let digest = eip712::create_evidence_digest(
        &evidence,
        owner.address(),
        deadline,
        chain_id,
        *factory.address(),
    );
    assert_eq!(
        factory
            .hashCreateEvidence(params.clone(), owner.address(), deadline)
            .call()
            .await
            .unwrap(),
        digest
    );

    // A relayer submits the owner's signature; the EC is owned by the signer.
    let sig = eip712::sign_create_evidence(
        owner.signer(),
        &evidence,
        deadline,
        chain_id,
        *factory.address(),
    )
    .unwrap();
    let predicted = factory
        .predictEvidence(params.clone(), owner.address())
        .call()
        .await
        .unwrap();
    let receipt = factory
        .createEvidenceFor(
            params.clone(),
            owner.address(),
            deadline,
            Bytes::from(sig.to_vec()),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "createEvidenceFor reverted");
    assert!(factory.isEvidence(predicted).call().await.unwrap());
    let ec = EvidenceContract::new(predicted, &provider);
    assert_eq!(ec.owner().call().await.unwrap(), owner.address());
    assert_eq!(
        ec.evidenceHash().call().await.unwrap(),
        eip712::evidence_hash(&evidence)
    );

    // The same signature for another deadline or another owner is refused by the contract.
    let other = Address::repeat_byte(0x42);
    assert!(
        factory
            .createEvidenceFor(
                params.clone(),
                owner.address(),
                deadline + U256::from(1),
                Bytes::from(sig.to_vec())
            )
            .call()
            .await
            .is_err()
    );
    assert!(
        factory
            .createEvidenceFor(params, other, deadline, Bytes::from(sig.to_vec()))
            .call()
            .await
            .is_err()
    );
}
