"""Unit tests of the numpy twins and the ONNX composition helpers (numpy + onnx only)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import compose
import features as F
from make_fixtures import ort_outputs


def test_resized_size_and_constant_frames():
    assert F.resized_size(640, 360) == (455, 256)
    assert F.resized_size(360, 640) == (256, 455)
    for h, w in [(360, 640), (50, 70), (224, 224)]:
        x = np.full((h, w, 3), (10, 200, 77), np.uint8)
        t = F.preprocess_rgb(x)
        assert t.shape == (3, 224, 224)
        assert np.allclose(t[:, 0, 0], (10, 200, 77), atol=1e-3) and np.ptp(t, axis=(1, 2)).max() < 1e-3


def test_bad_frames_are_rejected():
    with pytest.raises(ValueError):
        F.preprocess_rgb(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        F.resized_size(0, 5)


def test_mfcc_window_shape_padding_and_silence():
    assert F.N_FRAMES == 98
    tone = (0.3 * np.sin(np.arange(10_000) * 2 * np.pi * 440 / 16_000)).astype(np.float32)
    padded = np.zeros(16_000, np.float32)
    padded[:10_000] = tone
    assert np.array_equal(F.mfcc_window(tone), F.mfcc_window(padded))
    silent = F.mfcc_window(np.zeros(16_000))
    assert np.isclose(silent[0, 0], np.log(1e-6) * np.sqrt(40), atol=1e-3)
    assert np.abs(silent[1:]).max() < 1e-4
    assert len(F.split_windows(np.zeros(40_000, np.float32))) == 3


def test_with_head_composes_a_sigmoid_of_a_linear_head(tmp_path):
    # A stand-in "backbone": features = mean over H and W per channel, [N, 3].
    node = helper.make_node("GlobalAveragePool", ["image"], ["g"])
    flat = helper.make_node("Flatten", ["g"], ["features"], axis=1)
    g = helper.make_graph([node, flat], "toy",
                          [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 224, 224])],
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3])])
    toy = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    toy.ir_version = 7
    w, b = np.array([0.01, -0.02, 0.005], np.float32), 0.3
    m = compose.with_head(toy, w, b, "toy-head")
    compose.save(m, tmp_path / "m.onnx")
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 224, 224)).astype(np.float32)
    got = ort_outputs(tmp_path / "m.onnx", x, "image")
    want = 1 / (1 + np.exp(-(x.mean((2, 3)) @ w + b)))
    assert np.allclose(got, want, atol=1e-5)
    # Serialisation is deterministic (the VGG16 card's sha256 depends on it).
    compose.save(m, tmp_path / "n.onnx")
    assert (tmp_path / "m.onnx").read_bytes() == (tmp_path / "n.onnx").read_bytes()
    assert [o.name for o in onnx.load(str(tmp_path / "m.onnx")).graph.output] == ["p_accident"]


def test_flip_tta_head_averages_frame_and_mirror(tmp_path):
    # Stand-in backbone that is NOT mirror-invariant: features = the first 3 columns' means.
    sl = helper.make_node("Slice", ["image", "s", "e", "ax"], ["cols"])
    gap = helper.make_node("ReduceMean", ["cols"], ["features"], axes=[2, 3], keepdims=0)
    init = [onnx.numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s", [0]), ("e", [3]), ("ax", [3]))]
    g = helper.make_graph([sl, gap], "toy",
                          [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3])], initializer=init)
    toy = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    toy.ir_version = 7
    w, b = np.array([0.02, -0.01, 0.03], np.float32), -0.5
    compose.save(compose.with_flip_tta_head(toy, w, b, "toy-tta"), tmp_path / "t.onnx")
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 8, 8)).astype(np.float32)
    got = ort_outputs(tmp_path / "t.onnx", x, "image")[0]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    want = (sig(x[..., :3].mean((2, 3)) @ w + b) + sig(x[..., ::-1][..., :3].mean((2, 3)) @ w + b)) / 2
    assert np.isclose(got, want[0], atol=1e-5)
