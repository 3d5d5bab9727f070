"""The exported file, read with the ``onnx`` library only: metadata, names, dtypes, dynamic batch."""

from __future__ import annotations

import json

import onnx
import pytest

from ganzoo import __version__
from ganzoo.runtime.metadata import REQUIRED_KEYS
from tests.conftest import run_ganzoo


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


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ganzoo.value_range", "[NaN, 1.0]", "not a finite number"),
        ("ganzoo.value_range", "[1.0, -1.0]", "low < high"),
        ("ganzoo.value_range", '{"low": -1}', "is not [low, high]"),
        ("ganzoo.mode_centres", "[[0.0, 1.0], [2.0]]", "list of points of one dimension"),
        ("ganzoo.mode_centres", "[[0.0, Infinity]]", "not a finite number"),
        ("ganzoo.mode_centres", '"ring"', "list of points of one dimension"),
        ("ganzoo.sample_shape", "[3, 100000, 100000]", "values per sample"),
        ("ganzoo.latent_dim", "1000000000", "integer in 1..1,000,000"),
        ("ganzoo.num_classes", "0", "integer in 1..1,000,000"),
    ],
)
def test_bad_metadata_is_one_line_naming_the_key(ring8_onnx, tmp_path, key, value, message):
    """Metadata of the wrong shape, with non-finite values or absurd sizes: one line, exit 2, no traceback."""
    model = onnx.load(str(ring8_onnx))
    props = {p.key: p.value for p in model.metadata_props}
    props[key] = value
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    done = run_ganzoo("generate", str(bad), "-n", "4", "-o", str(tmp_path / "x.npy"))
    assert done.returncode == 2, done.stderr
    assert key in done.stderr and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
