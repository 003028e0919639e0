//! `dashledger-features`: the detect crate's preprocessing and inference as a command, so
//! training computes exactly what the agent computes.
//!
//! ```text
//! dashledger-features image --out x.npy a.png b.ppm     # -> float32 [n, 3, 224, 224]
//! dashledger-features audio --out y.npy clip.wav        # -> float32 [windows, 13, 98]
//! dashledger-features predict --card models/m.card.json x.npy   # one P(accident) per line
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dashledger_detect::{
    AudioModel, DetectError, ImageModel, ImageSpec, Mfcc, MfccParams, ModelCard, ModelKind,
    RgbImage, npy, preprocess,
};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "dashledger-detect preprocessing and inference (training's reference)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// PNG / binary PPM images -> preprocessed tensors [n, 3, crop, crop] (.npy, float32).
    Image {
        /// Output .npy file.
        #[arg(long)]
        out: PathBuf,
        /// Shorter side after scaling.
        #[arg(long, default_value_t = 256)]
        short_side: usize,
        /// Centre crop side.
        #[arg(long, default_value_t = 224)]
        crop: usize,
        /// Input images.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// A mono 16 kHz WAV -> MFCC of each 1-s window [windows, n_mfcc, n_frames] (.npy, float32).
    Audio {
        /// Output .npy file.
        #[arg(long)]
        out: PathBuf,
        /// Input WAV (16-bit PCM or 32-bit float, mono, 16 kHz).
        wav: PathBuf,
    },
    /// Runs a model (with tract) on each row of an .npy of preprocessed inputs; prints P(accident)
    /// per row on stdout.
    Predict {
        /// The model card (.card.json).
        #[arg(long)]
        card: PathBuf,
        /// Tensors [n, ...input shape without batch].
        inputs: PathBuf,
    },
}

type Predictor = dyn Fn(&[f32]) -> Result<f32, DetectError>;

fn run(cli: Cli) -> Result<(), DetectError> {
    match cli.command {
        Command::Image {
            out,
            short_side,
            crop,
            images,
        } => {
            let spec = ImageSpec {
                short_side,
                crop,
                ..ImageSpec::default()
            };
            let mut data = Vec::with_capacity(images.len() * 3 * crop * crop);
            for path in &images {
                let img = RgbImage::open(path)?;
                data.extend(preprocess(&img.as_frame(), &spec)?);
            }
            npy::write(&out, &[images.len(), 3, crop, crop], &data)
        }
        Command::Audio { out, wav } => {
            let params = MfccParams::default();
            let samples = dashledger_detect::mfcc::read_wav(&wav, params.sample_rate)?;
            let (n_mfcc, n_frames) = (params.n_mfcc, params.n_frames());
            let windows = Mfcc::new(params)?.stream(&samples)?;
            let data: Vec<f32> = windows.iter().flatten().copied().collect();
            npy::write(&out, &[windows.len(), n_mfcc, n_frames], &data)
        }
        Command::Predict { card, inputs } => {
            let kind = ModelCard::load(&card)?.kind;
            let arr = npy::read(&inputs)?;
            let row: usize = arr.shape.iter().skip(1).product();
            let rows = arr.shape.first().copied().unwrap_or(0);
            let predict: Box<Predictor> = match kind {
                ModelKind::Image => {
                    let m = ImageModel::load(&card)?;
                    Box::new(move |x| m.predict_tensor(x))
                }
                ModelKind::Audio => {
                    let m = AudioModel::load(&card)?;
                    Box::new(move |x| m.predict_features(x))
                }
            };
            for r in 0..rows {
                println!("{:.7}", predict(&arr.data[r * row..(r + 1) * row])?);
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dashledger-features: {e}");
            ExitCode::FAILURE
        }
    }
}
