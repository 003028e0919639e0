//! The daemon's auto-approve policy, one pass at a time (the loop is in `daemon`).

use alloy::primitives::{Address, U256};
use dashledger_protocol::keys::Secrets;
use dashledger_protocol::status::RequestStatus;

use super::{Approved, OwnerChain, accidents_with_ec, used_owner_keys};
use crate::config::Config;
use crate::error::AgentError;
use crate::outbox::Outbox;

/// One auto-approve pass: every Open request for our ECs (from the cloud's signed owner API)
/// whose reward is at least `min_reward` is approved with the minimum deposit. Returns the
/// approvals; a failing request is logged and left for the next pass.
pub async fn auto_approve_once(
    config: &Config,
    secrets: &Secrets,
    min_reward: U256,
) -> Result<Vec<Approved>, AgentError> {
    let (used, accidents) = {
        let outbox = Outbox::open(&config.outbox_path())?;
        (used_owner_keys(&outbox)?, accidents_with_ec(&outbox)?)
    };
    if used == 0 || accidents.is_empty() {
        return Ok(Vec::new());
    }
    let cloud = crate::cloud::CloudClient::new(&config.cloud)?;
    let chain = OwnerChain::connect(config, secrets, used).await?;
    let mut done = Vec::new();
    for owner in &chain.owners {
        let list = cloud
            .owner_requests(owner.signer(), chain.deployment.chain_id)
            .await?;
        for r in list {
            let Ok(reqc) = r.reqc.parse::<Address>() else {
                continue;
            };
            let view = match chain.request(reqc).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(request = %reqc, error = %e, "auto-approve: cannot read the request");
                    continue;
                }
            };
            if !RequestStatus::Open.is(view.info.status) {
                continue;
            }
            if view.info.reward < min_reward {
                tracing::info!(request = %reqc, reward = %view.info.reward, min = %min_reward, "auto-approve: reward below the minimum; left for the owner");
                continue;
            }
            match chain.approve(secrets, &accidents, reqc, None).await {
                Ok(a) => done.push(a),
                Err(e) => {
                    tracing::warn!(request = %reqc, error = %e, "auto-approve failed; will retry")
                }
            }
        }
    }
    Ok(done)
}
