//! alloy contract bindings generated at compile time from the forge artifacts in
//! `protocol/abi/*.json` (ABI + bytecode, copied and normalised by `scripts/gen-abi`; run
//! `scripts/gen-abi --check` to confirm they match the Solidity sources). Each contract has
//! `#[sol(rpc)]` call builders and `deploy` helpers. Every contract lives in its own module
//! (shared Solidity structs such as `IEvidenceFactory.EvidenceParams` are generated per module);
//! the contract types are re-exported here.

#![allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all
)]

/// `RequestContract` status names, indexed by the contract's status number (docs/contracts.md).
pub const REQUEST_STATUS_NAMES: [&str; 10] = [
    "Open",
    "Responded",
    "Declined",
    "Cancelled",
    "Completed",
    "Disputed",
    "Claimed",
    "ResolvedForOwner",
    "ResolvedForRequester",
    "DisputeExpired",
];

/// The name of a `RequestContract` status number, or `None` for a number the contract does not use.
pub fn request_status_name(status: u8) -> Option<&'static str> {
    REQUEST_STATUS_NAMES.get(usize::from(status)).copied()
}

/// `EvidenceFactory` (`protocol/abi/EvidenceFactory.json`).
pub mod evidence_factory {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        EvidenceFactory,
        "abi/EvidenceFactory.json"
    );
}
pub use evidence_factory::EvidenceFactory;

/// `EvidenceContract` (`protocol/abi/EvidenceContract.json`).
pub mod evidence_contract {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        EvidenceContract,
        "abi/EvidenceContract.json"
    );
}
pub use evidence_contract::EvidenceContract;

/// `SearchContract` (`protocol/abi/SearchContract.json`).
pub mod search_contract {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        SearchContract,
        "abi/SearchContract.json"
    );
}
pub use search_contract::SearchContract;

/// `RequestFactory` (`protocol/abi/RequestFactory.json`).
pub mod request_factory {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        RequestFactory,
        "abi/RequestFactory.json"
    );
}
pub use request_factory::RequestFactory;

/// `RequestContract` (`protocol/abi/RequestContract.json`).
pub mod request_contract {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        RequestContract,
        "abi/RequestContract.json"
    );
}
pub use request_contract::RequestContract;

/// `ResponseContract` (`protocol/abi/ResponseContract.json`).
pub mod response_contract {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        ResponseContract,
        "abi/ResponseContract.json"
    );
}
pub use response_contract::ResponseContract;

impl From<crate::eip712::Evidence> for evidence_factory::IEvidenceFactory::EvidenceParams {
    fn from(e: crate::eip712::Evidence) -> Self {
        Self {
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
        }
    }
}
