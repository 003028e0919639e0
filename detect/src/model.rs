//! ONNX inference with tract: [`ImageModel`] and [`AudioModel`], loaded from their model cards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::card::{ImageSpec, ModelCard, ModelKind};
use crate::error::{DetectError, Result, io_err};
use crate::image::{RgbFrame, preprocess};
use crate::mfcc::Mfcc;

/// A loaded, optimised ONNX graph with one input of fixed shape and one probability out.
struct Onnx {
    path: PathBuf,
    shape: Vec<usize>,
    plan: Arc<TypedSimplePlan>,
}

impl std::fmt::Debug for Onnx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onnx")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .finish()
    }
}

fn tract_err(path: &Path) -> impl Fn(TractError) -> DetectError + use<> {
    let path = path.to_path_buf();
    move |e| DetectError::Tract {
        path: path.clone(),
        message: format!("{e:#}"),
    }
}

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

impl Onnx {
    fn load(card: &ModelCard) -> Result<Self> {
        let path = card.model_path();
        let actual = sha256_file(&path)?;
        if !actual.eq_ignore_ascii_case(&card.sha256) {
            return Err(DetectError::Sha256Mismatch {
                path,
                expected: card.sha256.clone(),
                actual,
            });
        }
        let shape = card.input.shape.clone();
        let err = tract_err(&path);
        let model = tract_onnx::onnx().model_for_path(&path).map_err(&err)?;
        let inputs = model.input_outlets().map_err(&err)?.len();
        if inputs != 1 {
            return Err(DetectError::Tract {
                path: path.clone(),
                message: format!("the graph has {inputs} inputs; expected exactly one"),
            });
        }
        let input_name = model
            .node(model.input_outlets().map_err(&err)?[0].node)
            .name
            .clone();
        if input_name != card.input.name {
            return Err(DetectError::Tract {
                path: path.clone(),
                message: format!(
                    "the graph's input is named {input_name:?} but the card says {:?}",
                    card.input.name
                ),
            });
        }
        let plan = model
            .with_input_fact(0, f32::fact(&shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(&err)?;
        tracing::debug!(path = %path.display(), ?shape, "model loaded");
        Ok(Onnx { path, shape, plan })
    }

    fn run(&self, data: &[f32]) -> Result<f32> {
        let want: usize = self.shape.iter().product();
        if data.len() != want {
            return Err(DetectError::BadOutput {
                path: self.path.clone(),
                detail: format!(
                    "nothing: the input has {} values but shape {:?} needs {want}",
                    data.len(),
                    self.shape
                ),
            });
        }
        let err = tract_err(&self.path);
        let input = Tensor::from_shape(&self.shape, data).map_err(&err)?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(&err)?;
        let out = outputs.first().ok_or_else(|| DetectError::BadOutput {
            path: self.path.clone(),
            detail: "no output".into(),
        })?;
        let view = out.to_plain_array_view::<f32>().map_err(&err)?;
        let values: Vec<f32> = view.iter().copied().collect();
        match values.as_slice() {
            [p] if (0.0..=1.0).contains(p) => Ok(*p),
            other => Err(DetectError::BadOutput {
                path: self.path.clone(),
                detail: format!("{} values {:?}", other.len(), &other[..other.len().min(4)]),
            }),
        }
    }
}

fn load_card(card_path: &Path, kind: ModelKind) -> Result<ModelCard> {
    let card = ModelCard::load(card_path)?;
    if card.kind != kind {
        return Err(DetectError::WrongKind {
            path: card_path.to_path_buf(),
            expected: kind.as_str(),
            found: card.kind.as_str(),
        });
    }
    Ok(card)
}

/// A frame classifier: RGB frame → P(accident).
#[derive(Debug)]
pub struct ImageModel {
    card: ModelCard,
    spec: ImageSpec,
    onnx: Onnx,
}

impl ImageModel {
    /// Loads the card at `card_path` and the ONNX file it names (checking its sha256).
    pub fn load(card_path: impl AsRef<Path>) -> Result<Self> {
        let card = load_card(card_path.as_ref(), ModelKind::Image)?;
        let spec = card.image.clone().ok_or_else(|| DetectError::CardInvalid {
            path: card_path.as_ref().to_path_buf(),
            reason: "no image section".into(),
        })?;
        let onnx = Onnx::load(&card)?;
        Ok(ImageModel { card, spec, onnx })
    }

    /// The model card.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The frame → tensor step alone (the card's resize rule and value range).
    pub fn preprocess(&self, frame: &RgbFrame<'_>) -> Result<Vec<f32>> {
        preprocess(frame, &self.spec)
    }

    /// P(accident) for an already preprocessed `[1, 3, crop, crop]` tensor.
    pub fn predict_tensor(&self, chw: &[f32]) -> Result<f32> {
        self.onnx.run(chw)
    }

    /// P(accident) for a decoded frame of any size.
    pub fn predict(&self, frame: &RgbFrame<'_>) -> Result<f32> {
        self.predict_tensor(&self.preprocess(frame)?)
    }

    /// Whether `p` reaches the card's active threshold.
    pub fn is_accident(&self, p: f32) -> bool {
        p >= self.card.threshold()
    }
}

/// A sound classifier: one window of 16 kHz mono samples → P(accident).
#[derive(Debug)]
pub struct AudioModel {
    card: ModelCard,
    mfcc: Mfcc,
    onnx: Onnx,
}

impl AudioModel {
    /// Loads the card at `card_path` and the ONNX file it names (checking its sha256).
    pub fn load(card_path: impl AsRef<Path>) -> Result<Self> {
        let card = load_card(card_path.as_ref(), ModelKind::Audio)?;
        let params = card.audio.clone().ok_or_else(|| DetectError::CardInvalid {
            path: card_path.as_ref().to_path_buf(),
            reason: "no audio section".into(),
        })?;
        let mfcc = Mfcc::new(params)?;
        let onnx = Onnx::load(&card)?;
        Ok(AudioModel { card, mfcc, onnx })
    }

    /// The model card.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// Samples per window (16000 = 1 s at 16 kHz).
    pub fn window_samples(&self) -> usize {
        self.mfcc.params().window_samples
    }

    /// The MFCC computer with the card's parameters.
    pub fn mfcc(&self) -> &Mfcc {
        &self.mfcc
    }

    /// P(accident) for an MFCC tensor `[1, n_mfcc, n_frames]`.
    pub fn predict_features(&self, mfcc: &[f32]) -> Result<f32> {
        self.onnx.run(mfcc)
    }

    /// P(accident) for one window of at most `window_samples` samples (shorter is zero-padded).
    pub fn predict(&self, samples: &[f32]) -> Result<f32> {
        self.predict_features(&self.mfcc.window(samples)?)
    }

    /// P(accident) of every consecutive window of a stream.
    pub fn predict_stream(&self, samples: &[f32]) -> Result<Vec<f32>> {
        crate::mfcc::windows(samples, self.window_samples())
            .map(|w| self.predict(w))
            .collect()
    }

    /// Whether `p` reaches the card's active threshold.
    pub fn is_accident(&self, p: f32) -> bool {
        p >= self.card.threshold()
    }
}
