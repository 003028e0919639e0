//! Contract bindings generated from the forge artifacts in `protocol/abi/` (ABI + bytecode).

#![allow(
    missing_docs,
    clippy::too_many_arguments,
    missing_debug_implementations,
    unreachable_pub
)]

use alloy::sol;

sol!(
    #[sol(rpc, all_derives)]
    EvidenceFactory,
    "../protocol/abi/EvidenceFactory.json"
);
sol!(
    #[sol(rpc, all_derives)]
    EvidenceContract,
    "../protocol/abi/EvidenceContract.json"
);
sol!(
    #[sol(rpc, all_derives)]
    SearchContract,
    "../protocol/abi/SearchContract.json"
);
sol!(
    #[sol(rpc, all_derives)]
    RequestFactory,
    "../protocol/abi/RequestFactory.json"
);
sol!(
    #[sol(rpc, all_derives)]
    RequestContract,
    "../protocol/abi/RequestContract.json"
);
sol!(
    #[sol(rpc, all_derives)]
    ResponseContract,
    "../protocol/abi/ResponseContract.json"
);
