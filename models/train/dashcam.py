"""Dashcam-domain study of the frame model: leave-one-source-out (LOSO) over the shared dashcam clips.

What it does
  * Baseline: the shipped `models/accident-image-effnet-lite0.onnx` (onnxruntime) on every clip at the
    agent's 1 frame/s, decided with the agent's window rule (detect/src/decision.rs, image alone:
    5-s windows sliding by 1 s, window score = 2nd highest calibrated second, bar 0.8; calibrated =
    sigmoid(logit(p) - logit(threshold)), threshold = the card's `thresholds.cost_model`).
  * Retrained head, once per held-out source: image_model.py's head selection (grouped 4-fold CV
    log-loss on the training side only) over --grid: "logistic" (default: the recipe's logistic Cs;
    its MLP / bag candidates, "full", take hours over 17 folds on this machine), fitted on frozen
    EfficientNet-Lite0 GAP features of the CCTV training images
    (`images/train`, the variants in --cctv-variants) plus the dashcam frames of the *other* sources:
    accident clips contribute only their collision frames (DAD: the last 0.75 s; CCD 000007:
    3.3-3.6 s; every other frame of an accident clip is excluded, never a negative), normal clips
    every --normal-stride-th frame decoded at --train-fps. The cost threshold (common.cost_threshold) is chosen on the winning
    candidate's out-of-fold predictions of the training side. The held-out clips are then scored at
    1 frame/s and decided like the baseline.
  * Control: the same recipe on the CCTV images alone (no dashcam frames), one fit, every clip.
  * DAD data set out: one extra fold holding out all 7 DAD clips together (one camera, one city), so
    that "looks like DAD" cannot stand in for "collision".
  * Sources: each DAD clip is its own source (dad_<n>), the CCD clip its own (ccd_000007), each
    normal clip's file-name prefix before the first `_` (tmo324 holds 4 clips, udacity 2), and
    `videos/normal_dashcam.mp4` its own (normal_dashcam). No clip is ever on both sides.

Frames are decoded like the agent (agent_view.agent_frames: GStreamer `decodebin ! videorate !
videoconvert ! videoscale`, the elements of agent/src/decode.rs); videorate at F frames/s emits the
frames nearest to t = 0, 1/F, 2/F, ... The agent's seconds are therefore t = 0, 1, 2, ... (headline,
phase 0.0). As a sensitivity check the same decisions are also made on t = 0.5, 1.5, ... (phase 0.5;
the odd frames of a 2 frame/s decode; the even ones are checked to equal the 1 frame/s decode).
Preprocessing: agent_view.preprocess_many (the Rust `dashledger-features` when built, else its
parity-tested numpy twin features.py). Training frames: normal clips at --train-fps, collision
windows at the clip's native frame rate (--collision-fps 0).

Run (writes models/eval/dashcam_loso.json; the .md write-up is written by hand from it):

    nice -n 10 .venv/bin/python models/train/dashcam.py --out models/eval/dashcam_loso.json

Options: --fps (agent rate, 1), --train-fps (5), --normal-stride (2), --cctv-variants (h264), --grid logistic|small|full,
--cache DIR (/tmp/dashledger-dashcam), --skip-loso / --skip-control (baseline only).
Cost here (2 shared cores, nice 10, next to a cargo build): cold ~32 min wall (decode + preprocess +
backbone of ~2 500 dashcam frames and 791 CCTV images ~15 min, 17 LOSO fits of ~55 s each + control +
DAD-data-set-out fold ~17 min); with the features cached (--cache) a rerun only refits the heads
(~17 min). `--update` adds missing sections to an existing --out.
Deterministic: fixed seeds (common.SEED), GroupKFold without shuffling, sorted file lists.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import DATASETS, MODELS, ROOT, log  # noqa: E402
from stats import poisson_upper  # noqa: E402

SHIPPED = "accident-image-effnet-lite0"
BACKBONE_FILE = "efficientnet_lite0_imagenet_features_gap.onnx"
# The agent's rule (detect/src/decision.rs DecisionRule::default): image alone.
WINDOW_SECS = 5
IMAGE_RANK = 2
IMAGE_ALONE_BAR = 0.8
# Collision windows (seconds from the clip start, inclusive): DAD the last 0.75 s, CCD 000007 3.3-3.6 s.
DAD_COLLISION_S = 0.75
CCD_COLLISION = {"ccd_000007": (3.3, 3.6)}
EPS = 1e-6


# --------------------------------------------------------------------------------------------------
# Clips, sources and the split (no backbone: tested by models/tests/test_dashcam.py)


@dataclass(frozen=True)
class Clip:
    path: Path
    label: int  # 1 accident, 0 normal
    source: str
    duration: float
    native_fps: float

    @property
    def name(self) -> str:
        return self.path.name


def source_of(path: Path) -> str:
    """dad_<n> and ccd_<n> clips are each their own source; videos/normal_dashcam.mp4 its own; any
    other clip: its file-name prefix before the first `_`."""
    stem = path.stem
    if stem.startswith("dad_") or stem.startswith("ccd_"):
        return "_".join(stem.split("_")[:2])
    if path.parent.name == "videos":
        return stem
    return stem.split("_", 1)[0]


def probe(path: Path) -> tuple[float, float]:
    """(duration s, native frame rate) of the first video stream."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=r_frame_rate,duration",
         "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True).stdout.strip()
    rate, dur = out.split("\n")[0].split(",")[:2]
    num, _, den = rate.partition("/")
    return float(dur), float(num) / float(den or 1)


