//! The owner side on chain: `approve` / `decline` / `claim` / `withdraw` of request contracts
//! (REQCs) for the accidents' EC owner keys, by one of two routes, direct EC creation, and the
//! auto-approve policy.
//!
//! Every accident has its own EC owner key (`m/44'/60'/7'/0/<i>`), which holds no ETH.
//! - **Relayed** (default, `owner.via = "relayer"`, [`relayed`]): the owner key signs each action
//!   as an EIP-712 message, the cloud's relayer sends it, pays the gas and fronts the deposit,
//!   and is repaid with the fees of its terms out of the owner's share. The owner key sends
//!   nothing and holds nothing until it is paid, so nothing on chain links one accident's key to
//!   another's, to the wallet or to the device; a withdrawal pays each share to its own owner key
//!   unless `--to` names another address.
//! - **Direct** (`--direct` or `owner.via = "direct"`, [`direct`]): the owner key sends the
//!   transaction itself; the owner's **wallet** key (`m/44'/60'/7'/1/0`, same seed) first sends
//!   it exactly what it lacks (value + gas limit × max fee), and proceeds go to the wallet by
//!   default. The funding links the wallet to each owner key on chain (`docs/agent.md`, "Owner
//!   wallet and privacy").
//!
//! [`evidence`] creates an EC directly; [`auto`] is the daemon's auto-approve pass.

mod auto;
mod direct;
mod error;
mod evidence;
mod relayed;

pub use auto::auto_approve_once;
pub use error::{ChainError, OwnerError, RevertSource, RewardBelowFees, WalletShortfall};
pub use evidence::predicted_evidence;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use dashledger_api::relay::{OwnerAction, OwnerRelayed, Wei};
use dashledger_protocol::bindings::request_contract::RequestContract;
use dashledger_protocol::bindings::request_factory::RequestFactory;
use dashledger_protocol::bindings::response_contract::ResponseContract;
use dashledger_protocol::keys::{HARDENED, OwnerKey, Secrets};
use dashledger_protocol::status::RequestStatus;
use dashledger_protocol::wrap::{self, UmbralPublicKey};
use serde::Serialize;

use crate::accident::Prepared;
use crate::cloud::{CloudClient, Deployment};
use crate::config::{Config, EcVia};
use crate::error::AgentError;
use crate::outbox::Outbox;

/// REQCs per `requestsOf` page (the contract allows up to 256).
const PAGE: u64 = 100;

/// BIP-32 path of the owner's funding wallet (same seed as the EC owner keys, branch 1).
pub const WALLET_KEY_PATH: [u32; 5] = [44 | HARDENED, 60 | HARDENED, 7 | HARDENED, 1, 0];

/// The name of a request status.
pub fn status_name(s: u8) -> String {
    RequestStatus::name_of(s)
}

/// The owner's funding wallet key.
pub fn wallet_key(secrets: &Secrets) -> Result<PrivateKeySigner, AgentError> {
    Ok(secrets.owner_seed().derive_path(&WALLET_KEY_PATH)?)
}

/// Number of owner keys used so far (accidents prepared).
pub fn used_owner_keys(outbox: &Outbox) -> Result<u32, AgentError> {
    outbox.owner_keys_used()
}

/// A failed JSON-RPC request.
pub(crate) fn chain_err(what: &str, source: alloy::transports::TransportError) -> AgentError {
    ChainError::Rpc {
        what: what.to_owned(),
        source,
    }
    .into()
}

/// A failed wait for a transaction's receipt.
pub(crate) fn pending_err(
    what: &str,
    source: alloy::providers::PendingTransactionError,
) -> AgentError {
    ChainError::Pending {
        what: what.to_owned(),
        source,
    }
    .into()
}

