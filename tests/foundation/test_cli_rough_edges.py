"""The rough edges a new user hits on the command line (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ganzoo.cli import cli

REPO = Path(__file__).resolve().parents[2]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="ganzoo")


@pytest.mark.parametrize("args, missing", [
    ((), "--dataset, --arch, --loss"),
    (("--arch", "mlp"), "--dataset, --loss"),
    (("--dataset", "ring8", "--arch", "mlp", "--steps", "3"), "--loss"),
])
def test_train_requires_dataset_arch_loss(args, missing) -> None:
    result = _invoke("train", *args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: missing {missing} ") and "ganzoo list" in lines[0], result.output


def test_train_takes_them_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[run]\ndataset = "ring8"\narch = "mlp"\n')
    result = _invoke("train", "--config", str(config))
    assert result.exit_code == 2 and "Error: missing --loss " in result.output, result.output


def test_every_help_shows_the_defaults() -> None:
    parent = click.Context(cli, info_name="ganzoo", **cli.context_settings)
    checked = 0
    for name, command in cli.commands.items():
        ctx = click.Context(command, info_name=name, parent=parent)
        for param in command.params:
            if not isinstance(param, click.Option) or param.is_flag or param.hidden:
                continue
            default = param.get_default(ctx, call=False)
            if default is None or default == () or type(default).__name__ == "Sentinel":  # no default (click's UNSET)
                continue
            record = param.get_help_record(ctx)
            assert record is not None and "default:" in record[1], (name, param.name, record)
            checked += 1
    assert checked > 10
    # Options added later without show_default=True show theirs too (the group's context setting).
    probe = click.Option(["--probe"], type=int, default=5, help="A new option.")
    record = probe.get_help_record(click.Context(cli.commands["train"], info_name="train", parent=parent))
    assert record is not None and "[default: 5]" in record[1], record


def test_resume_beyond_steps_says_there_is_nothing_to_do(tmp_path: Path) -> None:
    from ganzoo.engine.api import start_run
    from tests.engine.conftest import ring8_user

    run = tmp_path / "run"
    start_run(ring8_user(4), run)
    before = (run / "config.toml").read_text()
    result = _invoke("resume", str(run), "--steps", "2", "--quiet")
    assert result.exit_code == 0, result.output
    assert "run is at step 4, beyond --steps 2; nothing to do" in result.output
    assert (run / "config.toml").read_text() == before


def test_list_shows_each_components_paper() -> None:
    result = _invoke("list", "losses")
    assert result.exit_code == 0
    assert re.search(r"^\s+paper: Gulrajani et al\. 2017", result.output, re.M), result.output


def test_doctor_does_not_offer_gpu_providers_without_a_gpu(monkeypatch) -> None:
    import onnxruntime

    import ganzoo.runtime.providers as providers

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(providers, "cuda_device_count", lambda: 0)
    result = _invoke("doctor")
    ok = [line for line in result.output.splitlines() if line.startswith("[ok") and "onnxruntime" in line]
    assert ok and "CPUExecutionProvider" in ok[0] and "CUDA" not in ok[0] and "Tensorrt" not in ok[0], result.output
    assert re.search(r"^\[info\].*TensorrtExecutionProvider, CUDAExecutionProvider available in onnxruntime, no CUDA device",
                     result.output, re.M), result.output


def test_readme_feature_weights_file_is_the_one_ganzoo_asks_for() -> None:
    from ganzoo.metrics.extractors import inception_weights_cache_path

    named = re.findall(r"--feature-weights (\S+)", (REPO / "README.md").read_text())
    expected = inception_weights_cache_path().name
    assert named and all(n == expected for n in named if n != "PATH"), (named, expected)
