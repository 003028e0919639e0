//! The owner side's error types: [`OwnerError`] (an owner command cannot be done) and
//! [`ChainError`] (the chain failed or a transaction reverted).

use alloy::primitives::{Address, B256, U256};

use super::status_name;

/// Why an owner command cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    /// The request is not in the status the command needs.
    #[error("request {reqc} is {}, not {}", status_name(*.is), status_name(*.want))]
    WrongStatus {
        /// The REQC.
        reqc: Address,
        /// Its status.
        is: u8,
        /// The status the command needs.
        want: u8,
    },
    /// The request's EC is owned by a key this device does not hold.
    #[error(
        "request {reqc} is for EC {ec} owned by {owner}, which is not one of this device's {keys} owner keys: not our EC"
    )]
    NotOurKey {
        /// The REQC.
        reqc: Address,
        /// Its EC.
        ec: Address,
        /// The EC's owner.
        owner: Address,
        /// How many owner keys this device has used.
        keys: usize,
    },
    /// The owner key is ours but no accident stored here has that EC.
    #[error(
        "request {reqc} is for EC {ec}, but no accident stored here has that EC under owner key #{index}: not our EC"
    )]
    NoSuchAccident {
        /// The REQC.
        reqc: Address,
        /// Its EC.
        ec: Address,
        /// The owner key's index.
        index: u32,
    },
    /// The owner's response deadline is over.
    #[error("the response deadline of request {reqc} passed at {respond_by} (chain time {now})")]
    ResponseDeadlinePassed {
        /// The REQC.
        reqc: Address,
        /// Its `respondBy`.
        respond_by: u64,
        /// The chain's time.
        now: u64,
    },
    /// The EC's key was wrapped to neither the accident's Umbral key nor the keystore's.
    #[error(
        "EC {ec} was wrapped to an Umbral key of another keystore (neither its accident's nor this keystore's own)"
    )]
    OtherUmbralKey {
        /// The EC.
        ec: Address,
    },
    /// The requester may still confirm or dispute: too early to claim.
    #[error(
        "the confirm window of request {reqc} is open until {until} (chain time {now}, {} s left); claim after that",
        .until.saturating_sub(*.now)
    )]
    ConfirmWindowOpen {
        /// The REQC.
        reqc: Address,
        /// The end of the window (chain time).
        until: u64,
        /// The chain's time.
        now: u64,
    },
    /// The address is not a REQC of the deployment's RequestFactory.
    #[error("{reqc} is not a request contract of the RequestFactory {factory}")]
    NotARequest {
        /// The address given.
        reqc: Address,
        /// The RequestFactory.
        factory: Address,
    },
    /// The direct route: the wallet cannot top the owner key up (boxed: the amounts are large).
    #[error("{0}")]
    WalletTooPoor(Box<WalletShortfall>),
    /// The relayed route: the relayer's fees would take the whole reward.
    #[error("{0}")]
    RewardBelowFees(Box<RewardBelowFees>),
    /// `--deposit-wei` on the relayed route.
    #[error("--deposit-wei needs --direct: the relayer fronts the request's minimum deposit")]
    DepositNeedsDirect,
}

/// [`OwnerError::WalletTooPoor`]: what the wallet holds and what the owner key lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what}: the owner wallet {wallet} holds {holds} wei but the owner key {key} needs {needs} wei more (value {value} + gas); fund the wallet"
)]
pub struct WalletShortfall {
    /// The transaction.
    pub what: String,
    /// The wallet.
    pub wallet: Address,
    /// Its balance (wei).
    pub holds: U256,
    /// The owner key.
    pub key: Address,
    /// What it lacks (wei).
    pub needs: U256,
    /// The transaction's value (wei).
    pub value: U256,
}

/// [`OwnerError::RewardBelowFees`]: the request's reward and the relayer's fees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "request {reqc} offers {reward} wei, which does not cover the relayer's fees ({respond_fee} wei to respond + {withdraw_fee} wei to withdraw): approve it with --direct, or decline"
)]
pub struct RewardBelowFees {
    /// The REQC.
    pub reqc: Address,
    /// Its reward (wei).
    pub reward: U256,
    /// The relayer's respond fee (wei).
    pub respond_fee: U256,
    /// The relayer's withdraw fee (wei).
    pub withdraw_fee: U256,
}