def discover(datasets: Path = DATASETS) -> list[Clip]:
    """dashcam/accident/*.mp4 (label 1), dashcam/normal/*.mp4 and videos/normal_dashcam.mp4 (label 0)."""
    items = [(p, 1) for p in sorted((datasets / "dashcam" / "accident").glob("*.mp4"))]
    items += [(p, 0) for p in sorted((datasets / "dashcam" / "normal").glob("*.mp4"))]
    items += [(datasets / "videos" / "normal_dashcam.mp4", 0)]
    clips = []
    for p, label in items:
        if not p.exists():
            raise SystemExit(f"{p} missing")
        dur, fps = probe(p)
        clips.append(Clip(p, label, source_of(p), dur, fps))
    return clips


def collision_window(clip: Clip) -> tuple[float, float] | None:
    """Seconds [start, end] (inclusive) that show the collision; None for a normal clip."""
    if clip.label == 0:
        return None
    if clip.source.startswith("dad_"):
        return (clip.duration - DAD_COLLISION_S, clip.duration)
    if clip.source in CCD_COLLISION:
        return CCD_COLLISION[clip.source]
    raise ValueError(f"{clip.name}: accident clip without a known collision window")


def frame_times(n: int, fps: float) -> np.ndarray:
    """Timestamps of the n frames videorate emits at `fps`: k / fps."""
    return np.arange(n, dtype=np.float64) / fps


def expected_frames(clip: Clip, fps: float) -> int:
    """How many frames videorate emits at `fps` for the clip (ceil(duration x fps), as measured)."""
    return max(1, int(math.ceil(clip.duration * fps - 1e-3)))


def frame_labels(clip: Clip, times: np.ndarray) -> np.ndarray:
    """Per frame training label: 1 collision, 0 normal clip, -1 excluded (an accident clip outside
    its collision window: ordinary driving inside an accident clip, neither positive nor negative)."""
    win = collision_window(clip)
    if win is None:
        return np.zeros(len(times), dtype=np.int64)
    lo, hi = win
    inside = (times >= lo - EPS) & (times <= hi + EPS)
    return np.where(inside, 1, -1).astype(np.int64)


def train_fps_of(clip: Clip, train_fps: int, collision_fps: int) -> int:
    """Decode rate for training frames: normal clips at train_fps, accident clips (whose collision
    frames only are used) at collision_fps (0: the clip's native rate)."""
    if clip.label == 1:
        return collision_fps or int(round(clip.native_fps))
    return train_fps


def loso_folds(clips: list[Clip]) -> list[dict]:
    """One fold per source: {"held_out": source, "test": [clips of it], "train": [all other clips]}."""
    sources = sorted({c.source for c in clips})
    return [{"held_out": s, "test": [c for c in clips if c.source == s],
             "train": [c for c in clips if c.source != s]} for s in sources]


