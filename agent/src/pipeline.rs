//! The accident pipeline task: it runs beside the recording loop ([`crate::daemon`]) on its own
//! blocking thread with its own outbox connection, so that sealing a clip, creating its evidence
//! contract and uploading it on a slow mobile link never hold up the evidence chain (new
//! segments keep being noticed, hashed, recorded and sent meanwhile).
//!
//! Each open accident advances one stage at a time (`pending` → `prepared` → `ec_created` →
//! `done`), every stage committed to the outbox before the next starts. Every network step runs
//! under the daemon's [`CancellationToken`]: SIGTERM drops an upload in the middle of a chunk (the
//! upload resumes at the offset the cloud reports on the next start) instead of waiting for it,
//! and sealing stops between two reads (the local stage is redone from scratch). Failures are
//! recorded with the accident and retried with their own backoff.

use std::future::Future;
use std::time::{Duration, Instant};

use dashledger_protocol::keys::Secrets;
use tokio_util::sync::CancellationToken;

use crate::accident::{Prepared, StepError};
use crate::cloud::{CloudClient, Deployment, Failure};
use crate::config::{Config, EcVia};
use crate::daemon::{Backoff, run_steps};
use crate::error::AgentError;
use crate::location::LastFix;
use crate::outbox::{AccidentStage, Outbox};

/// What the pipeline task needs from the daemon.
#[derive(Debug)]
pub struct AccidentWork {
    runtime: tokio::runtime::Handle,
    stop: CancellationToken,
    secrets: Secrets,
    location: LastFix,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

impl AccidentWork {
    /// The task's state; `runtime` runs its network steps (from a blocking thread).
    pub fn new(
        runtime: tokio::runtime::Handle,
        stop: CancellationToken,
        secrets: Secrets,
        location: LastFix,
    ) -> Self {
        Self {
            runtime,
            stop,
            secrets,
            location,
            retry_at: None,
            backoff: Backoff::new(Duration::from_secs(2), Duration::from_secs(300)),
        }
    }

