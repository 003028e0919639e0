//! `fetch`: recover the session key from the owner's kfrag, confirm (or dispute), download,
//! open and verify the clip.

use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::seal::SessionKey;
use dashledger_protocol::wrap::{self, UmbralPublicKey, WrappedKey};
use dashledger_requester::chain::{
    Chain, Evidence, RequestState, Response, fmt_time, status, status_name,
};
use dashledger_requester::cloud::Cloud;
use dashledger_requester::open::open_and_verify;
use dashledger_requester::{Error, Result};
use serde_json::json;

use super::{CmdResult, Ctx, Failure, bytes_bar, emit};
use crate::{EXIT_VERIFY, FetchArgs};

pub(crate) fn sealed_path_for(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".sealed");
    out.with_file_name(name)
}

impl Ctx {
    /// Recovers the session key from the owner's kfrag (disputing a Responded request whose
    /// kfrag is wrong), confirms, downloads the sealed clip (resumable), opens and verifies it.
    pub(crate) async fn fetch(&self, a: FetchArgs) -> CmdResult {
        let signer = self.need_signer()?;
        let chain = self.chain(Some(signer.clone())).await?;
        let me = chain.me()?;
        let st = chain.request_state(a.reqc).await?;
        if st.requester != me {
            return Err(Error::State(format!(
                "request {} was opened by {}, not by your wallet {me}",
                a.reqc, st.requester
            ))
            .into());
        }
        fetchable(&st)?;
        let resp = chain.response(a.reqc).await?.ok_or_else(|| {
            Error::State(format!("request {} has no RequestResponded event", a.reqc))
        })?;
        let ev = chain.evidence(st.ec).await?;
        let key = self.recover_or_dispute(&chain, &a, &st, &resp, &ev).await?;
        eprintln!(
            "session key recovered; it matches the EC's keyCommitment {}",
            ev.key_commitment
        );
        let mut confirm_tx = None;
        if st.status_code == status::RESPONDED {
            let sent = chain.confirm(a.reqc).await?;
            eprintln!("confirmed on-chain in {} (the owner is paid)", sent.tx);
            confirm_tx = Some(sent.tx.to_string());
        }
        let (sealed, downloaded) = self.sealed_clip(&chain, &a, &st, &resp, &signer).await?;
        let pb = bytes_bar("open");
        let res = open_and_verify(&sealed, &a.out, &key, ev.cipher_hash, ev.video_hash, &pb);
        pb.finish_and_clear();
        match res {
            Ok(v) => {
                if downloaded && !a.keep_sealed {
                    let _ = std::fs::remove_file(&sealed);
                }
                emit(
                    self.g.json,
                    &json!({"reqc": a.reqc.to_string(), "result": "verified", "out": v.out.display().to_string(),
                            "video_hash": v.video_hash.to_string(), "bytes": v.plaintext_len, "chunks": v.chunks,
                            "confirm_tx": confirm_tx}),
                );
                eprintln!(
                    "verified: Keccak-256 {} matches the EC's videoHash",
                    v.video_hash
                );
                Ok(())
            }
            Err(e) => {
                let reason = e.to_string();
                emit(
                    self.g.json,
                    &json!({"reqc": a.reqc.to_string(), "result": "failed", "reason": reason, "sealed": sealed.display().to_string()}),
                );
                eprintln!("the sealed file is kept at {}", sealed.display());
                Err(Failure {
                    code: EXIT_VERIFY,
                    error: e,
                })
            }
        }
    }

