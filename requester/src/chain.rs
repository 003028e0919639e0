//! Everything the requester does on-chain: open a request, read its state and the owner's
//! response, confirm / dispute / cancel / withdraw, read the EC's parameters. Reverts are
//! decoded into the contracts' custom errors with a hint of what to do.

use std::time::{Duration, UNIX_EPOCH};

use alloy::{
    eips::BlockNumberOrTag,
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
};
use serde::Serialize;

use crate::bindings::{
    EvidenceContract, EvidenceFactory, RequestContract, RequestFactory, ResponseContract,
    SearchContract,
};
use crate::config::Deployment;
use crate::error::{Error, Result};

/// REQC status numbers used by the CLI.
pub mod status {
    use dashledger_protocol::status::RequestStatus;
    /// Waiting for the owner.
    pub const OPEN: u8 = RequestStatus::Open.code();
    /// The owner answered with a kfrag.
    pub const RESPONDED: u8 = RequestStatus::Responded.code();
    /// The requester confirmed.
    pub const COMPLETED: u8 = RequestStatus::Completed.code();
    /// The requester disputed the kfrag.
    pub const DISPUTED: u8 = RequestStatus::Disputed.code();
}

/// The name of a REQC status number.
pub fn status_name(s: u8) -> String {
    dashledger_protocol::status::RequestStatus::name_of(s)
}

/// RFC 3339 (UTC, seconds) for a unix time.
pub fn fmt_time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// Formats wei as ETH (up to 18 decimals, trailing zeros removed).
pub fn fmt_eth(wei: U256) -> String {
    let s = alloy::primitives::utils::format_ether(wei);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_owned()
    }
}

fn u256_secs(v: U256) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

fn describe_reqc_error(e: &RequestContract::RequestContractErrors) -> String {
    use RequestContract::RequestContractErrors as E;
    match e {
        E::InvalidStatus(v) => format!(
            "InvalidStatus: the request is {}, but this action needs it {}",
            status_name(v.current),
            status_name(v.expected)
        ),
        E::ResponseWindowOpen(v) => format!(
            "ResponseWindowOpen: the owner may still respond until {} (chain time {}); you can cancel after that",
            fmt_time(v.respondBy),
            fmt_time(u256_secs(v.timestamp))
        ),
        E::ResponseDeadlinePassed(v) => format!(
            "ResponseDeadlinePassed: the response deadline {} has passed (chain time {})",
            fmt_time(v.respondBy),
            fmt_time(u256_secs(v.timestamp))
        ),
        E::ConfirmWindowClosed(v) => format!(
            "ConfirmWindowClosed: the confirm/dispute deadline {} has passed (chain time {}); the owner can now claim the reward",
            fmt_time(v.confirmBy),
            fmt_time(u256_secs(v.timestamp))
        ),
        E::ConfirmWindowOpen(v) => format!(
            "ConfirmWindowOpen: the confirm window is open until {}",
            fmt_time(v.confirmBy)
        ),
        E::ResolveWindowOpen(v) => format!(
            "ResolveWindowOpen: the verifier may resolve until {}",
            fmt_time(v.resolveBy)
        ),
        E::ResolveWindowClosed(v) => format!(
            "ResolveWindowClosed: the verifier's window ended at {}; anyone may now expire the dispute (the owner is paid, your bond comes back)",
            fmt_time(v.resolveBy)
        ),
        E::WrongBond(v) => format!(
            "WrongBond: a dispute needs a bond of exactly {} ETH (sent {} ETH)",
            fmt_eth(v.bond),
            fmt_eth(v.sent)
        ),
        E::NothingToWithdraw(v) => {
            format!("NothingToWithdraw: this request owes {} nothing", v.account)
        }
        E::NotRequester(v) => format!(
            "NotRequester: your wallet {} is not this request's requester {}",
            v.caller, v.requester
        ),
        E::NotOwner(v) => format!("NotOwner: {} is not the owner {}", v.caller, v.owner),
        E::TransferFailed(v) => format!(
            "TransferFailed: sending {} ETH to {} failed",
            fmt_eth(v.amount),
            v.to
        ),
        other => format!("{other:?}"),
    }
}

