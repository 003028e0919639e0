"""Trains the sound classifier: MFCC of 1-s windows -> small 1-D CNN (numpy, manual backprop)
-> ONNX (onnx.helper).

    python models/train/audio_model.py              train, export the ONNX, write the card
    python models/train/audio_model.py --cv [K]     K-fold recording-level cross-validation of the
                                                    recipe (default 4) into the card; no new ONNX
    python models/train/audio_model.py --cv 4 --try WIDTH=48 --try ENSEMBLE=1
                                                    the same for a variant of the recipe, as JSON
                                                    on stdout (the card is left alone)
    python models/train/audio_model.py --clips-only refresh the card's clip results (committed ONNX)

Label cleaning: crash recordings are labelled per file, and many of their windows hold no impact
(silence, music, talk before the crash). A crash-file window is kept as "accident" only when
  * it is not near-silent (RMS above SILENCE_DBFS) and its RMS level is within CRASH_REL_DB of the
    loudest window of the same file, and
  * for long recordings (> SHORT_FILE_S: the compilations), its onset strength (the largest rise
    of 10-ms frame energy over the mean of the previous 100 ms) is at least ONSET_DB. The short
    pre-cut 2.5-s segments are cut around the event and carry strong broadband noise (spectral
    flatness ~0.44, as do the normal vehicle segments) that masks onsets, so for them the level
    rule alone applies.
Other crash-file windows are dropped, except, in the long compilations (dashcam recordings),
windows at least INCAR_BELOW_PEAK_DB quieter than the file's loudest window, without an onset and
more than INCAR_MARGIN_S away from any kept crash window: those are in-car driving sound between
crashes and become *normal* ("in-car") windows. Normal files keep all windows. Validation holds
out whole recordings (`recording_of`, `split_files`: ~20 % of each family's files, fixed seed).

None of the data is recorded inside a car driving normally, and a dashcam hears mostly cabin noise
(engine harmonics, tyre and wind rumble): N_SYNTH synthetic cabin-noise windows (`cabin_noise`)
are added as normal training windows, and half of the crash augmentations mix the crash over
in-car or synthetic cabin noise. They were added after the shared dashcam clip was found flagged
(see the model card): that clip is not an independent test of this model.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import features as F  # noqa: E402
from common import CACHE, DATASETS, MODELS, log  # noqa: E402

NAME = "accident-audio-mfcc-cnn"
CRASH_REL_DB = 10.0
ONSET_DB = 6.0
SHORT_FILE_S = 3.0
SILENCE_DBFS = -45.0
INCAR_BELOW_PEAK_DB = 15.0  # in-car negatives: this much quieter than the compilation's peak ...
INCAR_MARGIN_S = 1.5  # ... and this far from any kept crash window
N_SYNTH = 400  # synthetic cabin-noise windows (training only)
SYNTH_LEVEL_DBFS = (-55.0, -18.0)
# Augmented copies' level: "scale" = gain 0.05-1 (shipped); "target" = a random level of -40..-6
# dBFS; "loud-normals" = half the normal copies at -14..-6 dBFS. The alternatives are measured in
# the model card's limitations.
LEVEL_AUG = "scale"
CABIN_MIX_SHARE = 0.5  # share of crash augmentations mixed over in-car / synthetic cabin noise
WIDTH = 32  # channels of each CNN's conv layers
ENSEMBLE = 5  # CNNs trained from different seeds; the ONNX graph averages their probabilities
TRAIN_HOP = 8000  # 0.5 s overlap for training windows; validation uses the agent's 1-s steps
MIN_REAL = 8000  # a padded tail window needs at least 0.5 s of real audio
SOURCES = {
    "crash/segments": 1, "crash/compilations": 1, "crash/game_sfx": 1,
    "normal/vehicle_segments": 0, "normal/long": 0, "normal/passby": 0, "normal/game_sfx": 0,
}


def load(path: Path) -> np.ndarray:
    import soundfile as sf

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sr != F.SAMPLE_RATE:
        raise SystemExit(f"{path}: {sr} Hz, expected {F.SAMPLE_RATE}")
    return x.mean(1)


def windows(x: np.ndarray, hop: int) -> list[np.ndarray]:
    out = []
    for start in range(0, max(len(x), 1), hop):
        chunk = x[start:start + F.WINDOW]
        if len(chunk) < MIN_REAL and start > 0:
            break
        w = np.zeros(F.WINDOW, np.float32)
        w[:len(chunk)] = chunk
        out.append(w)
        if start + F.WINDOW >= len(x):
            break
    return out


def rms_db(w: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(w.astype(np.float64) ** 2) + 1e-10))


def onset_db(w: np.ndarray) -> float:
    idx = np.arange(F.N_FRAMES)[:, None] * F.HOP + np.arange(F.WIN_LENGTH)[None, :]
    e = 10 * np.log10((w.astype(np.float64)[idx] ** 2).mean(1) + 1e-10)
    rise = [e[t] - e[t - 10:t].mean() for t in range(10, len(e))]
    return float(max(rise))


def recording_of(path: Path) -> str:
    """The recording a file was cut from, so that no recording feeds both training and validation:
    `crash/segments/4_segment_7` and `crash/compilations/4` are the same YouTube compilation,
    `normal/vehicle_segments/Bus_..._093_segment_2` and `normal/long/bus__Bus_..._093` the same
    bus recording."""
    stem = path.stem
    folder = path.parent.name
    if folder in ("segments", "compilations"):
        return "crash compilation " + stem.split("_segment_")[0].rstrip("_")
    if folder in ("vehicle_segments", "long"):
        return "vehicle recording " + stem.split("_segment_")[0].split("__")[-1].rstrip("_")
    return f"{folder}/{stem}"


# Sources split together (files of one recording can sit in two folders of a family).
FAMILIES = {
    "crash compilations": ["crash/segments", "crash/compilations"],
    "crash game effects": ["crash/game_sfx"],
    "vehicle recordings": ["normal/vehicle_segments", "normal/long"],
    "pass-by recordings": ["normal/passby"],
    "road game effects": ["normal/game_sfx"],
}
VAL_SHARE = (0.15, 0.30)  # validation takes whole recordings until 15 % of a family's files, never over 30 %


def family_recordings(folders: list[str]) -> tuple[list[Path], dict[str, list[Path]]]:
    """A family's files (sorted) and the same files grouped by the recording they come from."""
    files = [f for src in folders for f in sorted((DATASETS / "audio" / src).glob("*.flac"))]
    groups: dict[str, list[Path]] = {}
    for f in files:
        groups.setdefault(recording_of(f), []).append(f)
    return files, groups


