//! The segment's decision: image, sound and motion, each calibrated against its own card (0.5 is
//! the channel's own threshold, see [`crate::fusion::calibrate`] and [`crate::motion`]), combined
//! over a sliding window of seconds.
//!
//! An accident lasts a few seconds: one bright frame should not decide, a 4 g impact alone may.
//! The rule, per window of [`DecisionRule::window_secs`] seconds:
//!
//! * **motion**: a second at or over [`DecisionRule::motion`] decides alone (an impact, a
//!   rollover or a sudden stop is what a G-sensor dashcam triggers on). A quiet sensor never
//!   vetoes the cameras: a crash seen ahead need not shake the car.
//! * **image and sound both present**: the window's image score is its
//!   [`DecisionRule::image_rank`]-th highest second (two frames must agree), its sound score its
//!   loudest second; the two are combined as the mean of their log-odds and compared with
//!   [`DecisionRule::combined`].
//! * **image alone** (no audio track, a silent or muted one, no sound model): the window's image
//!   score must clear the higher bar [`DecisionRule::image_alone`], because the frame model alone
//!   flags bright or busy scenes of normal drives.
//! * **sound alone** (no frames decoded): [`DecisionRule::audio_alone`].
//!
//! ```
//! use dashledger_detect::decision::{Channels, DecisionRule, Second};
//!
//! let rule = DecisionRule::default();
//! // 10 s of a normal drive with one bright frame (0.9) and quiet sound: normal.
//! let mut s = vec![Second { image: Some(0.2), audio: Some(0.1), motion: Some(0.01) }; 10];
//! s[4].image = Some(0.9);
//! assert!(!rule.decide(&s).accident);
//! // Frames and sound agree for a few seconds: accident.
//! for i in 6..9 { s[i].image = Some(0.8); s[i].audio = Some(0.7); }
//! let d = rule.decide(&s);
//! assert!(d.accident);
//! assert_eq!(d.channels, Channels { image: true, audio: true, motion: true });
//! ```

use serde::{Deserialize, Serialize};

/// One second of calibrated channel scores (each 0.5 at its own threshold); `None`: the channel
/// has nothing for this second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Frame model, calibrated.
    pub image: Option<f32>,
    /// Sound model, calibrated.
    pub audio: Option<f32>,
    /// Motion score ([`crate::motion::MotionSecond::score`]).
    pub motion: Option<f32>,
}

/// Which channels took part in a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    /// Frames were scored.
    pub image: bool,
    /// Sound was scored.
    pub audio: bool,
    /// Motion was scored.
    pub motion: bool,
}

/// Why a segment was called an accident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The motion channel alone.
    Motion,
    /// Frames and sound together.
    ImageAndAudio,
    /// Frames, with no sound channel.
    ImageAlone,
    /// Sound, with no frames.
    AudioAlone,
}

/// The window rule's bars. Defaults in `models/decision.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionRule {
    /// Window length, seconds.
    pub window_secs: usize,
    /// The window's image score is its n-th highest second.
    pub image_rank: usize,
    /// Motion bar (decides alone).
    pub motion: f32,
    /// Bar on the combined image + sound score.
    pub combined: f32,
    /// Image bar when there is no sound channel.
    pub image_alone: f32,
    /// Sound bar when there are no frames.
    pub audio_alone: f32,
}

impl Default for DecisionRule {
    fn default() -> Self {
        Self {
            window_secs: 5,
            image_rank: 2,
            motion: 0.5,
            combined: 0.5,
            image_alone: 0.8,
            audio_alone: 0.5,
        }
    }
}

/// The outcome for a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Accident or not.
    pub accident: bool,
    /// What decided it (None when normal).
    pub cause: Option<Cause>,
    /// First second of the deciding window (or the deciding motion second).
    pub at_second: Option<usize>,
    /// Highest window score of the rule that applies (the vision rule's; motion separately).
    pub max_window: Option<f32>,
    /// Highest motion score.
    pub max_motion: Option<f32>,
    /// Channels present in the segment.
    pub channels: Channels,
}

