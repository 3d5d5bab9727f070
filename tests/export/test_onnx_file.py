"""The exported file, read with the ``onnx`` library only: metadata, names, dtypes, dynamic batch."""

from __future__ import annotations

import json

import onnx

from ganzoo import __version__
from ganzoo.runtime.metadata import REQUIRED_KEYS


def test_metadata_and_signature(ring8_onnx):
    model = onnx.load(str(ring8_onnx))
    meta = {p.key: p.value for p in model.metadata_props}
    assert set(REQUIRED_KEYS) <= set(meta)
    assert {
        "ganzoo.version": __version__, "ganzoo.latent_dim": "8", "ganzoo.latent_distribution": "normal",
        "ganzoo.dataset": "ring8", "ganzoo.architecture": "mlp", "ganzoo.loss": "ns-gan", "ganzoo.step": "5",
        "ganzoo.precision": "fp32", "ganzoo.kind": "vector",
    }.items() <= meta.items()
    assert json.loads(meta["ganzoo.sample_shape"]) == [2]
    low, high = json.loads(meta["ganzoo.value_range"])
    assert low < -1 and high > 1  # ring8's bounding box, its own coordinates
    assert json.loads(meta["ganzoo.mitigations"]) == []
    assert json.loads(meta["ganzoo.num_classes"]) is None
    assert json.loads(meta["ganzoo.ema"]) in (True, False)
    assert len(json.loads(meta["ganzoo.mode_centres"])) == 8
    assert model.producer_name == "ganzoo"
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [18]

    (z,), (x,) = model.graph.input, model.graph.output
    assert (z.name, x.name) == ("z", "x")
    for value, width in ((z, 8), (x, 2)):
        t = value.type.tensor_type
        assert t.elem_type == onnx.TensorProto.FLOAT
        batch, feature = t.shape.dim
        assert batch.dim_param and not batch.HasField("dim_value")  # dynamic N
        assert feature.dim_value == width
    onnx.checker.check_model(model, full_check=True)