def split_files(seed: int) -> dict[str, list[tuple[Path, int]]]:
    """Validation holds out whole recordings (see `recording_of`), ~20 % of each family's files."""
    rng = np.random.default_rng(seed)
    out = {"train": [], "val": []}
    for family, folders in FAMILIES.items():
        files, groups = family_recordings(folders)
        names = sorted(groups)
        val: set[str] = set()
        n_val = 0
        for i in rng.permutation(len(names)):
            if n_val >= VAL_SHARE[0] * len(files):
                break
            if n_val + len(groups[names[i]]) <= VAL_SHARE[1] * len(files):
                val.add(names[i])
                n_val += len(groups[names[i]])
        if not val:  # a family of a few recordings: hold out its smallest one
            val.add(min(names, key=lambda n: (len(groups[n]), n)))
        for name in names:
            for f in groups[name]:
                out["val" if name in val else "train"].append((f, SOURCES[f.parent.relative_to(DATASETS / "audio").as_posix()]))
    return out


def prepare(items, hop: int):
    """Per kept window: waveform, label, file index, source ("crash/segments", ..., "in-car"),
    plus cleaning statistics."""
    wins, labels, groups, sources = [], [], [], []
    stats = {"crash_windows_kept": 0, "crash_windows_dropped": 0, "incar_windows": 0}
    margin = int(INCAR_MARGIN_S * F.SAMPLE_RATE // hop)
    for fi, (path, label) in enumerate(items):
        x = load(path)
        ws = windows(x, hop)
        src = path.parent.relative_to(DATASETS / "audio").as_posix()
        if label == 1:
            levels = np.array([rms_db(w) for w in ws])
            onsets = np.array([onset_db(w) for w in ws])
            top = levels.max()
            long_file = len(x) > SHORT_FILE_S * F.SAMPLE_RATE
            keep = (levels >= top - CRASH_REL_DB) & (levels > SILENCE_DBFS)
            if long_file:
                keep &= onsets >= ONSET_DB
            near = np.convolve(keep.astype(int), np.ones(2 * margin + 1, int), "same") > 0
            for i, w in enumerate(ws):
                if keep[i]:
                    wins.append(w); labels.append(1); groups.append(fi); sources.append(src)
                    stats["crash_windows_kept"] += 1
                elif (long_file and not near[i] and levels[i] <= top - INCAR_BELOW_PEAK_DB
                      and onsets[i] < ONSET_DB and levels[i] > SILENCE_DBFS):
                    wins.append(w); labels.append(0); groups.append(fi); sources.append("in-car")
                    stats["incar_windows"] += 1
                else:
                    stats["crash_windows_dropped"] += 1
        else:
            for w in ws:
                wins.append(w); labels.append(0); groups.append(fi); sources.append(src)
    return np.stack(wins), np.array(labels), np.array(groups), np.array(sources), stats


def cabin_noise(rng: np.random.Generator, n: int = F.WINDOW) -> np.ndarray:
    """One synthetic window of in-car noise: 1/f^a noise with a random low-pass (tyres, wind), an
    engine's harmonic series at 22-120 Hz with a little drift, sometimes one or two steady tones
    (whine, fans), slow amplitude wobble, at SYNTH_LEVEL_DBFS. Stationary by construction: what
    it teaches is "steady cabin sound is not an accident"."""
    f = np.fft.rfftfreq(n, 1 / F.SAMPLE_RATE)
    f[0] = 1.0
    slope, cutoff = rng.uniform(0.8, 2.2), rng.uniform(150, 2500)
    spec = ((rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f)))
            / f ** (slope / 2) / np.sqrt(1 + (f / cutoff) ** 4))
    x = np.fft.irfft(spec, n)
    x /= np.sqrt(np.mean(x**2)) + 1e-12
    t = np.arange(n) / F.SAMPLE_RATE
    f0 = rng.uniform(22, 120) * (1 + rng.uniform(-0.02, 0.02) * t)
    phase = 2 * np.pi * np.cumsum(f0) / F.SAMPLE_RATE
    engine = sum(rng.uniform(0.2, 1.0) / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
                 for k in range(1, int(rng.integers(3, 9))))
    x = x + engine * rng.uniform(0.3, 3.0) / (np.sqrt(np.mean(engine**2)) + 1e-12)
    for _ in range(int(rng.integers(0, 3))):
        x = x + rng.uniform(0.05, 0.6) * np.sin(2 * np.pi * rng.uniform(300, 4000) * t + rng.uniform(0, 2 * np.pi))
    x *= 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t)
    x *= 10 ** (rng.uniform(*SYNTH_LEVEL_DBFS) / 20) / (np.sqrt(np.mean(x**2)) + 1e-12)
    return np.clip(x, -1, 1).astype(np.float32)


