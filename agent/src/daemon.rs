//! The `run` daemon: a blocking segment worker (watch → hash → record, manual events) and an
//! async sender that empties the outbox to the cloud in order with exponential backoff.
//! SIGTERM / SIGINT stop it cleanly; SIGUSR1 (or the event file) is the manual event button.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::keys::Secrets;

use crate::accident::{Prepared, StepError};
use crate::cloud::{CloudClient, Deployment, Failure, MAX_BATCH};
use crate::config::{Config, EcVia};
use crate::detection::Detector;
use crate::error::AgentError;
use crate::location::LastFix;
use crate::motion::{MotionLog, MotionSource};
use crate::outbox::Outbox;
use crate::segments;
use crate::watcher::Watcher;
use dashledger_detect::motion::MotionSecond;

/// Meta key of manual events waiting for their segment to finish (JSON list of file names).
const PENDING_EVENTS: &str = "pending_manual_events";

/// Exponential backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `base`, doubles up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            current: base,
        }
    }
    /// The next delay (and doubles the following one).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        d
    }
    /// Back to the base delay after a success.
    pub fn reset(&mut self) {
        self.current = self.base;
    }
}

/// Flags shared between the signal handlers and the workers.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// Stop requested.
    pub stop: Arc<AtomicBool>,
    /// Manual event requested (SIGUSR1).
    pub event: Arc<AtomicBool>,
}

/// Runs until SIGTERM / SIGINT.
pub async fn run(config: Config, secrets: Secrets) -> Result<(), AgentError> {
    let device_key = secrets.device_signer()?;
    let flags = Flags::default();
    install_signals(&flags)?;
    std::fs::create_dir_all(&config.state_dir)
        .map_err(|e| AgentError::io("cannot create state directory", &config.state_dir, e))?;
    // Fail early on a broken outbox rather than in a worker.
    drop(Outbox::open(&config.outbox_path())?);
    let motion_source = MotionSource::parse(&config.motion.source)?;
    let motion = (motion_source != MotionSource::None)
        .then(|| MotionLog::new(config.motion.bars, &config.motion.source));
    let location = match &motion {
        Some(m) if config.motion.gps_speed => LastFix::with_speed_to(m.clone()),
        _ => LastFix::default(),
    };
    match &motion {
        Some(m) => {
            crate::motion::spawn(motion_source, m.clone(), config.motion.rate_hz);
            spawn_motion_status(m.clone(), config.motion_status_path(), flags.clone());
        }
        None => {
            tracing::info!(
                "no motion sensor configured (motion.source = none): decisions use frames and sound"
            );
            // A stale status of an earlier configuration must not be shown.
            let _ = std::fs::remove_file(config.motion_status_path());
        }
    }
    crate::location::spawn(
        crate::location::LocationSource::parse(&config.location.source)?,
        location.clone(),
    );
    tracing::info!(
        watch_dir = %config.watch_dir.display(),
        outbox = %config.outbox_path().display(),
        cloud = %config.cloud.url,
        device = %device_key.address(),
        "agent running"
    );

    let approver = config.owner.auto_approve.then(|| {
        tokio::spawn(auto_approve_loop(
            config.clone(),
            secrets.clone(),
            flags.clone(),
        ))
    });
    let cfg = config.clone();
    let f = flags.clone();
    let handle = tokio::runtime::Handle::current();
    let worker = tokio::task::spawn_blocking(move || {
        segment_worker(&cfg, &secrets, &location, motion, &f, handle)
    });
    let sender = tokio::spawn(sender_loop(config.clone(), flags.clone()));
    let result = worker
        .await
        .map_err(|e| AgentError::OutboxState(format!("segment worker panicked: {e}")));
    flags.stop.store(true, Ordering::SeqCst);
    let _ = sender.await;
    if let Some(a) = approver {
        let _ = a.await;
    }
    tracing::info!("agent stopped");
    result?
}

fn install_signals(flags: &Flags) -> Result<(), AgentError> {
    use tokio::signal::unix::{SignalKind, signal};
    let sig = |k: SignalKind| {
        signal(k).map_err(|e| AgentError::Config(format!("cannot install signal handler: {e}")))
    };
    let mut term = sig(SignalKind::terminate())?;
    let mut int = sig(SignalKind::interrupt())?;
    let mut usr1 = sig(SignalKind::user_defined1())?;
    let f = flags.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); f.stop.store(true, Ordering::SeqCst); }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); f.stop.store(true, Ordering::SeqCst); }
                _ = usr1.recv() => { tracing::info!("SIGUSR1: manual event"); f.event.store(true, Ordering::SeqCst); }
            }
        }
    });
    Ok(())
}