/// Decodes a revert of our contracts into "Name { fields }" when possible.
pub(crate) fn revert_reason(e: &alloy::transports::TransportError) -> Option<String> {
    use dashledger_protocol::bindings::evidence_factory::EvidenceFactory::EvidenceFactoryErrors;
    use dashledger_protocol::bindings::request_contract::RequestContract::RequestContractErrors;
    let resp = e.as_error_resp()?;
    if let Some(x) = resp.as_decoded_interface_error::<RequestContractErrors>() {
        return Some(format!("{x:?}"));
    }
    if let Some(x) = resp.as_decoded_interface_error::<EvidenceFactoryErrors>() {
        return Some(format!("{x:?}"));
    }
    resp.as_revert_data().map(|d| format!("reverted ({d})"))
}

/// A failed contract call: [`ChainError::Reverted`] with the decoded error when it is a revert
/// of the RequestContract, else [`ChainError::Call`].
pub(crate) fn call_err(what: &str, e: alloy::contract::Error) -> AgentError {
    use dashledger_protocol::bindings::request_contract::RequestContract::RequestContractErrors;
    if let Some(x) = e.as_decoded_interface_error::<RequestContractErrors>() {
        return ChainError::Reverted {
            what: what.to_owned(),
            reason: Some(format!("{x:?}")),
            tx: None,
            source: Some(Box::new(e)),
        }
        .into();
    }
    ChainError::Call {
        what: what.to_owned(),
        source: Box::new(e),
    }
    .into()
}

/// One transaction sent for an owner key (by the key itself, or by the relayer).
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// Transaction hash.
    pub tx: String,
    /// Gas used.
    pub gas_used: u64,
    /// What the wallet sent the owner key first (wei, decimal; "0" when it had enough or the
    /// relayer sent it).
    pub funded_wei: String,
}

impl Sent {
    /// A transaction the relayer sent (nothing funded).
    fn relayed(r: &OwnerRelayed) -> Self {
        Self {
            tx: r.tx_hash.clone(),
            gas_used: r.gas_used,
            funded_wei: "0".into(),
        }
    }
}

/// `approve` output.
#[derive(Debug, Clone, Serialize)]
pub struct Approved {
    /// The REQC.
    pub request: String,
    /// The EC.
    pub ec: String,
    /// The EC owner key that responded.
    pub owner: String,
    /// `relayer` (signed by the owner key, sent by the cloud) or `direct`.
    pub via: EcVia,
    /// Transaction hash.
    pub tx: String,
    /// Gas used.
    pub gas_used: u64,
    /// Deposit sent with the response (wei, decimal; relayed: what the relayer fronted).
    pub deposit_wei: String,
    /// What the wallet sent the owner key first (wei, decimal).
    pub funded_wei: String,
    /// The fee signed to the relayer, repaid with the deposit out of the owner's share (wei,
    /// decimal; "0" direct).
    pub relayer_fee_wei: String,
}

/// `decline` / `claim` output.
#[derive(Debug, Clone, Serialize)]
pub struct Acted {
    /// The REQC.
    pub request: String,
    /// The EC.
    pub ec: String,
    /// The EC owner key that sent (or signed) it.
    pub owner: String,
    /// `relayer` or `direct`.
    pub via: EcVia,
    /// Transaction hash.
    pub tx: String,
    /// Gas used.
    pub gas_used: u64,
    /// What the wallet sent the owner key first (wei, decimal).
    pub funded_wei: String,
    /// What the REQC now owes the owner key (wei, decimal; `withdraw` collects it).
    pub owed_wei: String,
}

impl Acted {
    fn new(view: &RequestView, owner: Address, via: EcVia, sent: Sent, owed: U256) -> Self {
        Self {
            request: view.reqc.to_string(),
            ec: view.info.ec.to_string(),
            owner: owner.to_string(),
            via,
            tx: sent.tx,
            gas_used: sent.gas_used,
            funded_wei: sent.funded_wei,
            owed_wei: owed.to_string(),
        }
    }
}