def mfcc_all(wins: np.ndarray) -> np.ndarray:
    return np.stack([F.mfcc_window(w) for w in wins])


# ---------------------------------------------------------------- a tiny 1-D CNN in numpy


class Conv1d:
    def __init__(self, c_in, c_out, k, stride, pad, rng):
        self.k, self.s, self.p = k, stride, pad
        self.W = (rng.standard_normal((c_in * k, c_out)) * np.sqrt(2.0 / (c_in * k))).astype(np.float64)
        self.b = np.zeros(c_out)

    def forward(self, x):
        n, c, t = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (self.p, self.p)))
        t_out = (t + 2 * self.p - self.k) // self.s + 1
        self.idx = np.arange(t_out)[:, None] * self.s + np.arange(self.k)[None, :]
        cols = xp[:, :, self.idx].transpose(0, 2, 1, 3).reshape(n * t_out, c * self.k)
        self.cache = (x.shape, xp.shape, cols, t_out)
        out = cols @ self.W + self.b
        return out.reshape(n, t_out, -1).transpose(0, 2, 1)

    def backward(self, dout):
        (n, c, t), xp_shape, cols, t_out = self.cache
        d2 = dout.transpose(0, 2, 1).reshape(n * t_out, -1)
        self.dW = cols.T @ d2
        self.db = d2.sum(0)
        dcols = (d2 @ self.W.T).reshape(n, t_out, c, self.k)
        dxp = np.zeros(xp_shape)
        for kk in range(self.k):
            dxp[:, :, self.idx[:, kk]] += dcols[:, :, :, kk].transpose(0, 2, 1)
        return dxp[:, :, self.p:self.p + t]

    def onnx_weight(self):
        c_out = self.W.shape[1]
        return self.W.reshape(-1, self.k, c_out).transpose(2, 0, 1)


class Net:
    def __init__(self, rng, width=32):
        self.c1 = Conv1d(F.N_MFCC, width, 5, 1, 2, rng)
        self.c2 = Conv1d(width, width, 5, 2, 2, rng)
        self.w = rng.standard_normal(2 * width) * np.sqrt(1.0 / (2 * width))
        self.b = 0.0

    def forward(self, x):
        self.h1 = np.maximum(self.c1.forward(x), 0)
        self.h2 = np.maximum(self.c2.forward(self.h1), 0)
        self.am = self.h2.argmax(2)
        self.g = np.concatenate([self.h2.mean(2), self.h2.max(2)], 1)
        return self.g @ self.w + self.b

    def backward(self, dlogit):
        n, c, t = self.h2.shape
        self.dw = self.g.T @ dlogit
        self.dbias = dlogit.sum()
        dg = np.outer(dlogit, self.w)
        dh2 = np.repeat(dg[:, :c, None] / t, t, axis=2)
        np.add.at(dh2, (np.arange(n)[:, None], np.arange(c)[None, :], self.am), dg[:, c:])
        dh2 *= self.h2 > 0
        dh1 = self.c2.backward(dh2) * (self.h1 > 0)
        self.c1.backward(dh1)

    def params(self):
        return [(self.c1, "W", "dW"), (self.c1, "b", "db"), (self.c2, "W", "dW"), (self.c2, "b", "db"),
                (self, "w", "dw"), (self, "b", "dbias")]