fn logit(p: f32) -> f64 {
    let p = f64::from(p).clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f32 {
    (1.0 / (1.0 + (-z).exp())) as f32
}

impl DecisionRule {
    /// Checks the bars (in 0..1) and the window (≥ 1 s, rank ≤ window); names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.window_secs == 0 {
            return Err("detect.window.window_secs must be at least 1".into());
        }
        if self.image_rank == 0 || self.image_rank > self.window_secs {
            return Err(format!(
                "detect.window.image_rank must be 1..={} (the window), got {}",
                self.window_secs, self.image_rank
            ));
        }
        for (name, v) in [
            ("motion", self.motion),
            ("combined", self.combined),
            ("image_alone", self.image_alone),
            ("audio_alone", self.audio_alone),
        ] {
            if v.is_nan() || v <= 0.0 || v >= 1.0 {
                return Err(format!(
                    "detect.window.{name} must be strictly between 0 and 1, got {v}"
                ));
            }
        }
        Ok(())
    }

    /// The window scores of the vision/sound rule for the channels present, one per window
    /// start (fewer seconds than a window: one window over all of them).
    pub fn window_scores(&self, seconds: &[Second], channels: Channels) -> Vec<f32> {
        let n = seconds.len();
        let w = self.window_secs.min(n.max(1));
        if n == 0 || !(channels.image || channels.audio) {
            return Vec::new();
        }
        (0..=n - w)
            .filter_map(|start| {
                let win = &seconds[start..start + w];
                let mut images: Vec<f32> = win.iter().filter_map(|s| s.image).collect();
                images.sort_by(|a, b| b.total_cmp(a));
                let image = if images.is_empty() {
                    None
                } else {
                    Some(images[(self.image_rank - 1).min(images.len() - 1)])
                };
                let audio = win.iter().filter_map(|s| s.audio).reduce(f32::max);
                // A gap in one channel inside a segment that has both (a soundtrack shorter
                // than the video): that window holds the other channel to its own bar, moved
                // onto the combined scale.
                let rescale =
                    |p: f32, own: f32| sigmoid(logit(p) - logit(own) + logit(self.combined));
                match (channels.image, channels.audio, image, audio) {
                    (true, true, Some(i), Some(a)) => Some(sigmoid(0.5 * (logit(i) + logit(a)))),
                    (true, true, Some(i), None) => Some(rescale(i, self.image_alone)),
                    (true, true, None, Some(a)) => Some(rescale(a, self.audio_alone)),
                    (true, false, Some(i), _) => Some(i),
                    (false, true, _, Some(a)) => Some(a),
                    _ => None,
                }
            })
            .collect()
    }

    /// Decides a segment. Channels are present when any second has them.
    pub fn decide(&self, seconds: &[Second]) -> Decision {
        let channels = Channels {
            image: seconds.iter().any(|s| s.image.is_some()),
            audio: seconds.iter().any(|s| s.audio.is_some()),
            motion: seconds.iter().any(|s| s.motion.is_some()),
        };
        let max_motion = seconds.iter().filter_map(|s| s.motion).reduce(f32::max);
        let motion_at = seconds
            .iter()
            .position(|s| s.motion.is_some_and(|m| m >= self.motion));
        let windows = self.window_scores(seconds, channels);
        let max_window = windows.iter().copied().reduce(f32::max);
        let (bar, vision_cause) = match (channels.image, channels.audio) {
            (true, true) => (self.combined, Cause::ImageAndAudio),
            (true, false) => (self.image_alone, Cause::ImageAlone),
            _ => (self.audio_alone, Cause::AudioAlone),
        };
        let vision_at = windows.iter().position(|&w| w >= bar);
        let (cause, at_second) = match (motion_at, vision_at) {
            (Some(m), Some(v)) if v < m => (Some(vision_cause), Some(v)),
            (Some(m), _) => (Some(Cause::Motion), Some(m)),
            (None, Some(v)) => (Some(vision_cause), Some(v)),
            (None, None) => (None, None),
        };
        Decision {
            accident: cause.is_some(),
            cause,
            at_second,
            max_window,
            max_motion,
            channels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(image: &[f32], audio: Option<&[f32]>, motion: Option<&[f32]>) -> Vec<Second> {
        (0..image.len())
            .map(|i| Second {
                image: Some(image[i]),
                audio: audio.map(|a| a[i]),
                motion: motion.map(|m| m[i]),
            })
            .collect()
    }

    #[test]
    fn one_bright_frame_does_not_decide_two_do_with_sound() {
        let rule = DecisionRule::default();
        let img = [0.1, 0.1, 0.95, 0.1, 0.1, 0.1, 0.1, 0.1];
        let quiet = [0.3; 8];
        assert!(!rule.decide(&secs(&img, Some(&quiet), None)).accident);
        let img2 = [0.1, 0.1, 0.95, 0.9, 0.1, 0.1, 0.1, 0.1];
        let d = rule.decide(&secs(&img2, Some(&quiet), None));
        // logit(0.9) = 2.20, logit(0.3) = -0.85: mean 0.68 -> 0.66 >= 0.5.
        assert_eq!(d.cause, Some(Cause::ImageAndAudio));
        assert_eq!(d.at_second, Some(0));
        // Very quiet sound outweighs two bright frames.
        let silent = [0.01; 8];
        assert!(!rule.decide(&secs(&img2, Some(&silent), None)).accident);
    }

    #[test]
    fn without_sound_the_image_bar_is_higher() {
        let rule = DecisionRule::default();
        let img = [0.1, 0.7, 0.75, 0.7, 0.1, 0.1];
        let d = rule.decide(&secs(&img, None, None));
        assert!(!d.accident, "{d:?}");
        assert!(!d.channels.audio);
        let img = [0.1, 0.85, 0.9, 0.7, 0.1, 0.1];
        assert_eq!(
            rule.decide(&secs(&img, None, None)).cause,
            Some(Cause::ImageAlone)
        );
    }

    #[test]
    fn motion_decides_alone_and_never_vetoes() {
        let rule = DecisionRule::default();
        let img = [0.1; 10];
        let mut m = [0.02; 10];
        m[7] = 0.93;
        let d = rule.decide(&secs(&img, Some(&[0.1; 10]), Some(&m)));
        assert_eq!((d.cause, d.at_second), (Some(Cause::Motion), Some(7)));
        // A quiet sensor: the cameras still decide.
        let img = [0.1, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
        let d = rule.decide(&secs(&img, Some(&[0.8; 10]), Some(&[0.01; 10])));
        assert_eq!(d.cause, Some(Cause::ImageAndAudio));
        assert!(d.channels.motion);
        assert_eq!(d.max_motion, Some(0.01));
    }

    #[test]
    fn short_segments_use_one_window_and_sound_alone_works() {
        let rule = DecisionRule::default();
        let s = vec![
            Second {
                image: None,
                audio: Some(0.6),
                motion: None
            };
            3
        ];
        let d = rule.decide(&s);
        assert_eq!(d.cause, Some(Cause::AudioAlone));
        assert!(!rule.decide(&[]).accident);
    }

    #[test]
    fn a_gap_in_the_sound_holds_frames_to_the_image_alone_bar() {
        let rule = DecisionRule::default();
        let mut s = secs(
            &[0.1, 0.1, 0.1, 0.1, 0.1, 0.7, 0.75, 0.1],
            Some(&[0.2; 8]),
            None,
        );
        for x in &mut s[4..] {
            x.audio = None;
        }
        // Windows 4.. have no sound: 0.7 (rank 2) is below 0.8.
        assert!(!rule.decide(&s).accident);
        s[5].image = Some(0.85);
        s[6].image = Some(0.9);
        let d = rule.decide(&s);
        assert_eq!(
            (d.cause, d.at_second),
            (Some(Cause::ImageAndAudio), Some(2))
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let r = DecisionRule {
            image_rank: 6,
            ..DecisionRule::default()
        };
        assert!(r.validate().unwrap_err().contains("image_rank"));
        let r = DecisionRule {
            combined: 1.0,
            ..DecisionRule::default()
        };
        assert!(r.validate().unwrap_err().contains("combined"));
        assert!(DecisionRule::default().validate().is_ok());
    }

    proptest::proptest! {
        #[test]
        fn raising_any_score_never_turns_an_accident_normal(
            img in proptest::collection::vec(0.0f32..1.0, 1..30),
            bump in 0usize..30, by in 0.0f32..0.5,
        ) {
            let rule = DecisionRule::default();
            let audio: Vec<f32> = img.iter().map(|p| 1.0 - p).collect();
            let s = secs(&img, Some(&audio), None);
            let before = rule.decide(&s).accident;
            let mut s2 = s.clone();
            let i = bump % s2.len();
            s2[i].image = Some((img[i] + by).min(1.0));
            s2[i].audio = Some((audio[i] + by).min(1.0));
            proptest::prop_assert!(!before || rule.decide(&s2).accident);
        }
    }
}
