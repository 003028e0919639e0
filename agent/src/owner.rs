//! The owner side on chain: the funding wallet, `approve` / `decline` / `claim` / `withdraw` of
//! request contracts (REQCs), direct EC creation, and the auto-approve policy.
//!
//! Every accident has its own EC owner key (`m/44'/60'/7'/0/<i>`), which holds no ETH. The
//! owner's **wallet** key (`m/44'/60'/7'/1/0`, same seed) does: before an owner key sends a
//! transaction, the wallet sends it exactly what it lacks for that transaction (value + gas limit
//! × max fee). Proceeds are withdrawn to the wallet by default. Funding links the wallet to each
//! owner key on chain (see `docs/agent.md`, "Owner wallet and privacy").

use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::StateOverridesBuilder;
use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::bindings::evidence_factory::{EvidenceFactory, IEvidenceFactory};
use dashledger_protocol::bindings::request_contract::RequestContract;
use dashledger_protocol::bindings::request_factory::RequestFactory;
use dashledger_protocol::bindings::response_contract::ResponseContract;
use dashledger_protocol::keys::{HARDENED, OwnerKey, Secrets};
use dashledger_protocol::wrap::{self, UmbralPublicKey};
use serde::Serialize;

use crate::accident::Prepared;
use crate::cloud::Deployment;
use crate::config::Config;
use crate::error::AgentError;
use crate::outbox::Outbox;

/// REQCs per `requestsOf` page (the contract allows up to 256).
const PAGE: u64 = 100;

/// BIP-32 path of the owner's funding wallet (same seed as the EC owner keys, branch 1).
pub const WALLET_KEY_PATH: [u32; 5] = [44 | HARDENED, 60 | HARDENED, 7 | HARDENED, 1, 0];

/// Gas limit used when the node cannot estimate with a balance override (old nodes).
const FALLBACK_GAS: u64 = 600_000;

/// The name of a request status.
pub fn status_name(s: u8) -> String {
    dashledger_protocol::bindings::request_status_name(s)
        .map_or_else(|| format!("status {s}"), str::to_string)
}

/// The owner's funding wallet key.
pub fn wallet_key(secrets: &Secrets) -> Result<PrivateKeySigner, AgentError> {
    Ok(secrets.owner_seed().derive_path(&WALLET_KEY_PATH)?)
}

/// Number of owner keys used so far (accidents prepared).
pub fn used_owner_keys(outbox: &Outbox) -> Result<u32, AgentError> {
    outbox.owner_keys_used()
}

fn chain_err(what: &str, e: impl std::fmt::Display) -> AgentError {
    AgentError::Chain(format!("{what}: {e}"))
}

/// Decodes a revert of our contracts into "Name { fields }" when possible.
fn revert_reason(e: &alloy::transports::TransportError) -> Option<String> {
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

fn call_err(what: &str, e: alloy::contract::Error) -> AgentError {
    use dashledger_protocol::bindings::request_contract::RequestContract::RequestContractErrors;
    if let Some(x) = e.as_decoded_interface_error::<RequestContractErrors>() {
        return AgentError::Chain(format!("{what} reverted: {x:?}"));
    }
    chain_err(what, e)
}

/// One transaction sent by an owner key.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// Transaction hash.
    pub tx: String,
    /// Gas used.
    pub gas_used: u64,
    /// What the wallet sent the owner key first (wei, decimal; "0" when it had enough).
    pub funded_wei: String,
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
    /// Transaction hash.
    pub tx: String,
    /// Gas used.
    pub gas_used: u64,
    /// Deposit sent with the response (wei, decimal).
    pub deposit_wei: String,
    /// What the wallet sent the owner key first (wei, decimal).
    pub funded_wei: String,
}