def train_net(x, y, rng, epochs=30, batch=64, lr=2e-3, wd=1e-4):
    net = Net(rng, WIDTH)
    pos_w = (y == 0).sum() / max((y == 1).sum(), 1)
    m = {(id(o), a): 0.0 for o, a, _ in net.params()}
    v = dict(m)
    step = 0
    for ep in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for i in range(0, len(x), batch):
            bi = order[i:i + batch]
            logit = net.forward(x[bi])
            p = 1 / (1 + np.exp(-logit))
            wt = np.where(y[bi] == 1, pos_w, 1.0)
            total += float(-(wt * (y[bi] * np.log(p + 1e-9) + (1 - y[bi]) * np.log(1 - p + 1e-9))).sum())
            net.backward(wt * (p - y[bi]) / len(bi))
            step += 1
            lr_t = lr * (0.5 * (1 + np.cos(np.pi * ep / epochs)))
            for obj, a, ga in net.params():
                key = (id(obj), a)
                g = getattr(obj, ga) + wd * getattr(obj, a)
                m[key] = 0.9 * m[key] + 0.1 * g
                v[key] = 0.999 * v[key] + 0.001 * g * g
                mh, vh = m[key] / (1 - 0.9**step), v[key] / (1 - 0.999**step)
                setattr(obj, a, getattr(obj, a) - lr_t * mh / (np.sqrt(vh) + 1e-8))
        if ep % 5 == 4 or ep == epochs - 1:
            log(f"  epoch {ep + 1}/{epochs}: weighted BCE {total / len(x):.4f}")
    return net


def predict(net, x, batch=512):
    return np.concatenate([1 / (1 + np.exp(-net.forward(x[i:i + batch]))) for i in range(0, len(x), batch)])


def predict_all(nets, x) -> np.ndarray:
    """The ensemble's probability: the mean of its members' (as the exported graph computes)."""
    return np.mean([predict(n, x) for n in nets], 0)


