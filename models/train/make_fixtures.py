"""Makes the small committed parity fixtures in models/fixtures (synthetic: no data-set files).

    python models/train/make_fixtures.py

* frame_*.png: synthetic RGB pictures of different sizes and aspect ratios (up- and downscaling);
* sound.wav: 2.3 s of synthesised 16-bit mono audio at 16 kHz (tone, chirp, an impact-like burst);
* golden_image_tensors.npy: the numpy twin's preprocessing of the PNGs, float32 [n, 3, 224, 224];
* golden_mfcc.npy: the numpy twin's MFCC of each 1-s window of sound.wav, float32 [3, 13, 98];
* golden.json: onnxruntime's P(accident) of every committed model on those tensors.
"""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import features as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "models" / "fixtures"
FRAMES = {"frame_wide.png": (320, 180), "frame_small_portrait.png": (61, 83)}
MODELS = ["accident-image-effnet-lite0", "accident-image-vgg16", "accident-audio-mfcc-cnn"]


def synth_frame(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255 * xx / w, 255 * yy / h, 128 + 100 * np.sin(xx / 7 + yy / 11)], axis=2)
    for _ in range(6):  # a few solid rectangles ("cars") and a diagonal "road" edge
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        img[y0:y0 + h // 4, x0:x0 + w // 5] = rng.integers(0, 256, 3)
    img[yy > xx * h / w] *= 0.6
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def synth_sound(rng: np.random.Generator) -> np.ndarray:
    sr, n = F.SAMPLE_RATE, int(2.3 * F.SAMPLE_RATE)
    t = np.arange(n) / sr
    x = 0.05 * np.sin(2 * np.pi * 220 * t) + 0.03 * np.sin(2 * np.pi * (300 + 900 * t) * t)
    x += 0.01 * rng.standard_normal(n)
    k = int(1.4 * sr)  # impact-like: broadband burst with exponential decay
    burst = rng.standard_normal(n - k) * np.exp(-np.arange(n - k) / (0.08 * sr)) * 0.6
    x[k:] += burst
    x[int(0.9 * sr):int(1.3 * sr)] += 0.35 * rng.standard_normal(int(1.3 * sr) - int(0.9 * sr))
    return np.clip(x, -1, 1)


def write_wav(path: Path, x: np.ndarray) -> None:
    pcm = np.round(x * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(F.SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def golden_tensors() -> tuple[np.ndarray, np.ndarray]:
    imgs = np.stack([F.preprocess_rgb(np.asarray(Image.open(FIX / n).convert("RGB"))) for n in FRAMES])
    mfcc = F.mfcc_stream(read_wav(FIX / "sound.wav"))
    return imgs, mfcc


def ort_outputs(model: Path, x: np.ndarray, input_name: str) -> list[float]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    return [float(s.run(None, {input_name: x[i:i + 1]})[0][0, 0]) for i in range(len(x))]


def main() -> None:
    FIX.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for name, (w, h) in FRAMES.items():
        Image.fromarray(synth_frame(w, h, rng)).save(FIX / name, optimize=False)
    write_wav(FIX / "sound.wav", synth_sound(rng))
    imgs, mfcc = golden_tensors()
    np.save(FIX / "golden_image_tensors.npy", imgs)
    np.save(FIX / "golden_mfcc.npy", mfcc)
    golden = {"frames": list(FRAMES), "sound": "sound.wav", "outputs": {}}
    for name in MODELS:
        card_path = ROOT / "models" / f"{name}.card.json"
        if "--skip-missing" in sys.argv and not card_path.exists():
            print(f"skipping {name}: no card yet", file=sys.stderr)
            continue
        card = json.loads(card_path.read_text())
        model = ROOT / "models" / card["file"]
        if not model.exists():
            raise SystemExit(f"{model} missing (run scripts/setup for the VGG16 model)")
        x, inp = (mfcc, "mfcc") if card["kind"] == "audio" else (imgs, "image")
        golden["outputs"][name] = {"sha256": card["sha256"], "p_accident": ort_outputs(model, x, inp)}
        print(name, golden["outputs"][name]["p_accident"], file=sys.stderr)
    (FIX / "golden.json").write_text(json.dumps(golden, indent=2) + "\n")


if __name__ == "__main__":
    main()
