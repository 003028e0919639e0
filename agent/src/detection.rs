//! Accident detection on a segment: GStreamer-decoded frames (1 per second, native size; the
//! detect crate applies the card's resize rule) through the image model, 1-second 16 kHz audio
//! windows through the audio model (MFCC inside the detect crate), and the motion channel's
//! per-second scores for the segment's seconds. Each model's probability is first calibrated
//! against its own card's threshold ([`calibrate`]: the threshold maps to 0.5).
//!
//! The default rule (`detect.fusion = "window"`) is the detect crate's
//! [`DecisionRule`](dashledger_detect::DecisionRule): all three channels over a window of seconds,
//! with a stated rule for each missing channel (no audio track or a silent one, no sensor). The
//! older per-second rules (`max`, `weighted:0.3`, ...) remain: each fused second is compared with
//! [`CALIBRATED_THRESHOLD`] (0.5) or `detect.threshold_override` and counted against
//! `min_positive_seconds`; a motion second over its bar decides alone under every rule.

use std::path::Path;
use std::time::{Duration, Instant};

use dashledger_detect::decision::{Cause, Decision, DecisionRule, Second};
use dashledger_detect::fusion::{CALIBRATED_THRESHOLD, calibrate};
use dashledger_detect::motion::MotionSecond;
use dashledger_detect::{AudioModel, Fusion, ImageModel, RgbFrame};

use crate::config::Config;
use crate::decode::{self, AUDIO_RATE, DecodeOptions, Frame};
use crate::error::AgentError;

/// Loaded models and the decision rule.
#[derive(Debug)]
pub struct Detector {
    image: ImageModel,
    audio: Option<AudioModel>,
    /// A per-second rule, or `None` for the window rule.
    fusion: Option<Fusion>,
    rule: DecisionRule,
    silent_dbfs: f32,
    /// The image card's threshold (calibration point of the image probabilities).
    image_threshold: f32,
    /// The audio card's threshold (calibration point of the audio probabilities).
    audio_threshold: Option<f32>,
    /// Decision threshold on the calibrated, fused scale.
    threshold: f32,
    min_positive: usize,
    decode_timeout: Duration,
}

/// Where the time of one segment went.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    /// Wall time of the whole analysis (decode runs concurrently with image inference).
    pub total: Duration,
    /// Image preprocessing + inference.
    pub image: Duration,
    /// MFCC + audio inference.
    pub audio: Duration,
}

/// The outcome for one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// P(accident) per sampled frame.
    pub p_image: Vec<f32>,
    /// P(accident) per 1-second audio window (empty without audio or audio model).
    pub p_audio: Vec<f32>,
    /// On the calibrated scale (each model's own threshold maps to 0.5): the window rule's score
    /// per window start, or the per-second rule's fused score per second.
    pub p_fused: Vec<f32>,
    /// Windows (or seconds, per-second rules) at or above the bar, plus motion seconds over theirs.
    pub positive_seconds: usize,
    /// The decision.
    pub accident: bool,
    /// Channels, cause and deciding second (also for the per-second rules).
    pub decision: Decision,
    /// The motion channel's seconds of this segment (empty: no sensor configured).
    pub motion: Vec<Option<MotionSecond>>,
    /// Soundtrack level (RMS over the whole track, dBFS), when there is one.
    pub audio_dbfs: Option<f32>,
    /// Why something was left out (no audio track, a silent one, no audio model, no sensor data).
    pub note: Option<String>,
    /// Time per stage.
    pub timings: Timings,
    /// The first and last sampled frames (the accident's thumbnails, so that sealing need not
    /// decode the segment a second time); `None` when no frame was decoded.
    pub thumbnails: Option<(Frame, Frame)>,
}

fn max(v: &[f32]) -> Option<f32> {
    v.iter().copied().reduce(f32::max)
}

impl Analysis {
    /// Largest image probability.
    pub fn max_image(&self) -> Option<f32> {
        max(&self.p_image)
    }
    /// Largest audio probability.
    pub fn max_audio(&self) -> Option<f32> {
        max(&self.p_audio)
    }
    /// Largest fused score.
    pub fn max_fused(&self) -> Option<f32> {
        max(&self.p_fused)
    }
}

