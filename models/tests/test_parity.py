"""Parity: training's numpy preprocessing vs the detect crate (Rust, via its CLI), and
onnxruntime vs tract, on the committed fixtures (models/fixtures, see make_fixtures.py)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import features as F
from make_fixtures import FIX, golden_tensors, ort_outputs, read_wav

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
TOL = 1e-4
GOLDEN = json.loads((FIX / "golden.json").read_text())
CARDS = sorted(MODELS.glob("*.card.json"))


def card(name):
    return json.loads((MODELS / f"{name}.card.json").read_text())


def model_path(name):
    path = MODELS / card(name)["file"]
    assert path.exists(), f"{path} missing (the VGG16 model is composed by scripts/setup.d/20-vgg16)"
    return path


def test_numpy_preprocessing_reproduces_golden_tensors():
    imgs, mfcc = golden_tensors()
    assert np.abs(imgs - np.load(FIX / "golden_image_tensors.npy")).max() <= TOL
    assert np.abs(mfcc - np.load(FIX / "golden_mfcc.npy")).max() <= TOL


def test_rust_image_preprocessing_matches_numpy(features_cli, tmp_path):
    out = tmp_path / "x.npy"
    frames = [FIX / n for n in GOLDEN["frames"]]
    # Also a PPM written here, and a frame with odd sizes that exercises both resize directions.
    rng = np.random.default_rng(1)
    odd = rng.integers(0, 256, (257, 403, 3), dtype=np.uint8)
    F.write_ppm(tmp_path / "odd.ppm", odd)
    subprocess.run([features_cli, "image", "--out", out, *frames, tmp_path / "odd.ppm"], check=True)
    rust = np.load(out)
    ours = [F.preprocess_rgb(np.asarray(Image.open(p).convert("RGB"))) for p in frames] + [F.preprocess_rgb(odd)]
    assert rust.shape == (len(ours), 3, 224, 224)
    assert np.abs(rust - np.stack(ours)).max() <= TOL


def test_rust_mfcc_matches_numpy(features_cli, tmp_path):
    out = tmp_path / "m.npy"
    subprocess.run([features_cli, "audio", "--out", out, FIX / "sound.wav"], check=True)
    rust = np.load(out)
    ours = F.mfcc_stream(read_wav(FIX / "sound.wav"))
    assert rust.shape == ours.shape == (3, F.N_MFCC, F.N_FRAMES)
    assert np.abs(rust - ours).max() <= TOL


@pytest.mark.parametrize("name", sorted(GOLDEN["outputs"]))
def test_onnxruntime_matches_golden(name):
    imgs = np.load(FIX / "golden_image_tensors.npy")
    mfcc = np.load(FIX / "golden_mfcc.npy")
    c = card(name)
    assert GOLDEN["outputs"][name]["sha256"] == c["sha256"], "golden.json is stale: rerun make_fixtures.py"
    x, inp = (mfcc, "mfcc") if c["kind"] == "audio" else (imgs, "image")
    got = np.array(ort_outputs(model_path(name), x, inp))
    assert np.abs(got - np.array(GOLDEN["outputs"][name]["p_accident"])).max() <= TOL


@pytest.mark.parametrize("name", sorted(GOLDEN["outputs"]))
def test_tract_matches_onnxruntime(name, features_cli, tmp_path):
    c = card(name)
    x = np.load(FIX / ("golden_mfcc.npy" if c["kind"] == "audio" else "golden_image_tensors.npy"))
    model_path(name)
    np.save(tmp_path / "x.npy", x)
    res = subprocess.run([features_cli, "predict", "--card", MODELS / f"{name}.card.json", tmp_path / "x.npy"],
                         check=True, capture_output=True, text=True)
    tract = np.array([float(v) for v in res.stdout.split()])
    assert np.abs(tract - np.array(GOLDEN["outputs"][name]["p_accident"])).max() <= TOL


@pytest.mark.parametrize("path", CARDS, ids=lambda p: p.name)
def test_cards_match_files_and_training_constants(path):
    from common import sha256

    c = json.loads(path.read_text())
    assert c["schema_version"] == 1 and c["positive_label"] in c["labels"]
    th = c["thresholds"]
    assert 0 <= th["cost_model"] <= 1 and 0 <= th["best_f1"] <= 1 and th["use"] in ("cost_model", "best_f1")
    onnx_file = MODELS / c["file"]
    if onnx_file.exists():
        assert sha256(onnx_file) == c["sha256"]
    else:
        assert c["name"] == "accident-image-vgg16", f"{onnx_file} missing"
    if c["kind"] == "image":
        assert c["image"]["short_side"] == F.SHORT_SIDE and c["image"]["crop"] == F.CROP
        assert c["input"]["shape"] == [1, 3, F.CROP, F.CROP]
    else:
        a = c["audio"]
        assert (a["n_fft"], a["win_length"], a["hop_length"], a["n_mels"], a["n_mfcc"]) == (
            F.N_FFT, F.WIN_LENGTH, F.HOP, F.N_MELS, F.N_MFCC)
        assert c["input"]["shape"] == [1, F.N_MFCC, F.N_FRAMES]