/// Decodes a revert into the contracts' custom errors ("Name: explanation"), if it is one.
pub fn decode_revert(e: &alloy::contract::Error) -> Option<String> {
    if let Some(x) = e.as_decoded_interface_error::<RequestContract::RequestContractErrors>() {
        return Some(describe_reqc_error(&x));
    }
    if let Some(x) = e.as_decoded_interface_error::<RequestFactory::RequestFactoryErrors>() {
        use RequestFactory::RequestFactoryErrors as E;
        return Some(match x {
            E::EvidenceNotListed(v) => {
                format!(
                    "EvidenceNotListed: {} is not a verified, listed Evidence Contract of this deployment",
                    v.ec
                )
            }
            E::RewardTooLow(v) => format!(
                "RewardTooLow: the reward must be at least {} ETH (offered {} ETH)",
                fmt_eth(v.minReward),
                fmt_eth(v.reward)
            ),
            E::RewardTooLarge(v) => format!(
                "RewardTooLarge: {} ETH does not fit in 96 bits",
                fmt_eth(v.reward)
            ),
            other => format!("{other:?}"),
        });
    }
    if let Some(x) = e.as_decoded_interface_error::<EvidenceFactory::EvidenceFactoryErrors>() {
        return Some(format!("{x:?}"));
    }
    if let Some(x) = e.as_decoded_interface_error::<EvidenceContract::EvidenceContractErrors>() {
        return Some(format!("{x:?}"));
    }
    if let Some(x) = e.as_decoded_interface_error::<SearchContract::SearchContractErrors>() {
        return Some(format!("{x:?}"));
    }
    if let Some(x) = e.as_decoded_interface_error::<ResponseContract::ResponseContractErrors>() {
        return Some(format!("{x:?}"));
    }
    e.as_revert_data().map(|d| {
        if d.is_empty() {
            "reverted without a reason".into()
        } else {
            format!("unknown revert data {d}")
        }
    })
}

/// A request's on-chain state.
#[derive(Clone, Debug, Serialize)]
pub struct RequestState {
    /// The REQC.
    pub reqc: Address,
    /// The EC it asks for.
    pub ec: Address,
    /// Who opened it.
    pub requester: Address,
    /// The EC owner.
    pub owner: Address,
    /// Reward (wei, decimal).
    pub reward_wei: String,
    /// Owner deposit (wei, decimal).
    pub deposit_wei: String,
    /// Owner response deadline (unix s).
    pub respond_by: u64,
    /// Confirm-by / resolve-by deadline (unix s; 0 when none).
    pub deadline: u64,
    /// Status number.
    pub status_code: u8,
    /// Status name.
    pub status: String,
    /// What the REQC owes the queried account (wei, decimal).
    pub owed_wei: String,
}

/// The owner's response.
#[derive(Clone, Debug)]
pub struct Response {
    /// Key fragment (msgpack).
    pub kfrag: Bytes,
    /// The kfrag signer's Umbral verifying key (33 bytes).
    pub signer_key: Bytes,
    /// Where the sealed clip is served.
    pub download_link: String,
    /// Confirm-by deadline.
    pub confirm_by: u64,
}

/// The EC's creation parameters (checked against the EC's stored `evidenceHash`).
#[derive(Clone, Debug)]
pub struct Evidence {
    /// The EC.
    pub ec: Address,
    /// Its owner.
    pub owner: Address,
    /// Keccak-256 of the plaintext clip.
    pub video_hash: B256,
    /// Keccak-256 of the sealed clip.
    pub cipher_hash: B256,
    /// Keccak-256 of the session key.
    pub key_commitment: B256,
    /// Recording time (unix s).
    pub recorded_at: u64,
    /// Umbral capsule.
    pub capsule: Bytes,
    /// Umbral DEM ciphertext of the session key.
    pub wrapped_key: Bytes,
    /// The owner's delegating Umbral key.
    pub owner_umbral_key: Bytes,
}

