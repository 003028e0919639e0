//! The direct route: an owner key sends its own transaction, topped up from the owner wallet
//! with exactly what it lacks. Simple and independent of the cloud, but every top-up is a
//! transfer from the wallet to the accident's key that anyone can see.

use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::StateOverridesBuilder;

use super::{
    ChainError, OwnerChain, OwnerError, Sent, WalletShortfall, chain_err, pending_err,
    revert_reason,
};
use crate::error::AgentError;

/// Gas limit used when the node cannot estimate with a balance override (old nodes).
const FALLBACK_GAS: u64 = 600_000;

impl OwnerChain {
    /// Sends `tx` from the owner key `from`, first topping the key up from the wallet with
    /// exactly what it lacks for value + gas limit × max fee.
    pub async fn send_funded(
        &self,
        what: &str,
        from: Address,
        mut tx: TransactionRequest,
    ) -> Result<Sent, AgentError> {
        tx.set_from(from);
        let value = tx.value.unwrap_or_default();
        let gas = self.gas_limit(what, from, &tx, value).await?;
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| chain_err("estimating fees", e))?;
        tx.set_gas_limit(gas);
        tx.set_max_fee_per_gas(fees.max_fee_per_gas);
        tx.set_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let needed = value + U256::from(gas) * U256::from(fees.max_fee_per_gas);
        let missing = self.top_up(what, from, needed, value).await?;
        let (hash, gas_used) = self.send_and_wait(what, from, tx).await?;
        Ok(Sent {
            tx: hash.to_string(),
            gas_used,
            funded_wei: missing.to_string(),
        })
    }

    /// The gas limit for `tx`: the node's estimate as if `from` already held `value` plus 1 ETH
    /// for gas, plus a fifth; a revert in the estimate is the action's error; a node that cannot
    /// estimate with a balance override gets [`FALLBACK_GAS`].
    async fn gas_limit(
        &self,
        what: &str,
        from: Address,
        tx: &TransactionRequest,
        value: U256,
    ) -> Result<u64, AgentError> {
        let overrides = StateOverridesBuilder::default()
            .with_balance(from, value + U256::from(10u128.pow(18)))
            .build();
        match self
            .provider
            .estimate_gas(tx.clone())
            .overrides(overrides)
            .await
        {
            Ok(g) => Ok(g + g / 5),
            Err(e) => {
                if let Some(reason) = revert_reason(&e) {
                    return Err(ChainError::WouldRevert {
                        what: what.to_owned(),
                        reason,
                        source: Box::new(e),
                    }
                    .into());
                }
                tracing::warn!(error = %e, what, fallback = FALLBACK_GAS, "gas estimate with a balance override failed; using the fallback gas limit");
                Ok(FALLBACK_GAS)
            }
        }
    }

    /// Funds `from` from the wallet with what it lacks of `needed` (an error naming both
    /// balances when the wallet holds less); returns the amount sent (zero when none was needed).
    async fn top_up(
        &self,
        what: &str,
        from: Address,
        needed: U256,
        value: U256,
    ) -> Result<U256, AgentError> {
        let balance = self
            .provider
            .get_balance(from)
            .await
            .map_err(|e| chain_err("reading the owner key's balance", e))?;
        let missing = needed.saturating_sub(balance);
        if missing.is_zero() {
            return Ok(missing);
        }
        let wallet_balance = self
            .provider
            .get_balance(self.wallet)
            .await
            .map_err(|e| chain_err("reading the wallet balance", e))?;
        if wallet_balance < missing {
            return Err(OwnerError::WalletTooPoor(Box::new(WalletShortfall {
                what: what.to_owned(),
                wallet: self.wallet,
                holds: wallet_balance,
                key: from,
                needs: missing,
                value,
            }))
            .into());
        }
        let fund = TransactionRequest::default()
            .with_from(self.wallet)
            .with_to(from)
            .with_value(missing);
        let receipt = self
            .provider
            .send_transaction(fund)
            .await
            .map_err(|e| chain_err("funding the owner key from the wallet", e))?
            .with_timeout(Some(Duration::from_secs(300)))
            .get_receipt()
            .await
            .map_err(|e| pending_err("waiting for the funding transaction", e))?;
        if !receipt.status() {
            return Err(ChainError::Reverted {
                what: "funding the owner key from the wallet".into(),
                reason: None,
                tx: Some(receipt.transaction_hash),
                source: None,
            }
            .into());
        }
        tracing::info!(owner = %from, wei = %missing, tx = %receipt.transaction_hash, "owner key funded from the wallet");
        Ok(missing)
    }

    /// Sends `tx` and waits for its receipt: its hash and gas used, or the revert as the
    /// action's error.
    async fn send_and_wait(
        &self,
        what: &str,
        from: Address,
        tx: TransactionRequest,
    ) -> Result<(B256, u64), AgentError> {
        let pending =
            self.provider
                .send_transaction(tx)
                .await
                .map_err(|e| match revert_reason(&e) {
                    Some(r) => ChainError::Reverted {
                        what: what.to_owned(),
                        reason: Some(r),
                        tx: None,
                        source: Some(Box::new(e)),
                    }
                    .into(),
                    None => chain_err(what, e),
                })?;
        let hash: B256 = *pending.tx_hash();
        tracing::info!(%hash, from = %from, "{what}: sent, waiting for it to be mined");
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(300)))
            .get_receipt()
            .await
            .map_err(|e| pending_err(&format!("{what}: waiting for {hash}"), e))?;
        if !receipt.status() {
            return Err(ChainError::Reverted {
                what: what.to_owned(),
                reason: None,
                tx: Some(hash),
                source: None,
            }
            .into());
        }
        Ok((hash, receipt.gas_used))
    }
}
