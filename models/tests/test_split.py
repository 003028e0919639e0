"""The sound model's validation split and the test media built from it."""

import json
import re
from pathlib import Path

import pytest

import audio_model as A
import common

ROOT = Path(__file__).resolve().parents[2]
CARD = json.loads((ROOT / "models" / "accident-audio-mfcc-cnn.card.json").read_text())

needs_data = pytest.mark.skipif(not (common.DATASETS / "audio").is_dir(), reason="shared data sets absent")


def test_recording_of_groups_cuts_with_their_source():
    assert A.recording_of(Path("crash/segments/4_segment_7.flac")) == A.recording_of(Path("crash/compilations/4.flac"))
    assert A.recording_of(Path("crash/segments/1_2_segment_3.flac")) == A.recording_of(Path("crash/compilations/1_2_.flac"))
    assert A.recording_of(Path("crash/segments/1_segment_3.flac")) != A.recording_of(Path("crash/compilations/1_2_.flac"))
    assert A.recording_of(Path("normal/vehicle_segments/Bus_Driving_Sound_1_HOUR_093_segment_2.flac")) == A.recording_of(
        Path("normal/long/bus__Bus_Driving_Sound_1_HOUR_093.flac"))
    assert A.recording_of(Path("normal/vehicle_segments/videoplayback_1_segment_0.flac")) == A.recording_of(
        Path("normal/long/truck_horn__videoplayback_1_.flac"))
    assert A.recording_of(Path("normal/passby/test_Vlak2.flac")) != A.recording_of(Path("normal/passby/test_Vlak3.flac"))


@needs_data
def test_no_recording_on_both_sides_and_the_card_matches_the_split():
    split = A.split_files(common.SEED)
    train = {A.recording_of(p) for p, _ in split["train"]}
    val = {A.recording_of(p) for p, _ in split["val"]}
    assert not train & val, f"recordings on both sides: {sorted(train & val)}"
    for family, folders in A.FAMILIES.items():
        n_val = sum(1 for p, _ in split["val"] if p.parent.relative_to(common.DATASETS / "audio").as_posix() in folders)
        assert n_val >= 1, f"{family}: nothing held out"
    names = sorted(p.relative_to(common.DATASETS / "audio").as_posix() for p, _ in split["val"])
    assert names == sorted(CARD["validation_files"]), "the committed card was trained on another split: retrain"


def test_make_segments_mixes_only_held_out_crash_recordings():
    script = (ROOT / "scripts" / "make-segments").read_text()
    used = re.findall(r'^crash_[ab]="([^"]+)"', script, re.M)
    assert len(used) == 2, used
    for f in used:
        assert f in CARD["validation_files"], f"{f} is a training file of the sound model"


@needs_data
def test_cross_validation_folds_hold_out_whole_recordings_once():
    folds = A.cv_folds(4, common.SEED)
    everything = {p for p, _ in folds[0]["train"]} | {p for p, _ in folds[0]["val"]}
    held = [p for f in folds for p, _ in f["val"]]
    assert sorted(held) == sorted(everything), "every file is held out exactly once"
    compilations = set()
    for f in folds:
        train = {A.recording_of(p) for p, _ in f["train"]}
        val = {A.recording_of(p) for p, _ in f["val"]}
        assert not train & val, f"recordings on both sides of a fold: {sorted(train & val)}"
        crash = {r for r in val if r.startswith("crash compilation")}
        assert len(crash) == 1, f"a fold holds out one crash compilation, not {sorted(crash)}"
        compilations |= crash
        assert any(lab == 0 for _, lab in f["val"]) and any(lab == 1 for _, lab in f["val"])
    assert len(compilations) == 4


def test_the_cards_cross_validation_matches_the_recipe():
    cv = CARD["metrics"].get("cross_validation")
    assert cv, "no cross-validation in the card: run audio_model.py --cv 4"
    assert cv["recipe"] == A.recipe_hash(), "the recipe changed since the card's cross-validation: run audio_model.py --cv 4"
    assert len(cv["per_fold"]) == cv["folds"]


@pytest.mark.parametrize("args, message", [
    (["--try", "WIDTH=48"], "--try needs --cv"),
    (["--cv", "4", "--try", "DEPTH=3"], "expected NAME=VALUE with NAME one of"),
    (["--cv", "4", "--try", "LEVEL_AUG=loud"], "LEVEL_AUG is one of scale, target, loud-normals"),
])
def test_recipe_variants_are_checked_before_any_work(args, message):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(ROOT / "models" / "train" / "audio_model.py"), *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