def training_selection(clip: Clip, times: np.ndarray, normal_stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) of the training frames among the decoded frames at `times`: an accident
    clip's collision frames (label 1; the rest excluded), every `normal_stride`-th frame of a normal
    clip (label 0)."""
    y = frame_labels(clip, times)
    idx = np.flatnonzero(y >= 0)
    if clip.label == 0:
        idx = idx[::normal_stride]
    return idx, y[idx]


def training_rows(train_clips: list[Clip], frames: dict[str, int], train_fps: int, collision_fps: int,
                  normal_stride: int = 1) -> list[tuple[str, float, int]]:
    """(clip name, t, label) of every training frame of the given clips; excluded frames dropped.
    `frames[name]` is the number of frames decoded for that clip at its training rate."""
    rows = []
    for c in train_clips:
        t = frame_times(int(frames[c.name]), train_fps_of(c, train_fps, collision_fps))
        idx, y = training_selection(c, t, normal_stride)
        rows += [(c.name, float(t[i]), int(yy)) for i, yy in zip(idx, y)]
    return rows


# --------------------------------------------------------------------------------------------------
# The agent's decision and the totals


def logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def calibrate(p, threshold: float) -> np.ndarray:
    """detect::fusion::calibrate: sigmoid(logit(p) - logit(threshold)), both clamped to [1e-6, 1-1e-6]."""
    return 1.0 / (1.0 + np.exp(-(logit(p) - logit(threshold))))


def decide(p: list[float], threshold: float) -> dict:
    """The agent's image-alone window rule over per-second P(accident)."""
    cal = calibrate(p, threshold)
    n = len(cal)
    w = min(WINDOW_SECS, max(n, 1))
    windows = []
    for s in range(0, n - w + 1):
        win = np.sort(cal[s:s + w])[::-1]
        windows.append(float(win[min(IMAGE_RANK - 1, len(win) - 1)]))
    pos = [i for i, v in enumerate(windows) if v >= IMAGE_ALONE_BAR]
    return {
        "calibrated": [round(float(v), 3) for v in cal],
        "window_scores": [round(v, 3) for v in windows],
        "max_window": round(max(windows), 3) if windows else None,
        "positive_windows": len(pos),
        "accident": bool(pos),
        "at_second": pos[0] if pos else None,
    }


def totals(rows: list[dict]) -> dict:
    acc = [r for r in rows if r["label"] == "accident"]
    nor = [r for r in rows if r["label"] == "normal"]
    det = sum(r["accident"] for r in acc)
    flagged = sum(r["accident"] for r in nor)
    secs = sum(len(r["p_accident"]) for r in nor)
    hours = secs / 3600
    pos_sec = sum(sum(v >= 0.5 for v in r["calibrated"]) for r in nor)
    return {
        "accident_clips": len(acc),
        "detected": det,
        "recall": round(det / len(acc), 4) if acc else None,
        "normal_clips": len(nor),
        "normal_flagged": flagged,
        "normal_seconds": secs,
        "normal_seconds_over_threshold": pos_sec,
        "false_alarms_per_hour": round(flagged / hours, 1) if hours else None,
        "false_alarms_per_hour_95_upper": round(poisson_upper(flagged) / hours, 1) if hours else None,
        "note": "a false alarm = a normal clip decided 'accident' (one clip = one segment decision); "
                "per hour over the normal clips' decoded seconds",
    }


# --------------------------------------------------------------------------------------------------
# Features (cached)


def _key(*parts) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


