//! Accident detection on a segment: GStreamer-decoded frames (1 per second, native size; the
//! detect crate applies the card's resize rule) through the image model, 1-second 16 kHz audio
//! windows through the audio model (MFCC inside the detect crate), both fused per second with the
//! configured rule and compared with the card's threshold.

use std::path::Path;
use std::time::{Duration, Instant};

use dashledger_detect::{AudioModel, Fusion, ImageModel, RgbFrame};

use crate::config::Config;
use crate::decode::{self, AUDIO_RATE, DecodeOptions};
use crate::error::AgentError;

/// Loaded models and the decision rule.
#[derive(Debug)]
pub struct Detector {
    image: ImageModel,
    audio: Option<AudioModel>,
    fusion: Fusion,
    threshold: f32,
    min_positive: usize,
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
    /// Fused score per second.
    pub p_fused: Vec<f32>,
    /// Seconds at or above the threshold.
    pub positive_seconds: usize,
    /// The decision.
    pub accident: bool,
    /// Why something was left out (no audio track, no audio model).
    pub note: Option<String>,
    /// Time per stage.
    pub timings: Timings,
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

fn detect_err(what: &str, e: dashledger_detect::DetectError) -> AgentError {
    AgentError::Config(format!("{what}: {e}"))
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
        let fusion: Fusion = config
            .detect
            .fusion
            .parse()
            .map_err(|e| detect_err("detect.fusion", e))?;
        let threshold = if config.detect.threshold_override >= 0.0 {
            config.detect.threshold_override
        } else {
            image.card().threshold()
        };
        tracing::info!(card = %image_card.display(), audio = audio.is_some(), ?fusion, threshold, "detector loaded");
        Ok(Self {
            image,
            audio,
            fusion,
            threshold,
            min_positive: config.detect.min_positive_seconds as usize,
        })
    }

    /// The decision threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Decodes and scores a segment.
    pub fn analyse(&self, path: &Path) -> Result<Analysis, AgentError> {
        let t0 = Instant::now();
        let mut timings = Timings::default();
        let mut p_image = Vec::new();
        let options = DecodeOptions {
            scale_to: None,
            timeout: Duration::from_secs(600),
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
            Ok(())
        })?;
        let mut note = None;
        let p_audio = match (&self.audio, &summary.audio) {
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
                note = Some("no audio track: image-only decision".to_string());
                Vec::new()
            }
            (None, _) => {
                note = Some("no audio model: image-only decision".to_string());
                Vec::new()
            }
        };
        let seconds = p_image.len().max(p_audio.len());
        let p_fused: Vec<f32> = (0..seconds)
            .filter_map(|i| {
                self.fusion
                    .fuse(p_image.get(i).copied(), p_audio.get(i).copied())
            })
            .collect();
        let positive_seconds = p_fused.iter().filter(|&&p| p >= self.threshold).count();
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
            accident: positive_seconds >= self.min_positive,
            p_image,
            p_audio,
            p_fused,
            positive_seconds,
            note,
            timings,
        })
    }
}