const fn detect_err(what: &'static str, source: dashledger_detect::DetectError) -> AgentError {
    AgentError::Detect { what, source }
}

impl Detector {
    /// Loads the models named by the configuration (checks cards and ONNX hashes).
    pub fn load(config: &Config) -> Result<Self, AgentError> {
        let image_card = config.image_card_path();
        let image = ImageModel::load(&image_card).map_err(|e| detect_err("image model", e))?;
        let audio = match config.audio_card_path() {
            Some(p) => Some(AudioModel::load(&p).map_err(|e| detect_err("audio model", e))?),
            None => {
                tracing::warn!(models_dir = %config.detect.models_dir.display(), "no audio model card found: detection is image-only");
                None
            }
        };
        if let Some(a) = &audio {
            let rate = a.mfcc().params().sample_rate;
            if rate != AUDIO_RATE {
                return Err(AgentError::Config(format!(
                    "audio model expects {rate} Hz audio; the agent decodes to {AUDIO_RATE} Hz"
                )));
            }
        }
        let fusion: Option<Fusion> = match config.detect.fusion.as_str() {
            "window" => None,
            f => Some(f.parse().map_err(|e| detect_err("detect.fusion", e))?),
        };
        let threshold = if config.detect.threshold_override >= 0.0 {
            config.detect.threshold_override
        } else {
            CALIBRATED_THRESHOLD
        };
        let image_threshold = image.card().threshold();
        let audio_threshold = audio.as_ref().map(|a| a.card().threshold());
        tracing::info!(card = %image_card.display(), audio = audio.is_some(), ?fusion, image_threshold, ?audio_threshold, threshold, "detector loaded");
        Ok(Self {
            image,
            audio,
            fusion,
            rule: config.detect.window,
            silent_dbfs: config.detect.silent_audio_dbfs,
            image_threshold,
            audio_threshold,
            threshold,
            min_positive: config.detect.min_positive_seconds as usize,
            decode_timeout: Duration::from_secs(config.detect.decode_timeout_secs),
        })
    }

    /// The decision threshold on the calibrated, fused scale.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The image card's threshold (where image probabilities calibrate to 0.5).
    pub fn image_threshold(&self) -> f32 {
        self.image_threshold
    }

    /// The audio card's threshold, when there is an audio model.
    pub fn audio_threshold(&self) -> Option<f32> {
        self.audio_threshold
    }

    /// Decodes and scores a segment without motion data.
    pub fn analyse(&self, path: &Path) -> Result<Analysis, AgentError> {
        self.analyse_with_motion(path, &[])
    }

    /// Decodes and scores a segment; `motion` holds the motion channel's seconds from the
    /// segment's start (empty: no sensor configured).
    pub fn analyse_with_motion(
        &self,
        path: &Path,
        motion: &[Option<MotionSecond>],
    ) -> Result<Analysis, AgentError> {
        let t0 = Instant::now();
        let mut timings = Timings::default();
        let mut p_image = Vec::new();
        let mut ends = decode::FirstLast::default();
        let options = DecodeOptions {
            scale_to: None,
            timeout: self.decode_timeout,
        };
        let summary = decode::decode_each(path, &options, |frame| {
            let t = Instant::now();
            let rgb = RgbFrame::packed(frame.width as usize, frame.height as usize, &frame.rgb)
                .map_err(|e| e.to_string())?;
            let p = self
                .image
                .predict(&rgb)
                .map_err(|e| format!("image model: {e}"))?;
            timings.image += t.elapsed();
            p_image.push(p);
            ends.push(frame);
            Ok(())
        })?;
        let thumbnails = ends.finish();
        let mut notes = Vec::new();
        let audio_dbfs = summary.audio.as_deref().and_then(rms_dbfs);
        let p_audio =
            self.score_audio(path, &summary.audio, audio_dbfs, &mut notes, &mut timings)?;
        let seconds = p_image.len().max(p_audio.len());
        let motion: Vec<Option<MotionSecond>> = motion.iter().take(seconds).copied().collect();
        if !motion.is_empty() && motion.iter().all(Option::is_none) {
            notes.push("motion sensor configured but no samples for this segment".to_string());
        }
        let verdict = self.decide(&p_image, &p_audio, &motion);
        timings.total = t0.elapsed();
        let audio_secs = summary
            .audio
            .as_ref()
            .map_or(0.0, |a| a.len() as f32 / AUDIO_RATE as f32);
        tracing::debug!(
            frames = p_image.len(),
            audio_secs,
            ?timings,
            "segment analysed"
        );
        Ok(Analysis {
            accident: verdict.decision.accident,
            p_image,
            p_audio,
            p_fused: verdict.p_fused,
            positive_seconds: verdict.positive,
            decision: verdict.decision,
            motion,
            audio_dbfs,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            timings,
            thumbnails,
        })
    }