class Extractor:
    def __init__(self, cache: Path):
        import agent_view

        self.av = agent_view
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)
        self._bb = None
        self._shipped = None

    @property
    def backbone(self):
        if self._bb is None:
            self._bb = common.ort_session(common.BACKBONES / BACKBONE_FILE)
        return self._bb

    @property
    def shipped(self):
        if self._shipped is None:
            self._shipped = common.ort_session(MODELS / f"{SHIPPED}.onnx")
        return self._shipped

    def clip(self, clip: Clip, fps: float, keep=None, shipped: bool = False) -> dict:
        """Decode at `fps`, keep the frames whose index passes `keep(times)` (mask; all when None),
        preprocess, backbone features (and the shipped model's P when `shipped`). Cached."""
        st = clip.path.stat()
        tag = "all" if keep is None else "keep"
        key = _key(clip.path, st.st_size, st.st_mtime_ns, fps, tag, shipped, self.av.preprocessor_name(),
                   common.sha256(MODELS / f"{SHIPPED}.onnx") if shipped else "")
        path = self.cache / f"clip-{clip.path.stem}-{fps:g}fps-{tag}-{key}.npz"
        if path.exists():
            z = np.load(path)
            return {k: z[k] for k in z.files}
        t0 = time.time()
        frames = self.av.agent_frames(clip.path, fps=fps) if float(fps).is_integer() else None
        if frames is None:
            raise ValueError(f"fps must be an integer for videorate, got {fps}")
        times = frame_times(len(frames), fps)
        mask = np.ones(len(frames), bool) if keep is None else np.asarray(keep(times), bool)
        idx = np.flatnonzero(mask)
        sel = [frames[i] for i in idx]
        feats = np.zeros((0, 1280), np.float32)
        probs = np.zeros(0, np.float32)
        if sel:
            x = self.av.preprocess_many(sel)
            feats = batch_run(self.backbone, x).astype(np.float32)
            if shipped:
                probs = batch_run(self.shipped, x)[:, 0].astype(np.float32)
        out = {"n_decoded": np.array(len(frames)), "times": times[idx], "index": idx, "features": feats,
               "p_shipped": probs}
        if fps == 2 and len(frames) >= 1 and keep is None:
            # The even frames of a 2 frame/s decode are the agent's 1 frame/s frames (checked).
            one = self.av.agent_frames(clip.path, fps=1)
            out["even_equals_1fps"] = np.array(len(one) == len(frames[::2]) and all(
                np.array_equal(a, b) for a, b in zip(one, frames[::2])))
        np.savez(path, **out)
        log(f"  {clip.name} @ {fps:g} fps: {len(frames)} decoded, {len(idx)} featurised ({time.time() - t0:.0f} s)")
        return out


def batch_run(sess, x: np.ndarray) -> np.ndarray:
    if sess.get_inputs()[0].shape[0] == 1:
        return np.concatenate([sess.run(None, {"image": x[i:i + 1]})[0] for i in range(len(x))])
    return np.concatenate([sess.run(None, {"image": x[i:i + 8]})[0] for i in range(0, len(x), 8)])


def cctv_features(variants: list[str], cache: Path):
    """CCTV training images (images/train) under the recipe's variants, via image_model.extract
    (cache redirected to `cache`). Returns x, y, groups (image index)."""
    import image_model

    image_model.CACHE = cache  # keep the features out of the repo
    train = image_model.list_images(DATASETS / "images" / "train")
    y = np.array([l for _, l in train])
    xs, ys, gs = [], [], []
    for var in variants:
        xs.append(image_model.extract("effnet", train, var, "train"))
        ys.append(y)
        gs.append(np.arange(len(train)))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs), len(train)


# --------------------------------------------------------------------------------------------------
# The head (image_model.fit_head's candidates and selection, also returning out-of-fold logits)