def export(nets, mu, sd, path: Path) -> None:
    """One ONNX graph: standardise, then every member CNN, then the mean of their sigmoids."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    inits = [
        numpy_helper.from_array(f32(mu).reshape(1, -1, 1), "mu"),
        numpy_helper.from_array(f32(sd).reshape(1, -1, 1), "sd"),
        numpy_helper.from_array(f32([1.0 / len(nets)]), "inv_k"),
    ]
    nodes = [
        helper.make_node("Sub", ["mfcc", "mu"], ["x0"]),
        helper.make_node("Div", ["x0", "sd"], ["x1"]),
    ]
    outs = []
    for k, net in enumerate(nets):
        n = lambda name: f"m{k}_{name}"  # noqa: E731
        inits += [
            numpy_helper.from_array(f32(net.c1.onnx_weight()), n("c1_w")),
            numpy_helper.from_array(f32(net.c1.b), n("c1_b")),
            numpy_helper.from_array(f32(net.c2.onnx_weight()), n("c2_w")),
            numpy_helper.from_array(f32(net.c2.b), n("c2_b")),
            numpy_helper.from_array(f32(net.w).reshape(-1, 1), n("fc_w")),
            numpy_helper.from_array(f32([net.b]), n("fc_b")),
        ]
        nodes += [
            helper.make_node("Conv", ["x1", n("c1_w"), n("c1_b")], [n("h1")], kernel_shape=[5], pads=[2, 2], strides=[1]),
            helper.make_node("Relu", [n("h1")], [n("r1")]),
            helper.make_node("Conv", [n("r1"), n("c2_w"), n("c2_b")], [n("h2")], kernel_shape=[5], pads=[2, 2], strides=[2]),
            helper.make_node("Relu", [n("h2")], [n("r2")]),
            helper.make_node("GlobalAveragePool", [n("r2")], [n("gavg")]),
            helper.make_node("GlobalMaxPool", [n("r2")], [n("gmax")]),
            helper.make_node("Concat", [n("gavg"), n("gmax")], [n("g")], axis=1),
            helper.make_node("Flatten", [n("g")], [n("gf")], axis=1),
            helper.make_node("Gemm", [n("gf"), n("fc_w"), n("fc_b")], [n("logit")]),
            helper.make_node("Sigmoid", [n("logit")], [n("p")]),
        ]
        outs.append(n("p"))
    acc = outs[0]
    for k, o in enumerate(outs[1:], 1):
        nodes.append(helper.make_node("Add", [acc, o], [f"sum{k}"]))
        acc = f"sum{k}"
    nodes.append(helper.make_node("Mul", [acc, "inv_k"], ["p_accident"]))
    graph = helper.make_graph(
        nodes, NAME,
        [helper.make_tensor_value_info("mfcc", TensorProto.FLOAT, ["N", F.N_MFCC, F.N_FRAMES])],
        [helper.make_tensor_value_info("p_accident", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="dashledger")
    model.ir_version = 7
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString(deterministic=True))


def mix(a: np.ndarray, b: np.ndarray, snr_db: float) -> np.ndarray:
    pa, pb = np.mean(a**2) + 1e-10, np.mean(b**2) + 1e-10
    return a + b * np.sqrt(pa / (pb * 10 ** (snr_db / 10)))


def agent_windows(samples: np.ndarray) -> np.ndarray:
    """1-s windows cut like the agent: consecutive, the last partial one zero-padded, dropped when
    shorter than 0.25 s."""
    ws = [samples[i:i + F.WINDOW] for i in range(0, len(samples), F.WINDOW)]
    return np.stack([np.pad(w, (0, F.WINDOW - len(w))) for w in ws if len(w) >= F.WINDOW // 4])


def clip_results(predict_mfcc, threshold: float) -> dict:
    """Clip level on the shared videos' soundtracks, decoded like agent/src/decode.rs (GStreamer
    `decodebin ! audioconvert ! audioresample` to F32 mono 16 kHz), cut like the agent (1-s windows,
    last partial window zero-padded, dropped when shorter than 0.25 s), MFCC, model."""
    import agent_view

    clips = {}
    for video in sorted((DATASETS / "videos").glob("*.mp4")):
        samples = agent_view.agent_audio(video)
        if samples is None or len(samples) == 0:
            clips[video.name] = {"windows": 0, "decision": "no audio track"}
            continue
        ws = agent_windows(samples)
        probs = predict_mfcc(mfcc_all(ws))
        clips[video.name] = {
            "decode": "GStreamer decodebin ! audioconvert ! audioresample ! F32 mono 16 kHz (the agent's elements)",
            "windows": len(ws),
            "p_accident": [round(float(v), 3) for v in probs],
            "accident_windows": int((probs >= threshold).sum()),
            "decision": "accident" if (probs >= threshold).any() else "normal",
        }
        log(f"clip {video.name}: {clips[video.name]}")
    return clips


def cabin_mix_results(predict_mfcc, threshold: float, val_items) -> dict:
    """The deployment case with crashes the model never heard: every held-out `crash/segments`
    recording is mixed, at its own level, into the shared dashcam clip's soundtrack (decoded like
    the agent) 5 s in; the clip is cut into the agent's 1-s windows. Detected = some window at or
    above the threshold. The same clip without a crash is the false-positive check."""
    import agent_view

    bed = agent_view.agent_audio(DATASETS / "videos" / "normal_dashcam.mp4")
    if bed is None or len(bed) == 0:
        return {}

    rows = {}
    for path, label in val_items:
        if label != 1 or path.parent.name != "segments":
            continue
        crash = load(path)
        x = bed.copy()
        at = 5 * F.SAMPLE_RATE
        n = min(len(crash), len(x) - at)
        x[at:at + n] = np.clip(x[at:at + n] + crash[:n], -1, 1)
        rows[path.name] = round(float(predict_mfcc(mfcc_all(agent_windows(x))).max()), 3)
    p_bed = predict_mfcc(mfcc_all(agent_windows(bed)))
    out = {
        "bed": "normal_dashcam.mp4 soundtrack (GStreamer, as the agent decodes it)",
        "crashes": len(rows),
        "detected": int(sum(v >= threshold for v in rows.values())),
        "max_p_by_crash": rows,
        "bed_alone_max_p": round(float(p_bed.max()), 3),
        "bed_alone_windows_flagged": int((p_bed >= threshold).sum()),
    }
    log(f"cabin mix: {out['detected']}/{out['crashes']} held-out crashes detected; bed alone max {out['bed_alone_max_p']}")
    return out


def refresh_clips() -> None:
    """`--clips-only`: recompute the card's clip-level results with the committed ONNX (no retraining)."""
    card_path = MODELS / f"{NAME}.card.json"
    card = json.loads(card_path.read_text())
    sess = common.ort_session(MODELS / card["file"])
    card["metrics"]["clips"] = clip_results(
        lambda x: np.array([sess.run(None, {"mfcc": x[i:i + 1].astype(np.float32)})[0][0, 0] for i in range(len(x))]),
        card["thresholds"]["cost_model"])
    common.write_card(NAME, card)


def training_set(train_items, rng: np.random.Generator):
    """Training windows of `train_items` (cleaned, 0.5-s hop) plus the synthetic cabin-noise
    windows, and the augmented copies: crash windows over road noise or (CABIN_MIX_SHARE of the
    time) in-car / synthetic cabin noise, at lower gain; normal + normal mixes.
    Returns (windows, labels, sources, stats, augmented windows, augmented labels)."""
    wtr, ytr, _, src_tr, stats_tr = prepare(train_items, TRAIN_HOP)
    synth = np.stack([cabin_noise(rng) for _ in range(N_SYNTH)])
    wtr = np.concatenate([wtr, synth])
    ytr = np.concatenate([ytr, np.zeros(N_SYNTH, int)])
    src_tr = np.concatenate([src_tr, np.array(["synthetic cabin"] * N_SYNTH)])
    normals = wtr[ytr == 0]
    cabin = wtr[np.isin(src_tr, ["in-car", "synthetic cabin"])]
    aug, yaug = [], []
    for w, lab in zip(wtr, ytr):
        copies = 2 if lab == 1 else 1
        for _ in range(copies):
            if lab == 1 and rng.random() < CABIN_MIX_SHARE:
                other, snr = cabin[rng.integers(len(cabin))], rng.uniform(0, 15)
            else:
                other = normals[rng.integers(len(normals))]
                snr = rng.uniform(0, 15) if lab == 1 else rng.uniform(-5, 5)
            a = mix(w, other, snr)
            if LEVEL_AUG == "target":
                a = a * 10 ** (rng.uniform(-40, -6) / 20) / (np.sqrt(np.mean(a**2)) + 1e-9)
            elif LEVEL_AUG == "loud-normals" and lab == 0 and rng.random() < 0.5:
                a = a * 10 ** (rng.uniform(-14, -6) / 20) / (np.sqrt(np.mean(a**2)) + 1e-9)
            else:
                a = a * rng.uniform(0.05, 1.0)
            aug.append(np.clip(a, -1, 1).astype(np.float32)); yaug.append(lab)
    return wtr, ytr, src_tr, stats_tr, np.stack(aug), np.array(yaug)


