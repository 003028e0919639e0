//! `bundle`: the offline-verifiable evidence bundle of a fetched clip (the library's `bundle`).

use dashledger_requester::Error;
use dashledger_requester::bundle::{self, BundleRequest};
use dashledger_requester::cloud::Cloud;
use serde_json::json;

use super::{CmdResult, Ctx, Failure, emit};
use crate::{BundleArgs, EXIT_VERIFY};

impl Ctx {
    pub(crate) async fn bundle(&self, a: BundleArgs) -> CmdResult {
        let chain = self.chain(None).await?;
        let cloud = if a.no_thumbnail {
            None
        } else {
            Some(Cloud::new(&self.g.cloud_url)?)
        };
        let req = BundleRequest {
            target: a.target,
            clip: a.clip,
            records: a.records,
            device: a.device,
            c2pa: a.c2pa,
            signer: self.signer()?,
            block: a.block,
            out: a.out,
        };
        let w = match bundle::bundle(&chain, cloud.as_ref(), &req).await {
            Ok(w) => w,
            Err(e @ Error::Verification(_)) => {
                emit(
                    self.g.json,
                    &json!({"result": "failed", "reason": e.to_string()}),
                );
                return Err(Failure {
                    code: EXIT_VERIFY,
                    error: e,
                });
            }
            Err(e) => return Err(e.into()),
        };
        for n in &w.verdict.not_checked {
            eprintln!("not checked offline: {} ({})", n.what, n.how);
        }
        emit(
            self.g.json,
            &json!({"result": "written", "out": w.out.display().to_string(), "ec": w.ec.to_string(),
                    "bytes": w.bytes, "files": w.files, "proof_block": w.proof_block,
                    "checks": w.verdict.checks.len()}),
        );
        Ok(())
    }
}