    /// The session key from the owner's kfrag and the requester's Umbral key; when it does not
    /// recover (or does not match the EC's keyCommitment), a Responded request is disputed
    /// (unless `--no-dispute`) and the command fails with the verification exit code.
    async fn recover_or_dispute(
        &self,
        chain: &Chain,
        a: &FetchArgs,
        st: &RequestState,
        resp: &Response,
        ev: &Evidence,
    ) -> std::result::Result<SessionKey, Failure> {
        let pk_bytes = chain.request_umbral_key(a.reqc).await?;
        let pk = UmbralPublicKey::from_bytes(&pk_bytes).map_err(Error::from)?;
        let ks = self.keystore();
        let sk = ks.find(&pk)?.ok_or_else(|| {
            Error::Config(format!(
                "this request was made for Umbral key 0x{}, which is not in {}; `keys import` its secret first",
                hex::encode(pk.to_bytes()),
                ks.dir().display()
            ))
        })?;
        let recovered = (|| -> Result<_> {
            let signer_pk = UmbralPublicKey::from_bytes(&resp.signer_key)?;
            if signer_pk.eth_address() != st.owner {
                return Err(Error::Verification(format!(
                    "the kfrag signing key belongs to {}, but the EC's owner is {}",
                    signer_pk.eth_address(),
                    st.owner
                )));
            }
            let owner_pk = UmbralPublicKey::from_bytes(&ev.owner_umbral_key)?;
            let wrapped = WrappedKey::from_parts(&ev.capsule, &ev.wrapped_key)?;
            Ok(wrap::recover(
                &sk,
                &owner_pk,
                &signer_pk,
                &wrapped,
                &resp.kfrag,
                &ev.key_commitment,
            )?)
        })();
        match recovered {
            Ok(k) => Ok(k),
            Err(e) => {
                let reason = e.to_string();
                if st.status_code == status::RESPONDED && !a.no_dispute {
                    let sent = chain.dispute(a.reqc).await?;
                    eprintln!(
                        "the owner's key fragment does not recover the footage key ({reason}). Disputed on-chain in {}: the verifier checks the kfrag; run `withdraw` once it is resolved",
                        sent.tx
                    );
                    emit(
                        self.g.json,
                        &json!({"reqc": a.reqc.to_string(), "result": "disputed", "reason": reason, "tx": sent.tx.to_string()}),
                    );
                } else {
                    emit(
                        self.g.json,
                        &json!({"reqc": a.reqc.to_string(), "result": "bad-kfrag", "reason": reason}),
                    );
                }
                Err(Failure {
                    code: EXIT_VERIFY,
                    error: Error::Verification(format!("the owner's kfrag is wrong: {reason}")),
                })
            }
        }
    }

    /// The sealed clip: the file given with `--sealed`, or downloaded from the cloud (resumable)
    /// next to `--out`. Returns it and whether it was downloaded.
    async fn sealed_clip(
        &self,
        chain: &Chain,
        a: &FetchArgs,
        st: &RequestState,
        resp: &Response,
        signer: &PrivateKeySigner,
    ) -> Result<(PathBuf, bool)> {
        let downloaded = a.sealed.is_none();
        let sealed = match &a.sealed {
            Some(p) => p.clone(),
            None => {
                let p = sealed_path_for(&a.out);
                let cloud = Cloud::new(&self.g.cloud_url)?;
                let pb = bytes_bar("download");
                let link = a
                    .download_url
                    .clone()
                    .unwrap_or_else(|| Cloud::download_path(st.ec, a.reqc));
                if !resp.download_link.is_empty() {
                    tracing::info!(owner_link = %resp.download_link, %link, "downloading from the cloud route");
                }
                let res = cloud
                    .download(&link, chain.deployment().chain_id, signer, &p, &pb)
                    .await;
                pb.finish_and_clear();
                let n = res.map_err(|e| {
                    Error::State(format!(
                        "{e}. The request is confirmed; run the same fetch again to download (partial data is kept in {})",
                        p.display()
                    ))
                })?;
                let (n, resumed) = n;
                if resumed > 0 {
                    eprintln!(
                        "downloaded {n} bytes to {} (resumed at byte {resumed})",
                        p.display()
                    );
                } else {
                    eprintln!("downloaded {n} bytes to {}", p.display());
                }
                p
            }
        };
        Ok((sealed, downloaded))
    }
}

/// Whether a request's state lets the requester fetch (Responded or Completed); a clear error
/// saying what to do otherwise.
fn fetchable(st: &RequestState) -> Result<()> {
    match st.status_code {
        status::OPEN => Err(Error::State(format!(
            "the owner has not responded yet; they have until {}. After that you can `cancel` and `withdraw` the reward",
            fmt_time(st.respond_by)
        ))),
        status::RESPONDED | status::COMPLETED => Ok(()),
        status::DISPUTED => Err(Error::State(format!(
            "the request is Disputed; the verifier resolves it until {}, then `withdraw`",
            fmt_time(st.deadline)
        ))),
        other => {
            tracing::warn!("the request is {}; trying anyway", status_name(other));
            Ok(())
        }
    }
}