/// The error a revert came with (the node's error answer, or the contract call's error).
pub type RevertSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The chain (JSON-RPC) failed, or a call or transaction reverted.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A JSON-RPC request failed (node unreachable, error answer).
    #[error("{what}: {source}")]
    Rpc {
        /// What we were doing.
        what: String,
        /// The transport's error.
        #[source]
        source: alloy::transports::TransportError,
    },
    /// A contract call or event query failed (other than a decoded revert).
    #[error("{what}: {source}")]
    Call {
        /// The call.
        what: String,
        /// The contract binding's error (boxed: it is large).
        #[source]
        source: Box<alloy::contract::Error>,
    },
    /// Waiting for a transaction to be mined failed (timeout, node gone).
    #[error("{what}: {source}")]
    Pending {
        /// The transaction.
        what: String,
        /// The watcher's error.
        #[source]
        source: alloy::providers::PendingTransactionError,
    },
    /// The gas estimate shows the transaction would revert: nothing was sent.
    #[error("{what} would revert: {reason}")]
    WouldRevert {
        /// The transaction.
        what: String,
        /// The decoded contract error (e.g. `NotOwner(NotOwner)`), or the raw revert data.
        reason: String,
        /// The node's error answer.
        #[source]
        source: RevertSource,
    },
    /// A call or transaction reverted.
    #[error("{what}{}", reverted(reason.as_deref(), tx.as_ref()))]
    Reverted {
        /// The call or transaction.
        what: String,
        /// The decoded contract error, or the raw revert data, when the node gave it.
        reason: Option<String>,
        /// The transaction, when it was mined.
        tx: Option<B256>,
        /// The error the revert came with (none for a mined transaction whose receipt says it
        /// failed).
        #[source]
        source: Option<RevertSource>,
    },
    /// The node lacks something it must have (a latest block, an event).
    #[error("{0}")]
    Missing(String),
}

fn reverted(reason: Option<&str>, tx: Option<&B256>) -> String {
    match (reason, tx) {
        (Some(r), None) => format!(" reverted: {r}"),
        (None, Some(tx)) => format!(": transaction {tx} reverted on chain"),
        (Some(r), Some(tx)) => format!(": transaction {tx} reverted: {r}"),
        (None, None) => " reverted".to_owned(),
    }
}

impl ChainError {
    /// The decoded revert, when this is one.
    pub fn revert_reason(&self) -> Option<&str> {
        match self {
            Self::WouldRevert { reason, .. } => Some(reason),
            Self::Reverted { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }

    /// Whether a call or transaction reverted (or would have).
    pub const fn is_revert(&self) -> bool {
        matches!(self, Self::WouldRevert { .. } | Self::Reverted { .. })
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use alloy::transports::{RpcError, TransportErrorKind};

    use super::*;
    use crate::error::AgentError;

    fn reqc() -> Address {
        Address::repeat_byte(0xc0)
    }

    #[test]
    fn owner_errors_read_as_before() {
        let e = OwnerError::WrongStatus {
            reqc: reqc(),
            is: 4,
            want: 0,
        };
        assert!(e.to_string().ends_with("is Completed, not Open"), "{e}");
        let e = OwnerError::WrongStatus {
            reqc: reqc(),
            is: 2,
            want: 1,
        };
        assert!(e.to_string().ends_with("is Declined, not Responded"), "{e}");
        let e = OwnerError::ConfirmWindowOpen {
            reqc: reqc(),
            until: 1_000,
            now: 400,
        };
        let s = e.to_string();
        assert!(
            s.contains("confirm window") && s.contains("open until 1000"),
            "{s}"
        );
        assert!(s.contains("(chain time 400, 600 s left)"), "{s}");
        let e = OwnerError::NotARequest {
            reqc: reqc(),
            factory: Address::repeat_byte(0xf0),
        };
        assert!(e.to_string().contains("is not a request contract"), "{e}");
        // Wrapped, the message is unchanged and the typed error is the source.
        let a = AgentError::from(e.clone());
        assert_eq!(a.to_string(), e.to_string());
        assert_eq!(
            a.source().and_then(|s| s.downcast_ref::<OwnerError>()),
            Some(&e)
        );
        assert!(matches!(
            a,
            AgentError::Owner(OwnerError::NotARequest { .. })
        ));
    }

    #[test]
    fn errors_stay_small() {
        // Below clippy's `result_large_err` threshold, wrapped in `AgentError`.
        assert!(std::mem::size_of::<AgentError>() < 128);
    }

    #[test]
    fn chain_errors_keep_the_alloy_error() {
        let e = ChainError::Rpc {
            what: "reading the chain id".into(),
            source: RpcError::Transport(TransportErrorKind::BackendGone),
        };
        assert!(!e.is_revert());
        let a = AgentError::from(e);
        assert!(
            a.to_string().starts_with("chain: reading the chain id: "),
            "{a}"
        );
        let chain: Vec<_> = std::iter::successors(a.source(), |&e| e.source()).collect();
        assert!(
            chain
                .iter()
                .any(|s| s.is::<alloy::transports::TransportError>()),
            "{chain:?}"
        );
    }

    #[test]
    fn reverts_carry_the_reason_and_the_transaction() {
        let tx = B256::repeat_byte(0xab);
        let e = ChainError::Reverted {
            what: "claim".into(),
            reason: None,
            tx: Some(tx),
            source: None,
        };
        assert!(e.is_revert() && e.revert_reason().is_none());
        assert_eq!(
            e.to_string(),
            format!("claim: transaction {tx} reverted on chain")
        );
        assert!(e.source().is_none());
        let e = ChainError::Reverted {
            what: "respond".into(),
            reason: Some("NotOpen(NotOpen)".into()),
            tx: None,
            source: Some(Box::new(RpcError::<TransportErrorKind>::NullResp)),
        };
        assert_eq!(e.revert_reason(), Some("NotOpen(NotOpen)"));
        assert_eq!(e.to_string(), "respond reverted: NotOpen(NotOpen)");
        assert!(e.source().is_some());
    }
}