def fit_head(x, y, groups, grid: str = "logistic"):
    """image_model.fit_head's procedure (standardise; grouped CV_FOLDS-fold CV log-loss over the
    candidates; lowest CV log-loss wins and is refitted on all rows), also returning the winner's
    out-of-fold logits (for the training-side threshold).

    grid "full": the recipe's candidates (logistic Cs, MLP widths x alphas, a bag of BAG_SIZE MLPs at
    the best MLP's width and alpha); "small": MLP width 32 only; "logistic": the recipe's logistic
    Cs only. One MLP fit takes 20-30 s on ~1600 rows here (2 shared cores), so "full" over 17 folds
    would take hours: the study uses "logistic" (each fit warm-started from the all-rows solution of
    the same C; lbfgs converges to the same optimum within its tolerance, only faster)."""
    import copy
    import warnings

    import image_model as im
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold
    from sklearn.neural_network import MLPClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    widths = {"full": im.MLP_WIDTHS, "small": im.MLP_WIDTHS[:1], "logistic": []}[grid]
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = ((x - mu) / sd).astype(np.float32)
    folds = list(GroupKFold(n_splits=im.CV_FOLDS).split(z, y, groups))

    def oof(parts):
        o = np.zeros(len(y))
        for (_, te), lg in zip(folds, parts):
            o[te] = lg
        return o

    def loss(yt, lg):
        return float(log_loss(yt, np.clip(im.sigmoid(lg), 1e-6, 1 - 1e-6), labels=[0, 1]))

    def mlp(width, alpha, seed_offset=0):
        return MLPClassifier((width,), alpha=alpha, max_iter=300, random_state=(common.SEED + seed_offset) % 2**31)

    def mlp_logit(m, zz):
        return im.head_logit(list(zip(m.coefs_, m.intercepts_)), zz)

    cands = []
    full_fits = {}
    for c in im.LOGISTIC_C:
        full_fits[c] = LogisticRegression(C=c, max_iter=3000).fit(z, y)

        def warm(c=c):
            m = copy.deepcopy(full_fits[c])
            m.set_params(warm_start=True)
            return m

        parts = [warm().fit(z[tr], y[tr]).decision_function(z[te]) for tr, te in folds]
        cands.append({"head": f"logistic C={c}", "kind": "logistic", "c": c, "oof": oof(parts),
                      "cv_log_loss": float(np.mean([loss(y[te], lg) for (_, te), lg in zip(folds, parts)]))})
    fold_logits = {}
    for width in widths:
        for alpha in im.MLP_ALPHAS:
            parts = [mlp_logit(mlp(width, alpha).fit(z[tr], y[tr]), z[te]) for tr, te in folds]
            fold_logits[(width, alpha)] = parts
            cands.append({"head": f"MLP {width} alpha={alpha:g}", "kind": "mlp", "width": width, "alpha": alpha,
                          "oof": oof(parts),
                          "cv_log_loss": float(np.mean([loss(y[te], lg) for (_, te), lg in zip(folds, parts)]))})
    if widths:
        best_mlp = min((c for c in cands if c["kind"] == "mlp"), key=lambda c: c["cv_log_loss"])
        width, alpha = best_mlp["width"], best_mlp["alpha"]
        parts = []
        for (tr, te), first in zip(folds, fold_logits[(width, alpha)]):
            lgs = [first] + [mlp_logit(mlp(width, alpha, s).fit(z[tr], y[tr]), z[te]) for s in range(1, im.BAG_SIZE)]
            parts.append(np.mean(lgs, axis=0))
        cands.append({"head": f"bag of {im.BAG_SIZE} x MLP {width} alpha={alpha:g} (mean logit)", "kind": "bag",
                      "width": width, "alpha": alpha, "oof": oof(parts),
                      "cv_log_loss": float(np.mean([loss(y[te], lg) for (_, te), lg in zip(folds, parts)]))})
    best = min(cands, key=lambda c: c["cv_log_loss"])
    if best["kind"] == "logistic":
        m = full_fits[best["c"]]
        w = m.coef_[0] / sd
        b = float(m.intercept_[0] - (m.coef_[0] * mu / sd).sum())
        layers = [(w.reshape(-1, 1).astype(np.float32), np.array([b], np.float32))]
    elif best["kind"] == "mlp":
        layers = im._mlp_layers(mlp(best["width"], best["alpha"]).fit(z, y), mu, sd)
    else:
        layers = im.bag_layers([im._mlp_layers(mlp(best["width"], best["alpha"], s).fit(z, y), mu, sd)
                                for s in range(im.BAG_SIZE)])
    table = [{"head": c["head"], "cv_log_loss": round(c["cv_log_loss"], 4)} for c in cands]
    return layers, best, table


