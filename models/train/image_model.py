"""Trains the frame classifiers: frozen ImageNet backbone -> trained head (logistic, MLP or a bag of
MLPs, chosen by grouped CV on the training set), composed into one ONNX.

    python models/train/image_model.py --backbone effnet|vgg16 [--images DIR ...]

--images DIR adds DIR/accident/* and DIR/normal/* (JPEG/PNG) to the training set: the retraining
entry point for newly collected, labelled frames. Features are cached under models/.cache/.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import agent_view  # noqa: E402
import common  # noqa: E402
import compose  # noqa: E402
import features  # noqa: E402
from common import CACHE, DATASETS, MODELS, log  # noqa: E402

# Training variants: every image several times, as the agent would see it (H.264 from a dashcam,
# decoded by GStreamer) and under the probes' degradations (see variant_frames for the ops).
AGENT_VARIANTS = ["orig", "h264", "flip+zoom70+h264q32", "down50+h264q30", "light+jpeg40+h264",
                  "flip+down35", "zoom80+up200+h264q35"]
# Robustness probes on the validation images (the first one is the headline figure).
VAL_VARIANTS = ["h264", "orig", "gst", "jpeg50", "jpeg20", "down50", "down35", "up200", "h264q35",
                "down50+h264q30"]
BACKBONES = {
    "effnet": {
        "name": "accident-image-effnet-lite0",
        "title": "EfficientNet-Lite0",
        "dim": 1280,
        "train_variants": AGENT_VARIANTS,
        "val_variants": VAL_VARIANTS,
    },
    "vgg16": {
        "name": "accident-image-vgg16",
        "title": "VGG16",
        "dim": 512,
        # The same 7 training variants (extracting the 4 added on 2026-11-29 took ~30 min on 2 shared
        # cores); ~0.5 s per frame on this CPU, so fewer validation probes.
        "train_variants": AGENT_VARIANTS,
        "val_variants": ["h264", "orig", "gst", "down35", "jpeg20", "h264q35"],
    },
}
HEADLINE = "h264"
VARIANT_TEXT = {
    "h264": "the agent's path: H.264 (libx264 crf 26, yuv420p) decoded by GStreamer (decodebin ! videoconvert)",
    "orig": "decoded by PIL (libjpeg), no re-encoding",
    "gst": "JPEG decoded by GStreamer (`jpegdec ! videoconvert`) instead of PIL",
    "jpeg50": "re-encoded as JPEG quality 50",
    "jpeg20": "re-encoded as JPEG quality 20",
    "down50": "downscaled to 50 % (bilinear) before preprocessing",
    "down35": "downscaled to 35 % (short side 112 px) before preprocessing",
    "up200": "upscaled to 200 % (bicubic) before preprocessing",
    "h264q35": "H.264 at low quality (crf 35) decoded by GStreamer",
    "down50+h264q30": "downscaled to 50 %, then H.264 crf 30 decoded by GStreamer",
}


PREPROCESSORS: set[str] = set()  # which preprocessing produced the (cached) features


def list_images(root: Path) -> list[tuple[Path, int]]:
    out = []
    for label, cls in ((1, "accident"), (0, "normal")):
        for p in sorted((root / cls).glob("*")):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
                out.append((p, label))
    return out


def _resize(img: Image.Image, f: float, method) -> Image.Image:
    return img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), method)


def _jpeg(img: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def gst_decode(path: Path) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "out.rgb"
        cmd = [
            "gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "jpegdec", "!",
            "videoconvert", "!", "video/x-raw,format=RGB", "!", "filesink", f"location={raw}",
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        w, h = Image.open(path).size
        data = np.frombuffer(raw.read_bytes(), dtype=np.uint8)
        stride = len(data) // h  # GStreamer pads RGB rows to 4 bytes
        return data.reshape(h, stride)[:, : 3 * w].reshape(h, w, 3).copy()


def _pil_op(img: Image.Image, op: str, rng: np.random.Generator) -> Image.Image:
    if op == "flip":
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if op.startswith("down"):
        return _resize(img, int(op[4:]) / 100, Image.Resampling.BILINEAR)
    if op.startswith("up"):
        return _resize(img, int(op[2:]) / 100, Image.Resampling.BICUBIC)
    if op.startswith("jpeg"):
        return _jpeg(img, int(op[4:]))
    if op.startswith("zoom"):  # random crop of NN..100 % of each side, scaled back (zoom + shift)
        f = rng.uniform(int(op[4:]) / 100, 1.0)
        cw, ch = round(img.width * f), round(img.height * f)
        x0, y0 = int(rng.integers(0, img.width - cw + 1)), int(rng.integers(0, img.height - ch + 1))
        return img.crop((x0, y0, x0 + cw, y0 + ch)).resize(img.size, Image.Resampling.BILINEAR)
    if op == "light":  # exposure / contrast jitter (dashcams: night, glare, auto-exposure)
        a = np.asarray(img, dtype=np.float32)
        g, c = rng.uniform(0.6, 1.4), rng.uniform(0.75, 1.2)
        a = 255.0 * (a / 255.0) ** g
        a = (a - a.mean()) * c + a.mean()
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if op != "orig":
        raise ValueError(f"unknown image variant op {op!r}")
    return img


def variant_frames(paths: list[Path], name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The frames of a variant: '+'-joined ops applied in order. `gst` (first) decodes the JPEG with
    GStreamer instead of PIL; `h264` / `h264qNN` (last) round-trips through H.264 + GStreamer decode
    (the agent's decode path); `mixed` picks one of the PIL ops per image."""
    ops = name.split("+")
    h264 = None
    if ops[-1].startswith("h264"):
        h264 = int(ops[-1][5:]) if ops[-1].startswith("h264q") else 26
        ops = ops[:-1] or ["orig"]
    frames = []
    for p in paths:
        if ops[0] == "gst":
            img, rest = Image.fromarray(gst_decode(p)), ops[1:]
        else:
            img, rest = Image.open(p).convert("RGB"), ops
        for op in rest:
            if op == "mixed":
                op = ["flip", "down50", "down35", "jpeg40"][int(rng.integers(4))]
            img = _pil_op(img, op, rng)
        frames.append(np.asarray(img, dtype=np.uint8))
    if h264 is not None:
        frames = agent_view.h264_roundtrip(frames, crf=h264)
    return frames


