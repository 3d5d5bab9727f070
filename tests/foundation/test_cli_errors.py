"""User mistakes end with a one-line error, exit code 2 and no traceback."""

import pytest

from tests.conftest import run_ganzoo


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--set", "train.lr_g"], "expected KEY=VALUE"),
        (["--set", "lr_g=1"], "SECTION.KEY"),
        (["--set", "bogus.key=1"], "unknown section 'bogus'"),
        (["--set", "train.nope=1"], "unknown config key train.nope"),
        (["--set", "train.lr_g=fast"], "train.lr_g: invalid value 'fast'"),
        (["--set", "train.lr_g=[1"], "not a valid value"),
        (["--steps", "-3"], "run.steps: invalid value -3"),
        (["--set", "arch.hidden=0"], "arch.hidden: invalid value 0"),
        (["--set", "arch.nope=3"], "arch.nope: unknown option for architecture 'mlp'"),
        (["--set", "mitigation.pacgan.pack=3"], "not enabled"),
        (["--config", "does-not-exist.toml"], "does not exist"),
    ],
)
def test_bad_config_one_line_error(args, expected, tmp_path):
    result = run_ganzoo("train", "--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--quiet", "--out",
                        str(tmp_path / "r"), *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_bad_toml_file(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[run\nsteps = 3\n")
    result = run_ganzoo("train", "--config", str(cfg), "--quiet")
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_config_file_unknown_key_named(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[run]\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n[train]\nlearning_rate = 3\n')
    result = run_ganzoo("train", "--config", str(cfg), "--quiet")
    assert result.returncode == 2 and "unknown config key train.learning_rate" in result.stderr


def test_config_precedence(tmp_path):
    """defaults < plugin recommendations < config file < flags."""
    from ganzoo.config import build_user_config, resolve

    cfg = tmp_path / "run.toml"
    cfg.write_text('[run]\nsteps = 11\nbatch_size = 40\n[train]\nlr_d = 0.5\n')
    user = build_user_config(cfg, {"run.steps": 22}, ["train.lr_g=0.25"])
    resolved = resolve(user)
    assert resolved.run["steps"] == 22  # flag beats file
    assert resolved.run["batch_size"] == 40  # file beats ring8's recommended 256
    assert resolved.train["lr_d"] == 0.5 and resolved.train["lr_g"] == 0.25
    plain = resolve({})
    assert plain.run["batch_size"] == 256  # ring8 recommends 256 over the default 64


def test_version_and_help():
    result = run_ganzoo("--version")
    assert result.returncode == 0 and result.stdout.startswith("ganzoo ")