/// One payment collected by `withdraw`.
#[derive(Debug, Clone, Serialize)]
pub struct Withdrawn {
    /// The REQC.
    pub request: String,
    /// The owner key whose share it was.
    pub owner: String,
    /// Where it went.
    pub to: String,
    /// Amount received by `to` (wei, decimal).
    pub amount_wei: String,
    /// The relayer's fee taken from the share (wei, decimal; "0" direct).
    pub relayer_fee_wei: String,
    /// Transaction hash.
    pub tx: String,
    /// Gas used.
    pub gas_used: u64,
}

impl Withdrawn {
    fn new(
        reqc: Address,
        owner: Address,
        to: Address,
        amount: U256,
        fee: U256,
        sent: Sent,
    ) -> Self {
        Self {
            request: reqc.to_string(),
            owner: owner.to_string(),
            to: to.to_string(),
            amount_wei: amount.to_string(),
            relayer_fee_wei: fee.to_string(),
            tx: sent.tx,
            gas_used: sent.gas_used,
        }
    }
}

/// `withdraw` output.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawReport {
    /// The one recipient given (direct: default the wallet); none when each relayed share went
    /// to its own owner key (see each payment's `to`).
    pub to: Option<String>,
    /// Each payment.
    pub withdrawn: Vec<Withdrawn>,
    /// Sum of the payments (wei, decimal).
    pub total_wei: String,
}

/// What an approval hands the requester: the kfrag, the key that signed it (the EC's owner key
/// as an Umbral key) and where to download.
struct Grant {
    kfrag: Bytes,
    signer_key: Bytes,
    link: String,
}

/// A request as the owner sees it on chain.
#[derive(Debug, Clone)]
pub struct RequestView {
    /// The REQC.
    pub reqc: Address,
    /// Its on-chain info.
    pub info: dashledger_protocol::bindings::request_contract::IRequestContract::RequestInfo,
}

/// Chain access with the wallet and every used owner key as signers.
#[derive(Debug)]
pub struct OwnerChain {
    provider: DynProvider,
    deployment: Deployment,
    wallet: Address,
    owners: Vec<OwnerKey>,
    cloud_url: String,
    cloud: CloudClient,
    via: EcVia,
}

impl OwnerChain {
    /// Connects to `chain.rpc_url` with the wallet and the first `used` owner keys, checking the
    /// chain id against the deployment file.
    pub async fn connect(
        config: &Config,
        secrets: &Secrets,
        used: u32,
    ) -> Result<Self, AgentError> {
        let deployment = Deployment::load(&config.chain.deployments)?;
        let wallet_signer = wallet_key(secrets)?;
        let wallet = wallet_signer.address();
        let mut signers = EthereumWallet::from(wallet_signer);
        let mut owners = Vec::new();
        for i in 0..used {
            let k = secrets.owner_seed().owner_key(i)?;
            signers.register_signer(k.signer().clone());
            owners.push(k);
        }
        let url: alloy::transports::http::reqwest::Url =
            config.chain.rpc_url.parse().map_err(|e| {
                AgentError::Config(format!(
                    "chain.rpc_url {:?} is not a URL: {e}",
                    config.chain.rpc_url
                ))
            })?;
        let provider = ProviderBuilder::new()
            .wallet(signers)
            .connect_http(url)
            .erased();
        let id = provider.get_chain_id().await.map_err(|e| {
            chain_err(
                &format!("reading the chain id from {}", config.chain.rpc_url),
                e,
            )
        })?;
        if id != deployment.chain_id {
            return Err(AgentError::Config(format!(
                "the RPC at {} serves chain {id}, but {} is for chain {}",
                config.chain.rpc_url,
                config.chain.deployments.display(),
                deployment.chain_id
            )));
        }
        Ok(Self {
            provider,
            deployment,
            wallet,
            owners,
            cloud_url: config.cloud.url.trim_end_matches('/').to_string(),
            cloud: CloudClient::new(&config.cloud)?,
            via: config.owner.via,
        })
    }