def feature_model(backbone: str) -> Path:
    if backbone == "effnet":
        return common.BACKBONES / "efficientnet_lite0_imagenet_features_gap.onnx"
    path = CACHE / "vgg16_features.onnx"
    if not path.exists():
        import onnx

        base = CACHE / "vgg16_base.onnx"
        if not base.exists():
            raise SystemExit(f"{base} missing: run scripts/setup.d/20-vgg16 first")
        compose.save(compose.vgg16_features_model(onnx.load(str(base))), path)
    return path


def backbone_features(sess, tensors: np.ndarray, batch: int = 8) -> np.ndarray:
    if sess.get_inputs()[0].shape[0] == 1:  # exported with a fixed batch of 1
        batch = 1
    return np.concatenate([sess.run(None, {"image": tensors[i:i + batch]})[0]
                           for i in range(0, len(tensors), batch)])


def extract(backbone: str, items, var: str, tag: str, chunk: int = 128) -> np.ndarray:
    """Backbone features of every image under a variant (decode/augment -> the agent's Rust
    preprocessing -> backbone), cached by (backbone, tag, variant, file list, preprocessor)."""
    key = f"{backbone}-{tag}-{var}-{len(items)}"
    path = CACHE / "features" / f"{key}.npy"
    names = "\n".join(str(p) for p, _ in items)
    meta = path.with_suffix(".txt")
    if path.exists() and meta.exists():
        used, _, cached = meta.read_text().partition("\n")
        if cached == names:
            PREPROCESSORS.add(f"{tag}: {used}")
            return np.load(path)
    log(f"{backbone} {tag}/{var}: extracting {len(items)} images")
    sess = common.ort_session(feature_model(backbone))
    rng = np.random.default_rng(common.SEED)
    out = []
    paths = [p for p, _ in items]
    for s in range(0, len(paths), chunk):
        frames = variant_frames(paths[s:s + chunk], var, rng)
        out.append(backbone_features(sess, agent_view.preprocess_many(frames)))
        log(f"{backbone} {tag}/{var}: {min(s + chunk, len(paths))}/{len(paths)}")
    out = np.concatenate(out).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    meta.write_text(agent_view.preprocessor_name() + "\n" + names)
    PREPROCESSORS.add(f"{tag}: {agent_view.preprocessor_name()}")
    return out


