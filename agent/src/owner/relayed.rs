//! The relayed route: the EC owner key signs an EIP-712 message for one REQC and the cloud's
//! relayer sends it (`POST /v1/relay/requests/{reqc}`), at the fees of `GET /v1/relay/terms`.

use alloy::primitives::Address;
use dashledger_api::relay::{OwnerAction, OwnerRelayRequest, OwnerRelayed, RelayTerms};
use dashledger_protocol::keys::OwnerKey;

use super::OwnerChain;
use crate::error::AgentError;

/// How long a signed action stays valid (seconds past the later of chain and wall time).
const SIGNATURE_TTL_SECS: u64 = 3600;

impl OwnerChain {
    /// The relayer's terms, checked against this deployment's chain.
    pub(super) async fn relay_terms(&self) -> Result<RelayTerms, AgentError> {
        let t = self.cloud.relay_terms().await?;
        if t.chain_id != self.deployment.chain_id {
            return Err(AgentError::Config(format!(
                "the cloud's relayer serves chain {}, but the deployment file is for chain {}",
                t.chain_id, self.deployment.chain_id
            )));
        }
        Ok(t)
    }

    /// Signs `action` for `reqc` with `owner` and has the relayer send it.
    pub(super) async fn relay(
        &self,
        owner: &OwnerKey,
        reqc: Address,
        action: OwnerAction,
    ) -> Result<OwnerRelayed, AgentError> {
        let wall = crate::outbox::now_ms().max(0) as u64 / 1000;
        let deadline = self.chain_time().await?.max(wall) + SIGNATURE_TTL_SECS;
        let name = action.name();
        let body = OwnerRelayRequest::sign(
            action,
            deadline,
            owner.signer(),
            self.deployment.chain_id,
            reqc,
        )?;
        let r = self.cloud.relay_owner_action(reqc, &body).await?;
        tracing::info!(request = %reqc, action = name, tx = %r.tx_hash, gas = r.gas_used, "relayed owner action mined");
        Ok(r)
    }
}