def cached_mfcc(name: str, wtr: np.ndarray, aug: np.ndarray, wva: np.ndarray):
    """MFCCs of the training, augmented and validation windows, cached in CACHE/features/NAME.npz
    (the name must change whenever the windows do)."""
    cache = CACHE / "features" / f"{name}.npz"
    if cache.exists():
        d = np.load(cache)
        return d["xtr"], d["xaug"], d["xva"]
    log("computing MFCC (numpy twin of the detect crate)")
    xtr, xaug, xva = mfcc_all(wtr), mfcc_all(aug), mfcc_all(wva)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, xtr=xtr, xaug=xaug, xva=xva)
    return xtr, xaug, xva


def fit_ensemble(xtr, xaug, ytr, yaug, n: int):
    """Standardisation statistics over all training MFCCs, then `n` CNNs from seeds SEED.. .
    Returns (nets, mu, sd, predict: raw MFCC -> mean probability)."""
    x = np.concatenate([xtr, xaug]).astype(np.float64)
    y = np.concatenate([ytr, yaug]).astype(np.float64)
    mu = x.mean((0, 2))
    sd = x.std((0, 2)) + 1e-6
    norm = lambda a: (a - mu[None, :, None]) / sd[None, :, None]  # noqa: E731
    nets = []
    for k in range(n):
        log(f"training CNN {k + 1}/{n} on {len(x)} windows ({int(y.sum())} accident)")
        nets.append(train_net(norm(x), y, np.random.default_rng(common.SEED + k)))
    return nets, mu, sd, lambda a: predict_all(nets, norm(a.astype(np.float64)))


def recipe_hash() -> str:
    """Fingerprint of the training recipe (the code of this script, the MFCC twin and the shared
    helpers; comments and layout do not count): a cross-validation result is carried into a
    retrained card only while the recipe is unchanged."""
    import ast

    h = hashlib.sha256()
    for f in ("audio_model.py", "features.py", "common.py"):
        h.update(ast.dump(ast.parse((Path(__file__).resolve().parent / f).read_text())).encode())
    return h.hexdigest()[:16]


def cv_folds(k: int, seed: int) -> list[dict[str, list[tuple[Path, int]]]]:
    """Recording-level k-fold split: fold i holds out the i-th crash compilation (there are 4, so
    k=4 is leave-one-compilation-out) and, per other family, every k-th recording of a seeded
    permutation. Every file of a recording sits in exactly one fold."""
    rng = np.random.default_rng(seed)
    held: list[list[tuple[Path, int]]] = [[] for _ in range(k)]
    for family, folders in FAMILIES.items():
        _, groups = family_recordings(folders)
        names = sorted(groups)
        order = range(len(names)) if family == "crash compilations" else rng.permutation(len(names))
        for j, i in enumerate(order):
            for f in groups[names[i]]:
                held[j % k].append((f, SOURCES[f.parent.relative_to(DATASETS / "audio").as_posix()]))
    return [{"train": [it for j, other in enumerate(held) if j != i for it in other], "val": fold}
            for i, fold in enumerate(held)]


