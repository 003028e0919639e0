//! Direct EC creation: the accident's owner key sends `createEvidence` (funded from the wallet),
//! for `chain.ec_via = "direct"`; and where an EC of given fields would be.

use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use dashledger_protocol::bindings::evidence_factory::{EvidenceFactory, IEvidenceFactory};

use super::{OwnerChain, call_err, chain_err};
use crate::accident::Prepared;
use crate::error::AgentError;

impl OwnerChain {
    /// The EC address `createEvidence*` gives `params` for `owner`, and whether it exists.
    pub async fn predicted_evidence(
        &self,
        params: IEvidenceFactory::EvidenceParams,
        owner: Address,
    ) -> Result<(Address, bool), AgentError> {
        predicted_evidence(
            &self.provider,
            self.deployment.evidence_factory,
            params,
            owner,
        )
        .await
    }

    /// Creates the EC directly: the accident's owner key sends `createEvidence` (funded from the
    /// wallet). Returns the EC address.
    pub async fn create_evidence_direct(&self, prepared: &Prepared) -> Result<String, AgentError> {
        let owner = self
            .owners
            .iter()
            .find(|k| k.index() == prepared.owner_index)
            .ok_or_else(|| {
                AgentError::OutboxState(format!(
                    "owner key #{} is not among the used keys",
                    prepared.owner_index
                ))
            })?;
        let params: IEvidenceFactory::EvidenceParams = prepared.evidence()?.into();
        let (predicted, exists) = self
            .predicted_evidence(params.clone(), owner.address())
            .await?;
        if exists {
            return Ok(predicted.to_string());
        }
        let tx = EvidenceFactory::new(self.deployment.evidence_factory, &self.provider)
            .createEvidence(params)
            .into_transaction_request();
        let sent = self
            .send_funded("createEvidence", owner.address(), tx)
            .await?;
        tracing::info!(ec = %predicted, tx = %sent.tx, "evidence contract created directly");
        Ok(predicted.to_string())
    }
}

/// `predictEvidence(params, owner)` and whether an EC of the factory exists there.
pub async fn predicted_evidence(
    provider: &DynProvider,
    factory: Address,
    params: IEvidenceFactory::EvidenceParams,
    owner: Address,
) -> Result<(Address, bool), AgentError> {
    let f = EvidenceFactory::new(factory, provider);
    let predicted = f
        .predictEvidence(params, owner)
        .call()
        .await
        .map_err(|e| call_err("EvidenceFactory.predictEvidence", e))?;
    let code = provider
        .get_code_at(predicted)
        .await
        .map_err(|e| chain_err("reading code at the predicted EC", e))?;
    if code.is_empty() {
        return Ok((predicted, false));
    }
    let is = f
        .isEvidence(predicted)
        .call()
        .await
        .map_err(|e| call_err("EvidenceFactory.isEvidence", e))?;
    Ok((predicted, is))
}
