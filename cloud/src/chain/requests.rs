//! A request's facts as the chain states them — its `info()`, the requester's Umbral key
//! (`RequestOpened`), the EC's owner Umbral key (`EvidenceCreated`) — and the kfrag check the
//! verifier rules disputes by and the relayer runs before it fronts a deposit.

use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use dashledger_protocol::bindings::request_contract::IRequestContract::RequestInfo;
use dashledger_protocol::wrap::{UmbralPublicKey, verify_kfrag};

use super::Chain;
use super::bindings::{RequestContract, RequestFactory, ResponseContract};
use crate::error::CloudError;

/// What the chain says about one REQC of this deployment.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// The REQC.
    pub reqc: Address,
    /// Its `info()`.
    pub info: RequestInfo,
    /// The requester's Umbral key (`RequestOpened`).
    pub requester_umbral_key: Vec<u8>,
    /// The EC's owner Umbral key (the key the session key is wrapped to; `EvidenceCreated`).
    pub ec_owner_umbral_key: Vec<u8>,
}

/// `None` when `reqc` is not a REQC of this deployment's RequestFactory.
pub async fn load(chain: &Chain, reqc: Address) -> Result<Option<RequestFacts>, CloudError> {
    let rf = RequestFactory::new(chain.deployment.request_factory, &chain.provider);
    let is = rf
        .isRequest(reqc)
        .call()
        .await
        .map_err(|e| CloudError::Chain(format!("isRequest: {e}")))?;
    if !is {
        return Ok(None);
    }
    let info = RequestContract::new(reqc, &chain.provider)
        .info()
        .call()
        .await
        .map_err(|e| CloudError::Chain(format!("info of {reqc}: {e}")))?;
    let opened = chain
        .provider
        .get_logs(
            &Filter::new()
                .address(chain.deployment.response_contract)
                .event_signature(ResponseContract::RequestOpened::SIGNATURE_HASH)
                .topic2(reqc.into_word())
                .from_block(chain.deployment.start_block),
        )
        .await
        .map_err(|e| CloudError::Chain(format!("get_logs RequestOpened: {e}")))?;
    let Some(open) = opened.first() else {
        return Err(CloudError::Chain(format!(
            "no RequestOpened event for {reqc}"
        )));
    };
    let open = ResponseContract::RequestOpened::decode_log_data(open.data())
        .map_err(|e| CloudError::Chain(format!("decoding RequestOpened: {e}")))?;
    let Some((ev, _)) = super::verifier::evidence_created(chain, info.ec).await? else {
        return Err(CloudError::Chain(format!(
            "no EvidenceCreated event for {}",
            info.ec
        )));
    };
    Ok(Some(RequestFacts {
        reqc,
        info,
        requester_umbral_key: open.requesterUmbralKey.to_vec(),
        ec_owner_umbral_key: ev.ownerUmbralKey.to_vec(),
    }))
}

impl RequestFacts {
    /// Whether `kfrag`, signed by `signer_key`, re-encrypts from the EC's owner key to the
    /// requester's key and was signed by the EC's owner (the signer key's address is the REQC's
    /// owner). Any malformed key or kfrag is `false`.
    pub fn kfrag_valid(&self, kfrag: &[u8], signer_key: &[u8]) -> bool {
        let check = || {
            let signer = UmbralPublicKey::from_bytes(signer_key)?;
            let owner_pk = UmbralPublicKey::from_bytes(&self.ec_owner_umbral_key)?;
            let requester_pk = UmbralPublicKey::from_bytes(&self.requester_umbral_key)?;
            if signer.eth_address() != self.info.owner {
                return Ok::<_, dashledger_protocol::Error>(false);
            }
            Ok(verify_kfrag(kfrag, &signer, &owner_pk, &requester_pk).is_ok())
        };
        check().unwrap_or(false)
    }
}
