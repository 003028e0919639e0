//! Model cards: the machine-readable sidecar (`models/<name>.card.json`) next to each ONNX file.
//!
//! The sidecar says everything the agent needs to feed the model exactly what training fed it:
//! input name, layout and shape, the image resize rule and value range or the MFCC parameters,
//! the labels, and the decision thresholds. [`ModelCard::load`] parses and checks it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result, io_err};
use crate::mfcc::MfccParams;

/// The card format this crate reads.
pub const CARD_SCHEMA_VERSION: u32 = 1;

/// What a model looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// One decoded video frame.
    Image,
    /// One window of mono audio, as MFCC.
    Audio,
}

impl ModelKind {
    /// `"image"` or `"audio"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Image => "image",
            ModelKind::Audio => "audio",
        }
    }
}

/// The model's input tensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    /// Name of the ONNX graph input or output.
    pub name: String,
    /// Axis meaning, e.g. `NCHW` for images or `NCT` (batch, MFCC coefficient, frame) for audio.
    #[serde(default)]
    pub layout: String,
    /// Shape with batch 1.
    pub shape: Vec<usize>,
}

/// Which threshold the agent applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdChoice {
    /// The threshold minimising expected cost (false-positive upload cost vs lost evidence).
    CostModel,
    /// The threshold maximising F1 on validation data.
    BestF1,
}

/// Decision thresholds on P(accident), chosen two ways on validation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Minimises expected cost under the card's cost parameters.
    pub cost_model: f32,
    /// Maximises F1.
    pub best_f1: f32,
    /// The one the agent uses.
    #[serde(rename = "use")]
    pub choice: ThresholdChoice,
}

impl Thresholds {
    /// The threshold the agent applies.
    pub fn active(&self) -> f32 {
        match self.choice {
            ThresholdChoice::CostModel => self.cost_model,
            ThresholdChoice::BestF1 => self.best_f1,
        }
    }
}

/// Colour channel order of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColourOrder {
    /// Red, green, blue.
    #[serde(rename = "RGB")]
    Rgb,
}

/// How a frame is brought to the model's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeRule {
    /// Scale (aspect kept) so the shorter side is `short_side`, then keep the centred
    /// `crop` x `crop` square. Triangle (antialiased bilinear) filter; see [`crate::image`].
    ShortSideCentreCrop,
}

/// Image preprocessing, exactly as in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Channel order of the input tensor.
    pub colour_order: ColourOrder,
    /// Values the input tensor spans for pixel values 0 and 255.
    pub value_range: [f32; 2],
    /// The resize rule.
    pub resize: ResizeRule,
    /// Shorter side after scaling.
    pub short_side: usize,
    /// Side of the centred square crop (the model's input height and width).
    pub crop: usize,
}

impl Default for ImageSpec {
    fn default() -> Self {
        ImageSpec {
            colour_order: ColourOrder::Rgb,
            value_range: [0.0, 255.0],
            resize: ResizeRule::ShortSideCentreCrop,
            short_side: 256,
            crop: 224,
        }
    }
}

/// A parsed and checked model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Card format version ([`CARD_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Model name, e.g. `accident-image-effnet-lite0`.
    pub name: String,
    /// Image or audio.
    pub kind: ModelKind,
    /// ONNX file, relative to the card's directory.
    pub file: String,
    /// sha256 of the ONNX file, lowercase hex.
    pub sha256: String,
    /// Input tensor.
    pub input: TensorSpec,
    /// Output tensor: P(positive label), shape `[1, 1]`.
    pub output: TensorSpec,
    /// Class names; the output is the probability of `positive_label`.
    pub labels: Vec<String>,
    /// The class the output probability refers to.
    pub positive_label: String,
    /// Decision thresholds.
    pub thresholds: Thresholds,
    /// Image preprocessing (image models).
    #[serde(default)]
    pub image: Option<ImageSpec>,
    /// MFCC parameters (audio models).
    #[serde(default)]
    pub audio: Option<MfccParams>,
    /// Directory of the card (not serialised; set by [`ModelCard::load`]).
    #[serde(skip)]
    pub dir: PathBuf,
}

