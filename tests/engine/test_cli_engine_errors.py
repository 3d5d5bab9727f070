"""Bad input to ``train``, ``resume`` and ``sample``: a one-line error, exit code 2, no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.engine.api import start_run
from tests.engine.conftest import ring8_user, run_cli


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def _assert_one_line_error(result, expected: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    start_run(ring8_user(2), run_dir)
    return run_dir


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--set", "foo"], "--set 'foo': expected KEY=VALUE"),
        (["--set", "train.nope=1"], "unknown config key train.nope"),
        (["--steps", "-3"], "run.steps: invalid value -3"),
        (["--steps", "0"], "run.steps: invalid value 0"),
        (["--loss", "no-such-loss"], "unknown loss 'no-such-loss'"),
        (["--arch", "no-such-arch"], "unknown architecture 'no-such-arch'"),
        (["--set", "train.n_critic=0"], "train.n_critic: invalid value 0"),
        (["--precision", "fp16", "--device", "cpu"], "fp16 autocast needs a CUDA device"),
        (["--arch", "dcgan"], "architecture 'dcgan' cannot model dataset 'ring8'"),
    ],
)
def test_train_bad_input(args, expected, tmp_path):
    out = tmp_path / "run"
    result = _invoke("train", "--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--quiet", "--out", str(out), *args)
    _assert_one_line_error(result, expected)
    assert not (out / "checkpoints").exists()


def test_train_out_pointing_at_an_existing_run(finished_run):
    before = sorted(p.name for p in (finished_run / "checkpoints").iterdir())
    result = _invoke("train", "--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--steps", "2", "--quiet",
                     "--out", str(finished_run))
    _assert_one_line_error(result, "already holds a run")
    assert f"ganzoo resume {finished_run}" in result.stderr
    assert sorted(p.name for p in (finished_run / "checkpoints").iterdir()) == before


@pytest.mark.parametrize("what", ["empty-dir", "missing", "file"])
def test_resume_on_a_non_run_directory(what, tmp_path):
    target = tmp_path / what
    if what == "empty-dir":
        target.mkdir()
    elif what == "file":
        target.write_text("x")
    result = _invoke("resume", str(target))
    _assert_one_line_error(result, "run directory" if what != "missing" else "is not a directory")


def test_resume_run_without_checkpoints(tmp_path, finished_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    shutil.rmtree(run / "checkpoints")
    _assert_one_line_error(_invoke("resume", str(run)), "no checkpoint")


def test_resume_with_bad_steps(finished_run):
    _assert_one_line_error(_invoke("resume", str(finished_run), "--steps", "-1"), "--steps -1")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["-n", "0", "-o", "x.png"], "-n 0: expected 1 to"),
        (["-n", "-5", "-o", "x.png"], "-n -5"),
        (["-n", "5000", "-o", "x.png"], "a PNG holds at most 4096"),
        (["-n", "4", "-o", "x.jpg"], "must end in .png or .npy"),
        (["-n", "4", "-o", "x"], "must end in .png or .npy"),
    ],
)
def test_sample_bad_input(args, expected, finished_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _assert_one_line_error(_invoke("sample", str(finished_run), *args), expected)
    assert not any(tmp_path.iterdir())


def test_sample_on_a_non_run_directory(tmp_path):
    _assert_one_line_error(_invoke("sample", str(tmp_path), "-n", "4", "-o", str(tmp_path / "x.png")),
                           "not a ganzoo run directory")


def test_real_process_resume_non_run_dir_no_traceback(tmp_path):
    result = run_cli("resume", str(tmp_path), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {str(tmp_path)!r} is not a ganzoo run directory: config.toml is missing"
    ]
