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
