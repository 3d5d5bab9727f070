"""Item 1 of issue 18: a "weights" file is never unpickled with code execution. ``--feature-weights`` and
``GANZOO_FEATURE_WEIGHTS`` files are loaded with ``torch.load(weights_only=True)``; torch-fidelity only
ever sees a copy ganzoo wrote from the verified tensors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.errors import ConfigError
from ganzoo.metrics.extractors import WEIGHTS_ENV
from ganzoo.metrics.safe_weights import verified_weights, verified_weights_dir

TINY_IMAGE_RUN = {
    "run": {"dataset": "shapes", "arch": "dcgan", "loss": "ns-gan", "steps": 2, "batch_size": 8, "seed": 1,
            "device": "cpu"},
    "dataset": {"resolution": 16, "size": 64},
    "arch": {"width": 4, "latent_dim": 8},
    "train": {"log_every": 1, "sample_every": 0, "checkpoint_every": 0, "tensorboard": False},
}


class Payload:
    """Unpickling this creates ``marker`` (what an attacker's os.system would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _payload_file(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    path = tmp_path / "weights-inception-evil.pth"
    torch.save({"conv.weight": torch.zeros(2), "x": Payload(marker)}, path)
    assert not marker.exists()
    return path, marker


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    from ganzoo.engine.api import start_run

    run_dir = tmp_path_factory.mktemp("weights") / "run"
    assert start_run(TINY_IMAGE_RUN, run_dir).status == "completed"
    return run_dir


@pytest.mark.parametrize("via", ["flag", "env"])
def test_payload_weights_file_is_refused_without_running(image_run, tmp_path, monkeypatch, via):
    path, marker = _payload_file(tmp_path)
    args = ["eval", str(image_run), "--metrics", "fid", "--num-samples", "16", "--quiet"]
    if via == "flag":
        args += ["--feature-weights", str(path)]
    else:
        monkeypatch.setenv(WEIGHTS_ENV, str(path))
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, (res.output, res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "refused" in lines[0] and str(path) in lines[0]
    assert "weights_only=True" in lines[0]
    assert not marker.exists()
    assert not (image_run / "eval.json").exists()


def test_plain_state_dict_is_copied_by_ganzoo(tmp_path):
    src = tmp_path / "w.pth"
    weights = {"a.weight": torch.randn(3, 2), "a.bias": torch.zeros(3)}
    torch.save(weights, src)
    copy = verified_weights(src)
    assert copy.parent == verified_weights_dir() and copy != src
    loaded = torch.load(copy, weights_only=True)
    assert loaded.keys() == weights.keys() and all(torch.equal(loaded[k], weights[k]) for k in weights)
    assert verified_weights(src) == copy  # the same content maps to the same copy


@pytest.mark.parametrize("content", [b"", b"not a torch file", None])
def test_non_weights_files_are_refused(tmp_path, content):
    path = tmp_path / "w.pth"
    if content is None:
        torch.save([torch.zeros(2)], path)  # tensors, but not a state dict
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="refused") as err:
        verified_weights(path)
    assert "\n" not in str(err.value)
