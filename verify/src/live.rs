//! `--rpc URL`: the checks that need a node — the bundle's headers are the node's blocks, and
//! the EC's state now.

use alloy::primitives::{B256, U256};
use alloy::providers::{Provider, ProviderBuilder};

use crate::check::Check;
use crate::error::{Error, Result};
use crate::format::{BlockFile, Bundle, EC_STATUS_SLOT, EvidenceInfo, StateProof, paths};

/// Re-checks `bundle` against the node at `url`: same chain id; every header in the bundle is
/// the node's block of that number; the EC's code hash and status now.
pub async fn verify_live(bundle: &Bundle, url: &str) -> Result<Vec<Check>> {
    let rpc = |reason: String| Error::Rpc {
        url: url.to_owned(),
        reason,
    };
    let parsed = url.parse().map_err(|e| rpc(format!("not a URL: {e}")))?;
    let provider = ProviderBuilder::new().connect_http(parsed);
    let info: EvidenceInfo = bundle.json(paths::EVIDENCE)?;
    let mut checks = Vec::new();
    let mut add = |name: &str, ok: bool, detail: String| {
        checks.push(Check {
            name: name.to_owned(),
            ok,
            detail,
        });
    };
    let id = provider
        .get_chain_id()
        .await
        .map_err(|e| rpc(format!("eth_chainId: {e}")))?;
    add(
        "live-chain-id",
        id == info.chain_id,
        format!(
            "the node serves chain {id}; the bundle is for chain {}",
            info.chain_id
        ),
    );
    let mut headers: Vec<(u64, B256)> = Vec::new();
    if let Ok(sp) = bundle.json::<StateProof>(paths::STATE_PROOF) {
        headers.push((sp.header.inner.number, sp.header.inner.hash_slow()));
    }
    for r in [info.created, info.verified] {
        if let Ok(b) = bundle.json::<BlockFile>(&paths::block(r.block)) {
            headers.push((b.header.inner.number, b.header.inner.hash_slow()));
        }
    }
    headers.sort_unstable();
    headers.dedup();
    for (n, h) in headers {
        let block = provider
            .get_block_by_number(n.into())
            .await
            .map_err(|e| rpc(format!("eth_getBlockByNumber({n}): {e}")))?;
        match block {
            Some(b) if b.header.hash == h => add(
                "live-header",
                true,
                format!("block {n} on the node has hash {h}, as in the bundle"),
            ),
            Some(b) => add(
                "live-header",
                false,
                format!(
                    "block {n} on the node has hash {}, the bundle's header hashes to {h}: not this chain's block",
                    b.header.hash
                ),
            ),
            None => add("live-header", false, format!("the node has no block {n}")),
        }
    }
    let code = provider
        .get_code_at(info.ec)
        .await
        .map_err(|e| rpc(format!("eth_getCode: {e}")))?;
    let code_hash = dashledger_protocol::hash::keccak256(&code);
    let expected = bundle
        .json::<StateProof>(paths::STATE_PROOF)
        .map(|s| s.ec_account.code_hash)
        .unwrap_or_default();
    add(
        "live-ec-code",
        code_hash == expected,
        format!("the EC's code hash now is {code_hash} (bundle: {expected})"),
    );
    let status = provider
        .get_storage_at(info.ec, U256::from(EC_STATUS_SLOT))
        .await
        .map_err(|e| rpc(format!("eth_getStorageAt: {e}")))?;
    add(
        "live-ec-status",
        status == U256::from(crate::format::EC_STATUS_VERIFIED),
        format!(
            "the EC's status slot now holds {status} (0 = Pending, listed = Verified; 2 = Rejected)"
        ),
    );
    Ok(checks)
}