def cross_validate(k: int, variant: str = "") -> dict:
    """`--cv K`: the whole recipe (cleaning, synthetic cabin noise, augmentation, the ensemble)
    retrained K times, each time evaluated on recordings it never heard. Shows how much the single
    validation split's figures move with the choice of held-out recordings."""
    recipe = recipe_hash()
    aug_key = hashlib.sha256(f"{LEVEL_AUG} {CABIN_MIX_SHARE}".encode()).hexdigest()[:8]
    rows, all_y, all_p = [], [], []
    for i, fold in enumerate(cv_folds(k, common.SEED)):
        crash = sorted({recording_of(p) for p, lab in fold["val"] if lab == 1 and p.parent.name != "game_sfx"})
        log(f"fold {i + 1}/{k}: holds out {', '.join(crash)} and {len(fold['val'])} files in all")
        rng = np.random.default_rng(common.SEED + 1000 * (i + 1))
        wtr, ytr, _, _, aug, yaug = training_set(fold["train"], rng)
        wva, yva, _, _, _ = prepare(fold["val"], F.WINDOW)
        xtr, xaug, xva = cached_mfcc(f"audio-cv-{recipe}-{aug_key}-{k}-{i}", wtr, aug, wva)
        _, _, _, ens = fit_ensemble(xtr, xaug, ytr, yaug, ENSEMBLE)
        p = ens(xva)
        t_cost, _ = common.cost_threshold(yva, p)
        t_f1 = common.best_f1_threshold(yva, p)
        row = {"held_out_crash_recordings": crash, "files": len(fold["val"]),
               "at_0.5": common.metrics(yva, p, 0.5),
               "at_cost_threshold": common.metrics(yva, p, t_cost),
               "at_best_f1_threshold": common.metrics(yva, p, t_f1)}
        log(f"  fold {i + 1}: AUC {row['at_0.5']['roc_auc']}, @0.5 acc {row['at_0.5']['accuracy']} "
            f"F1 {row['at_0.5']['f1']}; best F1 {row['at_best_f1_threshold']['f1']}")
        rows.append(row)
        all_y.append(yva); all_p.append(p)
    y, p = np.concatenate(all_y), np.concatenate(all_p)
    return {
        "recipe": recipe + (f" with {variant}" if variant else ""),
        "folds": k,
        "split": "recording-level; fold i holds out crash compilation i and every k-th recording of the other families",
        "per_fold": rows,
        "pooled_at_0.5": common.metrics(y, p, 0.5),
        "pooled_at_best_f1_threshold": common.metrics(y, p, common.best_f1_threshold(y, p)),
    }


def refresh_cv(k: int) -> None:
    """Writes `cross_validate(k)` into the committed card (no change to the shipped ONNX)."""
    card = json.loads((MODELS / f"{NAME}.card.json").read_text())
    card["metrics"]["cross_validation"] = cross_validate(k)
    common.write_card(NAME, card)


