//! Request contracts as the cloud indexes them: an owner's requests, gated downloads, disputes.

use serde::{Deserialize, Serialize};

use crate::wire_enum;

/// A Request Contract's state: its status names (`dashledger_protocol::bindings`), as the
/// indexer records them from the contract's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RequestState {
    /// Opened with a reward, waiting for the owner.
    Open,
    /// The owner answered with a kfrag and a deposit.
    Responded,
    /// The owner declined.
    Declined,
    /// The requester cancelled (owner silent).
    Cancelled,
    /// The requester confirmed: downloads open.
    Completed,
    /// The requester disputed the kfrag.
    Disputed,
    /// The owner claimed after the requester stayed silent.
    Claimed,
    /// The verifier found the kfrag valid.
    ResolvedForOwner,
    /// The verifier found the kfrag invalid.
    ResolvedForRequester,
    /// The dispute window ran out.
    DisputeExpired,
}

wire_enum! {
    RequestState {
        Open = "Open",
        Responded = "Responded",
        Declined = "Declined",
        Cancelled = "Cancelled",
        Completed = "Completed",
        Disputed = "Disputed",
        Claimed = "Claimed",
        ResolvedForOwner = "ResolvedForOwner",
        ResolvedForRequester = "ResolvedForRequester",
        DisputeExpired = "DisputeExpired",
    }
}

impl RequestState {
    /// The state of a `RequestContract` status number (the contract's enum order).
    pub fn from_status(status: u8) -> Option<Self> {
        dashledger_protocol::bindings::request_status_name(status).and_then(|n| n.parse().ok())
    }
}

/// `GET /v1/owner/requests?state=` (signed by an EC owner key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct OwnerRequestsQuery {
    /// Only requests in this state.
    #[cfg_attr(feature = "openapi", param(value_type = Option<RequestState>, inline))]
    pub state: Option<String>,
}

/// A request for one of the owner's ECs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestView {
    /// The Request Contract.
    pub reqc: String,
    /// The EC it is for.
    pub ec_address: String,
    /// Who opened it.
    pub requester: String,
    /// The EC's owner.
    pub owner: String,
    /// Latest indexed state.
    pub state: RequestState,
    /// Block it was opened in.
    pub block_number: i64,
}

/// `GET /v1/clips/{ec}/download?reqc=` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DownloadQuery {
    /// The Request Contract (Completed, opened by the signer for this EC).
    #[cfg_attr(feature = "openapi", param(pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub reqc: String,
}

/// `POST /v1/disputes/{reqc}`: the verdict sent with `resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeResolved {
    /// The Request Contract.
    pub reqc: String,
    /// Whether the owner's kfrag was valid.
    pub kfrag_valid: bool,
    /// The `resolve` transaction.
    pub tx_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_the_contracts_status_names_in_order() {
        let names = dashledger_protocol::bindings::REQUEST_STATUS_NAMES;
        assert_eq!(RequestState::ALL.len(), names.len());
        for (i, name) in names.iter().enumerate() {
            let s = RequestState::from_status(i as u8).unwrap();
            assert_eq!(s.as_str(), *name);
        }
        assert_eq!(RequestState::from_status(names.len() as u8), None);
    }
}
