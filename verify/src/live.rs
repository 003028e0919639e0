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
    let parsed = url
        .parse()
        .map_err(|e| rpc_error(url, format!("not a URL: {e}")))?;
    let provider = ProviderBuilder::new().connect_http(parsed);
    let info: EvidenceInfo = bundle.json(paths::EVIDENCE)?;
    let node = Node {
        provider: &provider,
        url,
    };
    let mut checks = vec![node.chain_id(&info).await?];
    for (n, h) in bundle_headers(bundle, &info) {
        checks.push(node.header(n, h).await?);
    }
    checks.push(node.ec_code(bundle, &info).await?);
    checks.push(node.ec_status(&info).await?);
    Ok(checks)
}

/// The headers in the bundle (state proof, creation, verification) as (number, recomputed
/// hash), sorted, without repeats.
fn bundle_headers(bundle: &Bundle, info: &EvidenceInfo) -> Vec<(u64, B256)> {
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
    headers
}

fn rpc_error(url: &str, reason: String) -> Error {
    Error::Rpc {
        url: url.to_owned(),
        reason,
    }
}

fn check(name: &str, ok: bool, detail: String) -> Check {
    Check {
        name: name.to_owned(),
        ok,
        detail,
    }
}

/// The node at `url`, one live check per method (a failed call is an error, not a check).
struct Node<'a, P> {
    provider: &'a P,
    url: &'a str,
}

impl<P: Provider> Node<'_, P> {
    fn rpc(&self, reason: String) -> Error {
        rpc_error(self.url, reason)
    }

    /// `live-chain-id`: the node serves the bundle's chain.
    async fn chain_id(&self, info: &EvidenceInfo) -> Result<Check> {
        let id = self
            .provider
            .get_chain_id()
            .await
            .map_err(|e| self.rpc(format!("eth_chainId: {e}")))?;
        Ok(check(
            "live-chain-id",
            id == info.chain_id,
            format!(
                "the node serves chain {id}; the bundle is for chain {}",
                info.chain_id
            ),
        ))
    }

    /// `live-header`: the node's block `n` has the hash `h` of the bundle's header.
    async fn header(&self, n: u64, h: B256) -> Result<Check> {
        let block = self
            .provider
            .get_block_by_number(n.into())
            .await
            .map_err(|e| self.rpc(format!("eth_getBlockByNumber({n}): {e}")))?;
        Ok(match block {
            Some(b) if b.header.hash == h => check(
                "live-header",
                true,
                format!("block {n} on the node has hash {h}, as in the bundle"),
            ),
            Some(b) => check(
                "live-header",
                false,
                format!(
                    "block {n} on the node has hash {}, the bundle's header hashes to {h}: not this chain's block",
                    b.header.hash
                ),
            ),
            None => check("live-header", false, format!("the node has no block {n}")),
        })
    }

    /// `live-ec-code`: the EC's code hash now is the one of the bundle's state proof.
    async fn ec_code(&self, bundle: &Bundle, info: &EvidenceInfo) -> Result<Check> {
        let code = self
            .provider
            .get_code_at(info.ec)
            .await
            .map_err(|e| self.rpc(format!("eth_getCode: {e}")))?;
        let code_hash = dashledger_protocol::hash::keccak256(&code);
        let expected = bundle
            .json::<StateProof>(paths::STATE_PROOF)
            .map(|s| s.ec_account.code_hash)
            .unwrap_or_default();
        Ok(check(
            "live-ec-code",
            code_hash == expected,
            format!("the EC's code hash now is {code_hash} (bundle: {expected})"),
        ))
    }

    /// `live-ec-status`: the EC's status slot now holds Verified.
    async fn ec_status(&self, info: &EvidenceInfo) -> Result<Check> {
        let status = self
            .provider
            .get_storage_at(info.ec, U256::from(EC_STATUS_SLOT))
            .await
            .map_err(|e| self.rpc(format!("eth_getStorageAt: {e}")))?;
        Ok(check(
            "live-ec-status",
            status == U256::from(crate::format::EC_STATUS_VERIFIED),
            format!(
                "the EC's status slot now holds {status} (0 = Pending, listed = Verified; 2 = Rejected)"
            ),
        ))
    }
}