/// A listing in the SearchContract.
#[derive(Clone, Debug, Serialize)]
pub struct Listing {
    /// The EC.
    pub ec: Address,
    /// Recording time (unix s).
    pub recorded_at: u64,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// A sent, mined, successful transaction.
#[derive(Clone, Debug, Serialize)]
pub struct Sent {
    /// Transaction hash.
    pub tx: B256,
    /// Gas used.
    pub gas_used: u64,
}

/// A connection to the chain with the requester's wallet.
#[derive(Clone, Debug)]
pub struct Chain {
    provider: DynProvider,
    rpc_url: String,
    me: Option<Address>,
    dep: Deployment,
}

impl Chain {
    /// Connects, checking that the RPC's chain id is the deployment's.
    pub async fn connect(
        rpc_url: &str,
        dep: Deployment,
        signer: Option<PrivateKeySigner>,
    ) -> Result<Self> {
        let url: reqwest::Url = rpc_url
            .parse()
            .map_err(|e| Error::Config(format!("--rpc-url {rpc_url:?} is not a URL: {e}")))?;
        let me = signer.as_ref().map(|s| s.address());
        let provider = match signer {
            Some(s) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(s))
                .connect_http(url)
                .erased(),
            None => ProviderBuilder::new().connect_http(url).erased(),
        };
        let chain = Self {
            provider,
            rpc_url: rpc_url.to_owned(),
            me,
            dep,
        };
        let id = chain
            .provider
            .get_chain_id()
            .await
            .map_err(|e| chain.rpc("reading the chain id", e))?;
        if id != chain.dep.chain_id {
            return Err(Error::Config(format!(
                "the RPC at {rpc_url} serves chain {id}, but the deployment file is for chain {}",
                chain.dep.chain_id
            )));
        }
        Ok(chain)
    }

    /// The deployment in use.
    pub const fn deployment(&self) -> &Deployment {
        &self.dep
    }

    /// The provider (read-only calls and proofs, e.g. the `bundle` module).
    pub const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The wallet address (errors when no key was given).
    pub fn me(&self) -> Result<Address> {
        self.me.ok_or_else(|| {
            Error::Config("this command needs your wallet key: pass --key-file FILE or set DASHLEDGER_PRIVATE_KEY".into())
        })
    }

    fn rpc(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Rpc {
            url: self.rpc_url.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    fn call_error(&self, what: &str, e: alloy::contract::Error) -> Error {
        if let Some(msg) = decode_revert(&e) {
            return Error::Reverted(format!("{what}: {msg}"));
        }
        let s = e.to_string();
        if is_insufficient_funds(&e) {
            let who = self
                .me
                .map_or_else(|| "the wallet".to_owned(), |a| a.to_string());
            return Error::InsufficientFunds(format!(
                "{what}: {who} cannot pay the value plus gas ({s})"
            ));
        }
        self.rpc(what, s)
    }

    async fn mined(
        &self,
        what: &str,
        pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    ) -> Result<(Sent, TransactionReceipt)> {
        let hash = *pending.tx_hash();
        tracing::info!(%hash, "{what}: sent, waiting for it to be mined");
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(300)))
            .get_receipt()
            .await
            .map_err(|e| self.rpc(&format!("{what}: waiting for transaction {hash}"), e))?;
        if !receipt.status() {
            return Err(Error::Reverted(format!(
                "{what}: transaction {hash} reverted on-chain"
            )));
        }
        Ok((
            Sent {
                tx: hash,
                gas_used: receipt.gas_used,
            },
            receipt,
        ))
    }