    /// Runs `fut` to completion unless the daemon stops first (then [`AgentError::Stopped`]).
    fn until_stopped<T, E>(&self, fut: impl Future<Output = Result<T, E>>) -> Result<T, StepError>
    where
        StepError: From<E>,
    {
        let stop = self.stop.clone();
        self.runtime.block_on(async move {
            tokio::select! {
                biased;
                () = stop.cancelled() => Err(<StepError as From<AgentError>>::from(AgentError::Stopped)),
                r = fut => r.map_err(StepError::from),
            }
        })
    }
}

/// The pipeline task: advances open accidents until the daemon stops. Runs on a blocking thread
/// (`spawn_blocking`); outbox errors are logged and retried, never fatal.
pub fn accident_worker(config: &Config, mut work: AccidentWork) {
    let idle = Duration::from_millis(config.poll_interval_ms.clamp(50, 1000));
    let (runtime, stop) = (work.runtime.clone(), work.stop.clone());
    let mut outbox = None;
    run_steps(
        config,
        &runtime,
        &stop,
        idle,
        "accident pipeline",
        || match &mut outbox {
            Some(o) => accident_next(config, o, &mut work),
            None => Outbox::open(&config.outbox_path()).map(|o| {
                outbox = Some(o);
                true
            }),
        },
    );
}

/// Advances the oldest open accident by one stage. `Ok(true)` when a stage was attempted.
fn accident_next(
    config: &Config,
    outbox: &mut Outbox,
    work: &mut AccidentWork,
) -> Result<bool, AgentError> {
    if work.retry_at.is_some_and(|t| Instant::now() < t) {
        return Ok(false);
    }
    let Some(acc) = outbox.open_accidents()?.into_iter().next() else {
        return Ok(false);
    };
    let seg = outbox.segment(acc.segment_id)?;
    // The cloud verifies the EC against the record it received before the EC existed: the
    // record must be acknowledged first.
    if acc.stage == AccidentStage::Prepared && !outbox.record_sent_for(acc.segment_id)? {
        return Ok(false);
    }
    let result = match acc.stage {
        AccidentStage::Pending => {
            let path = config.watch_dir.join(&seg.name);
            let fix = work
                .location
                .get(Duration::from_secs(config.location.max_fix_age_secs));
            crate::accident::prepare(
                outbox,
                &work.secrets,
                &config.state_dir,
                &seg,
                &path,
                fix,
                &work.stop,
            )
            .map_err(StepError::from)
            .and_then(|p| {
                tracing::warn!(segment = %seg.name, cause = %acc.cause, owner = %p.owner, "accident sealed and prepared");
                store(outbox, acc.segment_id, AccidentStage::Prepared, &p)
            })
        }
        AccidentStage::Prepared | AccidentStage::EcCreated => {
            let mut p: Prepared = serde_json::from_str(acc.detail.as_deref().unwrap_or(""))
                .map_err(|source| AgentError::AccidentDetail {
                    accident: seg.name.clone(),
                    source,
                })?;
            network_stage(
                config,
                outbox,
                work,
                acc.stage,
                &seg.name,
                acc.segment_id,
                &mut p,
            )
        }
        // `open_accidents` leaves finished ones out.
        AccidentStage::Done => return Ok(false),
    };
    match result {
        Ok(()) => {
            work.backoff.reset();
            work.retry_at = None;
        }
        // Interrupted by SIGTERM: not a failure; the stage is taken up again on the next start.
        Err(e) if matches!(e.error, AgentError::Stopped) || work.stop.is_cancelled() => {
            tracing::info!(segment = %seg.name, stage = %acc.stage, "accident step interrupted by the stop; it resumes on the next start");
        }
        Err(e) => {
            outbox.note_accident_failure(acc.segment_id, &e.error.to_string())?;
            let d = work.backoff.next_delay();
            work.retry_at = Some(Instant::now() + d);
            if e.failure() == Failure::Refused {
                tracing::error!(segment = %seg.name, stage = %acc.stage, error = %e.error, retry_in = ?d, "accident step refused; will retry");
            } else {
                tracing::warn!(segment = %seg.name, stage = %acc.stage, error = %e.error, retry_in = ?d, "accident step failed; will retry");
            }
        }
    }
    Ok(true)
}

fn store(
    outbox: &mut Outbox,
    id: i64,
    stage: AccidentStage,
    p: &Prepared,
) -> Result<(), StepError> {
    let json = serde_json::to_string(p).map_err(|source| AgentError::AccidentDetail {
        accident: format!("#{id}"),
        source,
    })?;
    outbox.set_accident_stage(id, stage, &json)?;
    Ok(())
}

fn network_stage(
    config: &Config,
    outbox: &mut Outbox,
    work: &mut AccidentWork,
    stage: AccidentStage,
    name: &str,
    id: i64,
    p: &mut Prepared,
) -> Result<(), StepError> {
    let deployment = Deployment::load(&config.chain.deployments)?;
    let cloud = CloudClient::new(&config.cloud)?;
    if stage == AccidentStage::Prepared {
        // A previous run may have created the EC and died before storing its address: the
        // factory's address is deterministic, so look there first.
        if let Some(ec) = work.until_stopped(async {
            Ok::<_, StepError>(existing_ec(config, &deployment, p).await)
        })? {
            tracing::warn!(segment = %name, ec = %ec, "evidence contract already exists (created before a restart); continuing");
            p.ec_address = Some(ec);
            return store(outbox, id, AccidentStage::EcCreated, p);
        }
        let ec = match config.chain.ec_via {
            EcVia::Relayer => work.until_stopped(crate::accident::create_ec_via_relayer(
                p,
                &work.secrets,
                &deployment,
                &cloud,
            ))?,
            EcVia::Direct => work.until_stopped(async {
                let chain =
                    crate::owner::OwnerChain::connect(config, &work.secrets, p.owner_index + 1)
                        .await?;
                chain.create_evidence_direct(p).await
            })?,
        };
        tracing::warn!(segment = %name, ec = %ec, via = ?config.chain.ec_via, "evidence contract created");
        p.ec_address = Some(ec);
        return store(outbox, id, AccidentStage::EcCreated, p);
    }
    if crate::provenance::ensure_sidecar(
        config,
        outbox,
        &work.secrets,
        id,
        name,
        deployment.chain_id,
        p,
    )? {
        store(outbox, id, AccidentStage::EcCreated, p)?;
    }
    let snapshot = p.clone();
    let result = work.until_stopped(crate::accident::upload(
        &snapshot,
        &work.secrets,
        &deployment,
        &cloud,
        config.cloud.upload_chunk_bytes,
        |upload_id| {
            if p.upload_id.as_deref() != Some(upload_id) {
                p.upload_id = Some(upload_id.to_string());
                let json =
                    serde_json::to_string(&*p).map_err(|source| AgentError::AccidentDetail {
                        accident: format!("#{id}"),
                        source,
                    })?;
                outbox.set_accident_stage(id, AccidentStage::EcCreated, &json)?;
            }
            Ok(())
        },
    ));
    match result {
        Ok(()) => {}
        // A previous run completed it and died before noting so.
        Err(e) if e.already_uploaded() => {}
        Err(e) => return Err(e),
    }
    tracing::warn!(segment = %name, ec = ?p.ec_address, "sealed clip uploaded; accident done");
    store(outbox, id, AccidentStage::Done, p)
}

/// The accident's EC if it already exists on chain (`predictEvidence` + code + `isEvidence`).
/// `None` when it does not, or when the chain cannot be asked (logged; creation goes ahead and
/// a duplicate creation reverts harmlessly, to be resolved on the next attempt).
async fn existing_ec(config: &Config, deployment: &Deployment, p: &Prepared) -> Option<String> {
    use alloy::providers::{Provider, ProviderBuilder};
    let url: alloy::transports::http::reqwest::Url = config.chain.rpc_url.parse().ok()?;
    let provider = ProviderBuilder::new().connect_http(url).erased();
    let owner: alloy::primitives::Address = p.owner.parse().ok()?;
    let params = p.evidence().ok()?.into();
    match crate::owner::predicted_evidence(&provider, deployment.evidence_factory, params, owner)
        .await
    {
        Ok((addr, true)) => Some(addr.to_string()),
        Ok((_, false)) => None,
        Err(e) => {
            tracing::warn!(error = %e, rpc = %config.chain.rpc_url, "cannot check for an existing evidence contract");
            None
        }
    }
}
