"""models/train/dashcam.py: the leave-one-source-out split and the frame labels, on the real file list
(ffprobe only; no decoding, no backbone)."""

import shutil

import numpy as np
import pytest

import common
import dashcam as D

needs_data = pytest.mark.skipif(
    not (common.DATASETS / "dashcam").is_dir() or not shutil.which("ffprobe"),
    reason="shared dashcam clips or ffprobe absent")


@pytest.fixture(scope="module")
def clips():
    return D.discover()


def test_sources_are_the_file_name_prefix_and_each_dad_clip_is_its_own():
    from pathlib import Path

    assert D.source_of(Path("dashcam/normal/tmo324_desert.mp4")) == "tmo324"
    assert D.source_of(Path("dashcam/normal/akin-oladejo_highway.mp4")) == "akin-oladejo"
    assert D.source_of(Path("dashcam/accident/dad_000478.mp4")) == "dad_000478"
    assert D.source_of(Path("dashcam/accident/ccd_000007_snow.mp4")) == "ccd_000007"
    assert D.source_of(Path("videos/normal_dashcam.mp4")) == "normal_dashcam"


@needs_data
def test_the_real_file_list(clips):
    assert sum(c.label for c in clips) == 8
    assert sum(1 - c.label for c in clips) == 13
    sources = {c.source for c in clips}
    assert len(sources) == 17  # 7 DAD + 1 CCD + 8 normal prefixes + normal_dashcam
    assert sum(c.source.startswith("dad_") for c in clips) == 7
    assert [c.name for c in clips if c.source == "tmo324"] == [
        "tmo324_countryroad.mp4", "tmo324_desert.mp4", "tmo324_night.mp4", "tmo324_rainy.mp4"]
    # No source holds both labels (so a fold never tests an accident source it trained on as normal).
    for s in sources:
        assert len({c.label for c in clips if c.source == s}) == 1, s


@needs_data
def test_no_source_and_no_clip_on_both_sides(clips):
    folds = D.loso_folds(clips)
    assert len(folds) == 17
    held = [c.name for f in folds for c in f["test"]]
    assert sorted(held) == sorted(c.name for c in clips), "every clip held out exactly once"
    for f in folds:
        train_src = {c.source for c in f["train"]}
        test_src = {c.source for c in f["test"]}
        assert test_src == {f["held_out"]}
        assert not train_src & test_src
        assert not {c.name for c in f["train"]} & {c.name for c in f["test"]}
        assert len(f["train"]) + len(f["test"]) == len(clips)
        # The training rows come only from training-side clips.
        n = {c.name: D.expected_frames(c, D.train_fps_of(c, 5, 0)) for c in f["train"]}
        rows = D.training_rows(f["train"], n, 5, 0)
        assert {r[0] for r in rows} <= {c.name for c in f["train"]}


@needs_data
def test_collision_frames_only_are_positive(clips):
    by = {c.name: c for c in clips}
    dad = by["dad_000478.mp4"]
    assert dad.native_fps == 20 and dad.duration == pytest.approx(5.0)
    n = D.expected_frames(dad, dad.native_fps)
    assert n == 100
    y = D.frame_labels(dad, D.frame_times(n, dad.native_fps))
    # Last 0.75 s at 20 frames/s: frames 86-100 (1-based), t = 4.25 .. 4.95.
    assert np.flatnonzero(y == 1).tolist() == list(range(85, 100))
    assert (y[:85] == -1).all()
    ccd = by["ccd_000007_snow.mp4"]
    n = D.expected_frames(ccd, ccd.native_fps)
    t = D.frame_times(n, ccd.native_fps)
    y = D.frame_labels(ccd, t)
    assert t[y == 1].tolist() == pytest.approx([3.3, 3.4, 3.5, 3.6])
    assert set(y[(t < 3.3 - 1e-6) | (t > 3.6 + 1e-6)].tolist()) == {-1}
    # The agent's seconds (t = 0..4) never fall inside a DAD collision window; phase 0.5's last does.
    assert not (D.frame_labels(dad, np.arange(5.0)) == 1).any()
    assert (D.frame_labels(dad, np.arange(5.0) + 0.5) == 1).tolist() == [False] * 4 + [True]


@needs_data
def test_excluded_frames_are_never_negatives(clips):
    n = {c.name: D.expected_frames(c, D.train_fps_of(c, 5, 0)) for c in clips}
    rows = D.training_rows(clips, n, 5, 0)
    by = {c.name: c for c in clips}
    acc_rows = [r for r in rows if by[r[0]].label == 1]
    assert acc_rows and all(r[2] == 1 for r in acc_rows), "an accident clip's frame labelled negative"
    for name, t, _ in acc_rows:
        lo, hi = D.collision_window(by[name])
        assert lo - 1e-6 <= t <= hi + 1e-6
    assert len(acc_rows) == 7 * 15 + 4
    norm_rows = [r for r in rows if by[r[0]].label == 0]
    assert all(r[2] == 0 for r in norm_rows)
    # Every frame of every normal clip is used at the training rate ...
    assert len(norm_rows) == sum(n[c.name] for c in clips if c.label == 0)
    # ... or every 2nd one (the study's default, 2.5 frames/s); the collision frames all stay.
    rows2 = D.training_rows(clips, n, 5, 0, normal_stride=2)
    assert sum(by[r[0]].label == 0 for r in rows2) == sum((n[c.name] + 1) // 2 for c in clips if c.label == 0)
    assert [r for r in rows2 if by[r[0]].label == 1] == acc_rows
    assert all(r[2] == 0 for r in rows2 if by[r[0]].label == 0)


def test_window_rule_matches_the_agent():
    # Calibration is the identity at threshold 0.5; the 2nd highest second of a 5-s window decides.
    one_bright = [0.1, 0.1, 0.95, 0.1, 0.1, 0.1]
    assert not D.decide(one_bright, 0.5)["accident"]
    two = [0.1, 0.85, 0.1, 0.1, 0.81, 0.1]
    d = D.decide(two, 0.5)
    assert d["accident"] and d["at_second"] == 0 and d["positive_windows"] == 2  # windows 0-4 and 1-5
    # Short clip: one window over all its seconds.
    assert D.decide([0.9, 0.9], 0.5)["window_scores"] == [0.9]
    # The card's threshold moves the bar: p = 0.9 at threshold 0.52 calibrates below 0.9.
    assert D.calibrate([0.9], 0.52)[0] == pytest.approx(1 / (1 + np.exp(-(np.log(9) - np.log(0.52 / 0.48)))))
    assert D.poisson_upper(0) == pytest.approx(2.9957, abs=1e-3)
    assert D.poisson_upper(4) == pytest.approx(9.1535, abs=1e-3)