fn sleep_unless_stopped(flags: &Flags, d: Duration) {
    let end = Instant::now() + d;
    while !flags.stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// Blocking worker: one step at a time, each committed. Errors are logged and retried with
/// backoff (a full disk or a locked database must not crash-loop the daemon).
fn segment_worker(
    config: &Config,
    secrets: &Secrets,
    location: &LastFix,
    motion: Option<MotionLog>,
    flags: &Flags,
    runtime: tokio::runtime::Handle,
) -> Result<(), AgentError> {
    let device_key = &secrets.device_signer()?;
    let mut accidents = AccidentWork {
        runtime,
        secrets,
        location,
        retry_at: None,
        backoff: Backoff::new(Duration::from_secs(2), Duration::from_secs(300)),
    };
    let mut outbox = Outbox::open(&config.outbox_path())?;
    let mut watcher = Watcher::new(
        &config.watch_dir,
        &config.segment_extensions,
        Duration::from_secs(config.settle_secs),
    );
    let poll = Duration::from_millis(config.poll_interval_ms);
    let mut backoff = Backoff::new(
        Duration::from_millis(config.retry.base_ms),
        Duration::from_millis(config.retry.max_ms),
    );
    let mut last_scan: Option<Instant> = None;
    let mut detector = DetectorSlot {
        motion,
        ..DetectorSlot::default()
    };
    while !flags.stop.load(Ordering::SeqCst) {
        match worker_step(
            config,
            &mut outbox,
            &mut watcher,
            device_key,
            flags,
            &mut last_scan,
            poll,
            &mut detector,
            &mut accidents,
        ) {
            Ok(true) => backoff.reset(),
            Ok(false) => sleep_unless_stopped(flags, poll.min(Duration::from_millis(250))),
            Err(e) => {
                let d = backoff.next_delay();
                tracing::error!(error = %e, retry_in = ?d, "segment work failed; will retry");
                sleep_unless_stopped(flags, d);
            }
        }
    }
    Ok(())
}

/// One unit of work; `Ok(true)` when something was done.
#[allow(clippy::too_many_arguments)]
fn worker_step(
    config: &Config,
    outbox: &mut Outbox,
    watcher: &mut Watcher,
    device_key: &PrivateKeySigner,
    flags: &Flags,
    last_scan: &mut Option<Instant>,
    poll: Duration,
    detector: &mut DetectorSlot,
    accidents: &mut AccidentWork<'_>,
) -> Result<bool, AgentError> {
    let now = Instant::now();
    if last_scan.is_none_or(|t| now.duration_since(t) >= poll) {
        *last_scan = Some(now);
        let finished = watcher.scan(now)?;
        segments::ingest(outbox, &finished)?;
        check_manual_event(config, outbox, flags)?;
        apply_pending_events(outbox)?;
    }
    if segments::hash_next(outbox, &config.watch_dir)? {
        return Ok(true);
    }
    if segments::record_next(outbox, device_key)? {
        return Ok(true);
    }
    if detect_next(config, outbox, detector)? {
        return Ok(true);
    }
    accident_next(config, outbox, accidents)
}

/// State of the accident pipeline worker.
#[derive(Debug)]
pub struct AccidentWork<'a> {
    runtime: tokio::runtime::Handle,
    secrets: &'a Secrets,
    location: &'a LastFix,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

/// Advances the oldest open accident by one stage (`pending` → `prepared` → `ec_created` →
/// `done`). Failures are recorded and retried with their own backoff, without holding up
/// evidence records.
fn accident_next(
    config: &Config,
    outbox: &mut Outbox,
    work: &mut AccidentWork<'_>,
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
    if acc.stage == "prepared" && !outbox.record_sent_for(acc.segment_id)? {
        return Ok(false);
    }
    let result = match acc.stage.as_str() {
        "pending" => {
            let path = config.watch_dir.join(&seg.name);
            let fix = work
                .location
                .get(Duration::from_secs(config.location.max_fix_age_secs));
            crate::accident::prepare(outbox, work.secrets, &config.state_dir, &seg, &path, fix)
                .map_err(StepError::from)
                .and_then(|p| {
                    tracing::warn!(segment = %seg.name, cause = %acc.cause, owner = %p.owner, "accident sealed and prepared");
                    store(outbox, acc.segment_id, "prepared", &p)
                })
        }
        "prepared" | "ec_created" => {
            let mut p: Prepared = serde_json::from_str(acc.detail.as_deref().unwrap_or(""))
                .map_err(|e| {
                    AgentError::OutboxState(format!("accident {} detail: {e}", seg.name))
                })?;
            network_stage(
                config,
                outbox,
                work,
                &acc.stage,
                &seg.name,
                acc.segment_id,
                &mut p,
            )
        }
        other => Err(AgentError::OutboxState(format!("unknown accident stage `{other}`")).into()),
    };
    match result {
        Ok(()) => {
            work.backoff.reset();
            work.retry_at = None;
        }
        Err(e) => {
            outbox.note_accident_failure(acc.segment_id, &e.error.to_string())?;
            let d = work.backoff.next_delay();
            work.retry_at = Some(Instant::now() + d);
            if e.failure == Failure::Refused {
                tracing::error!(segment = %seg.name, stage = %acc.stage, error = %e.error, retry_in = ?d, "accident step refused; will retry");
            } else {
                tracing::warn!(segment = %seg.name, stage = %acc.stage, error = %e.error, retry_in = ?d, "accident step failed; will retry");
            }
        }
    }
    Ok(true)
}

fn store(outbox: &mut Outbox, id: i64, stage: &str, p: &Prepared) -> Result<(), StepError> {
    let json = serde_json::to_string(p).map_err(|e| AgentError::OutboxState(e.to_string()))?;
    outbox.set_accident_stage(id, stage, &json)?;
    Ok(())
}

fn network_stage(
    config: &Config,
    outbox: &mut Outbox,
    work: &mut AccidentWork<'_>,
    stage: &str,
    name: &str,
    id: i64,
    p: &mut Prepared,
) -> Result<(), StepError> {
    let deployment = Deployment::load(&config.chain.deployments)?;
    let cloud = CloudClient::new(&config.cloud)?;
    if stage == "prepared" {
        // A previous run may have created the EC and died before storing its address: the
        // factory's address is deterministic, so look there first.
        if let Some(ec) = work.runtime.block_on(existing_ec(config, &deployment, p)) {
            tracing::warn!(segment = %name, ec = %ec, "evidence contract already exists (created before a restart); continuing");
            p.ec_address = Some(ec);
            return store(outbox, id, "ec_created", p);
        }
        let ec = match config.chain.ec_via {
            EcVia::Relayer => work
                .runtime
                .block_on(crate::accident::create_ec_via_relayer(
                    p,
                    work.secrets,
                    &deployment,
                    &cloud,
                ))?,
            EcVia::Direct => work.runtime.block_on(async {
                let chain =
                    crate::owner::OwnerChain::connect(config, work.secrets, p.owner_index + 1)
                        .await?;
                chain.create_evidence_direct(p).await
            })?,
        };
        tracing::warn!(segment = %name, ec = %ec, via = ?config.chain.ec_via, "evidence contract created");
        p.ec_address = Some(ec);
        return store(outbox, id, "ec_created", p);
    }
    let snapshot = p.clone();
    let result = work.runtime.block_on(crate::accident::upload(
        &snapshot,
        work.secrets,
        &deployment,
        &cloud,
        config.cloud.upload_chunk_bytes,
        |upload_id| {
            if p.upload_id.as_deref() != Some(upload_id) {
                p.upload_id = Some(upload_id.to_string());
                let json = serde_json::to_string(&*p)
                    .map_err(|e| AgentError::OutboxState(e.to_string()))?;
                outbox.set_accident_stage(id, "ec_created", &json)?;
            }
            Ok(())
        },
    ));
    match result {
        Ok(()) => {}
        // A previous run completed it and died before noting so.
        Err(e) if e.error.to_string().contains("already_uploaded") => {}
        Err(e) => return Err(e),
    }
    tracing::warn!(segment = %name, ec = ?p.ec_address, "sealed clip uploaded; accident done");
    store(outbox, id, "done", p)
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

/// The auto-approve policy: every `owner.poll_secs`, approve the open requests for our ECs whose
/// reward reaches `owner.auto_approve_min_reward_wei`.
async fn auto_approve_loop(config: Config, secrets: Secrets, flags: Flags) {
    let min = crate::owner::parse_wei(
        &config.owner.auto_approve_min_reward_wei,
        "owner.auto_approve_min_reward_wei",
    )
    .unwrap_or_default();
    tracing::info!(min_reward_wei = %min, poll_secs = config.owner.poll_secs, "auto-approve is on");
    while !flags.stop.load(Ordering::SeqCst) {
        match crate::owner::auto_approve_once(&config, &secrets, min).await {
            Ok(done) => {
                for a in done {
                    tracing::warn!(request = %a.request, ec = %a.ec, tx = %a.tx, "request auto-approved");
                }
            }
            Err(e) => tracing::warn!(error = %e, "auto-approve pass failed; will retry"),
        }
        let end = Instant::now() + Duration::from_secs(config.owner.poll_secs);
        while !flags.stop.load(Ordering::SeqCst) && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Runs detection on the oldest segment waiting for it. `Ok(true)` when one was handled.
fn detect_next(
    config: &Config,
    outbox: &mut Outbox,
    detector: &mut DetectorSlot,
) -> Result<bool, AgentError> {
    let Some(seg) = outbox.next_detect_pending()? else {
        return Ok(false);
    };
    if !config.detect.enabled {
        outbox.set_detection(seg.id, None, None, None, false, Some("detection disabled"))?;
        return Ok(true);
    }
    // The motion channel's seconds from the segment's start (a minute and some slack; the
    // analysis keeps as many as the segment has).
    let motion: Vec<Option<MotionSecond>> = match &detector.motion {
        Some(log) => {
            let start = crate::segments::segment_start(&seg.name, seg.mtime_ns)?.to_unix();
            log.seconds(i64::try_from(start).unwrap_or(i64::MAX), 90)
        }
        None => Vec::new(),
    };
    let Some(det) = detector.get(config) else {
        return Ok(false);
    };
    let path = config.watch_dir.join(&seg.name);
    match crate::watcher::file_identity(&path) {
        Ok((size, mtime)) if size == seg.size && mtime == seg.mtime_ns => {}
        _ => {
            tracing::warn!(segment = %seg.name, "segment gone or overwritten before detection; recording the skip");
            outbox.skip_detection(seg.id, "file gone or overwritten before detection")?;
            return Ok(true);
        }
    }
    match det.analyse_with_motion(&path, &motion) {
        Ok(a) => {
            outbox.set_decision_detail(seg.id, &decision_detail(&a).to_string())?;
            outbox.set_detection(
                seg.id,
                a.max_image(),
                a.max_audio(),
                a.max_fused(),
                a.accident,
                a.note.as_deref(),
            )?;
            let level_accident = a.accident;
            if level_accident {
                tracing::warn!(segment = %seg.name, cause = ?a.decision.cause, at_second = ?a.decision.at_second, p = ?a.max_fused(), "ACCIDENT detected");
            } else {
                tracing::info!(segment = %seg.name, p = ?a.max_fused(), took = ?a.timings.total, "segment normal");
            }
        }
        Err(e) => {
            tracing::warn!(segment = %seg.name, error = %e, "segment cannot be analysed; recording the skip");
            outbox.skip_detection(seg.id, &e.to_string())?;
        }
    }
    Ok(true)
}

/// What is kept of a decision with the segment (`segments.decision`): the rule's outcome and
/// channels, the soundtrack level and the motion channel's per-second features.
pub fn decision_detail(a: &crate::detection::Analysis) -> serde_json::Value {
    serde_json::json!({
        "decision": a.decision,
        "audio_dbfs": a.audio_dbfs,
        "note": a.note,
        "motion": a.motion,
    })
}

/// Writes the motion channel's status to `path` every 5 s (atomically), for `status`.
fn spawn_motion_status(log: MotionLog, path: std::path::PathBuf, flags: Flags) {
    let spawned = std::thread::Builder::new()
        .name("motion-status".into())
        .spawn(move || {
            while !flags.stop.load(Ordering::SeqCst) {
                let tmp = path.with_extension("json.tmp");
                let body = serde_json::to_vec_pretty(&log.status()).unwrap_or_default();
                if let Err(e) = std::fs::write(&tmp, body).and_then(|()| std::fs::rename(&tmp, &path)) {
                    tracing::debug!(error = %e, path = %path.display(), "cannot write the motion status");
                }
                sleep_unless_stopped(&flags, Duration::from_secs(5));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the motion status thread");
    }
}

/// The detector, loaded lazily and re-tried every minute if the models are missing or broken
/// (records keep flowing meanwhile; detection waits).
#[derive(Debug, Default)]
pub struct DetectorSlot {
    detector: Option<Detector>,
    last_try: Option<Instant>,
    motion: Option<MotionLog>,
}

impl DetectorSlot {
    fn get(&mut self, config: &Config) -> Option<&Detector> {
        if self.detector.is_none()
            && self
                .last_try
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
        {
            self.last_try = Some(Instant::now());
            match Detector::load(config) {
                Ok(d) => self.detector = Some(d),
                Err(e) => {
                    tracing::error!(error = %e, "cannot load the detector; detection waits, records continue")
                }
            }
        }
        self.detector.as_ref()
    }
}

/// The file being written now (newest modification time), if any.
fn newest_file(dir: &Path, extensions: &[String]) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let ext = Path::new(&name).extension()?.to_str()?.to_ascii_lowercase();
            if name.starts_with('.') || !extensions.iter().any(|x| x.eq_ignore_ascii_case(&ext)) {
                return None;
            }
            let mtime = e.metadata().ok()?.modified().ok()?;
            Some((mtime, name))
        })
        .max()
        .map(|(_, n)| n)
}

/// The manual event (SIGUSR1 or the event file) marks the segment being recorded: the newest
/// file in the watch directory. If it is not finished yet, the mark waits (durably) for it.
fn check_manual_event(
    config: &Config,
    outbox: &mut Outbox,
    flags: &Flags,
) -> Result<(), AgentError> {
    let event_path = config.event_path();
    let by_file = event_path.exists();
    let by_signal = flags.event.swap(false, Ordering::SeqCst);
    if !by_file && !by_signal {
        return Ok(());
    }
    match newest_file(&config.watch_dir, &config.segment_extensions) {
        Some(name) => {
            let mut pending: Vec<String> = outbox
                .meta(PENDING_EVENTS)?
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            if !pending.contains(&name) {
                pending.push(name.clone());
            }
            outbox.set_meta(
                PENDING_EVENTS,
                &serde_json::to_string(&pending).unwrap_or_default(),
            )?;
            tracing::warn!(segment = %name, "manual event: segment marked as an accident");
        }
        None => match outbox.latest_segment()? {
            Some(seg) => {
                outbox.mark_manual_event(seg.id)?;
                tracing::warn!(segment = %seg.name, "manual event: latest segment marked as an accident");
            }
            None => tracing::warn!("manual event, but there is no segment to mark"),
        },
    }
    if by_file {
        std::fs::remove_file(&event_path)
            .map_err(|e| AgentError::io("cannot remove event file", &event_path, e))?;
    }
    Ok(())
}

fn apply_pending_events(outbox: &mut Outbox) -> Result<(), AgentError> {
    let Some(raw) = outbox.meta(PENDING_EVENTS)? else {
        return Ok(());
    };
    let pending: Vec<String> = serde_json::from_str(&raw).unwrap_or_default();
    if pending.is_empty() {
        return Ok(());
    }
    let mut left = Vec::new();
    for name in pending {
        match outbox.latest_named(&name)? {
            Some(id) => outbox.mark_manual_event(id)?,
            None => left.push(name),
        }
    }
    outbox.set_meta(
        PENDING_EVENTS,
        &serde_json::to_string(&left).unwrap_or_default(),
    )
}

/// Sends queued records to the cloud, oldest first, in batches; backs off while it fails.
async fn sender_loop(config: Config, flags: Flags) {
    let client = match CloudClient::new(&config.cloud) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "sender cannot start; records stay queued");
            return;
        }
    };
    let mut outbox = match Outbox::open(&config.outbox_path()) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "sender cannot open the outbox; records stay queued");
            return;
        }
    };
    let mut backoff = Backoff::new(
        Duration::from_millis(config.retry.base_ms),
        Duration::from_millis(config.retry.max_ms),
    );
    let idle = Duration::from_millis(config.poll_interval_ms.min(1000));
    while !flags.stop.load(Ordering::SeqCst) {
        let delay = match send_batch(&client, &mut outbox).await {
            Ok(0) => idle,
            Ok(_) => {
                backoff.reset();
                Duration::ZERO
            }
            Err(e) => {
                let d = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?d, "records not sent; they stay queued");
                d
            }
        };
        let end = Instant::now() + delay;
        while !flags.stop.load(Ordering::SeqCst) && Instant::now() < end {
            tokio::time::sleep(
                Duration::from_millis(100).min(end.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }
}

async fn send_batch(client: &CloudClient, outbox: &mut Outbox) -> Result<usize, AgentError> {
    let batch = outbox.unsent(MAX_BATCH)?;
    if batch.is_empty() {
        return Ok(0);
    }
    match client.send_records(&batch).await {
        Ok(summary) => {
            for r in &batch {
                outbox.mark_sent(r.seq)?;
            }
            tracing::info!(
                first = batch[0].seq - 1,
                last = batch[batch.len() - 1].seq - 1,
                accepted = summary.accepted,
                duplicates = summary.duplicates,
                "records sent"
            );
            Ok(batch.len())
        }
        Err((class, e)) => {
            outbox.note_send_failure(batch[0].seq, &e.to_string())?;
            if class == Failure::Refused {
                tracing::error!(error = %e, "the cloud refused the records (is this device approved?)");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let got: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
