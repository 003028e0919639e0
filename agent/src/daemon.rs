//! The `run` daemon: the recording loop (a blocking worker: watch → hash → record → detect,
//! manual events), the accident pipeline beside it ([`crate::pipeline`]: seal, EC, upload, on its
//! own thread so that the evidence chain never waits for the network), an async sender that
//! empties the outbox to the cloud in order with exponential backoff, and the optional
//! auto-approve loop. SIGTERM / SIGINT cancel one [`CancellationToken`] that every task watches:
//! in-flight network calls are dropped (each is resumable), so the daemon stops within a second.
//! SIGUSR1 (or the event file) is the manual event button.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::keys::Secrets;
use tokio_util::sync::CancellationToken;

use crate::cloud::{CloudClient, Failure, MAX_BATCH};
use crate::config::Config;
use crate::detection::Detector;
use crate::error::AgentError;
use crate::location::LastFix;
use crate::motion::{MotionLog, MotionSource};
use crate::outbox::Outbox;
use crate::segments;
use crate::watcher::Watcher;
use dashledger_detect::motion::MotionSecond;

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

/// What the signal handlers tell the workers.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// Cancelled on SIGTERM / SIGINT (or when the recording loop ends): every task stops.
    pub stop: CancellationToken,
    /// Manual event requested (SIGUSR1); taken by the recording loop.
    pub event: Arc<AtomicBool>,
}

/// Sleeps `d` on a blocking thread, waking at once when `stop` is cancelled.
pub fn sleep_until_stopped(
    runtime: &tokio::runtime::Handle,
    stop: &CancellationToken,
    d: Duration,
) {
    runtime.block_on(async {
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(d) => {}
        }
    });
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
    // An unusable C2PA key or certificate chain stops the start, naming it.
    let c2pa = crate::provenance::signer(&config.c2pa)?.is_some();
    let handle = tokio::runtime::Handle::current();
    let (motion, location) = start_sensors(&config, &flags, &handle)?;
    tracing::info!(
        watch_dir = %config.watch_dir.display(),
        outbox = %config.outbox_path().display(),
        cloud = %config.cloud.url,
        device = %device_key.address(),
        c2pa,
        "agent running"
    );

    let approver = config.owner.auto_approve.then(|| {
        tokio::spawn(auto_approve_loop(
            config.clone(),
            secrets.clone(),
            flags.clone(),
        ))
    });
    let work = crate::pipeline::AccidentWork::new(
        handle.clone(),
        flags.stop.clone(),
        secrets.clone(),
        location.clone(),
    );
    let cfg = config.clone();
    let pipeline =
        tokio::task::spawn_blocking(move || crate::pipeline::accident_worker(&cfg, work));
    let cfg = config.clone();
    let f = flags.clone();
    let worker =
        tokio::task::spawn_blocking(move || segment_worker(&cfg, &secrets, motion, &f, handle));
    let sender = tokio::spawn(sender_loop(config.clone(), flags.stop.clone()));
    let result = worker.await.map_err(AgentError::Worker);
    flags.stop.cancel();
    if let Err(e) = pipeline.await {
        tracing::error!(error = %e, "the accident pipeline panicked; its accidents resume on the next start");
    }
    let _ = sender.await;
    if let Some(a) = approver {
        let _ = a.await;
    }
    tracing::info!("agent stopped");
    result?
}

/// Starts the motion and location readers (each on its own thread, retried while its source
/// fails). Returns the motion log (`None` without a sensor) and the last location fix.
fn start_sensors(
    config: &Config,
    flags: &Flags,
    handle: &tokio::runtime::Handle,
) -> Result<(Option<MotionLog>, LastFix), AgentError> {
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
            spawn_motion_status(
                m.clone(),
                config.motion_status_path(),
                flags.stop.clone(),
                handle.clone(),
            );
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
    Ok((motion, location))
}

fn install_signals(flags: &Flags) -> Result<(), AgentError> {
    use tokio::signal::unix::{SignalKind, signal};
    let sig = |k: SignalKind| {
        signal(k).map_err(|e| AgentError::system("cannot install signal handler", e))
    };
    let mut term = sig(SignalKind::terminate())?;
    let mut int = sig(SignalKind::interrupt())?;
    let mut usr1 = sig(SignalKind::user_defined1())?;
    let f = flags.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); f.stop.cancel(); }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); f.stop.cancel(); }
                _ = usr1.recv() => { tracing::info!("SIGUSR1: manual event"); f.event.store(true, Ordering::SeqCst); }
            }
        }
    });
    Ok(())
}

