//! The escrow commands: `request` (open a Request Contract with a reward), `status`, `cancel` /
//! `dispute` (`simple_tx`) and `withdraw`.

use alloy::primitives::{Address, U256, utils::parse_ether};
use dashledger_requester::Error;
use dashledger_requester::chain::{fmt_eth, fmt_time, status};
use serde_json::json;

use super::{CmdResult, Ctx, emit};

impl Ctx {
    pub(crate) async fn request(&self, ec: Address, reward: &str) -> CmdResult {
        let reward: U256 = parse_ether(reward.trim())
            .map_err(|e| Error::Config(format!("--reward {reward:?} is not an ETH amount: {e}")))?;
        if reward.is_zero() {
            return Err(Error::Config("--reward must be more than 0".into()).into());
        }
        let chain = self.chain(Some(self.need_signer()?)).await?;
        let ks = self.keystore();
        let (pk, _sk, fresh) = ks.active_or_generate()?;
        if fresh {
            eprintln!(
                "generated a new Umbral key {} in {}; back it up with `keys export` — without it the footage cannot be opened",
                hex::encode(pk.to_bytes()),
                ks.dir().display()
            );
        }
        let (reqc, sent) = chain.create_request(ec, &pk.to_bytes(), reward).await?;
        emit(
            self.g.json,
            &json!({"reqc": reqc.to_string(), "tx": sent.tx.to_string(), "ec": ec.to_string(),
                    "reward_eth": fmt_eth(reward), "umbral_key": format!("0x{}", hex::encode(pk.to_bytes()))}),
        );
        Ok(())
    }

    pub(crate) async fn status(&self, reqc: Option<Address>) -> CmdResult {
        let signer = self.signer()?;
        let chain = self.chain(signer).await?;
        let list = match reqc {
            Some(r) => vec![r],
            None => chain
                .requests_by(chain.me()?)
                .await?
                .into_iter()
                .map(|(r, _)| r)
                .collect(),
        };
        let mut out = Vec::new();
        for r in list {
            out.push(Self::state_json(&chain.request_state(r).await?));
        }
        if self.g.json {
            println!("{}", serde_json::Value::Array(out));
        } else {
            for s in out {
                println!(
                    "{} {} ec={} reward={} owed={} respond_by={} deadline={}",
                    s["reqc"].as_str().unwrap_or_default(),
                    s["status"].as_str().unwrap_or_default(),
                    s["ec"].as_str().unwrap_or_default(),
                    s["reward_eth"].as_str().unwrap_or_default(),
                    s["owed_eth"].as_str().unwrap_or_default(),
                    s["respond_by"].as_str().unwrap_or_default(),
                    s["deadline"].as_str().unwrap_or_default(),
                );
            }
        }
        Ok(())
    }

    pub(crate) async fn simple_tx(&self, reqc: Address, what: &str) -> CmdResult {
        let chain = self.chain(Some(self.need_signer()?)).await?;
        let sent = match what {
            "cancel" => {
                let st = chain.request_state(reqc).await?;
                let now = chain.now().await?;
                if st.status_code == status::OPEN && now <= st.respond_by {
                    return Err(Error::State(format!(
                        "the owner may still respond until {} (chain time {}); cancel after that",
                        fmt_time(st.respond_by),
                        fmt_time(now)
                    ))
                    .into());
                }
                chain.cancel(reqc).await?
            }
            _ => chain.dispute(reqc).await?,
        };
        let st = chain.request_state(reqc).await?;
        emit(
            self.g.json,
            &json!({"reqc": reqc.to_string(), "tx": sent.tx.to_string(), "status": st.status, "owed_eth": fmt_eth(st.owed_wei.parse().unwrap_or_default())}),
        );
        Ok(())
    }

    pub(crate) async fn withdraw(&self, reqcs: Vec<Address>) -> CmdResult {
        let chain = self.chain(Some(self.need_signer()?)).await?;
        let me = chain.me()?;
        let explicit = !reqcs.is_empty();
        let list = if explicit {
            reqcs
        } else {
            chain
                .requests_by(me)
                .await?
                .into_iter()
                .map(|(r, _)| r)
                .collect()
        };
        let mut rows = Vec::new();
        let mut total = U256::ZERO;
        for r in list {
            let st = chain.request_state(r).await?;
            let owed: U256 = st.owed_wei.parse().unwrap_or_default();
            if owed.is_zero() {
                if explicit {
                    eprintln!("{r} owes you nothing ({})", st.status);
                }
                continue;
            }
            let sent = chain.withdraw(r).await?;
            total += owed;
            rows.push(json!({"reqc": r.to_string(), "amount_eth": fmt_eth(owed), "tx": sent.tx.to_string()}));
        }
        eprintln!(
            "withdrew {} ETH from {} request(s)",
            fmt_eth(total),
            rows.len()
        );
        if self.g.json {
            println!(
                "{}",
                json!({"total_eth": fmt_eth(total), "withdrawals": rows})
            );
        } else {
            for r in rows {
                println!(
                    "{} {} {}",
                    r["reqc"].as_str().unwrap_or_default(),
                    r["amount_eth"].as_str().unwrap_or_default(),
                    r["tx"].as_str().unwrap_or_default()
                );
            }
            println!("total: {}", fmt_eth(total));
        }
        Ok(())
    }
}
