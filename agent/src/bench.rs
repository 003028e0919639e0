//! `dashledger-agent bench SEGMENT`: per-stage timing of one segment on this machine (hash,
//! decode, image inference, audio features + inference, seal, the C2PA sidecar when `[c2pa]` is
//! set), the real-time factor and the
//! peak resident memory (VmHWM), and the per-second image, audio and fused scores with the
//! decision. Used for `docs/benchmarks.md` ("Agent") and to check that a
//! device keeps up with its camera before trusting it on the road.

use std::path::Path;
use std::time::Instant;

use crate::config::Config;
use crate::decode::{AUDIO_RATE, DecodeOptions, decode_each};
use crate::detection::{Analysis, Detector};
use crate::error::AgentError;

/// Peak resident set size of this process in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Times every stage on `segment` with the detector `config` selects (with the accelerometer
/// feed `motion`, times from the segment's start, when given); returns one JSON object.
pub fn run(
    config: &Config,
    segment: &Path,
    motion: Option<&Path>,
) -> Result<serde_json::Value, AgentError> {
    let t = Instant::now();
    dashledger_protocol::hash::keccak256_file(segment)?;
    let hash_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let options = DecodeOptions {
        timeout: std::time::Duration::from_secs(config.detect.decode_timeout_secs),
        ..DecodeOptions::default()
    };
    let summary = decode_each(segment, &options, |_| Ok(()))?;
    let decode_s = t.elapsed().as_secs_f64();
    let audio_secs = summary
        .audio
        .as_ref()
        .map_or(0, |a| a.len() / AUDIO_RATE as usize);
    let duration_s = summary.frames.max(audio_secs) as f64;

    let t = Instant::now();
    let detector = Detector::load(config)?;
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (motion_seconds, motion_bad) = match motion {
        Some(feed) => {
            let (samples, bad) = crate::motion::read_feed_file(feed)?;
            let seconds = score_feed(config, &samples);
            (seconds, bad)
        }
        None => (Vec::new(), 0),
    };
    let motion_s = t.elapsed().as_secs_f64();
    let analysis = detector.analyse_with_motion(segment, &motion_seconds)?;

    let t = Instant::now();
    let key = dashledger_protocol::seal::SessionKey::generate();
    let file =
        std::fs::File::open(segment).map_err(|e| AgentError::io("cannot open", segment, e))?;
    let stats =
        dashledger_protocol::seal::seal(std::io::BufReader::new(file), std::io::sink(), &key)?;
    let seal_s = t.elapsed().as_secs_f64();
    let c2pa_sign_s = c2pa_sign(config, segment)?;

    let stages = Stages {
        bytes: stats.plaintext_len,
        duration_s,
        model_load_s: load_s,
        hash_s,
        decode_s,
        seal_s,
        c2pa_sign_s,
        motion_feed_s: motion_s,
        motion_bad_lines: motion_bad,
    };
    Ok(report(config, segment, &detector, &analysis, &stages))
}

/// Seconds to sign the segment's C2PA sidecar with the configured `[c2pa]` signer (`None`
/// without one); the capture assertion is a placeholder of the real one's size.
fn c2pa_sign(config: &Config, segment: &Path) -> Result<Option<f64>, AgentError> {
    let Some(signer) = crate::provenance::signer(&config.c2pa)? else {
        return Ok(None);
    };
    let t = Instant::now();
    let capture = dashledger_provenance::Capture {
        device: format!("0x{}", "00".repeat(20)),
        recorded_at: 0,
        chain_id: 0,
        evidence: format!("0x{}", "00".repeat(20)),
        video_hash: format!("0x{}", "00".repeat(32)),
        detection: dashledger_provenance::Detection {
            cause: "detector".into(),
            p_image: Some(0.0),
            p_audio: Some(0.0),
            p_fused: Some(0.0),
            detail: None,
        },
    };
    let mut file =
        std::fs::File::open(segment).map_err(|e| AgentError::io("cannot open", segment, e))?;
    dashledger_provenance::sign_sidecar(&mut file, &capture, &signer)?;
    Ok(Some(t.elapsed().as_secs_f64()))
}