/// The loop of a blocking worker: runs `step` until `stop`; `Ok(true)` (work done) runs it again
/// at once, `Ok(false)` (nothing to do) waits `idle`, an error is logged (`what` failed) and
/// retried after the `config.retry` backoff (a full disk or a locked database must not
/// crash-loop the daemon).
pub fn run_steps(
    config: &Config,
    runtime: &tokio::runtime::Handle,
    stop: &CancellationToken,
    idle: Duration,
    what: &str,
    mut step: impl FnMut() -> Result<bool, AgentError>,
) {
    let mut backoff = Backoff::new(
        Duration::from_millis(config.retry.base_ms),
        Duration::from_millis(config.retry.max_ms),
    );
    while !stop.is_cancelled() {
        match step() {
            Ok(true) => backoff.reset(),
            Ok(false) => sleep_until_stopped(runtime, stop, idle),
            Err(e) => {
                let d = backoff.next_delay();
                tracing::error!(error = %e, retry_in = ?d, "{what} failed; will retry");
                sleep_until_stopped(runtime, stop, d);
            }
        }
    }
}

/// Blocking worker: one step at a time, each committed. Errors are logged and retried with
/// backoff (a full disk or a locked database must not crash-loop the daemon).
fn segment_worker(
    config: &Config,
    secrets: &Secrets,
    motion: Option<MotionLog>,
    flags: &Flags,
    runtime: tokio::runtime::Handle,
) -> Result<(), AgentError> {
    let device_key = &secrets.device_signer()?;
    let mut outbox = Outbox::open(&config.outbox_path())?;
    let mut watcher = Watcher::new(
        &config.watch_dir,
        &config.segment_extensions,
        Duration::from_secs(config.settle_secs),
    );
    let poll = Duration::from_millis(config.poll_interval_ms);
    let mut last_scan: Option<Instant> = None;
    let mut detector = DetectorSlot {
        motion,
        ..DetectorSlot::default()
    };
    let idle = poll.min(Duration::from_millis(250));
    run_steps(config, &runtime, &flags.stop, idle, "segment work", || {
        worker_step(
            config,
            &mut outbox,
            &mut watcher,
            device_key,
            flags,
            &mut last_scan,
            poll,
            &mut detector,
        )
    });
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
) -> Result<bool, AgentError> {
    let now = Instant::now();
    if last_scan.is_none_or(|t| now.duration_since(t) >= poll) {
        *last_scan = Some(now);
        let finished = watcher.scan(now)?;
        segments::ingest(outbox, &finished)?;
        check_manual_event(config, outbox, flags)?;
        outbox.apply_pending_events()?;
    }
    if segments::hash_next(outbox, &config.watch_dir)? {
        return Ok(true);
    }
    if segments::record_next(outbox, device_key)? {
        return Ok(true);
    }
    detect_next(config, outbox, detector)
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
    while !flags.stop.is_cancelled() {
        let pass = tokio::select! {
            () = flags.stop.cancelled() => break,
            r = crate::owner::auto_approve_once(&config, &secrets, min) => r,
        };
        match pass {
            Ok(done) => {
                for a in done {
                    tracing::warn!(request = %a.request, ec = %a.ec, tx = %a.tx, "request auto-approved");
                }
            }
            Err(e) => tracing::warn!(error = %e, "auto-approve pass failed; will retry"),
        }
        tokio::select! {
            () = flags.stop.cancelled() => {}
            () = tokio::time::sleep(Duration::from_secs(config.owner.poll_secs)) => {}
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
            // The accident's thumbnails now, while the frames are decoded: sealing then reads
            // the segment without decoding it again.
            if (a.accident || seg.manual_event)
                && let Some((first, last)) = &a.thumbnails
                && let Err(e) =
                    crate::accident::write_thumbnails(&config.state_dir, seg.id, first, last)
            {
                tracing::warn!(segment = %seg.name, error = %e, "cannot keep the thumbnails; sealing will decode them");
            }
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
fn spawn_motion_status(
    log: MotionLog,
    path: std::path::PathBuf,
    stop: CancellationToken,
    runtime: tokio::runtime::Handle,
) {
    let spawned = std::thread::Builder::new()
        .name("motion-status".into())
        .spawn(move || {
            while !stop.is_cancelled() {
                let tmp = path.with_extension("json.tmp");
                let body = serde_json::to_vec_pretty(&log.status()).unwrap_or_default();
                if let Err(e) = std::fs::write(&tmp, body).and_then(|()| std::fs::rename(&tmp, &path)) {
                    tracing::debug!(error = %e, path = %path.display(), "cannot write the motion status");
                }
                sleep_until_stopped(&runtime, &stop, Duration::from_secs(5));
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
            outbox.add_pending_event(&name)?;
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

/// Sends queued records to the cloud, oldest first, in batches; backs off while it fails. A
/// batch in flight when the daemon stops is dropped: its records stay unsent and go again on
/// the next start (the cloud counts a resent record as a duplicate).
async fn sender_loop(config: Config, stop: CancellationToken) {
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
    while !stop.is_cancelled() {
        let sent = tokio::select! {
            () = stop.cancelled() => break,
            r = send_batch(&client, &mut outbox) => r,
        };
        let delay = match sent {
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
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(delay) => {}
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
        Err(e) => {
            let refused = e.failure() == Failure::Refused;
            let e = AgentError::from(e);
            outbox.note_send_failure(batch[0].seq, &e.to_string())?;
            if refused {
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
