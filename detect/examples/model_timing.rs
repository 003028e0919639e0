//! Times preprocessing and tract inference per frame / window for the committed models.
//!
//! ```text
//! cargo run -p dashledger-detect --example model_timing [--release] -- [ITERATIONS]
//! ```
//! Prints one JSON object per measurement on stdout (times in milliseconds).

use std::path::Path;
use std::time::Instant;

use dashledger_detect::{AudioModel, ImageModel, Mfcc, MfccParams, RgbFrame};

fn time<F: FnMut()>(iters: usize, mut f: F) -> (f64, f64) {
    f(); // warm-up
    let mut all = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f();
        all.push(t.elapsed().as_secs_f64() * 1e3);
    }
    all.sort_by(f64::total_cmp);
    (all.iter().sum::<f64>() / iters as f64, all[iters / 2])
}

fn report(what: &str, iters: usize, (mean, median): (f64, f64)) {
    println!(
        r#"{{"what":"{what}","iterations":{iters},"mean_ms":{mean:.2},"median_ms":{median:.2}}}"#
    );
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn main() -> Outcome {
    let iters: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10);
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let pixels: Vec<u8> = (0..1280 * 720 * 3).map(|i| (i % 251) as u8).collect();
    let frame = RgbFrame::packed(1280, 720, &pixels)?;
    let small: Vec<u8> = (0..640 * 360 * 3).map(|i| (i % 241) as u8).collect();
    let small = RgbFrame::packed(640, 360, &small)?;
    time_preprocessing(iters, &frame, &small);
    let samples: Vec<f32> = (0..16_000)
        .map(|i| ((i as f32) * 0.05).sin() * 0.2)
        .collect();
    time_mfcc(iters, &samples)?;
    time_image_models(iters, &models, &small)?;
    time_audio_model(iters, &models, &samples)
}

/// Image preprocessing (resize and crop to the default spec) of a 720p and a 360p frame.
fn time_preprocessing(iters: usize, frame: &RgbFrame<'_>, small: &RgbFrame<'_>) {
    let spec = dashledger_detect::ImageSpec::default();
    report(
        "preprocess 1280x720",
        iters,
        time(iters, || {
            dashledger_detect::preprocess(frame, &spec).unwrap();
        }),
    );
    report(
        "preprocess 640x360",
        iters,
        time(iters, || {
            dashledger_detect::preprocess(small, &spec).unwrap();
        }),
    );
}

/// MFCC of one 1 s window with the default parameters.
fn time_mfcc(iters: usize, samples: &[f32]) -> Outcome {
    let mfcc = Mfcc::new(MfccParams::default())?;
    report(
        "mfcc 1 s window",
        iters,
        time(iters, || {
            mfcc.window(samples).unwrap();
        }),
    );
    Ok(())
}

/// Loading and inference of each committed image model (skipped when it cannot be loaded).
fn time_image_models(iters: usize, models: &Path, small: &RgbFrame<'_>) -> Outcome {
    for name in ["accident-image-effnet-lite0", "accident-image-vgg16"] {
        let card = models.join(format!("{name}.card.json"));
        let t = Instant::now();
        let model = match ImageModel::load(&card) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        report(
            &format!("{name} load+optimise"),
            1,
            (t.elapsed().as_secs_f64() * 1e3, 0.0),
        );
        let x = model.preprocess(small)?;
        let n = if name.contains("vgg") {
            iters.min(5)
        } else {
            iters
        };
        report(
            &format!("{name} inference per frame"),
            n,
            time(n, || {
                model.predict_tensor(&x).unwrap();
            }),
        );
    }
    Ok(())
}

/// Inference of the audio model, from MFCC features and from samples.
fn time_audio_model(iters: usize, models: &Path, samples: &[f32]) -> Outcome {
    let audio = AudioModel::load(models.join("accident-audio-mfcc-cnn.card.json"))?;
    let feats = audio.mfcc().window(samples)?;
    report(
        "accident-audio-mfcc-cnn inference per window",
        iters,
        time(iters, || {
            audio.predict_features(&feats).unwrap();
        }),
    );
    report(
        "accident-audio-mfcc-cnn mfcc+inference per window",
        iters,
        time(iters, || {
            audio.predict(samples).unwrap();
        }),
    );
    Ok(())
}