    /// Latest block's timestamp.
    pub async fn now(&self) -> Result<u64> {
        let b = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.rpc("reading the latest block", e))?
            .ok_or_else(|| self.rpc("reading the latest block", "no block"))?;
        Ok(b.header.timestamp)
    }

    /// The wallet's balance.
    pub async fn balance(&self, who: Address) -> Result<U256> {
        self.provider
            .get_balance(who)
            .await
            .map_err(|e| self.rpc("reading the balance", e))
    }

    /// Opens a request for `ec` with `reward` wei; returns the REQC and the transaction.
    pub async fn create_request(
        &self,
        ec: Address,
        umbral_pk: &[u8],
        reward: U256,
    ) -> Result<(Address, Sent)> {
        let me = self.me()?;
        let bal = self.balance(me).await?;
        if bal < reward {
            return Err(Error::InsufficientFunds(format!(
                "the reward is {} ETH but your wallet {me} holds {} ETH",
                fmt_eth(reward),
                fmt_eth(bal)
            )));
        }
        let rf = RequestFactory::new(self.dep.request_factory, &self.provider);
        let call = rf
            .createRequest(ec, Bytes::copy_from_slice(umbral_pk))
            .value(reward);
        let pending = call
            .send()
            .await
            .map_err(|e| self.call_error("createRequest", e))?;
        let (sent, receipt) = self.mined("createRequest", pending).await?;
        let reqc = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<ResponseContract::RequestOpened>().ok())
            .map(|l| l.inner.data.reqc)
            .ok_or_else(|| {
                Error::Reverted(format!(
                    "transaction {} opened no request (no RequestOpened event)",
                    sent.tx
                ))
            })?;
        Ok((reqc, sent))
    }

    /// A REQC's state; `owed` is what it owes `who` (the wallet by default).
    pub async fn request_state(&self, reqc: Address) -> Result<RequestState> {
        let c = RequestContract::new(reqc, &self.provider);
        let rf = RequestFactory::new(self.dep.request_factory, &self.provider);
        let is_req = rf
            .isRequest(reqc)
            .call()
            .await
            .map_err(|e| self.call_error("isRequest", e))?;
        if !is_req {
            return Err(Error::Config(format!(
                "{reqc} is not a Request Contract of this deployment"
            )));
        }
        let i = c
            .info()
            .call()
            .await
            .map_err(|e| self.call_error("reading the request", e))?;
        let owed = match self.me {
            Some(me) => c
                .owed(me)
                .call()
                .await
                .map_err(|e| self.call_error("reading owed", e))?,
            None => U256::ZERO,
        };
        Ok(RequestState {
            reqc,
            ec: i.ec,
            requester: i.requester,
            owner: i.owner,
            reward_wei: i.reward.to_string(),
            deposit_wei: i.deposit.to_string(),
            respond_by: i.respondBy,
            deadline: i.deadline,
            status_code: i.status,
            status: status_name(i.status),
            owed_wei: owed.to_string(),
        })
    }

    /// Requests opened by `requester`, oldest first: (reqc, requester Umbral key).
    pub async fn requests_by(&self, requester: Address) -> Result<Vec<(Address, Bytes)>> {
        let rc = ResponseContract::new(self.dep.response_contract, &self.provider);
        let logs = rc
            .RequestOpened_filter()
            .from_block(self.dep.start_block)
            .query()
            .await
            .map_err(|e| self.call_error("reading RequestOpened events", e))?;
        Ok(logs
            .into_iter()
            .filter(|(ev, _)| ev.requester == requester)
            .map(|(ev, _)| (ev.reqc, ev.requesterUmbralKey))
            .collect())
    }

    /// The Umbral public key a request was opened with.
    pub async fn request_umbral_key(&self, reqc: Address) -> Result<Bytes> {
        let rc = ResponseContract::new(self.dep.response_contract, &self.provider);
        let logs = rc
            .RequestOpened_filter()
            .topic2(reqc.into_word())
            .from_block(self.dep.start_block)
            .query()
            .await
            .map_err(|e| self.call_error("reading the RequestOpened event", e))?;
        logs.into_iter()
            .map(|(ev, _)| ev.requesterUmbralKey)
            .next()
            .ok_or_else(|| Error::Config(format!("no RequestOpened event for {reqc}")))
    }

    /// The owner's response, or None before one.
    pub async fn response(&self, reqc: Address) -> Result<Option<Response>> {
        let c = RequestContract::new(reqc, &self.provider);
        let logs = c
            .RequestResponded_filter()
            .from_block(self.dep.start_block)
            .query()
            .await
            .map_err(|e| self.call_error("reading the RequestResponded event", e))?;
        Ok(logs.into_iter().next().map(|(ev, _)| Response {
            kfrag: ev.kfrag,
            signer_key: ev.ownerUmbralKey,
            download_link: ev.downloadLink,
            confirm_by: ev.confirmBy,
        }))
    }

    /// The EC's creation parameters from the factory's `EvidenceCreated` log, checked against
    /// the `evidenceHash` stored in the EC.
    pub async fn evidence(&self, ec: Address) -> Result<Evidence> {
        let ef = EvidenceFactory::new(self.dep.evidence_factory, &self.provider);
        let logs = ef
            .EvidenceCreated_filter()
            .topic1(ec.into_word())
            .from_block(self.dep.start_block)
            .query()
            .await
            .map_err(|e| self.call_error("reading the EvidenceCreated event", e))?;
        let (ev, _) = logs.into_iter().next().ok_or_else(|| {
            Error::Config(format!(
                "no EvidenceCreated event for {ec}: not an Evidence Contract of this deployment"
            ))
        })?;
        let p = ev.params;
        let expected = ef
            .hashEvidence(p.clone())
            .call()
            .await
            .map_err(|e| self.call_error("hashEvidence", e))?;
        let stored = EvidenceContract::new(ec, &self.provider)
            .evidenceHash()
            .call()
            .await
            .map_err(|e| self.call_error("reading evidenceHash", e))?;
        if expected != stored {
            return Err(Error::Verification(format!(
                "the EvidenceCreated parameters of {ec} hash to {expected}, but the EC stores {stored}"
            )));
        }
        Ok(Evidence {
            ec,
            owner: ev.owner,
            video_hash: p.videoHash,
            cipher_hash: p.cipherHash,
            key_commitment: p.keyCommitment,
            recorded_at: p.recordedAt,
            capsule: p.capsule,
            wrapped_key: p.wrappedKey,
            owner_umbral_key: p.ownerUmbralKey,
        })
    }

    async fn reqc_tx(&self, reqc: Address, what: &str) -> Result<Sent> {
        let c = RequestContract::new(reqc, &self.provider);
        let me = self.me()?;
        let pending = match what {
            "confirm" => c.confirm().send().await,
            "dispute" => {
                // The bond is fixed per deployment; it comes back unless the kfrag was valid.
                let bond = c
                    .disputeBond()
                    .call()
                    .await
                    .map_err(|e| self.call_error("disputeBond", e))?;
                c.dispute().value(bond).send().await
            }
            "cancel" => c.cancel().send().await,
            "withdraw" => c.withdraw(me).send().await,
            other => return Err(Error::Config(format!("unknown request action {other}"))),
        }
        .map_err(|e| self.call_error(what, e))?;
        Ok(self.mined(what, pending).await?.0)
    }

    /// `confirm()`: the recovered key is right; pays the owner.
    pub async fn confirm(&self, reqc: Address) -> Result<Sent> {
        self.reqc_tx(reqc, "confirm").await
    }
    /// `dispute()` with the bond (`disputeBond()`): the kfrag is wrong.
    pub async fn dispute(&self, reqc: Address) -> Result<Sent> {
        self.reqc_tx(reqc, "dispute").await
    }
    /// `cancel()`: the owner did not respond in time.
    pub async fn cancel(&self, reqc: Address) -> Result<Sent> {
        self.reqc_tx(reqc, "cancel").await
    }
    /// `withdraw(me)`: collects what the REQC owes the wallet.
    pub async fn withdraw(&self, reqc: Address) -> Result<Sent> {
        self.reqc_tx(reqc, "withdraw").await
    }

    /// All listings of the SearchContract.
    pub async fn listings(&self) -> Result<Vec<Listing>> {
        let sc = SearchContract::new(self.dep.search_contract, &self.provider);
        let count = sc
            .count()
            .call()
            .await
            .map_err(|e| self.call_error("SearchContract.count", e))?;
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        let mut offset = 0u64;
        while offset < count {
            let page = sc
                .page(U256::from(offset), U256::from(200u64))
                .call()
                .await
                .map_err(|e| self.call_error("SearchContract.page", e))?;
            if page.is_empty() {
                break;
            }
            offset += page.len() as u64;
            out.extend(page.into_iter().map(|l| Listing {
                ec: l.ec,
                recorded_at: l.recordedAt,
                lat: f64::from(l.latitude) / 1e6,
                lon: f64::from(l.longitude) / 1e6,
            }));
        }
        Ok(out)
    }
}

/// Whether the node refused the transaction because the sender cannot pay value + gas. JSON-RPC
/// has no standard code for it (geth answers -32000, anvil -32003, others their own), so this
/// reads the message of the node's structured error answer, not the text of the whole error.
fn is_insufficient_funds(e: &alloy::contract::Error) -> bool {
    let alloy::contract::Error::TransportError(t) = e else {
        return false;
    };
    t.as_error_resp().is_some_and(|p| {
        p.message
            .to_ascii_lowercase()
            .contains("insufficient funds")
    })
}
