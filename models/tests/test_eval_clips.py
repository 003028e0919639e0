"""scripts/eval-clips: labels, sources, the Poisson bound and the summary (no agent run)."""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load():
    loader = importlib.machinery.SourceFileLoader("eval_clips", str(ROOT / "scripts" / "eval-clips"))
    spec = importlib.util.spec_from_loader("eval_clips", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


ec = load()


def test_poisson_upper_bound_matches_known_values():
    # Exact one-sided 95 % bounds: 0 events -> 2.996, 1 -> 4.744, 4 -> 9.154.
    assert ec.poisson_upper(0) == pytest.approx(2.9957, abs=1e-3)
    assert ec.poisson_upper(1) == pytest.approx(4.7439, abs=1e-3)
    assert ec.poisson_upper(4) == pytest.approx(9.1535, abs=1e-3)


def test_the_shared_sets_are_labelled_by_folder_and_sourced_by_prefix():
    ds = ec.datasets_dir()
    clips = ec.discover([ds / "dashcam", ds / "videos"])
    by = {Path(c["path"]).name: c for c in clips}
    labels = [c["label"] for c in clips]
    assert labels.count("accident") == 9  # 8 dashcam + the CCTV crash
    assert labels.count("normal") == 13  # 12 dashcam + normal_dashcam.mp4
    assert by["tmo324_desert.mp4"]["source"] == "tmo324"
    assert by["dad_000478.mp4"]["label"] == "accident"
    assert by["crash_cctv.mp4"]["label"] == "accident"
    assert by["normal_dashcam.mp4"]["label"] == "normal"


def test_a_bad_labels_file_is_named(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    good = tmp_path / "labels.csv"
    good.write_text("path,label,source\na.mp4,accident,cam1\n")
    assert ec.read_labels(good)[0]["source"] == "cam1"
    bad = tmp_path / "bad.csv"
    bad.write_text("a.mp4,crash\n")
    with pytest.raises(SystemExit, match=r"bad.csv:1: expected"):
        ec.read_labels(bad)
    missing = tmp_path / "missing.csv"
    missing.write_text("b.mp4,normal\n")
    with pytest.raises(SystemExit, match="does not exist"):
        ec.read_labels(missing)


def test_summary_counts_recall_and_false_alarms_per_hour():
    rows = [
        {"label": "accident", "accident": True, "cause": "motion", "duration_s": 5},
        {"label": "accident", "accident": False, "cause": None, "duration_s": 5},
        {"label": "normal", "accident": True, "cause": "image_alone", "duration_s": 1800},
        {"label": "normal", "accident": False, "cause": None, "duration_s": 1800},
    ]
    s = ec.summarise(rows)
    assert (s["detected"], s["recall"], s["normal_flagged"]) == (1, 0.5, 1)
    assert s["false_alarms_per_hour"] == pytest.approx(1.0)
    assert s["false_alarms_per_hour_95_upper"] == pytest.approx(4.7439, abs=1e-3)
    assert s["decided_by"] == {"image_alone": 1, "motion": 1}
