//! dashledger-detect: the agent's accident detectors.
//!
//! * [`mfcc`]: MFCC of 1-second audio windows (rustfft), the reference implementation that
//!   training's numpy code is tested against;
//! * [`image`]: decoded RGB frame → model input tensor, with the exact resize rule of the card;
//! * [`card`]: the model card sidecar (`models/<name>.card.json`) with input layout, preprocessing,
//!   labels and thresholds;
//! * [`ImageModel`] / [`AudioModel`]: ONNX models run with tract, returning P(accident);
//! * [`Fusion`]: how the frame and sound probabilities are combined per second
//!   ([`fusion::calibrate`] first puts both on a scale where each model's own card threshold is
//!   0.5);
//! * [`motion`]: the accelerometer / speed channel scored per second (impact, rollover, sudden
//!   stop) on the same scale;
//! * [`decision`]: the segment's decision over a window of seconds from all three channels, with
//!   a stated rule for each missing channel.
//!
//! The committed models live in `models/` (see `models/*.md` for their cards). The
//! `dashledger-features` binary exposes the preprocessing to training and the parity tests
//! (`image` / `audio` subcommands write `.npy` tensors; `predict` runs a model with tract).
//!
//! ```
//! use dashledger_detect::{Fusion, ImageSpec, Mfcc, MfccParams, RgbFrame, preprocess};
//!
//! // A 640x360 grey frame, as GStreamer would hand it over (RGB, packed rows).
//! let pixels = vec![128u8; 640 * 360 * 3];
//! let frame = RgbFrame::new(640, 360, 640 * 3, &pixels)?;
//! let tensor = preprocess(&frame, &ImageSpec::default())?;
//! assert_eq!(tensor.len(), 3 * 224 * 224);
//!
//! // One second of a 440 Hz tone at 16 kHz -> 13 x 98 MFCC.
//! let tone: Vec<f32> = (0..16_000).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 0.3).collect();
//! let mfcc = Mfcc::new(MfccParams::default())?.window(&tone)?;
//! assert_eq!(mfcc.len(), 13 * 98);
//!
//! let fusion: Fusion = "max".parse()?;
//! assert_eq!(fusion.fuse(Some(0.2), Some(0.9)), Some(0.9));
//! # Ok::<(), dashledger_detect::DetectError>(())
//! ```
//!
//! Loading a model (checks the card and the ONNX file's sha256, then optimises it with tract):
//!
//! ```no_run
//! use dashledger_detect::{ImageModel, RgbFrame};
//! let model = ImageModel::load("models/accident-image-effnet-lite0.card.json")?;
//! let pixels = vec![0u8; 1280 * 720 * 3];
//! let p = model.predict(&RgbFrame::packed(1280, 720, &pixels)?)?;
//! println!("P(accident) = {p:.3}, accident: {}", model.is_accident(p));
//! # Ok::<(), dashledger_detect::DetectError>(())
//! ```

pub mod card;
pub mod decision;
mod error;
pub mod fusion;
pub mod image;
pub mod mfcc;
pub mod model;
pub mod motion;
pub mod npy;

pub use card::{ImageSpec, ModelCard, ModelKind, ThresholdChoice, Thresholds};
pub use decision::{Decision, DecisionRule};
pub use error::{DetectError, Result};
pub use fusion::Fusion;
pub use image::{RgbFrame, RgbImage, preprocess};
pub use mfcc::{Mfcc, MfccParams};
pub use model::{AudioModel, ImageModel};
pub use motion::{MotionParams, MotionScorer, MotionSecond};
