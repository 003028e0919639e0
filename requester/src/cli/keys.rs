//! `keys`: the requester's Umbral keys (show, list, new, export, import).

use dashledger_requester::Error;
use dashledger_requester::keys::parse_secret_hex;
use serde_json::json;
use zeroize::Zeroizing;

use super::{CmdResult, Ctx, emit, write_new_private};
use crate::KeysCmd;

impl Ctx {
    pub(crate) fn keys(&self, k: KeysCmd) -> CmdResult {
        let ks = self.keystore();
        match k {
            KeysCmd::Show => {
                let (pk, _, fresh) = ks.active_or_generate()?;
                if fresh {
                    eprintln!("generated a new Umbral key in {}", ks.dir().display());
                }
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes())), "dir": ks.dir().display().to_string()}),
                );
            }
            KeysCmd::List => {
                let active = ks.active()?.map(|(pk, _)| hex::encode(pk.to_bytes()));
                let keys = ks.list()?;
                if self.g.json {
                    println!(
                        "{}",
                        json!({"active": active.map(|a| format!("0x{a}")), "keys": keys.iter().map(|k| format!("0x{k}")).collect::<Vec<_>>()})
                    );
                } else {
                    for k in keys {
                        let mark = if active.as_deref() == Some(k.as_str()) {
                            " (active)"
                        } else {
                            ""
                        };
                        println!("0x{k}{mark}");
                    }
                }
            }
            KeysCmd::New => {
                let sk = dashledger_protocol::wrap::UmbralSecretKey::generate();
                let pk = ks.add(&sk)?;
                ks.set_active(&pk)?;
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes()))}),
                );
            }
            KeysCmd::Export { out } => {
                let (pk, sk, _) = ks.active_or_generate()?;
                write_new_private(
                    &out,
                    &Zeroizing::new(hex::encode(sk.to_be_bytes().as_ref())),
                )?;
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes())), "exported_to": out.display().to_string()}),
                );
            }
            KeysCmd::Import { file } => {
                let text = Zeroizing::new(
                    std::fs::read_to_string(&file).map_err(Error::io("reading", &file))?,
                );
                let sk = parse_secret_hex(&text)?;
                let pk = ks.add(&sk)?;
                ks.set_active(&pk)?;
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes())), "active": true}),
                );
            }
        }
        Ok(())
    }
}