    /// The sound channel's per-second probabilities: none (with a note saying why) for a
    /// silent soundtrack, a file without audio or an agent without an audio model.
    fn score_audio(
        &self,
        path: &Path,
        audio: &Option<Vec<f32>>,
        audio_dbfs: Option<f32>,
        notes: &mut Vec<String>,
        timings: &mut Timings,
    ) -> Result<Vec<f32>, AgentError> {
        Ok(match (&self.audio, audio) {
            (Some(_), Some(_)) if audio_dbfs.is_some_and(|db| db < self.silent_dbfs) => {
                notes.push(format!(
                    "silent soundtrack ({:.0} dBFS): no sound channel",
                    audio_dbfs.unwrap_or(f32::NEG_INFINITY)
                ));
                Vec::new()
            }
            (Some(model), Some(samples)) if !samples.is_empty() => {
                let t = Instant::now();
                let ps = model
                    .predict_stream(samples)
                    .map_err(|e| AgentError::Decode {
                        path: path.to_path_buf(),
                        reason: format!("audio model: {e}"),
                    })?;
                timings.audio = t.elapsed();
                ps
            }
            (Some(_), _) => {
                notes.push("no audio track: image-only decision".to_string());
                Vec::new()
            }
            (None, _) => {
                notes.push("no audio model: image-only decision".to_string());
                Vec::new()
            }
        })
    }

    /// The decision from the per-second scores (raw model probabilities; motion scores).
    pub fn decide(
        &self,
        p_image: &[f32],
        p_audio: &[f32],
        motion: &[Option<MotionSecond>],
    ) -> Verdict {
        let audio_threshold = self.audio_threshold.unwrap_or(CALIBRATED_THRESHOLD);
        let n = p_image.len().max(p_audio.len()).max(motion.len());
        let seconds: Vec<Second> = (0..n)
            .map(|i| Second {
                image: p_image.get(i).map(|&p| calibrate(p, self.image_threshold)),
                audio: p_audio.get(i).map(|&p| calibrate(p, audio_threshold)),
                motion: motion.get(i).copied().flatten().map(|m| m.score),
            })
            .collect();
        let mut decision = self.rule.decide(&seconds);
        let motion_positive = seconds
            .iter()
            .filter(|s| s.motion.is_some_and(|m| m >= self.rule.motion))
            .count();
        match self.fusion {
            None => {
                let channels = decision.channels;
                let p_fused = self.rule.window_scores(&seconds, channels);
                let bar = match (channels.image, channels.audio) {
                    (true, true) => self.rule.combined,
                    (true, false) => self.rule.image_alone,
                    _ => self.rule.audio_alone,
                };
                let positive = p_fused.iter().filter(|&&p| p >= bar).count() + motion_positive;
                Verdict {
                    decision,
                    p_fused,
                    positive,
                }
            }
            Some(fusion) => {
                let p_fused = fuse_calibrated(
                    fusion,
                    p_image,
                    self.image_threshold,
                    p_audio,
                    audio_threshold,
                );
                let positive = p_fused.iter().filter(|&&p| p >= self.threshold).count();
                let legacy = positive >= self.min_positive;
                let motion_at = seconds
                    .iter()
                    .position(|s| s.motion.is_some_and(|m| m >= self.rule.motion));
                let first = p_fused.iter().position(|&p| p >= self.threshold);
                decision.max_window = p_fused.iter().copied().reduce(f32::max);
                (decision.cause, decision.at_second) = match (legacy, motion_at) {
                    (_, Some(m)) if !legacy || first.is_none_or(|f| m <= f) => {
                        (Some(Cause::Motion), Some(m))
                    }
                    (true, _) => {
                        let c = match (decision.channels.image, decision.channels.audio) {
                            (true, true) => Cause::ImageAndAudio,
                            (true, false) => Cause::ImageAlone,
                            _ => Cause::AudioAlone,
                        };
                        (Some(c), first)
                    }
                    _ => (None, None),
                };
                decision.accident = decision.cause.is_some();
                Verdict {
                    decision,
                    p_fused,
                    positive: positive + motion_positive,
                }
            }
        }
    }
}