impl ModelCard {
    /// Reads and checks a card.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let mut card = Self::parse(&text, path)?;
        card.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(card)
    }

    /// Parses and checks card text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let card: ModelCard =
            serde_json::from_str(text).map_err(|source| DetectError::CardParse {
                path: origin.to_path_buf(),
                source,
            })?;
        card.check().map_err(|reason| DetectError::CardInvalid {
            path: origin.to_path_buf(),
            reason,
        })?;
        Ok(card)
    }

    /// Path of the ONNX file.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }

    /// The threshold the agent applies.
    pub fn threshold(&self) -> f32 {
        self.thresholds.active()
    }

    fn check(&self) -> std::result::Result<(), String> {
        self.check_common()?;
        match self.kind {
            ModelKind::Image => self.check_image(),
            ModelKind::Audio => self.check_audio(),
        }
    }

    /// The checks of every card: schema version, file and digest, labels, thresholds, output.
    fn check_common(&self) -> std::result::Result<(), String> {
        if self.schema_version != CARD_SCHEMA_VERSION {
            return Err(format!(
                "schema_version {} is not supported (this build reads {CARD_SCHEMA_VERSION})",
                self.schema_version
            ));
        }
        if self.file.is_empty() {
            return Err("`file` is empty".into());
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`sha256` {:?} is not 64 hex digits", self.sha256));
        }
        if !self.labels.contains(&self.positive_label) {
            return Err(format!(
                "positive_label {:?} is not one of labels {:?}",
                self.positive_label, self.labels
            ));
        }
        for (what, t) in [
            ("cost_model", self.thresholds.cost_model),
            ("best_f1", self.thresholds.best_f1),
        ] {
            if !(0.0..=1.0).contains(&t) {
                return Err(format!("threshold {what} = {t} is outside [0, 1]"));
            }
        }
        if self.output.shape != [1, 1] {
            return Err(format!(
                "output shape {:?} must be [1, 1]",
                self.output.shape
            ));
        }
        Ok(())
    }

    /// An image card: an `image` section (and no `audio`) whose crop matches the NCHW input.
    fn check_image(&self) -> std::result::Result<(), String> {
        let spec = self
            .image
            .as_ref()
            .ok_or("an image card needs an `image` section")?;
        if self.audio.is_some() {
            return Err("an image card must not have an `audio` section".into());
        }
        if spec.crop == 0 || spec.short_side < spec.crop {
            return Err(format!(
                "short_side {} must be at least crop {} (and crop > 0)",
                spec.short_side, spec.crop
            ));
        }
        if self.input.layout != "NCHW" {
            return Err(format!(
                "image input layout {:?} is not supported (use NCHW)",
                self.input.layout
            ));
        }
        let want = [1, 3, spec.crop, spec.crop];
        if self.input.shape != want {
            return Err(format!(
                "image input shape {:?} does not match crop {} (expected {want:?})",
                self.input.shape, spec.crop
            ));
        }
        if !spec.value_range.iter().all(|v| v.is_finite())
            || spec.value_range[0] == spec.value_range[1]
        {
            return Err(format!("value_range {:?} is degenerate", spec.value_range));
        }
        Ok(())
    }

    /// An audio card: an `audio` section (and no `image`) whose MFCC parameters are valid and
    /// match the NCT input.
    fn check_audio(&self) -> std::result::Result<(), String> {
        let params = self
            .audio
            .as_ref()
            .ok_or("an audio card needs an `audio` section")?;
        if self.image.is_some() {
            return Err("an audio card must not have an `image` section".into());
        }
        params.check()?;
        if self.input.layout != "NCT" {
            return Err(format!(
                "audio input layout {:?} is not supported (use NCT)",
                self.input.layout
            ));
        }
        let want = [1, params.n_mfcc, params.n_frames()];
        if self.input.shape != want {
            return Err(format!(
                "audio input shape {:?} does not match the MFCC parameters (expected {want:?})",
                self.input.shape
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn image_card_json() -> serde_json::Value {
        serde_json::json!({
            "schema_version": 1,
            "name": "t",
            "kind": "image",
            "file": "t.onnx",
            "sha256": "00".repeat(32),
            "input": {"name": "image", "layout": "NCHW", "shape": [1, 3, 224, 224]},
            "output": {"name": "p_accident", "shape": [1, 1]},
            "labels": ["normal", "accident"],
            "positive_label": "accident",
            "thresholds": {"cost_model": 0.3, "best_f1": 0.5, "use": "cost_model"},
            "image": {"colour_order": "RGB", "value_range": [0.0, 255.0],
                      "resize": "short-side-centre-crop", "short_side": 256, "crop": 224},
            "metrics": {"anything": "extra keys are kept for people"}
        })
    }

    fn parse(v: &serde_json::Value) -> Result<ModelCard> {
        ModelCard::parse(&v.to_string(), Path::new("t.card.json"))
    }

    #[test]
    fn good_image_card_parses() {
        let card = parse(&image_card_json()).unwrap();
        assert_eq!(card.kind, ModelKind::Image);
        assert_eq!(card.threshold(), 0.3);
        assert_eq!(card.image.unwrap().crop, 224);
    }

    #[test]
    fn best_f1_choice_is_honoured() {
        let mut v = image_card_json();
        v["thresholds"]["use"] = "best_f1".into();
        assert_eq!(parse(&v).unwrap().threshold(), 0.5);
    }

    #[test]
    fn inconsistent_cards_are_rejected_with_reasons() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            (
                "shape",
                serde_json::json!([1, 3, 200, 224]),
                "does not match crop",
            ),
            ("sha", serde_json::json!("abc"), "64 hex digits"),
            ("label", serde_json::json!("crash"), "positive_label"),
            ("threshold", serde_json::json!(1.5), "outside [0, 1]"),
            ("layout", serde_json::json!("NHWC"), "layout"),
        ];
        for (what, value, needle) in cases {
            let mut v = image_card_json();
            match what {
                "shape" => v["input"]["shape"] = value,
                "sha" => v["sha256"] = value,
                "label" => v["positive_label"] = value,
                "threshold" => v["thresholds"]["best_f1"] = value,
                _ => v["input"]["layout"] = value,
            }
            let err = parse(&v).unwrap_err().to_string();
            assert!(err.contains(needle), "{what}: {err}");
        }
    }

    #[test]
    fn missing_section_and_bad_json_are_errors() {
        let mut v = image_card_json();
        v.as_object_mut().unwrap().remove("image");
        assert!(
            parse(&v)
                .unwrap_err()
                .to_string()
                .contains("`image` section")
        );
        let err = ModelCard::parse("{", Path::new("x.json")).unwrap_err();
        assert!(matches!(err, DetectError::CardParse { .. }));
        let mut v = image_card_json();
        v["kind"] = "video".into();
        assert!(matches!(
            parse(&v).unwrap_err(),
            DetectError::CardParse { .. }
        ));
    }

    proptest::proptest! {
        #[test]
        fn valid_cards_round_trip(
            cost in 0.0f32..=1.0,
            best in 0.0f32..=1.0,
            crop in 1usize..512,
            extra in 0usize..64,
            use_f1 in proptest::bool::ANY,
        ) {
            let mut v = image_card_json();
            v["thresholds"] = serde_json::json!({"cost_model": cost, "best_f1": best,
                "use": if use_f1 { "best_f1" } else { "cost_model" }});
            v["image"]["crop"] = crop.into();
            v["image"]["short_side"] = (crop + extra).into();
            v["input"]["shape"] = serde_json::json!([1, 3, crop, crop]);
            let card = parse(&v).unwrap();
            let again = ModelCard::parse(&serde_json::to_string(&card).unwrap(), Path::new("x")).unwrap();
            proptest::prop_assert_eq!(&card, &again);
            proptest::prop_assert_eq!(card.threshold(), if use_f1 { best } else { cost });
        }
    }

    #[test]
    fn audio_card_checks_mfcc_shape() {
        let mut v = image_card_json();
        v.as_object_mut().unwrap().remove("image");
        v["kind"] = "audio".into();
        v["audio"] = serde_json::to_value(MfccParams::default()).unwrap();
        v["input"] = serde_json::json!({"name": "mfcc", "layout": "NCT", "shape": [1, 13, 98]});
        let card = parse(&v).unwrap();
        assert_eq!(card.audio.unwrap().n_frames(), 98);
        v["input"]["shape"] = serde_json::json!([1, 13, 99]);
        assert!(
            parse(&v)
                .unwrap_err()
                .to_string()
                .contains("MFCC parameters")
        );
    }
}
