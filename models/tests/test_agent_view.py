"""Training's view of frames (models/train/agent_view.py) is the agent's: the Rust preprocessing
through the CLI, and H.264 + GStreamer decoding that keeps sizes, order and content."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

import agent_view
import common
import features as F

needs_media = pytest.mark.skipif(not agent_view.have_tools(), reason="ffmpeg / gst-launch-1.0 not installed")


def _frames(rng, sizes):
    out = []
    for h, w in sizes:
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], axis=2)
        base = base + rng.integers(0, 40, (1, 1, 3))  # distinct per frame
        out.append(np.clip(base, 0, 255).astype(np.uint8))
    return out


def test_preprocess_many_uses_the_rust_cli_and_matches_numpy(features_cli, monkeypatch):
    monkeypatch.setenv("DASHLEDGER_FEATURES_BIN", str(features_cli))
    monkeypatch.setattr(agent_view, "_BIN", [])
    frames = _frames(np.random.default_rng(3), [(180, 320), (83, 61), (257, 403)])
    assert agent_view.features_bin() == Path(features_cli)
    rust = agent_view.preprocess_many(frames, chunk=2)
    ours = np.stack([F.preprocess_rgb(f) for f in frames])
    assert rust.shape == (3, 3, 224, 224)
    assert np.abs(rust - ours).max() <= 1e-4


@needs_media
def test_h264_roundtrip_keeps_sizes_order_and_content():
    rng = np.random.default_rng(5)
    frames = _frames(rng, [(320, 568), (320, 568), (161, 283), (320, 568)])
    back = agent_view.h264_roundtrip(frames, crf=20)
    assert [b.shape for b in back] == [f.shape for f in frames]
    for i, b in enumerate(back):
        diffs = [np.abs(b.astype(int) - f.astype(int)).mean() if f.shape == b.shape else np.inf for f in frames]
        assert int(np.argmin(diffs)) == i, f"frame {i} came back out of order: {diffs}"
        assert diffs[i] < 6.0, f"frame {i} changed too much in the H.264 round trip: {diffs[i]:.2f}"


@needs_media
def test_agent_frames_decodes_one_frame_per_second(tmp_path):
    video = tmp_path / "v.mp4"
    # 3 s of 10 fps test pattern, 320x180, H.264 (what dashcams write).
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=10:duration=3",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)], check=True)
    frames = agent_view.agent_frames(video)
    assert len(frames) == 3
    assert all(f.shape == (180, 320, 3) for f in frames)
    assert len(agent_view.agent_frames(video, fps=5)) == 15


@pytest.mark.skipif(not (common.DATASETS / "videos" / "crash_cctv.mp4").exists(), reason="shared data set absent")
def test_shared_crash_clip_decodes_like_the_agent():
    frames = agent_view.agent_frames(common.DATASETS / "videos" / "crash_cctv.mp4")
    assert len(frames) == 4 and frames[0].shape == (720, 1280, 3)


def test_cli_discovery_falls_back_to_numpy(monkeypatch, tmp_path):
    monkeypatch.setenv("DASHLEDGER_FEATURES_BIN", str(tmp_path / "missing"))
    monkeypatch.setenv("CARGO_TARGET_DIR", str(tmp_path))
    monkeypatch.setattr(agent_view, "_BIN", [])
    assert agent_view.features_bin() is None
    assert agent_view.preprocessor_name() == "features.py numpy twin"
    f = _frames(np.random.default_rng(0), [(40, 60)])
    assert np.abs(agent_view.preprocess_many(f)[0] - F.preprocess_rgb(f[0])).max() == 0.0
