"""What the agent sees: frames decoded by GStreamer from H.264 video, preprocessed by the detect
crate's Rust code (the `dashledger-features` CLI).

* `preprocess_many`: RGB frames -> model input tensors through `dashledger-features image` (the
  agent's own resize rule, in Rust). When the binary is not built, falls back to the numpy twin in
  `features.py` (the parity tests prove the two equal within 1e-4) and says so.
* `h264_roundtrip`: frames -> H.264 (ffmpeg libx264, yuv420p, like a dashcam writes) -> decoded by
  GStreamer `decodebin ! videoconvert ! video/x-raw,format=RGB` (the agent's decode elements).
* `agent_frames`: a video file decoded exactly like the agent's decoder (agent/src/decode.rs):
  `decodebin ! videorate ! video/x-raw,framerate=1/1 ! videoconvert ! videoscale ! RGB`, native size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import features
from common import ROOT, log

_BIN: list[Path | None] = []


def features_bin() -> Path | None:
    """The `dashledger-features` binary: $DASHLEDGER_FEATURES_BIN, else the cargo target dir."""
    if _BIN:
        return _BIN[0]
    cands = []
    if os.environ.get("DASHLEDGER_FEATURES_BIN"):
        cands.append(Path(os.environ["DASHLEDGER_FEATURES_BIN"]))
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    cands += [target / "release" / "dashledger-features", target / "debug" / "dashledger-features"]
    found = next((c for c in cands if c.is_file() and os.access(c, os.X_OK)), None)
    if found is None:
        log("dashledger-features not built (cargo build -p dashledger-detect --bins): using the numpy "
            "twin of the Rust preprocessing (parity-tested to 1e-4)")
    else:
        log(f"preprocessing with the detect crate's Rust code: {found}")
    _BIN.append(found)
    return found


def preprocessor_name() -> str:
    b = features_bin()
    return "dashledger-features image (detect crate, Rust)" if b else "features.py numpy twin"


def preprocess_many(frames: list[np.ndarray], chunk: int = 64) -> np.ndarray:
    """uint8 (H, W, 3) RGB frames -> float32 [n, 3, 224, 224] via the agent's Rust preprocessing."""
    exe = features_bin()
    if exe is None:
        return np.stack([features.preprocess_rgb(f) for f in frames])
    out = []
    with tempfile.TemporaryDirectory(prefix="dl-pre-") as d:
        for s in range(0, len(frames), chunk):
            paths = []
            for i, f in enumerate(frames[s:s + chunk]):
                p = Path(d) / f"{i:04d}.ppm"
                features.write_ppm(p, f)
                paths.append(str(p))
            npy = Path(d) / "t.npy"
            subprocess.run([str(exe), "image", "--out", str(npy), *paths], check=True)
            out.append(np.load(npy))
    return np.concatenate(out)


def _gst_raw(pipeline: list[str], raw: Path) -> None:
    cmd = ["gst-launch-1.0", "-q", *pipeline, "!", "filesink", f"location={raw}"]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"gst-launch failed ({' '.join(cmd)}): {r.stderr.strip()[-400:]}")


def _split_raw(raw: Path, w: int, h: int) -> list[np.ndarray]:
    """GStreamer RGB buffers: rows padded to 4 bytes."""
    stride = (3 * w + 3) // 4 * 4
    data = np.fromfile(raw, dtype=np.uint8)
    size = stride * h
    n = len(data) // size
    return [data[i * size:(i + 1) * size].reshape(h, stride)[:, :3 * w].reshape(h, w, 3).copy()
            for i in range(n)]


def h264_roundtrip(frames: list[np.ndarray], crf: int = 26) -> list[np.ndarray]:
    """Encodes frames as H.264 (ffmpeg libx264, yuv420p, 1 fps, grouped by size) and decodes them with
    GStreamer the way the agent does. Returns frames in the input order."""
    out: list[np.ndarray | None] = [None] * len(frames)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, f in enumerate(frames):
        groups.setdefault(f.shape[:2], []).append(i)
    with tempfile.TemporaryDirectory(prefix="dl-h264-") as d:
        for (h, w), idx in groups.items():
            # yuv420p needs even sizes: pad by edge replication, crop after decoding.
            eh, ew = h + h % 2, w + w % 2
            mp4, raw = Path(d) / "v.mp4", Path(d) / "v.rgb"
            enc = subprocess.Popen(
                ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{ew}x{eh}",
                 "-r", "1", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
                 "-pix_fmt", "yuv420p", "-g", "10", str(mp4)],
                stdin=subprocess.PIPE)
            assert enc.stdin is not None
            for i in idx:
                f = frames[i]
                if (eh, ew) != (h, w):
                    f = np.pad(f, ((0, eh - h), (0, ew - w), (0, 0)), mode="edge")
                enc.stdin.write(np.ascontiguousarray(f).tobytes())
            enc.stdin.close()
            if enc.wait() != 0:
                raise RuntimeError("ffmpeg libx264 encode failed")
            _gst_raw(["filesrc", f"location={mp4}", "!", "decodebin", "!", "videoconvert", "!",
                      "video/x-raw,format=RGB"], raw)
            dec = _split_raw(raw, ew, eh)
            if len(dec) != len(idx):
                raise RuntimeError(f"H.264 round trip: {len(idx)} frames in, {len(dec)} out")
            for i, f in zip(idx, dec):
                out[i] = f[:h, :w]
    return out  # type: ignore[return-value]


def video_size(video: Path) -> tuple[int, int]:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(video)], check=True, capture_output=True, text=True).stdout
    w, h = (int(v) for v in probe.strip().split(",")[:2])
    return w, h


def agent_frames(video: Path, fps: int = 1) -> list[np.ndarray]:
    """The video decoded like agent/src/decode.rs (which samples 1 frame/s via videorate), RGB,
    native size; `fps` > 1 samples more densely with the same elements."""
    w, h = video_size(video)
    rate = ["videorate", "!", f"video/x-raw,framerate={fps}/1", "!"]
    with tempfile.TemporaryDirectory(prefix="dl-clip-") as d:
        raw = Path(d) / "v.rgb"
        _gst_raw(["filesrc", f"location={video}", "!", "decodebin", "!", *rate, "videoconvert", "!",
                  "videoscale", "!", "video/x-raw,format=RGB"], raw)
        return _split_raw(raw, w, h)


def agent_audio(video: Path) -> np.ndarray | None:
    """The soundtrack decoded like agent/src/decode.rs: F32 mono 16 kHz; None without audio."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
                            "-of", "csv=p=0", str(video)], check=True, capture_output=True, text=True).stdout
    if not probe.strip():
        return None
    with tempfile.TemporaryDirectory(prefix="dl-audio-") as d:
        raw = Path(d) / "a.f32"
        _gst_raw(["filesrc", f"location={video}", "!", "decodebin", "!", "audioconvert", "!", "audioresample",
                  "!", "audio/x-raw,format=F32LE,channels=1,rate=16000"], raw)
        return np.fromfile(raw, dtype="<f4")


def have_tools() -> bool:
    return all(shutil.which(t) for t in ("ffmpeg", "ffprobe", "gst-launch-1.0"))