KNOBS = {"WIDTH": int, "ENSEMBLE": int, "CABIN_MIX_SHARE": float, "LEVEL_AUG": str}


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Train the sound model, or cross-validate its recipe.")
    ap.add_argument("--cv", type=int, nargs="?", const=4, metavar="K",
                    help="K-fold recording-level cross-validation (default 4) into the card; no new ONNX")
    ap.add_argument("--try", dest="knobs", action="append", default=[], metavar="NAME=VALUE",
                    help=f"with --cv: cross-validate a variant of the recipe ({', '.join(KNOBS)}) and print "
                         "the result as JSON on stdout instead of writing the card")
    ap.add_argument("--clips-only", action="store_true",
                    help="refresh the card's clip-level results with the committed ONNX")
    args = ap.parse_args()
    if args.knobs and args.cv is None:
        ap.error("--try needs --cv")
    for knob in args.knobs:
        name, _, value = knob.partition("=")
        if name not in KNOBS or not value:
            ap.error(f"--try {knob}: expected NAME=VALUE with NAME one of {', '.join(KNOBS)}")
        if name == "LEVEL_AUG" and value not in ("scale", "target", "loud-normals"):
            ap.error(f"--try {knob}: LEVEL_AUG is one of scale, target, loud-normals")
        globals()[name] = KNOBS[name](value)
    if args.cv is not None and args.knobs:
        print(json.dumps(cross_validate(args.cv, variant=",".join(sorted(args.knobs))), indent=1))
        return
    if args.cv is not None:
        refresh_cv(args.cv)
        return
    if args.clips_only:
        refresh_clips()
        return
    rng = np.random.default_rng(common.SEED)
    split = split_files(common.SEED)
    log(f"files: train {len(split['train'])}, val {len(split['val'])} (held out by recording)")
    wtr, ytr, src_tr, stats_tr, aug, yaug = training_set(split["train"], rng)
    wva, yva, gva, src_va, stats_va = prepare(split["val"], F.WINDOW)
    log(f"train windows {len(wtr)} ({stats_tr}); val windows {len(wva)} ({stats_va})")
    normals = wtr[ytr == 0]
    xtr, xaug, xva = cached_mfcc(
        f"audio-v2-{LEVEL_AUG}-{CABIN_MIX_SHARE}-{len(wtr)}-{len(wva)}-{len(aug)}-{common.SEED}", wtr, aug, wva)
    nets, mu, sd, ens = fit_ensemble(xtr, xaug, ytr, yaug, ENSEMBLE)

    p = ens(xva)
    t_f1 = common.best_f1_threshold(yva, p)
    t_cost, exp_cost = common.cost_threshold(yva, p)
    m_cost, m_f1, m_half = (common.metrics(yva, p, t) for t in (t_cost, t_f1, 0.5))
    log(f"val @cost {t_cost:.3f}: {m_cost}")
    log(f"val @bestF1 {t_f1:.3f}: {m_f1}")
    train_m = common.metrics(ytr, ens(xtr), t_cost)
    val_by_source = {}
    for src in sorted(set(src_va)):
        sel = src_va == src
        val_by_source[src] = {"windows": int(sel.sum()), "label": int(yva[sel][0]),
                              "at_or_above_threshold": int((p[sel] >= t_cost).sum())}

    # File level on held-out files: every 1-s window, no cleaning; a file is "accident" if any
    # window reaches the threshold.
    file_y, file_p, per_source = [], [], {}
    for path, label in split["val"]:
        ws = windows(load(path), F.WINDOW)
        pf = float(ens(mfcc_all(np.stack(ws))).max())
        file_y.append(label); file_p.append(pf)
        src = path.parent.relative_to(DATASETS / "audio").as_posix()
        s = per_source.setdefault(src, {"files": 0, "flagged": 0})
        s["files"] += 1
        s["flagged"] += int(pf >= t_cost)
    file_m = common.metrics(np.array(file_y), np.array(file_p), t_cost)
    log(f"val files @cost: {file_m}")

    # Robustness: the held-out clean windows at lower gain and under road noise.
    robust = {}
    for label_, fn in {
        "gain_-20dB": lambda w: w * 0.1,
        "noise_snr_10dB": lambda w: mix(w, normals[rng.integers(len(normals))], 10),
        "noise_snr_0dB": lambda w: mix(w, normals[rng.integers(len(normals))], 0),
    }.items():
        xr = mfcc_all(np.stack([np.clip(fn(w), -1, 1).astype(np.float32) for w in wva]))
        robust[label_] = common.metrics(yva, ens(xr), t_cost)
        log(f"  robustness {label_}: acc {robust[label_]['accuracy']} f1 {robust[label_]['f1']}")

    out = MODELS / f"{NAME}.onnx"
    export(nets, mu, sd, out)

    clips = clip_results(ens, t_cost)
    cabin_mix = cabin_mix_results(ens, t_cost, split["val"])

    card = {
        "schema_version": 1,
        "name": NAME,
        "kind": "audio",
        "file": f"{NAME}.onnx",
        "sha256": common.sha256(out),
        "input": {"name": "mfcc", "layout": "NCT", "shape": [1, F.N_MFCC, F.N_FRAMES]},
        "output": {"name": "p_accident", "shape": [1, 1]},
        "labels": ["normal", "accident"],
        "positive_label": "accident",
        "thresholds": {"cost_model": round(t_cost, 4), "best_f1": round(t_f1, 4), "use": "cost_model"},
        "audio": {
            "sample_rate": F.SAMPLE_RATE, "window_samples": F.WINDOW, "n_fft": F.N_FFT,
            "win_length": F.WIN_LENGTH, "hop_length": F.HOP, "n_mels": F.N_MELS, "n_mfcc": F.N_MFCC,
            "f_min": F.F_MIN, "f_max": F.F_MAX, "log_offset": F.LOG_OFFSET,
        },
        "cost_model": {**common.COST, "expected_cost_usd_per_unit": round(exp_cost, 4)},
        "cleaning": {
            "crash_rel_db": CRASH_REL_DB, "onset_db": ONSET_DB, "silence_dbfs": SILENCE_DBFS,
            "onset_rule_for_files_longer_than_s": SHORT_FILE_S,
            "incar_below_peak_db": INCAR_BELOW_PEAK_DB, "incar_margin_s": INCAR_MARGIN_S,
            "train": stats_tr, "val": stats_va,
        },
        "training": {
            "files": len(split["train"]), "windows": int(len(wtr)), "augmented_windows": len(aug),
            "synthetic_cabin_windows": N_SYNTH, "synthetic_level_dbfs": list(SYNTH_LEVEL_DBFS),
            "ensemble": ENSEMBLE,
            "architecture": f"mean of {ENSEMBLE} CNNs (seeds {common.SEED}..{common.SEED + ENSEMBLE - 1}), each "
                            "Conv1d(13->32,k5) ReLU, Conv1d(32->32,k5,s2) ReLU, global avg+max pool, dense->sigmoid",
            "optimiser": "Adam, 30 epochs, batch 64, cosine lr 2e-3, weight decay 1e-4, class-weighted BCE",
            "seed": common.SEED,
        },
        "metrics": {
            "validation_windows_at_cost_threshold": m_cost,
            "validation_windows_at_best_f1_threshold": m_f1,
            "validation_windows_at_0.5": m_half,
            "validation_files_at_cost_threshold": file_m,
            "validation_files_by_source": per_source,
            "validation_windows_by_source": val_by_source,
            "train_windows_at_cost_threshold": train_m,
            "robustness_at_cost_threshold": robust,
            "clips": clips,
            "held_out_crashes_in_cabin": cabin_mix,
        },
        "validation_files": [p.relative_to(DATASETS / "audio").as_posix() for p, _ in split["val"]],
    }
    old = MODELS / f"{NAME}.card.json"
    old_cv = json.loads(old.read_text())["metrics"].get("cross_validation") if old.exists() else None
    if old_cv and old_cv.get("recipe") == recipe_hash():
        card["metrics"]["cross_validation"] = old_cv
    elif old_cv:
        log("the recipe changed since the last cross-validation: run `audio_model.py --cv 4` to refresh it")
    common.write_card(NAME, card)
    log(f"wrote {out} and its card")


if __name__ == "__main__":
    main()