/// `decline` / `claim` output.
#[derive(Debug, Clone, Serialize)]
pub struct Acted {
    /// The REQC.
    pub request: String,
    /// The EC.
    pub ec: String,
    /// The EC owner key that sent it.
    pub owner: String,
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
    fn new(view: &RequestView, owner: Address, sent: Sent, owed: U256) -> Self {
        Self {
            request: view.reqc.to_string(),
            ec: view.info.ec.to_string(),
            owner: owner.to_string(),
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
    /// The owner key it paid.
    pub owner: String,
    /// Amount (wei, decimal).
    pub amount_wei: String,
    /// Transaction hash.
    pub tx: String,
    /// Gas used.
    pub gas_used: u64,
}

/// `withdraw` output.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawReport {
    /// Recipient.
    pub to: String,
    /// Each payment.
    pub withdrawn: Vec<Withdrawn>,
    /// Sum of the payments (wei, decimal).
    pub total_wei: String,
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
        })
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
                return Err(AgentError::Owner(format!(
                    "{reqc} is not a request contract of the RequestFactory {rf}"
                )));
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
            .ok_or_else(|| AgentError::Chain("the node has no latest block".into()))?;
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
            .ok_or_else(|| AgentError::Chain(format!("no RequestOpened event for {reqc}")))?;
        Ok(UmbralPublicKey::from_bytes(&key)?)
    }

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
        // Estimate as if the key already held the value plus 1 ETH for gas.
        let overrides = StateOverridesBuilder::default()
            .with_balance(from, value + U256::from(10u128.pow(18)))
            .build();
        let gas = match self
            .provider
            .estimate_gas(tx.clone())
            .overrides(overrides)
            .await
        {
            Ok(g) => g + g / 5,
            Err(e) => {
                if let Some(reason) = revert_reason(&e) {
                    return Err(AgentError::Chain(format!("{what} would revert: {reason}")));
                }
                tracing::warn!(error = %e, what, fallback = FALLBACK_GAS, "gas estimate with a balance override failed; using the fallback gas limit");
                FALLBACK_GAS
            }
        };
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| chain_err("estimating fees", e))?;
        tx.set_gas_limit(gas);
        tx.set_max_fee_per_gas(fees.max_fee_per_gas);
        tx.set_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let needed = value + U256::from(gas) * U256::from(fees.max_fee_per_gas);
        let balance = self
            .provider
            .get_balance(from)
            .await
            .map_err(|e| chain_err("reading the owner key's balance", e))?;
        let missing = needed.saturating_sub(balance);
        if !missing.is_zero() {
            let wallet_balance = self
                .provider
                .get_balance(self.wallet)
                .await
                .map_err(|e| chain_err("reading the wallet balance", e))?;
            if wallet_balance < missing {
                return Err(AgentError::Owner(format!(
                    "{what}: the owner wallet {} holds {wallet_balance} wei but the owner key {from} needs {missing} wei more (value {value} + gas); fund the wallet",
                    self.wallet
                )));
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
                .map_err(|e| chain_err("waiting for the funding transaction", e))?;
            if !receipt.status() {
                return Err(AgentError::Chain(format!(
                    "funding transaction {} reverted",
                    receipt.transaction_hash
                )));
            }
            tracing::info!(owner = %from, wei = %missing, tx = %receipt.transaction_hash, "owner key funded from the wallet");
        }
        let pending =
            self.provider
                .send_transaction(tx)
                .await
                .map_err(|e| match revert_reason(&e) {
                    Some(r) => AgentError::Chain(format!("{what} reverted: {r}")),
                    None => chain_err(what, e),
                })?;
        let hash: B256 = *pending.tx_hash();
        tracing::info!(%hash, from = %from, "{what}: sent, waiting for it to be mined");
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(300)))
            .get_receipt()
            .await
            .map_err(|e| chain_err(&format!("{what}: waiting for {hash}"), e))?;
        if !receipt.status() {
            return Err(AgentError::Chain(format!(
                "{what}: transaction {hash} reverted on chain"
            )));
        }
        Ok(Sent {
            tx: hash.to_string(),
            gas_used: receipt.gas_used,
            funded_wei: missing.to_string(),
        })
    }

    fn our_key(&self, view: &RequestView) -> Result<&OwnerKey, AgentError> {
        self.owner_of(view.info.owner).ok_or_else(|| {
            AgentError::Owner(format!(
                "request {} is for EC {} owned by {}, which is not one of this device's {} owner keys: not our EC",
                view.reqc,
                view.info.ec,
                view.info.owner,
                self.owners.len()
            ))
        })
    }

    fn expect_status(view: &RequestView, want: u8) -> Result<(), AgentError> {
        if view.info.status != want {
            return Err(AgentError::Owner(format!(
                "request {} is {}, not {}",
                view.reqc,
                status_name(view.info.status),
                status_name(want)
            )));
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
        Self::expect_status(&view, 0)?;
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
            .ok_or_else(|| {
                AgentError::Owner(format!(
                    "request {reqc} is for EC {ec}, but no accident stored here has that EC under owner key #{}: not our EC",
                    owner.index()
                ))
            })?;
        let now = self.chain_time().await?;
        if now > view.info.respondBy {
            return Err(AgentError::Owner(format!(
                "the response deadline of request {reqc} passed at {} (chain time {now})",
                view.info.respondBy
            )));
        }
        let requester_pk = self.requester_key(reqc).await?;
        let owner_umbral = secrets.umbral_secret_key()?;
        if hex::encode(owner_umbral.public_key().to_bytes()) != prepared.owner_umbral_key {
            return Err(AgentError::Owner(format!(
                "EC {ec} was wrapped to another Umbral key than this keystore's"
            )));
        }
        let signer = owner.kfrag_signer();
        let kfrag = wrap::grant(&owner_umbral, &signer, &requester_pk);
        let contract = RequestContract::new(reqc, &self.provider);
        let deposit = match deposit {
            Some(d) => d,
            None => contract
                .minDeposit()
                .call()
                .await
                .map_err(|e| call_err("reading minDeposit", e))?,
        };
        let link = format!(
            "{}/v1/clips/{ec:#x}/download?reqc={reqc:#x}",
            self.cloud_url
        );
        let tx = contract
            .respond(
                Bytes::from(kfrag),
                // The key that signed the kfrag (the EC owner key as an Umbral key), not the
                // delegating key: the requester checks its address is the EC's owner.
                Bytes::from(signer.verifying_key().to_bytes().to_vec()),
                link,
            )
            .value(deposit)
            .into_transaction_request();
        let sent = self.send_funded("respond", owner.address(), tx).await?;
        tracing::info!(request = %reqc, ec = %ec, owner = %owner.address(), tx = %sent.tx, "request approved");
        Ok(Approved {
            request: reqc.to_string(),
            ec: ec.to_string(),
            owner: owner.address().to_string(),
            tx: sent.tx,
            gas_used: sent.gas_used,
            deposit_wei: deposit.to_string(),
            funded_wei: sent.funded_wei,
        })
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
        Self::expect_status(&view, 0)?;
        let owner = self.our_key(&view)?.address();
        let tx = RequestContract::new(reqc, &self.provider)
            .decline()
            .into_transaction_request();
        let sent = self.send_funded("decline", owner, tx).await?;
        Ok(Acted::new(&view, owner, sent, U256::ZERO))
    }

    /// Claims a Responded request once the confirm window is over (the requester neither
    /// confirmed nor disputed).
    pub async fn claim(&self, reqc: Address) -> Result<Acted, AgentError> {
        let view = self.request(reqc).await?;
        Self::expect_status(&view, 1)?;
        let owner = self.our_key(&view)?.address();
        let now = self.chain_time().await?;
        if now <= view.info.deadline {
            return Err(AgentError::Owner(format!(
                "the confirm window of request {reqc} is open until {} (chain time {now}, {} s left); claim after that",
                view.info.deadline,
                view.info.deadline - now
            )));
        }
        let tx = RequestContract::new(reqc, &self.provider)
            .claim()
            .into_transaction_request();
        let sent = self.send_funded("claim", owner, tx).await?;
        let owed = self.owed(reqc, owner).await?;
        Ok(Acted::new(&view, owner, sent, owed))
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

    /// Pulls what every used owner key is owed (`owed` / `withdraw`) to `to` (default: the
    /// wallet).
    pub async fn withdraw(&self, to: Option<Address>) -> Result<WithdrawReport, AgentError> {
        let to = to.unwrap_or(self.wallet);
        let mut out = Vec::new();
        let mut total = U256::ZERO;
        for owner in &self.owners {
            let a = owner.address();
            for reqc in self.requests_of(a).await? {
                let owed = self.owed(reqc, a).await?;
                if owed.is_zero() {
                    continue;
                }
                let tx = RequestContract::new(reqc, &self.provider)
                    .withdraw(to)
                    .into_transaction_request();
                let sent = self.send_funded("withdraw", a, tx).await?;
                tracing::info!(request = %reqc, owner = %a, to = %to, wei = %owed, "withdrawn");
                total += owed;
                out.push(Withdrawn {
                    request: reqc.to_string(),
                    owner: a.to_string(),
                    amount_wei: owed.to_string(),
                    tx: sent.tx,
                    gas_used: sent.gas_used,
                });
            }
        }
        Ok(WithdrawReport {
            to: to.to_string(),
            withdrawn: out,
            total_wei: total.to_string(),
        })
    }

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
            .await
            .map_err(|(_, e, _)| e)?;
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
            if view.info.status != 0 {
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
