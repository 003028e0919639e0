//! Integration tests against the real committed models and fixtures in `models/`:
//! tract (here) must reproduce onnxruntime's outputs (golden.json, written by
//! models/train/make_fixtures.py) within 1e-4, and this crate's preprocessing must reproduce
//! training's numpy tensors within 1e-4.

use std::path::{Path, PathBuf};

use dashledger_detect::{AudioModel, DetectError, ImageModel, ModelCard, RgbImage, npy};

const TOL: f32 = 1e-4;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn fixtures() -> PathBuf {
    models_dir().join("fixtures")
}

fn golden() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn golden_outputs(name: &str) -> Vec<f32> {
    golden()["outputs"][name]["p_accident"]
        .as_array()
        .unwrap_or_else(|| panic!("golden.json has no outputs for {name}"))
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn frame_names() -> Vec<String> {
    golden()["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn card(name: &str) -> PathBuf {
    models_dir().join(format!("{name}.card.json"))
}

#[test]
fn image_preprocessing_matches_training() {
    let golden = npy::read(fixtures().join("golden_image_tensors.npy")).unwrap();
    let names = frame_names();
    assert_eq!(golden.shape, vec![names.len(), 3, 224, 224]);
    let spec = ModelCard::load(card("accident-image-effnet-lite0"))
        .unwrap()
        .image
        .unwrap();
    for (i, name) in names.iter().enumerate() {
        let img = RgbImage::open(fixtures().join(name)).unwrap();
        let ours = dashledger_detect::preprocess(&img.as_frame(), &spec).unwrap();
        let theirs = &golden.data[i * 3 * 224 * 224..(i + 1) * 3 * 224 * 224];
        let d = max_abs_diff(&ours, theirs);
        assert!(
            d <= TOL,
            "{name}: preprocessing differs from training by {d}"
        );
    }
}

#[test]
fn mfcc_matches_training() {
    let golden = npy::read(fixtures().join("golden_mfcc.npy")).unwrap();
    let model = AudioModel::load(card("accident-audio-mfcc-cnn")).unwrap();
    let samples = dashledger_detect::mfcc::read_wav(fixtures().join("sound.wav"), 16_000).unwrap();
    let ours: Vec<f32> = model.mfcc().stream(&samples).unwrap().concat();
    assert_eq!(golden.shape, vec![3, 13, 98]);
    let d = max_abs_diff(&ours, &golden.data);
    assert!(d <= TOL, "MFCC differs from training by {d}");
}

fn check_image_model(name: &str) {
    let model = ImageModel::load(card(name)).unwrap();
    let tensors = npy::read(fixtures().join("golden_image_tensors.npy")).unwrap();
    let want = golden_outputs(name);
    let names = frame_names();
    for (i, frame) in names.iter().enumerate() {
        let x = &tensors.data[i * 3 * 224 * 224..(i + 1) * 3 * 224 * 224];
        let p = model.predict_tensor(x).unwrap();
        assert!(
            (p - want[i]).abs() <= TOL,
            "{name} on {frame}: tract {p} vs onnxruntime {}",
            want[i]
        );
        // The whole path from the decoded frame gives the same answer.
        let img = RgbImage::open(fixtures().join(frame)).unwrap();
        let q = model.predict(&img.as_frame()).unwrap();
        assert!(
            (q - want[i]).abs() <= TOL,
            "{name} on {frame} (from pixels): {q} vs {}",
            want[i]
        );
    }
}

#[test]
fn effnet_model_matches_onnxruntime() {
    check_image_model("accident-image-effnet-lite0");
}

#[test]
fn vgg16_model_matches_onnxruntime() {
    let c = ModelCard::load(card("accident-image-vgg16")).unwrap();
    assert!(
        c.model_path().exists(),
        "{} is missing: it is composed at set-up time, run scripts/setup.d/20-vgg16",
        c.model_path().display()
    );
    check_image_model("accident-image-vgg16");
}

#[test]
fn audio_model_matches_onnxruntime() {
    let model = AudioModel::load(card("accident-audio-mfcc-cnn")).unwrap();
    let feats = npy::read(fixtures().join("golden_mfcc.npy")).unwrap();
    let want = golden_outputs("accident-audio-mfcc-cnn");
    let per = 13 * 98;
    for (i, w) in want.iter().enumerate() {
        let p = model
            .predict_features(&feats.data[i * per..(i + 1) * per])
            .unwrap();
        assert!(
            (p - w).abs() <= TOL,
            "window {i}: tract {p} vs onnxruntime {w}"
        );
    }
    let samples = dashledger_detect::mfcc::read_wav(fixtures().join("sound.wav"), 16_000).unwrap();
    let stream = model.predict_stream(&samples).unwrap();
    assert_eq!(stream.len(), want.len());
    assert!(max_abs_diff(&stream, &want) <= TOL);
}

#[test]
fn tampered_model_and_wrong_kind_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let name = "accident-audio-mfcc-cnn";
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(card(name)).unwrap()).unwrap();
    let onnx = models_dir()
        .join(v["file"].as_str().unwrap())
        .canonicalize()
        .unwrap();
    v["file"] = onnx.to_str().unwrap().into();
    v["sha256"] = "ab".repeat(32).into();
    let bad = dir.path().join("bad.card.json");
    std::fs::write(&bad, v.to_string()).unwrap();
    let err = AudioModel::load(&bad).unwrap_err();
    assert!(matches!(err, DetectError::Sha256Mismatch { .. }), "{err}");

    let err = ImageModel::load(card(name)).unwrap_err();
    assert!(
        matches!(
            err,
            DetectError::WrongKind {
                expected: "image",
                found: "audio",
                ..
            }
        ),
        "{err}"
    );

    let err = AudioModel::load(dir.path().join("missing.card.json")).unwrap_err();
    assert!(matches!(err, DetectError::Io { .. }), "{err}");

    // Wrong tensor size is an error, not a panic.
    let model = AudioModel::load(card(name)).unwrap();
    assert!(model.predict_features(&[0.0; 10]).is_err());
}

#[test]
fn models_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ImageModel>();
    assert_send_sync::<AudioModel>();
}
