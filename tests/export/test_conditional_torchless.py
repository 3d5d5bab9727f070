"""docs/deploy.md's numpy + onnxruntime snippet for one class of a conditional generator runs where torch
cannot be imported, on a file exported from a real conditional run, and agrees with ``ganzoo generate --class``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, run_ganzoo
from tests.export.test_runtime_torchless import _python

MARKER = "<!-- conditional-python-snippet"


def deploy_snippet() -> str:
    text = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert MARKER in text
    m = re.search(r"```python\n(.*?)```", text[text.index(MARKER):], re.S)
    assert m is not None
    return m.group(1)


@pytest.fixture(scope="module")
def cond_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conditional resnet trained for 2 steps on shapes at 16 px (12 classes), exported."""
    from ganzoo.engine.api import start_run
    from ganzoo.export import export_run

    run = tmp_path_factory.mktemp("cond") / "run"
    user = {"run": {"dataset": "shapes", "arch": "resnet", "loss": "hinge", "steps": 2, "seed": 0, "batch_size": 8,
                    "device": "cpu"},
            "dataset": {"resolution": 16, "size": 96},
            "arch": {"width": 8, "latent_dim": 16, "conditional": True},
            "train": {"tensorboard": False, "log_every": 1, "sample_every": 0, "num_workers": 0}}
    assert start_run(user, run, quiet=True).status == "completed"
    return export_run(run).path


def test_python_snippet_samples_one_class_without_torch(cond_onnx: Path, tmp_path: Path) -> None:
    code = deploy_snippet().replace('"generator.onnx"', repr(str(cond_onnx)))
    out = tmp_path / "x.npy"
    result = _python(code + f"""
assert not [m for m in sys.modules if m.split(".")[0] == "torch"]
assert num_classes == 12 and [i.name for i in session.get_inputs()] == ["z", "labels"], session.get_inputs()
assert session.get_inputs()[1].type == "tensor(int64)"
np.save({str(out)!r}, x)
np.save({str(tmp_path / 'z.npy')!r}, z)
""")
    assert result.returncode == 0, result.stderr
    x = np.load(out)
    assert x.shape == (16, 3, 16, 16) and x.dtype == np.float32 and np.abs(x).max() <= 1.0

    # The same latents with another class give other samples; with class 3 the same ones.
    import onnxruntime as ort

    sess = ort.InferenceSession(str(cond_onnx), providers=["CPUExecutionProvider"])
    z = np.load(tmp_path / "z.npy")
    (x3,) = sess.run(["x"], {"z": z, "labels": np.full(16, 3, dtype=np.int64)})
    (x5,) = sess.run(["x"], {"z": z, "labels": np.full(16, 5, dtype=np.int64)})
    np.testing.assert_array_equal(x, x3)
    assert np.abs(x3 - x5).max() > 1e-4


def test_metadata_and_generate_class(cond_onnx: Path, tmp_path: Path) -> None:
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(cond_onnx)).metadata_props}
    assert json.loads(meta["ganzoo.num_classes"]) == 12
    out = tmp_path / "c3.npy"
    res = run_ganzoo("generate", str(cond_onnx), "-n", "5", "--class", "3", "--seed", "1", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert np.load(out).shape == (5, 3, 16, 16)
    bad = run_ganzoo("generate", str(cond_onnx), "-n", "5", "--class", "12", "-o", str(tmp_path / "bad.npy"))
    assert bad.returncode == 2 and "--class 12: expected a class in 0..11" in bad.stderr