/// [`Detector::decide`]'s result.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The decision.
    pub decision: Decision,
    /// Window scores (window rule) or fused seconds (per-second rules).
    pub p_fused: Vec<f32>,
    /// Windows or seconds over the bar, plus motion seconds over theirs.
    pub positive: usize,
}

/// RMS level of a soundtrack in dBFS (samples in -1..1); `None` for an empty one.
pub fn rms_dbfs(samples: &[f32]) -> Option<f32> {
    if samples.is_empty() {
        return None;
    }
    let ms = samples
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / samples.len() as f64;
    Some((10.0 * ms.max(1e-20).log10()) as f32)
}

/// Per second: each probability calibrated against its own model's threshold, then fused with
/// `fusion`. Seconds where the rule has no input are left out.
pub fn fuse_calibrated(
    fusion: Fusion,
    p_image: &[f32],
    image_threshold: f32,
    p_audio: &[f32],
    audio_threshold: f32,
) -> Vec<f32> {
    let seconds = p_image.len().max(p_audio.len());
    (0..seconds)
        .filter_map(|i| {
            fusion.fuse(
                p_image.get(i).map(|&p| calibrate(p, image_threshold)),
                p_audio.get(i).map(|&p| calibrate(p, audio_threshold)),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_is_judged_against_its_own_threshold() {
        // Image card threshold 0.65, audio card threshold 0.09.
        let (ti, ta) = (0.65, 0.09);
        // Second 0: image just below its threshold, audio well below its own → normal.
        // Second 1: image low, audio 0.2 — above the audio threshold but far below the image
        //           card's 0.65, which the old rule compared everything with → accident.
        // Second 2: image above its threshold → accident.
        let fused = fuse_calibrated(Fusion::Max, &[0.6, 0.1, 0.7], ti, &[0.01, 0.2, 0.0], ta);
        let positive: Vec<bool> = fused.iter().map(|&p| p >= CALIBRATED_THRESHOLD).collect();
        assert_eq!(positive, vec![false, true, true]);
        // Exactly at a model's threshold is positive (0.5 on the calibrated scale).
        let at = fuse_calibrated(Fusion::ImageOnly, &[0.65], ti, &[], ta);
        assert!((at[0] - 0.5).abs() < 1e-6);
        // Mean: both just above their own thresholds → above 0.5, although the raw mean
        // (0.1 + 0.7) / 2 = 0.4 is below the image threshold.
        let mean = fuse_calibrated(Fusion::Mean, &[0.7], ti, &[0.1], ta);
        assert!(mean[0] > CALIBRATED_THRESHOLD, "{mean:?}");
        // Without audio, a two-input rule uses the image alone; audio-only without audio: nothing.
        let no_audio = fuse_calibrated(Fusion::Max, &[0.2, 0.9], ti, &[], ta);
        assert_eq!(no_audio, vec![calibrate(0.2, ti), calibrate(0.9, ti)]);
        assert!(fuse_calibrated(Fusion::AudioOnly, &[0.9], ti, &[], ta).is_empty());
        // Calibrated scores stay probabilities and keep the order of the inputs.
        let ramp: Vec<f32> = (0..=20).map(|i| i as f32 / 20.0).collect();
        let c = fuse_calibrated(Fusion::ImageOnly, &ramp, ti, &[], ta);
        assert!(c.windows(2).all(|w| w[0] <= w[1]));
        assert!(c.iter().all(|p| (0.0..=1.0).contains(p)));
    }
}
