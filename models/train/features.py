"""numpy twins of the detect crate's preprocessing (the Rust code in detect/ is the reference).

Only numpy is needed here: the parity tests (models/tests) import this module at test time.

Image rule ("short-side-256-centre-crop-224", triangle filter):
  1. scale so the shorter side becomes 256; the other side is round(len * 256 / short)
     (round half up);
  2. keep the centred 224x224 window of that resized image (offset floor((len - 224) / 2));
  3. each output pixel is a separable triangle-filter (bilinear, antialiased when shrinking) average
     of the source: centre c = (i + 0.5) * scale, radius r = max(scale, 1), weight of source pixel j
     = max(0, 1 - |j + 0.5 - c| / r), normalised to sum 1; rows first, then columns, in float64;
  4. output float32 NCHW, RGB, values 0..255 (no normalisation: the ONNX models contain it).

Audio rule: 16 kHz mono float in [-1, 1], 1-s windows (16000 samples, last one zero-padded), per
window 98 frames of 400 samples (hop 160, no centring), periodic Hann, 512-point FFT power spectrum,
40 HTK-mel triangles over 0..8000 Hz, ln(mel + 1e-6), orthonormal DCT-II, first 13 coefficients ->
float32 array (13, 98).
"""

from __future__ import annotations

import numpy as np

SHORT_SIDE = 256
CROP = 224

SAMPLE_RATE = 16000
WINDOW = 16000
N_FFT = 512
WIN_LENGTH = 400
HOP = 160
N_MELS = 40
N_MFCC = 13
F_MIN = 0.0
F_MAX = 8000.0
LOG_OFFSET = 1e-6
N_FRAMES = 1 + (WINDOW - WIN_LENGTH) // HOP


def resized_size(width: int, height: int, short: int = SHORT_SIDE) -> tuple[int, int]:
    """Size after scaling the shorter side to `short` (round half up on the other side)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"bad frame size {width}x{height}")
    if width <= height:
        return short, int(np.floor(height * short / width + 0.5))
    return int(np.floor(width * short / height + 0.5)), short


def _axis_weights(in_len: int, out_len: int, offset: int, count: int) -> np.ndarray:
    """Dense (count, in_len) weights of output samples offset..offset+count of a resize to out_len."""
    scale = in_len / out_len
    radius = max(scale, 1.0)
    w = np.zeros((count, in_len), dtype=np.float64)
    for k in range(count):
        i = offset + k
        centre = (i + 0.5) * scale
        lo = max(int(np.floor(centre - radius)), 0)
        hi = min(int(np.ceil(centre + radius)), in_len)  # exclusive
        j = np.arange(lo, hi)
        t = 1.0 - np.abs(j + 0.5 - centre) / radius
        t = np.maximum(t, 0.0)
        s = t.sum()
        if s <= 0.0:  # cannot happen for radius >= 1, kept as a guard
            nearest = min(max(int(np.floor(centre)), 0), in_len - 1)
            w[k, nearest] = 1.0
        else:
            w[k, lo:hi] = t / s
    return w


def preprocess_rgb(rgb: np.ndarray, short: int = SHORT_SIDE, crop: int = CROP) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float32 (3, crop, crop) RGB 0..255, the card's resize rule."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got shape {rgb.shape}")
    h, w = rgb.shape[:2]
    nw, nh = resized_size(w, h, short)
    if nw < crop or nh < crop:
        raise ValueError(f"short side {short} is smaller than the crop {crop}")
    wx = _axis_weights(w, nw, (nw - crop) // 2, crop)  # (crop, w)
    wy = _axis_weights(h, nh, (nh - crop) // 2, crop)  # (crop, h)
    img = rgb.astype(np.float64)
    out = np.empty((3, crop, crop), dtype=np.float32)
    for c in range(3):
        rows = img[:, :, c] @ wx.T  # horizontal pass: (h, crop)
        out[c] = (wy @ rows).astype(np.float32)  # vertical pass
    return out


def hann_periodic(n: int) -> np.ndarray:
    k = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) HTK-mel triangles, peak 1, no area normalisation."""
    n_bins = N_FFT // 2 + 1
    freqs = np.arange(n_bins, dtype=np.float64) * (SAMPLE_RATE / N_FFT)
    lo_m, hi_m = float(_hz_to_mel(F_MIN)), float(_hz_to_mel(F_MAX))
    i = np.arange(N_MELS + 2, dtype=np.float64)
    pts = _mel_to_hz(lo_m + (hi_m - lo_m) * i / (N_MELS + 1))
    fb = np.zeros((N_MELS, n_bins), dtype=np.float64)
    for m in range(N_MELS):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0.0, np.minimum(up, down))
    return fb


def dct_matrix() -> np.ndarray:
    """(N_MFCC, N_MELS) orthonormal DCT-II."""
    n = np.arange(N_MELS, dtype=np.float64)
    k = np.arange(N_MFCC, dtype=np.float64)[:, None]
    d = np.cos(np.pi * k * (2.0 * n + 1.0) / (2.0 * N_MELS))
    d[0] *= np.sqrt(1.0 / N_MELS)
    d[1:] *= np.sqrt(2.0 / N_MELS)
    return d


_FB = mel_filterbank()
_DCT = dct_matrix()
_HANN = hann_periodic(WIN_LENGTH)


def mfcc_window(samples: np.ndarray) -> np.ndarray:
    """One window of WINDOW samples (shorter is zero-padded) -> float32 (N_MFCC, N_FRAMES)."""
    x = np.zeros(WINDOW, dtype=np.float64)
    s = np.asarray(samples, dtype=np.float64)[:WINDOW]
    x[: len(s)] = s
    idx = np.arange(N_FRAMES)[:, None] * HOP + np.arange(WIN_LENGTH)[None, :]
    frames = x[idx] * _HANN  # (frames, win)
    spec = np.fft.rfft(frames, n=N_FFT, axis=1)
    power = spec.real**2 + spec.imag**2  # (frames, 257)
    mel = power @ _FB.T  # (frames, 40)
    logmel = np.log(mel + LOG_OFFSET)
    return (logmel @ _DCT.T).T.astype(np.float32)


def split_windows(samples: np.ndarray, window: int = WINDOW, hop: int | None = None) -> list[np.ndarray]:
    """Consecutive windows (hop defaults to window); a non-empty short tail is zero-padded."""
    hop = hop or window
    out = []
    n = len(samples)
    start = 0
    while start < n:
        w = np.zeros(window, dtype=np.float32)
        chunk = samples[start : start + window]
        w[: len(chunk)] = chunk
        out.append(w)
        if start + window >= n:
            break
        start += hop
    return out


def mfcc_stream(samples: np.ndarray) -> np.ndarray:
    """All 1-s windows of a stream -> float32 (n_windows, N_MFCC, N_FRAMES)."""
    return np.stack([mfcc_window(w) for w in split_windows(samples)])


def write_ppm(path, rgb: np.ndarray) -> None:
    """Binary PPM (P6) of a uint8 (H, W, 3) array."""
    h, w = rgb.shape[:2]
    with open(path, "wb") as f:
        f.write(f"P6\n{w} {h}\n255\n".encode())
        f.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
