"""The head helpers of image_model.py: a bag of MLPs folds exactly into one MLP (mean of logits),
and compose.with_mlp_head runs it like the numpy twin."""

import numpy as np
from onnx import TensorProto, helper

import compose
import image_model as im
from make_fixtures import ort_outputs


def toy_backbone():
    """A stand-in backbone: features = mean over H and W per channel, [N, 3]."""
    nodes = [helper.make_node("GlobalAveragePool", ["image"], ["g"]),
             helper.make_node("Flatten", ["g"], ["features"], axis=1)]
    g = helper.make_graph(nodes, "toy",
                          [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 224, 224])],
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    return m


def _mlp(rng, d, w):
    return [(rng.normal(0, 0.3, (d, w)).astype(np.float32), rng.normal(0, 0.3, w).astype(np.float32)),
            (rng.normal(0, 0.3, (w, 1)).astype(np.float32), rng.normal(0, 0.3, 1).astype(np.float32))]


def test_bag_is_the_mean_of_its_members_logits(tmp_path):
    rng = np.random.default_rng(3)
    members = [_mlp(rng, 3, 4) for _ in range(5)]
    bag = im.bag_layers(members)
    assert bag[0][0].shape == (3, 20) and bag[1][0].shape == (20, 1)
    x = rng.uniform(0, 255, (6, 3))
    want = np.mean([im.head_logit(m, x) for m in members], axis=0)
    assert np.allclose(im.head_logit(bag, x), want, atol=1e-4)
    # Composed with a backbone, the ONNX gives the numpy twin's P(accident).
    compose.save(compose.with_mlp_head(toy_backbone(), bag, "toy-bag"), tmp_path / "bag.onnx")
    img = rng.uniform(0, 255, (2, 3, 224, 224)).astype(np.float32)
    got = ort_outputs(tmp_path / "bag.onnx", img, "image")
    assert np.allclose(got, im.head_predict(bag, img.mean((2, 3))), atol=1e-5)