# Head candidates, all chosen by the same grouped 4-fold CV log-loss on the training set (never by
# validation data): L2 logistic regression (C), one-hidden-layer ReLU MLPs (width x L2 alpha, Adam),
# and a bag of BAG_SIZE MLPs at the best single MLP's width and alpha, differing only in their seed
# (initialisation and mini-batch order).
LOGISTIC_C = [0.01, 0.03, 0.1]
MLP_WIDTHS = [32, 64, 128]
MLP_ALPHAS = [0.3, 1.0, 3.0, 10.0, 30.0]
BAG_SIZE = 5
CV_FOLDS = 4


def _mlp_layers(m, mu, sd) -> list[tuple[np.ndarray, np.ndarray]]:
    """sklearn MLPClassifier (one ReLU hidden layer) -> layers with the standardisation folded in."""
    (w0, w1), (b0, b1) = m.coefs_, m.intercepts_
    w0f = w0 / sd[:, None]
    b0f = b0 - (mu / sd) @ w0
    return [(w0f.astype(np.float32), b0f.astype(np.float32)), (w1.astype(np.float32), b1.astype(np.float32))]


def bag_layers(members: list[list[tuple[np.ndarray, np.ndarray]]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """k one-hidden-layer MLP heads -> one MLP whose logit is the mean of their logits (exactly: the
    hidden layers side by side, the output weights and biases divided by k). So a bag composes and
    ships like any MLP head (compose.with_mlp_head, the committed head JSON) with k times the width."""
    k = len(members)
    w0 = np.concatenate([m[0][0] for m in members], axis=1)
    b0 = np.concatenate([m[0][1] for m in members])
    w1 = np.concatenate([m[1][0] for m in members], axis=0) / k
    b1 = np.mean([m[1][1] for m in members], axis=0)
    return [(w0.astype(np.float32), b0.astype(np.float32)), (w1.astype(np.float32), b1.astype(np.float32))]


def head_predict(layers, x: np.ndarray) -> np.ndarray:
    """P(accident) of raw backbone features under a head (numpy twin of the composed ONNX head)."""
    return sigmoid(head_logit(layers, x))


def head_logit(layers, x: np.ndarray) -> np.ndarray:
    h = x.astype(np.float64)
    for k, (w, b) in enumerate(layers):
        h = h @ w.astype(np.float64) + b.astype(np.float64)
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def fit_head(x: np.ndarray, y: np.ndarray, groups: np.ndarray):
    """Standardised features (folded into the first layer); the candidates above, each scored by
    grouped 4-fold CV log-loss on the training rows (all variants of one image in the same fold).

    Two stages keep the cost to CV_FOLDS x (logistic Cs + MLP widths x alphas + BAG_SIZE - 1) fits
    (4 x 19 = 76; on 2 idle cores ~4 min for EfficientNet-Lite0, ~2 min for VGG16): (1) every
    logistic C and every MLP width x alpha with one seed; (2) a bag of BAG_SIZE MLPs (mean of
    logits) at the best stage-1 MLP's width and alpha, on the same folds, its first member being
    that very MLP. The lowest CV log-loss over all candidates wins. (Stage 1's best MLP score is a
    minimum over len(MLP_WIDTHS) x len(MLP_ALPHAS) noisy estimates, so the comparison leans against
    the bag, if anything.) Returns (layers, description, candidates [{"head", "cv_log_loss",
    "alpha" for MLPs and bags}])."""
    import time

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold
    from sklearn.neural_network import MLPClassifier

    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = ((x - mu) / sd).astype(np.float32)
    folds = list(GroupKFold(n_splits=CV_FOLDS).split(z, y, groups))

    def loss(yt, logit):
        return float(log_loss(yt, np.clip(sigmoid(logit), 1e-6, 1 - 1e-6), labels=[0, 1]))

    def mlp(width, alpha, seed_offset=0):
        return MLPClassifier((width,), alpha=alpha, max_iter=300, random_state=(common.SEED + seed_offset) % 2**31)

    def mlp_logit(m, zz):
        return head_logit(list(zip(m.coefs_, m.intercepts_)), zz)

    cands: list[dict] = []
    t0 = time.time()
    for c in LOGISTIC_C:
        ls = [loss(y[te], LogisticRegression(C=c, max_iter=3000).fit(z[tr], y[tr]).decision_function(z[te]))
              for tr, te in folds]
        cands.append({"head": f"logistic C={c}", "kind": "logistic", "c": c, "cv_log_loss": float(np.mean(ls))})
        log(f"  {cands[-1]['head']}: CV log-loss {cands[-1]['cv_log_loss']:.4f}")
    fold_logits = {}  # (width, alpha) -> out-of-fold logits of seed 0, per fold
    for width in MLP_WIDTHS:
        for alpha in MLP_ALPHAS:
            logits = [mlp_logit(mlp(width, alpha).fit(z[tr], y[tr]), z[te]) for tr, te in folds]
            fold_logits[(width, alpha)] = logits
            ls = [loss(y[te], lg) for (_, te), lg in zip(folds, logits)]
            cands.append({"head": f"MLP {width} alpha={alpha:g}", "kind": "mlp", "width": width, "alpha": alpha,
                          "cv_log_loss": float(np.mean(ls))})
            log(f"  {cands[-1]['head']}: CV log-loss {cands[-1]['cv_log_loss']:.4f}")
    best_mlp = min((c for c in cands if c["kind"] == "mlp"), key=lambda c: c["cv_log_loss"])
    width, alpha = best_mlp["width"], best_mlp["alpha"]
    ls = []
    for (tr, te), first in zip(folds, fold_logits[(width, alpha)]):
        logits = [first] + [mlp_logit(mlp(width, alpha, s).fit(z[tr], y[tr]), z[te]) for s in range(1, BAG_SIZE)]
        ls.append(loss(y[te], np.mean(logits, axis=0)))
    cands.append({"head": f"bag of {BAG_SIZE} x MLP {width} alpha={alpha:g} (mean logit)", "kind": "bag",
                  "width": width, "alpha": alpha, "cv_log_loss": float(np.mean(ls))})
    log(f"  {cands[-1]['head']}: CV log-loss {cands[-1]['cv_log_loss']:.4f} (CV took {time.time() - t0:.0f} s)")

    best = min(cands, key=lambda c: c["cv_log_loss"])
    if best["kind"] == "logistic":
        m = LogisticRegression(C=best["c"], max_iter=3000).fit(z, y)
        w = m.coef_[0] / sd
        b = float(m.intercept_[0] - (m.coef_[0] * mu / sd).sum())
        layers = [(w.reshape(-1, 1).astype(np.float32), np.array([b], np.float32))]
        text = f"standardised L2 logistic regression, C={best['c']}"
    elif best["kind"] == "mlp":
        layers = _mlp_layers(mlp(width, alpha).fit(z, y), mu, sd)
        text = f"standardised MLP, one hidden layer of {width} ReLU units, L2 alpha={alpha:g} (Adam)"
    else:
        layers = bag_layers([_mlp_layers(mlp(width, alpha, s).fit(z, y), mu, sd) for s in range(BAG_SIZE)])
        text = (f"standardised bag of {BAG_SIZE} MLPs (one hidden layer of {width} ReLU units, L2 alpha={alpha:g}, "
                f"Adam, seeds {common.SEED}..+{BAG_SIZE - 1}); P = sigmoid(mean of the {BAG_SIZE} logits), folded "
                f"into one MLP of {BAG_SIZE * width} hidden units")
    text += (f" (chosen by grouped {CV_FOLDS}-fold CV log-loss on the training set, {best['cv_log_loss']:.4f}, "
             f"from {len(cands)} candidates)")
    table = [{"head": c["head"], "cv_log_loss": round(c["cv_log_loss"], 4),
              **({"alpha": c["alpha"]} if "alpha" in c else {})} for c in cands]
    return layers, text, table


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def clip_result(video: Path, sess, threshold: float) -> dict:
    """Clip level through the agent's path: GStreamer decode (agent/src/decode.rs elements) at
    1 frame/s -> Rust preprocessing -> model; plus every frame at 5 frames/s for a per-frame rate."""
    out = {}
    for label, fps in (("1fps", 1), ("5fps", 5)):
        frames = agent_view.agent_frames(video, fps=fps)
        tensors = agent_view.preprocess_many(frames)
        probs = [float(sess.run(None, {"image": tensors[i:i + 1]})[0][0, 0]) for i in range(len(tensors))]
        out[label] = {
            "frames": len(probs),
            "p_accident": [round(v, 3) for v in probs],
            "accident_frames": int(sum(v >= threshold for v in probs)),
        }
    one = out["1fps"]
    return {
        "decode": "GStreamer decodebin ! videorate ! videoconvert ! videoscale ! RGB (the agent's elements); "
        + agent_view.preprocessor_name(),
        "frames": one["frames"],
        "p_accident": one["p_accident"],
        "accident_frames": one["accident_frames"],
        "decision": "accident" if one["accident_frames"] else "normal",
        "frames_5fps": out["5fps"]["frames"],
        "accident_frames_5fps": out["5fps"]["accident_frames"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", choices=sorted(BACKBONES), required=True)
    ap.add_argument("--images", action="append", default=[], type=Path,
                    help="extra labelled training images: DIR/accident/*, DIR/normal/*")
    args = ap.parse_args()
    cfg = BACKBONES[args.backbone]
    name = cfg["name"]

    train = list_images(DATASETS / "images" / "train")
    for d in args.images:
        extra = list_images(d)
        if not extra:
            raise SystemExit(f"--images {d}: no images under {d}/accident or {d}/normal")
        log(f"adding {len(extra)} images from {d}")
        train += extra
    val = list_images(DATASETS / "images" / "val")
    ytr = np.array([l for _, l in train])
    yva = np.array([l for _, l in val])
    log(f"{name}: train {len(train)} ({ytr.sum()} accident), val {len(val)} ({yva.sum()} accident)")

    xs, ys, gs = [], [], []
    for var in cfg["train_variants"]:
        xs.append(extract(args.backbone, train, var, "train"))
        ys.append(ytr)
        gs.append(np.arange(len(train)))
    x, y, groups = np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)
    log(f"fitting head on {len(x)} feature rows ({len(cfg['train_variants'])} variants per image)")
    layers, head_text, head_cands = fit_head(x, y, groups)
    log(f"head: {head_text}")

    # Headline: the validation images as the agent sees them (H.264 + GStreamer + Rust preprocessing).
    probes = cfg["val_variants"]
    val_p = {var: head_predict(layers, extract(args.backbone, val, var, "val")) for var in probes}
    p = val_p[HEADLINE]
    t_f1 = common.best_f1_threshold(yva, p)
    t_cost, exp_cost = common.cost_threshold(yva, p)
    m_cost = common.metrics(yva, p, t_cost)
    m_f1 = common.metrics(yva, p, t_f1)
    m_half = common.metrics(yva, p, 0.5)
    robust = {var: common.metrics(yva, val_p[var], t_cost) for var in probes}
    robust_f1 = {var: common.metrics(yva, val_p[var], t_f1) for var in probes}
    train_m = common.metrics(ytr, head_predict(layers, xs[0]), t_cost)
    log(f"val ({HEADLINE}) @cost {t_cost:.3f}: {m_cost}")
    log(f"val ({HEADLINE}) @bestF1 {t_f1:.3f}: {m_f1}")
    for var in probes:
        log(f"  robustness {var}: acc {robust[var]['accuracy']} f1 {robust[var]['f1']}")

    # Compose and save.
    import onnx

    out = MODELS / f"{name}.onnx"
    model = compose.with_mlp_head(onnx.load(str(feature_model(args.backbone))), layers, name)
    if args.backbone == "vgg16":
        # The VGG16 model (~60 MB) is composed at set-up time from PyPI + the committed head.
        # Shortest decimal that round-trips each float32 (the composed ONNX stays bit-identical).
        short = lambda a: [float(str(v)) for v in a.reshape(-1)]  # noqa: E731
        head = {"layers": [{"w": [short(r) for r in w], "b": short(b)} for w, b in layers],
                "feature_dim": int(layers[0][0].shape[0])}
        (MODELS / f"{name}.head.json").write_text(json.dumps(head) + "\n")
    compose.save(model, out)
    digest = common.sha256(out)

    # Clip-level result on the shared videos, through the agent's decode path.
    sess = common.ort_session(out)
    clips = {}
    for video in sorted((DATASETS / "videos").glob("*.mp4")):
        clips[video.name] = clip_result(video, sess, t_cost)
        log(f"clip {video.name}: {clips[video.name]}")

    card = {
        "schema_version": 1,
        "name": name,
        "kind": "image",
        "file": f"{name}.onnx",
        "sha256": digest,
        "input": {"name": "image", "layout": "NCHW", "shape": [1, 3, features.CROP, features.CROP]},
        "output": {"name": "p_accident", "shape": [1, 1]},
        "labels": ["normal", "accident"],
        "positive_label": "accident",
        "thresholds": {"cost_model": round(t_cost, 4), "best_f1": round(t_f1, 4), "use": "cost_model"},
        "image": {
            "colour_order": "RGB",
            "value_range": [0.0, 255.0],
            "resize": "short-side-centre-crop",
            "short_side": features.SHORT_SIDE,
            "crop": features.CROP,
        },
        "backbone": cfg["title"],
        "cost_model": {**common.COST, "expected_cost_usd_per_unit": round(exp_cost, 4)},
        "training": {
            "images": len(train),
            "variants": cfg["train_variants"],
            "head": head_text,
            "head_selection": f"lowest grouped {CV_FOLDS}-fold CV log-loss on the training rows (all variants "
                              "of one image in one fold); validation data plays no part",
            "head_candidates": head_cands,
            "preprocessing_used": sorted(PREPROCESSORS),
            "headline_variant": HEADLINE,
            "seed": common.SEED,
            "extra_image_dirs": [str(d) for d in args.images],
        },
        "metrics": {
            "validation_at_cost_threshold": m_cost,
            "validation_at_best_f1_threshold": m_f1,
            "validation_at_0.5": m_half,
            "train_at_cost_threshold": train_m,
            "robustness_at_cost_threshold": robust,
            "robustness_at_best_f1_threshold": robust_f1,
            "clips": clips,
        },
    }
    common.write_card(name, card)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, sha256 {digest[:12]}) and its card")


if __name__ == "__main__":
    main()