    /// The same connection taking the other route (`--direct`).
    #[must_use]
    pub const fn with_via(mut self, via: EcVia) -> Self {
        self.via = via;
        self
    }

    /// The route owner actions take.
    pub const fn via(&self) -> EcVia {
        self.via
    }

    /// The wallet address.
    pub const fn wallet(&self) -> Address {
        self.wallet
    }

    /// The provider (wallet + owner keys as signers).
    pub const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    fn owner_of(&self, address: Address) -> Option<&OwnerKey> {
        self.owners.iter().find(|k| k.address() == address)
    }

    /// A REQC's on-chain info (checks it is a REQC of this deployment when the deployment file
    /// names the RequestFactory).
    pub async fn request(&self, reqc: Address) -> Result<RequestView, AgentError> {
        if let Some(rf) = self.deployment.request_factory {
            let ok = RequestFactory::new(rf, &self.provider)
                .isRequest(reqc)
                .call()
                .await
                .map_err(|e| call_err("RequestFactory.isRequest", e))?;
            if !ok {
                return Err(OwnerError::NotARequest { reqc, factory: rf }.into());
            }
        }
        let info = RequestContract::new(reqc, &self.provider)
            .info()
            .call()
            .await
            .map_err(|e| call_err(&format!("reading request {reqc}"), e))?;
        Ok(RequestView { reqc, info })
    }

