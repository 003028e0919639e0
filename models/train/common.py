"""Shared helpers for training: paths, onnxruntime sessions, metrics, thresholds, model cards."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
CACHE = MODELS / ".cache"
DATASETS = Path(os.environ.get("DASHLEDGER_DATASETS", ROOT.parent / "shared" / "datasets"))
BACKBONES = Path(os.environ.get("DASHLEDGER_BACKBONES", ROOT.parent / "shared" / "backbones"))
THREADS = int(os.environ.get("DASHLEDGER_THREADS", "2"))
SEED = 20261123

# The paper's cost model for the decision threshold, per decision unit (one frame or window whose
# positive decision triggers an upload). All in USD; stated in the model cards.
COST = {
    "fp_chain_usd": 0.30,  # Evidence Contract clone + initialise, ~140k gas on an L2 incl. L1 data fee
    "fp_cloud_usd": 0.02,  # ~60 MB ciphertext + thumbnails stored for a year (object storage)
    "fp_network_usd": 0.18,  # ~60 MB uplink over a metered mobile plan at ~3 USD/GB
    "fn_lost_evidence_usd": 200.0,  # value of accident footage that is never secured (claim, reward)
    "prior_accident": 0.005,  # share of decision units that really show an accident
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ort_session(path, threads: int = THREADS):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return {
        "n": int(len(y)),
        "threshold": round(float(threshold), 4),
        "accuracy": round((tp + tn) / len(y), 4),
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "f1": round(f1, 4),
        "roc_auc": round(auc, 4),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


def _candidates(p: np.ndarray) -> np.ndarray:
    grid = np.linspace(0.02, 0.98, 49)
    return np.unique(np.concatenate([grid, np.clip(np.asarray(p), 0.01, 0.99)]))


def best_f1_threshold(y, p) -> float:
    """Threshold maximising F1; ties go to the one closest to 0.5 (least over-fitted)."""
    best = (-1.0, 0.0, 0.5)
    for t in _candidates(p):
        f1 = metrics(y, p, t)["f1"]
        key = (f1, -abs(t - 0.5))
        if key > best[:2]:
            best = (f1, -abs(t - 0.5), t)
    return float(best[2])


def cost_threshold(y, p, cost=COST) -> tuple[float, float]:
    """Threshold minimising expected cost per decision unit at the stated prior; and that cost."""
    y = np.asarray(y).astype(int)
    c_fp = cost["fp_chain_usd"] + cost["fp_cloud_usd"] + cost["fp_network_usd"]
    c_fn = cost["fn_lost_evidence_usd"]
    pi = cost["prior_accident"]
    best = (np.inf, 0.0, 0.5)
    for t in _candidates(p):
        pred = np.asarray(p) >= t
        fpr = (pred & (y == 0)).sum() / max((y == 0).sum(), 1)
        fnr = (~pred & (y == 1)).sum() / max((y == 1).sum(), 1)
        c = (1 - pi) * fpr * c_fp + pi * fnr * c_fn
        key = (c, abs(t - 0.5))
        if key < best[:2]:
            best = (c, abs(t - 0.5), t)
    return float(best[2]), float(best[0])


def write_card(name: str, card: dict) -> Path:
    path = MODELS / f"{name}.card.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path