/// What [`run`] measured outside the detector's own timings.
struct Stages {
    bytes: u64,
    duration_s: f64,
    model_load_s: f64,
    hash_s: f64,
    decode_s: f64,
    seal_s: f64,
    c2pa_sign_s: Option<f64>,
    motion_feed_s: f64,
    motion_bad_lines: usize,
}

/// The bench's JSON object: the stages' times, the real-time factor, the peak memory, the
/// decision and the per-second scores.
fn report(
    config: &Config,
    segment: &Path,
    detector: &Detector,
    analysis: &Analysis,
    stages: &Stages,
) -> serde_json::Value {
    let image_s = analysis.timings.image.as_secs_f64();
    let audio_s = analysis.timings.audio.as_secs_f64();
    let total = stages.hash_s + stages.decode_s + image_s + audio_s + stages.seal_s;
    serde_json::json!({
        "segment": segment.display().to_string(),
        "image_card": config.image_card_path().display().to_string(),
        "audio_card": config.audio_card_path().map(|p| p.display().to_string()),
        "bytes": stages.bytes,
        "duration_s": stages.duration_s,
        "frames": analysis.p_image.len(),
        "audio_windows": analysis.p_audio.len(),
        "model_load_s": stages.model_load_s,
        "hash_s": stages.hash_s,
        "decode_s": stages.decode_s,
        "image_inference_s": image_s,
        "audio_features_inference_s": audio_s,
        "seal_s": stages.seal_s,
        "c2pa_sign_s": stages.c2pa_sign_s,
        "analyse_wall_s": analysis.timings.total.as_secs_f64(),
        "sum_of_stages_s": total,
        "realtime_factor": stages.duration_s / total,
        "peak_rss_mib": peak_rss_mib(),
        "accident": analysis.accident,
        "positive_seconds": analysis.positive_seconds,
        "threshold": detector.threshold(),
        "image_threshold": detector.image_threshold(),
        "audio_threshold": detector.audio_threshold(),
        "fusion": config.detect.fusion,
        "note": analysis.note,
        "decision": analysis.decision,
        "audio_dbfs": analysis.audio_dbfs,
        "motion_feed_s": stages.motion_feed_s,
        "motion_bad_lines": stages.motion_bad_lines,
        "scores": {
            "image": rounded(&analysis.p_image),
            "audio": rounded(&analysis.p_audio),
            "fused": rounded(&analysis.p_fused),
            "motion": analysis.motion.iter().map(|m| m.map(|m| (f64::from(m.score) * 1e6).round() / 1e6)).collect::<Vec<_>>(),
        },
        "motion": analysis.motion,
    })
}

/// Per-second scores to six decimals: short JSON, yet fine enough to compare two machines'
/// results within 1e-4 (`scripts/bench-compare`, the aarch64 check in `scripts/test`).
fn rounded(v: &[f32]) -> Vec<f64> {
    v.iter()
        .map(|&p| (f64::from(p) * 1e6).round() / 1e6)
        .collect()
}

/// Scores a feed whose times are seconds from the segment's start: one entry per second from 0
/// (`None` where the feed has no samples).
pub fn score_feed(
    config: &Config,
    samples: &[dashledger_detect::motion::AccelSample],
) -> Vec<Option<dashledger_detect::MotionSecond>> {
    let scored = dashledger_detect::motion::score_trace(config.motion.bars, samples, &[]);
    let last = scored.iter().map(|s| s.second).max().unwrap_or(-1);
    let mut out = vec![None; usize::try_from(last + 1).unwrap_or(0)];
    for s in scored {
        if let Ok(i) = usize::try_from(s.second) {
            out[i] = Some(s);
        }
    }
    out
}