def fit_and_threshold(x, y, groups, grid, is_dash):
    import image_model as im

    t0 = time.time()
    layers, best, table = fit_head(x, y, groups, grid)
    p_oof = im.sigmoid(best["oof"])
    t_cost, exp_cost = common.cost_threshold(y, p_oof)
    oof_dash = {}
    if is_dash.any():
        m = common.metrics(y[is_dash], p_oof[is_dash], t_cost)
        oof_dash = {"n": m["n"], "recall": m["recall"], "confusion": m["confusion"], "roc_auc": m["roc_auc"]}
    return layers, {
        "head": best["head"],
        "cv_log_loss": round(best["cv_log_loss"], 4),
        "candidates": table,
        "threshold_cost_model": round(t_cost, 4),
        "threshold_from": "common.cost_threshold on the winner's out-of-fold P of all training-side rows",
        "oof_dashcam_frames_at_threshold": oof_dash,
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "fit_s": round(time.time() - t0, 1),
    }, t_cost


# --------------------------------------------------------------------------------------------------


def clip_row(clip: Clip, p: list[float], threshold: float, times: np.ndarray) -> dict:
    d = decide(p, threshold)
    return {"clip": clip.name, "source": clip.source, "label": "accident" if clip.label else "normal",
            "times_s": [round(float(t), 2) for t in times], "p_accident": [round(float(v), 3) for v in p], **d}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODELS / "eval" / "dashcam_loso.json")
    ap.add_argument("--fps", type=int, default=1, help="the agent's frame rate (evaluation), 1")
    ap.add_argument("--train-fps", type=int, default=5, help="training frames of normal clips per second")
    ap.add_argument("--collision-fps", type=int, default=0,
                    help="decode rate of accident clips' collision windows for training (0: native)")
    ap.add_argument("--normal-stride", type=int, default=2,
                    help="use every n-th training frame of normal clips (2 with --train-fps 5: 2.5 frames/s)")
    ap.add_argument("--cctv-variants", default="h264",
                    help="image_model variants of the CCTV training images (h264: the recipe's agent-path variant)")
    ap.add_argument("--grid", choices=["logistic", "small", "full"], default="logistic",
                    help="head candidates (see fit_head); full = image_model.py's 19, hours here")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/dashledger-dashcam"))
    ap.add_argument("--skip-loso", action="store_true")
    ap.add_argument("--skip-control", action="store_true")
    ap.add_argument("--skip-dad-holdout", action="store_true",
                    help="skip the extra fold that holds out all 7 DAD clips at once (the DAD data set)")
    ap.add_argument("--update", action="store_true",
                    help="keep the sections already in --out (baseline is always recomputed, from the cache) "
                         "and compute only the missing ones")
    args = ap.parse_args()
    if args.fps != 1:
        raise SystemExit("--fps: only 1 (the agent's rate) is supported; phase 0.5 is added from a 2 frame/s decode")
    started = time.time()
    prev = json.loads(args.out.read_text()) if args.update and args.out.exists() else {}
    if prev:
        args.skip_control |= "control_cctv_only" in prev
        args.skip_loso |= "retrained_loso" in prev
        args.skip_dad_holdout |= "retrained_dad_dataset_out" in prev
    np.random.seed(common.SEED)
    card = json.loads((MODELS / f"{SHIPPED}.card.json").read_text())
    t_ship = float(card["thresholds"][card["thresholds"]["use"]])

    clips = discover()
    log(f"{len(clips)} clips: {sum(c.label for c in clips)} accident, {sum(1 - c.label for c in clips)} normal, "
        f"{len({c.source for c in clips})} sources")
    ex = Extractor(args.cache)

    # Evaluation frames: 2 frame/s decode; even = the agent's 1 frame/s (phase 0), odd = phase 0.5.
    log("evaluation frames (2 frame/s decode, shipped model + backbone)")
    ev = {c.name: ex.clip(c, 2, shipped=True) for c in clips}
    for c in clips:
        if not bool(ev[c.name]["even_equals_1fps"]):
            raise SystemExit(f"{c.name}: the even frames of the 2 frame/s decode differ from the 1 frame/s decode")
    phases = {"0.0": slice(0, None, 2), "0.5": slice(1, None, 2)}

    def rows_for(pred, thr_of) -> dict:
        out = {}
        for ph, sl in phases.items():
            rows = [clip_row(c, list(pred(c)[sl]), thr_of(c), ev[c.name]["times"][sl]) for c in clips]
            out[ph] = {"clips": rows, "totals": totals(rows)}
        return out

    result = {
        "what": "Leave-one-source-out study of the frame model on the shared dashcam clips (models/train/dashcam.py)",
        "command": "nice -n 10 .venv/bin/python models/train/dashcam.py " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "preprocessing": ex.av.preprocessor_name(),
        "decode": "agent_view.agent_frames (GStreamer decodebin ! videorate ! videoconvert ! videoscale, "
                  "the agent's elements); second k = the frame nearest t = k s (phase 0.0, the agent's); "
                  "phase 0.5 = t = k + 0.5 s (odd frames of a 2 frame/s decode)",
        "rule": {"window_secs": WINDOW_SECS, "image_rank": IMAGE_RANK, "image_alone_bar": IMAGE_ALONE_BAR,
                 "calibrated": "sigmoid(logit(p) - logit(threshold))",
                 "short_clips": "fewer seconds than a window: one window over all of them"},
        "clips": [{"clip": c.name, "source": c.source, "label": "accident" if c.label else "normal",
                   "duration_s": round(c.duration, 3), "native_fps": round(c.native_fps, 3),
                   "collision_window_s": collision_window(c)} for c in clips],
        "settings": vars(args) | {"out": str(args.out), "cache": str(args.cache)},
    }
    result["baseline"] = {"model": f"models/{SHIPPED}.onnx (shipped, onnxruntime)",
                          "sha256": common.sha256(MODELS / f"{SHIPPED}.onnx"), "threshold": t_ship,
                          "phases": rows_for(lambda c: ev[c.name]["p_shipped"], lambda c: t_ship)}
    for ph in phases:
        log(f"baseline phase {ph}: {result['baseline']['phases'][ph]['totals']}")

    variants = [v for v in args.cctv_variants.split(",") if v]
    import image_model as im

    for k in ("control_cctv_only", "training_data", "retrained_loso", "retrained_dad_dataset_out"):
        if k in prev:
            result[k] = prev[k]
    if not (args.skip_loso and args.skip_control and args.skip_dad_holdout):
        log(f"CCTV training features ({', '.join(variants)})")
        xc, yc, gc, n_img = cctv_features(variants, args.cache)
        log("dashcam training frames")
        keep = {}
        tr = {}
        for c in clips:
            fps = train_fps_of(c, args.train_fps, args.collision_fps)
            keep_fn = (lambda t, c=c: frame_labels(c, t) >= 0)
            tr[c.name] = ex.clip(c, fps, keep=keep_fn)
            keep[c.name] = int(tr[c.name]["n_decoded"])
            n_exp = expected_frames(c, fps)
            if keep[c.name] != n_exp:
                log(f"  note: {c.name} decoded {keep[c.name]} frames at {fps:g} fps, expected {n_exp}")
        result["training_data"] = {
            "cctv_images": n_img, "cctv_variants": variants, "cctv_rows": int(len(yc)),
            "dashcam_frames": {c.name: {"decoded": keep[c.name],
                                        "used": int(len(training_selection(c, tr[c.name]["times"], args.normal_stride)[0])),
                                        "label": "collision (1)" if c.label else "normal (0)",
                                        "fps": train_fps_of(c, args.train_fps, args.collision_fps)
                                        / (1 if c.label else args.normal_stride)} for c in clips},
        }

        def dash_rows(train_clips):
            xs, ys, gs = [], [], []
            for c in train_clips:
                # The cache holds the decoded frames that are not excluded (at their decode times).
                idx, lab = training_selection(c, tr[c.name]["times"], args.normal_stride)
                t = tr[c.name]["times"][idx]
                xs.append(tr[c.name]["features"][idx])
                ys.append(lab)
                gs.append(np.full(len(t), f"dash:{c.source}", dtype=object))
            return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)

        g_cctv = np.array([f"cctv:{g}" for g in gc], dtype=object)

        def fit(train_clips):
            if train_clips:
                xd, yd, gd = dash_rows(train_clips)
                x, y, g = np.concatenate([xc, xd]), np.concatenate([yc, yd]), np.concatenate([g_cctv, gd])
                is_dash = np.r_[np.zeros(len(yc), bool), np.ones(len(yd), bool)]
            else:
                x, y, g, is_dash = xc, yc, g_cctv, np.zeros(len(yc), bool)
            _, gid = np.unique(g.astype(str), return_inverse=True)
            return fit_and_threshold(x, y, gid, args.grid, is_dash)

        if not args.skip_control:
            log("control: the recipe on the CCTV images alone")
            layers, info, thr = fit([])
            log(f"  control head {info['head']} (CV {info['cv_log_loss']}), threshold {thr:.3f}, {info['fit_s']} s")
            pc = {c.name: im.head_predict(layers, ev[c.name]["features"]) for c in clips}
            result["control_cctv_only"] = {"head": info, "threshold": thr,
                                           "phases": rows_for(lambda c: pc[c.name], lambda c: thr)}
            for ph in phases:
                log(f"control phase {ph}: {result['control_cctv_only']['phases'][ph]['totals']}")

        if not args.skip_loso:
            folds = loso_folds(clips)
            preds, thr_of, fold_info = {}, {}, []
            for i, f in enumerate(folds):
                log(f"LOSO fold {i + 1}/{len(folds)}: hold out {f['held_out']} ({len(f['test'])} clip(s))")
                layers, info, thr = fit(f["train"])
                for c in f["test"]:
                    preds[c.name] = im.head_predict(layers, ev[c.name]["features"])
                    thr_of[c.name] = thr
                fold_info.append({"held_out": f["held_out"], "test_clips": [c.name for c in f["test"]],
                                  "train_clips": len(f["train"]), **info})
                log(f"  {info['head']} (CV {info['cv_log_loss']}), threshold {thr:.3f}, {info['fit_s']} s; "
                    + "; ".join(f"{c.name}: {np.round(preds[c.name][::2], 2).tolist()}" for c in f["test"]))
            result["retrained_loso"] = {
                "recipe": "image_model.py head candidates (grid " + args.grid + "), grouped 4-fold CV log-loss on "
                          "the training side (groups: one CCTV image with its variants; one dashcam source)",
                "folds": fold_info,
                "phases": rows_for(lambda c: preds[c.name], lambda c: thr_of[c.name]),
            }
            for ph in phases:
                log(f"retrained phase {ph}: {result['retrained_loso']['phases'][ph]['totals']}")

        if not args.skip_dad_holdout:
            # Leave-one-data-set-out: all DAD clips (one camera, one city, one source repository) at once,
            # so that "looks like DAD" cannot stand in for "collision".
            test = [c for c in clips if c.source.startswith("dad_")]
            train = [c for c in clips if not c.source.startswith("dad_")]
            log(f"DAD data set out: hold out {len(test)} DAD clips, train on {len(train)} other clips")
            layers, info, thr = fit(train)
            pd = {c.name: im.head_predict(layers, ev[c.name]["features"]) for c in test}
            out = {}
            for ph, sl in phases.items():
                rows = [clip_row(c, list(pd[c.name][sl]), thr, ev[c.name]["times"][sl]) for c in test]
                det = sum(r["accident"] for r in rows)
                out[ph] = {"clips": rows, "totals": {"accident_clips": len(rows), "detected": det,
                                                     "recall": round(det / len(rows), 4)}}
                log(f"DAD data set out phase {ph}: {det}/{len(rows)} detected; "
                    + "; ".join(f"{r['clip']}: {r['p_accident']}" for r in rows))
            result["retrained_dad_dataset_out"] = {
                "what": "one extra fold: all 7 DAD clips held out together; trained on CCTV + CCD + all normal clips",
                "head": info, "threshold": thr, "train_clips": [c.name for c in train], "phases": out}

    runs = prev.get("runs", [])
    runs.append({"command": result["command"], "date": result["date"], "run_time_s": round(time.time() - started, 1),
                 "cpu_time_s_main_process": round(time.process_time(), 1), "settings": result["settings"]})
    if prev.get("settings"):
        result["settings"] = prev["settings"]  # the settings of the run that made the kept sections
    result["runs"] = runs
    result["command"] = " && ".join(r["command"] for r in runs)  # all runs that made this file
    result["run_time_s"] = round(sum(r["run_time_s"] for r in runs), 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out} ({result['run_time_s']} s)")


if __name__ == "__main__":
    main()
