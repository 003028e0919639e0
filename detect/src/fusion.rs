//! Combining the frame and sound probabilities of the same moment into one decision score.
//!
//! The two models have different thresholds (see their cards). To fuse them fairly, first map each
//! probability onto a common scale with [`calibrate`], which sends the model's own threshold to
//! 0.5, then fuse, then compare the fused score with [`CALIBRATED_THRESHOLD`]:
//!
//! ```
//! use dashledger_detect::fusion::{CALIBRATED_THRESHOLD, Fusion, calibrate};
//! let image = calibrate(0.70, 0.65); // just above the image model's threshold
//! let audio = calibrate(0.05, 0.09); // below the audio model's threshold
//! let fused = Fusion::Max.fuse(Some(image), Some(audio)).unwrap();
//! assert!(fused >= CALIBRATED_THRESHOLD);
//! # Ok::<(), dashledger_detect::DetectError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::DetectError;

/// The decision threshold for fused [`calibrate`]d scores.
pub const CALIBRATED_THRESHOLD: f32 = 0.5;

/// Maps a model's probability `p` so that its own `threshold` lands on 0.5:
/// `sigmoid(logit(p) - logit(threshold))`. Monotonic, keeps 0 and 1, and `p >= threshold` exactly
/// when the result is `>= 0.5` (both clamped to [1e-6, 1 - 1e-6] first).
pub fn calibrate(p: f32, threshold: f32) -> f32 {
    let clamp = |v: f32| f64::from(v).clamp(1e-6, 1.0 - 1e-6);
    let logit = |v: f64| (v / (1.0 - v)).ln();
    let z = logit(clamp(p)) - logit(clamp(threshold));
    (1.0 / (1.0 + (-z).exp())) as f32
}

/// How image and audio P(accident) are combined. Parse from `max`, `mean`, `image-only`,
/// `audio-only` or `weighted:<image weight in 0..1>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// The larger of the two (either detector alone can trigger).
    Max,
    /// The average of the two (both must lean towards accident).
    Mean,
    /// The frame model only.
    ImageOnly,
    /// The sound model only.
    AudioOnly,
    /// `w * image + (1 - w) * audio`.
    Weighted {
        /// Weight of the image probability, 0..=1.
        image: f32,
    },
}

impl Fusion {
    /// The fused score, or `None` when the inputs the rule needs are missing. A rule using both
    /// falls back to whichever probability is present (e.g. a segment without audio).
    pub fn fuse(self, image: Option<f32>, audio: Option<f32>) -> Option<f32> {
        match (self, image, audio) {
            (Fusion::ImageOnly, i, _) => i,
            (Fusion::AudioOnly, _, a) => a,
            (_, None, None) => None,
            (_, Some(i), None) => Some(i),
            (_, None, Some(a)) => Some(a),
            (Fusion::Max, Some(i), Some(a)) => Some(i.max(a)),
            (Fusion::Mean, Some(i), Some(a)) => Some(0.5 * (i + a)),
            (Fusion::Weighted { image: w }, Some(i), Some(a)) => Some(w * i + (1.0 - w) * a),
        }
    }
}

impl FromStr for Fusion {
    type Err = DetectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DetectError::BadFusion(s.to_string());
        match s.trim() {
            "max" => Ok(Fusion::Max),
            "mean" => Ok(Fusion::Mean),
            "image-only" => Ok(Fusion::ImageOnly),
            "audio-only" => Ok(Fusion::AudioOnly),
            other => {
                let w = other.strip_prefix("weighted:").ok_or_else(bad)?;
                let image: f32 = w.trim().parse().map_err(|_| bad())?;
                if (0.0..=1.0).contains(&image) {
                    Ok(Fusion::Weighted { image })
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl fmt::Display for Fusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fusion::Max => f.write_str("max"),
            Fusion::Mean => f.write_str("mean"),
            Fusion::ImageOnly => f.write_str("image-only"),
            Fusion::AudioOnly => f.write_str("audio-only"),
            Fusion::Weighted { image } => write!(f, "weighted:{image}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(Fusion::Max.fuse(Some(0.2), Some(0.9)), Some(0.9));
        assert_eq!(Fusion::Mean.fuse(Some(0.2), Some(0.8)), Some(0.5));
        assert_eq!(Fusion::ImageOnly.fuse(None, Some(0.8)), None);
        assert_eq!(Fusion::AudioOnly.fuse(Some(0.1), Some(0.8)), Some(0.8));
        assert_eq!(Fusion::Mean.fuse(None, Some(0.7)), Some(0.7));
        assert_eq!(Fusion::Max.fuse(None, None), None);
        let w = Fusion::Weighted { image: 0.75 }
            .fuse(Some(1.0), Some(0.0))
            .unwrap();
        assert!((w - 0.75).abs() < 1e-6);
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in ["max", "mean", "image-only", "audio-only", "weighted:0.25"] {
            assert_eq!(s.parse::<Fusion>().unwrap().to_string(), s);
        }
        for s in ["", "min", "weighted:", "weighted:1.5", "weighted:x"] {
            assert!(
                s.parse::<Fusion>()
                    .unwrap_err()
                    .to_string()
                    .contains("unknown fusion")
            );
        }
    }

    #[test]
    fn calibration_moves_thresholds_to_one_half() {
        assert!((calibrate(0.3, 0.3) - 0.5).abs() < 1e-6);
        assert!(calibrate(0.31, 0.3) > 0.5 && calibrate(0.29, 0.3) < 0.5);
        assert!(calibrate(0.0, 0.3) < 1e-5 && calibrate(1.0, 0.3) > 1.0 - 1e-5);
        assert!((calibrate(0.8, 0.5) - 0.8).abs() < 1e-6);
    }

    proptest::proptest! {
        #[test]
        fn calibration_preserves_decisions(p in 0.0f32..=1.0, t in 0.01f32..0.99) {
            let c = calibrate(p, t);
            proptest::prop_assert!((0.0..=1.0).contains(&c));
            if (p - t).abs() > 1e-4 {
                proptest::prop_assert_eq!(p >= t, c >= CALIBRATED_THRESHOLD);
            }
        }

        #[test]
        fn fused_scores_stay_probabilities(i in 0.0f32..=1.0, a in 0.0f32..=1.0, w in 0.0f32..=1.0) {
            for rule in [Fusion::Max, Fusion::Mean, Fusion::Weighted { image: w }] {
                let p = rule.fuse(Some(i), Some(a)).unwrap();
                proptest::prop_assert!(p >= i.min(a) - 1e-6 && p <= i.max(a) + 1e-6);
            }
        }
    }
}
