//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model card or model, or preparing its inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The model card sidecar is not valid JSON of the expected shape.
    #[error("model card {path} is not a valid card: {source}")]
    CardParse {
        /// The card.
        path: PathBuf,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
    /// The card parses but its contents are inconsistent or unsupported.
    #[error("model card {path}: {reason}")]
    CardInvalid {
        /// The card.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// The ONNX file is not the one the card describes.
    #[error(
        "model file {path} has sha256 {actual} but its card expects {expected}: \
         the model was replaced or corrupted (re-run scripts/setup or scripts/train)"
    )]
    Sha256Mismatch {
        /// The ONNX file.
        path: PathBuf,
        /// sha256 from the card.
        expected: String,
        /// sha256 of the file.
        actual: String,
    },
    /// A model card of one kind was given to the loader of the other kind.
    #[error("model card {path} describes a {found} model, expected a {expected} model")]
    WrongKind {
        /// The card.
        path: PathBuf,
        /// The kind the caller wanted.
        expected: &'static str,
        /// The kind the card declares.
        found: &'static str,
    },
    /// tract could not load, optimise or run the model.
    #[error("tract failed on model {path}: {message}")]
    Tract {
        /// The ONNX file.
        path: PathBuf,
        /// tract's error chain.
        message: String,
    },
    /// The model produced something other than one probability.
    #[error("model {path} returned {detail}; expected one probability in [0, 1]")]
    BadOutput {
        /// The ONNX file.
        path: PathBuf,
        /// What came out.
        detail: String,
    },
    /// A decoded video frame does not match its declared geometry.
    #[error("bad RGB frame: {0}")]
    BadFrame(String),
    /// Audio samples cannot be turned into the model's input.
    #[error("bad audio: {0}")]
    BadAudio(String),
    /// A tensor file (.npy) is malformed or of an unsupported type.
    #[error("bad .npy file {path}: {reason}")]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A fusion rule string could not be parsed.
    #[error(
        "unknown fusion rule {0:?}: use max, mean, image-only, audio-only or weighted:<image weight 0..1>"
    )]
    BadFusion(String),
}

/// Result alias for this crate.
pub type Result<T, E = DetectError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DetectError {
    let path = path.into();
    move |source| DetectError::Io { path, source }
}