    async fn chain_time(&self) -> Result<u64, AgentError> {
        let b = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| chain_err("reading the latest block", e))?
            .ok_or_else(|| ChainError::Missing("the node has no latest block".into()))?;
        Ok(b.header.timestamp)
    }

    /// The requester's Umbral key from the `RequestOpened` event.
    async fn requester_key(&self, reqc: Address) -> Result<UmbralPublicKey, AgentError> {
        let rc_addr = self.deployment.response_contract.ok_or_else(|| {
            AgentError::Config(
                "the deployment file has no responseContract (needed to read the requester's Umbral key)"
                    .into(),
            )
        })?;
        let logs = ResponseContract::new(rc_addr, &self.provider)
            .RequestOpened_filter()
            .topic2(reqc.into_word())
            .from_block(self.deployment.start_block)
            .query()
            .await
            .map_err(|e| call_err("reading the RequestOpened event", e))?;
        let key = logs
            .into_iter()
            .map(|(ev, _)| ev.requesterUmbralKey)
            .next()
            .ok_or_else(|| ChainError::Missing(format!("no RequestOpened event for {reqc}")))?;
        Ok(UmbralPublicKey::from_bytes(&key)?)
    }

    fn our_key(&self, view: &RequestView) -> Result<&OwnerKey, AgentError> {
        self.owner_of(view.info.owner).ok_or_else(|| {
            OwnerError::NotOurKey {
                reqc: view.reqc,
                ec: view.info.ec,
                owner: view.info.owner,
                keys: self.owners.len(),
            }
            .into()
        })
    }

    fn expect_status(view: &RequestView, want: RequestStatus) -> Result<(), AgentError> {
        if !want.is(view.info.status) {
            return Err(OwnerError::WrongStatus {
                reqc: view.reqc,
                is: view.info.status,
                want: want.code(),
            }
            .into());
        }
        Ok(())
    }

    /// Approves a request: a kfrag for the requester's Umbral key, `respond` with the deposit
    /// (default: the REQC's minimum). `accidents` are the stored accidents (for the EC's key).
    pub async fn approve(
        &self,
        secrets: &Secrets,
        accidents: &[Prepared],
        reqc: Address,
        deposit: Option<U256>,
    ) -> Result<Approved, AgentError> {
        let view = self.request(reqc).await?;
        Self::expect_status(&view, RequestStatus::Open)?;
        let owner = self.our_key(&view)?;
        let ec = view.info.ec;
        let prepared = accidents
            .iter()
            .find(|p| {
                p.owner_index == owner.index()
                    && p.ec_address
                        .as_deref()
                        .and_then(|a| a.parse::<Address>().ok())
                        == Some(ec)
            })
            .ok_or(OwnerError::NoSuchAccident {
                reqc,
                ec,
                index: owner.index(),
            })?;
        let now = self.chain_time().await?;
        if now > view.info.respondBy {
            return Err(OwnerError::ResponseDeadlinePassed {
                reqc,
                respond_by: view.info.respondBy,
                now,
            }
            .into());
        }
        let grant = self.grant(secrets, prepared, owner, reqc, ec).await?;
        let (sent, deposit, fee) = match self.via {
            EcVia::Direct => {
                let (sent, deposit) = self.respond_direct(owner, reqc, grant, deposit).await?;
                (sent, deposit, U256::ZERO)
            }
            EcVia::Relayer => self.respond_relayed(owner, &view, grant, deposit).await?,
        };
        tracing::info!(request = %reqc, ec = %ec, owner = %owner.address(), tx = %sent.tx, via = ?self.via, "request approved");
        Ok(Approved {
            request: reqc.to_string(),
            ec: ec.to_string(),
            owner: owner.address().to_string(),
            via: self.via,
            tx: sent.tx,
            gas_used: sent.gas_used,
            deposit_wei: deposit.to_string(),
            funded_wei: sent.funded_wei,
            relayer_fee_wei: fee.to_string(),
        })
    }

    /// The kfrag for the request's requester, signed by the EC's owner key, with that key as an
    /// Umbral key and the download link. It delegates from the Umbral key the accident's session
    /// key was wrapped to: the accident's own (derived from the owner seed) or, for an accident
    /// sealed before those, the keystore's.
    async fn grant(
        &self,
        secrets: &Secrets,
        prepared: &Prepared,
        owner: &OwnerKey,
        reqc: Address,
        ec: Address,
    ) -> Result<Grant, AgentError> {
        let requester_pk = self.requester_key(reqc).await?;
        let own = secrets.owner_seed().owner_umbral_key(owner.index())?;
        let owner_umbral = [own, secrets.umbral_secret_key()?]
            .into_iter()
            .find(|k| hex::encode(k.public_key().to_bytes()) == prepared.owner_umbral_key)
            .ok_or(OwnerError::OtherUmbralKey { ec })?;
        let signer = owner.kfrag_signer();
        let kfrag = Bytes::from(wrap::grant(&owner_umbral, &signer, &requester_pk));
        // The key that signed the kfrag (the EC owner key as an Umbral key), not the delegating
        // key: the requester checks its address is the EC's owner.
        let signer_key = Bytes::from(signer.verifying_key().to_bytes().to_vec());
        let link = format!(
            "{}/v1/clips/{ec:#x}/download?reqc={reqc:#x}",
            self.cloud_url
        );
        Ok(Grant {
            kfrag,
            signer_key,
            link,
        })
    }

    /// `respond` sent by the owner key with `deposit` (default: the REQC's minimum); the sent
    /// transaction and the deposit.
    async fn respond_direct(
        &self,
        owner: &OwnerKey,
        reqc: Address,
        grant: Grant,
        deposit: Option<U256>,
    ) -> Result<(Sent, U256), AgentError> {
        let contract = RequestContract::new(reqc, &self.provider);
        let deposit = match deposit {
            Some(d) => d,
            None => contract
                .minDeposit()
                .call()
                .await
                .map_err(|e| call_err("reading minDeposit", e))?,
        };
        let tx = contract
            .respond(grant.kfrag, grant.signer_key, grant.link)
            .value(deposit)
            .into_transaction_request();
        let sent = self.send_funded("respond", owner.address(), tx).await?;
        Ok((sent, deposit))
    }

    /// The signed response relayed by the cloud, which fronts the deposit, once the reward is
    /// seen to cover the relayer's two fees; the relayed transaction, the deposit fronted and the
    /// fee.
    async fn respond_relayed(
        &self,
        owner: &OwnerKey,
        view: &RequestView,
        grant: Grant,
        deposit: Option<U256>,
    ) -> Result<(Sent, U256, U256), AgentError> {
        if deposit.is_some() {
            return Err(OwnerError::DepositNeedsDirect.into());
        }
        let reqc = view.reqc;
        let terms = self.relay_terms().await?;
        let fees = terms.respond_fee_wei.0 + terms.withdraw_fee_wei.0;
        if view.info.reward <= fees {
            return Err(OwnerError::RewardBelowFees(Box::new(RewardBelowFees {
                reqc,
                reward: view.info.reward,
                respond_fee: terms.respond_fee_wei.0,
                withdraw_fee: terms.withdraw_fee_wei.0,
            }))
            .into());
        }
        let fee = terms.respond_fee_wei.0;
        let action = OwnerAction::Respond {
            kfrag: grant.kfrag,
            owner_umbral_key: grant.signer_key,
            download_link: grant.link,
            relayer_fee_wei: Wei(fee),
        };
        let r = self.relay(owner, reqc, action).await?;
        Ok((Sent::relayed(&r), r.deposit_fronted_wei.0, fee))
    }

    async fn owed(&self, reqc: Address, who: Address) -> Result<U256, AgentError> {
        RequestContract::new(reqc, &self.provider)
            .owed(who)
            .call()
            .await
            .map_err(|e| call_err("reading owed", e))
    }

    /// Declines an Open request (the reward goes back to the requester).
    pub async fn decline(&self, reqc: Address) -> Result<Acted, AgentError> {
        let view = self.request(reqc).await?;
        Self::expect_status(&view, RequestStatus::Open)?;
        let owner = self.our_key(&view)?;
        let sent = match self.via {
            EcVia::Direct => {
                let tx = RequestContract::new(reqc, &self.provider)
                    .decline()
                    .into_transaction_request();
                self.send_funded("decline", owner.address(), tx).await?
            }
            EcVia::Relayer => Sent::relayed(&self.relay(owner, reqc, OwnerAction::Decline).await?),
        };
        Ok(Acted::new(
            &view,
            owner.address(),
            self.via,
            sent,
            U256::ZERO,
        ))
    }

    /// Claims a Responded request once the confirm window is over (the requester neither
    /// confirmed nor disputed).
    pub async fn claim(&self, reqc: Address) -> Result<Acted, AgentError> {
        let view = self.request(reqc).await?;
        Self::expect_status(&view, RequestStatus::Responded)?;
        let owner = self.our_key(&view)?;
        let now = self.chain_time().await?;
        if now <= view.info.deadline {
            return Err(OwnerError::ConfirmWindowOpen {
                reqc,
                until: view.info.deadline,
                now,
            }
            .into());
        }
        let sent = match self.via {
            EcVia::Direct => {
                let tx = RequestContract::new(reqc, &self.provider)
                    .claim()
                    .into_transaction_request();
                self.send_funded("claim", owner.address(), tx).await?
            }
            EcVia::Relayer => Sent::relayed(&self.relay(owner, reqc, OwnerAction::Claim).await?),
        };
        let owed = self.owed(reqc, owner.address()).await?;
        Ok(Acted::new(&view, owner.address(), self.via, sent, owed))
    }

    /// Every REQC opened for `owner`'s ECs, newest first.
    async fn requests_of(&self, owner: Address) -> Result<Vec<Address>, AgentError> {
        let Some(rc) = self.deployment.response_contract else {
            return Err(AgentError::Config(
                "the deployment file has no responseContract (needed to list requests)".into(),
            ));
        };
        let rc = ResponseContract::new(rc, &self.provider);
        // Cursor paging: every page costs the same, wherever it is in the list.
        let mut out = Vec::new();
        let mut cursor = Address::ZERO;
        loop {
            let page = rc
                .requestsOf(owner, cursor, U256::from(PAGE))
                .call()
                .await
                .map_err(|e| call_err("requestsOf", e))?;
            out.extend(page.page);
            if page.next.is_zero() {
                return Ok(out);
            }
            cursor = page.next;
        }
    }

    /// Pulls what every used owner key is owed (`owed` / `withdraw`), or only what `only`
    /// owes. Direct: to `to`, default the wallet. Relayed: to `to`, default each request's own
    /// owner key (its share stays where nothing links it to another accident), less the
    /// relayer's fee; a share not above the fee is left (logged) for `--direct`.
    pub async fn withdraw(
        &self,
        to: Option<Address>,
        only: Option<Address>,
    ) -> Result<WithdrawReport, AgentError> {
        let mut out = Vec::new();
        let mut total = U256::ZERO;
        let mut terms = None;
        for owner in &self.owners {
            let a = owner.address();
            for reqc in self.requests_of(a).await? {
                if only.is_some_and(|o| o != reqc) {
                    continue;
                }
                let owed = self.owed(reqc, a).await?;
                if owed.is_zero() {
                    continue;
                }
                let w = match self.via {
                    EcVia::Direct => {
                        let payee = to.unwrap_or(self.wallet);
                        let tx = RequestContract::new(reqc, &self.provider)
                            .withdraw(payee)
                            .into_transaction_request();
                        let sent = self.send_funded("withdraw", a, tx).await?;
                        Withdrawn::new(reqc, a, payee, owed, U256::ZERO, sent)
                    }
                    EcVia::Relayer => {
                        let t = match &terms {
                            Some(t) => t,
                            None => terms.insert(self.relay_terms().await?),
                        };
                        let fee = t.withdraw_fee_wei.0;
                        if owed <= fee {
                            tracing::warn!(request = %reqc, owed = %owed, fee = %fee, "the share is not above the relayer's withdrawal fee; left (withdraw it with --direct)");
                            continue;
                        }
                        let payee = to.unwrap_or(a);
                        let action = OwnerAction::Withdraw {
                            to: payee,
                            relayer_fee_wei: Wei(fee),
                        };
                        let r = self.relay(owner, reqc, action).await?;
                        Withdrawn::new(reqc, a, payee, r.paid_wei.0, fee, Sent::relayed(&r))
                    }
                };
                tracing::info!(request = %reqc, owner = %a, to = %w.to, wei = %w.amount_wei, "withdrawn");
                total += U256::from_str_radix(&w.amount_wei, 10).unwrap_or_default();
                out.push(w);
            }
        }
        if self.via == EcVia::Relayer && to.is_some() && out.len() > 1 {
            tracing::warn!(
                payments = out.len(),
                "several accidents were paid to one address: that address now links them on chain"
            );
        }
        Ok(WithdrawReport {
            to: match (self.via, to) {
                (_, Some(t)) => Some(t.to_string()),
                (EcVia::Direct, None) => Some(self.wallet.to_string()),
                (EcVia::Relayer, None) => None,
            },
            withdrawn: out,
            total_wei: total.to_string(),
        })
    }
}

/// Loads every accident that has an EC (for `approve`).
pub fn accidents_with_ec(outbox: &Outbox) -> Result<Vec<Prepared>, AgentError> {
    let mut out = Vec::new();
    for detail in outbox.accident_details()? {
        if let Ok(p) = serde_json::from_str::<Prepared>(&detail)
            && p.ec_address.is_some()
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// Parses a 0x address given on the command line.
pub fn parse_address(s: &str, what: &str) -> Result<Address, AgentError> {
    s.trim().parse().map_err(|_| {
        AgentError::Config(format!("{what} `{s}` is not a 0x-prefixed 20-byte address"))
    })
}

/// Parses a decimal wei amount.
pub fn parse_wei(s: &str, what: &str) -> Result<U256, AgentError> {
    U256::from_str_radix(s.trim(), 10)
        .map_err(|_| AgentError::Config(format!("{what} `{s}` is not a decimal amount of wei")))
}
